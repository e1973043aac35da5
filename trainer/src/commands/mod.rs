//! One module per command: its flags and its `run`.

pub mod average;
pub mod bench;
pub mod bench_layers;
pub mod embed;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod plot;
pub mod prepare;
pub mod similar;
pub mod sweep;
pub mod tag;
pub mod teach;
pub mod train;
