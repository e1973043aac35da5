//! A music library's files: which to read from the command line's files and folders (folders
//! walked recursively, links followed, each real file once), and what was passed over and why.
//! The result tables are [`crate::tables`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::audio::STDIN;
use crate::files::FileKind;

/// File extensions taken from folders (files named on the command line are always taken).
pub const AUDIO_EXTENSIONS: [&str; 12] = [
    "wav", "wave", "mp3", "ogg", "oga", "opus", "flac", "m4a", "mp4", "aac", "aif", "aiff",
];

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// What the command line's files and folders hold.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files to read, each real file once: named ones as given (one that does not exist fails
    /// on its turn), each folder's audio files sorted.
    pub files: Vec<PathBuf>,
    /// Entries passed over, with why: not a regular file (a pipe, a device), a link back into
    /// a folder already walked, a file already listed under another name, a path too long to
    /// open, a folder that cannot be listed.
    pub skipped: Vec<(PathBuf, String)>,
    /// Folders in which no audio file was found.
    pub empty: Vec<PathBuf>,
}

impl Inputs {
    /// Tells the user what was passed over (standard error).
    pub fn report_skipped(&self) {
        if !self.skipped.is_empty() {
            eprintln!("skipped {} entries:", self.skipped.len());
            for (path, why) in &self.skipped {
                eprintln!("- {}: {why}", path.display());
            }
        }
    }

    /// The error of each folder without audio.
    pub fn empty_errors(&self) -> Vec<String> {
        self.empty
            .iter()
            .map(|dir| format!("no audio files in {}", dir.display()))
            .collect()
    }
}

/// The files to read from `paths` (see [`Inputs`]).
pub fn audio_files(paths: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    let mut seen_files = HashSet::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        if path.as_os_str() == STDIN {
            inputs.files.push(path.clone());
        } else if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut seen_dirs, &mut inputs.skipped)?;
            found.sort();
            let before = inputs.files.len();
            for file in found {
                take_once(file, &mut seen_files, &mut inputs);
            }
            if inputs.files.len() == before {
                inputs.empty.push(path.clone());
            }
        } else {
            // A file that cannot be read gets its own error when its turn comes.
            take_once(path.clone(), &mut seen_files, &mut inputs);
        }
    }
    Ok(inputs)
}

/// Adds `file` unless the same file (by its canonical path) is there already.
fn take_once(file: PathBuf, seen: &mut HashSet<PathBuf>, inputs: &mut Inputs) {
    match std::fs::canonicalize(&file) {
        Ok(real) if !seen.insert(real.clone()) => inputs.skipped.push((
            file,
            format!("the same file as one already listed ({})", real.display()),
        )),
        _ => inputs.files.push(file),
    }
}

fn walk(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    seen_dirs: &mut HashSet<PathBuf>,
    skipped: &mut Vec<(PathBuf, String)>,
) -> Result<()> {
    let real =
        std::fs::canonicalize(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    if !seen_dirs.insert(real.clone()) {
        skipped.push((
            dir.to_path_buf(),
            format!("a link to a folder already walked ({})", real.display()),
        ));
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        // Links are followed: a link to a file is that file, a link to a folder that folder.
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if too_long(&e) => {
                // It may be a folder of music: say so, whatever its name.
                let why = format!(
                    "its path is longer than the system can open ({} bytes): move or link \
                     its folder nearer the root",
                    path.as_os_str().len()
                );
                skipped.push((path, why));
                continue;
            }
            Err(e) => {
                if is_audio(&path) {
                    skipped.push((path, format!("cannot be read (a broken link?): {e}")));
                }
                continue;
            }
        };
        match FileKind::of(&meta) {
            FileKind::Folder => {
                // A folder that cannot be listed is passed over, not the end of the library.
                if let Err(e) = walk(&path, found, seen_dirs, skipped) {
                    skipped.push((path, format!("{e:#}")));
                }
            }
            _ if !is_audio(&path) => {}
            FileKind::Regular => found.push(path),
            kind => skipped.push((path, format!("{}, not a regular file", kind.what()))),
        }
    }
    Ok(())
}

/// Whether `e` is the system's "file name too long" (a path past `PATH_MAX`, 4096 bytes on
/// Linux).
fn too_long(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(36) && cfg!(target_os = "linux")
        || e.kind() == std::io::ErrorKind::InvalidFilename
}

/// The error with the file named once: most errors (from decoding) name it already.
pub fn name_once(path: &Path, e: &anyhow::Error) -> String {
    let name = path.display().to_string();
    let message = format!("{e:#}");
    if message.contains(&name) {
        message
    } else {
        format!("{name}: {message}")
    }
}
