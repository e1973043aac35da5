//! `trainer embed FILE|DIR… --out emb.safetensors`: an embedding per chunk and per clip for
//! every file, written as safetensors (the format: [`modnet_audio::embeddings`]) for another model or a
//! similarity search (`trainer similar`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use modnet::EmbeddingLayer;

use crate::args::{DeviceArgs, WeightsArgs};
use modnet_audio::embeddings::{embed_file, write};
use modnet_audio::files::path_text;
use modnet_audio::files::{OutputKind, check_writable};
use modnet_audio::library::{self, name_once};

#[derive(Args)]
pub struct EmbedArgs {
    /// Audio files or folders (their audio files, recursively).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write the embeddings (safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// `pooled`: the ResNet's pooled features; `modulation`: mean modulation energy per filter
    /// and band (dB).
    #[arg(long, default_value = "pooled", value_parser = EmbeddingLayer::parse)]
    pub layer: EmbeddingLayer,
    #[command(flatten)]
    pub(crate) weights: WeightsArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

/// Runs the command.
pub fn run(args: &EmbedArgs) -> Result<ExitCode> {
    let inputs = library::audio_files(&args.files)?;
    inputs.report_skipped();
    let files = &inputs.files;
    if files.is_empty() {
        bail!("{}", inputs.empty_errors().join("; "));
    }
    check_writable(&args.out, OutputKind::Safetensors)?;
    let device = args.device.device()?;
    let model = args.weights.load(&args.device, &device)?;
    let bar = ProgressBar::new(files.len() as u64).with_style(
        ProgressStyle::with_template("embedding {bar:30} {pos}/{len} files {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut names, mut embeddings, mut failures) = (Vec::new(), Vec::new(), inputs.empty_errors());
    for path in files {
        match embed_file(&model, path, args.layer, &device) {
            Ok(e) => {
                names.push(path_text(path));
                embeddings.push(e);
            }
            Err(e) => failures.push(name_once(path, &e)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !embeddings.is_empty() {
        write(&args.out, &names, &embeddings, args.layer, &model)?;
    }
    let dim = embeddings.first().map_or(0, |e| e.clip.len());
    let chunks: usize = embeddings.iter().map(|e| e.chunks.len()).sum();
    println!("| files | chunks | layer | dimensions | file |");
    println!("|---:|---:|---|---:|---|");
    println!(
        "| {} | {chunks} | {} | {dim} | {} |",
        names.len(),
        args.layer.name(),
        if embeddings.is_empty() {
            "(nothing written)".to_string()
        } else {
            args.out.display().to_string()
        }
    );
    if !failures.is_empty() {
        println!("\nfailed ({}):", failures.len());
        for message in &failures {
            println!("- {message}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
