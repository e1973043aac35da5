//! The result tables of `tag` on a library — CSV and JSON Lines, one row per file, appended and
//! flushed file by file so a killed run loses at most the row being written, and read back so a
//! second run skips the files already there.
//!
//! What they promise: a table is only ever written to when it is this command's own (or new);
//! anything else is refused before a byte is written. One process writes a table at a time (a
//! lock). A table that is a pipe or `-` (standard output) is streamed, never read.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::files::FileKind;

/// One file's result as the tables hold it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The path as given or found ([`crate::files::path_text`]).
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
    /// The file (locked while this table lives), or standard output.
    out: Box<dyn Write>,
    tags: Vec<String>,
    /// Whether the table goes to a pipe or the terminal: nothing is read back.
    pub streamed: bool,
    /// Files already in the table, by [`file_key`].
    done: HashSet<String>,
    /// Whether this table's file was made by [`Table::open`] (so [`Table::discard`] removes it).
    made: bool,
}

/// What a row's file is known by: its real path when it exists (so that `lib/a.wav`,
/// `./lib/a.wav`, its absolute path and a link to it are one file), else its name as given
/// (`-` is standard input).
pub fn file_key(file: &str) -> String {
    if file == "-" {
        return file.to_string();
    }
    std::fs::canonicalize(file)
        .map_or_else(|_| file.to_string(), |real| crate::files::path_text(&real))
}

impl Table {
    /// Opens (or creates) `path`: `-`, a pipe or a terminal is streamed to; an existing file
    /// must be this command's table for these tags (else it is refused, untouched), is locked
    /// against a second writer, and its rows count as done; a last row cut short by a killed
    /// run is dropped.
    pub fn open(path: &Path, format: Format, tags: &[String]) -> Result<Self> {
        let name = path.display();
        let stream = |out: Box<dyn Write>| -> Result<Self> {
            let mut table = Self {
                path: path.to_path_buf(),
                format,
                out,
                tags: tags.to_vec(),
                streamed: true,
                done: HashSet::new(),
                made: false,
            };
            table.write_header()?;
            Ok(table)
        };
        if path.as_os_str() == "-" {
            return stream(Box::new(std::io::stdout()));
        }
        let existing = std::fs::metadata(path).map(|meta| FileKind::of(&meta));
        let made = existing.is_err();
        match existing {
            Ok(FileKind::Folder) => bail!("{name} is a folder, not a file to write"),
            Ok(FileKind::Pipe | FileKind::Special(_)) => {
                // /dev/stdout piped to another program, a named pipe, the terminal.
                let out = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot write {name}"))?;
                return stream(Box::new(out));
            }
            Ok(_) => {}
            Err(_) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("cannot write {name}: cannot create its folder")
                    })?;
                }
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write {name}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{name} is being written by another process (it is locked): wait for it to \
                 finish, or write to another file"
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {name}"));
            }
        }
        let not_ours = |why: String| {
            anyhow::anyhow!(
                "{name} is not a {} table of `trainer tag` for this model ({why}); it was not \
                 changed: choose another output file",
                match format {
                    Format::Csv => "CSV",
                    Format::Jsonl => "JSON Lines",
                }
            )
        };
        // A file that does not even begin as a table is refused on its first bytes, not read
        // whole (a 10 GB video named by mistake would have been read into memory).
        let expected = table_start(format);
        let mut start = Vec::new();
        (&mut file)
            .take(expected.len() as u64)
            .read_to_end(&mut start)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .with_context(|| format!("cannot read {name}"))?;
        if !expected.starts_with(&start) {
            return Err(not_ours("it does not begin as one".into()));
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {name}"))?;
        // Checked whole before anything is written: a file that is not this command's table
        // is refused as it is.
        let existing = parse(&bytes, format, tags).map_err(not_ours)?;
        match existing.last {
            LastLine::Whole => {}
            LastLine::Unterminated => {
                file.seek(SeekFrom::End(0))
                    .and_then(|_| file.write_all(b"\n"))
                    .with_context(|| format!("cannot write {name}"))?;
            }
            LastLine::Cut(keep) => {
                file.set_len(keep as u64)
                    .with_context(|| format!("cannot write {name}"))?;
                eprintln!(
                    "notice: {name}: dropped an unfinished last row (from a run that was stopped)"
                );
            }
        }
        file.seek(SeekFrom::End(0))
            .with_context(|| format!("cannot write {name}"))?;
        let mut table = Self {
            path: path.to_path_buf(),
            format,
            out: Box::new(file),
            tags: tags.to_vec(),
            streamed: false,
            done: existing.files.iter().map(|f| file_key(f)).collect(),
            made,
        };
        if bytes.is_empty() {
            table.write_header()?;
        }
        Ok(table)
    }

    fn write_header(&mut self) -> Result<()> {
        if self.format == Format::Csv {
            let line = csv_line(&header(&self.tags))?;
            self.write(&line)?;
        }
        Ok(())
    }

    fn write(&mut self, line: &[u8]) -> Result<()> {
        self.out
            .write_all(line)
            .and_then(|_| self.out.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Gives the table up before anything was appended: a file [`Table::open`] made is removed
    /// (another output was refused, and the command does nothing), one that existed is kept.
    pub fn discard(self) {
        if self.made {
            let path = self.path.clone();
            drop(self);
            let _ = std::fs::remove_file(path);
        }
    }

    /// Where the table is written (`-` for standard output).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one row and flushes it.
    pub fn append(&mut self, row: &Row) -> Result<()> {
        let line = match self.format {
            Format::Csv => {
                let mut fields = vec![row.file.clone(), format!("{:.3}", row.seconds)];
                fields.extend(row.probabilities.iter().map(|p| format!("{p:.6}")));
                fields.push(row.top.join(";"));
                csv_line(&fields)?
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
        self.write(&line)?;
        self.done.insert(file_key(&row.file));
        Ok(())
    }

    /// Whether the table holds a row for `file` (by [`file_key`]: any spelling of it).
    pub fn has(&self, file: &str) -> bool {
        self.done.contains(&file_key(file))
    }
}

/// How every table of `format` begins (the CSV header, the first JSON key): what
/// [`Table::open`] checks before reading a file whole.
fn table_start(format: Format) -> &'static [u8] {
    match format {
        Format::Csv => b"file,seconds,",
        Format::Jsonl => b"{\"file\":",
    }
}

fn header(tags: &[String]) -> Vec<String> {
    let mut fields = vec!["file".to_string(), "seconds".to_string()];
    fields.extend(tags.iter().cloned());
    fields.push("top".into());
    fields
}

fn csv_line(fields: &[String]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields)?;
    Ok(w.into_inner()?)
}

/// The end of an existing table.
enum LastLine {
    /// Ends with a newline (or is empty).
    Whole,
    /// The last row is whole but has no newline (a user's editor): one is added.
    Unterminated,
    /// The last row was cut short (a killed run): the file is cut back to this many bytes.
    Cut(usize),
}

struct Existing {
    files: HashSet<String>,
    last: LastLine,
}

/// Reads an existing table: every row must be this command's for `tags`, except a last one
/// without a newline that a killed run left unfinished.
fn parse(bytes: &[u8], format: Format, tags: &[String]) -> Result<Existing, String> {
    let mut files = HashSet::new();
    if bytes.is_empty() {
        return Ok(Existing {
            files,
            last: LastLine::Whole,
        });
    }
    let terminated = bytes.ends_with(b"\n");
    // (start of the row, its file when the row is whole and this command's)
    let mut rows: Vec<(usize, Option<String>)> = Vec::new();
    // Whether an unfinished last row can be this command's: below a CSV header of its own, or
    // a JSON object that starts as this command writes its rows.
    let ours_if_cut = |start: usize| match format {
        Format::Csv => true,
        Format::Jsonl => bytes[start..].starts_with(b"{\"file\":\""),
    };
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            let expected = header(tags);
            let known: HashSet<&str> = tags.iter().map(String::as_str).collect();
            let mut first = true;
            loop {
                let start = reader.position().byte() as usize;
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(format!("unreadable CSV ({e})")),
                }
                if first {
                    first = false;
                    if record.iter().ne(expected.iter().map(String::as_bytes)) {
                        return Err(format!(
                            "its first line is not file, seconds, this model's {} tags, top",
                            tags.len()
                        ));
                    }
                    continue;
                }
                // Every number parses, and the top tags are this model's tags: a row cut inside
                // its last field leaves numbers that parse, and a tag cut short (`…;quiet;s`).
                let whole = record.len() == expected.len()
                    && (1..expected.len() - 1).all(|i| {
                        std::str::from_utf8(&record[i])
                            .ok()
                            .and_then(|v| v.parse::<f64>().ok())
                            .is_some()
                    })
                    && std::str::from_utf8(&record[expected.len() - 1]).is_ok_and(|top| {
                        // `--top 0` writes none.
                        top.is_empty() || top.split(';').all(|t| known.contains(t))
                    });
                let file = std::str::from_utf8(&record[0]).ok().map(str::to_string);
                rows.push((start, file.filter(|_| whole)));
            }
        }
        Format::Jsonl => {
            let mut start = 0;
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                let file = serde_json::from_slice::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| {
                        let probabilities = v.get("probabilities")?.as_object()?;
                        let same_tags = probabilities.len() == tags.len()
                            && tags.iter().all(|t| probabilities.contains_key(t));
                        same_tags.then(|| v.get("file")?.as_str().map(str::to_string))?
                    });
                if text.iter().any(|b| !b.is_ascii_whitespace()) {
                    rows.push((start, file));
                }
                start += line.len();
            }
        }
    }
    let mut last = LastLine::Whole;
    let n = rows.len();
    for (i, (start, file)) in rows.into_iter().enumerate() {
        match file {
            Some(file) => {
                files.insert(file);
                if i + 1 == n && !terminated {
                    last = LastLine::Unterminated;
                }
            }
            // Only a last row without its newline can be one this command left unfinished.
            None if i + 1 == n && !terminated && ours_if_cut(start) => last = LastLine::Cut(start),
            None => {
                return Err(format!(
                    "row {} is not one of its rows",
                    i + 1 + usize::from(format == Format::Csv)
                ));
            }
        }
    }
    if let (LastLine::Whole, false) = (&last, terminated) {
        // Only a CSV header without a newline.
        last = LastLine::Unterminated;
    }
    Ok(Existing { files, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_read_only_when_it_is_this_commands() {
        let tags = vec!["a".to_string(), "b".to_string()];
        let csv = b"file,seconds,a,b,top\nx.wav,1.000,0.1,0.2,b;a\ny.wav,2.0";
        let t = parse(csv, Format::Csv, &tags).unwrap();
        assert!(t.files.contains("x.wav") && !t.files.contains("y.wav"));
        assert!(matches!(t.last, LastLine::Cut(n) if n == csv.len() - 9));
        let whole = b"file,seconds,a,b,top\nx.wav,1.000,0.1,0.2,b;a";
        assert!(matches!(
            parse(whole, Format::Csv, &tags).unwrap().last,
            LastLine::Unterminated
        ));
        // Cut inside its last field, the row's numbers still parse: a tag that is none of the
        // model's (`bb` cut to `b`, or nothing after the `;`) shows the cut.
        let tags3 = vec!["a".to_string(), "bb".to_string()];
        for cut in [&b"x.wav,1.000,0.1,0.2,bb;"[..], b"x.wav,1.000,0.1,0.2,bb;b"] {
            let table = [&b"file,seconds,a,bb,top\n"[..], cut].concat();
            let t = parse(&table, Format::Csv, &tags3).unwrap();
            assert!(t.files.is_empty(), "{}", String::from_utf8_lossy(cut));
            assert!(matches!(t.last, LastLine::Cut(22)));
        }
        let theirs = b"name,score\nsong.wav,3";
        assert!(parse(theirs, Format::Csv, &tags).is_err());
        let damaged = b"file,seconds,a,b,top\nx.wav,oops\ny.wav,1,0.1,0.2,b\n";
        assert!(parse(damaged, Format::Csv, &tags).is_err());
        let mp3 = [0xffu8, 0xfb, 0x90, 0x64, 0, 0, 0x0a, 0x55];
        assert!(parse(&mp3, Format::Csv, &tags).is_err());
        assert!(parse(&mp3, Format::Jsonl, &tags).is_err());
        let jsonl =
            b"{\"file\":\"x.wav\",\"probabilities\":{\"a\":0.1,\"b\":0.2}}\n{\"file\":\"y.w";
        let t = parse(jsonl, Format::Jsonl, &tags).unwrap();
        assert!(t.files.contains("x.wav"));
        assert!(matches!(t.last, LastLine::Cut(n) if n == jsonl.len() - 12));
        assert!(parse(b"{\"other\":1}\n", Format::Jsonl, &tags).is_err());
        // A file of one line without a newline that is not a row is not cut away.
        assert!(parse(b"my notes", Format::Jsonl, &tags).is_err());
        assert!(parse(b"ID3\x04binary", Format::Jsonl, &tags).is_err());
    }
}
