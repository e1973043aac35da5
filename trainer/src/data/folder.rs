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
    let name = labels_csv.display().to_string();
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
    let columns = Columns::of(header, &name)?;
    let mut rows = Rows::new(data_dir, &name, &columns);
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{name}: line {line}"))?;
        rows.add(line, &record)?;
    }
    let Rows {
        mut splits,
        unsplit,
        segments,
        ..
    } = rows;
    split_by_file(unsplit, seed, &mut splits);
    check_segments(&name, &segments)?;
    let [train, valid, test] = splits;
    if train.is_empty() && valid.is_empty() && test.is_empty() {
        bail!("{name}: no clips");
    }
    Ok(Dataset {
        description: format!("{} ({name})", data_dir.display()),
        tags: columns.tags(),
        train,
        valid,
        test,
    })
}

/// Where each kind of value is in the CSV's rows.
struct Columns {
    header: Vec<String>,
    path: usize,
    split: Option<usize>,
    /// Both or neither: a segment's start and length in seconds.
    segment: Option<(usize, usize)>,
    tags: Vec<usize>,
}

impl Columns {
    /// The columns of `header`, refused without a `path` column, with only one of `start` and
    /// `seconds`, or without tag columns.
    fn of(header: Vec<String>, name: &str) -> Result<Self> {
        // Columns are found by name: two of one name, or one without, would lose a column.
        for (i, h) in header.iter().enumerate() {
            if h.is_empty() {
                bail!("{name}: column {} of the header has no name", i + 1);
            }
            if let Some(j) = header[..i].iter().position(|other| other == h) {
                bail!(
                    "{name}: the header names `{h}` twice (columns {} and {})",
                    j + 1,
                    i + 1
                );
            }
        }
        let column = |c: &str| header.iter().position(|h| h == c);
        let path = column("path").with_context(|| {
            format!(
                "{name}: no `path` column (the header is: {}); the file needs a column named \
                 `path` with each file's path relative to the data directory",
                header.join(",")
            )
        })?;
        let segment = match (column("start"), column("seconds")) {
            (Some(start), Some(seconds)) => Some((start, seconds)),
            (None, None) => None,
            _ => bail!("{name}: segments need both a `start` and a `seconds` column"),
        };
        let tags: Vec<usize> = (0..header.len())
            .filter(|&c| !RESERVED.contains(&header[c].as_str()))
            .collect();
        if tags.is_empty() {
            bail!("{name}: no tag columns beside {}", RESERVED.join(", "));
        }
        Ok(Self {
            split: column("split"),
            header,
            path,
            segment,
            tags,
        })
    }

    /// The tag vocabulary, in the CSV's order.
    fn tags(&self) -> Vec<String> {
        self.tags.iter().map(|&c| self.header[c].clone()).collect()
    }
}

/// The rows read so far: clips by split (or unsplit), and what the checks across rows need.
struct Rows<'a> {
    data_dir: &'a Path,
    name: &'a str,
    columns: &'a Columns,
    splits: [Vec<Clip>; 3],
    unsplit: Vec<Clip>,
    /// A file's split, and the rows seen, so that no file ends up in two splits.
    split_of: HashMap<String, usize>,
    seen: HashSet<(String, String)>,
    real_dir: Option<PathBuf>,
    /// Segments, checked against their file's length once every row is read.
    segments: Vec<SegmentRow>,
    /// A file's key, once per spelling (a file may have thousands of segment rows).
    keys: HashMap<String, String>,
}

impl<'a> Rows<'a> {
    fn new(data_dir: &'a Path, name: &'a str, columns: &'a Columns) -> Self {
        Self {
            data_dir,
            name,
            columns,
            splits: Default::default(),
            unsplit: Vec::new(),
            split_of: HashMap::new(),
            seen: HashSet::new(),
            real_dir: data_dir.canonicalize().ok(),
            segments: Vec::new(),
            keys: HashMap::new(),
        }
    }

    /// Adds the row on `line`, refusing a bad value, a file listed twice or in two splits.
    fn add(&mut self, line: usize, record: &csv::StringRecord) -> Result<()> {
        let (name, columns) = (self.name, self.columns);
        let field = |c: usize| record.get(c).unwrap_or("");
        let path = field(columns.path);
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
        let segment = match columns.segment {
            Some((a, b)) => {
                let segment = Segment {
                    start: number(a, "start")?,
                    seconds: number(b, "seconds")?,
                };
                if segment.seconds <= 0.0 {
                    bail!("{name}: line {line}: a segment of 0 seconds");
                }
                Some(segment)
            }
            None => None,
        };
        let id = segment.map_or(String::new(), |s| format!("{:.3}", s.start));
        // One key for every spelling of a file (`a.wav`, `./a.wav`, a link to it).
        let (data_dir, real_dir) = (self.data_dir, self.real_dir.as_deref());
        let key = self
            .keys
            .entry(path.to_string())
            .or_insert_with(|| file_key(data_dir, real_dir, path))
            .clone();
        if !self.seen.insert((key.clone(), id.clone())) {
            let at = if id.is_empty() {
                String::new()
            } else {
                format!(" at {id} s")
            };
            bail!("{name}: line {line}: {path}{at} is listed twice");
        }
        let labels = columns
            .tags
            .iter()
            .map(|&c| match field(c).parse::<f32>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
                _ => bail!(
                    "{name}: line {line}, tag '{}': '{}' is not a value in [0, 1]",
                    columns.header[c],
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
            self.segments.push(SegmentRow {
                line,
                path: data_dir.join(path),
                segment,
            });
        }
        let Some(c) = columns.split else {
            self.unsplit.push(clip);
            return Ok(());
        };
        let split = match field(c).to_ascii_lowercase().as_str() {
            "train" => 0,
            "valid" | "validation" | "val" => 1,
            "test" => 2,
            s => bail!("{name}: line {line}: split '{s}' is not train, valid or test"),
        };
        if *self.split_of.entry(key.clone()).or_insert(split) != split {
            bail!(
                "{name}: line {line}: {path} ({key}) is in two splits; all rows of a file must \
                 be in one"
            );
        }
        self.splits[split].push(clip);
        Ok(())
    }
}

/// Puts the clips of a CSV without a split column into `splits` by a seeded random 80/10/10
/// split of their files: the segments of one file stay together.
fn split_by_file(unsplit: Vec<Clip>, seed: u64, splits: &mut [Vec<Clip>; 3]) {
    if unsplit.is_empty() {
        return;
    }
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
            let split = if i < n_test {
                2
            } else if i < n_test + n_valid {
                1
            } else {
                0
            };
            (f, split)
        })
        .collect();
    for clip in unsplit {
        let Source::File { key, .. } = &clip.source else {
            unreachable!("folder clips are files")
        };
        splits[which[key]].push(clip);
    }
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

/// A segment row of the label CSV, kept for [`check_segments`].
struct SegmentRow {
    line: usize,
    path: PathBuf,
    segment: Segment,
}

/// How far a segment may run past its file's end, in seconds: a teacher's last 3 s chunk may
/// cover a few milliseconds past it; more would train on zero padding (and a length like 1e12
/// seconds would ask the loader for petabytes).
const SEGMENT_OVERRUN: f64 = 1.0;

/// Refuses a segment that starts at or after its file's end, or runs past it, naming the row.
/// A file whose length cannot be read is left to the loader, which reports it.
fn check_segments(name: &str, segments: &[SegmentRow]) -> Result<()> {
    let mut lengths: HashMap<&Path, Option<f64>> = HashMap::new();
    for SegmentRow {
        line,
        path,
        segment,
    } in segments
    {
        let length = *lengths
            .entry(path.as_path())
            .or_insert_with(|| audio::duration_seconds(path).ok());
        let Some(length) = length else { continue };
        let start = segment.start;
        if start >= length {
            bail!(
                "{name}: line {line}: the segment starts at {start} s, past the end of {} \
                 ({length:.2} s long)",
                path.display()
            );
        }
        if start + segment.seconds > length + SEGMENT_OVERRUN {
            bail!(
                "{name}: line {line}, column `seconds`: a segment of {} s from {start} s runs \
                 past the end of {} ({length:.2} s long)",
                segment.seconds,
                path.display()
            );
        }
    }
    Ok(())
}
