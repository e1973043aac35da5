//! `trainer`: train, evaluate and run ModNet / SincModNet music taggers.
//!
//! `cargo run -p trainer --release` trains the CPU-sized model on the built-in synthetic
//! dataset; see `--help` for MTAT, your own music, GPUs and the other commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Training and tagging reuse the same large buffers step after step.
    modnet::kernels::keep_freed_memory();
    match trainer::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
