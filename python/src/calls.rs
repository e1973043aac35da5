//! How a method's work runs: off the GIL, on a signal at the model's rate, interruptible with
//! Ctrl-C (one audio argument), or file after file with side-by-side decoding (many paths).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;

use modnet::SampleRate;
use modnet_audio::signal::Signal;
use pyo3::prelude::*;

use crate::input::Audio;
use crate::tagging_error;

/// `work` on the audio argument as a signal at `rate` (the model's) (and the argument, for
/// its name), with the GIL released; any error becomes a [`crate::TaggingError`] that
/// names the audio. The work runs on a thread of its own while this one watches for
/// Ctrl-C: then `stop` is set, the work gives up at its next batch, and the call raises
/// `KeyboardInterrupt` (a 20-minute array took 4.7 s with Ctrl-C ignored).
pub(crate) fn on_signal<T: Send>(
    py: Python<'_>,
    rate: SampleRate,
    audio: &Bound<'_, PyAny>,
    sample_rate: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&Signal, &Audio, &AtomicBool) -> anyhow::Result<T> + Send,
) -> PyResult<T> {
    let audio = Audio::from_py(audio, sample_rate)?;
    let stop = AtomicBool::new(false);
    let mut interrupt = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = std::sync::mpsc::channel();
            let (audio, stop) = (&audio, &stop);
            scope.spawn(move || {
                let outcome = audio
                    .signal(rate)
                    .and_then(|samples| work(&samples, audio, stop));
                let _ = done.send(outcome);
            });
            loop {
                match finished.recv_timeout(std::time::Duration::from_millis(50)) {
                    Ok(outcome) => return outcome,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(anyhow::anyhow!("the tagging thread ended without a result"));
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
                if interrupt.is_none()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    stop.store(true, Ordering::Relaxed);
                    interrupt = Some(e);
                }
            }
        })
    });
    if let Some(e) = interrupt {
        return Err(e);
    }
    outcome
        .map_err(|e| anyhow::anyhow!("{}: {e:#}", audio.name()))
        .map_err(tagging_error)
}

/// `one` on each of `paths`, `jobs` files decoded side by side (default: one per core) and
/// worked on in order, the GIL released; each entry a result or the file's error as a
/// value; `progress(done, total)` after each file; Ctrl-C between groups.
pub(crate) fn many<T: pyo3::PyClass + Into<pyo3::PyClassInitializer<T>> + Send>(
    py: Python<'_>,
    rate: SampleRate,
    paths: &[PathBuf],
    jobs: Option<usize>,
    progress: Option<Bound<'_, PyAny>>,
    one: impl Fn(&Signal, &Audio) -> anyhow::Result<T> + Sync,
) -> PyResult<Vec<Py<PyAny>>> {
    use rayon::prelude::*;
    if jobs == Some(0) {
        return Err(crate::TaggingError::new_err("jobs must be at least 1"));
    }
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut out = Vec::with_capacity(paths.len());
    for group in paths.chunks(jobs) {
        let results: Vec<anyhow::Result<T>> = py.detach(|| {
            let decoded: Vec<_> = group
                .par_iter()
                .map(|path| Audio::File(path.clone()))
                .map(|audio| (audio.signal(rate), audio))
                .collect();
            decoded
                .into_iter()
                .map(|(samples, audio)| {
                    samples.and_then(|s| {
                        one(&s, &audio).map_err(|e| anyhow::anyhow!("{}: {e:#}", audio.name()))
                    })
                })
                .collect()
        });
        for result in results {
            out.push(match result {
                Ok(value) => Py::new(py, value)?.into_any(),
                Err(e) => tagging_error(e).into_value(py).into_any(),
            });
            if let Some(progress) = &progress {
                progress.call1((out.len(), paths.len()))?;
            }
        }
        py.check_signals()?;
    }
    Ok(out)
}
