//! What a run remembers between epochs and across a stop: the log, the schedule's counters,
//! the checkpoint written after each epoch (and within a long one) and resuming from it.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;
use modnet::{ModNet, ModNetConfig};
use modnet_audio::files::write_atomically;
use serde::{Deserialize, Serialize};

use super::settings::{Schedule, TrainSettings, optimizer};
use crate::checkpoint::Checkpoint;
use crate::data::DataIdentity;
use crate::epoch::EpochProgress;
use crate::run::RunFiles;

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
pub(super) struct RunState {
    pub(super) settings: TrainSettings,
    pub(super) config: ModNetConfig,
    pub(super) epochs_done: usize,
    pub(super) lr: f64,
    /// Infinite until the first epoch ends (JSON writes that as null).
    #[serde(deserialize_with = "infinity_from_null")]
    pub(super) best_valid_loss: f64,
    pub(super) best_epoch: usize,
    pub(super) since_best: usize,
    pub(super) since_lr_change: usize,
    pub(super) log: Vec<EpochLog>,
    /// The data the run trains on (absent in checkpoints of older versions).
    #[serde(default)]
    pub(super) data: Option<DataIdentity>,
    /// The epoch after `epochs_done` when the checkpoint was written within it.
    #[serde(default)]
    pub(super) unfinished_epoch: Option<EpochProgress>,
}

fn infinity_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

pub(super) fn write_checkpoint(
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
pub(super) fn last_good(
    out: &RunFiles,
    epochs_done: usize,
    batches_saved: Option<usize>,
) -> String {
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

/// The run in `out` where its checkpoint left it: state, weights, optimiser. Refused when the
/// checkpoint is damaged or was made for another model, seed or data (`fresh` is the state a
/// new run would start from).
pub(super) fn resume_from(
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
    pub(super) fn record(&mut self, row: EpochLog, settings: &TrainSettings) -> bool {
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
pub(super) fn epochs(n: usize) -> String {
    format!("{n} epoch{}", if n == 1 { "" } else { "s" })
}

pub(super) fn write_logs(out: &RunFiles, log: &[EpochLog]) -> Result<()> {
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
    use crate::data::loader::Augment;
    use crate::evaluate::Positives;

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
            gpu_convolution: modnet::GpuConvolution::Direct,
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
