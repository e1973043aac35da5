//! Samples per second, as one type wherever a rate travels (the model's input, the rate audio
//! is decoded and resampled to, the microphone's), and the one conversion between sample
//! counts and seconds.

use core::fmt;

/// A sample rate in Hz. In a configuration's JSON it is a plain number (`16000`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    burn::serde::Serialize,
    burn::serde::Deserialize,
)]
#[serde(crate = "burn::serde", transparent)]
pub struct SampleRate(u32);

impl SampleRate {
    /// The paper's rate, and the built-in model's.
    pub const PAPER: Self = Self(16_000);

    /// `hz` samples per second.
    pub const fn new(hz: u32) -> Self {
        Self(hz)
    }

    /// Samples per second.
    pub const fn hz(self) -> u32 {
        self.0
    }

    /// Seconds that `samples` samples last.
    pub fn seconds(self, samples: usize) -> f64 {
        samples as f64 / self.0 as f64
    }

    /// Samples in `seconds`, to the nearest whole sample (0 for negative or NaN seconds).
    pub fn samples(self, seconds: f64) -> usize {
        let n = libm::round(seconds * self.0 as f64);
        if n.is_nan() || n <= 0.0 {
            0
        } else {
            n as usize
        }
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn samples_and_seconds_convert_both_ways() {
        let rate = SampleRate::new(16_000);
        assert_eq!(rate.seconds(80_000), 5.0);
        assert_eq!(rate.samples(5.0), 80_000);
        assert_eq!(rate.samples(29.1), 465_600);
        assert_eq!(rate.samples(1.0 / 32_000.0 * 0.99), 0);
        assert_eq!(rate.samples(-1.0), 0);
        assert_eq!(rate.samples(f64::NAN), 0);
        for n in [0, 1, 255, 16_001, 1 << 30] {
            assert_eq!(rate.samples(rate.seconds(n)), n);
        }
        assert_eq!(
            serde_json::to_string(&rate).unwrap(),
            "16000",
            "a plain number in a configuration"
        );
        assert_eq!(
            serde_json::from_str::<SampleRate>("22050").unwrap().hz(),
            22_050
        );
        assert_eq!(rate.to_string(), "16000 Hz");
    }
}
