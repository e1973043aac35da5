//! The one error type of the crate: every misuse a caller can make gets a sentence, not a panic.

use alloc::string::String;
use core::fmt;

/// What went wrong when building, running, saving or loading a model.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// A configuration value is out of range or inconsistent with another.
    InvalidConfig(String),
    /// A tensor handed to the model has the wrong rank or size.
    Shape(String),
    /// The waveform is empty (no samples, or a batch of zero clips).
    EmptyInput,
    /// The waveform is shorter than the model's receptive field.
    TooShort {
        /// Samples given.
        samples: usize,
        /// The fewest samples the model can turn into one output frame.
        min_samples: usize,
    },
    /// Audio samples contain NaN or infinity.
    NonFinite,
    /// A weights file could not be read or written.
    Weights(String),
    /// The user's tag heads could not be read, written or used with this model.
    Heads(String),
    /// The device failed to run the model or to give its results back.
    Device(String),
    /// A weights file was made for another configuration than the one it is loaded into.
    ConfigMismatch {
        /// The configuration of the model being loaded into (JSON).
        expected: String,
        /// The configuration stored in the file (JSON).
        found: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(msg) => write!(f, "invalid model configuration: {msg}"),
            Self::Shape(msg) => write!(f, "wrong input shape: {msg}"),
            Self::EmptyInput => write!(f, "the audio is empty: there are no samples to tag"),
            Self::TooShort {
                samples,
                min_samples,
            } => write!(
                f,
                "the audio is too short: {samples} samples given, the model needs at least {min_samples}"
            ),
            Self::NonFinite => write!(f, "the audio contains NaN or infinite samples"),
            Self::Weights(msg) => write!(f, "weights file: {msg}"),
            Self::Heads(msg) => write!(f, "your tags: {msg}"),
            Self::Device(msg) => {
                write!(f, "the device failed to compute or return a result: {msg}")
            }
            Self::ConfigMismatch { expected, found } => write!(
                f,
                "the weights file was made for another model configuration\n  model: {expected}\n  file:  {found}"
            ),
        }
    }
}

impl core::error::Error for ModelError {}
