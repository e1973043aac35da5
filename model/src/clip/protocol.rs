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
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::ModelError;
use crate::rate::SampleRate;

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

    /// One chunk starting at `start` (moved back inside the clip when past its end),
    /// zero-padded where it runs past the end: the chunk whose pictures the page shows.
    pub fn one_at(clip_len: usize, chunk: usize, start: usize) -> Result<Self, ModelError> {
        check_lengths(clip_len, chunk)?;
        let start = start.min(clip_len - 1);
        Ok(Self {
            starts: alloc::vec![start],
            chunk,
            clip_len,
            padded: start + chunk > clip_len,
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
    pub fn notice(&self, sample_rate: SampleRate) -> Option<String> {
        self.padded.then(|| {
            let secs = |n: usize| sample_rate.seconds(n);
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

    /// Batches of at most [`TAG_BATCH`] chunks the plan runs in.
    pub fn batch_count(&self) -> usize {
        self.len().div_ceil(TAG_BATCH)
    }

    /// Batch `index` of the plan (its chunks `index·TAG_BATCH …`, at most [`TAG_BATCH`]) from
    /// samples in memory; `None` past the last batch.
    pub fn batch(&self, index: usize, samples: &[f32]) -> Option<ChunkBatch> {
        self.read_batch(index, samples).map(in_memory)
    }

    /// [`ChunkPlan::batch`] from samples kept anywhere ([`ClipSamples`]): only the batch's
    /// chunks are read, zero-padded past the clip's end. The one batcher: every caller that runs
    /// chunks through the model (tags, evaluation, embeddings, the page) gets them here.
    pub fn read_batch<S: ClipSamples + ?Sized>(
        &self,
        index: usize,
        samples: &S,
    ) -> Option<Result<ChunkBatch, S::Error>> {
        let first = index.checked_mul(TAG_BATCH)?;
        if first >= self.len() {
            return None;
        }
        let rows = (self.len() - first).min(TAG_BATCH);
        let mut out = alloc::vec![0.0f32; rows * self.chunk];
        let len = samples.sample_count();
        for (row, &start) in out
            .chunks_mut(self.chunk)
            .zip(&self.starts[first..first + rows])
        {
            let end = (start + self.chunk).min(len).max(start);
            if let Err(e) = samples.read_into(start, &mut row[..end - start]) {
                return Some(Err(e));
            }
        }
        Some(Ok(ChunkBatch {
            samples: out,
            rows,
            chunk: self.chunk,
        }))
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
pub(crate) fn in_memory<T>(read: Result<T, core::convert::Infallible>) -> T {
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

impl ChunkBatch {
    /// The batch as a `[rows, chunk]` waveform tensor on `device`.
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.samples.clone(), [self.rows, self.chunk]),
            device,
        )
    }
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
