//! Helpers shared by the trainer's end-to-end tests: running the binary, tiny WAV files.
#![allow(dead_code)] // not every helper is used by every test file

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const TINY: [&str; 4] = ["--backend", "flex", "--chunk-seconds", "1"];
/// A few seconds of the built-in synthetic data: 8 / 4 / 4 clips of 1.5 s.
pub const TINY_SYNTH: [&str; 6] = ["--synth-clips", "8", "4", "4", "--synth-seconds", "1.5"];

pub fn trainer(args: &[&str]) -> Output {
    run_trainer(Command::new(env!("CARGO_BIN_EXE_trainer")), args)
}

/// Runs `command` (the trainer, or a shell that starts it) with `args` and no standard input,
/// showing what it printed.
pub fn run_trainer(mut command: Command, args: &[&str]) -> Output {
    let out = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("trainer runs");
    show(args, &out);
    out
}

/// Prints a run's command line and output (shown when its test fails).
fn show(args: &[&str], out: &Output) {
    eprintln!(
        "$ trainer {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ok(args: &[&str]) -> String {
    let out = trainer(args);
    assert!(out.status.success(), "trainer {} failed", args.join(" "));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A mono 16-bit WAV of a decaying tone at `rate` Hz.
pub fn write_wav(path: &Path, seconds: f32, rate: u32, freq: f32, channels: u16) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..(seconds * rate as f32) as usize {
        let t = n as f32 / rate as f32;
        let v = (std::f32::consts::TAU * freq * t).sin() * (-(t % 0.5) * 6.0).exp() * 0.5;
        for _ in 0..channels {
            w.write_sample((v * i16::MAX as f32) as i16).unwrap();
        }
    }
    w.finalize().unwrap();
}

pub fn log_epochs(run: &Path) -> Vec<usize> {
    std::fs::read_to_string(run.join("log.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}
