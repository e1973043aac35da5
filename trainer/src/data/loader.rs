//! Training batches, made off the training thread so that a GPU never waits for audio.
//!
//! Worker threads read each crop from `prepare`'s cache (a window of the file, never the whole
//! file), augment and mix the crops, and hand finished batches over through bounded queues: at
//! most [`PREFETCH`] batches per worker wait, so memory stays bounded however slow the model.
//! Batch `i` is always made by worker `i % workers` from its own random stream (seed, epoch,
//! `i`), so the batches are the same whatever the number of workers — and a resumed epoch
//! draws what the uninterrupted one drew.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use anyhow::{Result, anyhow};
use modnet::SampleRate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Clip, Segment, Source, cache};

/// Batches each worker may have finished ahead of the training step.
pub const PREFETCH: usize = 2;

/// Loader threads unless told otherwise (`train` and `bench --loader-workers`).
pub const DEFAULT_WORKERS: usize = 2;

/// Augmentation that keeps the labels true (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// A random gain in ±`gain_db` dB per crop.
    pub gain_db: f32,
    /// Segment clips: the crop moves by up to ±`shift_seconds` (the label of a 3 s segment
    /// still holds for the audio half a second beside it).
    pub shift_seconds: f64,
    /// Probability that a crop is mixed with another crop of its batch, with weight
    /// λ ~ U(0.25, 0.75) and labels mixed with the same weights.
    pub mix: f64,
}

/// One training batch, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `clips × samples` crops.
    pub x: Vec<f32>,
    /// `clips × tags` labels.
    pub y: Vec<f32>,
    /// Crops in the batch: clips whose audio could not be read are left out.
    pub clips: usize,
    /// The clips left out: name and why.
    pub unreadable: Vec<(String, String)>,
}

/// How every batch of a run is made.
#[derive(Debug, Clone)]
pub struct BatchMaker {
    /// `prepare`'s cache, when there is one (else files are decoded).
    pub cache_dir: Option<PathBuf>,
    /// The model's sample rate.
    pub sample_rate: SampleRate,
    /// Samples per crop (the model's chunk).
    pub samples: usize,
    /// Tags per label row.
    pub tags: usize,
    /// Augmentation.
    pub augment: Augment,
}

impl BatchMaker {
    /// The batch of `clips`, drawing crops, gains and mixes from a stream seeded with `seed`.
    pub fn make(&self, clips: &[&Clip], seed: u64) -> Batch {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(clips.len() * self.samples);
        let mut y = Vec::with_capacity(clips.len() * self.tags);
        let mut unreadable = Vec::new();
        for clip in clips {
            match self.crop(clip, &mut rng) {
                Ok(crop) => {
                    x.extend(crop);
                    y.extend(&clip.labels);
                }
                Err(e) => unreadable.push((clip.name.clone(), format!("{e:#}"))),
            }
        }
        mix_batch(
            &mut x,
            &mut y,
            self.samples,
            self.tags,
            self.augment.mix,
            &mut rng,
        );
        Batch {
            clips: y.len() / self.tags.max(1),
            x,
            y,
            unreadable,
        }
    }

    /// The batches of `clips` taken in `order` (indices, cut into `batch_size` clips) from
    /// batch `first` on (a run resumed within an epoch), made by `workers` threads ahead of the
    /// caller. Batch `i` draws from [`batch_seed`]`(seed, i)`, so that it is the same batch
    /// whichever batch the epoch started from. Dropping the iterator early stops the workers.
    pub fn batches(
        self: &Arc<Self>,
        clips: &Arc<[Clip]>,
        order: Vec<usize>,
        batch_size: usize,
        seed: u64,
        workers: usize,
        first: usize,
    ) -> Batches {
        let batch_size = batch_size.max(1);
        let count = order.len().div_ceil(batch_size);
        let first = first.min(count);
        let workers = workers.clamp(1, (count - first).max(1));
        let order = Arc::new(order);
        let mut queues = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (send, receive) = sync_channel(PREFETCH);
            let (maker, clips, order) = (Arc::clone(self), Arc::clone(clips), Arc::clone(&order));
            threads.push(std::thread::spawn(move || {
                for i in (first + worker..count).step_by(workers) {
                    let end = ((i + 1) * batch_size).min(order.len());
                    let batch: Vec<&Clip> = order[i * batch_size..end]
                        .iter()
                        .map(|&k| &clips[k])
                        .collect();
                    // A closed queue: the training stopped; so does this worker.
                    if send.send(maker.make(&batch, batch_seed(seed, i))).is_err() {
                        return;
                    }
                }
            }));
            queues.push(receive);
        }
        Batches {
            queues,
            threads,
            next: 0,
            count: count - first,
        }
    }

    /// A crop of `self.samples` samples of `clip`: random within the clip (a segment clip:
    /// within its segment, moved by the augmentation's shift), with the augmentation's gain.
    fn crop(&self, clip: &Clip, rng: &mut StdRng) -> Result<Vec<f32>> {
        let (rate, len, dir) = (self.sample_rate, self.samples, self.cache_dir.as_deref());
        let mut crop = match &clip.source {
            Source::File {
                segment: Some(Segment { start, seconds }),
                ..
            } => {
                let slack = rate.samples(*seconds) as i64 - len as i64;
                let mut first = rate.samples(*start) as i64 + rng.random_range(0..=slack.max(0));
                if self.augment.shift_seconds > 0.0 {
                    let max = rate.samples(self.augment.shift_seconds) as i64;
                    // Never before the file's start: zeros there would be a different sound.
                    first = (first + rng.random_range(-max..=max)).max(0);
                }
                cache::load_window(clip, dir, rate, first, len)?
            }
            Source::File { segment: None, .. } => {
                match cache::cached_len(clip, dir, rate)? {
                    // A cached whole file: read only the crop's window.
                    Some(total) => {
                        let first = if total > len {
                            rng.random_range(0..=total - len)
                        } else {
                            0
                        };
                        cache::load_window(clip, dir, rate, first as i64, len)?
                    }
                    None => random_crop(&cache::load(clip, dir, rate)?, len, rng),
                }
            }
            Source::Synth { .. } => random_crop(&cache::load(clip, dir, rate)?, len, rng),
        };
        if self.augment.gain_db > 0.0 {
            let db = rng.random_range(-self.augment.gain_db..=self.augment.gain_db);
            let gain = 10f32.powf(db / 20.0);
            crop.iter_mut().for_each(|s| *s *= gain);
        }
        Ok(crop)
    }
}

/// The batches of an epoch from its first batch asked for, in order (see
/// [`BatchMaker::batches`]).
pub struct Batches {
    queues: Vec<Receiver<Batch>>,
    threads: Vec<JoinHandle<()>>,
    next: usize,
    count: usize,
}

impl Batches {
    /// Batches to come in all (the epoch's from the first asked for).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.next == self.count {
            return None;
        }
        let worker = self.next % self.queues.len();
        self.next += 1;
        Some(
            self.queues[worker]
                .recv()
                .map_err(|_| anyhow!("the data loader's worker {worker} stopped (a bug)")),
        )
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        // Closing the queues first unblocks the workers waiting to hand a batch over.
        self.queues.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The seed of batch `index` of an epoch whose stream is `seed` (SplitMix64 of both, so that
/// neighbouring batches' streams are unrelated).
pub fn batch_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes crops of a batch in place (`x`: `n × len`, `y`: `n × tags`, row-major).
fn mix_batch(x: &mut [f32], y: &mut [f32], len: usize, tags: usize, p: f64, rng: &mut StdRng) {
    let n = y.len() / tags.max(1);
    if n < 2 || p <= 0.0 {
        return;
    }
    let (x0, y0) = (x.to_vec(), y.to_vec());
    for i in 0..n {
        if !rng.random_bool(p.min(1.0)) {
            continue;
        }
        let j = (i + rng.random_range(1..n)) % n;
        let w = rng.random_range(0.25f32..0.75);
        for (a, b) in x[i * len..(i + 1) * len].iter_mut().zip(&x0[j * len..]) {
            *a = w * *a + (1.0 - w) * b;
        }
        for (a, b) in y[i * tags..(i + 1) * tags].iter_mut().zip(&y0[j * tags..]) {
            *a = w * *a + (1.0 - w) * b;
        }
    }
}

/// A random crop of `len` samples (zero-padded when the clip is shorter).
fn random_crop(samples: &[f32], len: usize, rng: &mut StdRng) -> Vec<f32> {
    if samples.len() <= len {
        let mut out = samples.to_vec();
        out.resize(len, 0.0);
        return out;
    }
    let start = rng.random_range(0..=samples.len() - len);
    samples[start..start + len].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn clips(dir: &Path, n: usize, samples: usize) -> Vec<Clip> {
        (0..n)
            .map(|i| {
                let key = format!("clip{i}.mp3");
                let bytes: Vec<u8> = (0..samples)
                    .flat_map(|s| ((i * 1000 + s) as f32).to_le_bytes())
                    .collect();
                std::fs::write(cache::cache_path(dir, &key, SampleRate::PAPER), bytes).unwrap();
                Clip {
                    name: key.clone(),
                    source: Source::file(dir.join(&key), &key),
                    labels: vec![i as f32, 1.0],
                }
            })
            .collect()
    }

    fn epoch(maker: &BatchMaker, clips: &Arc<[Clip]>, workers: usize) -> Vec<Batch> {
        Arc::new(maker.clone())
            .batches(clips, (0..clips.len()).collect(), 3, 42, workers, 0)
            .collect::<Result<_>>()
            .unwrap()
    }

    #[test]
    fn batches_are_the_same_with_any_number_of_workers() {
        let dir = tempfile::tempdir().unwrap();
        let mut clips = clips(dir.path(), 10, 100);
        // An unreadable clip is left out of its batch and named, never stopping the epoch.
        clips.push(Clip {
            name: "missing.mp3".into(),
            source: Source::file(PathBuf::from("/nonexistent/missing.mp3"), "missing.mp3"),
            labels: vec![0.0, 0.0],
        });
        let order: Arc<[Clip]> = clips.into();
        let maker = BatchMaker {
            cache_dir: Some(dir.path().to_path_buf()),
            sample_rate: SampleRate::new(16_000),
            samples: 40,
            tags: 2,
            augment: Augment {
                gain_db: 6.0,
                shift_seconds: 0.0,
                mix: 0.5,
            },
        };
        let one = epoch(&maker, &order, 1);
        assert_eq!(one.len(), 4, "11 clips in batches of 3");
        assert_eq!(one.iter().map(|b| b.clips).sum::<usize>(), 10);
        assert_eq!(one[3].unreadable.len(), 1);
        assert!(one[3].unreadable[0].0.contains("missing.mp3"));
        assert_eq!(epoch(&maker, &order, 3), one);
        assert_eq!(epoch(&maker, &order, 16), one);
        // An epoch resumed at batch 2 makes the same last two batches.
        let resumed: Vec<Batch> = Arc::new(maker.clone())
            .batches(&order, (0..order.len()).collect(), 3, 42, 2, 2)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(resumed, one[2..]);
        // Crops are windows of their file (consecutive sample values before gain and mixing).
        let plain = BatchMaker {
            augment: Augment::default(),
            ..maker.clone()
        };
        let batch = &epoch(&plain, &order, 2)[0];
        for (row, label) in batch.x.chunks(40).zip(batch.y.chunks(2)) {
            let file = label[0] as usize * 1000;
            let first = row[0] as usize - file;
            assert!(first <= 60, "the window starts inside the file");
            for (k, s) in row.iter().enumerate() {
                assert_eq!(*s as usize, file + first + k);
            }
        }
    }

    #[test]
    fn stopping_early_stops_the_workers() {
        let dir = tempfile::tempdir().unwrap();
        let clips = clips(dir.path(), 40, 50);
        let maker = Arc::new(BatchMaker {
            cache_dir: Some(dir.path().to_path_buf()),
            sample_rate: SampleRate::new(16_000),
            samples: 20,
            tags: 2,
            augment: Augment::default(),
        });
        let clips: Arc<[Clip]> = clips.into();
        let mut batches = maker.batches(&clips, (0..clips.len()).collect(), 2, 1, 4, 0);
        assert_eq!(batches.len(), 20);
        assert!(batches.next().unwrap().is_ok());
        // Dropping it joins the workers, which are blocked on full queues: this returns.
        drop(batches);
    }
}
