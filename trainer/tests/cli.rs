//! End-to-end runs of the `trainer` binary on tiny data made here: the synthetic default, an
//! MTAT-format tree, a folder dataset, a run killed with SIGKILL and resumed, corrupt files.
//! Small settings throughout (1 s chunks, a handful of clips, Flex on the CPU).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TINY: [&str; 4] = ["--backend", "flex", "--chunk-seconds", "1"];

fn trainer(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("trainer runs");
    eprintln!(
        "$ trainer {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(args: &[&str]) -> String {
    let out = trainer(args);
    assert!(out.status.success(), "trainer {} failed", args.join(" "));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A mono 16-bit WAV of a decaying tone at `rate` Hz.
fn write_wav(path: &Path, seconds: f32, rate: u32, freq: f32, channels: u16) {
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

fn log_epochs(run: &Path) -> Vec<usize> {
    std::fs::read_to_string(run.join("log.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn synthetic_train_eval_tag_export() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let synth = ["--synth-clips", "8", "4", "4", "--synth-seconds", "1.5"];
    let mut args = vec!["train", "--out", s(&run), "--epochs", "2"];
    args.extend(TINY);
    args.extend(synth);
    ok(&args);
    assert_eq!(log_epochs(&run), vec![1, 2]);
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("log.json")).unwrap()).unwrap();
    assert!(log[1]["valid_loss"].as_f64().unwrap().is_finite());
    let weights = run.join("best.safetensors");
    assert!(weights.exists() && run.join("checkpoint.bin").exists());

    let mut args = vec![
        "eval",
        "--weights",
        s(&weights),
        "--split",
        "test",
        "--backend",
        "flex",
    ];
    args.extend(synth);
    let report = ok(&args);
    assert!(report.contains("| **macro** |"), "{report}");
    assert!(report.contains("| tremolo |"), "per-tag table: {report}");
    assert!(weights.with_extension("test.json").exists());

    // Pictures of the run: filter responses (two panels), curves, per-tag bars.
    let report = ok(&["plot", "--run", s(&run)]);
    assert_eq!(png_size(&run.join("filters.png")), (1200, 900), "{report}");
    assert_eq!(png_size(&run.join("curves.png")), (1200, 450));
    let (w, h) = png_size(&run.join("tags.png"));
    assert!(w == 1000 && h >= 8 * 18, "one bar group per tag: {w}×{h}");

    let exported = dir.path().join("page.safetensors");
    ok(&["export", "--weights", s(&weights), "--out", s(&exported)]);
    assert_eq!(
        modnet::weights::read_config(&std::fs::read(&exported).unwrap())
            .unwrap()
            .tags
            .len(),
        8
    );

    // Tagging: a stereo 44.1 kHz file, a long file (timeline), a corrupt one and a missing one.
    let stereo = dir.path().join("stereo.wav");
    write_wav(&stereo, 2.0, 44_100, 330.0, 2);
    let long = dir.path().join("long.wav");
    write_wav(&long, 3.5, 16_000, 110.0, 1);
    let corrupt = dir.path().join("corrupt.mp3");
    std::fs::write(&corrupt, b"this is not audio at all, just text pretending").unwrap();
    let out = trainer(&[
        "tag",
        s(&stereo),
        s(&corrupt),
        s(&long),
        "/nonexistent.wav",
        "--weights",
        s(&weights),
        "--json",
    ]);
    assert!(
        !out.status.success(),
        "a failed file makes the exit status non-zero"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = json.as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert!(files[1]["error"].as_str().unwrap().contains("corrupt.mp3"));
    assert!(files[3]["error"].is_string());
    for i in [0, 2] {
        let p = files[i]["probabilities"].as_array().unwrap();
        assert_eq!(p.len(), 8);
        assert!(p.iter().all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap())));
    }
    assert_eq!(
        files[2]["timeline"].as_array().unwrap().len(),
        4,
        "3.5 s in 1 s chunks"
    );
    let table = ok(&["tag", s(&long), "--weights", s(&weights), "--top", "3"]);
    assert!(table.contains("| chunk start (s) |"), "{table}");
}

#[test]
fn a_killed_run_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = vec!["train", "--out", s(&run), "--epochs", "4"];
    args.extend(TINY);
    args.extend(["--synth-clips", "8", "4", "4", "--synth-seconds", "1.5"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = run.join("checkpoint.bin");
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no checkpoint after 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = log_epochs(&run);
    assert!(
        !done.is_empty() && done.len() < 4,
        "killed mid-run: {done:?}"
    );
    let mut resume = args.clone();
    resume.push("--resume");
    let out = trainer(&resume);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming after epoch"));
    assert_eq!(log_epochs(&run), vec![1, 2, 3, 4]);
}

/// An MTAT-format tree: a few clips of the standard split at their annotation rows, one
/// corrupt file among them.
fn mtat_fixture(root: &Path) -> PathBuf {
    let data = root.join("mtat");
    let tags = trainer::data::mtat::tags();
    let valid = trainer::data::mtat::row_list("valid");
    let test = trainer::data::mtat::row_list("test");
    let train = trainer::data::mtat::train_list();
    let rows = valid.iter().chain(&test).map(|(r, _)| *r).max().unwrap() + 1;
    let mut paths = vec![String::new(); rows];
    for (r, p) in valid.iter().chain(&test) {
        paths[*r] = p.clone();
    }
    let mut train_iter = train.iter();
    for p in paths.iter_mut().filter(|p| p.is_empty()) {
        *p = train_iter
            .next()
            .cloned()
            .unwrap_or_else(|| "x/unused.mp3".into());
    }
    let mut extra: Vec<String> = train_iter.cloned().collect();
    paths.append(&mut extra);
    let mut csv = String::from("\"clip_id\"");
    // Other MTAT columns around the 50 used ones, as in the real file.
    for t in std::iter::once("singer".to_string())
        .chain(tags.iter().cloned())
        .chain(["duet".to_string()])
    {
        csv += &format!("\t\"{t}\"");
    }
    csv += "\t\"mp3_path\"\n";
    let header: Vec<String> = csv
        .trim_end()
        .split('\t')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    for (row, path) in paths.iter().enumerate() {
        let mut fields = vec![format!("\"{row}\"")];
        for h in &header[1..header.len() - 1] {
            let on = tags
                .iter()
                .position(|t| t == h)
                .is_some_and(|i| (row + i) % 7 == 0);
            fields.push(format!("\"{}\"", on as u8));
        }
        fields.push(format!("\"{path}\""));
        csv += &(fields.join("\t") + "\n");
    }
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("annotations_final.csv"), csv).unwrap();
    // Audio (WAV data in .mp3 names: symphonia probes the content) for 6 train, 3 valid, 2 test
    // clips; plus one corrupt training file.
    for (i, p) in train
        .iter()
        .take(6)
        .chain(valid.iter().take(3).map(|(_, p)| p))
        .chain(test.iter().take(2).map(|(_, p)| p))
        .enumerate()
    {
        write_wav(&data.join(p), 1.5, 16_000, 100.0 + 50.0 * i as f32, 1);
    }
    std::fs::write(
        data.join(&train[6]),
        b"ID3 garbage that is not an mp3 stream",
    )
    .unwrap();
    data
}

#[test]
fn mtat_tree_prepare_train_eval() {
    let dir = tempfile::tempdir().unwrap();
    let data = mtat_fixture(dir.path());
    let cache = dir.path().join("cache");
    let common = [
        "--dataset",
        "mtat",
        "--data-dir",
        s(&data),
        "--cache-dir",
        s(&cache),
    ];
    let mut args = vec!["prepare"];
    args.extend(common);
    let report = ok(&args);
    assert!(
        report.contains("| 12 | 11 | 0 | 1 |"),
        "12 clips, 11 decoded, 1 failed: {report}"
    );
    assert!(report.contains("skipped"), "{report}");
    // Resumable: a second run decodes nothing.
    assert!(ok(&args).contains("| 12 | 0 | 11 | 1 |"));

    let run = dir.path().join("run");
    let mut args = vec!["train", "--out", s(&run), "--epochs", "1"];
    args.extend(TINY);
    args.extend(common);
    let out = trainer(&args);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("skipping"),
        "the corrupt clip is skipped"
    );
    let weights = run.join("best.safetensors");
    let mut args = vec!["eval", "--weights", s(&weights), "--backend", "flex"];
    args.extend(common);
    let report = ok(&args);
    assert!(
        report.contains("| guitar |") && report.contains("| **macro** |"),
        "{report}"
    );
}

#[test]
fn folder_dataset_with_soft_labels_and_random_split() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let mut csv = String::from("path,bright,dark\n");
    for i in 0..10 {
        let name = format!("song{i}.wav");
        write_wav(
            &music.join(&name),
            1.2,
            22_050,
            if i % 2 == 0 { 880.0 } else { 110.0 },
            1,
        );
        let b = if i % 2 == 0 { 0.9 } else { 0.1 };
        csv += &format!("{name},{b},{}\n", 1.0 - b);
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    let run = dir.path().join("run");
    let folder = [
        "train",
        "--dataset",
        "folder",
        "--data-dir",
        s(&music),
        "--labels",
        s(&labels),
        "--out",
        s(&run),
    ];
    let mut args = folder.to_vec();
    args.extend(["--epochs", "1"]);
    args.extend(TINY);
    ok(&args);
    let config =
        modnet::weights::read_config(&std::fs::read(run.join("best.safetensors")).unwrap())
            .unwrap();
    assert_eq!(config.tags, vec!["bright", "dark"]);

    // A bad label value is refused with its line.
    std::fs::write(&labels, "path,bright\nsong0.wav,7\n").unwrap();
    let mut args = folder.to_vec();
    args.extend(["--backend", "flex"]);
    let out = trainer(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn missing_dataset_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = trainer(&[
        "train",
        "--dataset",
        "mtat",
        "--data-dir",
        s(dir.path()),
        "--backend",
        "flex",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("annotations_final.csv"));
    let out = trainer(&[
        "tag",
        "x.wav",
        "--weights",
        s(&dir.path().join("none.safetensors")),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.safetensors"));
}

#[test]
fn sweep_over_strides_compares_tags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let mut args = vec![
        "sweep",
        "--strides",
        "16,64",
        "--out",
        s(&out),
        "--epochs",
        "1",
    ];
    args.extend(TINY);
    args.extend(["--synth-clips", "8", "4", "4", "--synth-seconds", "1.5"]);
    let report = ok(&args);
    assert!(
        report.contains("| tag | stride 16 | stride 64 |"),
        "{report}"
    );
    assert!(report.contains("| tremolo |"), "{report}");
    for stride in [16, 64] {
        let config =
            std::fs::read_to_string(out.join(format!("stride-{stride}/config.json"))).unwrap();
        assert!(
            config.contains(&format!("\"stride\": {stride},")),
            "{config}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 2);
    assert_eq!(json["runs"][1]["stride"], 64);
    assert_eq!(png_size(&out.join("sweep.png")).0, 1000);
}

#[test]
fn same_seed_same_numbers_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<Vec<serde_json::Value>> = ["a", "b"]
        .iter()
        .map(|name| {
            let run = dir.path().join(name);
            let mut args = vec!["train", "--out", s(&run), "--epochs", "2", "--seed", "7"];
            args.extend(TINY);
            args.extend(["--synth-clips", "8", "4", "4", "--synth-seconds", "1.5"]);
            ok(&args);
            let log: Vec<serde_json::Value> =
                serde_json::from_slice(&std::fs::read(run.join("log.json")).unwrap()).unwrap();
            log.into_iter()
                .map(|mut row| {
                    row.as_object_mut().unwrap().remove("seconds");
                    row
                })
                .collect()
        })
        .collect();
    assert_eq!(logs[0].len(), 2);
    assert_eq!(
        logs[0], logs[1],
        "two runs with the same seed give the same losses and metrics"
    );
}
