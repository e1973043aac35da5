//! Live listening's wiring: the microphone's blocks to the first engine, its answers to the
//! page. The rolling window and the window at the engine are [`LiveSession`]'s.

use leptos::prelude::*;

use super::Controller;
use crate::browser::now_millis;
use crate::listen::{LIVE_BLOCK_SECONDS, LIVE_HOP_SECONDS, Listening, LiveSession, Microphone};
use crate::messages::Heard;
use modnet::LiveWindow;

impl Controller {
    /// Listens to the microphone: every [`LIVE_HOP_SECONDS`], the last chunk heard is tagged
    /// and pictured, unless the engine is still busy with the previous one (then that window is
    /// dropped and counted).
    pub async fn start_listening(self) {
        if self.live.with_value(Option::is_some) {
            return;
        }
        let Some((_, rate, chunk)) = self.model_shape() else {
            return self.fail("no model is loaded yet".into());
        };
        let hop = rate.samples(LIVE_HOP_SECONDS).clamp(1, chunk);
        let window = match LiveWindow::new(chunk, hop) {
            Ok(w) => w,
            Err(e) => return self.fail(e.to_string()),
        };
        self.error.set(None);
        self.live.set_value(Some(LiveSession::new(window, rate)));
        self.listening.set(Some(Listening {
            hop_seconds: rate.seconds(hop),
            ..Listening::default()
        }));
        self.status.set("asking for the microphone…".into());
        let block = rate.samples(LIVE_BLOCK_SECONDS).max(1);
        match Microphone::open(rate, block, move |samples| self.on_block(&samples)).await {
            // Stopped while the browser was asking: the microphone goes at once.
            Ok(microphone) if self.live.with_value(Option::is_none) => drop(microphone),
            Ok(microphone) => {
                self.status.set(format!(
                    "listening at {} Hz: tags every {LIVE_HOP_SECONDS} s of the last {:.1} s",
                    microphone.rate(),
                    rate.seconds(chunk)
                ));
                self.live.update_value(|l| {
                    if let Some(l) = l {
                        l.set_microphone(microphone);
                    }
                });
            }
            Err(e) => {
                self.stop_listening();
                self.status.set(String::new());
                self.fail(e);
            }
        }
    }

    /// Stops listening and releases the microphone (the last live tags stay on the page).
    pub fn stop_listening(self) {
        self.live.set_value(None);
        self.listening.set(None);
    }

    fn on_block(self, samples: &[f32]) {
        let now = now_millis();
        let mut listening = self.listening.get_untracked().unwrap_or_default();
        let due = self.live.try_update_value(|live| {
            live.as_mut()
                .and_then(|live| live.hear(samples, now, &mut listening))
        });
        let Some(due) = due else { return };
        self.listening.set(Some(listening));
        if let Some((job, chunk)) = due {
            self.first_engine(|e| e.listen(job, &chunk.samples, chunk.start));
        }
    }

    pub(super) fn on_heard(self, heard: Heard) {
        let mut listening = self.listening.get_untracked().unwrap_or_default();
        let shown = self.live.try_update_value(|live| {
            live.as_mut().is_some_and(|live| {
                live.answered(heard.job, now_millis(), heard.millis, &mut listening)
            })
        });
        if shown == Some(true) {
            self.listening.set(Some(listening));
            self.live_tags.set(Some(heard.probabilities));
            self.pictures.set(Some(heard.pictures));
        }
    }
}
