//! One training epoch: the clips in the epoch's seeded order, batches made by the loader
//! threads, forward, BCE, backward and an optimiser step each; the loss and weights checked.
//! Every batch is drawn from the seed, the epoch and its index alone, so that an epoch resumed
//! at a batch goes on exactly as the uninterrupted one would have.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use modnet::{ModNet, ModNetConfig};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::Clip;
use crate::data::loader::{BatchMaker, batch_seed};
use crate::evaluate::{bce_with_logits, weighted_bce_with_logits};
use crate::progress::{LogLines, style};

/// What one training epoch needs.
pub(crate) struct EpochRun<'a> {
    pub(crate) epoch: usize,
    pub(crate) lr: f64,
    /// The run's seed (the epoch's order, crops and dropout derive from it and the epoch).
    pub(crate) seed: u64,
    /// Clips per batch.
    pub(crate) batch_size: usize,
    /// The run's last epoch (for the progress bar).
    pub(crate) max_epochs: usize,
    /// Loader threads.
    pub(crate) loader_workers: usize,
    pub(crate) config: &'a ModNetConfig,
    /// The autodiff device the model trains on.
    pub(crate) device: &'a Device,
    /// The device underneath (seeded for dropout).
    pub(crate) base_device: &'a Device,
    pub(crate) maker: &'a Arc<BatchMaker>,
    pub(crate) clips: &'a Arc<[Clip]>,
    /// Each tag's loss weight (`--rare-tag-power`), or None: every tag alike.
    pub(crate) tag_weights: Option<&'a Tensor<2>>,
    /// Where the epoch stands when it starts: a run killed within it resumes there.
    pub(crate) start: EpochProgress,
    /// Within the epoch, hand the run to the saver at most this often (None: never).
    pub(crate) save_every: Option<Duration>,
}

/// How far an epoch has gone: what a checkpoint written within it remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EpochProgress {
    pub(crate) epoch: usize,
    /// Batches trained (including batches none of whose clips could be read).
    pub(crate) batches_done: usize,
    /// The sum of the batches' training losses, and how many batches it holds.
    pub(crate) loss_sum: f64,
    pub(crate) steps: usize,
    /// Clips that could not be read.
    pub(crate) unreadable: usize,
    /// Wall time spent in the epoch so far, earlier runs included.
    pub(crate) seconds: f64,
}

impl EpochProgress {
    /// An epoch at its start.
    pub(crate) fn new(epoch: usize) -> Self {
        Self {
            epoch,
            batches_done: 0,
            loss_sum: 0.0,
            steps: 0,
            unreadable: 0,
            seconds: 0.0,
        }
    }

    /// The epoch's mean training loss so far.
    pub(crate) fn mean_loss(&self) -> f64 {
        self.loss_sum / self.steps.max(1) as f64
    }
}

impl EpochRun<'_> {
    /// One pass over the training clips in the epoch's seeded order, from [`Self::start`] on;
    /// the trained model and the epoch's progress at its end. Every [`Self::save_every`] the
    /// model, the optimiser and the progress go to `save` (a checkpoint). A non-finite loss or
    /// weights stop it (the caller says where to go on).
    pub(crate) fn run(
        &self,
        mut model: ModNet,
        optim: &mut ModuleOptimizer,
        mut save: impl FnMut(&ModNet, &ModuleOptimizer, &EpochProgress) -> Result<()>,
    ) -> Result<(ModNet, EpochProgress)> {
        let (epoch, config) = (self.epoch, self.config);
        let batch_size = self.batch_size.max(1);
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_add(epoch as u64));
        let dropout_seed = self.seed.wrapping_add(1_000 + epoch as u64);
        let mut order: Vec<usize> = (0..self.clips.len()).collect();
        order.shuffle(&mut rng);
        let count = order.len().div_ceil(batch_size);
        let mut progress = self.start.clone();
        let bar = ProgressBar::new(count as u64).with_style(style(
            "epoch {prefix} {bar:30} {pos}/{len} batches {elapsed_precise}<{eta_precise} {msg}",
        ));
        bar.set_prefix(format!("{epoch}/{}", self.max_epochs));
        bar.set_position(progress.batches_done as u64);
        bar.reset_eta();
        let mut lines = LogLines::for_bar(&bar, Duration::from_secs(60));
        let what = format!("epoch {epoch}/{}", self.max_epochs);
        let epoch_seed = rng.random::<u64>();
        let batches = self.maker.batches(
            self.clips,
            order,
            batch_size,
            epoch_seed,
            self.loader_workers,
            progress.batches_done,
        );
        let (started, earlier) = (Instant::now(), progress.seconds);
        let mut saved = Instant::now();
        for batch in batches {
            let batch = batch?;
            let index = progress.batches_done;
            progress.batches_done += 1;
            for (name, why) in &batch.unreadable {
                progress.unreadable += 1;
                // `println` on a hidden bar (no terminal) drops the line; suspend does not.
                bar.suspend(|| eprintln!("skipping {name}: {why}"));
            }
            let n = batch.clips;
            if n == 0 {
                bar.inc(1);
                continue;
            }
            // Dropout's stream, like the batch, depends on the batch's index alone.
            self.base_device.seed(batch_seed(dropout_seed, index));
            let x = Tensor::<2>::from_data(
                TensorData::new(batch.x, [n, config.chunk_samples]),
                self.device,
            );
            let y =
                Tensor::<2>::from_data(TensorData::new(batch.y, [n, config.n_tags()]), self.device);
            let logits = model.forward(x)?;
            let loss = match self.tag_weights {
                Some(w) => weighted_bce_with_logits(logits, y, w.clone()),
                None => bce_with_logits(logits, y),
            };
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                bar.abandon();
                bail!(
                    "the training loss became {value} at epoch {epoch}, batch {}: training \
                     stopped",
                    index + 1
                );
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(self.lr, model, grads);
            progress.loss_sum += value;
            progress.steps += 1;
            bar.set_message(format!("loss {:.4}", progress.mean_loss()));
            bar.inc(1);
            if let Some(lines) = lines.as_mut() {
                lines.tick(&bar, &what, "batches");
            }
            let due = self
                .save_every
                .is_some_and(|every| saved.elapsed() >= every);
            if due && progress.batches_done < count && model.first_non_finite().is_none() {
                progress.seconds = earlier + started.elapsed().as_secs_f64();
                save(&model, optim, &progress)?;
                saved = Instant::now();
                bar.suspend(|| {
                    eprintln!(
                        "checkpoint within epoch {epoch}: {} of {count} batches",
                        progress.batches_done
                    )
                });
            }
        }
        bar.finish_and_clear();
        progress.seconds = earlier + started.elapsed().as_secs_f64();
        if progress.steps == 0 {
            bail!(
                "no training clip could be read ({} failed)",
                progress.unreadable
            );
        }
        // A step can leave NaN weights behind a finite loss: never checkpoint them.
        if let Some(param) = model.first_non_finite() {
            bail!(
                "the weights became NaN or infinite during epoch {epoch} (first in {param}): \
                 training stopped"
            );
        }
        Ok((model, progress))
    }
}
