//! How a clip of any length becomes model inputs and one score per tag.
//!
//! - Evaluation (Won et al., every number of the paper's Table V): 16 chunks of 5 s at
//!   `i·hop`, `hop = (len − chunk) / 16` (integer division), clip score = mean of the 16
//!   sigmoid outputs.
//! - Timeline: consecutive 5 s chunks, the last one zero-padded, scored separately.
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
            return Ok(Self {
                starts: alloc::vec![0],
                chunk,
                clip_len,
                padded: true,
            });
        }
        let hop = (clip_len - chunk) / n_chunks;
        Ok(Self {
            starts: (0..n_chunks).map(|i| i * hop).collect(),
            chunk,
            clip_len,
            padded: false,
        })
    }

    /// Consecutive chunks covering the whole clip (a tag timeline), the last one zero-padded.
    pub fn timeline(clip_len: usize, chunk: usize) -> Result<Self, ModelError> {
        check_lengths(clip_len, chunk)?;
        let n = clip_len.div_ceil(chunk);
        Ok(Self {
            starts: (0..n).map(|i| i * chunk).collect(),
            chunk,
            clip_len,
            padded: !clip_len.is_multiple_of(chunk),
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

    /// The chunks `range` of `samples` as one row-major `[n, chunk]` buffer, zero-padded.
    pub fn gather(&self, samples: &[f32], range: core::ops::Range<usize>) -> Vec<f32> {
        let mut out = alloc::vec![0.0f32; range.len() * self.chunk];
        for (row, &start) in out.chunks_mut(self.chunk).zip(&self.starts[range]) {
            let end = (start + self.chunk).min(samples.len());
            row[..end - start].copy_from_slice(&samples[start..end]);
        }
        out
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
        let batch_size = batch_size.max(1);
        let mut parts = Vec::new();
        let mut first = 0;
        while first < plan.len() {
            let last = (first + batch_size).min(plan.len());
            let data = TensorData::new(
                plan.gather(samples, first..last),
                [last - first, plan.chunk],
            );
            parts.push(self.forward(Tensor::from_data(data, device))?);
            first = last;
        }
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

    /// Clip-level tag probabilities under the evaluation protocol (mean of the chunks' sigmoid
    /// outputs), with the plan used.
    ///
    /// - output: `[n_tags]`
    pub fn clip_probabilities(
        &self,
        samples: &[f32],
        batch_size: usize,
        device: &Device,
    ) -> Result<(Tensor<1>, ChunkPlan), ModelError> {
        let config = self.config();
        let plan = ChunkPlan::evaluation(samples.len(), config.chunk_samples, EVAL_CHUNKS)?;
        let chunks = self.chunk_probabilities(samples, &plan, batch_size, device)?;
        Ok((chunks.mean_dim(0).squeeze_dim(0), plan))
    }
}
