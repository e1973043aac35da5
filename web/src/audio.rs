//! Audio files into the model's input: the browser's own decoder (Web Audio API), resampled to the
//! model's rate by an `OfflineAudioContext` at that rate, then downmixed to mono.

use js_sys::ArrayBuffer;
use modnet::SampleRate;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AudioBuffer, OfflineAudioContext};

/// A decoded clip.
pub struct Decoded {
    /// Mono samples at `sample_rate`.
    pub samples: Vec<f32>,
    /// The file's channel count, for the page to show.
    pub channels: u32,
}

/// Decodes `bytes` (any format the browser reads) to mono at `sample_rate`.
pub async fn decode(bytes: ArrayBuffer, sample_rate: SampleRate) -> Result<Decoded, String> {
    if bytes.byte_length() == 0 {
        return Err("the file is empty".into());
    }
    // decodeAudioData resamples to its context's rate: a context at the model's rate does the
    // resampling in the browser's decoder, off the main thread.
    let context = OfflineAudioContext::new_with_number_of_channels_and_length_and_sample_rate(
        1,
        1,
        sample_rate.hz() as f32,
    )
    .map_err(|e| format!("this browser cannot make an audio context at {sample_rate}: {e:?}"))?;
    let promise = context
        .decode_audio_data(&bytes)
        .map_err(|e| format!("decoding could not start: {e:?}"))?;
    let buffer: AudioBuffer = JsFuture::from(promise)
        .await
        .map_err(|_| {
            "not an audio file this browser can decode (corrupt, or another kind of file)"
                .to_string()
        })?
        .unchecked_into();
    let channels = buffer.number_of_channels();
    let len = buffer.length() as usize;
    if len == 0 || channels == 0 {
        return Err("the file decodes to no audio at all".into());
    }
    let mut samples = vec![0.0f32; len];
    for c in 0..channels {
        let channel = buffer
            .get_channel_data(c)
            .map_err(|e| format!("reading channel {c} failed: {e:?}"))?;
        for (s, x) in samples.iter_mut().zip(&channel) {
            *s += x / channels as f32;
        }
    }
    Ok(Decoded { samples, channels })
}
