//! The microphone, live: `getUserMedia` → an `AudioContext` at the model's rate (the browser
//! resamples, as it does for files) → the `modnet-capture` AudioWorklet (`web/capture-worklet.js`),
//! which mixes down to mono and posts blocks of samples to the page. The rolling window and
//! its hop are the model crate's [`modnet::LiveWindow`].

use js_sys::{Float32Array, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AudioContext, AudioContextOptions, AudioWorkletNode, AudioWorkletNodeOptions, ChannelCountMode,
    MediaStream, MediaStreamConstraints, MediaStreamTrack, MessageEvent,
};

/// The worklet module, copied next to the page by trunk.
const WORKLET: &str = "./capture-worklet.js";

fn js_error(e: JsValue) -> String {
    Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// An open microphone. Dropping it stops the capture and releases the device.
pub struct Microphone {
    context: AudioContext,
    stream: MediaStream,
    _node: AudioWorkletNode,
    _on_block: Closure<dyn FnMut(MessageEvent)>,
}

impl Microphone {
    /// Opens the default microphone at `rate` Hz; `on_block` gets every `block` mono samples.
    pub async fn open(
        rate: u32,
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
        rate: u32,
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
        options.set_sample_rate(rate as f32);
        let context = AudioContext::new_with_context_options(&options)
            .map_err(|e| format!("no audio context at {rate} Hz: {}", js_error(e)))?;
        let connected = async {
            let worklet = context.audio_worklet().map_err(js_error)?;
            JsFuture::from(worklet.add_module(WORKLET).map_err(js_error)?)
                .await
                .map_err(|e| format!("the capture worklet did not load: {}", js_error(e)))?;
            let source = context.create_media_stream_source(stream).map_err(|e| {
                format!(
                    "this browser cannot resample the microphone to {rate} Hz: {}",
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
