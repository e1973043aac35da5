//! The failures a bad-input probe found in the release `trainer` (tried as a tester who did not
//! write it), one test each: a valid file must never be refused, and a file that is not ours
//! must never be touched. The probe's row number is in each test's comment.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Runs the trainer with `stdin` fed to it, failing the test if it takes over `limit`
/// (the probe saw commands hang forever).
fn run_within(args: &[&std::ffi::OsStr], stdin: Option<&[u8]>, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainer"));
    cmd.args(args)
        .envs(envs.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("trainer runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    wait_within(child, Duration::from_secs(300), args)
}

fn wait_within(mut child: Child, limit: Duration, args: &[&std::ffi::OsStr]) -> Output {
    let started = Instant::now();
    // Read the pipes while waiting: a full pipe would stall the child.
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("trainer {args:?} hung (killed after {limit:?})");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    };
    eprintln!(
        "$ trainer {args:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

fn run(args: &[std::ffi::OsString]) -> Output {
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_within(&refs, None, &[])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that `out` is a refusal whose message holds `needle`.
fn assert_refused(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(!out.status.success() && err.contains(needle), "{err}");
}

/// The trainer with `args` on the CPU (Flex).
fn flex(args: &[&str]) -> Output {
    let mut all = os(args);
    all.extend(os(&["--backend", "flex"]));
    run(&all)
}

/// A mono 16-bit WAV of exactly `n` samples at `rate` Hz.
fn wav_of(path: &Path, n: usize, rate: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..n {
        let v = (i as f32 * 0.05).sin() * 0.3 + ((i * 7919) % 101) as f32 / 2000.0;
        w.write_sample((v * i16::MAX as f32) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// The rows of a CSV table (header left out).
fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Row 1: a 44.1 kHz file of exactly 100 × 4096 samples was refused ("Insufficient buffer
/// size 0"), as was a 30 s Ogg Vorbis song: every length around the resampler's block is tagged.
#[test]
fn files_of_whole_resampler_blocks_are_tagged() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (rate, blocks) in [(44_100u32, 30usize), (48_000, 12), (22_050, 20), (8_000, 3)] {
        for n in [blocks * 4096 - 1, blocks * 4096, blocks * 4096 + 1] {
            let path = dir.path().join(format!("r{rate}-n{n}.wav"));
            wav_of(&path, n, rate);
            files.push(path);
        }
    }
    let mut args = os(&["tag", "--json", "--backend", "flex"]);
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), files.len());
    for r in &results {
        assert!(r.get("error").is_none(), "{r}");
        assert_eq!(r["probabilities"].as_array().unwrap().len(), 50);
    }
}

/// Row 2: "dropped an unfinished last row" cut a user's own CSV (no final newline) and then
/// refused it; `--jsonl victim.mp3` and `--csv victim.flac` were written into. Now a file that
/// is not this command's table is refused before a byte is written, and named.
#[test]
fn a_file_that_is_not_our_table_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("x.wav");
    wav_of(&song, 16_000, 16_000);
    let mine = dir.path().join("mine.csv");
    let victim_mp3 = dir.path().join("victim.mp3");
    let victim_flac = dir.path().join("victim.flac");
    std::fs::write(&mine, b"title,artist\nSong,Me\nOther,You").unwrap();
    std::fs::write(
        &victim_mp3,
        b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64",
    )
    .unwrap();
    std::fs::write(&victim_flac, b"fLaC\x00\x00\x00\x22\x12\x00\x12\x00").unwrap();
    for (flag, target) in [
        ("--csv", &mine),
        ("--jsonl", &victim_mp3),
        ("--csv", &victim_flac),
        ("--jsonl", &mine),
    ] {
        let before = std::fs::read(target).unwrap();
        let out = flex(&["tag", s(&song), flag, s(target)]);
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "{flag} {}: accepted",
            target.display()
        );
        assert!(
            err.contains(s(target)) && err.contains("not changed"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(target).unwrap(),
            before,
            "{} touched",
            s(target)
        );
    }
    // The command's own table with its last row whole but unterminated (a user's editor) gets
    // its newline, not a cut.
    let table = dir.path().join("tags.csv");
    assert!(
        flex(&["tag", s(&song), "--csv", s(&table)])
            .status
            .success()
    );
    let text = std::fs::read_to_string(&table).unwrap();
    std::fs::write(&table, text.trim_end()).unwrap();
    let other = dir.path().join("y.wav");
    wav_of(&other, 20_000, 16_000);
    let out = flex(&["tag", s(&song), s(&other), "--csv", s(&table)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("dropped"), "{}", stderr(&out));
    let rows = csv_rows(&table);
    assert_eq!(rows.len(), 2, "x.wav kept, y.wav added");
    // --csv and --jsonl naming one file are refused.
    let out = run(&os(&[
        "tag",
        s(&song),
        "--csv",
        s(&table),
        "--jsonl",
        s(&table),
    ]));
    assert_refused(&out, "are one file");
}

/// Row 3: two `tag LIB --csv out.csv` at once wrote 32 rows for 16 files. The table is locked:
/// the second process is refused while the first writes, or finds everything done.
#[test]
fn two_processes_never_write_a_file_twice() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    for i in 0..16 {
        wav_of(&lib.join(format!("{i:02}.wav")), 8_000 + i * 300, 16_000);
    }
    let table = dir.path().join("out.csv");
    let args = os(&[
        "tag",
        s(&lib),
        "--csv",
        s(&table),
        "--backend",
        "flex",
        "--jobs",
        "1",
    ]);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let outs = [
        wait_within(a, Duration::from_secs(300), &refs),
        wait_within(b, Duration::from_secs(300), &refs),
    ];
    for out in &outs {
        assert!(
            out.status.success() || stderr(out).contains("locked"),
            "{}",
            stderr(out)
        );
    }
    let rows = csv_rows(&table);
    let files: std::collections::HashSet<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(rows.len(), 16, "one row per file");
    assert_eq!(files.len(), 16);
}

/// Row 4: `--jsonl /dev/stdout | cat` hung (the resume read opened the pipe). A pipe or `-` is
/// streamed to; the summary goes to stderr so that the stream holds only rows.
#[test]
fn rows_stream_to_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("x.wav");
    wav_of(&song, 20_000, 16_000);
    for (flag, target) in [("--jsonl", "/dev/stdout"), ("--jsonl", "-"), ("--csv", "-")] {
        let out = flex(&["tag", s(&song), flag, target]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        if flag == "--jsonl" {
            assert_eq!(lines.len(), 1, "{text}");
            let row: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
            assert_eq!(row["file"], s(&song));
        } else {
            assert_eq!(lines.len(), 2, "header and one row: {text}");
            assert!(lines[0].starts_with("file,seconds,"));
        }
        assert!(
            stderr(&out).contains("| files | tagged |"),
            "summary on stderr"
        );
    }
}

/// Row 5: a named pipe `stuck.wav` in a folder hung the run and the good file beside it was
/// never written. Rows 15 and 14: an empty folder printed nothing and exited 0; `/dev/zero`
/// was "empty"; standard input could not be read.
#[cfg(unix)]
#[test]
fn pipes_devices_empty_folders_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let good = lib.join("good.wav");
    wav_of(&good, 24_000, 22_050);
    let fifo = lib.join("stuck.wav");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let table = dir.path().join("out.csv");
    let out = flex(&["tag", s(&lib), "--csv", s(&table)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stuck.wav: a named pipe, not a regular file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(csv_rows(&table).len(), 1);

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for extra in [&[][..], &["--csv", s(&table)][..]] {
        let mut args = os(&["tag", s(&empty)]);
        args.extend(os(extra));
        let out = run(&args);
        assert!(!out.status.success());
        let said = stderr(&out) + &stdout(&out);
        assert!(
            said.contains(&format!("no audio files in {}", s(&empty))),
            "{said}"
        );
    }

    let out = flex(&["tag", "/dev/zero"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/dev/zero: it is a device"),
        "{}",
        stderr(&out)
    );

    // Standard input, as `-` and as /dev/stdin: the same numbers as the file.
    let bytes = std::fs::read(&good).unwrap();
    let from_file = flex(&["tag", s(&good), "--json"]);
    let expected: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    for name in ["-", "/dev/stdin"] {
        let args = os(&["tag", name, "--json", "--backend", "flex"]);
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let out = run_within(&refs, Some(&bytes), &[]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            got[0]["probabilities"], expected[0]["probabilities"],
            "{name}"
        );
        assert_eq!(got[0]["file"], name);
    }
}

/// Row 6: a folder with a link to itself and two links to its parent: one file was tagged 41
/// times, 1.75 GB and no table after 120 s. Each real file is tagged once.
#[cfg(unix)]
#[test]
fn symlink_loops_tag_each_real_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let lib = root.join("lib");
    wav_of(&lib.join("a.wav"), 16_000, 16_000);
    wav_of(&lib.join("b.wav"), 17_000, 16_000);
    wav_of(&root.join("other.wav"), 18_000, 16_000);
    std::os::unix::fs::symlink(".", lib.join("self")).unwrap();
    std::os::unix::fs::symlink("..", lib.join("up1")).unwrap();
    std::os::unix::fs::symlink("..", lib.join("up2")).unwrap();
    std::os::unix::fs::symlink("a.wav", lib.join("alias.wav")).unwrap();
    let table = dir.path().join("out.csv");
    let out = flex(&["tag", s(&lib), "--csv", s(&table)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = csv_rows(&table);
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| {
            Path::new(&r[0])
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a.wav", "b.wav", "other.wav"],
        "each real file once"
    );
    assert!(stderr(&out).contains("already walked"), "{}", stderr(&out));
}

/// Row 7: two files whose names differ only in bytes that are not UTF-8 gave one row. Each
/// has its own, its name escaped losslessly (`\xNN`).
#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_get_a_row_each() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    for byte in [0xe9u8, 0xe8] {
        let name = [b'c', b'a', b'f', byte, b'.', b'w', b'a', b'v'];
        wav_of(
            &lib.join(std::ffi::OsStr::from_bytes(&name)),
            16_000 + byte as usize,
            16_000,
        );
    }
    let (csv, jsonl) = (dir.path().join("t.csv"), dir.path().join("t.jsonl"));
    let out = flex(&["tag", s(&lib), "--csv", s(&csv), "--jsonl", s(&jsonl)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<String> = csv_rows(&csv)
        .iter()
        .map(|r| r[0].rsplit('/').next().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["caf\\xe8.wav", "caf\\xe9.wav"]);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.contains("caf\\\\xe9.wav") && text.contains("caf\\\\xe8.wav"),
        "{text}"
    );
    // A second run finds both done.
    let again = flex(&["tag", s(&lib), "--csv", s(&csv)]);
    assert!(
        stdout(&again).contains("| 2 | 0 | 2 | 0 |"),
        "{}",
        stdout(&again)
    );
}

/// A labels CSV for the folder dataset: `path,split,start,seconds,a,b` rows.
fn labels(path: &Path, rows: &[&str]) {
    let mut text = String::from("path,split,start,seconds,a,b\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

const TRAIN_TINY: [&str; 8] = [
    "--backend",
    "flex",
    "--chunk-seconds",
    "1",
    "--epochs",
    "1",
    "--preset",
    "small",
];

/// Row 8: `sub/x.wav` and `sub__x.wav` shared one cache entry, so one trained on the other's
/// audio. Rows 9 and 10: the same file as `a.wav` and `./a.wav` in two splits, and a segment
/// starting past its file's end, were accepted. Smaller: a refused run left an empty folder.
#[test]
fn cache_keys_splits_and_segments_name_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    wav_of(&data.join("sub/x.wav"), 16_000 * 2, 16_000);
    wav_of(&data.join("sub__x.wav"), 16_000 * 3, 16_000);
    let csv = dir.path().join("labels.csv");
    labels(
        &csv,
        &[
            "sub/x.wav,train,0,1,1,0",
            "sub__x.wav,train,0,1,0,1",
            "sub__x.wav,valid,1,1,0,1",
        ],
    );
    // (the last row is in another split than the file's first: fixed below)
    let prepare = os(&[
        "prepare",
        "--dataset",
        "folder",
        "--data-dir",
        s(&data),
        "--labels",
        s(&csv),
    ]);
    let out = run(&prepare);
    assert_refused(&out, "two splits");
    labels(
        &csv,
        &[
            "sub/x.wav,train,0,1,1,0",
            "sub__x.wav,valid,0,1,0,1",
            "./sub__x.wav,valid,1,1,0,1",
        ],
    );
    let out = run(&prepare);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut sizes: Vec<u64> = std::fs::read_dir(data.join(".modnet-cache"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [16_000 * 2 * 4, 16_000 * 3 * 4], "an entry per file");

    // The same file under two spellings in two splits.
    labels(
        &csv,
        &["sub/x.wav,train,0,1,1,0", "./sub/x.wav,valid,1,1,1,0"],
    );
    let run_dir = dir.path().join("runs/new");
    let mut args = os(&[
        "train",
        "--dataset",
        "folder",
        "--data-dir",
        s(&data),
        "--labels",
        s(&csv),
        "--out",
        s(&run_dir),
    ]);
    args.extend(os(&TRAIN_TINY));
    let out = run(&args);
    assert_refused(&out, "two splits");
    assert!(
        !dir.path().join("runs").exists(),
        "a refused run leaves no folder"
    );

    // A segment that starts after its file's end, named by its line.
    labels(
        &csv,
        &["sub/x.wav,train,0,1,1,0", "sub__x.wav,valid,1000,1,0,1"],
    );
    let out = run(&args);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("line 3") && err.contains("past the end") && err.contains("sub__x.wav"),
        "{err}"
    );
    assert!(
        !dir.path().join("runs").exists(),
        "a refused run leaves no folder"
    );
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Row 11: `--resume` with another `--seed` or `--synth-clips` continued on other data.
/// Smaller: a temporary file left by a killed write is removed; `--web-weights` that cannot be
/// written is refused before training.
#[test]
fn a_run_resumes_only_on_its_own_data() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    // A tiny synthetic run into `out` for `epochs`, with `extra` flags.
    let args = |out: &Path, epochs: &str, clips: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "train",
            "--out",
            s(out),
            "--epochs",
            epochs,
            "--backend",
            "flex",
            "--chunk-seconds",
            "1",
            "--synth-seconds",
            "1.5",
            "--synth-clips",
            clips,
            "4",
            "4",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    ok(&refs(&args(&run_dir, "1", "8", &[])));
    let checkpoint = std::fs::read(run_dir.join("checkpoint.bin")).unwrap();
    for (clips, extra, needle) in [
        ("8", &["--seed", "7"][..], "--seed was 42, now 7"),
        ("9", &[][..], "clips were [8, 4, 4], now [9, 4, 4]"),
    ] {
        let mut resume = vec!["--resume"];
        resume.extend(extra);
        let out = trainer(&refs(&args(&run_dir, "2", clips, &resume)));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{err}");
        assert_eq!(
            std::fs::read(run_dir.join("checkpoint.bin")).unwrap(),
            checkpoint
        );
    }
    // A killed write's leftover is removed by the next run into the folder.
    let stale = run_dir.join(".best.safetensors.a1b2c3.modnet-tmp");
    std::fs::write(&stale, b"half a file").unwrap();
    ok(&refs(&args(&run_dir, "2", "8", &["--resume"])));
    assert!(!stale.exists(), "the stale temporary file is gone");

    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let page = blocker.join("page.safetensors");
    let other = dir.path().join("other-run");
    let started = Instant::now();
    let out = trainer(&refs(&args(&other, "1", "8", &["--web-weights", s(&page)])));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("page.safetensors"));
    assert!(!other.exists(), "refused before the run folder was made");
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Rows 12 and 13: `similar` ranked NaN embeddings (every cosine 0, exit 0), and called a
/// folder query "no such file". Row 16: a signal longer than the memory bound is kept on disk
/// and tags and embeds exactly as in memory.
#[test]
fn similar_refuses_nan_and_folders_and_long_signals_wait_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    wav_of(&lib.join("a.wav"), 16_000 * 7, 16_000);
    wav_of(&lib.join("b.wav"), 44_100 * 4 + 11, 44_100);
    let emb = dir.path().join("emb.safetensors");
    assert!(flex(&["embed", s(&lib), "--out", s(&emb)]).status.success());

    let out = flex(&["similar", s(&lib), s(&emb)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a folder"), "{}", stderr(&out));

    // The same file with NaN in its clip embeddings.
    let bytes = std::fs::read(&emb).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let clip = file.tensor("clip").unwrap();
    let nan: Vec<u8> = clip
        .data()
        .chunks(4)
        .flat_map(|_| f32::NAN.to_le_bytes())
        .collect();
    let mut tensors: Vec<(String, safetensors::tensor::TensorView)> = file
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != "clip")
        .collect();
    tensors.push((
        "clip".into(),
        safetensors::tensor::TensorView::new(clip.dtype(), clip.shape().to_vec(), &nan).unwrap(),
    ));
    let poisoned = dir.path().join("nan.safetensors");
    std::fs::write(
        &poisoned,
        safetensors::serialize(tensors, header.metadata().clone()).unwrap(),
    )
    .unwrap();
    let out = flex(&["similar", s(&lib.join("a.wav")), s(&poisoned)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("NaN"), "{}", stderr(&out));

    // On disk past a bound of 20 000 samples: the same tags, timeline and embeddings.
    let tags = |envs: &[(&str, &str)], what: &[&str]| {
        let mut args = os(what);
        args.extend(os(&["--backend", "flex"]));
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let out = run_within(&refs, None, envs);
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    let small = [("MODNET_SIGNAL_MEMORY_SAMPLES", "20000")];
    let (a, b) = (lib.join("a.wav"), lib.join("b.wav"));
    let tag_args = ["tag", "--json", s(&a), s(&b)];
    assert_eq!(tags(&small, &tag_args), tags(&[], &tag_args));
    let (e1, e2) = (
        dir.path().join("e1.safetensors"),
        dir.path().join("e2.safetensors"),
    );
    tags(&small, &["embed", s(&lib), "--out", s(&e1)]);
    tags(&[], &["embed", s(&lib), "--out", s(&e2)]);
    assert_eq!(std::fs::read(&e1).unwrap(), std::fs::read(&e2).unwrap());
}
