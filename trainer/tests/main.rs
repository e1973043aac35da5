//! The trainer's end-to-end tests, as one test binary: each file under `tests/` used to be a
//! binary of its own, and each linked burn, wgpu and the trainer again (minutes of CI a file).

mod common;

mod bad_input;
mod cli;
mod gpu;
mod learning;
mod probe;
mod reference;
mod teach;
mod untrusted;
