//! A training run's settings (the `train` flags), and the optimiser its schedule uses at an
//! epoch.

use std::path::PathBuf;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
use serde::{Deserialize, Serialize};

use crate::data::loader::{self, Augment};
use crate::evaluate::Positives;

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
    /// How the model's convolutions run on a GPU (`--gpu-conv`): this process's choice, not
    /// part of the run (a resumed run takes the flag given then).
    #[serde(skip)]
    pub gpu_convolution: modnet::GpuConvolution,
}

fn default_loader_workers() -> usize {
    loader::DEFAULT_WORKERS
}

/// The optimiser of `schedule` at `epoch` (from 0), and the learning rate it fixes (None: the
/// run's, which the paper's schedule halves on a plateau).
pub(super) fn optimizer(schedule: Schedule, epoch: usize) -> (ModuleOptimizer, Option<f64>) {
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
