//! Libraries of files: tag tables that resume, embeddings and similar music.

use super::*;

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
