//! End-to-end runs of the `trainer` binary on tiny data made here: the synthetic default, an
//! MTAT-format tree, a folder dataset, a run killed with SIGKILL and resumed, corrupt files.
//! Small settings throughout (1 s chunks, a handful of clips, Flex on the CPU).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

mod datasets;
mod library;
mod resume;
mod run_folder;
mod synthetic;

/// Width and height of a PNG file (from its IHDR chunk), checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (word(16), word(20))
}

/// A run's log without its wall times.
fn log_numbers(run: &Path) -> Vec<serde_json::Value> {
    let log: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(run.join("log.json")).unwrap()).unwrap();
    log.into_iter()
        .map(|mut row| {
            row.as_object_mut().unwrap().remove("seconds");
            row
        })
        .collect()
}
