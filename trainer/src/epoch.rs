//! One training epoch: the clips in the epoch's seeded order, batches made by the loader
//! threads, forward, BCE, backward and an optimiser step each; the loss and weights checked.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use modnet::{ModNet, ModNetConfig};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::data::Clip;
use crate::data::loader::BatchMaker;
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
}

impl EpochRun<'_> {
    /// One pass over the training clips in the epoch's seeded order; the trained model and the
    /// mean training loss. A non-finite loss or weights stop it (the caller says where to go on).
    pub(crate) fn run(
        &self,
        mut model: ModNet,
        optim: &mut ModuleOptimizer,
    ) -> Result<(ModNet, f64)> {
        let (epoch, config) = (self.epoch, self.config);
        let batch_size = self.batch_size.max(1);
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_add(epoch as u64));
        // Dropout's random stream restarts each epoch from the seed, so that a resumed run
        // draws what the uninterrupted one would have drawn.
        self.base_device
            .seed(self.seed.wrapping_add(1_000 + epoch as u64));
        let mut order: Vec<usize> = (0..self.clips.len()).collect();
        order.shuffle(&mut rng);
        let bar = ProgressBar::new(order.len().div_ceil(batch_size) as u64).with_style(style(
            "epoch {prefix} {bar:30} {pos}/{len} batches {elapsed_precise}<{eta_precise} {msg}",
        ));
        bar.set_prefix(format!("{epoch}/{}", self.max_epochs));
        let mut lines = LogLines::for_bar(&bar, Duration::from_secs(60));
        let what = format!("epoch {epoch}/{}", self.max_epochs);
        let (mut loss_sum, mut steps, mut unreadable) = (0.0f64, 0usize, 0usize);
        let epoch_seed = rng.random::<u64>();
        let batches = self.maker.batches(
            self.clips,
            order,
            batch_size,
            epoch_seed,
            self.loader_workers,
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
                    steps + 1
                );
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(self.lr, model, grads);
            loss_sum += value;
            steps += 1;
            bar.set_message(format!("loss {:.4}", loss_sum / steps as f64));
            bar.inc(1);
            if let Some(lines) = lines.as_mut() {
                lines.tick(&bar, &what, "batches");
            }
        }
        bar.finish_and_clear();
        if steps == 0 {
            bail!("no training clip could be read ({unreadable} failed)");
        }
        // A step can leave NaN weights behind a finite loss: never checkpoint them.
        if let Some(param) = model.first_non_finite() {
            bail!(
                "the weights became NaN or infinite during epoch {epoch} (first in {param}): \
                 training stopped"
            );
        }
        Ok((model, loss_sum / steps as f64))
    }
}
