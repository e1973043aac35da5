//! `trainer similar QUERY TARGET…`: ranks music by the cosine similarity of its clip embedding
//! to the query's. TARGET is an embeddings file from `trainer embed` (fast: only the query is
//! computed) or audio files and folders (embedded now).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use modnet::EmbeddingLayer;

use crate::args::{DeviceArgs, WeightsArgs};
use modnet_audio::embeddings::{self, embed_file};
use modnet_audio::files::path_text;
use modnet_audio::library;
use modnet_audio::library::name_once;

#[derive(Args)]
pub struct SimilarArgs {
    /// The audio file to find music like.
    pub query: PathBuf,
    /// An embeddings file written by `trainer embed`, or audio files and folders.
    #[arg(required = true)]
    pub target: Vec<PathBuf>,
    /// How many to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// The layer (for audio targets; an embeddings file says its own).
    #[arg(long, default_value = "pooled", value_parser = EmbeddingLayer::parse)]
    pub layer: EmbeddingLayer,
    /// The weights must be the ones the embeddings file was made with.
    #[command(flatten)]
    pub(crate) weights: WeightsArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

/// Cosine similarity (0 when either vector is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let n = norm(a) * norm(b);
    if n > 0.0 { dot / n } else { 0.0 }
}

/// Whether an embedding has no direction (every value zero): no similarity to it is defined.
fn silent(v: &[f32]) -> bool {
    v.iter().all(|x| *x == 0.0)
}

/// Runs the command.
pub fn run(args: &SimilarArgs) -> Result<ExitCode> {
    let query = &args.query;
    if query.is_dir() {
        bail!(
            "{} is a folder: the query is one audio file (the folder can be a target)",
            query.display()
        );
    }
    if query.as_os_str() != modnet_audio::audio::STDIN && !query.exists() {
        bail!("{}: no such file", query.display());
    }
    let device = args.device.device()?;
    let model = args.weights.load(&args.device, &device)?;
    let stored = match args.target.as_slice() {
        [one] if one.extension().is_some_and(|e| e == "safetensors") => {
            Some(embeddings::read(one)?)
        }
        _ => None,
    };
    let (layer, candidates) = match stored {
        Some(file) => {
            let layer = EmbeddingLayer::from_name(&file.layer).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: unknown layer '{}'",
                    args.target[0].display(),
                    file.layer
                )
            })?;
            if file.model != model.summary() {
                eprintln!(
                    "notice: {} was made with {}, the query with {}: similarities mean little across models",
                    args.target[0].display(),
                    file.model,
                    model.summary()
                );
            }
            (
                layer,
                file.files.into_iter().zip(file.clip).collect::<Vec<_>>(),
            )
        }
        None => {
            let mut candidates = Vec::new();
            let inputs = library::audio_files(&args.target)?;
            inputs.report_skipped();
            for message in inputs.empty_errors() {
                eprintln!("skipping {message}");
            }
            for path in inputs.files {
                match embed_file(&model, &path, args.layer, &device) {
                    Ok(e) => candidates.push((path_text(&path), e.clip)),
                    Err(e) => eprintln!("skipping {}", name_once(&path, &e)),
                }
            }
            (args.layer, candidates)
        }
    };
    let query = embed_file(&model, &args.query, layer, &device)?.clip;
    if query.is_empty() || silent(&query) {
        bail!(
            "{}: its embedding is {}, so no similarity to it means anything (silence?)",
            args.query.display(),
            if query.is_empty() {
                "empty"
            } else {
                "all zeros"
            }
        );
    }
    if candidates.is_empty() {
        bail!("no embeddings to rank: none of the targets could be embedded");
    }
    // A candidate with no direction (an all-zero embedding) is said, not ranked as 0.
    let (kept, zero): (Vec<_>, Vec<_>) = candidates.iter().partition(|(_, c)| !silent(c));
    for (file, _) in &zero {
        eprintln!(
            "skipping {file}: its embedding is all zeros (silence?), no similarity is defined"
        );
    }
    if kept.is_empty() {
        bail!("every target's embedding is all zeros: there is nothing to rank");
    }
    let candidates = kept;
    let mut ranked: Vec<(f32, &str)> = candidates
        .iter()
        .filter(|(_, clip)| clip.len() == query.len())
        .map(|(file, clip)| (cosine(&query, clip), file.as_str()))
        .collect();
    if ranked.len() < candidates.len() {
        bail!(
            "the embeddings have {} dimensions, the query {}: made with another model or layer",
            candidates[0].1.len(),
            query.len()
        );
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "music like {} ({} embeddings):",
        args.query.display(),
        layer.name()
    );
    println!("| rank | cosine | file |");
    println!("|---:|---:|---|");
    for (i, (score, file)) in ranked.iter().take(args.top).enumerate() {
        println!("| {} | {score:.4} | {file} |", i + 1);
    }
    Ok(ExitCode::SUCCESS)
}
