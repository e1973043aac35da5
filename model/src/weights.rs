//! Weights files: safetensors (readable from Python as well) whose metadata carries the model's
//! configuration, so that a file alone rebuilds its model and a file of another configuration is
//! refused with a clear message.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;

use crate::config::ModNetConfig;
use crate::error::ModelError;
use crate::model::ModNet;

/// Metadata key holding the configuration JSON.
pub const CONFIG_KEY: &str = "modnet.config";
/// Metadata key holding the file format name and version.
pub const FORMAT_KEY: &str = "modnet.format";
/// This crate's weights format.
pub const FORMAT: &str = "modnet-weights/1";

fn weights_error(e: impl core::fmt::Display) -> ModelError {
    ModelError::Weights(e.to_string())
}

/// Reads the configuration stored in a weights file without building the model.
pub fn read_config(bytes: &[u8]) -> Result<ModNetConfig, ModelError> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| weights_error(format!("not a safetensors file ({e})")))?;
    let entries = metadata.metadata().as_ref();
    let get = |key: &str| entries.and_then(|m| m.get(key));
    match get(FORMAT_KEY) {
        Some(format) if format == FORMAT => {}
        Some(other) => {
            return Err(weights_error(format!(
                "format '{other}' is not the one this version reads ('{FORMAT}')"
            )));
        }
        None => {
            return Err(weights_error(
                "a safetensors file, but not one written by modnet (no modnet.format metadata)",
            ));
        }
    }
    let json = get(CONFIG_KEY)
        .ok_or_else(|| weights_error("the file has no model configuration (modnet.config)"))?;
    ModNetConfig::from_json(json)
}

impl ModNet {
    /// The weights and configuration as a safetensors file in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let mut store = SafetensorsStore::from_bytes(None)
            .metadata(FORMAT_KEY, FORMAT)
            .metadata(CONFIG_KEY, self.config().to_json());
        self.save_into(&mut store).map_err(weights_error)?;
        store.get_bytes().map_err(weights_error)
    }

    /// Builds the model a weights file describes and loads its weights.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, ModelError> {
        let config = read_config(bytes)?;
        config.init(device)?.load_weights(bytes)
    }

    /// Loads weights into this model; the file must have been made for the same configuration.
    pub fn load_bytes(self, bytes: &[u8]) -> Result<Self, ModelError> {
        let found = read_config(bytes)?;
        if &found != self.config() {
            return Err(ModelError::ConfigMismatch {
                expected: compact(&self.config().to_json()),
                found: compact(&found.to_json()),
            });
        }
        self.load_weights(bytes)
    }

    fn load_weights(mut self, bytes: &[u8]) -> Result<Self, ModelError> {
        check_finite(bytes)?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()));
        let result = self.load_from(&mut store).map_err(weights_error)?;
        if !result.unused.is_empty() {
            return Err(weights_error(format!(
                "tensors the model does not have: {}",
                result.unused.join(", ")
            )));
        }
        Ok(self)
    }

    /// Writes the weights file atomically (a temporary sibling renamed into place), so that an
    /// interrupted save never leaves a truncated file behind. (Named apart from burn's
    /// `Module::save_file`, which writes burnpack without the configuration.)
    #[cfg(feature = "std")]
    pub fn save_weights_file(&self, path: impl AsRef<std::path::Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomically(path, &bytes)
            .map_err(|e| weights_error(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads a weights file written by [`ModNet::save_weights_file`] (or the trainer's `export`).
    #[cfg(feature = "std")]
    pub fn load_weights_file(
        path: impl AsRef<std::path::Path>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| weights_error(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&bytes, device).map_err(|e| match e {
            ModelError::Weights(msg) => weights_error(format!("{}: {msg}", path.display())),
            other => other,
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
#[cfg(feature = "std")]
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "weights".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Refuses a file whose float tensors hold NaN or infinities (they would give NaN tags). Read
/// from the bytes, not the device: no read-back, so it works on WebGPU too.
fn check_finite(bytes: &[u8]) -> Result<(), ModelError> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| weights_error(format!("not a safetensors file ({e})")))?;
    for (name, view) in file.tensors() {
        let finite = match view.dtype() {
            safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()),
            safetensors::Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .all(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])).is_finite()),
            _ => true,
        };
        if !finite {
            return Err(weights_error(format!(
                "the weights hold NaN or infinite values (tensor {name})"
            )));
        }
    }
    Ok(())
}

fn compact(json: &str) -> String {
    json.split_whitespace().collect::<Vec<_>>().join(" ")
}
