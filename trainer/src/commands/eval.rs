//! `trainer eval`: macro and per-tag ROC-AUC / PR-AUC of weights on a split, as a table and a
//! JSON report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use modnet::TagGroup;

use modnet_audio::files::write_atomically;

use crate::args::DeviceArgs;
use crate::args::{DataArgs, PositivesArgs};
use crate::evaluate::evaluate_weights;
use crate::run::{DEFAULT_BEST, RunFiles};
use modnet_audio::files::{OutputKind, check_writable};

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Weights file (default: OUT/best.safetensors of the default run).
    #[arg(long, default_value = DEFAULT_BEST)]
    pub(crate) weights: PathBuf,
    /// Split to evaluate.
    #[arg(long, default_value = "test")]
    pub(crate) split: String,
    /// Where to write the JSON report (default: beside the weights).
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
    #[command(flatten)]
    pub(crate) positives: PositivesArgs,
}

/// Runs the command.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| RunFiles::report(&args.weights, &args.split));
    // Before the evaluation: the report must be writable.
    check_writable(&json, OutputKind::Json)?;
    let data = args.data.load()?;
    let (model, eval) = evaluate_weights(
        &args.weights,
        &data.tags,
        data.split(&args.split)?,
        args.data.cache_dir().as_deref(),
        &args.device.device()?,
        args.positives.positives(),
    )?;
    println!(
        "{} on {} ({} split, {} clips)",
        model.summary(),
        data.description,
        args.split,
        eval.clips.len()
    );
    println!();
    println!("| tag | ROC-AUC | PR-AUC |");
    println!("|---|---:|---:|");
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    for (t, tag) in data.tags.iter().enumerate() {
        println!(
            "| {tag} | {} | {} |",
            fmt(eval.metrics.roc_auc[t]),
            fmt(eval.metrics.average_precision[t])
        );
    }
    println!(
        "| **macro** | **{:.4}** | **{:.4}** |",
        eval.metrics.roc_auc_macro, eval.metrics.pr_auc_macro
    );
    println!(
        "\nloss against the labels (BCE) {:.4}; top tag among the labels' top 3 for {:.1} % of clips",
        eval.loss,
        100.0 * eval.top1_in_label_top3
    );
    if eval.metrics.undefined_tags > 0 {
        println!(
            "({} tags have one class only, or fewer than {} positives (label > {}), in this split \
             and are left out of the means)",
            eval.metrics.undefined_tags, eval.positives.min_count, eval.positives.threshold
        );
    }
    for (name, e) in &eval.skipped {
        println!("skipped {name}: {e}");
    }
    // Each tag's group (the paper's five) so that tables can be grouped without a copy of them.
    let groups: Vec<&str> = data.tags.iter().map(|t| TagGroup::of(t).name()).collect();
    let report = serde_json::json!({
        "weights": args.weights, "split": args.split, "tags": data.tags, "groups": groups,
        "evaluation": eval,
    });
    write_atomically(&json, &serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("cannot write {}", json.display()))?;
    println!("\nwrote {}", json.display());
    Ok(ExitCode::SUCCESS)
}
