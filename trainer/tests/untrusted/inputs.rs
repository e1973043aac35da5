//! What is read: header rates no audio has and odd ones, settings that cannot work, weights
//! that cannot give numbers, embeddings without a direction, paths too long to open, label files
//! that would lose a column.

use super::*;

/// Probe rows 1 and 2: 4 294 967 295 Hz grew to 23 GB, 0 Hz panicked inside symphonia.
#[test]
fn header_rates_no_audio_has_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [u32::MAX, 2_147_483_647, 768_001, 0] {
        let wav = dir.path().join(format!("claims-{rate}.wav"));
        wav_claiming(&wav, rate);
        let out = trainer_bounded(&["tag", "--backend", "flex", s(&wav)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{rate} Hz was taken");
        assert!(err.contains(&format!("{rate} Hz")), "{err}");
        assert!(err.contains(&format!("claims-{rate}.wav")), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("memory allocation"),
            "{err}"
        );
    }
}

/// Probe row 3: at 44 101 Hz a 3 s file came out as 2.5 s and a 0.25 s one as "empty".
#[test]
fn odd_rates_reach_the_model_whole() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, seconds) in [(44_101u32, 3.0f32), (22_051, 0.25)] {
        let wav = dir.path().join(format!("{rate}.wav"));
        write_wav(&wav, seconds, rate, 440.0, 1);
        let json: serde_json::Value =
            serde_json::from_str(&ok(&["tag", "--backend", "flex", "--json", s(&wav)])).unwrap();
        let got = json[0]["seconds"].as_f64().unwrap();
        assert!((got - seconds as f64).abs() < 1e-3, "{rate} Hz: {got} s");
    }
}

/// Probe rows 10, 14 and 16: two formats mixed on standard output, `--json` silently ignored
/// beside a table, weights read from a device until memory ran out, a memory bound that was
/// not a number silently ignored.
#[test]
fn settings_that_cannot_work_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, 0.5, 16_000, 440.0, 1);
    let refused = |args: &[&str], envs: &[(&str, &str)], needle: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was taken: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    let w = s(&wav);
    refused(
        &["tag", w, "--csv", "-", "--jsonl", "-"],
        &[],
        "two formats",
    );
    refused(&["tag", w, "--json", "--csv", "-"], &[], "--json");
    refused(
        &["tag", w, "--weights", "/dev/zero"],
        &[],
        "/dev/zero is a device",
    );
    let lots = [("MODNET_SIGNAL_MEMORY_SAMPLES", "lots")];
    refused(
        &["tag", "--backend", "flex", w],
        &lots,
        "MODNET_SIGNAL_MEMORY_SAMPLES",
    );
    let negative = [("MODNET_SIGNAL_MEMORY_SAMPLES", "-5")];
    refused(
        &["tag", "--backend", "flex", w],
        &negative,
        "MODNET_SIGNAL_MEMORY_SAMPLES",
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written"
    );
}

/// The built-in weights with every tensor rewritten by `f` (values as little-endian bytes)
/// into `dtype`, the configuration kept.
fn weights_rewritten(dtype: safetensors::Dtype, f: impl Fn(f32) -> Vec<u8>) -> Vec<u8> {
    use safetensors::SafeTensors;
    use safetensors::tensor::TensorView;
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../weights/modnet-mtat-distilled.safetensors"
    ))
    .unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = view
                .data()
                .chunks_exact(4)
                .flat_map(|b| f(f32::from_le_bytes(b.try_into().unwrap())))
                .collect();
            (name, view.shape().to_vec(), data)
        })
        .collect();
    let views = tensors.iter().map(|(name, shape, data)| {
        (
            name.clone(),
            TensorView::new(dtype, shape.clone(), data).unwrap(),
        )
    });
    safetensors::serialize(views, header.metadata().clone()).unwrap()
}

/// Probe row 13: weights ×1e30 (finite) gave 50 NaN probabilities and exit 0; F16 weights
/// panicked inside burn ("dtype mismatch").
#[test]
fn weights_that_cannot_give_numbers_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, 0.5, 16_000, 440.0, 1);
    let huge = dir.path().join("huge.safetensors");
    let scaled = weights_rewritten(safetensors::Dtype::F32, |v| {
        (v * 1e30).to_le_bytes().to_vec()
    });
    std::fs::write(&huge, scaled).unwrap();
    let half = dir.path().join("half.safetensors");
    // f32 → f16 by hand (round toward zero is enough for a dtype check).
    let to_f16 = |v: f32| {
        let b = v.to_bits();
        let sign = ((b >> 16) & 0x8000) as u16;
        let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
        let h = if exp <= 0 {
            sign
        } else if exp >= 31 {
            sign | 0x7c00
        } else {
            sign | ((exp as u16) << 10) | ((b >> 13) & 0x3ff) as u16
        };
        h.to_le_bytes().to_vec()
    };
    std::fs::write(&half, weights_rewritten(safetensors::Dtype::F16, to_f16)).unwrap();
    for (weights, needle) in [(&huge, "not finite"), (&half, "F16")] {
        let out = trainer(&["tag", "--backend", "flex", "--weights", s(weights), s(&wav)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `path`'s embeddings file with the clip embeddings of the rows in `zero` set to zeros.
fn zero_rows(path: &Path, zero: &[usize]) {
    use safetensors::SafeTensors;
    use safetensors::tensor::TensorView;
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let tensors: Vec<(String, TensorView)> = file.tensors();
    let mut clip = file.tensor("clip").unwrap().data().to_vec();
    let row = clip.len() / file.tensor("clip").unwrap().shape()[0];
    for &r in zero {
        clip[r * row..(r + 1) * row].fill(0);
    }
    let views = tensors.into_iter().map(|(name, view)| {
        let view = if name == "clip" {
            TensorView::new(view.dtype(), view.shape().to_vec(), &clip).unwrap()
        } else {
            view
        };
        (name, view)
    });
    let out = safetensors::serialize(views, header.metadata().clone()).unwrap();
    std::fs::write(path, out).unwrap();
}

/// Probe row 17: all-zero embeddings were ranked at cosine 0 (or the ranking was empty), exit 0.
#[test]
fn embeddings_without_a_direction_are_said_not_ranked() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    write_wav(&a, 1.0, 16_000, 440.0, 1);
    write_wav(&b, 1.0, 16_000, 880.0, 1);
    let emb = dir.path().join("e.safetensors");
    let e = s(&emb);
    ok(&["embed", "--backend", "flex", s(&a), s(&b), "--out", e]);
    zero_rows(&emb, &[1]);
    let out = trainer(&["similar", "--backend", "flex", s(&a), e]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("a.wav") && !stdout.contains("b.wav"),
        "{stdout}"
    );
    assert!(
        stderr.contains("b.wav") && stderr.contains("all zeros"),
        "{stderr}"
    );
    zero_rows(&emb, &[0, 1]);
    let out = trainer(&["similar", "--backend", "flex", s(&a), e]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("all zeros"));
}

/// Probe row 11: a file more than 4096 bytes of path deep was dropped without a word ("no
/// audio files"); it is listed as skipped, with why, and the rest of the library is tagged.
#[test]
fn a_path_too_long_to_open_is_listed_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    write_wav(&lib.join("near.wav"), 0.5, 16_000, 440.0, 1);
    // 21 nested folders of 250 bytes, built from the inside out so that no call is given a
    // long path: each is moved into a new short-named folder, which is then named as it.
    let name = "d".repeat(250);
    let build = dir.path().join("build");
    std::fs::create_dir(&build).unwrap();
    let mut inner = build.join("0");
    std::fs::create_dir(&inner).unwrap();
    std::fs::copy(lib.join("near.wav"), inner.join("deep.wav")).unwrap();
    for i in 1..=20 {
        let outer = build.join(i.to_string());
        std::fs::create_dir(&outer).unwrap();
        std::fs::rename(&inner, outer.join(&name)).unwrap();
        inner = outer;
    }
    std::fs::rename(&inner, lib.join(&name)).unwrap();
    let out = run_trainer(
        Command::new(env!("CARGO_BIN_EXE_trainer")),
        &["tag", s(&lib), "--backend", "flex"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("skipped 1 entries"), "{err}");
    assert!(err.contains("longer than the system can open"), "{err}");
}

/// Probe row 15: label CSVs with a column named twice, a column without a name, or a segment
/// running far past its file's end (1e12 s asked the loader for 64 PB) are refused by line and
/// column.
#[test]
fn label_files_that_would_lose_a_column_or_run_past_a_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("a.wav"), 4.0, 16_000, 440.0, 1);
    write_wav(&dir.path().join("b.wav"), 4.0, 16_000, 660.0, 1);
    for (csv, says) in [
        (
            "path,loud,loud\na.wav,1,0\nb.wav,0,1\n",
            "names `loud` twice (columns 2 and 3)",
        ),
        (
            "path,path,loud\na.wav,a.wav,1\nb.wav,b.wav,0\n",
            "names `path` twice",
        ),
        (
            "path,,loud\na.wav,1,0\nb.wav,0,1\n",
            "column 2 of the header has no name",
        ),
        (
            "path,start,seconds,split,loud\na.wav,0,1e12,train,1\nb.wav,0,3,valid,0\n",
            "line 2, column `seconds`: a segment of 1000000000000 s",
        ),
    ] {
        let labels = dir.path().join("labels.csv");
        std::fs::write(&labels, csv).unwrap();
        let out = trainer_bounded(&[
            "train",
            "--dataset",
            "folder",
            "--data-dir",
            s(dir.path()),
            "--labels",
            s(&labels),
            "--out",
            s(&dir.path().join("run")),
            "--epochs",
            "1",
            "--backend",
            "flex",
            "--chunk-seconds",
            "1",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{csv}: {err}");
        assert!(
            !dir.path().join("run").exists(),
            "a refused run left a folder"
        );
    }
}
