//! `modnet_tagger`: the model crate's tagger for Python. A [`tagger::Tagger`] holds one model
//! (the built-in one or a weights file); `tag`, `embed` and `modulation` take a file path or a
//! numpy array and give numpy arrays back, computed by the same functions as `trainer tag` and
//! `trainer embed` (so the numbers are the same). The GIL is released while audio is decoded and
//! the model runs.

mod calls;
mod heads;
mod input;
mod results;
mod route;
mod tagger;
mod teach;

use pyo3::prelude::*;

pyo3::create_exception!(
    modnet_tagger,
    TaggingError,
    pyo3::exceptions::PyValueError,
    "Audio that cannot be tagged (unreadable, empty, NaN, an impossible rate) or a weights \
     file that cannot be loaded; the message is the command line's."
);

/// An error of the audio crate as a [`TaggingError`] with the command line's message
/// (`file: what went wrong`).
pub(crate) fn tagging_error(e: anyhow::Error) -> PyErr {
    TaggingError::new_err(format!("{e:#}"))
}

/// Music auto-tagging with a modulation front-end (SincModNet, Vahidi et al., IJCNN 2021): the
/// 50 MagnaTagATune tags, embeddings and the front-end's pictures, numpy in and out.
///
/// `Tagger()` holds the built-in model (see MODEL_CARD.md: distilled from MTAT-trained
/// teachers) or a weights file; `tag`, `tag_many`, `embed`, `embed_many` and `modulation` give
/// the numbers of `trainer tag`, `trainer embed` and `trainer inspect`. Bad input raises
/// `TaggingError` (a `ValueError`) naming the file or argument.
#[pymodule]
fn modnet_tagger(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // As the trainer: freed buffers stay with the process instead of coming back as fresh
    // pages from the kernel (here a 3-minute song tagged 10-20 % faster; the price is that
    // the process keeps its peak heap). MODNET_KEEP_FREED_MEMORY=0 leaves malloc alone.
    if std::env::var("MODNET_KEEP_FREED_MEMORY").as_deref() != Ok("0") {
        modnet::kernels::keep_freed_memory();
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // What `Tagger(backend=…)` takes in this wheel (a GPU only when built with `wgpu`).
    let backends: &[&str] = if cfg!(feature = "wgpu") {
        &["flex", "auto", "wgpu"]
    } else {
        &["flex", "auto"]
    };
    m.add("BACKENDS", backends.to_vec())?;
    m.add("TaggingError", m.py().get_type::<TaggingError>())?;
    m.add_class::<tagger::Tagger>()?;
    m.add_class::<results::TagResult>()?;
    m.add_class::<results::Embedding>()?;
    m.add_class::<results::Pictures>()?;
    m.add_class::<heads::Heads>()?;
    // What pickled results are rebuilt with (`__reduce__`).
    m.add_function(wrap_pyfunction!(results::_tag_result, m)?)?;
    m.add_function(wrap_pyfunction!(results::_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(results::_pictures, m)?)?;
    m.add_function(wrap_pyfunction!(heads::_heads, m)?)?;
    Ok(())
}
