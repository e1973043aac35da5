//! The command line (clap): the parser and the dispatch to the commands (one module each in
//! `commands/`); every architecture knob of the reference is a flag or a config file.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::commands::{
    average, bench, embed, eval, export, inspect, plot, prepare, similar, sweep, tag, teach, train,
};

#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "Train, evaluate and run ModNet / SincModNet music taggers"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Train a model (the default command: the small preset on the built-in synthetic data).
    Train(train::TrainArgs),
    /// Decode every audio file of a dataset once into the cache (parallel, resumable).
    Prepare(prepare::PrepareArgs),
    /// Evaluate weights on a split: macro and per-tag ROC-AUC / PR-AUC, written as JSON too.
    Eval(eval::EvalArgs),
    /// Tag audio files or a whole library with the built-in MTAT model (or --weights): top tags
    /// and a timeline, or CSV / JSON Lines tables.
    Tag(tag::TagArgs),
    /// Your own tags from a handful of examples (a folder per tag, or a label CSV): a head file
    /// for `tag --heads`, with each tag's cross-validated ROC-AUC.
    Teach(teach::TeachArgs),
    /// Embeddings per chunk and per clip (pooled features or modulation summary), as safetensors.
    Embed(embed::EmbedArgs),
    /// What the front-end sees in one chunk: the filterbank and modulation pictures as values
    /// (JSON), as the web page draws them.
    Inspect(inspect::InspectArgs),
    /// Rank music by cosine similarity of clip embeddings to a query file.
    Similar(similar::SimilarArgs),
    /// Write a weights file for the web page (checked by loading it).
    Export(export::ExportArgs),
    /// One model from several weights files of the same model (say a run's last epochs, kept
    /// with `train --keep-epochs`): their mean, tensor by tensor.
    Average(average::AverageArgs),
    /// PNG pictures of a run: learned filter responses, training curves, per-tag ROC-AUC bars.
    Plot(plot::PlotArgs),
    /// Train and evaluate once per modulation stride; per-tag comparison table, JSON and PNG.
    Sweep(sweep::SweepArgs),
    /// Training and forward clips/s of a model on the chosen device, and what an MTAT epoch
    /// would cost.
    Bench(bench::BenchArgs),
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    // The bare `trainer` is `trainer train` with every default.
    let command = match Cli::parse().command {
        Some(command) => command,
        None => Cli::try_parse_from(["trainer", "train"])?
            .command
            .context("`trainer train` parses to a command")?,
    };
    match command {
        Command::Train(args) => train::run(args),
        Command::Prepare(args) => prepare::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Tag(args) => tag::run(&args),
        Command::Teach(args) => teach::run(&args),
        Command::Embed(args) => embed::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Similar(args) => similar::run(&args),
        Command::Export(args) => export::run(args),
        Command::Average(args) => average::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Bench(args) => bench::run(&args),
    }
}
