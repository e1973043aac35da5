//! The ModNet tagger in the browser.
//!
//! - [`app`]: the Leptos page (file drop, tags, timeline, pictures), no model code;
//! - [`audio`]: Web Audio decoding to the model's rate, mono;
//! - [`listen`]: the microphone through an AudioWorklet, for live tags;
//! - [`client`] / [`engine`]: the model in a web worker (Flex, or burn's wgpu on WebGPU),
//!   talking through [`messages`];
//! - [`draw`]: canvas drawing.

pub mod app;
pub mod audio;
pub mod client;
pub mod controller;
pub mod draw;
pub mod engine;
pub mod listen;
pub mod messages;
