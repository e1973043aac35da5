//! Training as in the paper (§II-C): random 5 s crops, BCE on logits, Adam 1e-3, batch 4, LR
//! halved after `lr_patience` epochs without a lower validation loss, early stopping after
//! `stop_patience`, the weights of the lowest validation loss kept. Won et al.'s schedule is an
//! option. Every epoch ends with an atomic checkpoint; `--resume` continues from it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::files::{save_weights, write_atomically};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig, momentum::MomentumConfig,
};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use modnet::{ModNet, ModNetConfig};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::data::loader::{self, Augment, BatchMaker};
use crate::data::{Clip, DataIdentity, Dataset};
use crate::evaluate::{Positives, bce_with_logits, evaluate};
use crate::run::RunFiles;

/// The optimisation schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Schedule {
    /// The paper: Adam at `--lr`, halved on a validation plateau, early stopping.
    Paper,
    /// Won et al.: Adam 1e-4 + L2 1e-4 for 80 epochs, then SGD-Nesterov 1e-3 → 1e-4 → 1e-5 every
    /// 20 epochs, reloading the best weights at each switch.
    Won,
}

/// Settings of a training run (the command line's `train` flags).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSettings {
    /// At most this many epochs.
    pub max_epochs: usize,
    /// Clips per batch.
    pub batch_size: usize,
    /// Initial learning rate (paper schedule).
    pub lr: f64,
    /// Epochs without a lower validation loss before the LR is halved.
    pub lr_patience: usize,
    /// Epochs without a lower validation loss before training stops.
    pub stop_patience: usize,
    /// Seed of the initialisation, the shuffles and the crops.
    pub seed: u64,
    /// Schedule.
    pub schedule: Schedule,
    /// Label-preserving augmentation of the training crops.
    #[serde(default)]
    pub augment: Augment,
    /// Threads that make the training batches (the batches do not depend on it).
    #[serde(default = "default_loader_workers")]
    pub loader_workers: usize,
    /// How validation labels become positives for ROC-AUC / PR-AUC.
    #[serde(default)]
    pub positives: Positives,
    /// Start the output biases at the log-odds of the training labels' mean (soft labels of
    /// a teacher are mostly small: the untrained model's 0.5 everywhere is far from them).
    #[serde(default)]
    pub prior_bias: bool,
}

fn default_loader_workers() -> usize {
    loader::DEFAULT_WORKERS
}

/// One line of the training log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss (16-chunk protocol).
    pub valid_loss: f64,
    /// Validation macro ROC-AUC.
    pub roc_auc: f64,
    /// Validation macro PR-AUC.
    pub pr_auc: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// What a checkpoint remembers besides weights and optimiser state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    settings: TrainSettings,
    config: ModNetConfig,
    epochs_done: usize,
    lr: f64,
    best_valid_loss: f64,
    best_epoch: usize,
    since_best: usize,
    since_lr_change: usize,
    log: Vec<EpochLog>,
    /// The data the run trains on (absent in checkpoints of older versions).
    #[serde(default)]
    data: Option<DataIdentity>,
}

fn write_checkpoint(
    path: &Path,
    state: &RunState,
    model: &ModNet,
    optim: &ModuleOptimizer,
) -> Result<()> {
    let optim = optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("encoding the optimiser state: {e}"))?;
    Checkpoint::new(serde_json::to_vec(state)?, model, optim.to_vec())?.write(path)
}

/// Where to go on after a failure in the epoch after `epochs_done`: the truth about what is on
/// disk.
fn last_good(out: &RunFiles, epochs_done: usize) -> String {
    if epochs_done > 0 && out.checkpoint().exists() {
        format!(
            "The last good checkpoint (after epoch {epochs_done}) is kept in {}; resume with \
             --resume, perhaps with a lower --lr",
            out.dir.display()
        )
    } else {
        "No epoch finished, so there is no checkpoint: start again (--overwrite), perhaps with \
         a lower --lr"
            .to_string()
    }
}

fn optimizer(schedule: Schedule, epoch: usize) -> (ModuleOptimizer, Option<f64>) {
    match schedule {
        Schedule::Paper => (AdamConfig::new().init(), None),
        Schedule::Won => {
            let decay = Some(WeightDecayConfig::new(1e-4));
            match epoch {
                0..80 => (
                    AdamConfig::new().with_weight_decay(decay).init(),
                    Some(1e-4),
                ),
                _ => {
                    let lr = match epoch {
                        80..100 => 1e-3,
                        100..120 => 1e-4,
                        _ => 1e-5,
                    };
                    let momentum = MomentumConfig::new().with_momentum(0.9).with_nesterov(true);
                    let sgd = SgdConfig::new()
                        .with_weight_decay(decay)
                        .with_momentum(Some(momentum))
                        .init();
                    (sgd, Some(lr))
                }
            }
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Trains `config` on `data`, writing into `out`; returns the log.
pub fn train(
    config: &ModNetConfig,
    data: &Dataset,
    settings: &TrainSettings,
    base_device: &Device,
    out: &RunFiles,
    cache_dir: Option<&Path>,
    resume: bool,
) -> Result<Vec<EpochLog>> {
    if data.train.is_empty() {
        bail!(
            "{} has no training clips (an evaluation-only set?)",
            data.description
        );
    }
    if data.valid.is_empty() {
        bail!("the dataset has no validation clips: the schedule and the best weights need some");
    }
    if config.tags != data.tags {
        bail!(
            "the model's tags differ from the dataset's ({} vs {})",
            config.n_tags(),
            data.tags.len()
        );
    }
    let device = base_device.clone().autodiff();
    base_device.seed(settings.seed);
    let mut model = config.init(&device)?;
    if settings.prior_bias && !data.train.is_empty() {
        let n = config.n_tags();
        let mut prior = vec![0.0f32; n];
        for clip in &data.train {
            prior
                .iter_mut()
                .zip(&clip.labels)
                .for_each(|(p, l)| *p += l);
        }
        prior.iter_mut().for_each(|p| *p /= data.train.len() as f32);
        model = model.with_tag_prior(&prior)?;
    }
    let (mut optim, mut fixed_lr) = optimizer(settings.schedule, 0);
    let mut state = RunState {
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
    };
    if resume {
        let path = out.checkpoint();
        if path.exists() {
            let checkpoint = Checkpoint::read(&path)?;
            let saved: RunState = serde_json::from_slice(&checkpoint.state).map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a modnet checkpoint or is damaged",
                    path.display()
                )
            })?;
            if &saved.config != config {
                bail!(
                    "{} was written for another model configuration",
                    path.display()
                );
            }
            let mut differences = Vec::new();
            if saved.settings.seed != settings.seed {
                differences.push(format!(
                    "--seed was {}, now {}",
                    saved.settings.seed, settings.seed
                ));
            }
            if let (Some(was), Some(now)) = (&saved.data, &state.data) {
                differences.extend(was.differences(now));
            }
            if !differences.is_empty() {
                bail!(
                    "cannot resume the run in {} on other data: {}. Resume with the run's own \
                     settings, or start a new run (--overwrite, or another --out)",
                    out.dir.display(),
                    differences.join("; ")
                );
            }
            model = checkpoint.load_model(model, &path)?;
            (optim, fixed_lr) = optimizer(saved.settings.schedule, saved.epochs_done);
            optim = optim
                .from_bytes(Bytes::from_bytes_vec(checkpoint.optim))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{} is damaged: its optimiser state does not decode ({e}); start the \
                         run again with --overwrite",
                        path.display()
                    )
                })?;
            state = RunState {
                settings: settings.clone(),
                data: state.data.take(),
                ..saved
            };
            eprintln!(
                "resuming after epoch {} (best validation loss {:.4} at epoch {})",
                state.epochs_done, state.best_valid_loss, state.best_epoch
            );
        } else {
            eprintln!(
                "notice: no run in {} yet; starting from scratch",
                out.dir.display()
            );
        }
    }
    // Written once the checks above have passed: a refused resume changes nothing.
    write_atomically(&out.config(), config.to_json().as_bytes())
        .with_context(|| format!("writing {}", out.config().display()))?;
    eprintln!(
        "training {} on {}: {} train / {} valid clips, batch {}",
        model.summary(),
        data.description,
        data.train.len(),
        data.valid.len(),
        settings.batch_size
    );
    let batch_size = settings.batch_size.max(1);
    let maker = Arc::new(BatchMaker {
        cache_dir: cache_dir.map(Path::to_path_buf),
        sample_rate: config.sample_rate as u32,
        samples: config.chunk_samples,
        tags: config.n_tags(),
        augment: settings.augment,
    });
    // Shared with the loader threads once, not copied each epoch.
    let clips: Arc<[Clip]> = data.train.as_slice().into();
    for epoch in state.epochs_done + 1..=settings.max_epochs {
        let started = Instant::now();
        if settings.schedule == Schedule::Won && matches!(epoch - 1, 80 | 100 | 120) {
            // Won's switch: new optimiser, back to the best weights.
            (optim, fixed_lr) = optimizer(Schedule::Won, epoch - 1);
            if out.best().exists() {
                model = model.load_bytes(&std::fs::read(out.best())?)?;
            }
        }
        let lr = fixed_lr.unwrap_or(state.lr);
        let mut rng = StdRng::seed_from_u64(settings.seed.wrapping_add(epoch as u64));
        // Dropout's random stream restarts each epoch from the seed, so that a resumed run
        // draws what the uninterrupted one would have drawn.
        base_device.seed(settings.seed.wrapping_add(1_000 + epoch as u64));
        let mut order: Vec<usize> = (0..clips.len()).collect();
        order.shuffle(&mut rng);
        let bar = ProgressBar::new(order.len().div_ceil(batch_size) as u64).with_style(style(
            "epoch {prefix} {bar:30} {pos}/{len} batches {elapsed_precise}<{eta_precise} {msg}",
        ));
        bar.set_prefix(format!("{epoch}/{}", settings.max_epochs));
        let (mut loss_sum, mut steps, mut unreadable) = (0.0f64, 0usize, 0usize);
        let epoch_seed = rng.random::<u64>();
        let batches = maker.batches(
            &clips,
            order,
            batch_size,
            epoch_seed,
            settings.loader_workers,
        );
        for batch in batches {
            let batch = batch?;
            for (name, why) in &batch.unreadable {
                unreadable += 1;
                // `println` on a hidden bar (no terminal) drops the line; suspend does not.
                bar.suspend(|| eprintln!("skipping {name}: {why}"));
            }
            let n = batch.clips;
            if n == 0 {
                bar.inc(1);
                continue;
            }
            let x = Tensor::<2>::from_data(
                TensorData::new(batch.x, [n, config.chunk_samples]),
                &device,
            );
            let y = Tensor::<2>::from_data(TensorData::new(batch.y, [n, config.n_tags()]), &device);
            let loss = bce_with_logits(model.forward(x)?, y);
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                bar.abandon();
                bail!(
                    "the training loss became {value} at epoch {epoch}, batch {}: training \
                     stopped. {}",
                    steps + 1,
                    last_good(out, state.epochs_done)
                );
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            loss_sum += value;
            steps += 1;
            bar.set_message(format!("loss {:.4}", loss_sum / steps as f64));
            bar.inc(1);
        }
        bar.finish_and_clear();
        if steps == 0 {
            bail!("no training clip could be read ({unreadable} failed)");
        }
        // A step can leave NaN weights behind a finite loss: never checkpoint them.
        if let Some(param) = model.first_non_finite() {
            bail!(
                "the weights became NaN or infinite during epoch {epoch} (first in {param}): \
                 training stopped. {}",
                last_good(out, state.epochs_done)
            );
        }
        let valid_bar = ProgressBar::new(data.valid.len() as u64).with_style(style(
            "validating {bar:30} {pos}/{len} clips {elapsed_precise}",
        ));
        let inference = model.valid();
        let eval = evaluate(
            &inference,
            &data.valid,
            cache_dir,
            base_device,
            settings.positives,
            &valid_bar,
        )?;
        valid_bar.finish_and_clear();
        let row = EpochLog {
            epoch,
            train_loss: loss_sum / steps as f64,
            valid_loss: eval.loss,
            roc_auc: eval.metrics.roc_auc_macro,
            pr_auc: eval.metrics.pr_auc_macro,
            lr,
            seconds: started.elapsed().as_secs_f64(),
        };
        eprintln!(
            "epoch {epoch:>3}  train loss {:.4}  valid loss {:.4}  ROC-AUC {:.4}  PR-AUC {:.4}  lr {:.1e}  {:.0} s",
            row.train_loss, row.valid_loss, row.roc_auc, row.pr_auc, row.lr, row.seconds
        );
        state.log.push(row);
        state.epochs_done = epoch;
        if eval.loss < state.best_valid_loss {
            state.best_valid_loss = eval.loss;
            state.best_epoch = epoch;
            state.since_best = 0;
            state.since_lr_change = 0;
            save_weights(&inference, &out.best())?;
        } else {
            state.since_best += 1;
            state.since_lr_change += 1;
            if settings.schedule == Schedule::Paper && state.since_lr_change >= settings.lr_patience
            {
                state.lr /= 2.0;
                state.since_lr_change = 0;
                eprintln!(
                    "no lower validation loss for {} epochs: lr → {:.1e}",
                    settings.lr_patience, state.lr
                );
            }
        }
        write_logs(out, &state.log)?;
        write_checkpoint(&out.checkpoint(), &state, &model, &optim)?;
        if settings.schedule == Schedule::Paper && state.since_best >= settings.stop_patience {
            eprintln!(
                "early stop: no lower validation loss for {} epochs",
                settings.stop_patience
            );
            break;
        }
    }
    eprintln!(
        "best validation loss {:.4} at epoch {}: {}",
        state.best_valid_loss,
        state.best_epoch,
        out.best().display()
    );
    Ok(state.log)
}

fn write_logs(out: &RunFiles, log: &[EpochLog]) -> Result<()> {
    let mut csv = Vec::new();
    writeln!(csv, "epoch,train_loss,valid_loss,roc_auc,pr_auc,lr,seconds")?;
    for r in log {
        writeln!(
            csv,
            "{},{:.6},{:.6},{:.6},{:.6},{:e},{:.2}",
            r.epoch, r.train_loss, r.valid_loss, r.roc_auc, r.pr_auc, r.lr, r.seconds
        )?;
    }
    write_atomically(&out.log_csv(), &csv)?;
    write_atomically(&out.log_json(), &serde_json::to_vec_pretty(log)?)?;
    Ok(())
}
