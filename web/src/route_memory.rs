//! The convolution route the WebGPU engine timed fastest, remembered across visits per GPU and
//! model (the browser's `localStorage`), so that a revisit skips the timing: a few passes on a
//! real GPU, but each route's shaders compiled first, and a minute on a software GPU.
//!
//! Workers have no `localStorage`, so the page keeps the memory and hands it to the engine with
//! the weights; the engine, which knows its GPU and the model, picks the entry that is its own
//! ([`Convolutions::key`]). Where storage is refused (private windows, some embeddings) nothing
//! is remembered and each load times the routes, as before.

use crate::messages::Convolutions;

/// Storage keys of remembered routes start with this (one release's entries do not mix with
/// another's: the routes' code may differ).
const PREFIX: &str = concat!("modnet-gpu-conv ", env!("CARGO_PKG_VERSION"), " ");

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Every route remembered by this build of the page.
pub fn recalled() -> Vec<Convolutions> {
    let Some(storage) = storage() else {
        return Vec::new();
    };
    let count = storage.length().unwrap_or(0);
    (0..count)
        .filter_map(|i| storage.key(i).ok()?)
        .filter(|key| key.starts_with(PREFIX))
        .filter_map(|key| storage.get_item(&key).ok()?)
        .filter_map(|text| {
            let value = js_sys::JSON::parse(&text).ok()?;
            serde_wasm_bindgen::from_value(value).ok()
        })
        .collect()
}

/// Remembers `convolutions` for its GPU and model when this load timed them (a route the
/// address named, or one recalled, says nothing new).
pub fn keep(convolutions: &Convolutions) {
    if convolutions.timed.is_empty() || convolutions.earlier {
        return;
    }
    let Some(storage) = storage() else { return };
    let text = serde_wasm_bindgen::to_value(convolutions)
        .ok()
        .and_then(|value| js_sys::JSON::stringify(&value).ok())
        .and_then(|text| text.as_string());
    if let Some(text) = text {
        // A full or refused storage only costs the next visit a timing.
        let _ = storage.set_item(&format!("{PREFIX}{}", convolutions.key), &text);
    }
}
