//! Training runs and their data: cache keys, splits and segments name each file once, a run
//! resumes only on its own data; `similar`'s refusals.

use super::*;

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
