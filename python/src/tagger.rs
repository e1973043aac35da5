//! `Tagger`: one model on one device, and what it computes for Python.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use burn::tensor::Device;
use modnet::{
    EmbeddingLayer, FilterOrder, GpuConvolution, ModNet, RESPONSE_POINTS, SampleRate, TagGroup,
    TagHeads,
};
use modnet_audio::backend::{Backend, device};
use modnet_audio::files::load_model;
use modnet_audio::signal::Signal;
use modnet_audio::{embeddings, pictures, tagger};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::calls::{many, on_signal};
use crate::heads::{Heads, heads_from_py};
use crate::input::Audio;
use crate::results::{Embedding, Pictures, TagResult};
use crate::route::{self, GpuRoute};
use crate::tagging_error;

/// A music tagger: the built-in model (SincModNet distilled from an MTAT-trained teacher, the 50
/// MagnaTagATune tags; see MODEL_CARD.md) or any weights file written by `trainer train` or
/// `trainer export`.
///
/// `Tagger(weights=None, backend="flex", heads=None, gpu_conv="auto")`: `heads` (a `Heads`, or
/// the path of a head file from `trainer teach`) adds your own tags after the model's, named
/// `user:TAG`. `backend` is `"flex"` (the CPU), or, in a wheel
/// built with the `wgpu` feature, `"auto"` (a GPU through wgpu when there is one, else the
/// CPU) or `"wgpu"`. `gpu_conv` is how the model's convolutions run on a GPU, as the trainer's
/// `--gpu-conv`: `"auto"` times each route the GPU can take at a forward pass of 4 chunks and
/// keeps the fastest, or a route by name (`"direct"`, `"unfolded"`, `"implicit-gemm"`,
/// `"per-pass"`: each convolution's passes by the route fastest for them); the CPU has nothing
/// to choose. A tagger is safe to share between threads; each call releases
/// the GIL while it decodes and runs the model.
#[pyclass(frozen, module = "modnet_tagger")]
pub struct Tagger {
    /// Boxed: burn's device and model hold 64-byte-aligned values, and Python places objects
    /// only 16-byte-aligned.
    state: Box<State>,
    /// What it was made with (the weights file, none for the built-in model, and the backend's
    /// name): shown, and used to make it again when unpickled in another process.
    weights_path: Option<PathBuf>,
    backend: String,
    /// `gpu_conv` as given (a route's name or "auto": timed again where it is unpickled).
    gpu_conv_given: String,
    /// The user's heads as given (sent along when pickled).
    heads_given: Option<Py<Heads>>,
}

/// What a [`Tagger`] holds.
pub struct State {
    model: ModNet,
    device: Device,
    /// The model's tags, then the user's (marked `user:`).
    tags: Arc<Vec<String>>,
    order: FilterOrder,
    heads: Option<TagHeads>,
    /// How the GPU runs convolutions.
    gpu: GpuRoute,
}

impl State {
    /// The model's sample rate (every signal is resampled to it).
    fn rate(&self) -> SampleRate {
        self.model.config().sample_rate
    }
}

impl std::ops::Deref for Tagger {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

#[pymethods]
impl Tagger {
    #[new]
    #[pyo3(signature = (weights = None, backend = "flex", heads = None, gpu_conv = "auto"))]
    fn new(
        py: Python<'_>,
        weights: Option<PathBuf>,
        backend: &str,
        heads: Option<&Bound<'_, PyAny>>,
        gpu_conv: &str,
    ) -> PyResult<Self> {
        let asked = route::parse(gpu_conv)?;
        let given = gpu_conv.to_string();
        let heads_given = heads_from_py(py, heads)?;
        let heads = heads_given.as_ref().map(|h| h.get().heads.clone());
        let chosen = match Backend::named(backend) {
            Some(Backend::Flex) => Backend::Flex,
            // A CPU-only wheel: "auto" can only mean the CPU.
            Some(Backend::Auto) if !cfg!(feature = "wgpu") => Backend::Flex,
            Some(Backend::Wgpu) if !cfg!(feature = "wgpu") => {
                return Err(PyValueError::new_err(
                    "this wheel runs on the CPU only (backend=\"flex\"): build it with the \
                     `wgpu` feature for a GPU",
                ));
            }
            Some(b @ (Backend::Auto | Backend::Wgpu)) => b,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "backend must be \"flex\", \"auto\" or \"wgpu\", not {backend:?}"
                )));
            }
        };
        py.detach(|| {
            let device = device(chosen)?;
            let mut model = load_model(weights.as_deref(), &device)?;
            let gpu = route::choose(asked, &mut model, &device)?;
            let responses = model
                .filter_responses(RESPONSE_POINTS)
                .context("reading the learned filters")?;
            if let Some(heads) = &heads {
                modnet_audio::heads::check_heads(heads, &model).context("heads")?;
            }
            let mut tags = model.config().tags.clone();
            tags.extend(heads.iter().flat_map(TagHeads::marked_names));
            Ok(Self {
                weights_path: weights.clone(),
                backend: backend.to_string(),
                gpu_conv_given: given,
                heads_given,
                state: Box::new(State {
                    tags: Arc::new(tags),
                    order: FilterOrder::of(&responses),
                    model,
                    device,
                    heads,
                    gpu,
                }),
            })
        })
        .map_err(tagging_error)
    }

    /// The route the GPU runs the model's convolutions by (`gpu_conv`, or the fastest where it
    /// was "auto"), or None on the CPU.
    #[getter]
    fn gpu_conv(&self) -> Option<&'static str> {
        self.gpu.route.map(GpuConvolution::name)
    }

    /// Where `gpu_conv="auto"` timed the routes on a GPU: each route's milliseconds per forward
    /// pass of 4 chunks (best of two, after a run that compiles its kernels); else empty.
    #[getter]
    fn gpu_conv_times<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.gpu.times_in_ms(py)
    }

    /// The weights file, or "built-in".
    #[getter]
    fn weights(&self) -> String {
        self.weights_path
            .as_deref()
            .map_or("built-in".into(), modnet_audio::files::path_text)
    }

    /// The vocabulary, in the order of every probability array.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.tags.to_vec()
    }

    /// `{group: [tags]}`: the paper's tag groups (genre, instrument, vocal, mood, other).
    #[getter]
    fn groups<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for group in TagGroup::ALL {
            let tags: Vec<&String> = self
                .tags
                .iter()
                .take(self.model.config().n_tags())
                .filter(|t| TagGroup::of(t) == group)
                .collect();
            dict.set_item(group.name(), tags)?;
        }
        if let Some(heads) = &self.heads {
            dict.set_item("yours", heads.marked_names())?;
        }
        Ok(dict)
    }

    /// The model's sample rate in Hz (audio is resampled to it).
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.model.config().sample_rate.hz()
    }

    /// The model's chunk length in seconds.
    #[getter]
    fn chunk_seconds(&self) -> f64 {
        let config = self.model.config();
        config.sample_rate.seconds(config.chunk_samples)
    }

    /// The model: architecture and size, one line.
    #[getter]
    fn summary(&self) -> String {
        self.model.summary()
    }

    /// Tags a clip: `audio` is a file path, or an array `[samples]` / `[channels, samples]`
    /// of floats with its `sample_rate`. Returns a `TagResult` (`probabilities`, `timeline`,
    /// `starts`, `top(n)`, `as_dict()`); raises `TaggingError` for audio that cannot be tagged.
    /// `timeline=False` skips the timeline (a 3-minute song: 16 chunks instead of 76, as
    /// `trainer tag --csv` does for a library).
    #[pyo3(signature = (audio, sample_rate = None, timeline = true))]
    fn tag(
        &self,
        py: Python<'_>,
        audio: &Bound<'_, PyAny>,
        sample_rate: Option<&Bound<'_, PyAny>>,
        timeline: bool,
    ) -> PyResult<TagResult> {
        on_signal(
            py,
            self.rate(),
            audio,
            sample_rate,
            |samples, audio, stop| self.tag_result(samples, audio, timeline, stop),
        )
    }

    /// Tags many files as `trainer tag --csv` does a library: `jobs` files decoded side by side
    /// (default: one per core), then tagged one after the other (each clip's chunks side by
    /// side on the CPU), the GIL released while they run. Returns one entry per path, in
    /// order: a `TagResult`, or the `TaggingError` of that file as a value (one bad file does
    /// not lose the others). `progress(done, total)` is called after each file; Ctrl-C stops
    /// the call after the files being decoded (`KeyboardInterrupt`). `timeline=False` (the
    /// default here) computes the 16 clip chunks only.
    #[pyo3(signature = (paths, jobs = None, timeline = false, progress = None))]
    fn tag_many(
        &self,
        py: Python<'_>,
        paths: Vec<PathBuf>,
        jobs: Option<usize>,
        timeline: bool,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        many(py, self.rate(), &paths, jobs, progress, |samples, audio| {
            self.tag_result(samples, audio, timeline, &AtomicBool::new(false))
        })
    }

    /// Embeds many files as `trainer embed` does a library, side by side as
    /// [`Tagger::tag_many`]: one entry per path, in order, an `Embedding` or the file's
    /// `TaggingError` as a value.
    #[pyo3(signature = (paths, jobs = None, layer = "pooled", progress = None))]
    fn embed_many(
        &self,
        py: Python<'_>,
        paths: Vec<PathBuf>,
        jobs: Option<usize>,
        layer: &str,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let chosen = EmbeddingLayer::parse(layer).map_err(PyValueError::new_err)?;
        many(py, self.rate(), &paths, jobs, progress, |samples, _| {
            self.embedding(samples, chosen)
        })
    }

    /// Embeddings of a clip, as `trainer embed`: `layer` is `"pooled"` (the ResNet's pooled
    /// features) or `"modulation"` (mean modulation energy per filter and band, dB).
    #[pyo3(signature = (audio, sample_rate = None, layer = "pooled"))]
    fn embed(
        &self,
        py: Python<'_>,
        audio: &Bound<'_, PyAny>,
        sample_rate: Option<&Bound<'_, PyAny>>,
        layer: &str,
    ) -> PyResult<Embedding> {
        let chosen = EmbeddingLayer::parse(layer).map_err(PyValueError::new_err)?;
        on_signal(py, self.rate(), audio, sample_rate, |samples, _, _| {
            self.embedding(samples, chosen)
        })
    }

    /// The filterbank and modulation pictures of the chunk starting at `start` seconds (the
    /// web page's pictures, as arrays for matplotlib), mean-pooled to at most `columns`
    /// columns (`None`: one column per frame).
    #[pyo3(signature = (audio, sample_rate = None, start = 0.0, columns = None))]
    fn modulation(
        &self,
        py: Python<'_>,
        audio: &Bound<'_, PyAny>,
        sample_rate: Option<&Bound<'_, PyAny>>,
        start: f64,
        columns: Option<usize>,
    ) -> PyResult<Pictures> {
        if !(start.is_finite() && start >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "start must be a time in seconds ≥ 0, not {start}"
            )));
        }
        if columns == Some(0) {
            return Err(PyValueError::new_err("columns must be at least 1"));
        }
        on_signal(py, self.rate(), audio, sample_rate, |samples, _, _| {
            self.pictures(samples, start, columns)
        })
    }

    /// The user's tags this tagger adds (`heads=`), or None.
    #[getter]
    fn heads(&self) -> Option<Py<Heads>> {
        Python::attach(|py| self.heads_given.as_ref().map(|h| h.clone_ref(py)))
    }

    /// Learns your own tags from audio: `examples` maps each tag to its examples (paths or
    /// arrays at `sample_rate`); a tag's counter-examples are `negatives` and the other tags'
    /// examples. Each example is embedded (pooled, per chunk) and a head learned per tag as
    /// `trainer teach` does; examples that cannot be read are skipped with a warning. With
    /// `background` (the default) the built-in model's background set (clips of many kinds of
    /// music) stands in for the counter-examples of a tag that has none, so that one tag needs
    /// no negatives; other weights have none. Returns `Heads` (see `Heads.report` for each
    /// tag's cross-validated ROC-AUC).
    #[pyo3(signature = (examples, negatives = None, sample_rate = None, background = true))]
    fn teach(
        &self,
        py: Python<'_>,
        examples: &Bound<'_, PyDict>,
        negatives: Option<&Bound<'_, PyAny>>,
        sample_rate: Option<&Bound<'_, PyAny>>,
        background: bool,
    ) -> PyResult<Heads> {
        crate::teach::teach(
            &self.model,
            &self.device,
            py,
            examples,
            negatives,
            sample_rate,
            background,
        )
    }

    /// Learns your own tags from embeddings you already have (`Tagger.embed(...).chunks` of
    /// this model): `embeddings` a list of `[chunks, D]` (or `[D]`) arrays, one per example;
    /// `labels` maps each tag to one True (has it), False (does not) or None (not used) per
    /// example; `background` as for `teach`. Returns `Heads`.
    #[pyo3(signature = (embeddings, labels, background = true))]
    fn learn_heads(
        &self,
        py: Python<'_>,
        embeddings: &Bound<'_, PyAny>,
        labels: &Bound<'_, PyDict>,
        background: bool,
    ) -> PyResult<Heads> {
        crate::teach::learn_heads(&self.model, py, embeddings, labels, background)
    }

    fn __repr__(&self) -> String {
        format!("Tagger({}: {})", self.weights(), self.model.summary())
    }

    /// Pickling (multiprocessing, joblib): made again from its weights file and backend in the
    /// receiving process (the model itself is not sent).
    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> (
        Bound<'py, pyo3::types::PyType>,
        (Option<PathBuf>, String, Option<Py<Heads>>, String),
    ) {
        let me = slf.get();
        let heads = me.heads_given.as_ref().map(|h| h.clone_ref(slf.py()));
        let made_with = (
            me.weights_path.clone(),
            me.backend.clone(),
            heads,
            me.gpu_conv_given.clone(),
        );
        (slf.get_type(), made_with)
    }
}

impl Tagger {
    /// A signal's embeddings at `layer`.
    fn embedding(&self, samples: &Signal, layer: EmbeddingLayer) -> anyhow::Result<Embedding> {
        let e = embeddings::embed_signal(&self.model, samples, layer, &self.device)?;
        Ok(Embedding {
            chunks: e.chunks,
            clip: e.clip,
            starts: e.starts,
            layer: layer.name().to_string(),
        })
    }

    /// A signal's clip tags (and its timeline when asked and longer than a chunk).
    fn tag_result(
        &self,
        samples: &Signal,
        audio: &Audio,
        timeline: bool,
        stop: &AtomicBool,
    ) -> anyhow::Result<TagResult> {
        let rate = self.rate();
        let with_timeline = timeline && tagger::has_timeline(&self.model, samples.len());
        let tags = tagger::tag_signal_until(
            &self.model,
            samples,
            with_timeline,
            self.heads.as_ref(),
            &self.device,
            stop,
        )?;
        Ok(TagResult {
            tags: self.tags.clone(),
            seconds: rate.seconds(samples.len()),
            notice: tags.notice,
            starts: tags
                .timeline_starts
                .iter()
                .map(|&s| rate.seconds(s))
                .collect(),
            timeline: tags.timeline,
            probabilities: tags.probabilities,
            source: audio.name(),
        })
    }

    /// [`Tagger::modulation`] on a decoded signal.
    fn pictures(
        &self,
        samples: &Signal,
        start: f64,
        columns: Option<usize>,
    ) -> anyhow::Result<Pictures> {
        let values = pictures::chunk_pictures(
            &self.model,
            &self.order,
            samples,
            start,
            columns,
            &self.device,
        )?;
        Ok(Pictures::from(values))
    }
}
