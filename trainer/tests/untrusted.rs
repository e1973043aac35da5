//! Untrusted input, as an attacker or a careless pipe hands it over (the second bad-input
//! probe): header rates no audio has, rates whose ratio to the model's reduces badly, a reader
//! that goes away, standard input into a table twice.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// `trainer ARGS` under a 4 GB address-space limit: a run that sizes an allocation by a
/// header's word dies of it here instead of taking the machine (it took 23 GB).
fn trainer_bounded(args: &[&str]) -> std::process::Output {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_trainer"));
    run_trainer(shell, args)
}

/// A WAV written at 16 kHz whose header then claims `rate` (bytes 24..28 of a plain header).
fn wav_claiming(path: &Path, rate: u32) {
    write_wav(path, 0.5, 16_000, 440.0, 1);
    let mut bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[12..16], b"fmt ");
    bytes[24..28].copy_from_slice(&rate.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

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

/// Probe row 5: `tag A B C | head -2` panicked with "failed printing to stdout".
#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = (0..3)
        .map(|i| {
            let wav = dir.path().join(format!("{i}.wav"));
            write_wav(&wav, 0.5, 16_000, 300.0 + 100.0 * i as f32, 1);
            s(&wav).to_string()
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["tag", "--backend", "flex"])
        .args(&files)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's reader is gone (dropped above), as `head` leaves it.
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    eprintln!("{status:?}\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// Probe row 6: a second `tag - --csv T` said "tagged 1" and wrote no row.
#[test]
fn standard_input_into_a_table_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, 0.5, 16_000, 440.0, 1);
    let table = dir.path().join("t.csv");
    let tag_stdin = || {
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["tag", "--backend", "flex", "-", "--csv", s(&table)])
            .stdin(std::fs::File::open(&wav).unwrap())
            .output()
            .unwrap()
    };
    assert!(tag_stdin().status.success());
    let before = std::fs::read_to_string(&table).unwrap();
    assert_eq!(before.lines().count(), 2, "a header and one row");
    let second = tag_stdin();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(
        err.contains("standard input") && err.contains("t.csv"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&table).unwrap(), before);
}

/// Probe row 9: `--csv x --jsonl ./x`, a dangling link to the other table and two hard links
/// to one table were refused for the wrong reason ("locked by another process") and left a
/// header-only file behind; a table refused after the other was made left that one too.
#[test]
fn two_names_of_one_table_are_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, 0.5, 16_000, 440.0, 1);
    let tag_in_dir = |tables: &[&str]| {
        let mut args = vec!["tag", "--backend", "flex", "a.wav"];
        args.extend(tables);
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    std::os::unix::fs::symlink("y", dir.path().join("link")).unwrap();
    let before = listing();
    for tables in [
        ["--csv", "x", "--jsonl", "./x"],
        ["--csv", "y", "--jsonl", "link"],
    ] {
        let run = tag_in_dir(&tables);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{tables:?}: {err}");
        assert!(err.contains("are one file"), "{tables:?}: {err}");
        assert_eq!(listing(), before, "{tables:?}: nothing made");
    }
    // Two hard links to one table.
    assert!(tag_in_dir(&["--csv", "t.csv"]).status.success());
    let table = std::fs::read(dir.path().join("t.csv")).unwrap();
    std::fs::hard_link(dir.path().join("t.csv"), dir.path().join("h.jsonl")).unwrap();
    let run = tag_in_dir(&["--csv", "t.csv", "--jsonl", "h.jsonl"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && err.contains("are one file"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join("t.csv")).unwrap(), table);
    // A table refused (an mp3 is not a table) leaves nothing of the one opened before it.
    std::fs::write(dir.path().join("song.mp3"), b"ID3 not a table").unwrap();
    let before = listing();
    let run = tag_in_dir(&["--csv", "new.csv", "--jsonl", "song.mp3"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && err.contains("song.mp3"), "{err}");
    assert_eq!(listing(), before, "no new.csv left behind");
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

/// Probe row 12: `export --out`, `embed --out`, `average --out` and `eval --json` replaced a
/// user's mp3 without a word; like the tables, they now write only over their own kind.
#[test]
fn outputs_never_replace_a_file_that_is_not_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.mp3");
    let mp3 = b"ID3\x04\0\0\0\0\0\x10not really an mp3, but someone's file".to_vec();
    std::fs::write(&song, &mp3).unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, 0.5, 16_000, 440.0, 1);
    let weights = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../weights/modnet-mtat-distilled.safetensors"
    );
    let song_s = s(&song);
    for args in [
        vec!["export", "--weights", weights, "--out", song_s],
        vec!["embed", "--backend", "flex", s(&wav), "--out", song_s],
        vec!["average", "--weights", weights, weights, "--out", song_s],
    ] {
        let out = trainer(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} replaced the mp3");
        assert!(
            err.contains("refusing to replace") && err.contains("song.mp3"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&song).unwrap(),
            mp3,
            "{args:?} changed the mp3"
        );
    }
    // Its own kind is replaced as before: export over an exported file.
    let exported = dir.path().join("w.safetensors");
    let w = s(&exported);
    ok(&["export", "--weights", weights, "--out", w]);
    ok(&["export", "--weights", weights, "--out", w]);
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

/// Probe row 8: `tag ./lib --csv T` after `tag lib --csv T` tagged every file again (rows were
/// keyed by the path's spelling, not by the file).
#[test]
fn a_library_spelled_another_way_is_not_tagged_again() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    write_wav(&lib.join("a.wav"), 1.0, 16_000, 440.0, 1);
    write_wav(&lib.join("b.wav"), 1.0, 16_000, 660.0, 1);
    let table = dir.path().join("tags.csv");
    let tag = |input: &str| {
        let out = run_trainer(
            {
                let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
                c.current_dir(dir.path());
                c
            },
            &["tag", input, "--csv", s(&table), "--backend", "flex"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    tag("lib");
    let lib_abs = lib.display().to_string();
    for again in ["./lib", "lib/../lib", lib_abs.as_str()] {
        let said = tag(again);
        assert!(
            said.contains("0 to tag, 2 already in the output"),
            "{again}: {said}"
        );
    }
    let rows = std::fs::read_to_string(&table).unwrap().lines().count();
    assert_eq!(rows, 3, "a header and one row per file");
}

/// A table named by mistake on a huge file (a sparse 8 GB one here) is refused on its first
/// bytes, under a 4 GB address-space limit: it was read whole before it was checked.
#[test]
fn a_huge_file_named_as_a_table_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, 0.5, 16_000, 440.0, 1);
    let video = dir.path().join("film.csv");
    std::fs::File::create(&video)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let out = trainer_bounded(&["tag", s(&wav), "--csv", s(&video), "--backend", "flex"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("does not begin as one") && err.contains("film.csv"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&video).unwrap().len(),
        8 << 30,
        "untouched"
    );
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

/// Probe row 7: a table whose last row was cut inside its last field (`…;quiet;s`: every
/// number still parses) was taken as whole and kept the damaged value. The cut row is dropped
/// and its file tagged again.
#[test]
fn a_row_cut_inside_its_top_tags_is_dropped_and_tagged_again() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("a.wav");
    write_wav(&song, 2.0, 16_000, 440.0, 1);
    let table = dir.path().join("tags.csv");
    let tag = || {
        let out = trainer(&["tag", s(&song), "--csv", s(&table), "--backend", "flex"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    tag();
    let whole = std::fs::read_to_string(&table).unwrap();
    // Cut two bytes into the last tag's name (its newline gone too).
    let cut = whole.trim_end().rfind(';').unwrap() + 3;
    std::fs::write(&table, &whole[..cut]).unwrap();
    let said = tag();
    assert!(said.contains("dropped an unfinished last row"), "{said}");
    assert_eq!(std::fs::read_to_string(&table).unwrap(), whole);
}
