//! `trainer inspect FILE --start S`: what the front-end sees in one chunk — the filterbank and
//! modulation pictures the page draws, as values (JSON: [`modnet::PictureValues`]), to plot
//! elsewhere or to compare with the page's "values" download.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use modnet::{FilterOrder, RESPONSE_POINTS};

use crate::args::{DeviceArgs, WeightsArgs};
use modnet_audio::audio;
use modnet_audio::files::{OutputKind, check_writable, write_atomically};
use modnet_audio::pictures::chunk_pictures;

#[derive(Args)]
pub struct InspectArgs {
    /// An audio file (or `-`, standard input).
    pub file: PathBuf,
    /// Where the chunk starts (seconds).
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Mean-pool each picture to at most this many columns (the page draws 400); default one
    /// column per frame.
    #[arg(long)]
    pub columns: Option<usize>,
    /// Write the JSON here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) weights: WeightsArgs,
    #[command(flatten)]
    pub(crate) device: DeviceArgs,
}

/// Runs the command.
pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    if args.columns == Some(0) {
        bail!("--columns must be at least 1");
    }
    if let Some(out) = &args.out {
        check_writable(out, OutputKind::Json)?;
    }
    let device = args.device.device()?;
    let model = args.weights.load(&args.device, &device)?;
    let order = FilterOrder::of(&model.filter_responses(RESPONSE_POINTS)?);
    let samples = audio::decode(&args.file, model.config().sample_rate)?;
    let values = chunk_pictures(&model, &order, &samples, args.start, args.columns, &device)
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", args.file.display()))?;
    let json = serde_json::to_vec(&values)?;
    match &args.out {
        Some(out) => {
            write_atomically(out, &json)?;
            eprintln!(
                "wrote {}: the chunk at {:.3} s, {} modulation pictures of {}×{}",
                out.display(),
                values.start_seconds,
                values.modulation.len(),
                values.filterbank.rows,
                values.filterbank.cols
            );
        }
        None => println!("{}", String::from_utf8_lossy(&json)),
    }
    Ok(ExitCode::SUCCESS)
}
