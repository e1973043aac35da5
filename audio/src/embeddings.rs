//! Embeddings of music files: an embedding per chunk (the timeline's consecutive chunks) and per
//! clip (their mean), from the ResNet's pooled features or the modulation-spectrum summary, and
//! the safetensors file that holds them (`trainer embed` writes it, `trainer similar` reads it).
//!
//! The file holds `clip` `[files, D]`, `chunks` `[chunks, D]`, `chunk_file` `[chunks]` (i64
//! index of the file) and `chunk_start_seconds` `[chunks]`; its metadata names the files
//! (`modnet.embedding.files`, JSON), the layer and the model. Its header keys are sorted, so the
//! same embeddings make the same bytes.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use modnet::clip::read_back;
use modnet::{ChunkPlan, EmbeddingLayer, ModNet};
use safetensors::{Dtype, tensor::TensorView};

use crate::audio;
use crate::files::write_atomically;
use crate::signal::Signal;

/// One file's embeddings.
pub struct FileEmbedding {
    /// Start of each chunk in seconds (float64, as the tags' timeline; the file stores f32).
    pub starts: Vec<f64>,
    /// One row per chunk.
    pub chunks: Vec<Vec<f32>>,
    /// The mean of the chunks.
    pub clip: Vec<f32>,
}

/// The embeddings of one file: its timeline chunks (the last one end-aligned), and their mean.
pub fn embed_file(
    model: &ModNet,
    path: &Path,
    layer: EmbeddingLayer,
    device: &Device,
) -> Result<FileEmbedding> {
    let samples = audio::decode(path, model.config().sample_rate)?;
    embed_signal(model, &samples, layer, device)
}

/// The embeddings of a decoded signal: its timeline chunks (the last one end-aligned), and
/// their mean. Memory stays bounded whatever the length: the signal is read a batch of chunks
/// at a time.
pub fn embed_signal(
    model: &ModNet,
    samples: &Signal,
    layer: EmbeddingLayer,
    device: &Device,
) -> Result<FileEmbedding> {
    let config = model.config();
    let plan = ChunkPlan::timeline(samples.len(), config.chunk_samples)?;
    let mut chunks = Vec::with_capacity(plan.len());
    for index in 0..plan.batch_count() {
        let batch = plan
            .read_batch(index, samples)
            .expect("index below batch_count")
            .context("reading the decoded audio back")?;
        let e = model.embed(batch.tensor(device), layer)?;
        let dim = e.dims()[1];
        let values = read_back::values(e)?;
        chunks.extend(values.chunks(dim).map(<[f32]>::to_vec));
    }
    let dim = chunks.first().map_or(0, Vec::len);
    let mut clip = vec![0.0f32; dim];
    for chunk in &chunks {
        clip.iter_mut().zip(chunk).for_each(|(c, v)| *c += v);
    }
    clip.iter_mut()
        .for_each(|c| *c /= chunks.len().max(1) as f32);
    Ok(FileEmbedding {
        starts: plan
            .starts
            .iter()
            .map(|&s| config.sample_rate.seconds(s))
            .collect(),
        chunks,
        clip,
    })
}

/// Embeddings of many files, as the file stores them.
pub struct Embeddings {
    /// The files, in row order of `clip`.
    pub files: Vec<String>,
    /// The layer they come from.
    pub layer: String,
    /// The model's one-line summary.
    pub model: String,
    /// One clip embedding per file.
    pub clip: Vec<Vec<f32>>,
}

fn f32_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(f32::to_le_bytes).collect()
}

pub fn write(
    path: &Path,
    files: &[String],
    embeddings: &[FileEmbedding],
    layer: EmbeddingLayer,
    model: &ModNet,
) -> Result<()> {
    let dim = embeddings.first().map_or(0, |e| e.clip.len());
    let n_chunks: usize = embeddings.iter().map(|e| e.chunks.len()).sum();
    let clip = f32_bytes(embeddings.iter().flat_map(|e| e.clip.iter().copied()));
    let chunks = f32_bytes(
        embeddings
            .iter()
            .flat_map(|e| e.chunks.iter().flatten().copied()),
    );
    let chunk_file: Vec<u8> = embeddings
        .iter()
        .enumerate()
        .flat_map(|(i, e)| std::iter::repeat_n(i as i64, e.chunks.len()))
        .flat_map(i64::to_le_bytes)
        .collect();
    let starts = f32_bytes(
        embeddings
            .iter()
            .flat_map(|e| e.starts.iter().map(|&s| s as f32)),
    );
    fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>> {
        TensorView::new(dtype, shape, data).context("building the embeddings file")
    }
    let tensors = vec![
        ("clip", view(Dtype::F32, vec![files.len(), dim], &clip)?),
        ("chunks", view(Dtype::F32, vec![n_chunks, dim], &chunks)?),
        ("chunk_file", view(Dtype::I64, vec![n_chunks], &chunk_file)?),
        (
            "chunk_start_seconds",
            view(Dtype::F32, vec![n_chunks], &starts)?,
        ),
    ];
    let metadata = HashMap::from([
        (
            "modnet.embedding.files".to_string(),
            serde_json::to_string(files)?,
        ),
        (
            "modnet.embedding.layer".to_string(),
            layer.name().to_string(),
        ),
        ("modnet.embedding.model".to_string(), model.summary()),
    ]);
    let bytes =
        safetensors::serialize(tensors, Some(metadata)).context("building the embeddings file")?;
    // The same embeddings make the same bytes.
    let bytes = modnet::weights::sorted_header(&bytes).context("building the embeddings file")?;
    write_atomically(path, &bytes)
}

/// Reads a file written by `embed` (clip embeddings and their files).
pub fn read(path: &Path) -> Result<Embeddings> {
    // A million clips of 1 024 values: 4 GB; the bound is for devices and absurd files.
    let bytes = crate::files::read_bounded(path, "the embeddings file", 64 << 30)?;
    let bad = |why: String| anyhow::anyhow!("{}: not an embeddings file ({why})", path.display());
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |key: &str| {
        meta.get(key)
            .cloned()
            .ok_or_else(|| bad(format!("no {key}")))
    };
    let files: Vec<String> =
        serde_json::from_str(&get("modnet.embedding.files")?).map_err(|e| bad(e.to_string()))?;
    let clip = file.tensor("clip").map_err(|e| bad(e.to_string()))?;
    let shape = clip.shape().to_vec();
    if clip.dtype() != Dtype::F32 || shape.len() != 2 || shape[0] != files.len() {
        return Err(bad(format!("clip is {:?} {shape:?}", clip.dtype())));
    }
    let values: Vec<f32> = clip
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // NaN would make every similarity meaningless (0 or NaN): refuse it, as NaN weights are.
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let row = i / shape[1].max(1);
        bail!(
            "{} is damaged: its clip embeddings hold NaN or infinite values (first in row {row}, \
             {}); make it again with `trainer embed`",
            path.display(),
            files.get(row).map_or("?", String::as_str)
        );
    }
    Ok(Embeddings {
        files,
        layer: get("modnet.embedding.layer")?,
        model: get("modnet.embedding.model")?,
        clip: values
            .chunks(shape[1].max(1))
            .map(<[f32]>::to_vec)
            .collect(),
    })
}
