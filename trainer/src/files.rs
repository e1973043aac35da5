//! The files the trainer writes and the weights files it reads: every write goes to a temporary
//! sibling that is renamed into place, so a killed process never leaves a truncated file, and
//! every error names the path.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use modnet::ModNet;

/// Writes `bytes` to `path` atomically (temporary file in the same folder, synced, renamed).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// Writes to `path` atomically what `write` writes (buffered): large outputs need no copy in
/// memory.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let attempt = || -> std::io::Result<()> {
        let mut builder = tempfile::Builder::new();
        // Ordinary permissions (umask applies), not the 0600 of a private temporary file.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let file = builder.tempfile_in(dir)?;
        let mut buffered = std::io::BufWriter::new(file);
        write(&mut buffered)?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    attempt().with_context(|| format!("cannot write {}", path.display()))
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
