//! `trainer tag FILE|DIR…`: the top tags of each file (16-chunk protocol) and, for files longer
//! than one chunk, a tag timeline per chunk (the chunk length is the weights'). With `--csv` /
//! `--jsonl`, a whole library: files decoded in parallel, one progress bar, a row per file
//! appended to the tables, files already there skipped, failures listed at the end. A file that
//! cannot be read gets its error and the others still run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use modnet::heads::USER_PREFIX;
use modnet::{ModNet, TagHeads};
use serde::Serialize;

use crate::args::{DeviceArgs, WeightsArgs};
use modnet_audio::audio;
use modnet_audio::files::path_text;
use modnet_audio::heads::load_heads;
use modnet_audio::library::{self, name_once};
use modnet_audio::signal::Signal;
use modnet_audio::tagger::{has_timeline, tag_signal, top_tags};

// Library mode (`--csv` / `--jsonl`).
mod into_tables;

use into_tables::{open_tables, tag_library};

#[derive(Args)]
pub struct TagArgs {
    /// Audio files (any format symphonia reads, and Ogg Opus), folders (their audio files,
    /// recursively, each real file once) or `-` (standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Append one row per file to this CSV (file, seconds, every tag's probability, top tags);
    /// files already in it are skipped, so a stopped run continues where it was. `-` (or a
    /// pipe) streams the rows to standard output. A file that is not such a table is refused.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// The same as JSON Lines (one object per file).
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    /// Files decoded at once in library mode (default: the number of CPU threads).
    #[arg(long, value_parser = crate::args::positive_usize)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub(crate) weights: WeightsArgs,
    /// How many tags to show per file.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Your own tags (a head file written by `trainer teach`): each file's probability of
    /// each, and whether it has it, beside the model's tags; in tables their columns are
    /// marked `user:`. Heads learned on another model are refused.
    #[arg(long)]
    pub heads: Option<PathBuf>,
    /// Print JSON instead of tables (not with `--csv` / `--jsonl`, which write their own rows).
    #[arg(long, conflicts_with_all = ["csv", "jsonl"])]
    pub json: bool,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

#[derive(Serialize)]
struct FileTags {
    file: String,
    seconds: f64,
    notice: Option<String>,
    /// (tag, probability), best first.
    top: Vec<(String, f32)>,
    /// All probabilities in the model's tag order, then the user's tags (`--heads`).
    probabilities: Vec<f32>,
    /// The user's tags (`--heads`), in the head file's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_tags: Vec<UserTag>,
    /// Per chunk: start in seconds and the probabilities in the order of `probabilities`.
    timeline: Vec<(f64, Vec<f32>)>,
}

/// One of the user's tags for one file.
#[derive(Serialize)]
struct UserTag {
    tag: String,
    probability: f32,
    /// Whether the probability reaches the head's threshold (chosen when it was learned).
    has_it: bool,
}

/// What every file is tagged with: the model, and the user's heads if any.
struct Tagging<'a> {
    model: &'a ModNet,
    heads: Option<&'a TagHeads>,
    top: usize,
    device: &'a burn::tensor::Device,
}

fn tag_file(how: &Tagging, path: &Path) -> Result<FileTags> {
    let samples = audio::decode(path, how.model.config().sample_rate)?;
    let with_timeline = has_timeline(how.model, samples.len());
    tag_samples(how, path, &samples, with_timeline)
}

fn tag_samples(
    how: &Tagging,
    path: &Path,
    samples: &Signal,
    with_timeline: bool,
) -> Result<FileTags> {
    let config = how.model.config();
    let rate = config.sample_rate;
    let tags = tag_signal(how.model, samples, with_timeline, how.heads, how.device)?;
    let n = config.n_tags();
    let user_tags = how.heads.map_or_else(Vec::new, |heads| {
        heads
            .heads
            .iter()
            .zip(&tags.probabilities[n..])
            .map(|(head, &probability)| UserTag {
                tag: head.name.clone(),
                probability,
                has_it: probability >= head.threshold,
            })
            .collect()
    });
    Ok(FileTags {
        file: path_text(path),
        seconds: rate.seconds(samples.len()),
        notice: tags.notice,
        top: top_tags(&tags.probabilities[..n], how.top)
            .into_iter()
            .map(|i| (config.tags[i].clone(), tags.probabilities[i]))
            .collect(),
        timeline: tags
            .timeline_starts
            .iter()
            .zip(tags.timeline)
            .map(|(&s, p)| (rate.seconds(s), p))
            .collect(),
        probabilities: tags.probabilities,
        user_tags,
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
    if !t.user_tags.is_empty() {
        println!("\n| your tag | probability | has it |");
        println!("|---|---:|:---:|");
        for u in &t.user_tags {
            println!(
                "| {} | {:.3} | {} |",
                u.tag,
                u.probability,
                if u.has_it { "yes" } else { "no" }
            );
        }
    }
    if !t.timeline.is_empty() {
        let n = model.config().tags.len();
        let mut tags: Vec<(usize, String)> = t
            .top
            .iter()
            .filter_map(|(tag, _)| model.config().tags.iter().position(|x| x == tag))
            .map(|i| (i, model.config().tags[i].clone()))
            .collect();
        tags.extend(
            t.user_tags
                .iter()
                .enumerate()
                .map(|(k, u)| (n + k, format!("{}{}", USER_PREFIX, u.tag))),
        );
        print!("\n| chunk start (s) |");
        for (_, name) in &tags {
            print!(" {name} |");
        }
        println!();
        println!("|---:|{}", "---:|".repeat(tags.len()));
        for (start, p) in &t.timeline {
            print!("| {start:.0} |");
            for &(i, _) in &tags {
                print!(" {:.2} |", p[i]);
            }
            println!();
        }
    }
    println!();
}

/// Runs the command.
pub fn run(args: &TagArgs) -> Result<ExitCode> {
    // Inputs and outputs are checked before anything is decoded.
    let inputs = library::audio_files(&args.files)?;
    inputs.report_skipped();
    if inputs.files.is_empty() {
        let errors = inputs.empty_errors();
        bail!(
            "{}",
            if errors.is_empty() {
                "nothing to tag".to_string()
            } else {
                errors.join("; ")
            }
        );
    }
    let device = args.device.device()?;
    let model = args.weights.load(&args.device, &device)?;
    let heads = args
        .heads
        .as_deref()
        .map(|path| load_heads(path, &model))
        .transpose()?;
    let how = Tagging {
        model: &model,
        heads: heads.as_ref(),
        top: args.top,
        device: &device,
    };
    if args.csv.is_some() || args.jsonl.is_some() {
        let mut columns = model.config().tags.clone();
        columns.extend(heads.iter().flat_map(TagHeads::marked_names));
        let tables = open_tables(args, &columns)?;
        return tag_library(args, &inputs, tables, &how);
    }
    let mut results = Vec::new();
    let mut failures = 0;
    for message in inputs.empty_errors() {
        failures += 1;
        eprintln!("error: {message}");
    }
    for path in &inputs.files {
        match tag_file(&how, path) {
            Ok(t) => {
                if !args.json {
                    print_table(&model, &t);
                }
                results.push(serde_json::to_value(&t)?);
            }
            Err(e) => {
                failures += 1;
                let message = name_once(path, &e);
                eprintln!("error: {message}");
                results.push(serde_json::json!({"file": path_text(path), "error": message}));
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

#[cfg(test)]
mod tests {
    use super::*;
    use modnet::{ClipTagging, ModNetConfig, ResNetConfig, ResNetWidths, SampleRate};

    /// On the CPU a clip's batches run side by side: that must give what running them one
    /// after another gives, clip tags and timeline, in order.
    #[test]
    fn side_by_side_batches_equal_the_sequential_protocol() {
        let device = burn::tensor::Device::flex();
        device.seed(7);
        let resnet = ResNetConfig::new().with_widths(ResNetWidths::Custom { narrow: 4, wide: 8 });
        let model = ModNetConfig::small()
            .with_resnet(resnet)
            .init(&device)
            .unwrap();
        let chunk = model.config().chunk_samples;
        // 16 evaluation chunks and 9 timeline chunks (the last one partial): 4 + 3 batches.
        let samples: Vec<f32> = (0..chunk * 9 - chunk / 3)
            .map(|i| ((i as f32) * 0.01).sin() * (1.0 + (i as f32 * 1e-4).cos()) * 0.2)
            .collect();
        let path = std::path::Path::new("clip.wav");
        let signal = Signal::from_vec(samples.clone());
        let how = Tagging {
            model: &model,
            heads: None,
            top: 3,
            device: &device,
        };
        let side_by_side = tag_samples(&how, path, &signal, true).unwrap();
        let tagging = ClipTagging::new(samples.len(), chunk, true).unwrap();
        let batches = (0..tagging.batch_count())
            .map(|i| {
                let batch = tagging.batch(i, &samples).unwrap();
                model.batch_probabilities(&batch, &device).unwrap()
            })
            .collect();
        let sequential = tagging.finish(batches, 50, SampleRate::PAPER).unwrap();
        assert_eq!(side_by_side.probabilities, sequential.probabilities);
        assert_eq!(side_by_side.timeline.len(), 9);
        for ((_, row), expected) in side_by_side.timeline.iter().zip(&sequential.timeline) {
            assert_eq!(row, expected);
        }
    }
}
