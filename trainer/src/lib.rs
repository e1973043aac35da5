//! The trainer's library: datasets, audio reading, training, evaluation and the command line.
//! `main.rs` only calls [`cli::run`]; tests use the pieces directly.

pub mod args;
pub mod audio;
pub mod backend;
pub mod charts;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod data;
pub mod embeddings;
pub mod epoch;
pub mod evaluate;
pub mod files;
pub mod library;
pub mod metrics;
pub mod progress;
pub mod resample;
pub mod run;
pub mod signal;
pub mod stated_rate;
pub mod tables;
pub mod tagger;
pub mod train;
pub mod training;
