//! Tagging one clip, the one way every caller does it — the trainer's `tag` and evaluation,
//! and the page's workers:
//!
//! 1. [`ClipTagging::new`] plans the chunks (the evaluation protocol's, and the timeline's);
//! 2. [`ClipTagging::read_batch`] gives batch `i` (each caller runs them in its own order:
//!    one after another, side by side on CPU cores, or shared among web workers);
//! 3. [`ModNet::batch_probabilities`] runs a batch natively (the page awaits
//!    [`crate::clip::read_back::values_async`] of [`ModNet::probabilities`] instead);
//! 4. [`ClipResults`] collects the batches as they come back and gives the clip's tags.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use burn::tensor::Device;

use crate::clip::protocol::{
    ChunkBatch, ChunkPlan, ClipSamples, EVAL_CHUNKS, TAG_BATCH, in_memory,
};
use crate::error::ModelError;
use crate::inspect::picture::Picture;
use crate::model::ModNet;
use crate::rate::SampleRate;

/// The chunks of one clip to run: the evaluation protocol's (the clip's tags are their mean)
/// and the timeline's, as one sequence of batches, evaluation first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipTagging {
    /// The evaluation protocol's chunks: the clip's tags are their mean.
    pub evaluation: ChunkPlan,
    /// The timeline's chunks (empty when not asked for).
    pub timeline: ChunkPlan,
}

/// What tagging a clip gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipTags {
    /// Clip-level probabilities (mean over the evaluation chunks), one per tag.
    pub probabilities: Vec<f32>,
    /// One row of probabilities per timeline chunk (empty while its batch has not run).
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

    /// Timeline chunks whose probabilities are in.
    pub fn timeline_done(&self) -> usize {
        self.timeline.iter().filter(|row| !row.is_empty()).count()
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

    /// Batches to run in all.
    pub fn batch_count(&self) -> usize {
        self.evaluation.batch_count() + self.timeline.batch_count()
    }

    /// Which plan batch `index` belongs to, and its index there.
    fn locate(&self, index: usize) -> (&ChunkPlan, usize) {
        let evaluation = self.evaluation.batch_count();
        if index < evaluation {
            (&self.evaluation, index)
        } else {
            (&self.timeline, index - evaluation)
        }
    }

    /// Batch `index` (`None` past the last) from samples in memory.
    pub fn batch(&self, index: usize, samples: &[f32]) -> Option<ChunkBatch> {
        self.read_batch(index, samples).map(in_memory)
    }

    /// Batch `index` from samples kept anywhere ([`ClipSamples`]): a caller that runs only
    /// some batches (one web worker's share) reads only their chunks.
    pub fn read_batch<S: ClipSamples + ?Sized>(
        &self,
        index: usize,
        samples: &S,
    ) -> Option<Result<ChunkBatch, S::Error>> {
        let (plan, index) = self.locate(index);
        plan.read_batch(index, samples)
    }

    /// The clip's tags from every batch's probabilities, in batch order.
    pub fn finish(
        &self,
        batches: Vec<Vec<f32>>,
        n_tags: usize,
        sample_rate: SampleRate,
    ) -> Result<ClipTags, ModelError> {
        if batches.len() != self.batch_count() {
            return Err(ModelError::Shape(format!(
                "{} batches for a clip of {}",
                batches.len(),
                self.batch_count()
            )));
        }
        let mut results = ClipResults::new(self.clone(), n_tags, sample_rate);
        let mut tags = None;
        for (index, probabilities) in batches.into_iter().enumerate() {
            tags = results.add(index, probabilities)?;
        }
        tags.ok_or_else(|| ModelError::Shape("a clip without evaluation chunks".into()))
    }
}

/// A clip's results as they come back, batch by batch in any order (the page's workers each
/// return their share): the clip's tags once every evaluation batch is in, the timeline
/// filling in after.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipResults {
    tagging: ClipTagging,
    /// Each batch's probabilities, once back.
    batches: Vec<Option<Vec<f32>>>,
    /// Chunks back so far.
    done: usize,
    n_tags: usize,
    sample_rate: SampleRate,
}

impl ClipResults {
    /// Nothing back yet from the batches of `tagging`, for a model of `n_tags` tags.
    pub fn new(tagging: ClipTagging, n_tags: usize, sample_rate: SampleRate) -> Self {
        Self {
            batches: alloc::vec![None; tagging.batch_count()],
            done: 0,
            n_tags,
            sample_rate,
            tagging,
        }
    }

    /// Chunks back so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Chunks to come back in all.
    pub fn total(&self) -> usize {
        self.tagging.total()
    }

    /// Whether every batch is back.
    pub fn is_complete(&self) -> bool {
        self.batches.iter().all(Option::is_some)
    }

    /// Batch `index`'s probabilities (`rows × n_tags`, row-major) are back (again: replaced,
    /// not counted twice). Gives the clip's tags so far: `None` until every evaluation batch is
    /// in; then the clip's probabilities are final and each timeline chunk still running has an
    /// empty row. Probabilities that do not fit the batch are refused and not kept.
    pub fn add(
        &mut self,
        index: usize,
        probabilities: Vec<f32>,
    ) -> Result<Option<ClipTags>, ModelError> {
        let rows = match self.tagging.locate(index) {
            (plan, i) if i < plan.batch_count() => (plan.len() - i * TAG_BATCH).min(TAG_BATCH),
            _ => {
                return Err(ModelError::Shape(format!(
                    "batch {index} of a clip of {} batches",
                    self.batches.len()
                )));
            }
        };
        if self.n_tags == 0 || probabilities.len() != rows * self.n_tags {
            return Err(ModelError::Shape(format!(
                "{} probabilities for a batch of {rows} chunks of {} tags",
                probabilities.len(),
                self.n_tags
            )));
        }
        let slot = &mut self.batches[index];
        if slot.is_none() {
            self.done += rows;
        }
        *slot = Some(probabilities);
        Ok(self.tags())
    }

    /// The clip's tags so far (see [`ClipResults::add`]).
    pub fn tags(&self) -> Option<ClipTags> {
        let (evaluation, timeline) = self.batches.split_at(self.tagging.evaluation.batch_count());
        let mut sum = alloc::vec![0.0f32; self.n_tags];
        for batch in evaluation {
            for row in batch.as_deref()?.chunks(self.n_tags) {
                sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
        let chunks = self.tagging.evaluation.len().max(1) as f32;
        let mut rows = Vec::with_capacity(self.tagging.timeline.len());
        for (b, batch) in timeline.iter().enumerate() {
            match batch {
                Some(p) => rows.extend(p.chunks(self.n_tags).map(<[f32]>::to_vec)),
                None => {
                    let chunks = (self.tagging.timeline.len() - b * TAG_BATCH).min(TAG_BATCH);
                    rows.extend((0..chunks).map(|_| Vec::new()))
                }
            }
        }
        Some(ClipTags {
            probabilities: sum.into_iter().map(|s| s / chunks).collect(),
            timeline: rows,
            timeline_starts: self.tagging.timeline.starts.clone(),
            notice: self.tagging.evaluation.notice(self.sample_rate),
        })
    }
}

impl ModNet {
    /// Tags a clip of `samples` (mono, at the model's sample rate) in memory, batch after
    /// batch: the whole protocol in one call, for callers that need no progress or
    /// parallelism. With `with_timeline`, one row of probabilities per consecutive chunk too.
    pub fn tag_clip(
        &self,
        samples: &[f32],
        with_timeline: bool,
        device: &Device,
    ) -> Result<ClipTags, ModelError> {
        crate::clip::protocol::check_samples(samples)?;
        let config = self.config();
        let tagging = ClipTagging::new(samples.len(), config.chunk_samples, with_timeline)?;
        let batches = (0..tagging.batch_count())
            .map(|i| {
                let batch = tagging.batch(i, samples).expect("index below batch_count");
                self.batch_probabilities(&batch, device)
            })
            .collect::<Result<Vec<_>, _>>()?;
        tagging.finish(batches, config.n_tags(), config.sample_rate)
    }

    /// One batch's probabilities (`rows × n_tags`, row-major), read back synchronously: what a
    /// native caller runs for each of [`ClipTagging`]'s batches, in any order.
    pub fn batch_probabilities(
        &self,
        batch: &ChunkBatch,
        device: &Device,
    ) -> Result<Vec<f32>, ModelError> {
        crate::clip::read_back::values(self.probabilities(batch.tensor(device))?)
    }
}
