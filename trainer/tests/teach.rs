//! `trainer teach` and `tag --heads`: the user's own tags from a handful of examples.

use std::path::Path;

use crate::common::{ok, s, trainer, write_wav};

/// Six tones per tag: "high" around 2–3 kHz, "low" around 110–220 Hz, 3.5 s each.
fn examples(root: &Path) {
    for i in 0..6 {
        let f = i as f32;
        write_wav(
            &root.join(format!("high/h{i}.wav")),
            3.5,
            22_050,
            2000.0 + 200.0 * f,
            1,
        );
        write_wav(
            &root.join(format!("low/l{i}.wav")),
            3.5,
            22_050,
            110.0 + 20.0 * f,
            1,
        );
    }
}

/// The clips of the background set `teach` says it used ("… background set, 408 clips …").
fn background_clips(out: &str) -> usize {
    out.lines()
        .find_map(|l| {
            l.split_once("the built-in model's background set, ")
                .map(|(_, n)| n)
        })
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no background set reported:\n{out}"))
}

fn user_tags(json: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[0]["user_tags"].as_array().unwrap().clone()
}

#[test]
fn taught_tags_are_found_in_new_files_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    examples(root);
    // An example that is not audio is listed and skipped, the others still teach.
    std::fs::write(root.join("low/broken.wav"), b"RIFF nonsense").unwrap();
    let heads = root.join("heads.safetensors");
    let high = format!("high={}", s(&root.join("high")));
    let low = format!("low tone={}", s(&root.join("low")));
    let out = ok(&["teach", "--tag", &high, "--tag", &low, "--out", s(&heads)]);
    // Six examples, six counter-examples (the other tag's), so no background set.
    assert!(out.contains("| high | 6 | 6 | 0 | 5 |"), "{out}");
    assert!(
        out.contains("skipped (1") && out.contains("broken.wav"),
        "{out}"
    );
    let auc: f64 = out
        .lines()
        .find(|l| l.starts_with("| high |"))
        .and_then(|l| l.split('|').nth(6))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(auc > 0.9, "cross-validated ROC-AUC {auc}\n{out}");

    // A new high tone has the high tag and not the low one; a low tone the reverse.
    let new_high = root.join("new/high.wav");
    let new_low = root.join("new/low.wav");
    write_wav(&new_high, 7.0, 44_100, 2500.0, 2);
    write_wav(&new_low, 7.0, 44_100, 150.0, 2);
    let tags = user_tags(&ok(&["tag", s(&new_high), "--heads", s(&heads), "--json"]));
    assert_eq!(tags[0]["tag"], "high");
    assert_eq!(tags[0]["has_it"], true, "{tags:?}");
    assert_eq!(tags[1]["has_it"], false, "{tags:?}");
    let tags = user_tags(&ok(&["tag", s(&new_low), "--heads", s(&heads), "--json"]));
    assert_eq!(
        (&tags[0]["has_it"], &tags[1]["has_it"]),
        (&false.into(), &true.into())
    );
    // The timeline carries them too: 50 + 2 values a chunk.
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["tag", s(&new_low), "--heads", s(&heads), "--json"])).unwrap();
    assert_eq!(v[0]["timeline"][0][1].as_array().unwrap().len(), 52);
    let text = ok(&["tag", s(&new_low), "--heads", s(&heads)]);
    assert!(
        text.contains("| your tag | probability | has it |"),
        "{text}"
    );
    assert!(text.contains("user:low tone"), "{text}");

    // Tables get marked columns; a table written without heads is not continued with them.
    let csv = root.join("tags.csv");
    ok(&[
        "tag",
        s(&root.join("new")),
        "--heads",
        s(&heads),
        "--csv",
        s(&csv),
    ]);
    let table = std::fs::read_to_string(&csv).unwrap();
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .contains(",user:high,user:low tone,"),
        "{table}"
    );
    let plain = root.join("plain.csv");
    ok(&["tag", s(&root.join("new")), "--csv", s(&plain)]);
    let out = trainer(&[
        "tag",
        s(&root.join("new")),
        "--heads",
        s(&heads),
        "--csv",
        s(&plain),
    ]);
    assert!(!out.status.success());
}

#[test]
fn wrong_heads_names_and_outputs_are_refused_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    examples(root);
    let song = root.join("song.wav");
    write_wav(&song, 4.0, 16_000, 440.0, 1);
    let error = |args: &[&str]| {
        let out = trainer(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A tag named as one of the model's own.
    let piano = format!("Piano={}", s(&root.join("high")));
    let low = format!("low={}", s(&root.join("low")));
    let heads = root.join("heads.safetensors");
    let e = error(&["teach", "--tag", &piano, "--tag", &low, "--out", s(&heads)]);
    assert!(e.contains("the model's own tag 'piano'"), "{e}");
    // One tag, no counter-examples and no background set.
    let high = format!("high={}", s(&root.join("high")));
    let e = error(&[
        "teach",
        "--tag",
        &high,
        "--no-background",
        "--out",
        s(&heads),
    ]);
    assert!(e.contains("no counter-examples"), "{e}");
    // The output is a user's file, not a head file: untouched.
    let e = error(&["teach", "--tag", &high, "--tag", &low, "--out", s(&song)]);
    assert!(e.contains("is not a head file"), "{e}");
    assert_eq!(std::fs::read(&song).unwrap().len(), 44 + 4 * 16_000 * 2);
    // A weights file given as heads, and damaged heads.
    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/modnet-mtat-distilled.safetensors");
    let e = error(&["tag", s(&song), "--heads", s(&weights)]);
    assert!(
        e.contains("not a head file") && e.contains("--heads"),
        "{e}"
    );
    ok(&["teach", "--tag", &high, "--tag", &low, "--out", s(&heads)]);
    let bytes = std::fs::read(&heads).unwrap();
    std::fs::write(&heads, &bytes[..bytes.len() - 10]).unwrap();
    let e = error(&["tag", s(&song), "--heads", s(&heads)]);
    assert!(
        e.contains("heads.safetensors") && e.contains("not a head file"),
        "{e}"
    );
}

#[test]
fn a_label_csv_teaches_and_its_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    examples(root);
    // Paths relative to the CSV; an empty cell leaves a file out of that tag.
    let mut csv = String::from("path,bright,dull\n");
    for i in 0..6 {
        csv.push_str(&format!(
            "high/h{i}.wav,1,0\nlow/l{i}.wav,0,{}\n",
            if i == 0 { "" } else { "1" }
        ));
    }
    let labels = root.join("labels.csv");
    std::fs::write(&labels, &csv).unwrap();
    let heads = root.join("heads.safetensors");
    let out = ok(&["teach", "--labels", s(&labels), "--out", s(&heads)]);
    assert!(out.contains("| bright | 6 | 6 |"), "{out}");
    assert!(out.contains("| dull | 5 | 6 |"), "{out}");
    std::fs::write(&labels, "path,bright\nhigh/h0.wav,yes\n").unwrap();
    let bad = trainer(&["teach", "--labels", s(&labels), "--out", s(&heads)]);
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        e.contains("line 2, column 'bright': 'yes' is not 1, 0 or empty"),
        "{e}"
    );
    std::fs::write(&labels, "file,bright\nhigh/h0.wav,1\n").unwrap();
    let bad = trainer(&["teach", "--labels", s(&labels), "--out", s(&heads)]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no `path` column"));
    std::fs::write(&labels, "path,bright\n").unwrap();
    let bad = trainer(&["teach", "--labels", s(&labels), "--out", s(&heads)]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no rows"));
    // Nothing readable: each file is named with its error.
    std::fs::write(root.join("broken.wav"), b"RIFF nonsense").unwrap();
    std::fs::write(&labels, "path,bright\nbroken.wav,1\nmissing.wav,0\n").unwrap();
    let bad = trainer(&["teach", "--labels", s(&labels), "--out", s(&heads)]);
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        e.contains("none of the 2 files could be read")
            && e.contains("broken.wav")
            && e.contains("missing.wav"),
        "{e}"
    );
}

/// One tag and no counter-examples: the built-in model's background set stands in, and the
/// head tells a new example from a sound unlike it.
#[test]
fn one_tag_learns_against_the_background_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    examples(root);
    let heads = root.join("heads.safetensors");
    let high = format!("high={}", s(&root.join("high")));
    let out = ok(&["teach", "--tag", &high, "--out", s(&heads)]);
    let background = background_clips(&out);
    assert!(background >= 100, "{out}");
    assert!(
        out.contains(&format!("| high | 6 | 0 | {background} | 5 |")),
        "{out}"
    );
    assert!(
        out.contains("warning: high: no counter-examples of its own"),
        "{out}"
    );
    let new_high = root.join("new-high.wav");
    let new_low = root.join("new-low.wav");
    write_wav(&new_high, 7.0, 44_100, 2500.0, 2);
    write_wav(&new_low, 7.0, 44_100, 150.0, 2);
    let p = |f: &Path| {
        user_tags(&ok(&["tag", s(f), "--heads", s(&heads), "--json"]))[0]["probability"]
            .as_f64()
            .unwrap()
    };
    let (on_high, on_low) = (p(&new_high), p(&new_low));
    assert!(
        on_high > 0.5 && on_high > on_low,
        "high tone {on_high}, low tone {on_low}"
    );
}
