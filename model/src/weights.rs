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
/// This crate's weights format. Version 2 names the ResNet `resnet` (tensors `resnet.*`).
pub const FORMAT: &str = "modnet-weights/2";
/// The first format, which named the ResNet `backend`; still read (see [`upgrade`]).
pub const FORMAT_V1: &str = "modnet-weights/1";
const V1_PREFIX: &str = "backend.";
const V2_PREFIX: &str = "resnet.";

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
        Some(format) if format == FORMAT || format == FORMAT_V1 => {}
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
        sorted_header(&store.get_bytes().map_err(weights_error)?)
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
        let bytes = upgrade(bytes)?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes));
        let result = self.load_from(&mut store).map_err(weights_error)?;
        if !result.unused.is_empty() {
            return Err(weights_error(format!(
                "tensors the model does not have: {}",
                result.unused.join(", ")
            )));
        }
        Ok(self)
    }
}

/// The file in the current format: a format-1 file has its `backend.*` tensors renamed to
/// `resnet.*` (values untouched); a current file is returned as it is.
pub fn upgrade(bytes: &[u8]) -> Result<Vec<u8>, ModelError> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| weights_error(format!("not a safetensors file ({e})")))?;
    let mut metadata = header.metadata().clone();
    let is_v1 = metadata
        .as_ref()
        .and_then(|m| m.get(FORMAT_KEY))
        .is_some_and(|f| f == FORMAT_V1);
    if !is_v1 {
        return Ok(bytes.to_vec());
    }
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| weights_error(format!("not a safetensors file ({e})")))?;
    let tensors = file.tensors().into_iter().map(|(name, view)| {
        let name = match name.strip_prefix(V1_PREFIX) {
            Some(rest) => format!("{V2_PREFIX}{rest}"),
            None => name,
        };
        (name, view)
    });
    if let Some(m) = metadata.as_mut() {
        m.insert(FORMAT_KEY.to_string(), FORMAT.to_string());
        if let Some(json) = m.get(CONFIG_KEY) {
            let config = ModNetConfig::from_json(json)?;
            m.insert(CONFIG_KEY.to_string(), config.to_json());
        }
    }
    safetensors::serialize(tensors, metadata)
        .map_err(|e| weights_error(format!("cannot convert a format-1 file ({e})")))
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

/// A safetensors file with its header's keys in sorted order. safetensors writes the header
/// from hash maps, so the same weights came out in another byte order on every save; sorted,
/// equal tensors make equal files (a checksum or a diff says whether a model changed).
pub fn sorted_header(bytes: &[u8]) -> Result<Vec<u8>, ModelError> {
    use serde_json::{Map, Value};
    let bad = || weights_error("the encoded file has no valid header");
    let n = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(bad)? as usize;
    let json = bytes
        .get(8..8usize.checked_add(n).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    let header: Map<String, Value> = serde_json::from_slice(json).map_err(|_| bad())?;
    fn sorted(map: Map<String, Value>) -> Map<String, Value> {
        let mut entries: Vec<(String, Value)> = map.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
            .into_iter()
            .map(|(k, v)| match v {
                Value::Object(inner) if k == "__metadata__" => (k, Value::Object(sorted(inner))),
                v => (k, v),
            })
            .collect()
    }
    let mut header = serde_json::to_vec(&sorted(header)).map_err(weights_error)?;
    // The data starts 8-byte aligned, as safetensors pads it.
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + header.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

fn compact(json: &str) -> String {
    json.split_whitespace().collect::<Vec<_>>().join(" ")
}
