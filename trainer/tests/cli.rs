//! End-to-end runs of the `trainer` binary on tiny data made here: the synthetic default, an
//! MTAT-format tree, a folder dataset, a run killed with SIGKILL and resumed, corrupt files.
//! Small settings throughout (1 s chunks, a handful of clips, Flex on the CPU).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

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

#[test]
fn synthetic_train_eval_tag_export() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let synth = TINY_SYNTH;
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
    let mut args = vec![
        "train",
        "--out",
        s(&run),
        "--epochs",
        "4",
        "--keep-epochs",
        "2",
    ];
    args.extend(TINY);
    args.extend(TINY_SYNTH);
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

    // Resumed = uninterrupted: the same losses and metrics as a run that was never killed
    // (data order, crops and dropout are drawn per epoch from the seed).
    let whole = dir.path().join("whole");
    let mut uninterrupted = args.clone();
    uninterrupted[2] = s(&whole);
    ok(&uninterrupted);
    assert_eq!(log_numbers(&run), log_numbers(&whole));

    // --keep-epochs 2: the last two epochs' weights stay, older ones go, a resume included.
    let kept = |run: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(run.join("epochs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        kept(&run),
        ["epoch-003.safetensors", "epoch-004.safetensors"]
    );
    // `average` makes one model of them, which `eval` reads.
    let (third, fourth) = (
        run.join("epochs/epoch-003.safetensors"),
        run.join("epochs/epoch-004.safetensors"),
    );
    let mean = dir.path().join("mean.safetensors");
    let report = String::from_utf8_lossy(
        &trainer(&[
            "average",
            "--weights",
            s(&third),
            s(&fourth),
            "--out",
            s(&mean),
        ])
        .stderr,
    )
    .into_owned();
    assert!(report.contains("the mean of 2 weights files"), "{report}");
    let mut eval = vec![
        "eval",
        "--weights",
        s(&mean),
        "--split",
        "valid",
        "--backend",
        "flex",
    ];
    eval.extend(TINY_SYNTH);
    assert!(ok(&eval).contains("| **macro** |"));
    // Weights of another model are refused by name, and nothing is written.
    let builtin = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../weights/modnet-mtat-distilled.safetensors"
    );
    let other = dir.path().join("other.safetensors");
    let out = trainer(&[
        "average",
        "--weights",
        s(&fourth),
        builtin,
        "--out",
        s(&other),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !other.exists());
    assert!(
        stderr.contains("modnet-mtat-distilled.safetensors is another model"),
        "{stderr}"
    );
    // One file is not an average.
    assert!(
        !trainer(&["average", "--weights", s(&fourth), "--out", s(&other)])
            .status
            .success()
    );
    // A new run in the folder (--overwrite) keeps none of the replaced run's epochs.
    let mut again = vec![
        "train",
        "--out",
        s(&run),
        "--epochs",
        "1",
        "--keep-epochs",
        "2",
    ];
    again.extend(TINY);
    again.extend(TINY_SYNTH);
    again.push("--overwrite");
    ok(&again);
    assert_eq!(kept(&run), ["epoch-001.safetensors"]);
}

/// A long epoch writes checkpoints within it (`--checkpoint-minutes`): a run killed after one
/// resumes at its batch, and ends where the uninterrupted run does.
#[test]
fn a_run_killed_within_an_epoch_resumes_at_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // 24 clips in batches of 2: 12 batches an epoch, a checkpoint after each.
    let mut args = vec!["train", "--out", s(&run)];
    args.extend(["--epochs", "2", "--batch-size", "2"]);
    args.extend(TINY);
    args.extend(["--synth-clips", "24", "4", "4", "--synth-seconds", "1.5"]);
    args.extend(["--checkpoint-minutes", "0.000001"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let first = line.starts_with("checkpoint within epoch 1: 1 of 12 batches");
        seen.push(line);
        if first {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL, a batch or so after the first checkpoint
    child.wait().unwrap();
    assert!(
        seen.last()
            .is_some_and(|l| l.starts_with("checkpoint within")),
        "no checkpoint within the epoch: {seen:?}"
    );
    assert!(
        !run.join("log.csv").exists(),
        "killed within the first epoch"
    );

    // Another batch size cannot go on within the epoch: its batches would hold other clips.
    let checkpoint = std::fs::read(run.join("checkpoint.bin")).unwrap();
    let mut other = args.clone();
    other[6] = "4";
    other.push("--resume");
    let out = trainer(&other);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("resume it with --batch-size 2"), "{stderr}");
    assert_eq!(
        std::fs::read(run.join("checkpoint.bin")).unwrap(),
        checkpoint
    );

    let mut resume = args.clone();
    resume.push("--resume");
    let out = trainer(&resume);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("resuming within epoch 1 after "),
        "{stderr}"
    );
    assert_eq!(log_epochs(&run), vec![1, 2]);
    let whole = dir.path().join("whole");
    let mut uninterrupted = args.clone();
    uninterrupted[2] = s(&whole);
    ok(&uninterrupted);
    assert_eq!(log_numbers(&run), log_numbers(&whole));
    let weights = |run: &Path| std::fs::read(run.join("best.safetensors")).unwrap();
    assert_eq!(weights(&run), weights(&whole), "the same best weights");
}

/// `--init-weights`: a run starts from a weights file whose model the flags describe, measures
/// it first, and keeps it as the best until an epoch beats it; other models are refused.
#[test]
fn a_run_starts_from_weights_and_keeps_them_until_beaten() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let mut args = vec!["train", "--out", s(&first), "--epochs", "2"];
    args.extend(TINY);
    args.extend(TINY_SYNTH);
    ok(&args);
    let start = first.join("best.safetensors");
    let best_loss = std::fs::read_to_string(first.join("log.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .fold(f64::INFINITY, f64::min);

    // Adam at lr 1 wrecks the model within an epoch: the starting weights stay the best, and
    // their validation loss is the first run's best (the same weights on the same clips).
    let next = dir.path().join("next");
    let mut from = args.clone();
    from[2] = s(&next);
    from[4] = "1";
    from.extend(["--init-weights", s(&start), "--lr", "1"]);
    let out = trainer(&from);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("the starting weights: valid loss {best_loss:.4}")),
        "{err}"
    );
    assert!(err.contains("at the starting weights"), "{err}");
    let worse = std::fs::read_to_string(next.join("log.csv")).unwrap();
    let worse: f64 = worse
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(worse > best_loss, "lr 1 did not wreck the model: {worse}");
    assert_eq!(
        std::fs::read(next.join("best.safetensors")).unwrap(),
        std::fs::read(&start).unwrap()
    );

    // Dropout is not a weight: the same weights go on training with another dropout.
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("config.json")).unwrap()).unwrap();
    assert_ne!(config["resnet"]["dropout"], 0.2);
    config["resnet"]["dropout"] = 0.2.into();
    let other_dropout = dir.path().join("dropout.json");
    std::fs::write(&other_dropout, config.to_string()).unwrap();
    let again = dir.path().join("again");
    let mut with_dropout = args.clone();
    with_dropout[2] = s(&again);
    with_dropout.extend(["--config", s(&other_dropout), "--init-weights", s(&start)]);
    let out = trainer(&with_dropout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("it goes on with 0.2"), "{err}");
    assert!(
        err.contains(&format!("the starting weights: valid loss {best_loss:.4}")),
        "{err}"
    );

    // Weights of another model, a missing file, with --resume or --prior-bias: refused before
    // any work, no run folder left behind.
    let refused = dir.path().join("refused");
    let missing = dir.path().join("missing.safetensors");
    for (extra, needle) in [
        (
            vec!["--init-weights", s(&start), "--widths", "8x8"],
            "resnet.widths",
        ),
        (vec!["--init-weights", s(&missing)], "missing.safetensors"),
        (
            vec!["--init-weights", s(&start), "--prior-bias"],
            "--prior-bias",
        ),
        (vec!["--init-weights", s(&start), "--resume"], "--resume"),
    ] {
        let mut bad = args.clone();
        bad[2] = s(&refused);
        bad.extend(&extra);
        let out = trainer(&bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} was accepted");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!refused.exists(), "{extra:?} left {}", refused.display());
    }
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
    let fresh = dir.path().join("fresh");
    let mut args = folder.to_vec();
    let last = args.len() - 1;
    args[last] = s(&fresh);
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
    args.extend(TINY_SYNTH);
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
            args.extend(TINY_SYNTH);
            ok(&args);
            log_numbers(&run)
        })
        .collect();
    assert_eq!(logs[0].len(), 2);
    assert_eq!(
        logs[0], logs[1],
        "two runs with the same seed give the same losses and metrics"
    );
}

/// The distillation corpus' form: chunk-level soft labels (a `start`/`seconds` segment per row)
/// of a few long files, trained with every augmentation and evaluated with a stated positive
/// threshold; a file in two splits and a missing path column are refused.
#[test]
fn segment_labels_train_with_augmentation_and_soft_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("corpus");
    let mut csv = String::from("path,start,seconds,split,bright,dark\n");
    for i in 0..6 {
        let name = format!("audio/track{i}.wav");
        write_wav(
            &music.join(&name),
            4.0,
            16_000,
            if i % 2 == 0 { 880.0 } else { 110.0 },
            1,
        );
        let split = ["train", "train", "train", "train", "valid", "valid"][i];
        for k in 0..4 {
            // Soft labels below 0.5, as a teacher gives them.
            let b = if i % 2 == 0 { 0.4 } else { 0.05 };
            csv += &format!("{name},{k}.000,1.0,{split},{b},{:.2}\n", 0.45 - b);
        }
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, &csv).unwrap();
    let data = [
        "--dataset",
        "folder",
        "--data-dir",
        s(&music),
        "--labels",
        s(&labels),
    ];
    let prepared = ok(&[&["prepare"][..], &data].concat());
    assert!(
        prepared.contains("| 6 | 6 | 0 | 0 |"),
        "one cache entry per file: {prepared}"
    );
    let run = dir.path().join("run");
    let mut args = vec![
        "train",
        "--out",
        s(&run),
        "--epochs",
        "2",
        "--batch-size",
        "4",
    ];
    args.extend(data);
    args.extend(TINY);
    args.extend([
        "--augment-gain-db",
        "6",
        "--augment-shift",
        "0.25",
        "--augment-mix",
        "0.5",
    ]);
    args.extend(["--positive-threshold", "0.3", "--min-positives", "2"]);
    ok(&args);
    assert_eq!(log_epochs(&run), [1, 2]);
    let weights = run.join("best.safetensors");
    let report = dir.path().join("valid.json");
    let mut eval = vec![
        "eval",
        "--weights",
        s(&weights),
        "--split",
        "valid",
        "--json",
        s(&report),
    ];
    eval.extend(data);
    eval.extend([
        "--backend",
        "flex",
        "--positive-threshold",
        "0.3",
        "--min-positives",
        "2",
    ]);
    let table = ok(&eval);
    assert!(table.contains("top tag among the labels' top 3"), "{table}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let e = &v["evaluation"];
    // Tags outside MTAT's vocabulary belong to the "other" group.
    assert_eq!(v["groups"], serde_json::json!(["other", "other"]));
    // Four rows of track 4 (bright 0.4 > 0.3) and none of track 5: "bright" has 4 positives,
    // "dark" (0.05 or 0.40) as many; at 0.5 neither would have any.
    assert_eq!(e["clips"].as_array().unwrap().len(), 8);
    assert_eq!(e["positives"]["threshold"].as_f64().unwrap() as f32, 0.3);
    assert!(e["metrics"]["roc_auc"][0].is_number(), "{e}");
    assert_eq!(e["metrics"]["undefined_tags"], 0);
    let loss = e["loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0);
    // The same rows judged at 0.5: no positives, so no tag is scored, and that is said.
    let mut strict = eval.clone();
    strict.truncate(strict.len() - 4);
    let table = ok(&strict);
    assert!(table.contains("2 tags have one class only"), "{table}");

    // A file in two splits, and a CSV without a path column, are refused by name.
    std::fs::write(
        &labels,
        csv.replacen(",0.000,1.0,valid,", ",0.000,1.0,train,", 1),
    )
    .unwrap();
    let out = trainer(&[&["train"][..], &data, &TINY].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("two splits"), "{err}");
    std::fs::write(&labels, "file,bright\na.wav,1\n").unwrap();
    let out = trainer(&[&["train"][..], &data, &TINY].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no `path` column"),
        "{err}"
    );
}

/// The shipped model: the 50 MTAT tags in order, used by `tag` when no --weights is given.
#[test]
fn builtin_model_speaks_mtat_and_tags_without_weights() {
    let model = modnet_audio::files::load_model(None, &burn::tensor::Device::flex()).unwrap();
    assert_eq!(model.config().tags, modnet::mtat_tags());
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("song.wav");
    write_wav(&wav, 8.0, 44_100, 440.0, 2);
    let json = ok(&["tag", s(&wav), "--json", "--top", "3"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let probs = v[0]["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 50);
    assert!(
        probs
            .iter()
            .all(|p| (0.0..=1.0).contains(&p.as_f64().unwrap()))
    );
    let top = v[0]["top"][0][0].as_str().unwrap();
    assert!(modnet::MTAT_TAGS.contains(&top), "{top}");

    // Ogg Opus (symphonia has no decoder for it): 3 s of stereo 48 kHz, decoded, trimmed of the
    // encoder delay, downmixed and resampled like any other file.
    let opus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/audio/pulse-stereo-48k.opus");
    let json = ok(&["tag", s(&opus), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let seconds = v[0]["seconds"].as_f64().unwrap();
    assert!((seconds - 3.0).abs() < 0.01, "{seconds} s");
    assert_eq!(v[0]["probabilities"].as_array().unwrap().len(), 50);
}

/// The default run writes only its run folder: a clone stays clean (it used to rewrite the
/// page's weights).
#[test]
fn default_run_writes_only_its_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("web/assets")).unwrap();
    std::fs::create_dir_all(dir.path().join("weights")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["train", "--synth-clips", "8", "4", "4", "--epochs", "1"])
        .args(TINY)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                written.push(p.strip_prefix(dir.path()).unwrap().to_path_buf());
            }
        }
    }
    assert!(!written.is_empty());
    for p in &written {
        assert!(
            p.starts_with("runs/default"),
            "the default run wrote {}",
            p.display()
        );
    }
}

/// The run folder is never lost: a second `train` into it is refused (or told --overwrite), a
/// resume without its checkpoint is refused by name, a refused resume writes nothing, and
/// impossible numbers are refused when parsed.
#[test]
fn the_run_folder_is_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = vec!["train", "--out", s(&run), "--epochs", "1"];
    args.extend(TINY);
    args.extend(TINY_SYNTH);
    ok(&args);
    let best = std::fs::read(run.join("best.safetensors")).unwrap();
    let config = std::fs::read(run.join("config.json")).unwrap();

    // Again without --resume: refused, nothing replaced.
    let out = trainer(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("already holds a run"),
        "{err}"
    );
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read(run.join("best.safetensors")).unwrap(), best);

    // --resume with another preset: refused, config.json untouched.
    let mut other = args.clone();
    other.extend(["--resume", "--widths", "8x8"]);
    let out = trainer(&other);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), config);

    // A damaged (truncated) checkpoint: refused by name, nothing replaced.
    let checkpoint = std::fs::read(run.join("checkpoint.bin")).unwrap();
    std::fs::write(
        run.join("checkpoint.bin"),
        &checkpoint[..checkpoint.len() / 2],
    )
    .unwrap();
    let mut resume = args.clone();
    resume.push("--resume");
    let out = trainer(&resume);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("damaged"), "{err}");
    assert_eq!(std::fs::read(run.join("best.safetensors")).unwrap(), best);

    // --resume when the checkpoint is gone but the best weights are there: refused by name.
    std::fs::remove_file(run.join("checkpoint.bin")).unwrap();
    let out = trainer(&resume);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("checkpoint.bin"),
        "{err}"
    );
    assert_eq!(std::fs::read(run.join("best.safetensors")).unwrap(), best);

    // --overwrite starts again.
    let mut again = args.clone();
    again.push("--overwrite");
    ok(&again);
    assert_eq!(log_epochs(&run), [1]);

    // Impossible numbers: refused at parse time with the valid range, nothing written.
    let fresh = dir.path().join("fresh");
    for (flag, value) in [
        ("--epochs", "0"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--lr", "-1"),
        ("--batch-size", "0"),
        ("--synth-seconds", "0"),
        ("--synth-seconds", "nan"),
        ("--synth-seconds", "-3"),
        ("--augment-mix", "2"),
        ("--positive-threshold", "1.5"),
        ("--widths", "0x8"),
    ] {
        let arg = format!("{flag}={value}");
        let out = trainer(&["train", "--out", s(&fresh), &arg, "--backend", "flex"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(
            err.contains(value) && err.contains(flag),
            "{flag} {value}: {err}"
        );
        assert!(!fresh.exists(), "{flag} {value} wrote {}", fresh.display());
    }
}

/// A whole library: folders walked, one CSV and one JSON Lines row per file, an unreadable file
/// listed at the end without stopping the run, a second run skipping what is done, and a row
/// cut short by a killed run dropped and written again.
#[test]
fn library_tagging_writes_tables_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    write_wav(&library.join("a/one.wav"), 3.5, 22_050, 440.0, 2);
    write_wav(&library.join("a/deeper/two.wav"), 2.0, 16_000, 110.0, 1);
    std::fs::write(library.join("a/broken.mp3"), b"not audio at all").unwrap();
    std::fs::write(library.join("notes.txt"), b"not taken from a folder").unwrap();
    let csv = dir.path().join("out/tags.csv");
    let jsonl = dir.path().join("out/tags.jsonl");
    let args = [
        "tag",
        s(&library),
        "--csv",
        s(&csv),
        "--jsonl",
        s(&jsonl),
        "--jobs",
        "2",
    ];
    let out = trainer(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a failed file gives a failing exit code"
    );
    assert!(stdout.contains("| 3 | 2 | 0 | 1 |"), "{stdout}");
    assert!(
        stdout.contains("broken.mp3: not a readable audio file"),
        "{stdout}"
    );

    // CSV: file, seconds, the 50 tags in the model's order, top.
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.len(), 53);
    assert_eq!(
        (&header[0][..], &header[1][..], &header[52][..]),
        ("file", "seconds", "top")
    );
    assert_eq!(header[2..52], *modnet::mtat_tags());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0][0].ends_with("two.wav") && rows[1][0].ends_with("one.wav"),
        "sorted walk"
    );
    assert!((rows[1][1].parse::<f64>().unwrap() - 3.5).abs() < 0.01);
    for row in &rows {
        let p: Vec<f32> = (2..52).map(|i| row[i].parse().unwrap()).collect();
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
        assert_eq!(row[52].split(';').count(), 5, "the five best tags");
    }
    // JSON Lines: the same files and numbers.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["file"].as_str().unwrap(), &rows[0][0]);
    let probabilities = first["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.len(), 50);
    assert_eq!(
        probabilities.keys().next().unwrap(),
        "guitar",
        "tags in the model's order"
    );
    let guitar: f32 = rows[0][2].parse().unwrap();
    assert!((probabilities["guitar"].as_f64().unwrap() as f32 - guitar).abs() < 1e-5);

    // Again: nothing to do but the broken file.
    let again = String::from_utf8_lossy(&trainer(&args).stdout).into_owned();
    assert!(again.contains("| 3 | 0 | 2 | 1 |"), "{again}");

    // A run killed while writing: half a CSV row, the JSONL row missing. The half row is
    // dropped; the file is tagged again and each table gets exactly one row for it.
    let text = std::fs::read_to_string(&csv).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 20;
    std::fs::write(&csv, &text[..cut]).unwrap();
    let jl = std::fs::read_to_string(&jsonl).unwrap();
    std::fs::write(&jsonl, jl.lines().next().unwrap().to_string() + "\n").unwrap();
    let out = trainer(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dropped an unfinished last row"), "{err}");
    let resumed = String::from_utf8_lossy(&out.stdout);
    assert!(resumed.contains("| 3 | 1 | 1 | 1 |"), "{resumed}");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        text,
        "the CSV is whole again"
    );
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 2);

    // A missing input is one more failure, named, and the rest is kept.
    let nowhere = dir.path().join("nowhere.wav");
    let out = trainer(&["tag", s(&nowhere), s(&library), "--csv", s(&csv)]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && listed.contains("nowhere.wav"),
        "{listed}"
    );
    assert!(listed.contains("| 4 | 0 | 2 | 2 |"), "{listed}");
}

/// Embeddings: shapes per chunk and per clip, the same file twice gives the same numbers, the
/// modulation summary's size, an unreadable file listed; `similar` ranks the query itself first.
#[test]
fn embeddings_and_similar_music() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    write_wav(&music.join("high.wav"), 7.0, 16_000, 880.0, 1);
    write_wav(&music.join("low.wav"), 4.0, 22_050, 110.0, 2);
    std::fs::write(music.join("broken.wav"), b"RIFF nothing").unwrap();
    let high = music.join("high.wav");
    let out = dir.path().join("emb.safetensors");
    let run = trainer(&["embed", s(&music), s(&high), "--out", s(&out)]);
    assert!(!run.status.success(), "the broken file is reported");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("broken.wav"), "{stdout}");
    let bytes = std::fs::read(&out).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let clip = file.tensor("clip").unwrap();
    // high.wav (from the folder) and low.wav; high.wav named again is the same file, taken
    // once and said. The built-in model's last width.
    assert_eq!(clip.shape(), [2, 128]);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("the same file as one already listed"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let chunks = file.tensor("chunks").unwrap();
    // 3 s chunks: 7 s → 3 (the last end-aligned), 4 s → 2.
    assert_eq!(chunks.shape(), [5, 128]);
    assert_eq!(file.tensor("chunk_file").unwrap().shape(), [5]);
    let starts: Vec<f32> = file
        .tensor("chunk_start_seconds")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(&starts[..3], &[0.0, 3.0, 4.0]);
    let rows: Vec<&[u8]> = clip.data().chunks(128 * 4).collect();
    assert_ne!(rows[0], rows[1]);
    // The same files again make the same file, byte for byte.
    let again = dir.path().join("again.safetensors");
    let rerun = trainer(&["embed", s(&music), "--out", s(&again)]);
    assert!(!rerun.status.success(), "the broken file again");
    assert_eq!(
        std::fs::read(&again).unwrap(),
        bytes,
        "the same embeddings, the same bytes"
    );

    let modulation = dir.path().join("mod.safetensors");
    ok(&[
        "embed",
        s(&high),
        "--out",
        s(&modulation),
        "--layer",
        "modulation",
    ]);
    let bytes = std::fs::read(&modulation).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        file.tensor("clip").unwrap().shape(),
        [1, 20 * 80],
        "M × bands"
    );

    let ranked = ok(&["similar", s(&high), s(&out), "--top", "3"]);
    let first = ranked.lines().find(|l| l.starts_with("| 1 |")).unwrap();
    assert!(
        first.contains("high.wav") && first.contains("| 1.0000 |"),
        "{ranked}"
    );
    // Audio targets are embedded on the fly.
    let ranked = ok(&["similar", s(&high), s(&music.join("low.wav")), s(&high)]);
    assert!(
        ranked
            .lines()
            .find(|l| l.starts_with("| 1 |"))
            .unwrap()
            .contains("high.wav")
    );
}

/// `bench` measures training and forward clips/s on the chosen device and prices an MTAT epoch.
#[test]
fn bench_prints_throughput_and_the_epoch_cost() {
    let out = ok(&[
        "bench",
        "--backend",
        "flex",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--chunk-seconds",
        "1",
        "--layers",
    ]);
    for row in [
        "| training, clips/s |",
        "| forward, clips/s |",
        "| data path alone (2 loader threads), clips/s |",
        "| loss, first → last step (one batch, F32) |",
        "| MTAT epoch (",
        "| 200 epochs",
    ] {
        assert!(out.contains(row), "{out}");
    }
    let value = |row: &str| -> f64 {
        out.lines()
            .find(|l| l.starts_with(row))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no number in the row {row}: {out}"))
    };
    let (train, forward, data) = (
        value("| training, clips/s |"),
        value("| forward, clips/s |"),
        value("| data path alone"),
    );
    assert!(train.is_finite() && data.is_finite(), "{out}");
    // A forward pass alone is cheaper than forward, backward and Adam together.
    assert!(
        forward > train,
        "forward {forward} vs training {train} clips/s: {out}"
    );
    // The epoch is costed at the slower of the model and the data path, and says which.
    let slower = if data < train {
        "data path's"
    } else {
        "model's"
    };
    assert!(out.contains(&format!("at the {slower} rate")), "{out}");
    // Two steps on one batch: the loss row holds two finite numbers.
    let losses = out
        .lines()
        .find(|l| l.starts_with("| loss, first → last step"))
        .and_then(|l| l.split('|').nth(2))
        .unwrap_or_default()
        .split('→')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default();
    assert!(
        losses.len() == 2 && losses.iter().all(|l| l.is_finite()),
        "{out}"
    );
    // `--layers`: each distinct convolution the forward pass ran (the ResNet's 3×3 ones on
    // Flex), on the CPU's one route, with three times in milliseconds.
    let layers: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("| cpu |"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert!(layers.len() >= 4, "too few convolutions timed: {out}");
    for row in &layers {
        assert!(row[2].ends_with("×3×3"), "not a 3×3 convolution: {row:?}");
        for ms in &row[6..9] {
            let ms: f64 = ms.parse().unwrap_or(f64::NAN);
            assert!(ms.is_finite() && ms >= 0.0, "{row:?}");
        }
    }
}
