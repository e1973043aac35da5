//! Tagging a whole music library: which files to tag (folders walked recursively), and the
//! result tables — CSV and JSON Lines, one row per file, appended and flushed file by file so a
//! killed run loses at most the row being written, and read back so a second run skips the
//! files already there.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// File extensions taken from folders (files named on the command line are always taken).
pub const AUDIO_EXTENSIONS: [&str; 12] = [
    "wav", "wave", "mp3", "ogg", "oga", "opus", "flac", "m4a", "mp4", "aac", "aif", "aiff",
];

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The files to tag: each file as given (one that does not exist fails on its turn, the others
/// still run), each folder's audio files (recursively, sorted).
pub fn audio_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            // A file that cannot be read gets its own error when its turn comes.
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if is_audio(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// One file's result as the tables hold it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The path as given or found.
    pub file: String,
    /// Duration in seconds.
    pub seconds: f64,
    /// Clip probabilities, in the model's tag order.
    pub probabilities: Vec<f32>,
    /// The best tags, best first.
    pub top: Vec<String>,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `file,seconds,<one column per tag>,top` (top tags joined by `;`).
    Csv,
    /// One JSON object per line: `{"file", "seconds", "probabilities": {tag: p}, "top": […]}`.
    Jsonl,
}

/// An output table opened for appending.
pub struct Table {
    path: PathBuf,
    format: Format,
    file: File,
    tags: Vec<String>,
    /// Files already in the table.
    pub done: HashSet<String>,
}

impl Table {
    /// Opens (or creates) `path`. An existing table is read: its files count as done, a last
    /// line cut short by a killed run is dropped, and a CSV written for other tags is refused.
    pub fn open(path: &Path, format: Format, tags: &[String]) -> Result<Self> {
        let exists = path.exists();
        let mut done = HashSet::new();
        if exists {
            drop_partial_line(path)?;
            done = read_done(path, format, tags)?;
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot write {}: cannot create its folder", path.display())
            })?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        if format == Format::Csv && empty {
            let mut header = csv::Writer::from_writer(Vec::new());
            let mut fields = vec!["file".to_string(), "seconds".to_string()];
            fields.extend(tags.iter().cloned());
            fields.push("top".into());
            header.write_record(&fields)?;
            file.write_all(&header.into_inner()?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            format,
            file,
            tags: tags.to_vec(),
            done,
        })
    }

    /// Appends one row and flushes it to disk.
    pub fn append(&mut self, row: &Row) -> Result<()> {
        let line = match self.format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                let mut fields = vec![row.file.clone(), format!("{:.3}", row.seconds)];
                fields.extend(row.probabilities.iter().map(|p| format!("{p:.6}")));
                fields.push(row.top.join(";"));
                w.write_record(&fields)?;
                w.into_inner()?
            }
            Format::Jsonl => {
                let probabilities: serde_json::Map<String, serde_json::Value> = self
                    .tags
                    .iter()
                    .zip(&row.probabilities)
                    .map(|(t, &p)| (t.clone(), serde_json::json!(p)))
                    .collect();
                let value = serde_json::json!({
                    "file": row.file,
                    "seconds": row.seconds,
                    "probabilities": probabilities,
                    "top": row.top,
                });
                let mut line = serde_json::to_vec(&value)?;
                line.push(b'\n');
                line
            }
        };
        self.file
            .write_all(&line)
            .and_then(|_| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.done.insert(row.file.clone());
        Ok(())
    }
}

/// Cuts a file back to its last complete line (a run killed while writing leaves half a row).
fn drop_partial_line(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.set_len(keep as u64)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "notice: {}: dropped an unfinished last row (from a run that was stopped)",
        path.display()
    );
    Ok(())
}

fn read_done(path: &Path, format: Format, tags: &[String]) -> Result<HashSet<String>> {
    let mut done = HashSet::new();
    match format {
        Format::Csv => {
            let mut reader = csv::Reader::from_path(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let header = reader
                .headers()
                .with_context(|| format!("{}: unreadable header", path.display()))?
                .clone();
            let expected: Vec<&str> = ["file", "seconds"]
                .into_iter()
                .chain(tags.iter().map(String::as_str))
                .chain(["top"])
                .collect();
            if !header.is_empty() && header.iter().collect::<Vec<_>>() != expected {
                bail!(
                    "{} holds another table (its columns are not file, seconds, this model's {} \
                     tags, top): choose another output file",
                    path.display(),
                    tags.len()
                );
            }
            for (i, record) in reader.records().enumerate() {
                let record = record
                    .with_context(|| format!("{}: row {} is damaged", path.display(), i + 2))?;
                if let Some(file) = record.get(0) {
                    done.insert(file.to_string());
                }
            }
        }
        Format::Jsonl => {
            let reader = BufReader::new(
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
            );
            for (i, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("cannot read {}", path.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let value: serde_json::Value = serde_json::from_str(&line)
                    .with_context(|| format!("{}: line {} is not JSON", path.display(), i + 1))?;
                match value.get("file").and_then(|f| f.as_str()) {
                    Some(file) => {
                        done.insert(file.to_string());
                    }
                    None => bail!("{}: line {} has no \"file\"", path.display(), i + 1),
                }
            }
        }
    }
    Ok(done)
}
