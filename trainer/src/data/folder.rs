//! Your own music: a folder of audio files (any format symphonia reads) and a CSV of labels.
//!
//! The CSV has a `path` column (relative to the folder), one column per tag holding 0/1 or soft
//! values in [0, 1], and optionally:
//! - a `split` column (`train`, `valid`, `test`); without it, a seeded random split of 80/10/10
//!   is made, by file;
//! - `start` and `seconds` columns: the row labels only that segment of the file (chunk-level
//!   labels, e.g. a teacher's outputs per chunk). A file may then have many rows, all in one
//!   split.
//!
//! The tag vocabulary, and so the model's output size, follows the CSV's tag columns.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{Clip, Dataset, Segment, Source};
use modnet_audio::audio;
use modnet_audio::files::path_text;

/// Columns that are not tags.
const RESERVED: [&str; 4] = ["path", "split", "start", "seconds"];

/// Reads the folder dataset.
pub fn load(data_dir: &Path, labels_csv: &Path, seed: u64) -> Result<Dataset> {
    let name = labels_csv.display();
    // Read whole and bounded: a device (`/dev/zero`) would be one endless record.
    let text = modnet_audio::files::read_bounded(labels_csv, "the label file", 1 << 30)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(&text[..]);
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{name}: no header line"))?
        .iter()
        .map(str::to_string)
        .collect();
    let column = |c: &str| header.iter().position(|h| h == c);
    let path_col = column("path").with_context(|| {
        format!(
            "{name}: no `path` column (the header is: {}); the file needs a column named `path` \
             with each file's path relative to the data directory",
            header.join(",")
        )
    })?;
    let (split_col, start_col, seconds_col) = (column("split"), column("start"), column("seconds"));
    if start_col.is_some() != seconds_col.is_some() {
        bail!("{name}: segments need both a `start` and a `seconds` column");
    }
    let tag_cols: Vec<usize> = (0..header.len())
        .filter(|&c| !RESERVED.contains(&header[c].as_str()))
        .collect();
    if tag_cols.is_empty() {
        bail!("{name}: no tag columns beside {}", RESERVED.join(", "));
    }
    let tags: Vec<String> = tag_cols.iter().map(|&c| header[c].clone()).collect();
    let mut splits: [Vec<Clip>; 3] = Default::default();
    let mut unsplit: Vec<Clip> = Vec::new();
    // A file's split, and the rows seen, so that no file ends up in two splits.
    let mut split_of: HashMap<String, usize> = HashMap::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let real_dir = data_dir.canonicalize().ok();
    // Segments, checked against their file's length once every row is read: (line, file,
    // start in seconds).
    let mut segments: Vec<(usize, PathBuf, f64)> = Vec::new();
    // A file's key, once per spelling (a file may have thousands of segment rows).
    let mut keys: HashMap<String, String> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{name}: line {line}"))?;
        let field = |c: usize| record.get(c).unwrap_or("");
        let path = field(path_col);
        if path.is_empty() {
            bail!("{name}: line {line} has no path");
        }
        let number = |c: usize, what: &str| -> Result<f64> {
            match field(c).parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => bail!(
                    "{name}: line {line}: {what} '{}' is not a number of seconds ≥ 0",
                    field(c)
                ),
            }
        };
        let segment = match (start_col, seconds_col) {
            (Some(a), Some(b)) => {
                let segment = Segment {
                    start: number(a, "start")?,
                    seconds: number(b, "seconds")?,
                };
                if segment.seconds <= 0.0 {
                    bail!("{name}: line {line}: a segment of 0 seconds");
                }
                Some(segment)
            }
            _ => None,
        };
        let id = segment.map_or(String::new(), |s| format!("{:.3}", s.start));
        // One key for every spelling of a file (`a.wav`, `./a.wav`, a link to it).
        let key = keys
            .entry(path.to_string())
            .or_insert_with(|| file_key(data_dir, real_dir.as_deref(), path))
            .clone();
        if !seen.insert((key.clone(), id.clone())) {
            bail!(
                "{name}: line {line}: {path}{} is listed twice",
                if id.is_empty() {
                    String::new()
                } else {
                    format!(" at {id} s")
                }
            );
        }
        let labels = tag_cols
            .iter()
            .map(|&c| match field(c).parse::<f32>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
                _ => bail!(
                    "{name}: line {line}, tag '{}': '{}' is not a value in [0, 1]",
                    header[c],
                    field(c)
                ),
            })
            .collect::<Result<Vec<_>>>()?;
        let clip = Clip {
            name: if id.is_empty() {
                path.to_string()
            } else {
                format!("{path}@{id}s")
            },
            source: Source::File {
                path: data_dir.join(path),
                key: key.clone(),
                segment,
            },
            labels,
        };
        if let Some(segment) = segment {
            segments.push((line, data_dir.join(path), segment.start));
        }
        let Some(c) = split_col else {
            unsplit.push(clip);
            continue;
        };
        let split = match field(c).to_ascii_lowercase().as_str() {
            "train" => 0,
            "valid" | "validation" | "val" => 1,
            "test" => 2,
            s => bail!("{name}: line {line}: split '{s}' is not train, valid or test"),
        };
        if *split_of.entry(key.clone()).or_insert(split) != split {
            bail!(
                "{name}: line {line}: {path} ({key}) is in two splits; all rows of a file must \
                 be in one"
            );
        }
        splits[split].push(clip);
    }
    if !unsplit.is_empty() {
        // Split by file: the segments of one file stay together.
        let mut files: Vec<String> = Vec::new();
        for clip in &unsplit {
            if let Source::File { key, .. } = &clip.source
                && !files.contains(key)
            {
                files.push(key.clone());
            }
        }
        files.shuffle(&mut StdRng::seed_from_u64(seed));
        let n = files.len();
        let n_valid = (n / 10).max(1).min(n.saturating_sub(1));
        let n_test = (n / 10).min(n - n_valid);
        let which: HashMap<&String, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    f,
                    if i < n_test {
                        2
                    } else if i < n_test + n_valid {
                        1
                    } else {
                        0
                    },
                )
            })
            .collect();
        for clip in unsplit {
            let Source::File { key, .. } = &clip.source else {
                unreachable!("folder clips are files")
            };
            splits[which[key]].push(clip);
        }
    }
    check_segments(&name.to_string(), &segments)?;
    let [train, valid, test] = splits;
    if train.is_empty() && valid.is_empty() && test.is_empty() {
        bail!("{name}: no clips");
    }
    Ok(Dataset {
        description: format!("{} ({name})", data_dir.display()),
        tags,
        train,
        valid,
        test,
    })
}

/// The file a CSV path names, as one text for all its spellings: its real path relative to
/// the real data directory when it exists (links resolved), else the path as written with
/// `.` and `..` resolved.
fn file_key(data_dir: &Path, real_dir: Option<&Path>, path: &str) -> String {
    let lexical = || {
        let mut out = PathBuf::new();
        for part in Path::new(path).components() {
            match part {
                Component::CurDir => {}
                Component::ParentDir
                    if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
                {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    };
    let real = data_dir.join(path).canonicalize().ok();
    let key = match (real_dir, real) {
        (Some(dir), Some(real)) => match real.strip_prefix(dir) {
            Ok(inside) => inside.to_path_buf(),
            Err(_) => real,
        },
        _ => lexical(),
    };
    path_text(&key)
}

/// Refuses a segment that starts at or after its file's end (it would train on zero padding),
/// naming the row. A file whose length cannot be read is left to the loader, which reports it.
fn check_segments(name: &str, segments: &[(usize, PathBuf, f64)]) -> Result<()> {
    let mut lengths: HashMap<&Path, Option<f64>> = HashMap::new();
    for (line, path, start) in segments {
        let length = *lengths
            .entry(path.as_path())
            .or_insert_with(|| audio::duration_seconds(path).ok());
        if let Some(length) = length
            && *start >= length
        {
            bail!(
                "{name}: line {line}: the segment starts at {start} s, past the end of {} \
                 ({length:.2} s long)",
                path.display()
            );
        }
    }
    Ok(())
}
