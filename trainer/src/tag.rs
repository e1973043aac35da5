//! `trainer tag FILE…`: the top tags of each file (16-chunk protocol) and, for files longer than
//! one chunk, a tag timeline per 5 s chunk. A file that cannot be read gets its error and the
//! others still run.

use std::process::ExitCode;

use anyhow::Result;
use burn::tensor::Tensor;
use modnet::{ChunkPlan, ModNet};
use serde::Serialize;

use crate::audio;
use crate::backend::device;
use crate::cli::TagArgs;

#[derive(Serialize)]
struct FileTags {
    file: String,
    seconds: f64,
    notice: Option<String>,
    /// (tag, probability), best first.
    top: Vec<(String, f32)>,
    /// All probabilities in the model's tag order.
    probabilities: Vec<f32>,
    /// Per 5 s chunk: start in seconds and the probabilities in tag order.
    timeline: Vec<(f64, Vec<f32>)>,
}

fn read(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn tag_file(
    model: &ModNet,
    path: &std::path::Path,
    top: usize,
    device: &burn::tensor::Device,
) -> Result<FileTags> {
    let config = model.config();
    let rate = config.sample_rate;
    let samples = audio::load_mono(path, rate as u32)?;
    let plan = ChunkPlan::evaluation(samples.len(), config.chunk_samples, modnet::EVAL_CHUNKS)?;
    let chunks = model.chunk_probabilities(&samples, &plan, 4, device)?;
    let probabilities = read(chunks.mean_dim(0))?;
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    let timeline = if samples.len() > config.chunk_samples {
        let plan = ChunkPlan::timeline(samples.len(), config.chunk_samples)?;
        let rows = read(model.chunk_probabilities(&samples, &plan, 4, device)?)?;
        plan.starts
            .iter()
            .zip(rows.chunks(config.n_tags()))
            .map(|(&s, p)| (s as f64 / rate as f64, p.to_vec()))
            .collect()
    } else {
        Vec::new()
    };
    Ok(FileTags {
        file: path.display().to_string(),
        seconds: samples.len() as f64 / rate as f64,
        notice: plan.notice(rate),
        top: order
            .iter()
            .take(top)
            .map(|&i| (config.tags[i].clone(), probabilities[i]))
            .collect(),
        probabilities,
        timeline,
    })
}

fn print_table(model: &ModNet, t: &FileTags) {
    println!("{} ({:.1} s)", t.file, t.seconds);
    if let Some(n) = &t.notice {
        println!("  note: {n}");
    }
    println!("| tag | probability |");
    println!("|---|---:|");
    for (tag, p) in &t.top {
        println!("| {tag} | {p:.3} |");
    }
    if !t.timeline.is_empty() {
        let tags: Vec<usize> = t
            .top
            .iter()
            .filter_map(|(tag, _)| model.config().tags.iter().position(|x| x == tag))
            .collect();
        print!("\n| chunk start (s) |");
        for &i in &tags {
            print!(" {} |", model.config().tags[i]);
        }
        println!();
        println!("|---:|{}", "---:|".repeat(tags.len()));
        for (start, p) in &t.timeline {
            print!("| {start:.0} |");
            for &i in &tags {
                print!(" {:.2} |", p[i]);
            }
            println!();
        }
    }
    println!();
}

/// Runs the command.
pub fn run(args: &TagArgs) -> Result<ExitCode> {
    let device = device(args.backend)?;
    let model = ModNet::load_weights_file(&args.weights, &device)?;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in &args.files {
        match tag_file(&model, path, args.top, &device) {
            Ok(t) => {
                if !args.json {
                    print_table(&model, &t);
                }
                results.push(serde_json::to_value(&t)?);
            }
            Err(e) => {
                failures += 1;
                eprintln!("error: {}: {e:#}", path.display());
                results.push(serde_json::json!({"file": path.display().to_string(), "error": format!("{e:#}")}));
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
