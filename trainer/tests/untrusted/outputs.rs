//! What is written: a reader that goes away, standard input into a table twice, two names of
//! one table, files that are not the command's own, a library spelled another way, a huge file
//! named as a table, a row cut inside its top tags.

use super::*;

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
