//! The files the trainer writes and the weights it reads: every write goes to a temporary
//! sibling that is renamed into place, so a killed process never leaves a truncated file; the
//! built-in model and weights files; what a path is and its lossless text. Every error names
//! the path.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use modnet::ModNet;

/// What a path is when audio is to be read from it (links followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A folder.
    Folder,
    /// A named pipe: read as a stream when named, skipped in a folder.
    Pipe,
    /// A device, a socket or another special file, named in words.
    Special(&'static str),
}

impl FileKind {
    /// The kind of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        let t = meta.file_type();
        if t.is_dir() {
            return Self::Folder;
        }
        if t.is_file() {
            return Self::Regular;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return Self::Pipe;
            }
            if t.is_char_device() || t.is_block_device() {
                return Self::Special("a device");
            }
            if t.is_socket() {
                return Self::Special("a socket");
            }
        }
        Self::Special("a special file")
    }

    /// The kind in words ("a named pipe").
    pub fn what(self) -> &'static str {
        match self {
            Self::Regular => "a regular file",
            Self::Folder => "a folder",
            Self::Pipe => "a named pipe",
            Self::Special(what) => what,
        }
    }
}

/// A path as text, losslessly: valid UTF-8 as it is, a backslash as `\\`, any other byte as
/// `\xNN` (on Unix a name is bytes; two names that differ only in invalid bytes stay two).
pub fn path_text(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if let Ok(text) = std::str::from_utf8(bytes)
            && !text.contains('\\')
        {
            return text.to_string();
        }
        let mut out = String::with_capacity(bytes.len() + 8);
        for chunk in bytes.utf8_chunks() {
            out.push_str(&chunk.valid().replace('\\', "\\\\"));
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, synced, renamed).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// The ending of the temporary files [`write_atomically_with`] writes next to their target.
const TEMP_SUFFIX: &str = ".modnet-tmp";

/// Writes to `path` atomically what `write` writes (buffered): large outputs need no copy in
/// memory. The temporary file (`.NAME.XXXXXX.modnet-tmp` beside the target) is locked while it
/// is written, so that the leftovers of a killed process — unlocked — are recognised and
/// removed by the next write into the same folder.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    remove_stale_temporaries(dir);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let attempt = || -> std::io::Result<()> {
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX);
        // Ordinary permissions (umask applies), not the 0600 of a private temporary file.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let file = builder.tempfile_in(dir)?;
        file.as_file().lock()?;
        let mut buffered = std::io::BufWriter::new(file);
        write(&mut buffered)?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    attempt().with_context(|| format!("cannot write {}", path.display()))
}

/// Removes the temporary files in `dir` that no living writer holds (left by a killed
/// process); each folder is looked at once per process.
fn remove_stale_temporaries(dir: &Path) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SWEPT: Mutex<Option<HashSet<std::path::PathBuf>>> = Mutex::new(None);
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if let Ok(mut swept) = SWEPT.lock()
        && !swept.get_or_insert_default().insert(key)
    {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        // A file a writer is still writing is locked; a dead writer's lock is gone.
        let stale = std::fs::File::open(&path).is_ok_and(|f| f.try_lock().is_ok());
        if stale && std::fs::remove_file(&path).is_ok() {
            eprintln!(
                "notice: removed {}, left by a stopped process",
                path.display()
            );
        }
    }
}

/// Writes the model's weights file (safetensors with its configuration).
pub fn save_weights(model: &ModNet, path: &Path) -> Result<()> {
    let bytes = model
        .to_bytes()
        .with_context(|| format!("cannot encode the weights for {}", path.display()))?;
    write_atomically(path, &bytes)
}

/// Reads a weights file and builds its model on `device`.
pub fn load_weights(path: &Path, device: &Device) -> Result<ModNet> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ModNet::from_bytes(&bytes, device).with_context(|| format!("{}", path.display()))
}

/// The built-in model's weights (the repository's `weights/`, described in MODEL_CARD.md):
/// `trainer tag` works on a fresh clone with no training.
pub const BUILTIN_WEIGHTS: &[u8] =
    include_bytes!("../../weights/modnet-mtat-distilled.safetensors");

/// The weights file's model, or the built-in one, on `device`.
pub fn load_model(weights: Option<&Path>, device: &burn::tensor::Device) -> Result<ModNet> {
    match weights {
        Some(path) => load_weights(path, device),
        None => ModNet::from_bytes(BUILTIN_WEIGHTS, device)
            .map_err(|e| anyhow::anyhow!("the built-in weights are damaged: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_stay_apart() {
        use std::os::unix::ffi::OsStrExt;
        let a = Path::new(std::ffi::OsStr::from_bytes(b"dir/caf\xe9.wav"));
        let b = Path::new(std::ffi::OsStr::from_bytes(b"dir/caf\xe8.wav"));
        assert_eq!(path_text(a), "dir/caf\\xe9.wav");
        assert_ne!(path_text(a), path_text(b));
        assert_eq!(path_text(Path::new("dir/café.wav")), "dir/café.wav");
        // A literal `\xe9` in a valid name is not the byte 0xe9.
        assert_eq!(
            path_text(Path::new("dir/caf\\xe9.wav")),
            "dir/caf\\\\xe9.wav"
        );
    }
}
