//! `trainer export`: a weights file for the web page or another program, checked by loading it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::run::DEFAULT_BEST;

#[derive(Args)]
pub struct ExportArgs {
    /// Weights to export.
    #[arg(long, default_value = DEFAULT_BEST)]
    pub(crate) weights: PathBuf,
    /// Output file for the web page.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

/// Runs the command.
pub fn run(args: ExportArgs) -> Result<ExitCode> {
    use modnet_audio::files::{OutputKind, check_writable};
    check_writable(&args.out, OutputKind::Safetensors)?;
    let model = modnet_audio::files::load_weights(&args.weights, &burn::tensor::Device::flex())?;
    modnet_audio::files::save_weights(&model, &args.out)?;
    eprintln!("wrote {} ({})", args.out.display(), model.summary());
    Ok(ExitCode::SUCCESS)
}
