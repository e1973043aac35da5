//! Decoded audio: `prepare` decodes every audio file of a dataset once to mono float32 at the
//! model's rate in a cache directory (resumable: finished files are kept, each written
//! atomically); training and evaluation read the cache — a segment by seeking, not by reading
//! the whole file — and fall back to decoding.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use modnet::SampleRate;
use modnet_audio::files::write_atomically_with;

use super::synth::ClipRecipe;
use super::{Clip, Source};
use modnet_audio::audio;

/// The cache file of an audio file known as `key` at `sample_rate`: a readable part of the
/// name, then 16 hex digits of the key's SHA-256 (so that two keys never share an entry, as
/// `sub/x.wav` and `sub__x.wav` once did), the rate and `.f32` (a model of another rate never
/// reads samples made for this one).
pub fn cache_path(cache_dir: &Path, key: &str, sample_rate: SampleRate) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let readable: String = Path::new(key)
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    cache_dir.join(format!("{readable}-{hash}.{}.f32", sample_rate.hz()))
}

/// The clip's samples at `sample_rate`: generated, cached or decoded (a segment clip: its
/// segment, zero-padded where it runs past the file's end).
pub fn load(clip: &Clip, cache_dir: Option<&Path>, sample_rate: SampleRate) -> Result<Vec<f32>> {
    match &clip.source {
        Source::File {
            segment: Some(s), ..
        } => {
            let start = sample_rate.samples(s.start) as i64;
            let len = sample_rate.samples(s.seconds);
            load_window(clip, cache_dir, sample_rate, start, len)
        }
        Source::Synth {
            seed,
            index,
            samples,
        } => Ok(ClipRecipe::draw(*seed, *index).render(*seed, *index, *samples, sample_rate)),
        Source::File { path, key, .. } => {
            if let Some(dir) = cache_dir {
                let cached = cache_path(dir, key, sample_rate);
                if cached.exists() {
                    return read_cached(&cached, 0, None);
                }
            }
            audio::load_mono(path, sample_rate)
        }
    }
}

/// `len` samples of the clip's file from sample `start` (which may be negative, or run past the
/// end: zeros there). Used for segments and their shifted crops.
pub fn load_window(
    clip: &Clip,
    cache_dir: Option<&Path>,
    sample_rate: SampleRate,
    start: i64,
    len: usize,
) -> Result<Vec<f32>> {
    let Source::File { path, key, .. } = &clip.source else {
        bail!("{}: a window of a generated clip", clip.name);
    };
    let mut out = vec![0.0f32; len];
    let skip = ((-start).max(0) as usize).min(len); // leading zeros
    let (from, need) = (start.max(0) as usize, len - skip);
    let cached = cache_dir
        .map(|d| cache_path(d, key, sample_rate))
        .filter(|p| p.exists());
    let samples = match cached {
        Some(cached) => read_cached(&cached, from, Some(need))?,
        None => {
            let all = audio::load_mono(path, sample_rate)?;
            let from = from.min(all.len());
            all[from..(from + need).min(all.len())].to_vec()
        }
    };
    out[skip..skip + samples.len()].copy_from_slice(&samples);
    Ok(out)
}

/// Samples `from..from + count` (or to the end) of a cache file, checked: a damaged entry is
/// named, with what to do.
fn read_cached(cached: &Path, from: usize, count: Option<usize>) -> Result<Vec<f32>> {
    let damaged = |why: &str| {
        anyhow::anyhow!(
            "the cache entry {} is damaged ({why}): run `prepare` again to decode it anew",
            cached.display()
        )
    };
    let mut file =
        File::open(cached).with_context(|| format!("cannot read {}", cached.display()))?;
    let bytes = file
        .metadata()
        .with_context(|| format!("cannot read {}", cached.display()))?
        .len();
    if bytes == 0 || bytes % 4 != 0 {
        return Err(damaged(&format!("{bytes} bytes")));
    }
    let total = (bytes / 4) as usize;
    let from = from.min(total);
    let count = count.map_or(total - from, |c| c.min(total - from));
    file.seek(SeekFrom::Start(from as u64 * 4))
        .and_then(|_| {
            let mut buf = vec![0u8; count * 4];
            file.read_exact(&mut buf).map(|_| buf)
        })
        .map(|buf| from_bytes(&buf))
        .with_context(|| format!("reading {}", cached.display()))
}

/// Samples in the clip's whole file (from the cache when there, else by decoding).
pub fn file_len(clip: &Clip, cache_dir: Option<&Path>, sample_rate: SampleRate) -> Result<usize> {
    let Source::File { path, .. } = &clip.source else {
        bail!("{}: a generated clip has no file", clip.name);
    };
    match cached_len(clip, cache_dir, sample_rate)? {
        Some(len) => Ok(len),
        None => Ok(audio::load_mono(path, sample_rate)?.len()),
    }
}

/// Samples in the cache entry of the clip's file, when there is one (no decoding).
pub fn cached_len(
    clip: &Clip,
    cache_dir: Option<&Path>,
    sample_rate: SampleRate,
) -> Result<Option<usize>> {
    let Source::File { key, .. } = &clip.source else {
        return Ok(None);
    };
    let Some(cached) = cache_dir
        .map(|d| cache_path(d, key, sample_rate))
        .filter(|p| p.exists())
    else {
        return Ok(None);
    };
    let bytes = std::fs::metadata(&cached)
        .with_context(|| format!("cannot read {}", cached.display()))?
        .len();
    Ok(Some((bytes / 4) as usize))
}

/// Decodes the file of `clip` into the cache unless it is there already; returns whether work
/// was done. A generated clip has nothing to cache.
pub fn prepare(clip: &Clip, cache_dir: &Path, sample_rate: SampleRate) -> Result<bool> {
    let Source::File { path, key, .. } = &clip.source else {
        return Ok(false);
    };
    let target = cache_path(cache_dir, key, sample_rate);
    // A whole entry is kept; an empty or cut one (a full disk, a copy gone wrong) is made again.
    let whole = std::fs::metadata(&target).is_ok_and(|m| m.len() > 0 && m.len() % 4 == 0);
    if whole {
        return Ok(false);
    }
    // Decoded with bounded memory (an hour-long file waits on disk), then copied in blocks.
    let signal = audio::decode(path, sample_rate)?;
    write_atomically_with(&target, |w| {
        signal
            .for_each_block(|block| {
                let bytes: Vec<u8> = block.iter().flat_map(|s| s.to_le_bytes()).collect();
                Ok(w.write_all(&bytes)?)
            })
            .map_err(|e| std::io::Error::other(format!("{e:#}")))
    })?;
    Ok(true)
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
