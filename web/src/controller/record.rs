//! Recording examples of a tag from the microphone: the same capture as live listening
//! ([`Microphone`]), its blocks kept until the user stops (or [`MAX_RECORDING_SECONDS`]), each
//! recording an example or a counter-example for the next [`Controller::teach`].

use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::Controller;
use crate::listen::{LIVE_BLOCK_SECONDS, Microphone};

/// The longest recording: an example is a few seconds of the sound; an open microphone left
/// running would fill memory.
pub const MAX_RECORDING_SECONDS: f64 = 30.0;
/// The shortest recording kept (shorter ones are a click, not an example).
pub const MIN_RECORDING_SECONDS: f64 = 0.5;

/// A recording under way: for an example (or a counter-example), and how long so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recording {
    pub example: bool,
    pub seconds: f64,
}

/// A recording kept for teaching: mono samples at the model's rate.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub example: bool,
    pub seconds: f64,
    pub samples: Arc<[f32]>,
}

impl Controller {
    /// Starts recording an example (`example`) or a counter-example; when one is under way,
    /// stops it instead.
    pub async fn toggle_recording(self, example: bool) {
        if self.recording.get_untracked().is_some() {
            return self.stop_recording();
        }
        let Some((_, rate, _)) = self.model_shape() else {
            return self.fail("no model is loaded yet".into());
        };
        self.error.set(None);
        self.record_buffer.set_value(Vec::new());
        self.recording.set(Some(Recording {
            example,
            seconds: 0.0,
        }));
        let block = rate.samples(LIVE_BLOCK_SECONDS).max(1);
        let on_block = move |samples: Vec<f32>| {
            let heard = self
                .record_buffer
                .try_update_value(|b| {
                    b.extend_from_slice(&samples);
                    b.len()
                })
                .unwrap_or(0);
            let seconds = rate.seconds(heard);
            self.recording.update(|r| {
                if let Some(r) = r {
                    r.seconds = seconds;
                }
            });
            if seconds >= MAX_RECORDING_SECONDS {
                // Not from inside the microphone's own callback: stopping drops it.
                spawn_local(async move { self.stop_recording() });
            }
        };
        match Microphone::open(rate, block, on_block).await {
            // Stopped while the browser was asking: the microphone goes at once.
            Ok(microphone) if self.recording.get_untracked().is_none() => drop(microphone),
            Ok(microphone) => self.recorder.set_value(Some(microphone)),
            Err(e) => {
                self.recording.set(None);
                self.fail(e);
            }
        }
    }

    /// Stops the recording under way and keeps it (if long enough to be an example).
    pub fn stop_recording(self) {
        self.recorder.set_value(None);
        let Some(recording) = self.recording.get_untracked() else {
            return;
        };
        self.recording.set(None);
        let samples = self
            .record_buffer
            .try_update_value(std::mem::take)
            .unwrap_or_default();
        if recording.seconds < MIN_RECORDING_SECONDS {
            return self.fail(format!(
                "a recording of {:.1} s is too short to be an example (at least \
                 {MIN_RECORDING_SECONDS} s)",
                recording.seconds
            ));
        }
        self.recorded.update(|r| {
            r.push(Recorded {
                example: recording.example,
                seconds: recording.seconds,
                samples: samples.into(),
            })
        });
    }

    /// Forgets the recordings not yet taught.
    pub fn clear_recordings(self) {
        self.recorded.set(Vec::new());
    }
}
