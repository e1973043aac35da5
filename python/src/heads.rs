//! `Heads`: the user's own tags (`Tagger.teach`, `Tagger.learn_heads`, `trainer teach`), a
//! head file in memory.

use std::path::PathBuf;

use modnet::TagHeads;
use modnet_audio::files::{OutputKind, check_writable, write_atomically};
use modnet_audio::heads::read_heads;
use numpy::{PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::{TaggingError, tagging_error};

/// Your own tags: one small classifier per tag on the model's pooled embeddings, learned by
/// `Tagger.teach` (from audio) or `Tagger.learn_heads` (from embeddings), or read with
/// `Heads.load` from a file of `trainer teach`. `Tagger(heads=...)` then tags with them beside
/// the model's tags (marked `user:`).
#[pyclass(frozen, module = "modnet_tagger")]
pub struct Heads {
    pub(crate) heads: TagHeads,
}

#[pymethods]
impl Heads {
    /// Reads a head file (`trainer teach --out`, `Heads.save`).
    #[staticmethod]
    pub(crate) fn load(path: PathBuf) -> PyResult<Self> {
        let heads = read_heads(&path).map_err(tagging_error)?;
        Ok(Self { heads })
    }

    /// Writes the heads as a head file; a file already at `path` is replaced only if it is
    /// one.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        check_writable(&path, OutputKind::Heads).map_err(tagging_error)?;
        let bytes = self.heads.to_bytes().map_err(|e| tagging_error(e.into()))?;
        write_atomically(&path, &bytes).map_err(tagging_error)
    }

    /// The tags' names, in the order of `predict`'s columns.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.heads.names()
    }

    /// Per tag, the probability from which a clip is said to have it.
    #[getter]
    fn thresholds(&self) -> Vec<f32> {
        self.heads.heads.iter().map(|h| h.threshold).collect()
    }

    /// Per tag, how it was learned: examples, counter_examples, background (clips of the
    /// model's background set that stood in for counter-examples), folds, cv_roc_auc (None without cross-validation),
    /// l2, warnings.
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.heads
            .heads
            .iter()
            .map(|h| {
                let d = PyDict::new(py);
                let r = &h.report;
                d.set_item("tag", &h.name)?;
                d.set_item("examples", r.examples)?;
                d.set_item("counter_examples", r.counter_examples)?;
                d.set_item("background", r.background)?;
                d.set_item("folds", r.folds)?;
                d.set_item("cv_roc_auc", r.cv_roc_auc)?;
                d.set_item("l2", r.l2)?;
                d.set_item("threshold", h.threshold)?;
                d.set_item("warnings", r.warnings.clone())?;
                Ok(d)
            })
            .collect()
    }

    /// The model they were learned on: its summary and the SHA-256 of its weights.
    #[getter]
    fn base(&self) -> (String, String) {
        (
            self.heads.base.summary.clone(),
            self.heads.base.sha256.clone(),
        )
    }

    /// Each tag's probability for each row of `embeddings` (`[n, D]` float32 pooled chunk
    /// embeddings, as `Tagger.embed(...).chunks`): `[n, tags]`. A clip's probability is the
    /// mean over its chunks, as `Tagger.tag` computes it.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        embeddings: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let shape = embeddings.shape();
        if shape[1] != self.heads.dim() {
            return Err(TaggingError::new_err(format!(
                "embeddings have {} features; these heads read {} (pooled embeddings of the \
                 model they were learned on)",
                shape[1],
                self.heads.dim()
            )));
        }
        let values = embeddings.as_slice()?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(TaggingError::new_err("embeddings hold NaN or infinity"));
        }
        let out = self.heads.probabilities(values);
        let array = numpy::ndarray::Array2::from_shape_vec((shape[0], self.heads.heads.len()), out)
            .map_err(|e| TaggingError::new_err(e.to_string()))?;
        Ok(numpy::IntoPyArray::into_pyarray(array, py))
    }

    fn __repr__(&self) -> String {
        format!(
            "Heads({} tags: {}; learned on {})",
            self.heads.heads.len(),
            self.heads.names().join(", "),
            self.heads.base.short()
        )
    }

    /// Pickling: the head file's bytes.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let bytes = self.heads.to_bytes().map_err(|e| tagging_error(e.into()))?;
        Ok((
            py.import("modnet_tagger")?.getattr("_heads")?,
            (PyBytes::new(py, &bytes),),
        ))
    }
}

/// Rebuilds pickled [`Heads`].
#[pyfunction]
pub(crate) fn _heads(bytes: &[u8]) -> PyResult<Heads> {
    TagHeads::from_bytes(bytes)
        .map(|heads| Heads { heads })
        .map_err(|e| TaggingError::new_err(e.to_string()))
}

/// `Tagger(heads=…)`'s argument: `Heads`, the path of a head file, or None.
pub(crate) fn heads_from_py(
    py: Python<'_>,
    heads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Py<Heads>>> {
    let Some(h) = heads.filter(|h| !h.is_none()) else {
        return Ok(None);
    };
    if let Ok(h) = h.cast::<Heads>() {
        return Ok(Some(h.clone().unbind()));
    }
    let path: PathBuf = h
        .extract()
        .map_err(|_| TaggingError::new_err("heads must be a Heads or the path of a head file"))?;
    Ok(Some(Py::new(py, Heads::load(path)?)?))
}
