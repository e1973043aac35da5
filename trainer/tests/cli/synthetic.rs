//! The default synthetic job end to end: train, evaluate, tag, export, sweep, bench, the
//! built-in model, and the same numbers from the same seed.

use super::*;

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
