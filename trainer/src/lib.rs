//! The trainer's library: datasets, training, evaluation and the command line (audio in and
//! tags out are `modnet_audio`'s).
//! `main.rs` only calls [`cli::run`]; tests use the pieces directly.

pub mod args;
pub mod charts;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod data;
pub mod epoch;
pub mod evaluate;
pub mod metrics;
pub mod progress;
pub mod run;
pub mod train;
pub mod training;
