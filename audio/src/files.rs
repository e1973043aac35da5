//! The files the trainer writes and the weights it reads: every write goes to a temporary
//! sibling that is renamed into place, so a killed process never leaves a truncated file; the
//! built-in model and weights files; what a path is and its lossless text. Every error names
//! the path.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
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

/// Whether two paths name one file, existing or not: `x` and `./x`, a link (dangling
/// included) and its target, two hard links to one file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt;
        return (ma.dev(), ma.ino()) == (mb.dev(), mb.ino());
    }
    resolved(a) == resolved(b)
}

/// Where `path` leads: its links followed (up to 40, as the system does; a dangling one to the
/// name it points at), made absolute through its folder's real path.
fn resolved(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&path) {
            Ok(target) => {
                path = path
                    .parent()
                    .map_or_else(|| target.clone(), |dir| dir.join(&target))
            }
            Err(_) => break,
        }
    }
    let (Some(name), dir) = (path.file_name(), path.parent()) else {
        return path;
    };
    let dir = match dir.filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::canonicalize(&dir).map_or(path.clone(), |dir| dir.join(name))
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

/// What a command writes: a file of this kind already at the path is the command's own to
/// replace; any other file (your mp3) is refused, untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// Weights or embeddings (safetensors: an 8-byte header length, then a JSON header).
    Safetensors,
    /// A JSON report (`eval --json`).
    Json,
    /// The user's tag heads (`teach --out`): a weights or embeddings file is not replaced.
    Heads,
}

impl OutputKind {
    fn what(self) -> &'static str {
        match self {
            Self::Safetensors => "a safetensors file (weights or embeddings)",
            Self::Json => "a JSON file",
            Self::Heads => "a head file (from `trainer teach`)",
        }
    }

    /// Whether a file starting with `head` is of this kind.
    fn matches(self, head: &[u8]) -> bool {
        match self {
            Self::Safetensors => {
                head.len() > 8
                    && head[8] == b'{'
                    && u64::from_le_bytes(head[..8].try_into().unwrap_or_default()) >= 2
            }
            Self::Json => matches!(
                head.iter().find(|b| !b.is_ascii_whitespace()),
                Some(b'{' | b'[')
            ),
            // Its sorted header starts with the format (`modnet.heads` sorts after it).
            Self::Heads => {
                Self::Safetensors.matches(head) && head.windows(13).any(|w| w == b"modnet-heads/")
            }
        }
    }
}

/// Fails, naming the path, unless a file of `kind` can be written at `path`: its folder exists
/// or can be made, `path` is not a folder, and a file already there is of `kind` (anything
/// else is not this command's to replace). Checked before long work, not after it.
pub fn check_writable(path: &Path, kind: OutputKind) -> Result<()> {
    if path.is_dir() {
        bail!("{} is a folder, not a file", path.display());
    }
    if let Ok(meta) = std::fs::metadata(path) {
        use std::io::Read;
        let mut head = Vec::new();
        let read = meta.is_file()
            && std::fs::File::open(path)
                .and_then(|f| f.take(64).read_to_end(&mut head))
                .is_ok();
        if !read || !(meta.len() == 0 || kind.matches(&head)) {
            bail!(
                "{} exists and is not {}: refusing to replace it (remove it, or choose another \
                 name)",
                path.display(),
                kind.what()
            );
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot write {}: its folder {} cannot be created",
            path.display(),
            dir.display()
        )
    })?;
    let probe = dir.join(format!(".modnet-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| {
            format!(
                "cannot write {} (no write access to {})",
                path.display(),
                dir.display()
            )
        })
}

/// Writes the model's weights file (safetensors with its configuration).
pub fn save_weights(model: &ModNet, path: &Path) -> Result<()> {
    let bytes = model
        .to_bytes()
        .with_context(|| format!("cannot encode the weights for {}", path.display()))?;
    write_atomically(path, &bytes)
}

/// The largest weights or checkpoint file read (the paper's preset is 26 MB, its checkpoint
/// with Adam's moments under 100 MB): a bound, so that no input is read without one.
pub const MAX_WEIGHTS_BYTES: u64 = 4 << 30;

/// The whole of a regular file of at most `max` bytes. Devices (`/dev/zero` never ends),
/// pipes and folders are refused before a byte is read, and the read itself stops at the
/// bound, whatever the file grows to meanwhile. The error names the path and `what` it is.
pub fn read_bounded(path: &Path, what: &str, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let name = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {what} {name}"))?;
    let kind = FileKind::of(&meta);
    if kind != FileKind::Regular {
        bail!("{what} {name} is {}, not a file", kind.what());
    }
    if meta.len() > max {
        bail!(
            "{what} {name} is {} bytes, more than any such file ({max} bytes at most)",
            meta.len()
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {what} {name}"))?;
    if bytes.len() as u64 > max {
        bail!("{what} {name} grew past {max} bytes while it was read");
    }
    Ok(bytes)
}

/// Reads a weights file and builds its model on `device`.
pub fn load_weights(path: &Path, device: &Device) -> Result<ModNet> {
    let bytes = read_bounded(path, "the weights file", MAX_WEIGHTS_BYTES)?;
    check_float32(&bytes).with_context(|| format!("{}", path.display()))?;
    ModNet::from_bytes(&bytes, device).with_context(|| format!("{}", path.display()))
}

/// Refuses a safetensors file with tensors that are not float32 (burn's CPU backend panicked
/// on F16 weights), naming the first; what is not safetensors at all is left to the reader.
fn check_float32(bytes: &[u8]) -> Result<()> {
    let Ok((_, header)) = safetensors::SafeTensors::read_metadata(bytes) else {
        return Ok(());
    };
    let mut tensors: Vec<_> = header.tensors().into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((name, info)) = tensors
        .iter()
        .find(|(_, info)| info.dtype != safetensors::Dtype::F32)
    {
        bail!(
            "the tensor {name} is {:?}: the model reads float32 weights only (convert the file \
             to float32, e.g. with safetensors and numpy)",
            info.dtype
        );
    }
    Ok(())
}

/// The built-in model's weights (the repository's `weights/`, described in MODEL_CARD.md):
/// `trainer tag` works on a fresh clone with no training.
pub const BUILTIN_WEIGHTS: &[u8] =
    include_bytes!("../../weights/modnet-mtat-distilled.safetensors");

/// The built-in model's background set (`scripts/fewshot/background.py`): embeddings of clips
/// of many kinds of music, counter-examples of every tag taught on the built-in model.
pub const BUILTIN_BACKGROUND: &[u8] =
    include_bytes!("../../weights/modnet-mtat-distilled-background.safetensors");

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
    fn bounded_reads_refuse_devices_folders_and_big_files() {
        let e = read_bounded(Path::new("/dev/zero"), "the weights file", 1 << 20).unwrap_err();
        assert!(format!("{e:#}").contains("/dev/zero is a device"), "{e:#}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded(dir.path(), "the config", 10).unwrap_err();
        assert!(format!("{e:#}").contains("is a folder"), "{e:#}");
        let file = dir.path().join("w.bin");
        std::fs::write(&file, [7u8; 11]).unwrap();
        let e = read_bounded(&file, "the labels", 10).unwrap_err();
        assert!(format!("{e:#}").contains("11 bytes"), "{e:#}");
        assert_eq!(read_bounded(&file, "the labels", 11).unwrap(), [7u8; 11]);
    }

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
