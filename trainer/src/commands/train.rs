//! `trainer train`: train a model (the bare `trainer` runs this on the synthetic data).

use std::process::ExitCode;

use anyhow::Result;

pub use crate::args::TrainArgs;
use crate::training::run_training;

/// Runs the command.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    run_training(args)
}
