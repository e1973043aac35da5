//! The ModNet tagger in the browser.
//!
//! - [`app`]: the Leptos page (file drop, tags, timeline, pictures), no model code;
//! - [`audio`]: Web Audio decoding to the model's rate, mono;
//! - [`listen`]: the microphone through an AudioWorklet, for live tags;
//! - [`controller`]: the page's state and wiring; [`clip_job`]: a clip at the engines;
//! - [`pool`] / [`client`] / [`engine`]: the model in web workers (Flex, or burn's wgpu on
//!   WebGPU), talking through [`messages`];
//! - [`browser`]: errors, the clock, files and the address's options; [`route_memory`]: the
//!   WebGPU engine's convolution route, remembered across visits;
//! - [`draw`]: canvas drawing.

pub mod app;
pub mod audio;
pub mod browser;
pub mod client;
pub mod clip_job;
pub mod controller;
pub mod draw;
pub mod engine;
pub mod listen;
pub mod messages;
pub mod pool;
pub mod route_memory;
