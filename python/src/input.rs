//! The audio a method is given: a file (any format `trainer tag` reads) or a numpy array of
//! samples with its rate, as a mono signal at the model's rate.

use std::path::PathBuf;

use modnet::SampleRate;
use modnet_audio::audio::{self, MAX_SOURCE_RATE, MIN_SOURCE_RATE};
use modnet_audio::library::name_once;
use modnet_audio::signal::Signal;
use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::TaggingError;

/// More channels than this with fewer samples than channels is a `[samples, channels]` array.
const MAX_CHANNELS: usize = 64;

/// A method's audio argument, read while the GIL is held; [`Audio::signal`] runs without it.
pub enum Audio {
    File(PathBuf),
    Samples { channels: Vec<Vec<f32>>, rate: u32 },
}

impl Audio {
    /// A path (`str` or `os.PathLike`) or an array (`numpy.ndarray` or anything
    /// `numpy.asarray` takes): `[samples]` or `[channels, samples]` (librosa's layout), float
    /// in [-1, 1], at `sample_rate` Hz. Anything else is a `TaggingError` (a `ValueError`)
    /// naming the argument.
    pub fn from_py(
        audio: &Bound<'_, PyAny>,
        sample_rate: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if audio.is_none() {
            return Err(TaggingError::new_err(
                "audio must be a file path or an array of samples, not None",
            ));
        }
        if let Ok(path) = audio.extract::<PathBuf>() {
            if sample_rate.is_some_and(|r| !r.is_none()) {
                return Err(TaggingError::new_err(
                    "sample_rate is for arrays: a file says its own rate",
                ));
            }
            return Ok(Self::File(path));
        }
        let rate = rate_of(sample_rate)?;
        let np = audio.py().import("numpy")?;
        let array = np.call_method1("asarray", (audio,))?;
        let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
        if kind != "f" {
            return Err(TaggingError::new_err(format!(
                "the samples are of dtype {} (kind '{kind}'); give floats in [-1, 1] \
                 (integer PCM: y / 32768.0 for int16)",
                array.getattr("dtype")?.str()?
            )));
        }
        let array = np.call_method1("ascontiguousarray", (array, "float32"))?;
        let array: PyReadonlyArrayDyn<'_, f32> = array.extract()?;
        let shape = array.shape().to_vec();
        let values = array.as_slice()?;
        let channels = match shape[..] {
            [_] => vec![values.to_vec()],
            [c, n] if c > MAX_CHANNELS && n <= MAX_CHANNELS => {
                return Err(TaggingError::new_err(format!(
                    "an array of shape ({c}, {n}) looks like [samples, channels] (soundfile's \
                     layout); give [channels, samples] (librosa's): pass y.T"
                )));
            }
            [c, n] => (0..c)
                .map(|k| values[k * n..(k + 1) * n].to_vec())
                .collect(),
            _ => {
                return Err(TaggingError::new_err(format!(
                    "the samples must be [samples] or [channels, samples], not an array of \
                     shape {shape:?}"
                )));
            }
        };
        Ok(Self::Samples { channels, rate })
    }

    /// What the errors call this audio.
    pub fn name(&self) -> String {
        match self {
            Self::File(path) => modnet_audio::files::path_text(path),
            Self::Samples { rate, .. } => format!("the array ({rate} Hz)"),
        }
    }

    /// Mono samples at `sample_rate`, decoded or resampled as `trainer tag` does.
    pub fn signal(&self, sample_rate: SampleRate) -> anyhow::Result<Signal> {
        match self {
            Self::File(path) => {
                audio::decode(path, sample_rate).map_err(|e| anyhow::anyhow!(name_once(path, &e)))
            }
            Self::Samples { channels, rate } => {
                let slices: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
                audio::from_channels(&slices, *rate, sample_rate)
                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", self.name()))
            }
        }
    }
}

/// `sample_rate` as a whole number of Hz a decoder would accept: an int (or a float, or a numpy
/// number, of a whole value) from the lowest to the highest rate `trainer tag` reads.
fn rate_of(sample_rate: Option<&Bound<'_, PyAny>>) -> PyResult<u32> {
    let Some(value) = sample_rate.filter(|r| !r.is_none()) else {
        return Err(TaggingError::new_err(
            "an array of samples needs its sample_rate (Hz), e.g. tag(y, sample_rate=sr)",
        ));
    };
    let shown = value
        .repr()
        .map_or_else(|_| "?".to_string(), |r| r.to_string());
    let hz = value.extract::<f64>().map_err(|_| {
        TaggingError::new_err(format!("sample_rate must be a number of Hz, not {shown}"))
    })?;
    let range = f64::from(MIN_SOURCE_RATE)..=f64::from(MAX_SOURCE_RATE);
    if !(hz.fract() == 0.0 && range.contains(&hz)) {
        return Err(TaggingError::new_err(format!(
            "sample_rate must be a whole number of Hz from {MIN_SOURCE_RATE} to \
             {MAX_SOURCE_RATE}, not {shown}"
        )));
    }
    Ok(hz as u32)
}
