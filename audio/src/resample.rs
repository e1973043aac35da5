//! Resampling a decoded stream to the model's rate: mono blocks in, a [`Signal`] out, exactly
//! as resampling the whole signal at once (rubato's band-limited FFT resampler, its delay
//! trimmed), with memory bounded by the signal's store.

use anyhow::{Result, bail};
use modnet::SampleRate;
use rubato::{FftFixedIn, Resampler};

use crate::signal::{Signal, SignalWriter};

/// The lowest source rate accepted: below it a file is not audio (and resampling it to 16 kHz
/// would ask for absurd FFT sizes).
pub const MIN_SOURCE_RATE: u32 = 1000;

/// The highest source rate accepted (the highest of studio audio): a header can claim any
/// 32-bit rate, and rubato's FFT sizes (so its memory) grow with the rate's reduced ratio to
/// the model's (4 294 967 295 Hz asked for 23 GB).
pub const MAX_SOURCE_RATE: u32 = 768_000;

/// Refuses a source rate outside [`MIN_SOURCE_RATE`, `MAX_SOURCE_RATE`], naming it.
pub fn check_source_rate(from: u32) -> Result<()> {
    if from < MIN_SOURCE_RATE {
        bail!(
            "a sample rate of {from} Hz is not audio (the lowest accepted is {MIN_SOURCE_RATE} Hz)"
        );
    }
    if from > MAX_SOURCE_RATE {
        bail!(
            "a sample rate of {from} Hz is beyond any audio (the highest accepted is {MAX_SOURCE_RATE} Hz)"
        );
    }
    Ok(())
}

/// Where decoded audio goes: mono blocks at the source rate.
pub(crate) trait MonoSink {
    /// The container's word on the length, before any block; `true` when that is all the
    /// sink wants (decoding stops there).
    fn expect(&mut self, frames: u64, rate: u32) -> bool;
    fn push(&mut self, rate: u32, block: &mut dyn Iterator<Item = f32>) -> Result<()>;
}

/// The largest sample magnitude taken. Float WAV may exceed ±1, but a damaged file's 1e38
/// overflows the resampler's FFT to NaN (rubato then panicked).
pub const MAX_SAMPLE: f32 = 1e6;

/// Resamples a stream of mono blocks to the target rate with rubato's band-limited FFT
/// resampler, in fixed input chunks; the resampler's delay is trimmed from the start and the
/// output cut to `⌈n · to / from⌉` samples, exactly as resampling the whole signal at once.
pub struct MonoResampler {
    to: u32,
    from: Option<u32>,
    resampler: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    /// Input samples received.
    received: u64,
    /// Output samples still to drop (the resampler's delay).
    skip: usize,
    out: SignalWriter,
}

const RESAMPLE_CHUNK: usize = 4096;

impl MonoResampler {
    /// A resampler to `to` Hz keeping at most `memory_samples` of its output in memory; the
    /// source rate comes with the first block.
    pub fn new(to: SampleRate, memory_samples: usize) -> Self {
        Self {
            to: to.hz(),
            from: None,
            resampler: None,
            pending: Vec::with_capacity(RESAMPLE_CHUNK),
            received: 0,
            skip: 0,
            out: SignalWriter::new(memory_samples),
        }
    }

    fn start(&mut self, from: u32) -> Result<()> {
        check_source_rate(from)?;
        self.from = Some(from);
        if from != self.to {
            let resampler =
                FftFixedIn::<f32>::new(from as usize, self.to as usize, RESAMPLE_CHUNK, 2, 1)?;
            self.skip = resampler.output_delay();
            self.resampler = Some(resampler);
        }
        Ok(())
    }

    fn emit(&mut self, y: &[f32]) -> Result<()> {
        let dropped = self.skip.min(y.len());
        self.skip -= dropped;
        self.out.extend(&y[dropped..])
    }

    /// Room for a signal of `frames` samples at `from` Hz (when the container says), so the
    /// result is allocated once instead of grown by doubling.
    fn reserve(&mut self, frames: u64, from: u32) {
        if check_source_rate(from).is_ok() {
            let expected = frames.saturating_mul(self.to as u64) / from as u64;
            // A container's length is a hint: never reserve more than a song's worth on its
            // word (2^24 samples: 17 minutes at 16 kHz, 64 MB); a longer signal grows.
            self.out.reserve(expected.min(1 << 24) as usize);
        }
    }

    /// Adds mono samples at `from` Hz.
    pub fn push_samples(&mut self, from: u32, samples: &[f32]) -> Result<()> {
        self.push(from, &mut samples.iter().copied())
    }

    /// The whole signal at the target rate.
    pub fn finish(mut self) -> Result<Signal> {
        let Some(from) = self.from else {
            bail!("the file holds no audio samples");
        };
        if self.received == 0 {
            bail!("the file holds no audio samples");
        }
        let Some(mut resampler) = self.resampler.take() else {
            return self.out.finish();
        };
        let expected = (self.received * self.to as u64).div_ceil(from as u64) as usize;
        let tail = std::mem::take(&mut self.pending);
        // An input of a whole number of chunks leaves no tail: rubato refuses an empty
        // partial chunk (it clears the channel), so the flush below feeds zeros instead.
        if !tail.is_empty() {
            let y = resampler.process_partial(Some(&[&tail[..]]), None)?;
            self.emit(&y[0])?;
        }
        // Zeros until the resampler's delay has been flushed. A call may give nothing: at a
        // rate whose ratio to the target reduces badly (44 101 Hz) one FFT spans a second of
        // input, ten chunks. Its input is at most `from` + one chunk, so the zeros needed
        // are bounded: the samples still missing, two FFTs and a chunk.
        let missing = (expected - self.out.len().min(expected)) as u64;
        let mut zeros_left =
            missing * from as u64 / self.to as u64 + 2 * from as u64 + 2 * RESAMPLE_CHUNK as u64;
        while self.out.len() < expected && zeros_left > 0 {
            let y = resampler.process_partial::<&[f32]>(None, None)?;
            zeros_left = zeros_left.saturating_sub(RESAMPLE_CHUNK as u64);
            self.emit(&y[0])?;
        }
        self.out.truncate(expected)?;
        self.out.finish()
    }
}

impl MonoSink for MonoResampler {
    fn expect(&mut self, frames: u64, rate: u32) -> bool {
        self.reserve(frames, rate);
        false
    }

    fn push(&mut self, rate: u32, block: &mut dyn Iterator<Item = f32>) -> Result<()> {
        match self.from {
            None => self.start(rate)?,
            Some(from) if from != rate => {
                bail!("the sample rate changes within the file ({from} Hz, then {rate} Hz)")
            }
            Some(_) => {}
        }
        let mut direct = Vec::new();
        for s in block {
            if !s.is_finite() {
                bail!("the decoded audio contains NaN or infinite samples");
            }
            if s.abs() > MAX_SAMPLE {
                bail!(
                    "the decoded audio holds a sample of {s:e}: audio lies within ±1 (float \
                     files allow some headroom, up to ±{MAX_SAMPLE:e} here)"
                );
            }
            self.received += 1;
            match self.resampler.as_mut() {
                None => direct.push(s),
                Some(resampler) => {
                    self.pending.push(s);
                    if self.pending.len() == RESAMPLE_CHUNK {
                        let y = resampler.process(&[&self.pending[..]], None)?;
                        let y = y.into_iter().next().unwrap_or_default();
                        self.pending.clear();
                        self.emit(&y)?;
                    }
                }
            }
        }
        self.out.extend(&direct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, hz: f64, rate: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin() as f32 * 0.5)
            .collect()
    }

    /// Rates whose ratio to 16 kHz reduces badly (one FFT spans a second of input): every
    /// sample reaches the output, for long and very short signals (before: a 3 s file came
    /// out as 2.5 s, a 0.25 s one as nothing).
    #[test]
    fn odd_rates_keep_every_sample() {
        for rate in [44_101u32, 22_051, 16_001, 96_001, 192_001] {
            for seconds in [3.0, 0.25] {
                let n = (rate as f64 * seconds) as usize;
                let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
                r.push_samples(rate, &sine(n, 440.0, rate as f64)).unwrap();
                let out = r.finish().unwrap().into_vec().unwrap();
                let expected = (n as u64 * 16_000).div_ceil(rate as u64) as usize;
                assert_eq!(out.len(), expected, "{rate} Hz, {seconds} s");
                // The end is signal, not the zeros of a cut-off flush.
                let tail = &out[out.len() - 400..];
                assert!(tail.iter().any(|v| v.abs() > 0.2), "{rate} Hz, {seconds} s");
            }
        }
    }

    /// Rates a header can claim but no audio has are refused before rubato allocates.
    #[test]
    fn absurd_rates_are_refused_by_name() {
        for rate in [0u32, 999, 768_001, 2_147_483_647, u32::MAX] {
            let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
            let e = r.push_samples(rate, &[0.1; 16]).unwrap_err().to_string();
            assert!(e.contains(&format!("{rate} Hz")), "{e}");
        }
        let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
        r.push_samples(MAX_SOURCE_RATE, &[0.1; 16]).unwrap();
    }

    #[test]
    fn streamed_resampling_is_block_size_independent_and_accurate() {
        let input = sine(44_100 * 3 / 2, 440.0, 44_100.0);
        let whole = {
            let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
            r.push_samples(44_100, &input).unwrap();
            r.finish().unwrap().into_vec().unwrap()
        };
        let ragged = {
            let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
            let mut at = 0;
            for (i, size) in [1usize, 4095, 4097, 333, 10_000].iter().cycle().enumerate() {
                if at >= input.len() || i > 10_000 {
                    break;
                }
                let end = (at + size).min(input.len());
                r.push_samples(44_100, &input[at..end]).unwrap();
                at = end;
            }
            r.finish().unwrap().into_vec().unwrap()
        };
        assert_eq!(whole.len(), 24_000, "⌈n · 16000 / 44100⌉ samples");
        assert_eq!(
            whole, ragged,
            "the output does not depend on the block sizes"
        );
        // The sine fitted to the output (least squares on sin and cos, away from the edges):
        // its amplitude, its delay in output samples, and what is left once it is removed.
        let (w, range) = (std::f64::consts::TAU * 440.0 / 16_000.0, 1000..23_000);
        let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in range.clone() {
            let (sin, cos, y) = ((w * i as f64).sin(), (w * i as f64).cos(), whole[i] as f64);
            (ss, sc, cc, ys, yc) = (
                ss + sin * sin,
                sc + sin * cos,
                cc + cos * cos,
                ys + y * sin,
                yc + y * cos,
            );
        }
        let det = ss * cc - sc * sc;
        let (a, b) = ((ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det);
        let amplitude = (a * a + b * b).sqrt();
        let delay = -b.atan2(a) / w;
        let residual = range
            .map(|i| (whole[i] as f64 - a * (w * i as f64).sin() - b * (w * i as f64).cos()).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "440 Hz sine resampled 44.1 → 16 kHz: amplitude {amplitude:.6} (0.5), delay \
             {delay:.4} samples, residual {residual:.2e}"
        );
        // Measured: amplitude 0.499999, residual 1.3e-7, and the output 0.18 of a sample early:
        // the resampler's own delay is not a whole number of output samples, and only whole
        // ones are trimmed (a one-sample error would be 1.0).
        assert!((amplitude - 0.5).abs() < 1e-4, "amplitude {amplitude}");
        assert!(residual < 1e-5, "residual {residual}");
        assert!(delay.abs() < 0.2, "delay {delay} samples");
    }

    #[test]
    fn odd_streams_are_refused() {
        let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
        let err = r.push_samples(1, &[0.0; 64]).unwrap_err().to_string();
        assert!(err.contains("1 Hz is not audio"), "{err}");
        let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
        r.push_samples(8_000, &[0.0; 64]).unwrap();
        let err = r.push_samples(16_000, &[0.0; 64]).unwrap_err().to_string();
        assert!(err.contains("changes within the file"), "{err}");
        let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
        let err = r
            .push_samples(16_000, &[0.0, f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(err.contains("NaN"), "{err}");
        // Found by the fuzz test: a float WAV sample of 3e38 made rubato's FFT panic on NaN.
        let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
        let mut loud = vec![0.1f32; 9000];
        loud[100] = 3e38;
        let err = r.push_samples(44_100, &loud).unwrap_err().to_string();
        assert!(err.contains("a sample of 3e38"), "{err}");
        assert!(
            MonoResampler::new(SampleRate::PAPER, usize::MAX)
                .finish()
                .is_err(),
            "no samples"
        );
        let mut same = MonoResampler::new(SampleRate::PAPER, usize::MAX);
        same.push_samples(16_000, &[0.25; 10]).unwrap();
        assert_eq!(
            same.finish().unwrap().into_vec().unwrap(),
            vec![0.25; 10],
            "the same rate passes through"
        );
    }

    /// rubato refused an empty last partial chunk: every input of a whole number of 4096-sample
    /// blocks failed ("Insufficient buffer size 0"), a 30 s Ogg Vorbis song among them.
    #[test]
    fn lengths_around_whole_resampler_blocks_are_resampled() {
        for from in [8_000u32, 22_050, 44_100, 48_000, 96_000] {
            for blocks in [1usize, 2, 100] {
                for n in [
                    blocks * RESAMPLE_CHUNK - 1,
                    blocks * RESAMPLE_CHUNK,
                    blocks * RESAMPLE_CHUNK + 1,
                ] {
                    let input = sine(n, 440.0, from as f64);
                    let mut r = MonoResampler::new(SampleRate::PAPER, usize::MAX);
                    r.push_samples(from, &input).unwrap();
                    let out = r
                        .finish()
                        .unwrap_or_else(|e| panic!("{n} samples at {from} Hz: {e:#}"))
                        .into_vec()
                        .unwrap();
                    let expected = (n as u64 * 16_000).div_ceil(from as u64) as usize;
                    assert_eq!(out.len(), expected, "{n} samples at {from} Hz");
                }
            }
        }
    }

    /// The output kept on disk past the memory bound equals the output kept in memory.
    #[test]
    fn a_signal_on_disk_equals_one_in_memory() {
        let input = sine(44_100 * 2 + 7, 330.0, 44_100.0);
        let run = |memory| {
            let mut r = MonoResampler::new(SampleRate::PAPER, memory);
            for part in input.chunks(5000) {
                r.push_samples(44_100, part).unwrap();
            }
            r.finish().unwrap()
        };
        let (memory, disk) = (run(usize::MAX), run(1000));
        assert!(disk.on_disk() && !memory.on_disk());
        assert_eq!(disk.into_vec().unwrap(), memory.into_vec().unwrap());
    }
}
