//! `trainer teach --tag NAME=DIR … --out heads.safetensors`: your own tags from a handful of
//! examples. Every example file is embedded by the model in use (its pooled features per
//! chunk), a head per tag is learned (class-balanced logistic regression, penalty and
//! threshold by cross-validation: `modnet::heads`), and the cross-validated ROC-AUC of each is
//! reported. `trainer tag --heads heads.safetensors` then carries the tags beside the model's.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{DeviceArgs, WeightsArgs};
use modnet_audio::files::{OutputKind, check_writable, write_atomically};
use modnet_audio::heads::{Teaching, background_for};

#[derive(Args)]
pub struct TeachArgs {
    /// A tag and the folder of its examples, `NAME=DIR` (repeat for more tags). A tag's
    /// counter-examples are the `--negatives` and the other tags' examples.
    #[arg(long = "tag", value_parser = tag_folder, conflicts_with = "labels")]
    pub tags: Vec<(String, PathBuf)>,
    /// A folder of counter-examples for every tag (needed with a single `--tag` when there is
    /// no background set: `--no-background`, or weights other than the built-in ones).
    #[arg(long, requires = "tags")]
    pub negatives: Option<PathBuf>,
    /// A label CSV instead of folders: a `path` column (relative to the CSV's folder) and one
    /// column per tag holding 1 (has it), 0 (does not) or nothing (not used for that tag).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Refuse a tag without counter-examples instead of learning it against the built-in
    /// model's background set (clips of many kinds of music), which by default stands in for
    /// them (a tag with counter-examples of its own never uses it).
    #[arg(long)]
    pub no_background: bool,
    /// Where to write the heads (safetensors; an existing file is replaced only if it is a head
    /// file).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub(crate) weights: WeightsArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

fn tag_folder(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, dir)) if !dir.is_empty() => Ok((name.to_string(), PathBuf::from(dir))),
        _ => Err(format!(
            "'{text}' is not NAME=DIR (a tag's name, '=', the folder of its examples)"
        )),
    }
}

/// Runs the command.
pub fn run(args: &TeachArgs) -> Result<ExitCode> {
    let teaching = match (&args.labels, args.tags.is_empty()) {
        (Some(csv), _) => Teaching::from_csv(csv)?,
        (None, false) => Teaching::from_folders(&args.tags, args.negatives.as_deref())?,
        (None, true) => {
            bail!("give the examples: --tag NAME=DIR (one per tag) or --labels FILE.csv")
        }
    };
    check_writable(&args.out, OutputKind::Heads)?;
    let device = args.device.device()?;
    let model = args.weights.load(&args.device, &device)?;
    let bar = ProgressBar::new(teaching.files.len() as u64).with_style(
        ProgressStyle::with_template("embedding {bar:30} {pos}/{len} examples {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let embedded = teaching.embed(&model, &device, |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let background = match args.no_background {
        true => None,
        false => background_for(&embedded.base)?,
    };
    let started = Instant::now();
    let heads = embedded.learn(background.as_ref())?;
    let learning = started.elapsed();
    write_atomically(&args.out, &heads.to_bytes()?)?;
    if let Some(set) = background.filter(|_| heads.heads.iter().any(|h| h.report.background > 0)) {
        println!(
            "counter-examples of tags without any: the built-in model's background set, {}\n",
            set.source
        );
    }
    println!(
        "| tag | examples | counter-examples | background | folds | CV ROC-AUC | threshold | L2 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for head in &heads.heads {
        let r = &head.report;
        let auc = r.cv_roc_auc.map_or("—".to_string(), |a| format!("{a:.3}"));
        println!(
            "| {} | {} | {} | {} | {} | {auc} | {:.3} | {} |",
            head.name, r.examples, r.counter_examples, r.background, r.folds, head.threshold, r.l2
        );
    }
    for head in &heads.heads {
        for warning in &head.report.warnings {
            println!("warning: {}: {warning}", head.name);
        }
    }
    println!(
        "\nlearned {} tags from {} examples in {:.0} ms; written to {} (use it with `trainer tag \
         --heads {}`)",
        heads.heads.len(),
        embedded.examples.len(),
        learning.as_secs_f64() * 1e3,
        args.out.display(),
        args.out.display()
    );
    if !embedded.skipped.is_empty() {
        println!(
            "\nskipped ({}; not used for any tag):",
            embedded.skipped.len()
        );
        for message in &embedded.skipped {
            println!("- {message}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
