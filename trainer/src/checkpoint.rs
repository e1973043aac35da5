//! The checkpoint a run writes after every epoch, in one file written atomically: the run's
//! state (JSON), the weights (burn's record bytes) and the optimiser's state. Everything read
//! back is checked before use: a damaged file or NaN weights are refused by name.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use modnet::ModNet;

use modnet_audio::files::write_atomically;

const MAGIC: &[u8; 8] = b"MODNETC1";

/// The three parts of a checkpoint file.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The run's state as JSON (epochs done, learning rate, best loss, log, settings).
    pub state: Vec<u8>,
    /// The weights: `ModNet` record bytes.
    pub weights: Vec<u8>,
    /// The optimiser's state bytes.
    pub optim: Vec<u8>,
}

impl Checkpoint {
    /// A checkpoint of `model` with the given state and optimiser bytes.
    pub fn new(state: Vec<u8>, model: &ModNet, optim: Vec<u8>) -> Result<Self> {
        let mut checkpoint = Self {
            state,
            weights: Vec::new(),
            optim,
        };
        checkpoint.set_model(model)?;
        Ok(checkpoint)
    }

    /// Replaces the weights with `model`'s.
    pub fn set_model(&mut self, model: &ModNet) -> Result<()> {
        self.weights = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| anyhow!("encoding the weights: {e}"))?
            .to_vec();
        Ok(())
    }

    /// Reads a checkpoint file; a file that is not one, or is cut short, is refused by name.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = modnet_audio::files::read_bounded(
            path,
            "the checkpoint",
            modnet_audio::files::MAX_WEIGHTS_BYTES,
        )?;
        let bad = || {
            anyhow!(
                "{} is not a modnet checkpoint or is damaged",
                path.display()
            )
        };
        if bytes.get(..8) != Some(&MAGIC[..]) {
            return Err(bad());
        }
        let mut parts = Vec::new();
        let mut pos = 8;
        for _ in 0..3 {
            let len = bytes.get(pos..pos + 8).ok_or_else(bad)?;
            let len = u64::from_le_bytes(len.try_into()?) as usize;
            let end = pos.checked_add(8 + len).ok_or_else(bad)?;
            parts.push(bytes.get(pos + 8..end).ok_or_else(bad)?.to_vec());
            pos = end;
        }
        if pos != bytes.len() {
            return Err(bad());
        }
        let optim = parts.pop().unwrap_or_default();
        let weights = parts.pop().unwrap_or_default();
        let state = parts.pop().unwrap_or_default();
        Ok(Self {
            state,
            weights,
            optim,
        })
    }

    /// Writes the checkpoint atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut bytes = MAGIC.to_vec();
        for part in [&self.state, &self.weights, &self.optim] {
            bytes.extend((part.len() as u64).to_le_bytes());
            bytes.extend(part);
        }
        write_atomically(path, &bytes)
    }

    /// Loads the weights into `model` (of the checkpoint's configuration); weights that do not
    /// decode or hold NaN or infinite values are refused, naming `path`.
    pub fn load_model(&self, model: ModNet, path: &Path) -> Result<ModNet> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .map_err(|e| anyhow!("{}: the weights do not decode ({e})", path.display()))?;
        let model = model.try_load_record(record).map_err(|e| {
            anyhow!(
                "{}: its weights do not fit the run's model ({e}); written by another version? \
                 Start the run again with --overwrite",
                path.display()
            )
        })?;
        if let Some(param) = model.first_non_finite() {
            bail!(
                "{} is damaged: its weights hold NaN or infinite values (first in {param}); \
                 start the run again with --overwrite",
                path.display()
            );
        }
        Ok(model)
    }
}
