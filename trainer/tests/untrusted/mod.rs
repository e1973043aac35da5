//! Untrusted input, as an attacker or a careless pipe hands it over (the second bad-input
//! probe): header rates no audio has, rates whose ratio to the model's reduces badly, a reader
//! that goes away, standard input into a table twice.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

mod inputs;
mod outputs;

/// `trainer ARGS` under a 4 GB address-space limit: a run that sizes an allocation by a
/// header's word dies of it here instead of taking the machine (it took 23 GB).
fn trainer_bounded(args: &[&str]) -> std::process::Output {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_trainer"));
    run_trainer(shell, args)
}

/// A WAV written at 16 kHz whose header then claims `rate` (bytes 24..28 of a plain header).
fn wav_claiming(path: &Path, rate: u32) {
    write_wav(path, 0.5, 16_000, 440.0, 1);
    let mut bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[12..16], b"fmt ");
    bytes[24..28].copy_from_slice(&rate.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}
