//! `trainer sweep`: one training run per modulation stride, each evaluated on a split; a per-tag
//! comparison table, JSON and grouped bars (the paper's Fig. 4).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use crate::args::TrainArgs;
use crate::charts;
use crate::evaluate::evaluate_weights;
use crate::run::{DEFAULT_RUN, RunFiles};
use crate::training::run_training;

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub(crate) train: TrainArgs,
    /// Modulation strides to compare (the paper's Fig. 4).
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,160")]
    pub(crate) strides: Vec<usize>,
    /// Split the runs are compared on.
    #[arg(long, default_value = "test")]
    pub(crate) split: String,
}

/// Runs the command.
pub fn run(args: SweepArgs) -> Result<ExitCode> {
    let base = if args.train.out == Path::new(DEFAULT_RUN) {
        PathBuf::from("runs/sweep")
    } else {
        args.train.out.clone()
    };
    if args.strides.is_empty() {
        bail!("give at least one stride");
    }
    let data = args.train.data.load()?;
    let mut rows = Vec::new();
    for &stride in &args.strides {
        let mut run = args.train.clone();
        run.model.stride = Some(stride);
        run.out = base.join(format!("stride-{stride}"));
        run.web_weights = None;
        eprintln!("== stride {stride}: {}", run.out.display());
        run_training(run.clone())?;
        let weights = RunFiles::new(run.out).best();
        let (_, eval) = evaluate_weights(
            &weights,
            &data.tags,
            data.split(&args.split)?,
            args.train.data.cache_dir().as_deref(),
            &args.train.device.device()?,
            args.train.positives.positives(),
        )?;
        rows.push((stride, eval.metrics));
    }
    let mut table = format!(
        "| tag |{}\n|---|{}\n",
        args.strides
            .iter()
            .map(|s| format!(" stride {s} |"))
            .collect::<String>(),
        "---:|".repeat(rows.len())
    );
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    for (t, tag) in data.tags.iter().enumerate() {
        table += &format!("| {tag} |");
        for (_, m) in &rows {
            table += &format!(" {} |", fmt(m.roc_auc[t]));
        }
        table += "\n";
    }
    table += "| **macro ROC-AUC** |";
    for (_, m) in &rows {
        table += &format!(" **{:.4}** |", m.roc_auc_macro);
    }
    table += "\n| **macro PR-AUC** |";
    for (_, m) in &rows {
        table += &format!(" **{:.4}** |", m.pr_auc_macro);
    }
    table += "\n";
    println!("{table}");
    std::fs::create_dir_all(&base)?;
    std::fs::write(base.join("sweep.md"), &table)?;
    let json = serde_json::json!({
        "split": args.split,
        "tags": data.tags,
        "runs": rows.iter().map(|(s, m)| serde_json::json!({"stride": s, "metrics": m})).collect::<Vec<_>>(),
    });
    std::fs::write(base.join("sweep.json"), serde_json::to_vec_pretty(&json)?)?;
    let series: Vec<(String, Vec<Option<f64>>)> = rows
        .iter()
        .map(|(s, m)| (format!("stride {s}"), m.roc_auc.clone()))
        .collect();
    let png = base.join("sweep.png");
    charts::tag_bars(&png, &data.tags, &series)?;
    println!("wrote {}, sweep.md, sweep.json", png.display());
    Ok(ExitCode::SUCCESS)
}
