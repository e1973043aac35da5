//! Decoded audio: `prepare` decodes every file clip once to 16 kHz mono float32 in a cache
//! directory (resumable: finished files are kept, each written atomically); training and
//! evaluation read the cache and fall back to decoding.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use modnet::weights::write_atomically;

use super::synth::ClipRecipe;
use super::{Clip, Source};
use crate::audio;

/// The cache file of a clip: its name with `/` turned into `__`, plus `.f32`.
pub fn cache_path(cache_dir: &Path, clip: &Clip) -> PathBuf {
    cache_dir.join(format!("{}.f32", clip.name.replace(['/', '\\'], "__")))
}

/// The clip's samples at `sample_rate`: generated, cached or decoded.
pub fn load(clip: &Clip, cache_dir: Option<&Path>, sample_rate: u32) -> Result<Vec<f32>> {
    match &clip.source {
        Source::Synth {
            seed,
            index,
            samples,
        } => Ok(ClipRecipe::draw(*seed, *index).render(*seed, *index, *samples, sample_rate)),
        Source::File(path) => {
            if let Some(dir) = cache_dir {
                let cached = cache_path(dir, clip);
                if let Ok(bytes) = std::fs::read(&cached) {
                    return Ok(from_bytes(&bytes));
                }
            }
            audio::load_mono(path, sample_rate)
        }
    }
}

/// Decodes `clip` into the cache unless it is there already; returns whether work was done.
pub fn prepare(clip: &Clip, cache_dir: &Path, sample_rate: u32) -> Result<bool> {
    let target = cache_path(cache_dir, clip);
    if target.exists() {
        return Ok(false);
    }
    let samples = load(clip, None, sample_rate)?;
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    write_atomically(&target, &bytes).with_context(|| format!("writing {}", target.display()))?;
    Ok(true)
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
