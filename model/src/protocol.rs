//! How a clip of any length becomes model inputs and one score per tag.
//!
//! - Evaluation (Won et al., every number of the paper's Table V): 16 chunks of 5 s at
//!   `i·hop`, `hop = (len − chunk) / 16` (integer division), clip score = mean of the 16
//!   sigmoid outputs. A clip less than 16 samples longer than a chunk has one chunk (hop 0:
//!   all sixteen would be the same).
//! - Timeline: consecutive 5 s chunks, the last one ending at the clip's end, scored
//!   separately.
//!
//! A clip shorter than one chunk is zero-padded to a full chunk and scored once; the plan says
//! so ([`ChunkPlan::padded`]) so that callers can tell the user.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::ModelError;
use crate::model::ModNet;
use crate::picture::Picture;

/// Chunks per clip in the evaluation protocol.
pub const EVAL_CHUNKS: usize = 16;

/// Where the chunks of one clip start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    /// First sample of each chunk.
    pub starts: Vec<usize>,
    /// Samples per chunk.
    pub chunk: usize,
    /// Samples in the clip.
    pub clip_len: usize,
    /// Whether some chunk runs past the clip's end and is zero-padded.
    pub padded: bool,
}

impl ChunkPlan {
    /// A clip shorter than one chunk: one chunk at 0, zero-padded.
    fn one_padded(clip_len: usize, chunk: usize) -> Self {
        Self {
            starts: alloc::vec![0],
            chunk,
            clip_len,
            padded: true,
        }
    }

    /// The evaluation protocol's chunks (`n_chunks` = 16 in the paper).
    pub fn evaluation(clip_len: usize, chunk: usize, n_chunks: usize) -> Result<Self, ModelError> {
        check_lengths(clip_len, chunk)?;
        if n_chunks == 0 {
            return Err(ModelError::Shape(
                "at least one chunk per clip is needed".into(),
            ));
        }
        if clip_len < chunk {
            // Every position would be 0: one padded chunk scores the same as sixteen.
            return Ok(Self::one_padded(clip_len, chunk));
        }
        let hop = (clip_len - chunk) / n_chunks;
        // A clip within `n_chunks` samples of one chunk: sixteen chunks at 0 score as one does.
        let n_chunks = if hop == 0 { 1 } else { n_chunks };
        Ok(Self {
            starts: (0..n_chunks).map(|i| i * hop).collect(),
            chunk,
            clip_len,
            padded: false,
        })
    }

    /// Consecutive chunks covering the whole clip (a tag timeline). The last one ends at the
    /// clip's end, overlapping the one before, rather than being mostly zero padding (whose
    /// tags would describe silence); only a clip shorter than one chunk is padded.
    pub fn timeline(clip_len: usize, chunk: usize) -> Result<Self, ModelError> {
        check_lengths(clip_len, chunk)?;
        if clip_len < chunk {
            return Ok(Self::one_padded(clip_len, chunk));
        }
        let n = clip_len.div_ceil(chunk);
        Ok(Self {
            starts: (0..n).map(|i| (i * chunk).min(clip_len - chunk)).collect(),
            chunk,
            clip_len,
            padded: false,
        })
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the plan has no chunk (never, for a plan built by this module).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// A sentence for the user when zero-padding happened.
    pub fn notice(&self, sample_rate: usize) -> Option<String> {
        self.padded.then(|| {
            let secs = |n: usize| n as f64 / sample_rate as f64;
            if self.clip_len < self.chunk {
                format!(
                    "the clip is {:.2} s long, shorter than one {:.0} s chunk: it was zero-padded",
                    secs(self.clip_len),
                    secs(self.chunk)
                )
            } else {
                format!(
                    "the last chunk ({:.2} s of audio) was zero-padded to {:.0} s",
                    secs(self.clip_len - self.starts[self.starts.len() - 1]),
                    secs(self.chunk)
                )
            }
        })
    }

    /// The plan's chunks of `samples` in batches of at most `batch_size` (at least 1), in order.
    pub fn batches<'a>(
        &'a self,
        samples: &'a [f32],
        batch_size: usize,
    ) -> impl Iterator<Item = ChunkBatch> + 'a {
        let batch_size = batch_size.max(1);
        (0..self.len()).step_by(batch_size).map(move |first| {
            let last = (first + batch_size).min(self.len());
            in_memory(self.read_batch(samples, first..last))
        })
    }

    /// The chunks `range` as one batch, from samples kept anywhere ([`ClipSamples`]).
    pub fn read_batch<S: ClipSamples + ?Sized>(
        &self,
        samples: &S,
        range: core::ops::Range<usize>,
    ) -> Result<ChunkBatch, S::Error> {
        Ok(ChunkBatch {
            rows: range.len(),
            samples: self.read_chunks(samples, range)?,
            chunk: self.chunk,
        })
    }

    /// The chunks `range` of `samples` as one row-major `[n, chunk]` buffer, zero-padded.
    pub fn gather(&self, samples: &[f32], range: core::ops::Range<usize>) -> Vec<f32> {
        in_memory(self.read_chunks(samples, range))
    }

    /// [`ChunkPlan::gather`] from samples kept anywhere: only the chunks' samples are read.
    pub fn read_chunks<S: ClipSamples + ?Sized>(
        &self,
        samples: &S,
        range: core::ops::Range<usize>,
    ) -> Result<Vec<f32>, S::Error> {
        let mut out = alloc::vec![0.0f32; range.len() * self.chunk];
        let len = samples.sample_count();
        for (row, &start) in out.chunks_mut(self.chunk).zip(&self.starts[range]) {
            let end = (start + self.chunk).min(len).max(start);
            samples.read_into(start, &mut row[..end - start])?;
        }
        Ok(out)
    }
}

/// A clip's samples, wherever they are kept: a slice in memory, or a signal too long to hold
/// (the trainer keeps an hour-long file on disk) that gives any range on request. The clip
/// protocol reads only its chunks, so memory stays bounded by a batch whatever the length.
pub trait ClipSamples {
    /// Why a range could not be read ([`core::convert::Infallible`] for a slice).
    type Error;
    /// Samples in the clip.
    fn sample_count(&self) -> usize;
    /// Fills `out` with the samples from `start` on (`start + out.len()` ≤ the count).
    fn read_into(&self, start: usize, out: &mut [f32]) -> Result<(), Self::Error>;
}

/// The value of a read from memory, which cannot fail.
fn in_memory<T>(read: Result<T, core::convert::Infallible>) -> T {
    match read {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

impl ClipSamples for [f32] {
    type Error = core::convert::Infallible;

    fn sample_count(&self) -> usize {
        self.len()
    }

    fn read_into(&self, start: usize, out: &mut [f32]) -> Result<(), Self::Error> {
        out.copy_from_slice(&self[start..start + out.len()]);
        Ok(())
    }
}

/// Chunks per forward pass when a clip is tagged (the trainer and the page alike): small
/// enough for a browser's memory, large enough to keep a CPU busy.
pub const TAG_BATCH: usize = 4;

/// Tagging one clip, as every caller does it: the evaluation chunks (clip tags) and the
/// timeline chunks, run as one sequence of batches. A caller only runs each batch through the
/// model — synchronously natively, asynchronously in the browser — and gives the probabilities
/// back to [`ClipTagging::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipTagging {
    /// The evaluation protocol's chunks: the clip's tags are their mean.
    pub evaluation: ChunkPlan,
    /// The timeline's chunks (empty when not asked for).
    pub timeline: ChunkPlan,
}

/// One batch of chunks: `rows × chunk` samples, row-major (a `[rows, chunk]` tensor).
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkBatch {
    /// The samples.
    pub samples: Vec<f32>,
    /// Chunks in the batch.
    pub rows: usize,
    /// Samples per chunk.
    pub chunk: usize,
}

/// What tagging a clip gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipTags {
    /// Clip-level probabilities (mean over the evaluation chunks), one per tag.
    pub probabilities: Vec<f32>,
    /// One row of probabilities per timeline chunk.
    pub timeline: Vec<Vec<f32>>,
    /// First sample of each timeline chunk.
    pub timeline_starts: Vec<usize>,
    /// A sentence for the user when the clip was zero-padded.
    pub notice: Option<String>,
}

impl ClipTags {
    /// The timeline as a picture: one row per tag (the first tag is row 0, drawn at the
    /// bottom), one column per timeline chunk, probabilities 0…1.
    pub fn timeline_picture(&self) -> Picture {
        let cols = self.timeline.len();
        let rows = self.probabilities.len();
        let mut values = alloc::vec![0.0; rows * cols];
        for (c, chunk) in self.timeline.iter().enumerate() {
            for (t, &p) in chunk.iter().enumerate().take(rows) {
                values[t * cols + c] = p;
            }
        }
        Picture { rows, cols, values }
    }
}

impl ClipTagging {
    /// The plans for a clip of `clip_len` samples and chunks of `chunk`; `with_timeline`
    /// adds the timeline (otherwise only the evaluation chunks run).
    pub fn new(clip_len: usize, chunk: usize, with_timeline: bool) -> Result<Self, ModelError> {
        let evaluation = ChunkPlan::evaluation(clip_len, chunk, EVAL_CHUNKS)?;
        let timeline = if with_timeline {
            ChunkPlan::timeline(clip_len, chunk)?
        } else {
            ChunkPlan {
                starts: Vec::new(),
                ..evaluation.clone()
            }
        };
        Ok(Self {
            evaluation,
            timeline,
        })
    }

    /// Chunks to run in all (evaluation, then timeline).
    pub fn total(&self) -> usize {
        self.evaluation.len() + self.timeline.len()
    }

    /// How many batches [`ClipTagging::batches`] gives.
    pub fn batch_count(&self) -> usize {
        self.evaluation_batch_count() + self.timeline.len().div_ceil(TAG_BATCH)
    }

    /// How many of those batches hold the evaluation chunks (they come first).
    pub fn evaluation_batch_count(&self) -> usize {
        self.evaluation.len().div_ceil(TAG_BATCH)
    }

    /// The clip's tags while batches are still being run (several workers, each batch as it
    /// comes): `batches[i]` holds batch `i`'s probabilities once it has run. `None` until every
    /// evaluation batch is in; then the clip's probabilities are final and `timeline` has an
    /// empty row for each chunk whose batch has not run yet.
    pub fn partial(
        &self,
        batches: &[Option<Vec<f32>>],
        n_tags: usize,
        sample_rate: usize,
    ) -> Result<Option<ClipTags>, ModelError> {
        if n_tags == 0 || batches.len() != self.batch_count() {
            return Err(ModelError::Shape(format!(
                "{} batches of {n_tags} tags for a clip of {} batches",
                batches.len(),
                self.batch_count()
            )));
        }
        let (eval, timeline) = batches.split_at(self.evaluation_batch_count());
        let Some(eval) = eval
            .iter()
            .map(Option::as_deref)
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let eval = eval.concat();
        if eval.len() != self.evaluation.len() * n_tags {
            return Err(ModelError::Shape(format!(
                "{} probabilities for {} evaluation chunks of {n_tags} tags",
                eval.len(),
                self.evaluation.len()
            )));
        }
        let mut rows = Vec::with_capacity(self.timeline.len());
        for (b, batch) in timeline.iter().enumerate() {
            let chunks = (self.timeline.len() - b * TAG_BATCH).min(TAG_BATCH);
            match batch {
                Some(p) if p.len() == chunks * n_tags => {
                    rows.extend(p.chunks(n_tags).map(<[f32]>::to_vec))
                }
                Some(p) => {
                    return Err(ModelError::Shape(format!(
                        "{} probabilities for a timeline batch of {chunks} chunks of {n_tags} tags",
                        p.len()
                    )));
                }
                None => rows.extend((0..chunks).map(|_| Vec::new())),
            }
        }
        Ok(Some(ClipTags {
            probabilities: mean_rows(&eval, n_tags),
            timeline: rows,
            timeline_starts: self.timeline.starts.clone(),
            notice: self.evaluation.notice(sample_rate),
        }))
    }

    /// The batches to run, in order, [`TAG_BATCH`] chunks at most each.
    pub fn batches<'a>(&'a self, samples: &'a [f32]) -> impl Iterator<Item = ChunkBatch> + 'a {
        (0..self.batch_count()).filter_map(move |index| self.batch(index, samples))
    }

    /// Batch `index` of [`ClipTagging::batches`] alone (`None` past the last): a caller that
    /// runs only some batches (one web worker's share) gathers only their samples.
    pub fn batch(&self, index: usize, samples: &[f32]) -> Option<ChunkBatch> {
        self.read_batch(index, samples).map(in_memory)
    }

    /// [`ClipTagging::batch`] from samples kept anywhere ([`ClipSamples`]).
    pub fn read_batch<S: ClipSamples + ?Sized>(
        &self,
        index: usize,
        samples: &S,
    ) -> Option<Result<ChunkBatch, S::Error>> {
        let evaluation_batches = self.evaluation_batch_count();
        let (plan, first) = if index < evaluation_batches {
            (&self.evaluation, index * TAG_BATCH)
        } else {
            (&self.timeline, (index - evaluation_batches) * TAG_BATCH)
        };
        if first >= plan.len() {
            return None;
        }
        let last = (first + TAG_BATCH).min(plan.len());
        Some(plan.read_batch(samples, first..last))
    }

    /// The clip's tags from the probabilities of every batch, concatenated in order
    /// (`total() × n_tags`, row-major).
    pub fn finish(
        &self,
        probabilities: &[f32],
        n_tags: usize,
        sample_rate: usize,
    ) -> Result<ClipTags, ModelError> {
        if n_tags == 0 || probabilities.len() != self.total() * n_tags {
            return Err(ModelError::Shape(format!(
                "{} probabilities for {} chunks of {n_tags} tags",
                probabilities.len(),
                self.total()
            )));
        }
        let (eval, timeline) = probabilities.split_at(self.evaluation.len() * n_tags);
        Ok(ClipTags {
            probabilities: mean_rows(eval, n_tags),
            timeline: timeline.chunks(n_tags).map(<[f32]>::to_vec).collect(),
            timeline_starts: self.timeline.starts.clone(),
            notice: self.evaluation.notice(sample_rate),
        })
    }
}

impl ChunkBatch {
    /// The batch as a `[rows, chunk]` waveform tensor on `device`.
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.samples.clone(), [self.rows, self.chunk]),
            device,
        )
    }
}

/// The mean of the `n`-wide rows of `values`, column by column.
fn mean_rows(values: &[f32], n: usize) -> Vec<f32> {
    let mut mean = alloc::vec![0.0f32; n];
    let rows = values.len() / n;
    for row in values.chunks(n) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= rows.max(1) as f32);
    mean
}

fn check_lengths(clip_len: usize, chunk: usize) -> Result<(), ModelError> {
    if clip_len == 0 {
        return Err(ModelError::EmptyInput);
    }
    if chunk == 0 {
        return Err(ModelError::Shape(
            "the chunk length must be positive".into(),
        ));
    }
    Ok(())
}

/// Rejects NaN and infinite samples (the model would silently return NaN).
pub fn check_samples(samples: &[f32]) -> Result<(), ModelError> {
    if samples.is_empty() {
        return Err(ModelError::EmptyInput);
    }
    if samples.iter().any(|s| !s.is_finite()) {
        return Err(ModelError::NonFinite);
    }
    Ok(())
}

impl ModNet {
    /// Logits for each chunk of `plan`, run `batch_size` chunks at a time.
    ///
    /// - output: `[plan.len(), n_tags]`
    pub fn chunk_logits(
        &self,
        samples: &[f32],
        plan: &ChunkPlan,
        batch_size: usize,
        device: &Device,
    ) -> Result<Tensor<2>, ModelError> {
        check_samples(samples)?;
        if plan.chunk < self.config().min_samples() {
            return Err(ModelError::TooShort {
                samples: plan.chunk,
                min_samples: self.config().min_samples(),
            });
        }
        let parts = plan
            .batches(samples, batch_size)
            .map(|batch| self.forward(batch.tensor(device)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::cat(parts, 0))
    }

    /// Sigmoid outputs for each chunk of `plan`, run `batch_size` chunks at a time.
    ///
    /// - output: `[plan.len(), n_tags]`
    pub fn chunk_probabilities(
        &self,
        samples: &[f32],
        plan: &ChunkPlan,
        batch_size: usize,
        device: &Device,
    ) -> Result<Tensor<2>, ModelError> {
        Ok(sigmoid(
            self.chunk_logits(samples, plan, batch_size, device)?,
        ))
    }

    /// Tags a clip natively: runs [`ClipTagging`]'s batches with a synchronous read-back and
    /// reduces them (clip probabilities, and the timeline when `with_timeline`). In the browser,
    /// run the batches and read them back asynchronously instead.
    pub fn tag_clip(
        &self,
        samples: &[f32],
        with_timeline: bool,
        device: &Device,
    ) -> Result<ClipTags, ModelError> {
        check_samples(samples)?;
        let tagging = ClipTagging::new(samples.len(), self.config().chunk_samples, with_timeline)?;
        self.run_tagging(&tagging, samples, device)
    }

    fn run_tagging(
        &self,
        tagging: &ClipTagging,
        samples: &[f32],
        device: &Device,
    ) -> Result<ClipTags, ModelError> {
        let config = self.config();
        let mut probabilities = Vec::with_capacity(tagging.total() * config.n_tags());
        for batch in tagging.batches(samples) {
            probabilities.extend(self.batch_probabilities(&batch, device)?);
        }
        tagging.finish(&probabilities, config.n_tags(), config.sample_rate)
    }

    /// One batch's probabilities (`rows × n_tags`, row-major), read back synchronously: what a
    /// native caller runs for each of [`ClipTagging`]'s batches, in any order.
    pub fn batch_probabilities(
        &self,
        batch: &ChunkBatch,
        device: &Device,
    ) -> Result<Vec<f32>, ModelError> {
        self.probabilities(batch.tensor(device))?
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Shape(format!("reading probabilities: {e:?}")))
    }

    /// Clip-level tag probabilities by the evaluation protocol (mean of the chunks' sigmoid
    /// outputs, run [`TAG_BATCH`] chunks at a time), with the plan used.
    ///
    /// - output: `[n_tags]`
    pub fn clip_probabilities(
        &self,
        samples: &[f32],
        device: &Device,
    ) -> Result<(Tensor<1>, ChunkPlan), ModelError> {
        check_samples(samples)?;
        let tagging = ClipTagging::new(samples.len(), self.config().chunk_samples, false)?;
        let tags = self.run_tagging(&tagging, samples, device)?;
        let n = tags.probabilities.len();
        let clip = Tensor::from_data(TensorData::new(tags.probabilities, [n]), device);
        Ok((clip, tagging.evaluation))
    }
}
