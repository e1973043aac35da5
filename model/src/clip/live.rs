//! Listening live: a stream of samples (a microphone) becomes one model chunk every hop.
//!
//! [`LiveWindow`] keeps the last `chunk` samples heard; each time another `hop` samples have
//! arrived (and the window is full) it offers the window to the model. A caller whose model is
//! still busy with the previous window drops the new one ([`LiveWindow::take`] counts it), so
//! nothing queues without bound and the tags always describe the latest audio.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::error::ModelError;

/// The last `chunk` samples of a stream, offered every `hop` samples.
#[derive(Debug, Clone)]
pub struct LiveWindow {
    samples: VecDeque<f32>,
    chunk: usize,
    hop: usize,
    /// Samples heard since the last window was offered.
    since: usize,
    /// Samples heard in all.
    heard: u64,
    /// Windows offered and taken, and offered while the caller was busy.
    taken: u64,
    dropped: u64,
}

/// One window of the stream, ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveChunk {
    /// `chunk` samples, oldest first.
    pub samples: Vec<f32>,
    /// Its first sample's position in the stream (samples since listening began).
    pub start: u64,
}

impl LiveWindow {
    /// Windows of `chunk` samples every `hop` samples (`0 < hop ≤ chunk`).
    pub fn new(chunk: usize, hop: usize) -> Result<Self, ModelError> {
        if chunk == 0 || hop == 0 || hop > chunk {
            return Err(ModelError::Shape(alloc::format!(
                "a live window needs 0 < hop ≤ chunk (hop {hop}, chunk {chunk})"
            )));
        }
        Ok(Self {
            samples: VecDeque::with_capacity(chunk),
            chunk,
            hop,
            since: 0,
            heard: 0,
            taken: 0,
            dropped: 0,
        })
    }

    /// Adds samples as they arrive. Returns whether a new window is due (the window is full
    /// and at least `hop` samples arrived since the last one).
    pub fn push(&mut self, block: &[f32]) -> bool {
        // Only the newest `chunk` samples of a long block matter.
        let block = &block[block.len().saturating_sub(self.chunk)..];
        let overflow = (self.samples.len() + block.len()).saturating_sub(self.chunk);
        self.samples.drain(..overflow);
        self.samples.extend(block);
        self.heard += block.len() as u64;
        self.since += block.len();
        self.due()
    }

    /// Whether a window is due.
    pub fn due(&self) -> bool {
        self.samples.len() == self.chunk && self.since >= self.hop
    }

    /// The due window, when the caller can run it now (`busy` false); a due window the caller
    /// cannot run is dropped and counted. `None` when no window is due.
    pub fn take(&mut self, busy: bool) -> Option<LiveChunk> {
        if !self.due() {
            return None;
        }
        self.since = 0;
        if busy {
            self.dropped += 1;
            return None;
        }
        self.taken += 1;
        Some(LiveChunk {
            samples: self.samples.iter().copied().collect(),
            start: self.heard - self.chunk as u64,
        })
    }

    /// Fraction of the first window heard so far (1 once it is full).
    pub fn filled(&self) -> f32 {
        self.samples.len() as f32 / self.chunk as f32
    }

    /// Samples heard since listening began.
    pub fn heard(&self) -> u64 {
        self.heard
    }

    /// Windows taken to the model.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// Windows dropped because the model was still busy.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_every_hop_once_full() {
        let mut live = LiveWindow::new(10, 4).unwrap();
        let stream: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let mut windows = Vec::new();
        for block in stream.chunks(3) {
            if live.push(block) {
                windows.push(live.take(false).unwrap());
            }
        }
        // Full at 12 samples heard (blocks of 3), then every hop of ≥ 4.
        let starts: Vec<u64> = windows.iter().map(|w| w.start).collect();
        assert_eq!(starts, [2, 8, 14, 20, 26, 30]);
        for w in &windows {
            let expected: Vec<f32> = (w.start..w.start + 10).map(|i| i as f32).collect();
            assert_eq!(w.samples, expected);
        }
        assert!((live.filled() - 1.0).abs() < 1e-6);
        assert_eq!(live.heard(), 40);
    }

    #[test]
    fn a_busy_caller_drops_windows_and_nothing_queues() {
        let mut live = LiveWindow::new(8, 2).unwrap();
        live.push(&[0.0; 8]);
        assert!(live.take(true).is_none());
        assert!(!live.due(), "a dropped window is not offered again");
        live.push(&[1.0; 2]);
        live.push(&[2.0; 2]);
        let w = live.take(false).unwrap();
        assert_eq!(w.samples, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
        assert_eq!((live.taken(), live.dropped()), (1, 1));
        // A block longer than the window keeps only its newest samples.
        let long: Vec<f32> = (0..100).map(|i| i as f32).collect();
        assert!(live.push(&long));
        assert_eq!(live.take(false).unwrap().samples[0], 92.0);
    }

    #[test]
    fn impossible_hops_are_refused() {
        assert!(LiveWindow::new(10, 0).is_err());
        assert!(LiveWindow::new(10, 11).is_err());
        assert!(LiveWindow::new(0, 0).is_err());
    }
}
