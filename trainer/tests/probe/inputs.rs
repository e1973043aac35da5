//! What a command is handed to read: pipes, devices, empty folders, standard input, symlink
//! loops, names that are not UTF-8.

use super::*;

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
