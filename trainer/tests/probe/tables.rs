//! Tag tables: files of whole resampler blocks get their rows, a file that is not our table is
//! never written, two processes never write one twice, rows stream to a pipe.

use super::*;

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
