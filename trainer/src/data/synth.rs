//! The built-in dataset: procedurally generated, music-like clips whose tags are defined by
//! timbre and temporal modulation — the properties a modulation front-end is built to see.
//! Deterministic from (seed, index); no files needed.
//!
//! Each clip draws independently: a register (low / mid / high fundamental), an articulation
//! (percussive notes or sustained tones), a rhythmic pulse (none, slow ≈ 1.5 Hz, fast ≈ 6 Hz),
//! tremolo (amplitude modulation at 10–16 Hz) or not, a noisy layer (filtered noise) or not.

use modnet::SampleRate;
use rand::rngs::StdRng;

use super::{Clip, Dataset, Source};
use rand::{Rng, SeedableRng};

/// The tags of the built-in dataset, in output order.
pub const SYNTH_TAGS: [&str; 8] = [
    "low register",
    "high register",
    "percussive",
    "sustained",
    "slow pulse",
    "fast pulse",
    "tremolo",
    "noisy",
];

/// What one clip is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRecipe {
    /// Fundamental of the first note, Hz.
    pub f0: f32,
    /// 0 low, 1 mid, 2 high.
    pub register: u8,
    /// Short decaying notes rather than held tones.
    pub percussive: bool,
    /// Note onsets per second (0: one held texture).
    pub pulse_hz: f32,
    /// Amplitude-modulation rate, Hz (0: none).
    pub tremolo_hz: f32,
    /// A layer of band-passed noise.
    pub noisy: bool,
    /// Number of harmonics (timbre brightness).
    pub harmonics: usize,
}

impl ClipRecipe {
    /// Draws the recipe of clip `index` of the dataset seeded `seed`.
    pub fn draw(seed: u64, index: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let register = rng.random_range(0..3u8);
        let (lo, hi) = [(45.0, 110.0), (180.0, 400.0), (700.0, 1400.0)][register as usize];
        let pulse = rng.random_range(0..3u8);
        Self {
            f0: rng.random_range(lo..hi),
            register,
            percussive: rng.random_bool(0.5),
            pulse_hz: match pulse {
                0 => 0.0,
                1 => rng.random_range(1.2..1.8),
                _ => rng.random_range(5.0..7.0),
            },
            tremolo_hz: if rng.random_bool(0.5) {
                rng.random_range(10.0..16.0)
            } else {
                0.0
            },
            noisy: rng.random_bool(0.4),
            harmonics: rng.random_range(2..9),
        }
    }

    /// Multi-hot labels in [`SYNTH_TAGS`] order.
    pub fn labels(&self) -> Vec<f32> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        vec![
            b(self.register == 0),
            b(self.register == 2),
            b(self.percussive),
            b(!self.percussive),
            b(self.pulse_hz > 0.0 && self.pulse_hz < 3.0),
            b(self.pulse_hz >= 3.0),
            b(self.tremolo_hz > 0.0),
            b(self.noisy),
        ]
    }

    /// Renders `samples` samples at `sample_rate` Hz, peak-normalised to 0.5.
    pub fn render(
        &self,
        seed: u64,
        index: u64,
        samples: usize,
        sample_rate: SampleRate,
    ) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(!seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let fs = sample_rate.hz() as f32;
        let tau = std::f32::consts::TAU;
        // Note onsets: regular pulses with a little jitter, or one held note.
        let period = if self.pulse_hz > 0.0 {
            fs / self.pulse_hz
        } else {
            samples as f32
        };
        let scale = [1.0, 9.0 / 8.0, 5.0 / 4.0, 4.0 / 3.0, 3.0 / 2.0, 5.0 / 3.0];
        let mut out = vec![0.0f32; samples];
        let mut onset = rng.random_range(0.0..period.min(fs * 0.3));
        while (onset as usize) < samples {
            let start = onset as usize;
            let f = self.f0 * scale[rng.random_range(0..scale.len())];
            let len = if self.pulse_hz > 0.0 {
                period as usize
            } else {
                samples - start
            };
            let phase0 = rng.random_range(0.0..tau);
            for n in 0..len.min(samples - start) {
                let t = n as f32 / fs;
                let envelope = if self.percussive {
                    (-t * 9.0).exp() * (t * 400.0).min(1.0)
                } else {
                    // Soft attack and release around a held tone.
                    let release = ((len - n) as f32 / fs * 30.0).min(1.0);
                    (t * 20.0).min(1.0) * release
                };
                let mut v = 0.0;
                for h in 1..=self.harmonics {
                    let fh = f * h as f32;
                    if fh >= fs / 2.0 {
                        break;
                    }
                    v += (tau * fh * t + phase0 * h as f32).sin() / h as f32;
                }
                out[start + n] += v * envelope;
            }
            onset += period * rng.random_range(0.97..1.03);
        }
        if self.noisy {
            // Noise through a one-pole band: a hiss whose level follows the note envelope.
            let (mut lp, mut hp) = (0.0f32, 0.0f32);
            let peak = out.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
            for v in out.iter_mut() {
                let white: f32 = rng.random_range(-1.0..1.0);
                lp += 0.3 * (white - lp);
                hp = 0.9 * hp + lp;
                *v += 0.35 * peak * (lp - hp * 0.1) + 0.15 * peak * white;
            }
        }
        if self.tremolo_hz > 0.0 {
            let phase = rng.random_range(0.0..tau);
            for (n, v) in out.iter_mut().enumerate() {
                *v *=
                    1.0 - 0.8 * (0.5 + 0.5 * (tau * self.tremolo_hz * n as f32 / fs + phase).sin());
            }
        }
        let peak = out.iter().fold(0f32, |m, v| m.max(v.abs()));
        if peak > 0.0 {
            out.iter_mut().for_each(|v| *v *= 0.5 / peak);
        }
        out
    }
}

/// The built-in dataset: `counts` clips of train / valid / test, disjoint indices.
pub fn dataset(counts: &[usize], seconds: f64, seed: u64) -> Dataset {
    let samples = (seconds * 16000.0) as usize;
    let mut next = 0u64;
    let mut split = |n: usize| -> Vec<Clip> {
        (0..n)
            .map(|_| {
                let index = next;
                next += 1;
                let recipe = ClipRecipe::draw(seed, index);
                Clip {
                    name: format!("synth-{index}"),
                    source: Source::Synth {
                        seed,
                        index,
                        samples,
                    },
                    labels: recipe.labels(),
                }
            })
            .collect()
    };
    Dataset {
        description: format!("built-in synthetic clips ({seconds} s, seed {seed})"),
        tags: SYNTH_TAGS.iter().map(|t| t.to_string()).collect(),
        train: split(counts[0]),
        valid: split(counts[1]),
        test: split(counts[2]),
    }
}
