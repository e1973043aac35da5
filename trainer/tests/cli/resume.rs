//! Runs killed with SIGKILL and resumed (at an epoch, within one), and a run started from
//! weights that keeps them until beaten.

use super::*;

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
    averages_the_kept_epochs(dir.path(), &run);
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

/// `average` makes one model of a run's last two epochs, which `eval` reads; weights of another
/// model are refused by name and nothing is written; one file is not an average.
fn averages_the_kept_epochs(dir: &Path, run: &Path) {
    let (third, fourth) = (
        run.join("epochs/epoch-003.safetensors"),
        run.join("epochs/epoch-004.safetensors"),
    );
    let mean = dir.join("mean.safetensors");
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
    let other = dir.join("other.safetensors");
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
