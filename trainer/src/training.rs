//! A training run from its arguments, as `trainer train` and each run of `trainer sweep` do
//! it: the run folder checked before any work, the data and model built, [`train`], and the
//! best weights copied for the page when asked.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{DatasetKind, TrainArgs};
use crate::data::loader::Augment;
use crate::run::RunFiles;
use crate::train::{TrainSettings, train};
use modnet_audio::files::{OutputKind, check_writable};

/// Trains as `args` say.
pub fn run_training(args: TrainArgs) -> Result<ExitCode> {
    let out = RunFiles::new(&args.out);
    if let Some(page) = &args.web_weights {
        check_writable(page, OutputKind::Safetensors)?;
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
    let device = args.device.device()?;
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
        min_delta: args.min_delta,
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
        rare_tag_power: args.rare_tag_power,
        checkpoint_minutes: args.checkpoint_minutes,
        init_weights: args.init_weights.clone(),
        keep_epochs: args.keep_epochs,
        gpu_convolution: args
            .device
            .training_route(&config, args.batch_size as usize, &device)?,
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
        let model = modnet_audio::files::load_weights(&out.best(), &burn::tensor::Device::flex())?;
        modnet_audio::files::save_weights(&model, page)?;
        eprintln!(
            "wrote the web page's weights {} ({})",
            page.display(),
            model.summary()
        );
    }
    Ok(ExitCode::SUCCESS)
}
