//! Training as in the paper (§II-C): random 5 s crops, BCE on logits, Adam 1e-3, batch 4, LR
//! halved after `lr_patience` epochs without a lower validation loss, early stopping after
//! `stop_patience`, the weights of the lowest validation loss kept. Won et al.'s schedule is an
//! option. Every epoch ends with an atomic checkpoint, and a long epoch writes one every
//! `checkpoint_minutes` too; `--resume` continues from the last, within its epoch if need be.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use indicatif::ProgressBar;
use modnet::{ModNet, ModNetConfig};
use modnet_audio::files::{save_weights, write_atomically};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::data::loader::{self, Augment, BatchMaker};
use crate::data::{Clip, DataIdentity, Dataset};
use crate::epoch::{EpochProgress, EpochRun};
use crate::evaluate::{Positives, evaluate};
use crate::progress::style;
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
    /// A validation loss is lower (a new best, for the best weights and both patiences) only
    /// when it is below the best by more than this: 0 counts any step, however small.
    #[serde(default)]
    pub min_delta: f64,
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
    /// Each tag's training loss is weighted by (mean tag frequency / its frequency)^power,
    /// clipped and normalised ([`tag_weights`]): 0 weighs every tag alike.
    #[serde(default)]
    pub rare_tag_power: f32,
    /// Within an epoch, a checkpoint every this many minutes (0: only at the epoch's end).
    #[serde(default)]
    pub checkpoint_minutes: f64,
    /// The weights the run started from (None: a random initialisation).
    #[serde(default)]
    pub init_weights: Option<PathBuf>,
    /// The weights at the end of each of the last this many epochs stay in the run folder
    /// (`epochs/`), for `trainer average` (0: none).
    #[serde(default)]
    pub keep_epochs: usize,
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
    /// Infinite until the first epoch ends (JSON writes that as null).
    #[serde(deserialize_with = "infinity_from_null")]
    best_valid_loss: f64,
    best_epoch: usize,
    since_best: usize,
    since_lr_change: usize,
    log: Vec<EpochLog>,
    /// The data the run trains on (absent in checkpoints of older versions).
    #[serde(default)]
    data: Option<DataIdentity>,
    /// The epoch after `epochs_done` when the checkpoint was written within it.
    #[serde(default)]
    unfinished_epoch: Option<EpochProgress>,
}

fn infinity_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
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
    // `valid()` folds batch norm's last running-statistics update in: a module's record holds
    // only the folded value, which within an epoch is one batch behind.
    Checkpoint::new(serde_json::to_vec(state)?, &model.valid(), optim.to_vec())?.write(path)
}

/// Where to go on after a failure in the epoch after `epochs_done`, whose last checkpoint
/// (if any) was written after `batches_saved` of its batches: the truth about what is on disk.
fn last_good(out: &RunFiles, epochs_done: usize, batches_saved: Option<usize>) -> String {
    let at = match batches_saved {
        Some(batches) => format!("within epoch {}, after {batches} batches", epochs_done + 1),
        None => format!("after epoch {epochs_done}"),
    };
    if (epochs_done > 0 || batches_saved.is_some()) && out.checkpoint().exists() {
        format!(
            "The last good checkpoint ({at}) is kept in {}; resume with --resume, perhaps \
             with a lower --lr",
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

/// Trains `config` on `data`, writing into `out`; returns the log. Each epoch is
/// [`train_epoch`], then validation, the schedule ([`RunState::record`]) and a checkpoint.
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
    let mut model = initial_model(config, data, settings, &device)?;
    let tag_weights = tag_weights(&label_means(data, config.n_tags()), settings.rare_tag_power);
    if let Some(w) = &tag_weights {
        let (lo, hi) = w
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        eprintln!(
            "tag loss weights (--rare-tag-power {}): {lo:.2} to {hi:.2}",
            settings.rare_tag_power
        );
    }
    // Made once for the run: every step multiplies by the same `[1, tags]` tensor.
    let tag_weights = tag_weights.map(|w| {
        let n = w.len();
        Tensor::<2>::from_data(TensorData::new(w, [1, n]), &device)
    });
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
        unfinished_epoch: None,
    };
    if resume {
        if out.checkpoint().exists() {
            (state, model, optim, fixed_lr) = resume_from(out, state, model)?;
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
    let maker = Arc::new(BatchMaker {
        cache_dir: cache_dir.map(Path::to_path_buf),
        sample_rate: config.sample_rate,
        samples: config.chunk_samples,
        tags: config.n_tags(),
        augment: settings.augment,
    });
    // Shared with the loader threads once, not copied each epoch.
    let clips: Arc<[Clip]> = data.train.as_slice().into();
    // 0 or an interval too long for a Duration (`--checkpoint-minutes 1e300`): never within.
    let save_every = (settings.checkpoint_minutes > 0.0)
        .then(|| Duration::try_from_secs_f64(settings.checkpoint_minutes * 60.0).ok())
        .flatten();
    let validate = |model: &ModNet| {
        let bar = ProgressBar::new(data.valid.len() as u64).with_style(style(
            "validating {bar:30} {pos}/{len} clips {elapsed_precise}",
        ));
        let eval = evaluate(
            model,
            &data.valid,
            cache_dir,
            base_device,
            settings.positives,
            &bar,
        );
        bar.finish_and_clear();
        eval
    };
    if settings.init_weights.is_some() && !resume {
        // The starting weights are the best until an epoch beats them: going on from a good
        // model never ends with a worse one.
        let inference = model.valid();
        let eval = validate(&inference)?;
        eprintln!(
            "the starting weights: valid loss {:.4}  ROC-AUC {:.4}  PR-AUC {:.4} (the best until \
             an epoch beats it)",
            eval.loss, eval.metrics.roc_auc_macro, eval.metrics.pr_auc_macro
        );
        state.best_valid_loss = eval.loss;
        save_weights(&inference, &out.best())?;
    }
    for epoch in state.epochs_done + 1..=settings.max_epochs {
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
            (optim, fixed_lr) = optimizer(Schedule::Won, epoch - 1);
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
            config,
            device: &device,
            base_device,
            maker: &maker,
            clips: &clips,
            tag_weights: tag_weights.as_ref(),
            start,
            save_every,
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
        let progress;
        (model, progress) = epoch_run.run(model, &mut optim, save).map_err(|e| {
            let saved = last_good(out, state.epochs_done, batches_saved.get());
            anyhow::anyhow!("{e:#}. {saved}")
        })?;
        let inference = model.valid();
        let eval = validate(&inference)?;
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
        write_checkpoint(&out.checkpoint(), &state, &model, &optim)?;
        if settings.schedule == Schedule::Paper && state.since_best >= settings.stop_patience {
            eprintln!(
                "early stop: no new best validation loss for {}",
                epochs(state.since_best)
            );
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

/// Refuses data a run cannot train on.
fn check_data(config: &ModNetConfig, data: &Dataset) -> Result<()> {
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
    Ok(())
}

/// The mean of each tag's training labels (its frequency; soft labels count by value).
fn label_means(data: &Dataset, tags: usize) -> Vec<f32> {
    let mut means = vec![0.0f32; tags];
    for clip in &data.train {
        means
            .iter_mut()
            .zip(&clip.labels)
            .for_each(|(m, l)| *m += l);
    }
    means
        .iter_mut()
        .for_each(|m| *m /= data.train.len().max(1) as f32);
    means
}

/// The most and the least a tag's loss weight may be ([`tag_weights`]): a tag the training
/// labels almost never hold must not dominate the loss.
const TAG_WEIGHT_RANGE: (f32, f32) = (0.2, 5.0);

/// Each tag's loss weight for frequencies `means`: (mean frequency / the tag's)^`power`,
/// clipped to [`TAG_WEIGHT_RANGE`], then scaled to a mean of 1 (the loss keeps its size, so
/// the learning rate means what it meant). None when `power` is 0.
pub fn tag_weights(means: &[f32], power: f32) -> Option<Vec<f32>> {
    if power == 0.0 || means.is_empty() {
        return None;
    }
    let mean = means.iter().sum::<f32>() / means.len() as f32;
    let (low, high) = TAG_WEIGHT_RANGE;
    let raw: Vec<f32> = means
        .iter()
        .map(|&f| (mean / f.max(1e-6)).powf(power).clamp(low, high))
        .collect();
    let scale = raw.len() as f32 / raw.iter().sum::<f32>();
    Some(raw.into_iter().map(|w| w * scale).collect())
}

/// A new model, its output biases at the training labels' prior when asked.
fn initial_model(
    config: &ModNetConfig,
    data: &Dataset,
    settings: &TrainSettings,
    device: &Device,
) -> Result<ModNet> {
    if let Some(path) = &settings.init_weights {
        return init_weights(path, config, device);
    }
    let model = config.init(device)?;
    if !settings.prior_bias {
        return Ok(model);
    }
    Ok(model.with_tag_prior(&label_means(data, config.n_tags()))?)
}

/// The model in the weights file `path`, refused unless its configuration is `config` (the
/// one the flags describe), dropout aside, naming the settings that differ.
fn init_weights(path: &Path, config: &ModNetConfig, device: &Device) -> Result<ModNet> {
    let model = modnet_audio::files::load_weights(path, device)
        .with_context(|| format!("reading --init-weights {}", path.display()))?;
    // Dropout is a training setting, not a weight: the weights go on with the run's dropout.
    let (trained_with, dropout) = (model.config().resnet.dropout, config.resnet.dropout);
    let model = model.with_dropout(dropout)?;
    if model.config() != config {
        let (have, want) = (flat_json(model.config()), flat_json(config));
        // Both sides' keys: a setting of another variant exists on one side only.
        let keys: BTreeSet<&String> = want.keys().chain(have.keys()).collect();
        let differ: Vec<&str> = keys
            .into_iter()
            .filter(|k| have.get(*k) != want.get(*k))
            .map(|k| k.as_str())
            .collect();
        bail!(
            "--init-weights {} holds {}, not the model the flags describe ({}): they differ \
             in {}. Train with the flags the weights were made with",
            path.display(),
            model.summary(),
            config.init(&Device::flex())?.summary(),
            differ.join(", ")
        );
    }
    if trained_with != dropout {
        eprintln!(
            "--init-weights {} was trained with dropout {trained_with}; it goes on with {dropout}",
            path.display()
        );
    }
    eprintln!("starting from the weights in {}", path.display());
    Ok(model)
}

/// A configuration's settings by dotted path (`resnet.widths`), so that a difference can be
/// named where it is.
fn flat_json(config: &ModNetConfig) -> BTreeMap<String, serde_json::Value> {
    fn walk(prefix: &str, value: serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        "",
        serde_json::to_value(config).unwrap_or_default(),
        &mut out,
    );
    out
}

/// The run in `out` where its checkpoint left it: state, weights, optimiser. Refused when the
/// checkpoint is damaged or was made for another model, seed or data (`fresh` is the state a
/// new run would start from).
fn resume_from(
    out: &RunFiles,
    mut fresh: RunState,
    model: ModNet,
) -> Result<(RunState, ModNet, ModuleOptimizer, Option<f64>)> {
    let path = out.checkpoint();
    let checkpoint = Checkpoint::read(&path)?;
    let saved: RunState = serde_json::from_slice(&checkpoint.state).map_err(|_| {
        anyhow::anyhow!(
            "{} is not a modnet checkpoint or is damaged",
            path.display()
        )
    })?;
    if saved.config != fresh.config {
        bail!(
            "{} was written for another model configuration",
            path.display()
        );
    }
    // Within an epoch the position counts batches: they must be the same batches.
    if let Some(unfinished) = &saved.unfinished_epoch
        && saved.settings.batch_size != fresh.settings.batch_size
    {
        bail!(
            "the run in {} stopped within epoch {}, which it trains in batches of {}: resume \
             it with --batch-size {}",
            out.dir.display(),
            unfinished.epoch,
            saved.settings.batch_size,
            saved.settings.batch_size
        );
    }
    let mut differences = Vec::new();
    if saved.settings.seed != fresh.settings.seed {
        differences.push(format!(
            "--seed was {}, now {}",
            saved.settings.seed, fresh.settings.seed
        ));
    }
    if let (Some(was), Some(now)) = (&saved.data, &fresh.data) {
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
    let model = checkpoint.load_model(model, &path)?;
    let (optim, fixed_lr) = optimizer(saved.settings.schedule, saved.epochs_done);
    let optim = optim
        .from_bytes(Bytes::from_bytes_vec(checkpoint.optim))
        .map_err(|e| {
            anyhow::anyhow!(
                "{} is damaged: its optimiser state does not decode ({e}); start the run \
                 again with --overwrite",
                path.display()
            )
        })?;
    let state = RunState {
        // Where the run started stays on record; a resume never starts from weights.
        settings: TrainSettings {
            init_weights: saved.settings.init_weights.clone(),
            ..fresh.settings.clone()
        },
        data: fresh.data.take(),
        ..saved
    };
    let at = match &state.unfinished_epoch {
        Some(p) => format!("within epoch {} after {} batches", p.epoch, p.batches_done),
        None => format!("after epoch {}", state.epochs_done),
    };
    eprintln!(
        "resuming {at} (best validation loss {:.4} at epoch {})",
        state.best_valid_loss, state.best_epoch
    );
    Ok((state, model, optim, fixed_lr))
}

impl RunState {
    /// Adds an epoch's row and applies the schedule: a new best resets the patience counters,
    /// otherwise the paper's schedule halves the LR after `lr_patience` epochs without one.
    /// Returns whether the epoch is the best so far (its weights are to be kept).
    fn record(&mut self, row: EpochLog, settings: &TrainSettings) -> bool {
        let (epoch, loss) = (row.epoch, row.valid_loss);
        self.log.push(row);
        self.epochs_done = epoch;
        if loss < self.best_valid_loss - settings.min_delta {
            self.best_valid_loss = loss;
            self.best_epoch = epoch;
            self.since_best = 0;
            self.since_lr_change = 0;
            return true;
        }
        self.since_best += 1;
        self.since_lr_change += 1;
        if settings.schedule == Schedule::Paper && self.since_lr_change >= settings.lr_patience {
            self.lr /= 2.0;
            self.since_lr_change = 0;
            // The count since the best, not since the last halving: that is what the early stop
            // counts too.
            eprintln!(
                "no new best validation loss for {}: lr → {:.1e}",
                epochs(self.since_best),
                self.lr
            );
        }
        false
    }
}

/// "1 epoch", "3 epochs".
fn epochs(n: usize) -> String {
    format!("{n} epoch{}", if n == 1 { "" } else { "s" })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{bce_with_logits, weighted_bce_with_logits};
    use burn::tensor::{Tensor, TensorData};

    #[test]
    fn rare_tags_weigh_more_within_bounds_and_the_mean_stays_one() {
        assert_eq!(tag_weights(&[0.5, 0.01], 0.0), None);
        let means = [0.4, 0.2, 0.1, 0.001, 0.000_001];
        let w = tag_weights(&means, 0.5).unwrap();
        assert!((w.iter().sum::<f32>() / w.len() as f32 - 1.0).abs() < 1e-5);
        assert!(w.windows(2).all(|p| p[0] <= p[1]), "rarer, heavier: {w:?}");
        // The rarest two hit the upper clip: equal, and at most 25× the commonest's weight.
        assert_eq!(w[3], w[4]);
        assert!(w[4] / w[0] <= TAG_WEIGHT_RANGE.1 / TAG_WEIGHT_RANGE.0 + 1e-4);
    }

    #[test]
    fn weighted_loss_scales_each_tags_terms() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![2.0f32, -1.0, 0.5, 3.0], [2, 2]),
            &device,
        );
        let targets = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.2, 0.9], [2, 2]),
            &device,
        );
        let weights = |w: Vec<f32>| Tensor::<2>::from_data(TensorData::new(w, [1, 2]), &device);
        let plain = bce_with_logits(logits.clone(), targets.clone()).into_scalar::<f32>();
        let ones =
            weighted_bce_with_logits(logits.clone(), targets.clone(), weights(vec![1.0, 1.0]));
        assert!((ones.into_scalar::<f32>() - plain).abs() < 1e-6);
        // Only the first tag: twice its share of the plain loss.
        let first = bce_with_logits(
            logits.clone().narrow(1, 0, 1),
            targets.clone().narrow(1, 0, 1),
        )
        .into_scalar::<f32>();
        let only_first = weighted_bce_with_logits(logits, targets, weights(vec![2.0, 0.0]));
        assert!((only_first.into_scalar::<f32>() - first).abs() < 1e-6);
    }

    #[test]
    fn only_a_step_over_min_delta_is_a_new_best() {
        let settings = TrainSettings {
            max_epochs: 10,
            batch_size: 4,
            lr: 1e-3,
            lr_patience: 1,
            stop_patience: 3,
            min_delta: 5e-5,
            seed: 0,
            schedule: Schedule::Paper,
            augment: Augment::default(),
            loader_workers: 1,
            positives: Positives::default(),
            prior_bias: false,
            rare_tag_power: 0.0,
            checkpoint_minutes: 0.0,
            init_weights: None,
            keep_epochs: 0,
        };
        let mut state = RunState {
            settings: settings.clone(),
            config: ModNetConfig::new(),
            epochs_done: 0,
            lr: settings.lr,
            best_valid_loss: 0.1577,
            best_epoch: 0,
            since_best: 0,
            since_lr_change: 0,
            log: Vec::new(),
            data: None,
            unfinished_epoch: None,
        };
        let row = |epoch, valid_loss| EpochLog {
            epoch,
            train_loss: 0.13,
            valid_loss,
            roc_auc: 0.9,
            pr_auc: 0.5,
            lr: 1e-3,
            seconds: 1.0,
        };
        // Lower by 3e-5: noise. The best stays, the counters run on and the LR halves.
        assert!(!state.record(row(1, 0.15767), &settings));
        assert_eq!((state.best_valid_loss, state.best_epoch), (0.1577, 0));
        assert_eq!(state.since_best, 1);
        assert_eq!(state.lr, 5e-4);
        // Lower by 1e-4: a new best resets the counters.
        assert!(state.record(row(2, 0.1576), &settings));
        assert_eq!(
            (state.best_valid_loss, state.best_epoch, state.since_best),
            (0.1576, 2, 0)
        );
        // Without min_delta a step of 1e-5 is a new best too.
        let any_step = TrainSettings {
            min_delta: 0.0,
            ..settings
        };
        assert!(state.record(row(3, 0.15759), &any_step));
    }
}
