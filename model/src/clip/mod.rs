//! The clip protocol: how a clip of any length becomes chunks and one score per tag
//! ([`protocol`], [`tagging`]), embeddings ([`embedding`]), a live stream's chunks ([`live`]),
//! and the one place a tensor's values come back from a device ([`read_back`]).

pub mod embedding;
pub mod live;
pub mod protocol;
pub mod read_back;
pub mod tagging;
