//! The dataset formats: an MTAT-format tree with a corrupt file, a folder dataset with soft
//! labels, segment labels, and the errors for missing files.

use super::*;

/// An MTAT-format tree: a few clips of the standard split at their annotation rows, one
/// corrupt file among them.
fn mtat_fixture(root: &Path) -> PathBuf {
    let data = root.join("mtat");
    let tags = trainer::data::mtat::tags();
    let valid = trainer::data::mtat::row_list("valid");
    let test = trainer::data::mtat::row_list("test");
    let train = trainer::data::mtat::train_list();
    let rows = valid.iter().chain(&test).map(|(r, _)| *r).max().unwrap() + 1;
    let mut paths = vec![String::new(); rows];
    for (r, p) in valid.iter().chain(&test) {
        paths[*r] = p.clone();
    }
    let mut train_iter = train.iter();
    for p in paths.iter_mut().filter(|p| p.is_empty()) {
        *p = train_iter
            .next()
            .cloned()
            .unwrap_or_else(|| "x/unused.mp3".into());
    }
    let mut extra: Vec<String> = train_iter.cloned().collect();
    paths.append(&mut extra);
    let mut csv = String::from("\"clip_id\"");
    // Other MTAT columns around the 50 used ones, as in the real file.
    for t in std::iter::once("singer".to_string())
        .chain(tags.iter().cloned())
        .chain(["duet".to_string()])
    {
        csv += &format!("\t\"{t}\"");
    }
    csv += "\t\"mp3_path\"\n";
    let header: Vec<String> = csv
        .trim_end()
        .split('\t')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    for (row, path) in paths.iter().enumerate() {
        let mut fields = vec![format!("\"{row}\"")];
        for h in &header[1..header.len() - 1] {
            let on = tags
                .iter()
                .position(|t| t == h)
                .is_some_and(|i| (row + i) % 7 == 0);
            fields.push(format!("\"{}\"", on as u8));
        }
        fields.push(format!("\"{path}\""));
        csv += &(fields.join("\t") + "\n");
    }
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("annotations_final.csv"), csv).unwrap();
    // Audio (WAV data in .mp3 names: symphonia probes the content) for 6 train, 3 valid, 2 test
    // clips; plus one corrupt training file.
    for (i, p) in train
        .iter()
        .take(6)
        .chain(valid.iter().take(3).map(|(_, p)| p))
        .chain(test.iter().take(2).map(|(_, p)| p))
        .enumerate()
    {
        write_wav(&data.join(p), 1.5, 16_000, 100.0 + 50.0 * i as f32, 1);
    }
    std::fs::write(
        data.join(&train[6]),
        b"ID3 garbage that is not an mp3 stream",
    )
    .unwrap();
    data
}

#[test]
fn mtat_tree_prepare_train_eval() {
    let dir = tempfile::tempdir().unwrap();
    let data = mtat_fixture(dir.path());
    let cache = dir.path().join("cache");
    let common = [
        "--dataset",
        "mtat",
        "--data-dir",
        s(&data),
        "--cache-dir",
        s(&cache),
    ];
    let mut args = vec!["prepare"];
    args.extend(common);
    let report = ok(&args);
    assert!(
        report.contains("| 12 | 11 | 0 | 1 |"),
        "12 clips, 11 decoded, 1 failed: {report}"
    );
    assert!(report.contains("skipped"), "{report}");
    // Resumable: a second run decodes nothing.
    assert!(ok(&args).contains("| 12 | 0 | 11 | 1 |"));

    let run = dir.path().join("run");
    let mut args = vec!["train", "--out", s(&run), "--epochs", "1"];
    args.extend(TINY);
    args.extend(common);
    let out = trainer(&args);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("skipping"),
        "the corrupt clip is skipped"
    );
    let weights = run.join("best.safetensors");
    let mut args = vec!["eval", "--weights", s(&weights), "--backend", "flex"];
    args.extend(common);
    let report = ok(&args);
    assert!(
        report.contains("| guitar |") && report.contains("| **macro** |"),
        "{report}"
    );
}

#[test]
fn folder_dataset_with_soft_labels_and_random_split() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let mut csv = String::from("path,bright,dark\n");
    for i in 0..10 {
        let name = format!("song{i}.wav");
        write_wav(
            &music.join(&name),
            1.2,
            22_050,
            if i % 2 == 0 { 880.0 } else { 110.0 },
            1,
        );
        let b = if i % 2 == 0 { 0.9 } else { 0.1 };
        csv += &format!("{name},{b},{}\n", 1.0 - b);
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    let run = dir.path().join("run");
    let folder = [
        "train",
        "--dataset",
        "folder",
        "--data-dir",
        s(&music),
        "--labels",
        s(&labels),
        "--out",
        s(&run),
    ];
    let mut args = folder.to_vec();
    args.extend(["--epochs", "1"]);
    args.extend(TINY);
    ok(&args);
    let config =
        modnet::weights::read_config(&std::fs::read(run.join("best.safetensors")).unwrap())
            .unwrap();
    assert_eq!(config.tags, vec!["bright", "dark"]);

    // A bad label value is refused with its line.
    std::fs::write(&labels, "path,bright\nsong0.wav,7\n").unwrap();
    let fresh = dir.path().join("fresh");
    let mut args = folder.to_vec();
    let last = args.len() - 1;
    args[last] = s(&fresh);
    args.extend(["--backend", "flex"]);
    let out = trainer(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn missing_dataset_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = trainer(&[
        "train",
        "--dataset",
        "mtat",
        "--data-dir",
        s(dir.path()),
        "--backend",
        "flex",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("annotations_final.csv"));
    let out = trainer(&[
        "tag",
        "x.wav",
        "--weights",
        s(&dir.path().join("none.safetensors")),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.safetensors"));
}

/// The distillation corpus' form: chunk-level soft labels (a `start`/`seconds` segment per row)
/// of a few long files, trained with every augmentation and evaluated with a stated positive
/// threshold; a file in two splits and a missing path column are refused.
#[test]
fn segment_labels_train_with_augmentation_and_soft_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("corpus");
    let mut csv = String::from("path,start,seconds,split,bright,dark\n");
    for i in 0..6 {
        let name = format!("audio/track{i}.wav");
        write_wav(
            &music.join(&name),
            4.0,
            16_000,
            if i % 2 == 0 { 880.0 } else { 110.0 },
            1,
        );
        let split = ["train", "train", "train", "train", "valid", "valid"][i];
        for k in 0..4 {
            // Soft labels below 0.5, as a teacher gives them.
            let b = if i % 2 == 0 { 0.4 } else { 0.05 };
            csv += &format!("{name},{k}.000,1.0,{split},{b},{:.2}\n", 0.45 - b);
        }
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, &csv).unwrap();
    let data = [
        "--dataset",
        "folder",
        "--data-dir",
        s(&music),
        "--labels",
        s(&labels),
    ];
    let prepared = ok(&[&["prepare"][..], &data].concat());
    assert!(
        prepared.contains("| 6 | 6 | 0 | 0 |"),
        "one cache entry per file: {prepared}"
    );
    let run = dir.path().join("run");
    let mut args = vec![
        "train",
        "--out",
        s(&run),
        "--epochs",
        "2",
        "--batch-size",
        "4",
    ];
    args.extend(data);
    args.extend(TINY);
    args.extend([
        "--augment-gain-db",
        "6",
        "--augment-shift",
        "0.25",
        "--augment-mix",
        "0.5",
    ]);
    args.extend(["--positive-threshold", "0.3", "--min-positives", "2"]);
    ok(&args);
    assert_eq!(log_epochs(&run), [1, 2]);
    let weights = run.join("best.safetensors");
    let report = dir.path().join("valid.json");
    let mut eval = vec![
        "eval",
        "--weights",
        s(&weights),
        "--split",
        "valid",
        "--json",
        s(&report),
    ];
    eval.extend(data);
    eval.extend([
        "--backend",
        "flex",
        "--positive-threshold",
        "0.3",
        "--min-positives",
        "2",
    ]);
    let table = ok(&eval);
    assert!(table.contains("top tag among the labels' top 3"), "{table}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let e = &v["evaluation"];
    // Tags outside MTAT's vocabulary belong to the "other" group.
    assert_eq!(v["groups"], serde_json::json!(["other", "other"]));
    // Four rows of track 4 (bright 0.4 > 0.3) and none of track 5: "bright" has 4 positives,
    // "dark" (0.05 or 0.40) as many; at 0.5 neither would have any.
    assert_eq!(e["clips"].as_array().unwrap().len(), 8);
    assert_eq!(e["positives"]["threshold"].as_f64().unwrap() as f32, 0.3);
    assert!(e["metrics"]["roc_auc"][0].is_number(), "{e}");
    assert_eq!(e["metrics"]["undefined_tags"], 0);
    let loss = e["loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0);
    // The same rows judged at 0.5: no positives, so no tag is scored, and that is said.
    let mut strict = eval.clone();
    strict.truncate(strict.len() - 4);
    let table = ok(&strict);
    assert!(table.contains("2 tags have one class only"), "{table}");

    // A file in two splits, and a CSV without a path column, are refused by name.
    std::fs::write(
        &labels,
        csv.replacen(",0.000,1.0,valid,", ",0.000,1.0,train,", 1),
    )
    .unwrap();
    let out = trainer(&[&["train"][..], &data, &TINY].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("two splits"), "{err}");
    std::fs::write(&labels, "file,bright\na.wav,1\n").unwrap();
    let out = trainer(&[&["train"][..], &data, &TINY].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no `path` column"),
        "{err}"
    );
}
