//! Fuzzing the two readers of untrusted bytes: the decoders' entry (`audio::decode`,
//! `audio::duration_seconds`) and the result tables' reader (`Table::open`). Each case is a seed
//! file mutated the way damaged or hostile files differ from good ones — header words set to
//! 0, 1 or all ones, flipped bits, cuts, repeated and inserted spans — with a fixed seed, so a
//! failure is reproducible by its case number.
//!
//! What must hold for every case: no panic reaches the caller (a decoder's own is an error,
//! counted here); nothing is held past [`LIMIT`] (the process aborts: a header word sizing an
//! allocation took 23 GB once) and the peak resident memory stays under [`PEAK_MB`]; a refused
//! table is left byte for byte as it was, and an accepted one only loses an unfinished last row
//! or gains a newline.
//!
//! One kind of allocation is let past [`LIMIT`]: a single zeroed buffer of at most 4 GiB.
//! symphonia sizes those by a header's 32-bit length (FLAC and Vorbis comments, WAV `INFO`
//! chunks) and fills them from the file; the system maps them lazily, so only the bytes the file
//! really holds are touched — the resident peak, checked, is what takes a machine down.
//!
//! The test run does a few hundred cases. The long run (`MODNET_FUZZ_SECONDS=3600`, see
//! README) cycles until its time is up, printing its progress. Before each case its bytes are
//! written to `$MODNET_FUZZ_OUT/current.*` (else the system's temporary folder) so that an
//! abort leaves the input that caused it; a panicking case is kept as `failure-N.*`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use modnet::SampleRate;
use modnet_audio::audio;
use modnet_audio::tables::{Format, Row, Table};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The most this process may hold at once. Decoding a seed needs a few MB; anything near
/// this is an allocation sized by a damaged header.
const LIMIT: usize = 1 << 30;

/// The most resident memory the whole run may reach (its own seeds and tables included).
const PEAK_MB: u64 = 512;

/// Larger than any buffer that decoding a seed needs: past this only a zeroed buffer of at most
/// 4 GiB is let through (see above), and it is not counted in [`HELD`].
const LAZY: usize = 64 << 20;

/// The system allocator, refusing past [`LIMIT`] (the caller then aborts).
struct Bounded;

/// Bytes held, except the lazily mapped zeroed buffers.
static HELD: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LAZY
            || HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size() > LIMIT
        {
            if layout.size() <= LAZY {
                HELD.fetch_sub(layout.size(), Ordering::Relaxed);
            }
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LAZY {
            if layout.size() > u32::MAX as usize {
                return std::ptr::null_mut();
            }
            return unsafe { System.alloc_zeroed(layout) };
        }
        let ptr = unsafe { self.alloc(layout) };
        if !ptr.is_null() {
            unsafe { ptr.write_bytes(0, layout.size()) };
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() <= LAZY {
            HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;

/// Cases per seed file in the test run (the long run goes on until its time is up).
const CASES_PER_SEED: usize = 200;

fn seeds_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fuzz")
}

/// The long run's length, if one was asked for.
fn long_run() -> Option<Duration> {
    let seconds = std::env::var("MODNET_FUZZ_SECONDS").ok()?;
    Some(Duration::from_secs(seconds.parse().expect(
        "MODNET_FUZZ_SECONDS must be a whole number of seconds",
    )))
}

fn out_folder() -> PathBuf {
    std::env::var_os("MODNET_FUZZ_OUT").map_or_else(std::env::temp_dir, PathBuf::from)
}

/// Words a damaged header most often holds.
const INTERESTING: [u64; 9] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    u64::MAX,
];

/// One to four mutations of `seed`; half of them aimed at its first 128 bytes (the header).
fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if bytes.is_empty() {
            bytes.push(0);
        }
        let span = if rng.random_bool(0.5) {
            bytes.len().min(128)
        } else {
            bytes.len()
        };
        let at = rng.random_range(0..span);
        match rng.random_range(0..7) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = INTERESTING[rng.random_range(0..5)] as u8,
            2 => {
                let word = INTERESTING[rng.random_range(0..INTERESTING.len())];
                let width = [2, 4, 8][rng.random_range(0..3)];
                let le = word.to_le_bytes();
                let word: Vec<u8> = if rng.random_bool(0.5) {
                    le[..width].to_vec()
                } else {
                    le[..width].iter().rev().copied().collect()
                };
                let end = (at + width).min(bytes.len());
                bytes[at..end].copy_from_slice(&word[..end - at]);
            }
            3 => bytes.truncate(at),
            4 => {
                let end = rng.random_range(at..bytes.len().min(at + 512) + 1);
                let copy = bytes[at..end].to_vec();
                let to = rng.random_range(0..=bytes.len());
                bytes.splice(to..to, copy);
            }
            5 => {
                let n = rng.random_range(1..64);
                let noise: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                bytes.splice(at..at, noise);
            }
            _ => {
                let end = rng.random_range(at..bytes.len().min(at + 512) + 1);
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

/// Runs `case` on mutated seeds (it says whether the input was accepted) until the test run's count or the long run's time is
/// up; returns the panicking cases' descriptions.
fn run(name: &str, seeds: &[(String, Vec<u8>)], case: impl Fn(&str, &[u8]) -> bool) -> Vec<String> {
    let started = Instant::now();
    let long = long_run();
    let mut rng = StdRng::seed_from_u64(0x6d6f_646e_6574);
    let (mut n, mut accepted, mut failures) = (0usize, 0usize, Vec::new());
    let mut last_report = Instant::now();
    loop {
        for (ext, seed) in seeds {
            let count = if long.is_some() { 64 } else { CASES_PER_SEED };
            for _ in 0..count {
                let bytes = mutate(seed, &mut rng);
                let current = out_folder().join(format!("current-{name}.{ext}"));
                std::fs::write(&current, &bytes).unwrap();
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| case(ext, &bytes)));
                if let Ok(read) = outcome {
                    accepted += usize::from(read);
                } else {
                    let kept = out_folder().join(format!("failure-{name}-{n}.{ext}"));
                    std::fs::copy(&current, &kept).unwrap();
                    failures.push(format!("case {n} ({ext}), kept as {}", kept.display()));
                }
                n += 1;
            }
        }
        match long {
            Some(limit) if started.elapsed() < limit => {
                if last_report.elapsed() > Duration::from_secs(60) {
                    last_report = Instant::now();
                    eprintln!(
                        "{name}: {n} cases ({accepted} accepted) in {:.0} s, {} failures",
                        started.elapsed().as_secs_f64(),
                        failures.len()
                    );
                }
            }
            _ => break,
        }
    }
    eprintln!(
        "{name}: {n} cases ({accepted} accepted) in {:.1} s, {} failures",
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    failures
}

/// The process's peak resident memory so far, in MB (Linux's `VmHWM`).
fn peak_resident_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024
}

fn assert_peak_bounded() {
    let peak = peak_resident_mb();
    eprintln!("peak resident memory {peak} MB");
    assert!(peak < PEAK_MB, "the run reached {peak} MB resident");
}

fn audio_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(seeds_folder())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let ext = path.extension().unwrap().to_str().unwrap().to_string();
            (ext, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 8, "the fuzz seeds are missing");
    seeds
}

#[test]
fn damaged_audio_is_refused_or_read_never_a_panic_or_a_huge_allocation() {
    let seeds = audio_seeds();
    let folder = tempfile::tempdir().unwrap();
    let caught = AtomicUsize::new(0);
    let count_caught = |outcome: &anyhow::Result<_>| {
        if let Err(e) = outcome
            && format!("{e:#}").contains("stopped on damaged data")
        {
            caught.fetch_add(1, Ordering::Relaxed);
        }
    };
    let failures = run("audio", &seeds, |ext, bytes| {
        let path = folder.path().join(format!("case.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        count_caught(&audio::duration_seconds(&path).map(|_| ()));
        let decoded = audio::decode(&path, SampleRate::new(16_000));
        if let Ok(signal) = &decoded {
            assert!(!signal.is_empty(), "a decoded signal is never empty");
        }
        count_caught(
            &decoded
                .as_ref()
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("{e:#}")),
        );
        decoded.is_ok()
    });
    eprintln!("decoder panics turned into errors: {}", caught.into_inner());
    assert!(failures.is_empty(), "panics: {failures:#?}");
    assert_peak_bounded();
}

fn tags() -> Vec<String> {
    ["guitar", "quiet", "choral"].map(String::from).to_vec()
}

/// A CSV and a JSON Lines table of three rows each, as `trainer tag` writes them.
fn table_seeds(folder: &Path) -> Vec<(String, Vec<u8>)> {
    [("csv", Format::Csv), ("jsonl", Format::Jsonl)]
        .into_iter()
        .map(|(ext, format)| {
            let path = folder.join(format!("seed.{ext}"));
            let mut table = Table::open(&path, format, &tags()).unwrap();
            for (i, file) in ["a.wav", "b, \"c\".mp3", "d/é.ogg"].iter().enumerate() {
                let row = Row {
                    file: file.to_string(),
                    seconds: 3.5 * i as f64,
                    probabilities: vec![0.25, 0.5 + i as f32 / 10.0, 1e-7],
                    top: vec!["quiet".into(), "guitar".into()],
                };
                table.append(&row).unwrap();
            }
            drop(table);
            (ext.to_string(), std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn damaged_tables_are_refused_untouched_or_resumed_never_a_panic() {
    let folder = tempfile::tempdir().unwrap();
    let seeds = table_seeds(folder.path());
    let failures = run("tables", &seeds, |ext, bytes| {
        let path = folder.path().join(format!("case.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        let format = if ext == "csv" {
            Format::Csv
        } else {
            Format::Jsonl
        };
        let opened = Table::open(&path, format, &tags());
        let after = std::fs::read(&path).unwrap();
        let accepted = opened.is_ok();
        match opened {
            Err(_) => assert_eq!(after, bytes, "a refused table was changed"),
            Ok(_) if bytes.is_empty() => {}
            Ok(_) => assert!(
                after == bytes
                    || (after.len() == bytes.len() + 1 && after.ends_with(b"\n"))
                    || (after.len() < bytes.len() && bytes.starts_with(&after)),
                "an accepted table was changed other than at its end"
            ),
        }
        accepted
    });
    assert!(
        failures.is_empty(),
        "panics or broken promises: {failures:#?}"
    );
    assert_peak_bounded();
}

/// Inputs the long run found, kept: each panicked inside symphonia or sized a 1.7 GB buffer by
/// a comment's length; each must stay an error naming the file (or be read), never a panic.
#[test]
fn what_the_fuzzing_found_stays_an_error() {
    let folder = seeds_folder().join("../fuzz-findings");
    let mut found = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".md") {
            continue;
        }
        let outcome = audio::decode(&path, SampleRate::new(16_000));
        if let Err(e) = outcome {
            assert!(
                format!("{e:#}").contains(&name),
                "the error names the file: {e:#}"
            );
        }
        found += 1;
    }
    assert!(found >= 5, "the findings are missing");
}
