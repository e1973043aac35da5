//! What the methods return: plain Python objects holding numpy arrays.

use std::sync::Arc;

use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What a pickled [`TagResult`] holds: tags, probabilities, timeline, starts, seconds, notice,
/// source.
pub(crate) type TagResultState = (
    Vec<String>,
    Vec<f32>,
    Vec<Vec<f32>>,
    Vec<f64>,
    f64,
    Option<String>,
    String,
);
/// What a pickled [`Embedding`] holds: chunks, clip, starts, layer.
pub(crate) type EmbeddingState = (Vec<Vec<f32>>, Vec<f32>, Vec<f64>, String);
/// A picture as (rows, cols, values).
pub(crate) type PictureState = (usize, usize, Vec<f32>);
/// What pickled [`Pictures`] hold: filterbank, modulation, both banks' centres, start, column
/// seconds.
pub(crate) type PicturesState = (
    PictureState,
    Vec<PictureState>,
    Vec<f32>,
    Vec<f32>,
    f64,
    f64,
);

/// The module's function that rebuilds a pickled value.
fn restorer<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("modnet_tagger")?.getattr(name)
}

/// Rebuilds a pickled [`TagResult`].
#[pyfunction]
pub(crate) fn _tag_result(state: TagResultState) -> TagResult {
    let (tags, probabilities, timeline, starts, seconds, notice, source) = state;
    TagResult {
        tags: Arc::new(tags),
        probabilities,
        timeline,
        starts,
        seconds,
        notice,
        source,
    }
}

/// Rebuilds a pickled [`Embedding`].
#[pyfunction]
pub(crate) fn _embedding(state: EmbeddingState) -> Embedding {
    let (chunks, clip, starts, layer) = state;
    Embedding {
        chunks,
        clip,
        starts,
        layer,
    }
}

/// Rebuilds pickled [`Pictures`] (a picture whose values do not fill it is refused).
#[pyfunction]
pub(crate) fn _pictures(state: PicturesState) -> PyResult<Pictures> {
    let picture = |(rows, cols, values): PictureState| {
        if rows.checked_mul(cols) != Some(values.len()) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "a pickled picture's values do not fill its rows × columns",
            ));
        }
        Ok(modnet::Picture { rows, cols, values })
    };
    let (filterbank, modulation, filterbank_centre_hz, modulation_centre_hz, start, column_seconds) =
        state;
    Ok(Pictures {
        filterbank: picture(filterbank)?,
        modulation: modulation
            .into_iter()
            .map(picture)
            .collect::<PyResult<_>>()?,
        filterbank_centre_hz,
        modulation_centre_hz,
        start,
        column_seconds,
    })
}

/// A `[rows, cols]` array from row-major values.
fn matrix(py: Python<'_>, rows: usize, cols: usize, values: Vec<f32>) -> Bound<'_, PyArray2<f32>> {
    Array2::from_shape_vec((rows, cols), values)
        .expect("rows × cols values")
        .into_pyarray(py)
}

/// A clip's tags: the 16-chunk protocol's probabilities and, for audio longer than one chunk,
/// a timeline of consecutive chunks (the same numbers as `trainer tag`).
#[pyclass(frozen, module = "modnet_tagger")]
pub struct TagResult {
    pub(crate) tags: Arc<Vec<String>>,
    pub(crate) probabilities: Vec<f32>,
    pub(crate) timeline: Vec<Vec<f32>>,
    pub(crate) starts: Vec<f64>,
    /// The audio's length in seconds (at the model's rate).
    #[pyo3(get)]
    pub(crate) seconds: f64,
    /// A note on how the clip was read (a clip shorter than the protocol's span), or None.
    #[pyo3(get)]
    pub(crate) notice: Option<String>,
    /// The file path, or "the array (RATE Hz)".
    #[pyo3(get)]
    pub(crate) source: String,
}

#[pymethods]
impl TagResult {
    /// The probability of each tag, in vocabulary order (`Tagger.tags`): `float32 [tags]`.
    #[getter]
    fn probabilities<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.probabilities.clone().into_pyarray(py)
    }

    /// One row per consecutive chunk: `float32 [chunks, tags]` (no rows for audio of one
    /// chunk or less).
    #[getter]
    fn timeline<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        let flat = self.timeline.concat();
        matrix(py, self.timeline.len(), self.tags.len(), flat)
    }

    /// The start of each timeline chunk in seconds: `float64 [chunks]`.
    #[getter]
    fn starts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.starts.clone().into_pyarray(py)
    }

    /// The vocabulary, in the order of `probabilities`.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.tags.to_vec()
    }

    /// The `n` most probable tags, best first: `[(tag, probability), …]`.
    #[pyo3(signature = (n = 5))]
    fn top(&self, n: usize) -> Vec<(String, f32)> {
        modnet_audio::tagger::top_tags(&self.probabilities, n)
            .into_iter()
            .map(|i| (self.tags[i].clone(), self.probabilities[i]))
            .collect()
    }

    /// `{tag: probability}` for every tag, in vocabulary order.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (tag, p) in self.tags.iter().zip(&self.probabilities) {
            dict.set_item(tag, p)?;
        }
        Ok(dict)
    }

    /// Pickling (multiprocessing, joblib): the values, rebuilt by `modnet_tagger._tag_result`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (TagResultState,))> {
        Ok((
            restorer(py, "_tag_result")?,
            ((
                self.tags.to_vec(),
                self.probabilities.clone(),
                self.timeline.clone(),
                self.starts.clone(),
                self.seconds,
                self.notice.clone(),
                self.source.clone(),
            ),),
        ))
    }

    fn __repr__(&self) -> String {
        let top: Vec<String> = self
            .top(3)
            .iter()
            .map(|(t, p)| format!("{t} {p:.2}"))
            .collect();
        format!(
            "TagResult({}, {:.1} s, {} timeline chunks, top: {})",
            self.source,
            self.seconds,
            self.timeline.len(),
            top.join(", ")
        )
    }
}

/// Embeddings of a clip, as `trainer embed` writes them: one row per consecutive chunk and
/// their mean.
#[pyclass(frozen, module = "modnet_tagger")]
pub struct Embedding {
    pub(crate) chunks: Vec<Vec<f32>>,
    pub(crate) clip: Vec<f32>,
    pub(crate) starts: Vec<f64>,
    /// `pooled` (the ResNet's pooled features) or `modulation` (mean modulation energy per
    /// filter and band, dB).
    #[pyo3(get)]
    pub(crate) layer: String,
}

#[pymethods]
impl Embedding {
    /// The clip's embedding, the mean of the chunks: `float32 [D]`.
    #[getter]
    fn clip<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.clip.clone().into_pyarray(py)
    }

    /// One embedding per chunk: `float32 [chunks, D]`.
    #[getter]
    fn chunks<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        matrix(py, self.chunks.len(), self.clip.len(), self.chunks.concat())
    }

    /// The start of each chunk in seconds: `float64 [chunks]` (as `TagResult.starts`).
    #[getter]
    fn starts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.starts.clone().into_pyarray(py)
    }

    /// Pickling: the values, rebuilt by `modnet_tagger._embedding`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (EmbeddingState,))> {
        Ok((
            restorer(py, "_embedding")?,
            ((
                self.chunks.clone(),
                self.clip.clone(),
                self.starts.clone(),
                self.layer.clone(),
            ),),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "Embedding({}, {} chunks × {})",
            self.layer,
            self.chunks.len(),
            self.clip.len()
        )
    }
}

/// The pictures of one chunk, as the web page draws them: the filterbank's output and each
/// modulation filter's, power in dB (clipped 80 dB below the maximum), bands low to high.
#[pyclass(frozen, module = "modnet_tagger")]
pub struct Pictures {
    pub(crate) filterbank: modnet::Picture,
    pub(crate) modulation: Vec<modnet::Picture>,
    pub(crate) filterbank_centre_hz: Vec<f32>,
    pub(crate) modulation_centre_hz: Vec<f32>,
    /// Where the chunk starts in the audio, in seconds.
    #[pyo3(get)]
    pub(crate) start: f64,
    /// How many seconds one column spans.
    #[pyo3(get)]
    pub(crate) column_seconds: f64,
}

impl From<modnet::PictureValues> for Pictures {
    fn from(v: modnet::PictureValues) -> Self {
        Self {
            filterbank: v.filterbank,
            modulation: v.modulation,
            filterbank_centre_hz: v.filterbank_centre_hz,
            modulation_centre_hz: v.modulation_centre_hz,
            start: v.start_seconds,
            column_seconds: v.column_seconds,
        }
    }
}

#[pymethods]
impl Pictures {
    /// The filterbank's output: `float32 [bands, columns]` in dB, rows low to high.
    #[getter]
    fn filterbank<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        let p = &self.filterbank;
        matrix(py, p.rows, p.cols, p.values.clone())
    }

    /// Each modulation filter's picture: `float32 [filters, bands, columns]` in dB, filters
    /// low to high (no filters for the max-pool baseline).
    #[getter]
    fn modulation<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f32>> {
        let (rows, cols) = self.modulation.first().map_or((0, 0), |p| (p.rows, p.cols));
        let flat: Vec<f32> = self
            .modulation
            .iter()
            .flat_map(|p| p.values.iter().copied())
            .collect();
        Array3::from_shape_vec((self.modulation.len(), rows, cols), flat)
            .expect("filters × rows × cols values")
            .into_pyarray(py)
    }

    /// The centre frequency of each filterbank row (Hz).
    #[getter]
    fn filterbank_centre_hz<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.filterbank_centre_hz.clone().into_pyarray(py)
    }

    /// The centre frequency of each modulation filter (Hz).
    #[getter]
    fn modulation_centre_hz<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        self.modulation_centre_hz.clone().into_pyarray(py)
    }

    /// Pickling: the values, rebuilt by `modnet_tagger._pictures`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (PicturesState,))> {
        let picture = |p: &modnet::Picture| (p.rows, p.cols, p.values.clone());
        Ok((
            restorer(py, "_pictures")?,
            ((
                picture(&self.filterbank),
                self.modulation.iter().map(picture).collect(),
                self.filterbank_centre_hz.clone(),
                self.modulation_centre_hz.clone(),
                self.start,
                self.column_seconds,
            ),),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "Pictures(at {:.1} s: filterbank {}×{}, {} modulation filters)",
            self.start,
            self.filterbank.rows,
            self.filterbank.cols,
            self.modulation.len()
        )
    }
}
