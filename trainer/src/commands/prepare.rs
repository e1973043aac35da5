//! `trainer prepare`: decode every audio file of a dataset once into the cache (parallel,
//! resumable).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{DataArgs, ModelArgs};
use crate::data::{Clip, Source, cache, mtat};

#[derive(Args)]
pub struct PrepareArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The model the audio is for: its sample rate is the cache's.
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Parallel decoders (default: the number of cores).
    #[arg(long, value_parser = crate::args::positive_usize)]
    pub(crate) jobs: Option<usize>,
}

/// Runs the command.
pub fn run(args: PrepareArgs) -> Result<ExitCode> {
    let data = args.data.load()?;
    let rate = args.model.config(&args.data, &data.tags)?.sample_rate;
    let Some(cache_dir) = args.data.cache_dir() else {
        eprintln!("the synthetic dataset is generated on the fly: nothing to prepare");
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    // One entry per file: the segments of a file share its cache entry.
    let mut files = std::collections::HashSet::new();
    let clips: Vec<&Clip> = data
        .train
        .iter()
        .chain(&data.valid)
        .chain(&data.test)
        .filter(|c| match &c.source {
            Source::File { key, .. } => files.insert(key.clone()),
            Source::Synth { .. } => false,
        })
        .collect();
    let bar = ProgressBar::new(clips.len() as u64).with_style(
        ProgressStyle::with_template(
            "decoding {bar:30} {pos}/{len} files {elapsed_precise}<{eta_precise} {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()?;
    let started = std::time::Instant::now();
    let results: Vec<(String, Result<bool>)> = pool.install(|| {
        use rayon::prelude::*;
        clips
            .par_iter()
            .map(|clip| {
                let r = cache::prepare(clip, &cache_dir, rate);
                bar.inc(1);
                let name = match &clip.source {
                    Source::File { key, .. } => key.clone(),
                    Source::Synth { .. } => clip.name.clone(),
                };
                (name, r)
            })
            .collect()
    });
    bar.finish_and_clear();
    let decoded = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .count();
    let kept = results
        .iter()
        .filter(|(_, r)| matches!(r, Ok(false)))
        .count();
    let failed: Vec<_> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| (n, e)))
        .collect();
    let secs = started.elapsed().as_secs_f64();
    println!("| files | decoded now | already cached | failed | seconds | clips/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {decoded} | {kept} | {} | {secs:.1} | {:.1} |",
        clips.len(),
        failed.len(),
        decoded as f64 / secs.max(1e-9)
    );
    for (name, e) in &failed {
        let known = if mtat::KNOWN_BAD.contains(&name.as_str()) {
            " (known bad MTAT clip)"
        } else {
            ""
        };
        println!("skipped {name}{known}: {e:#}");
    }
    println!("cache: {}", cache_dir.display());
    Ok(ExitCode::SUCCESS)
}
