//! What the front-end sees in one chunk of a signal, computed natively: the filterbank and
//! modulation pictures that the page draws, as values (`trainer inspect`, the Python package's
//! `Tagger.modulation`).

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use modnet::clip::read_back;
use modnet::{ChunkPlan, FilterOrder, InsidePictures, ModNet, PICTURE_RANGE_DB, PictureValues};

use crate::signal::Signal;

/// The pictures of the chunk of `samples` that starts at `start` seconds (zero-padded where it
/// runs past the end; a start at or past the end is refused: its picture would be padding),
/// mean-pooled to at most `columns` columns (`None`: one column per frame), rows in `order`.
pub fn chunk_pictures(
    model: &ModNet,
    order: &FilterOrder,
    samples: &Signal,
    start: f64,
    columns: Option<usize>,
    device: &Device,
) -> Result<PictureValues> {
    let config = model.config();
    let rate = config.sample_rate;
    if !(start.is_finite() && start >= 0.0) {
        bail!("the start must be a time in seconds ≥ 0, not {start}");
    }
    let length = rate.seconds(samples.len());
    if start >= length {
        bail!("the start ({start} s) is past the end of the audio ({length:.3} s)");
    }
    let plan = ChunkPlan::one_at(samples.len(), config.chunk_samples, rate.samples(start))?;
    let batch = plan
        .read_batch(0, samples)
        .context("no chunk at that start")?
        .context("reading the decoded audio back")?;
    let inside = model.inside(batch.tensor(device))?;
    let [_, bands, frames] = inside.filterbank.dims();
    let [_, filters, mod_bands, mod_frames] = inside.modulation.dims();
    let filterbank = read_back::values(inside.filterbank)?;
    // The baseline has no modulation filters: nothing of its stand-in is read back.
    let modulation = if order.modulation.is_empty() {
        Vec::new()
    } else {
        read_back::values(inside.modulation)?
    };
    let drawn = InsidePictures::new(
        order,
        &filterbank,
        [bands, frames],
        &modulation,
        [filters, mod_bands, mod_frames],
        columns.unwrap_or(frames),
        PICTURE_RANGE_DB,
    );
    let chunk_seconds = rate.seconds(config.chunk_samples);
    Ok(PictureValues {
        start_seconds: rate.seconds(plan.starts[0]),
        column_seconds: chunk_seconds / drawn.filterbank.cols.max(1) as f64,
        filterbank: drawn.filterbank,
        modulation: drawn.modulation,
        filterbank_centre_hz: order.filterbank_centre_hz.clone(),
        modulation_centre_hz: order.modulation_centre_hz.clone(),
    })
}
