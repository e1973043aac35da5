//! `trainer tag FILE…`: the top tags of each file (16-chunk protocol) and, for files longer than
//! one chunk, a tag timeline per chunk (the chunk length is the weights'). A file that cannot be read gets its error and the
//! others still run.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use modnet::{ClipTagging, ModNet};
use serde::Serialize;
use std::path::PathBuf;

use crate::audio;
use crate::backend::{Backend, device};

#[derive(Args)]
pub struct TagArgs {
    /// Audio files (any format symphonia reads).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Weights file (default: the built-in model, SincModNet distilled from an MTAT-trained
    /// teacher: the 50 MTAT tags; see MODEL_CARD.md).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// How many tags to show per file.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
}

#[derive(Serialize)]
struct FileTags {
    file: String,
    seconds: f64,
    notice: Option<String>,
    /// (tag, probability), best first.
    top: Vec<(String, f32)>,
    /// All probabilities in the model's tag order.
    probabilities: Vec<f32>,
    /// Per chunk: start in seconds and the probabilities in tag order.
    timeline: Vec<(f64, Vec<f32>)>,
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
    // The clip protocol is the model crate's: run its batches, hand back the probabilities.
    let with_timeline = samples.len() > config.chunk_samples;
    let tagging = ClipTagging::new(samples.len(), config.chunk_samples, with_timeline)?;
    let mut probabilities = Vec::with_capacity(tagging.total() * config.n_tags());
    for batch in tagging.batches(&samples) {
        let p = model.probabilities(batch.tensor(device))?;
        probabilities.extend(
            p.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
    }
    let tags = tagging.finish(&probabilities, config.n_tags(), rate)?;
    let mut order: Vec<usize> = (0..tags.probabilities.len()).collect();
    order.sort_by(|&a, &b| tags.probabilities[b].total_cmp(&tags.probabilities[a]));
    Ok(FileTags {
        file: path.display().to_string(),
        seconds: samples.len() as f64 / rate as f64,
        notice: tags.notice,
        top: order
            .iter()
            .take(top)
            .map(|&i| (config.tags[i].clone(), tags.probabilities[i]))
            .collect(),
        timeline: tags
            .timeline_starts
            .iter()
            .zip(tags.timeline)
            .map(|(&s, p)| (s as f64 / rate as f64, p))
            .collect(),
        probabilities: tags.probabilities,
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

/// The built-in model's weights (the repository's `weights/`, described in MODEL_CARD.md):
/// `trainer tag` works on a fresh clone with no training.
pub const BUILTIN_WEIGHTS: &[u8] =
    include_bytes!("../../../weights/modnet-mtat-distilled.safetensors");

/// The built-in model on `device`.
pub fn builtin_model(device: &burn::tensor::Device) -> Result<ModNet> {
    ModNet::from_bytes(BUILTIN_WEIGHTS, device)
        .map_err(|e| anyhow::anyhow!("the built-in weights are damaged: {e}"))
}

/// Runs the command.
pub fn run(args: &TagArgs) -> Result<ExitCode> {
    let device = device(args.backend)?;
    let model = match &args.weights {
        Some(path) => crate::files::load_weights(path, &device)?,
        None => builtin_model(&device)?,
    };
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
                // Name the file once: most errors (from decoding) name it already.
                let name = path.display().to_string();
                let message = format!("{e:#}");
                let message = if message.contains(&name) {
                    message
                } else {
                    format!("{name}: {message}")
                };
                eprintln!("error: {message}");
                results.push(serde_json::json!({"file": name, "error": message}));
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
