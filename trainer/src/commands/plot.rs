//! `trainer plot`: PNG pictures of a run — learned filter responses, training curves, per-tag
//! ROC-AUC bars.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::charts;
use crate::run::{DEFAULT_RUN, RunFiles};

#[derive(Args)]
pub struct PlotArgs {
    /// Run directory (best.safetensors, log.json; best.test.json from `eval` for the tag bars).
    #[arg(long, default_value = DEFAULT_RUN)]
    pub(crate) run: PathBuf,
    /// Where the PNGs go (default: the run directory).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: PlotArgs) -> Result<ExitCode> {
    let out = args.out.unwrap_or_else(|| args.run.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let weights = RunFiles::new(&args.run).best();
    let model = modnet_audio::files::load_weights(&weights, &burn::tensor::Device::flex())
        .with_context(|| format!("reading {}", weights.display()))?;
    let path = out.join("filters.png");
    charts::filters(&path, &model.filter_responses(1024)?, &model.summary())?;
    println!("wrote {} (learned filter responses)", path.display());
    let log = args.run.join("log.json");
    match std::fs::read(&log) {
        Ok(bytes) => {
            let log: Vec<crate::train::EpochLog> = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", log.display()))?;
            let path = out.join("curves.png");
            charts::curves(&path, &log)?;
            println!("wrote {} (training curves)", path.display());
        }
        Err(_) => println!("no {}: no training curves", log.display()),
    }
    let report = RunFiles::report(&weights, "test");
    match std::fs::read(&report) {
        Ok(bytes) => {
            let (tags, roc) =
                report_roc(&bytes).with_context(|| format!("reading {}", report.display()))?;
            let path = out.join("tags.png");
            charts::tag_bars(&path, &tags, &[("test".into(), roc)])?;
            println!("wrote {} (per-tag ROC-AUC)", path.display());
        }
        Err(_) => println!(
            "no {}: run `trainer eval --weights {}` first for the per-tag bars",
            report.display(),
            weights.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Tags and per-tag ROC-AUC of a report written by `eval`.
fn report_roc(bytes: &[u8]) -> Result<(Vec<String>, Vec<Option<f64>>)> {
    let v: serde_json::Value = serde_json::from_slice(bytes)?;
    let tags = serde_json::from_value(v["tags"].clone()).context("no tags")?;
    let roc = serde_json::from_value(v["evaluation"]["metrics"]["roc_auc"].clone())
        .context("no per-tag ROC-AUC")?;
    Ok((tags, roc))
}
