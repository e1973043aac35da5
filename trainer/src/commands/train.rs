//! `trainer train`: train a model (the bare `trainer` runs this on the synthetic data).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::args::{
    DataArgs, DatasetKind, ModelArgs, PositivesArgs, check_writable, learning_rate, non_negative,
    probability,
};
use crate::backend::{Backend, device};
use crate::data::loader::{self, Augment};
use crate::run::{DEFAULT_RUN, RunFiles};
use crate::train::{Schedule, TrainSettings, train};

#[derive(Args, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub(crate) backend: Backend,
    /// Run directory: checkpoint, best weights, log, config.
    #[arg(long, default_value = DEFAULT_RUN)]
    pub(crate) out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long, conflicts_with = "overwrite")]
    pub(crate) resume: bool,
    /// Start again in an --out that holds a run, replacing its files.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// At most this many epochs (default: 200, the paper's; 6 on the synthetic data, about ten
    /// minutes on two CPU cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) epochs: Option<u64>,
    /// Clips per batch (1 to 4096).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub(crate) batch_size: u64,
    /// Threads that read and crop the training batches ahead of the model (the batches are the
    /// same with any number).
    #[arg(long, default_value_t = loader::DEFAULT_WORKERS as u64,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) loader_workers: u64,
    /// Adam learning rate (a finite number > 0 and ≤ 1).
    #[arg(long, default_value_t = 1e-3, value_parser = learning_rate)]
    pub(crate) lr: f64,
    /// Epochs without a lower validation loss before halving the LR.
    #[arg(long, default_value_t = 5)]
    pub(crate) lr_patience: usize,
    /// Epochs without a lower validation loss before stopping.
    #[arg(long, default_value_t = 15)]
    pub(crate) stop_patience: usize,
    /// Optimisation schedule.
    #[arg(long, value_enum, default_value_t = Schedule::Paper)]
    pub(crate) schedule: Schedule,
    /// Also copy the best weights here when training ends (e.g. for the web page).
    #[arg(long)]
    pub(crate) web_weights: Option<PathBuf>,
    /// Augmentation: a random gain in ±DB dB per training crop (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub(crate) augment_gain_db: f64,
    /// Augmentation for segment labels (a CSV with start/seconds): move each crop by up to
    /// ±SECONDS (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub(crate) augment_shift: f64,
    /// Augmentation: the probability that a crop is mixed with another of its batch, labels
    /// mixed with the same weights (0: off).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub(crate) augment_mix: f64,
    /// Start the output biases at the log-odds of the training labels' mean tag frequencies
    /// (helps with soft labels from a teacher, which are mostly small).
    #[arg(long)]
    pub(crate) prior_bias: bool,
    #[command(flatten)]
    pub(crate) positives: PositivesArgs,
}

/// Runs the command.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let out = RunFiles::new(&args.out);
    if let Some(page) = &args.web_weights {
        check_writable(page)?;
    }
    // Before any work: the run folder is usable and no run is replaced by accident.
    let made = out.check_start(args.resume, args.overwrite)?;
    let result = train_in(args, &out);
    if result.is_err() {
        // A refused run leaves no empty folder behind (one with files in it stays).
        made.remove_if_empty();
    }
    result
}

fn train_in(args: TrainArgs, out: &RunFiles) -> Result<ExitCode> {
    let data = args.data.load()?;
    let config = args.model.config(&args.data, &data.tags)?;
    let device = device(args.backend)?;
    let settings = TrainSettings {
        max_epochs: args.epochs.map_or(
            if args.data.dataset == DatasetKind::Synth {
                6
            } else {
                200
            },
            |e| e as usize,
        ),
        batch_size: args.batch_size as usize,
        lr: args.lr,
        lr_patience: args.lr_patience,
        stop_patience: args.stop_patience,
        seed: args.data.seed,
        schedule: args.schedule,
        augment: Augment {
            gain_db: args.augment_gain_db as f32,
            shift_seconds: args.augment_shift,
            mix: args.augment_mix,
        },
        loader_workers: args.loader_workers as usize,
        positives: args.positives.positives(),
        prior_bias: args.prior_bias,
    };
    let cache_dir = args.data.cache_dir();
    train(
        &config,
        &data,
        &settings,
        &device,
        out,
        cache_dir.as_deref(),
        args.resume,
    )?;
    if let Some(page) = &args.web_weights {
        let model = crate::files::load_weights(&out.best(), &burn::tensor::Device::flex())?;
        crate::files::save_weights(&model, page)?;
        eprintln!(
            "wrote the web page's weights {} ({})",
            page.display(),
            model.summary()
        );
    }
    Ok(ExitCode::SUCCESS)
}
