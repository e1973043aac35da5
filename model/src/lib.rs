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
//!   protocol ([`protocol`], [`tagging`]), weights to and from bytes ([`weights`]), filter responses
//!   ([`response`]).

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod config;
pub mod convolution;
pub mod embedding;
pub mod error;
pub mod frontend;
#[cfg(feature = "cpu-kernels")]
pub mod kernels;
pub mod live;
pub mod model;
pub mod modulation;
pub mod picture;
pub mod protocol;
pub mod rate;
pub mod read_back;
pub mod resnet;
pub mod response;
pub mod sinc;
pub mod strided;
pub mod tagging;
pub mod tags;
pub mod unfolded;
pub mod weights;

pub use config::{ModNetConfig, PRESETS};
pub use embedding::EmbeddingLayer;
pub use error::ModelError;
pub use frontend::{EnvelopeNorm, FrontEndConfig, Nonlinearity};
pub use live::{LiveChunk, LiveWindow};
pub use model::{Inside, ModNet};
pub use modulation::{FirInit, FirModulationConfig, MaxPoolEnvelopeConfig, TemporalConfig};
pub use picture::{FilterOrder, InsidePictures, Picture};
pub use protocol::{ChunkBatch, ChunkPlan, ClipSamples, EVAL_CHUNKS, TAG_BATCH};
pub use rate::SampleRate;
pub use resnet::{ResNetConfig, ResNetWidths};
pub use response::{BankResponses, FilterResponses};
pub use sinc::SincConv;
pub use sinc::{SincConvConfig, SincInit};
pub use tagging::{ClipResults, ClipTagging, ClipTags};
pub use tags::{MTAT_TAGS, TagGroup, mtat_tags};
