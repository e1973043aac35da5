//! A clip on the page: the decoded samples, the job at the engines (its batches coming back,
//! assembled by the model crate's [`ClipResults`], and when), and the tags the page shows.

use std::sync::Arc;

use modnet::{ClipResults, ClipTagging, Picture, SampleRate};

use crate::messages::BatchProbabilities;

/// A decoded clip.
#[derive(Clone)]
pub struct Clip {
    /// File name.
    pub name: String,
    /// Mono samples at the model's rate.
    pub samples: Arc<Vec<f32>>,
}

/// Tags of a clip, as the page shows them.
#[derive(Debug, Clone)]
pub struct TagResult {
    pub job: u32,
    /// Which backend ran ("wgpu (WebGPU)", "Flex (CPU)").
    pub backend: String,
    /// Engines (workers) that shared the clip.
    pub engines: usize,
    /// From sending the clip to its tags (the evaluation chunks), in milliseconds.
    pub tags_millis: f64,
    /// From sending the clip to the whole timeline, in milliseconds; `None` while timeline
    /// chunks are still running.
    pub millis: Option<f64>,
    /// Timeline chunks run so far.
    pub timeline_done: usize,
    /// Clip probabilities (mean over the 16 evaluation chunks), in tag order.
    pub probabilities: Vec<f32>,
    /// Start of each timeline chunk in samples.
    pub timeline_starts: Vec<usize>,
    /// Timeline probabilities ready to draw: one row per tag, one column per chunk.
    pub timeline: Picture,
    /// A sentence when the clip had to be zero-padded.
    pub notice: Option<String>,
}

/// A clip at the engines.
pub struct ClipJob {
    job: u32,
    results: ClipResults,
    /// Engines sharing the clip.
    engines: usize,
    /// When the clip was sent (ms on the page's clock).
    sent: f64,
    /// When its tags were known (every evaluation batch back).
    tagged: Option<f64>,
}

/// What one batch back changes.
pub struct BatchUpdate {
    /// Chunks done and to do; `None` once every batch is back.
    pub progress: Option<(usize, usize)>,
    /// The clip's tags so far (`None` until every evaluation batch is back), or why the batch
    /// does not fit the clip.
    pub result: Result<Option<TagResult>, String>,
    /// Whether the clip's tags are known for the first time.
    pub first: bool,
}

impl ClipJob {
    /// Job `job` sent at `now` to `engines` engines.
    pub fn new(
        job: u32,
        tagging: ClipTagging,
        n_tags: usize,
        sample_rate: SampleRate,
        engines: usize,
        now: f64,
    ) -> Self {
        Self {
            job,
            results: ClipResults::new(tagging, n_tags, sample_rate),
            engines,
            sent: now,
            tagged: None,
        }
    }

    /// Chunks to run in all.
    pub fn total(&self) -> usize {
        self.results.total()
    }

    /// A batch back at `now` from an engine running on `backend`; `None` when it belongs to
    /// another job (an earlier clip or model).
    pub fn add(
        &mut self,
        batch: BatchProbabilities,
        now: f64,
        backend: String,
    ) -> Option<BatchUpdate> {
        if batch.job != self.job {
            return None;
        }
        let tags = self.results.add(batch.batch, batch.probabilities);
        let first = matches!(tags, Ok(Some(_))) && self.tagged.is_none();
        if first {
            self.tagged = Some(now);
        }
        let complete = self.results.is_complete();
        let result = match tags {
            Ok(Some(tags)) => Ok(Some(TagResult {
                job: self.job,
                backend,
                engines: self.engines,
                tags_millis: self.tagged.unwrap_or(now) - self.sent,
                millis: complete.then_some(now - self.sent),
                timeline_done: tags.timeline_done(),
                timeline: tags.timeline_picture(),
                probabilities: tags.probabilities,
                timeline_starts: tags.timeline_starts,
                notice: tags.notice,
            })),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("the engines' results do not fit the clip: {e}")),
        };
        Some(BatchUpdate {
            progress: (!complete).then(|| (self.results.done(), self.total())),
            result,
            first,
        })
    }
}
