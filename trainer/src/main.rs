//! `trainer`: train, evaluate and run ModNet / SincModNet music taggers.
//!
//! `cargo run -p trainer --release` trains the CPU-sized model on the built-in synthetic
//! dataset; see `--help` for MTAT, your own music, GPUs and the other commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
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

/// `trainer tag A B C | head -2`: when the reader of standard output goes away, end quietly as
/// Unix tools do (SIGPIPE's default action) instead of panicking in `println!`. Rust starts
/// programs with SIGPIPE ignored, which turns the closed pipe into an error at every print.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
