//! `tag --csv/--jsonl`: a whole library into resumable tables — files decoded in parallel, one
//! progress bar, a row per file appended at once, files already there skipped, failures listed
//! at the end.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{TagArgs, Tagging, tag_samples};
use modnet_audio::audio;
use modnet_audio::files::{self, path_text};
use modnet_audio::library::{self, name_once};
use modnet_audio::tables::{Format, Row, Table};

/// The tables asked for, opened (and checked) before any work; when one is refused, nothing
/// is left of the other.
pub(super) fn open_tables(args: &TagArgs, tags: &[String]) -> Result<Vec<Table>> {
    if let (Some(csv), Some(jsonl)) = (&args.csv, &args.jsonl) {
        if csv.as_os_str() == "-" && jsonl.as_os_str() == "-" {
            bail!(
                "--csv - and --jsonl - would mix two formats on standard output: stream one, \
                 write the other to a file"
            );
        }
        if files::same_file(csv, jsonl) {
            bail!(
                "--csv {} and --jsonl {} are one file (the same path, a link to it or a second \
                 name of it): give each table its own",
                csv.display(),
                jsonl.display()
            );
        }
    }
    let mut tables = Vec::new();
    let asked = [(&args.csv, Format::Csv), (&args.jsonl, Format::Jsonl)];
    for (path, format) in asked {
        let Some(path) = path else { continue };
        match Table::open(path, format, tags) {
            Ok(table) => tables.push(table),
            Err(e) => {
                tables.into_iter().for_each(Table::discard);
                return Err(e);
            }
        }
    }
    Ok(tables)
}

/// Library mode: decode `jobs` files at a time in parallel, tag them in order, append each
/// result to the tables at once.
pub(super) fn tag_library(
    args: &TagArgs,
    inputs: &library::Inputs,
    mut tables: Vec<Table>,
    how: &Tagging,
) -> Result<ExitCode> {
    // Standard input is read anew each time; a file is skipped once every table has it.
    let done =
        |tables: &[Table], key: &str| key != audio::STDIN && tables.iter().all(|t| t.has(key));
    let files = &inputs.files;
    // A row is keyed by its file's name, and every read of standard input is named `-`: a
    // table that holds one already could not take a second (its row would be lost).
    if files.iter().any(|f| f.as_os_str() == audio::STDIN)
        && let Some(table) = tables.iter().find(|t| t.has(audio::STDIN))
    {
        bail!(
            "{} already holds a row for standard input (`-`), and rows are keyed by file name: \
             save the audio to a file and tag that, or write to another table",
            table.path().display()
        );
    }
    let todo: Vec<&PathBuf> = files
        .iter()
        .filter(|f| !done(&tables, &path_text(f)))
        .collect();
    let skipped = files.len() - todo.len();
    eprintln!(
        "{} files: {} to tag, {skipped} already in the output",
        files.len(),
        todo.len()
    );
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = ProgressBar::new(todo.len() as u64).with_style(
        ProgressStyle::with_template(
            "tagging {bar:30} {pos}/{len} files {elapsed_precise} (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let rate = how.model.config().sample_rate;
    let (mut tagged, mut seconds) = (0usize, 0.0f64);
    let mut failures: Vec<String> = inputs.empty_errors();
    for group in todo.chunks(jobs.max(1)) {
        // Decoding (the slow part for compressed files) runs in parallel; memory holds one
        // group of decoded files, each bounded (long ones wait on disk).
        let decoded: Vec<_> = group
            .par_iter()
            .map(|path| audio::decode(path, rate))
            .collect();
        for (path, samples) in group.iter().zip(decoded) {
            let result = samples.and_then(|s| tag_samples(how, path, &s, false));
            match result {
                Ok(t) => {
                    let row = Row {
                        file: t.file,
                        seconds: t.seconds,
                        probabilities: t.probabilities,
                        top: t.top.into_iter().map(|(tag, _)| tag).collect(),
                    };
                    for table in tables.iter_mut().filter(|t| !t.has(&row.file)) {
                        table.append(&row)?;
                    }
                    tagged += 1;
                    seconds += row.seconds;
                }
                Err(e) => failures.push(name_once(path, &e)),
            }
            bar.inc(1);
            bar.set_message(format!("{} failed", failures.len()));
        }
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    // Rows streamed to standard output keep it to themselves: the summary goes to stderr.
    let mut report: Box<dyn std::io::Write> = if tables.iter().any(|t| t.streamed) {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    writeln!(
        report,
        "| files | tagged | already done | failed | audio (h) | wall (s) | files/s | audio-hours/min |"
    )?;
    writeln!(report, "|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        report,
        "| {} | {tagged} | {skipped} | {} | {:.2} | {wall:.1} | {:.2} | {:.2} |",
        files.len(),
        failures.len(),
        seconds / 3600.0,
        tagged as f64 / wall.max(1e-9),
        seconds / 3600.0 / (wall.max(1e-9) / 60.0)
    )?;
    if !failures.is_empty() {
        writeln!(
            report,
            "\nfailed ({}; run again to retry them):",
            failures.len()
        )?;
        for message in &failures {
            writeln!(report, "- {message}")?;
        }
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
