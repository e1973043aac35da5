//! The microphone, live: `getUserMedia` → an `AudioContext` at the model's rate (the browser
//! resamples, as it does for files) → the `modnet-capture` AudioWorklet (`web/capture-worklet.js`),
//! which mixes down to mono and posts blocks of samples to the page. The rolling window and
//! its hop are the model crate's [`modnet::LiveWindow`].

use js_sys::{Float32Array, Object, Reflect};
use modnet::{LiveChunk, LiveWindow, SampleRate};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AudioContext, AudioContextOptions, AudioWorkletNode, AudioWorkletNodeOptions, ChannelCountMode,
    MediaStream, MediaStreamConstraints, MediaStreamTrack, MessageEvent,
};

use crate::browser::js_error;

/// Seconds between live tags (the window is one model chunk).
pub const LIVE_HOP_SECONDS: f64 = 1.0;
/// Seconds per block the capture worklet posts.
pub const LIVE_BLOCK_SECONDS: f64 = 0.1;
/// Live windows' job numbers start here, apart from the clips' jobs.
const LIVE_JOBS: u32 = 1 << 31;

/// How live listening is going (what the page shows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listening {
    /// Fraction of the first window heard (1 once tags flow).
    pub filled: f32,
    /// Seconds heard.
    pub seconds: f64,
    /// Seconds between windows.
    pub hop_seconds: f64,
    /// Windows tagged, and windows dropped because the engine was still busy.
    pub tagged: u64,
    pub dropped: u64,
    /// Model time of the last window (ms).
    pub model_millis: Option<f64>,
    /// Median and longest model time of the windows tagged so far (ms): one window's time
    /// swings with whatever else the machine does.
    pub model_median_millis: Option<f64>,
    pub model_max_millis: Option<f64>,
    /// From the last window's last sample to its tags on the page (ms).
    pub latency_millis: Option<f64>,
}

/// The microphone's side of live listening, kept off the reactive graph: the rolling window
/// and the one window at the engine.
pub struct LiveSession {
    microphone: Option<Microphone>,
    window: LiveWindow,
    /// Samples per second heard.
    rate: SampleRate,
    /// The window at the engine: its job and when it was sent (ms on the page's clock).
    in_flight: Option<(u32, f64)>,
    /// Live windows sent so far (their jobs count from [`LIVE_JOBS`]).
    sent: u32,
    /// Model times of the windows tagged (ms), in ascending order.
    model_times: Vec<f64>,
}

impl LiveSession {
    /// A session over `window`, heard at `rate` (the microphone comes once open).
    pub fn new(window: LiveWindow, rate: SampleRate) -> Self {
        Self {
            microphone: None,
            window,
            rate,
            in_flight: None,
            sent: 0,
            model_times: Vec::new(),
        }
    }

    /// The microphone, once the browser has opened it.
    pub fn set_microphone(&mut self, microphone: Microphone) {
        self.microphone = Some(microphone);
    }

    /// A block heard at `now`: `listening` is brought up to date, and the window to send comes
    /// with its job, unless the engine is still busy with the last one (then it is dropped).
    pub fn hear(
        &mut self,
        samples: &[f32],
        now: f64,
        listening: &mut Listening,
    ) -> Option<(u32, LiveChunk)> {
        self.window.push(samples);
        let chunk = self.window.take(self.in_flight.is_some());
        listening.filled = self.window.filled();
        listening.seconds = self.rate.seconds(self.window.heard() as usize);
        listening.dropped = self.window.dropped();
        let chunk = chunk?;
        self.sent += 1;
        let job = LIVE_JOBS.wrapping_add(self.sent);
        self.in_flight = Some((job, now));
        Some((job, chunk))
    }

    /// The engine answered `job` at `now`: whether it is the window at the engine (late news
    /// from an earlier session is not shown), with `listening` brought up to date.
    pub fn answered(
        &mut self,
        job: u32,
        now: f64,
        model_millis: f64,
        listening: &mut Listening,
    ) -> bool {
        match self.in_flight {
            Some((sent_job, sent)) if sent_job == job => {
                self.in_flight = None;
                listening.tagged = self.window.taken();
                listening.model_millis = Some(model_millis);
                let at = self.model_times.partition_point(|&t| t < model_millis);
                self.model_times.insert(at, model_millis);
                listening.model_median_millis = median(&self.model_times);
                listening.model_max_millis = self.model_times.last().copied();
                listening.latency_millis = Some(now - sent);
                true
            }
            _ => false,
        }
    }

    /// The engine failed `job`: when it was the window at the engine, the next one may go.
    pub fn failed(&mut self, job: u32) {
        if self.in_flight.is_some_and(|(j, _)| j == job) {
            self.in_flight = None;
        }
    }

    /// The engine was replaced: the window sent to the old one will never come back.
    pub fn engine_replaced(&mut self) {
        self.in_flight = None;
    }
}

/// The median of ascending `values`.
fn median(values: &[f64]) -> Option<f64> {
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The worklet module, copied next to the page by trunk.
const WORKLET: &str = "./capture-worklet.js";

/// An open microphone. Dropping it stops the capture and releases the device.
pub struct Microphone {
    context: AudioContext,
    stream: MediaStream,
    _node: AudioWorkletNode,
    _on_block: Closure<dyn FnMut(MessageEvent)>,
}

impl Microphone {
    /// Opens the default microphone at `rate`; `on_block` gets every `block` mono samples.
    pub async fn open(
        rate: SampleRate,
        block: usize,
        mut on_block: impl FnMut(Vec<f32>) + 'static,
    ) -> Result<Self, String> {
        let window = web_sys::window().ok_or("no window")?;
        let navigator = window.navigator();
        let has_devices = Reflect::get(&navigator, &"mediaDevices".into())
            .is_ok_and(|d| !d.is_undefined() && !d.is_null());
        if !has_devices {
            return Err(
                "this page cannot use a microphone here: browsers allow it only on \
                        https:// or localhost addresses"
                    .into(),
            );
        }
        let devices = navigator.media_devices().map_err(js_error)?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::TRUE);
        let asked = devices
            .get_user_media_with_constraints(&constraints)
            .map_err(js_error)?;
        let stream: MediaStream = JsFuture::from(asked)
            .await
            .map_err(|e| format!("no microphone: {}", js_error(e)))?
            .unchecked_into();
        let opened = Self::connect(&stream, rate, block, move |event: MessageEvent| {
            if let Ok(samples) = event.data().dyn_into::<Float32Array>() {
                on_block(samples.to_vec());
            }
        })
        .await;
        if opened.is_err() {
            stop(&stream);
        }
        let (context, node, on_block) = opened?;
        Ok(Self {
            context,
            stream,
            _node: node,
            _on_block: on_block,
        })
    }

    async fn connect(
        stream: &MediaStream,
        rate: SampleRate,
        block: usize,
        on_message: impl FnMut(MessageEvent) + 'static,
    ) -> Result<
        (
            AudioContext,
            AudioWorkletNode,
            Closure<dyn FnMut(MessageEvent)>,
        ),
        String,
    > {
        let options = AudioContextOptions::new();
        options.set_sample_rate(rate.hz() as f32);
        let context = AudioContext::new_with_context_options(&options)
            .map_err(|e| format!("no audio context at {rate}: {}", js_error(e)))?;
        let connected = async {
            let worklet = context.audio_worklet().map_err(js_error)?;
            JsFuture::from(worklet.add_module(WORKLET).map_err(js_error)?)
                .await
                .map_err(|e| format!("the capture worklet did not load: {}", js_error(e)))?;
            let source = context.create_media_stream_source(stream).map_err(|e| {
                format!(
                    "this browser cannot resample the microphone to {rate}: {}",
                    js_error(e)
                )
            })?;
            let node_options = AudioWorkletNodeOptions::new();
            node_options.set_number_of_inputs(1);
            node_options.set_number_of_outputs(1);
            // One input channel: Web Audio mixes the microphone down to mono.
            node_options.set_channel_count(1);
            node_options.set_channel_count_mode(ChannelCountMode::Explicit);
            let processor = Object::new();
            let _ = Reflect::set(&processor, &"hop".into(), &(block as u32).into());
            node_options.set_processor_options(Some(&processor));
            let node =
                AudioWorkletNode::new_with_options(&context, "modnet-capture", &node_options)
                    .map_err(js_error)?;
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(on_message);
            node.port()
                .map_err(js_error)?
                .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            source.connect_with_audio_node(&node).map_err(js_error)?;
            // Pulled by the destination through a silent gain: the worklet runs, nothing is
            // played back (no feedback).
            let mute = context.create_gain().map_err(js_error)?;
            mute.gain().set_value(0.0);
            node.connect_with_audio_node(&mute).map_err(js_error)?;
            mute.connect_with_audio_node(&context.destination())
                .map_err(js_error)?;
            // A context made outside a click may start suspended.
            let _ = context.resume();
            Ok::<_, String>((node, on_message))
        }
        .await;
        match connected {
            Ok((node, on_message)) => Ok((context, node, on_message)),
            Err(e) => {
                let _ = context.close();
                Err(e)
            }
        }
    }

    /// The capture's sample rate (the model's).
    pub fn rate(&self) -> f32 {
        self.context.sample_rate()
    }
}

fn stop(stream: &MediaStream) {
    for track in stream.get_tracks() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.stop();
        }
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        stop(&self.stream);
        let _ = self.context.close();
    }
}
