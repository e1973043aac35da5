//! Audio in, tags and embeddings out — what the trainer's `tag`, `embed` and `similar` and the
//! Python package share, with nothing of training or the command line in it.
//!
//! - Reading: [`audio`] decodes any file or standard input to a mono [`signal::Signal`] at the
//!   model's rate ([`resample`]), its rate checked against the header's claim first
//!   ([`stated_rate`]); a long signal is kept on disk, not in memory; a decoder's panic on
//!   damaged data is an error ([`guard`]).
//! - Files: what a path holds and atomic, refusing writes ([`files`]), the built-in weights;
//!   the audio files of a library ([`library`]); the result tables, resumable ([`tables`]).
//! - Running the model: the device ([`backend`]), a signal's clip tags ([`tagger`]) and
//!   embeddings ([`embeddings`]), the pictures of one chunk's inside ([`pictures`]).
//! - The user's own tags: which files teach them, learning them, head files ([`heads`]).

pub mod audio;
pub mod backend;
pub mod embeddings;
pub mod files;
pub mod guard;
pub mod heads;
pub mod library;
pub mod ogg_streams;
pub mod pictures;
pub mod resample;
pub mod rf64;
pub mod route;
pub mod signal;
pub mod stated_rate;
pub mod tables;
pub mod tagger;
