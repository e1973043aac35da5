//! Training as in the paper (§II-C): random 5 s crops, BCE on logits, Adam 1e-3, batch 4, LR
//! halved after `lr_patience` epochs without a lower validation loss, early stopping after
//! `stop_patience`, the weights of the lowest validation loss kept. Won et al.'s schedule is an
//! option. Every epoch ends with an atomic checkpoint, and a long epoch writes one every
//! `checkpoint_minutes` too; `--resume` continues from the last, within its epoch if need be.

mod settings;
mod start;
mod state;

pub use settings::{Schedule, TrainSettings};
pub use start::tag_weights;
pub use state::EpochLog;

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use modnet::{ModNet, ModNetConfig};
use modnet_audio::files::{save_weights, write_atomically};

use crate::data::loader::BatchMaker;
use crate::data::{Clip, Dataset};
use crate::epoch::{EpochProgress, EpochRun};
use crate::evaluate::evaluate;
use crate::progress::style;
use crate::run::RunFiles;
use settings::optimizer;
use start::{check_data, initial_model, label_means};
use state::{RunState, epochs, last_good, resume_from, write_checkpoint, write_logs};

/// Trains `config` on `data`, writing into `out`; returns the log. Each epoch is an
/// [`EpochRun`], then validation, the schedule ([`RunState::record`]) and a checkpoint.
pub fn train(
    config: &ModNetConfig,
    data: &Dataset,
    settings: &TrainSettings,
    base_device: &Device,
    out: &RunFiles,
    cache_dir: Option<&Path>,
    resume: bool,
) -> Result<Vec<EpochLog>> {
    check_data(config, data)?;
    let device = base_device.clone().autodiff();
    base_device.seed(settings.seed);
    let model = initial_model(config, data, settings, &device)?;
    let tag_weights = tag_weight_tensor(config, data, settings, &device);
    let (mut state, mut model, mut optim, mut fixed_lr) =
        start_or_resume(config, data, settings, out, resume, model)?;
    model.set_gpu_convolution(settings.gpu_convolution);
    // Written once the checks above have passed: a refused resume changes nothing.
    write_atomically(&out.config(), config.to_json().as_bytes())
        .with_context(|| format!("writing {}", out.config().display()))?;
    if !resume {
        // A new run's kept epochs never mix with those of the run it replaces.
        for (_, path) in out.kept_epochs() {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing {} of the earlier run", path.display()))?;
        }
    }
    eprintln!(
        "training {} on {}: {} train / {} valid clips, batch {}",
        model.summary(),
        data.description,
        data.train.len(),
        data.valid.len(),
        settings.batch_size
    );
    let run = Run {
        config,
        data,
        settings,
        base_device,
        device: &device,
        out,
        cache_dir,
        maker: Arc::new(BatchMaker {
            cache_dir: cache_dir.map(Path::to_path_buf),
            sample_rate: config.sample_rate,
            samples: config.chunk_samples,
            tags: config.n_tags(),
            augment: settings.augment,
        }),
        // Shared with the loader threads once, not copied each epoch.
        clips: data.train.as_slice().into(),
        // 0 or an interval too long for a Duration (`--checkpoint-minutes 1e300`): never within.
        save_every: (settings.checkpoint_minutes > 0.0)
            .then(|| Duration::try_from_secs_f64(settings.checkpoint_minutes * 60.0).ok())
            .flatten(),
        tag_weights,
    };
    if settings.init_weights.is_some() && !resume {
        run.judge_start(&model, &mut state)?;
    }
    for epoch in state.epochs_done + 1..=settings.max_epochs {
        let stop;
        (model, stop) = run.epoch(epoch, model, &mut optim, &mut fixed_lr, &mut state)?;
        if stop {
            break;
        }
    }
    let at = match state.best_epoch {
        0 => "the starting weights".to_string(),
        epoch => format!("epoch {epoch}"),
    };
    eprintln!(
        "best validation loss {:.4} at {at}: {}",
        state.best_valid_loss,
        out.best().display()
    );
    Ok(state.log)
}

/// Each tag's loss weight as a `[1, tags]` tensor (None: every tag alike), made once for the
/// run: every step multiplies by the same tensor.
fn tag_weight_tensor(
    config: &ModNetConfig,
    data: &Dataset,
    settings: &TrainSettings,
    device: &Device,
) -> Option<Tensor<2>> {
    let weights = tag_weights(&label_means(data, config.n_tags()), settings.rare_tag_power)?;
    let (lo, hi) = weights
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    eprintln!(
        "tag loss weights (--rare-tag-power {}): {lo:.2} to {hi:.2}",
        settings.rare_tag_power
    );
    let n = weights.len();
    Some(Tensor::<2>::from_data(
        TensorData::new(weights, [1, n]),
        device,
    ))
}

/// A new run's state for `model`, or with `resume` the run in `out` where its checkpoint left
/// it (a new run when there is none yet).
fn start_or_resume(
    config: &ModNetConfig,
    data: &Dataset,
    settings: &TrainSettings,
    out: &RunFiles,
    resume: bool,
    model: ModNet,
) -> Result<(RunState, ModNet, ModuleOptimizer, Option<f64>)> {
    let (optim, fixed_lr) = optimizer(settings.schedule, 0);
    let state = RunState {
        settings: settings.clone(),
        config: config.clone(),
        epochs_done: 0,
        lr: settings.lr,
        best_valid_loss: f64::INFINITY,
        best_epoch: 0,
        since_best: 0,
        since_lr_change: 0,
        log: Vec::new(),
        data: Some(data.identity()),
        unfinished_epoch: None,
    };
    if resume {
        if out.checkpoint().exists() {
            return resume_from(out, state, model);
        }
        eprintln!(
            "notice: no run in {} yet; starting from scratch",
            out.dir.display()
        );
    }
    Ok((state, model, optim, fixed_lr))
}

/// What every epoch of a run shares.
struct Run<'a> {
    config: &'a ModNetConfig,
    data: &'a Dataset,
    settings: &'a TrainSettings,
    base_device: &'a Device,
    device: &'a Device,
    out: &'a RunFiles,
    cache_dir: Option<&'a Path>,
    maker: Arc<BatchMaker>,
    clips: Arc<[Clip]>,
    save_every: Option<Duration>,
    tag_weights: Option<Tensor<2>>,
}

impl Run<'_> {
    /// The validation set's loss and metrics for `model` (in inference), with a progress bar.
    fn validate(&self, model: &ModNet) -> Result<crate::evaluate::Evaluation> {
        let bar = ProgressBar::new(self.data.valid.len() as u64).with_style(style(
            "validating {bar:30} {pos}/{len} clips {elapsed_precise}",
        ));
        let eval = evaluate(
            model,
            &self.data.valid,
            self.cache_dir,
            self.base_device,
            self.settings.positives,
            &bar,
        );
        bar.finish_and_clear();
        eval
    }

    /// The starting weights (`--init-weights`) are the best until an epoch beats them: going
    /// on from a good model never ends with a worse one.
    fn judge_start(&self, model: &ModNet, state: &mut RunState) -> Result<()> {
        let inference = model.valid();
        let eval = self.validate(&inference)?;
        eprintln!(
            "the starting weights: valid loss {:.4}  ROC-AUC {:.4}  PR-AUC {:.4} (the best until \
             an epoch beats it)",
            eval.loss, eval.metrics.roc_auc_macro, eval.metrics.pr_auc_macro
        );
        state.best_valid_loss = eval.loss;
        save_weights(&inference, &self.out.best())
    }

    /// Trains and validates epoch `epoch`, applies the schedule and writes the checkpoint;
    /// returns the model and whether the run stops early.
    fn epoch(
        &self,
        epoch: usize,
        mut model: ModNet,
        optim: &mut ModuleOptimizer,
        fixed_lr: &mut Option<f64>,
        state: &mut RunState,
    ) -> Result<(ModNet, bool)> {
        let (settings, out) = (self.settings, self.out);
        let started = Instant::now();
        let start = state
            .unfinished_epoch
            .take()
            .filter(|p| p.epoch == epoch)
            .unwrap_or_else(|| EpochProgress::new(epoch));
        let fresh_epoch = start.batches_done == 0;
        if fresh_epoch && settings.schedule == Schedule::Won && matches!(epoch - 1, 80 | 100 | 120)
        {
            // Won's switch: new optimiser, back to the best weights.
            (*optim, *fixed_lr) = optimizer(Schedule::Won, epoch - 1);
            if out.best().exists() {
                model = model.load_bytes(&std::fs::read(out.best())?)?;
            }
        }
        let lr = fixed_lr.unwrap_or(state.lr);
        let epoch_run = EpochRun {
            epoch,
            lr,
            seed: settings.seed,
            batch_size: settings.batch_size,
            max_epochs: settings.max_epochs,
            loader_workers: settings.loader_workers,
            config: self.config,
            device: self.device,
            base_device: self.base_device,
            maker: &self.maker,
            clips: &self.clips,
            tag_weights: self.tag_weights.as_ref(),
            start,
            save_every: self.save_every,
        };
        let earlier = epoch_run.start.seconds;
        // The batch the run's checkpoint stands at within this epoch, if any (for the error).
        let batches_saved = Cell::new((!fresh_epoch).then_some(epoch_run.start.batches_done));
        let save = |model: &ModNet, optim: &ModuleOptimizer, progress: &EpochProgress| {
            let within = RunState {
                unfinished_epoch: Some(progress.clone()),
                ..state.clone()
            };
            write_checkpoint(&out.checkpoint(), &within, model, optim)?;
            batches_saved.set(Some(progress.batches_done));
            Ok(())
        };
        let (model, progress) = epoch_run.run(model, optim, save).map_err(|e| {
            let saved = last_good(out, state.epochs_done, batches_saved.get());
            anyhow::anyhow!("{e:#}. {saved}")
        })?;
        let inference = model.valid();
        let eval = self.validate(&inference)?;
        let row = EpochLog {
            epoch,
            train_loss: progress.mean_loss(),
            valid_loss: eval.loss,
            roc_auc: eval.metrics.roc_auc_macro,
            pr_auc: eval.metrics.pr_auc_macro,
            lr,
            seconds: earlier + started.elapsed().as_secs_f64(),
        };
        eprintln!(
            "epoch {epoch:>3}  train loss {:.4}  valid loss {:.4}  ROC-AUC {:.4}  PR-AUC {:.4}  lr {:.1e}  {:.0} s",
            row.train_loss, row.valid_loss, row.roc_auc, row.pr_auc, row.lr, row.seconds
        );
        if state.record(row, settings) {
            save_weights(&inference, &out.best())?;
        }
        if settings.keep_epochs > 0 {
            keep_epoch(out, epoch, &inference, settings.keep_epochs)?;
        }
        write_logs(out, &state.log)?;
        write_checkpoint(&out.checkpoint(), state, &model, optim)?;
        let stop =
            settings.schedule == Schedule::Paper && state.since_best >= settings.stop_patience;
        if stop {
            eprintln!(
                "early stop: no new best validation loss for {}",
                epochs(state.since_best)
            );
        }
        Ok((model, stop))
    }
}

/// Writes `epoch`'s weights into the run's `epochs/` and removes those older than the last
/// `keep` epochs.
fn keep_epoch(out: &RunFiles, epoch: usize, model: &ModNet, keep: usize) -> Result<()> {
    std::fs::create_dir_all(out.epochs_dir())
        .with_context(|| format!("cannot create {}", out.epochs_dir().display()))?;
    save_weights(model, &out.epoch_weights(epoch))?;
    for (_, path) in out
        .kept_epochs()
        .into_iter()
        .filter(|(e, _)| e + keep <= epoch)
    {
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}
