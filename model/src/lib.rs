#![no_std]
#![warn(missing_docs)]
//! ModNet and SincModNet — "A Modulation Front-End for Music Audio Tagging" (Vahidi, Saitis,
//! Fazekas, IJCNN 2021) — in Burn, for the native trainer and the browser alike.
//!
//! The crate names no backend: tensors live on whatever [`burn::tensor::Device`] the caller
//! picks (Flex or NdArray on the CPU, wgpu/WebGPU or CUDA on a GPU). It builds `no_std` with
//! `alloc` (feature `std`, on by default, adds file helpers).
//!
//! ```text
//! waveform [B, N] ─ SincConv (80 × 257, stride 10) ─ r1 ─ modulation bank (M × 128, stride 16,
//! shared by all bands) ─ r2 ─ instance norm ─ 2-D ResNet (7 layers) ─ head ─ logits [B, tags]
//! ```
//!
//! - [`ModNetConfig`] and its presets ([`ModNetConfig::sincmodnet`], [`ModNetConfig::modnet`],
//!   [`ModNetConfig::maxpool_baseline`], [`ModNetConfig::small`]).
//! - [`ModNet`]: `forward`, the intermediate pictures `filterbank` and `modulation`, the clip
//!   protocol ([`clip`]), weights to and from bytes ([`weights`]), filter responses and pictures
//!   ([`inspect`]).

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod clip;
pub mod config;
pub mod error;
pub mod heads;
pub mod inspect;
pub mod kernels;
pub mod layers;
pub mod metrics;
pub mod model;
pub mod rate;
pub mod tags;
pub mod weights;

pub use clip::embedding::EmbeddingLayer;
pub use clip::live::{LiveChunk, LiveWindow};
pub use clip::protocol::{ChunkBatch, ChunkPlan, ClipSamples, EVAL_CHUNKS, TAG_BATCH};
pub use clip::tagging::{ClipResults, ClipTagging, ClipTags};
pub use config::{ModNetConfig, PRESETS};
pub use error::ModelError;
pub use heads::{BaseModel, TagHead, TagHeads};
pub use inspect::picture::{FilterOrder, InsidePictures, PICTURE_RANGE_DB, Picture, PictureValues};
pub use inspect::response::{BankResponses, FilterResponses, RESPONSE_POINTS};
pub use kernels::GpuConvolution;
pub use layers::frontend::{EnvelopeNorm, FrontEndConfig, Nonlinearity};
pub use layers::modulation::{FirInit, FirModulationConfig, MaxPoolEnvelopeConfig, TemporalConfig};
pub use layers::resnet::{ResNetConfig, ResNetWidths};
pub use layers::sinc::SincConv;
pub use layers::sinc::{SincConvConfig, SincInit};
pub use model::{Inside, ModNet};
pub use rate::SampleRate;
pub use tags::{MTAT_TAGS, TagGroup, mtat_tags};
