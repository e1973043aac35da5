//! Reading audio files: any format symphonia knows, and Ogg Opus (opus-pure), mixed down to mono
//! and resampled with rubato to the model's rate. Every failure names the file and what was wrong with it.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The lowest source rate accepted: below it a file is not audio (and resampling it to 16 kHz
/// would ask for absurd FFT sizes).
pub const MIN_SOURCE_RATE: u32 = 1000;

/// Decodes `path` to mono f32 samples at `sample_rate` Hz. Decoding, downmixing and resampling
/// run as a stream, packet by packet: memory holds the result at the target rate plus a few
/// blocks, never the whole file at its own rate and channel count.
pub fn load_mono(path: &Path, sample_rate: u32) -> Result<Vec<f32>> {
    let mut out = MonoResampler::new(sample_rate);
    decode_mono(path, &mut out).with_context(|| format!("{}", path.display()))?;
    out.finish().with_context(|| format!("{}", path.display()))
}

/// Where decoded audio goes: mono blocks at the source rate.
trait MonoSink {
    /// The container's word on the length, before any block.
    fn expect(&mut self, frames: u64, rate: u32);
    fn push(&mut self, rate: u32, block: &mut dyn Iterator<Item = f32>) -> Result<()>;
}

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
    out: Vec<f32>,
}

const RESAMPLE_CHUNK: usize = 4096;

impl MonoResampler {
    /// A resampler to `to` Hz; the source rate comes with the first block.
    pub fn new(to: u32) -> Self {
        Self {
            to,
            from: None,
            resampler: None,
            pending: Vec::with_capacity(RESAMPLE_CHUNK),
            received: 0,
            skip: 0,
            out: Vec::new(),
        }
    }

    fn start(&mut self, from: u32) -> Result<()> {
        if from < MIN_SOURCE_RATE {
            bail!(
                "a sample rate of {from} Hz is not audio (the lowest accepted is {MIN_SOURCE_RATE} Hz)"
            );
        }
        self.from = Some(from);
        if from != self.to {
            let resampler =
                FftFixedIn::<f32>::new(from as usize, self.to as usize, RESAMPLE_CHUNK, 2, 1)?;
            self.skip = resampler.output_delay();
            self.resampler = Some(resampler);
        }
        Ok(())
    }

    fn emit(&mut self, y: &[f32]) {
        let dropped = self.skip.min(y.len());
        self.skip -= dropped;
        self.out.extend_from_slice(&y[dropped..]);
    }

    /// Room for a signal of `frames` samples at `from` Hz (when the container says), so the
    /// result is allocated once instead of grown by doubling.
    fn reserve(&mut self, frames: u64, from: u32) {
        if from >= MIN_SOURCE_RATE {
            let expected = frames.saturating_mul(self.to as u64) / from as u64;
            // A container's length is a hint: never reserve absurd amounts on its word.
            self.out.reserve(expected.min(1 << 31) as usize);
        }
    }

    /// Adds mono samples at `from` Hz.
    pub fn push_samples(&mut self, from: u32, samples: &[f32]) -> Result<()> {
        self.push(from, &mut samples.iter().copied())
    }

    /// The whole signal at the target rate.
    pub fn finish(mut self) -> Result<Vec<f32>> {
        let Some(from) = self.from else {
            bail!("the file holds no audio samples");
        };
        if self.received == 0 {
            bail!("the file holds no audio samples");
        }
        let Some(mut resampler) = self.resampler.take() else {
            return Ok(self.out);
        };
        let expected = (self.received * self.to as u64).div_ceil(from as u64) as usize;
        let tail = std::mem::take(&mut self.pending);
        let y = resampler.process_partial(Some(&[&tail[..]]), None)?;
        self.emit(&y[0]);
        // Zeros until the resampler's delay has been flushed.
        while self.out.len() < expected {
            let y = resampler.process_partial::<&[f32]>(None, None)?;
            if y[0].is_empty() {
                break;
            }
            self.emit(&y[0]);
        }
        self.out.truncate(expected);
        Ok(self.out)
    }
}

impl MonoSink for MonoResampler {
    fn expect(&mut self, frames: u64, rate: u32) {
        self.reserve(frames, rate);
    }

    fn push(&mut self, rate: u32, block: &mut dyn Iterator<Item = f32>) -> Result<()> {
        match self.from {
            None => self.start(rate)?,
            Some(from) if from != rate => {
                bail!("the sample rate changes within the file ({from} Hz, then {rate} Hz)")
            }
            Some(_) => {}
        }
        for s in block {
            if !s.is_finite() {
                bail!("the decoded audio contains NaN or infinite samples");
            }
            self.received += 1;
            match self.resampler.as_mut() {
                None => self.out.push(s),
                Some(resampler) => {
                    self.pending.push(s);
                    if self.pending.len() == RESAMPLE_CHUNK {
                        let y = resampler.process(&[&self.pending[..]], None)?;
                        let y = y.into_iter().next().unwrap_or_default();
                        self.pending.clear();
                        self.emit(&y);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Decodes every track-0 packet, averaging the channels, into `out`.
fn decode_mono(path: &Path, out: &mut dyn MonoSink) -> Result<()> {
    let mut file = File::open(path).context("cannot open the file")?;
    if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        bail!("the file is empty (0 bytes)");
    }
    if is_ogg_opus(&mut file)? {
        return decode_opus(file, out);
    }
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| anyhow::anyhow!("not a readable audio file ({e})"))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .context("the file has no audio track")?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| anyhow::anyhow!("unsupported codec ({e})"))?;
    let stated_rate = track.codec_params.sample_rate;
    if let (Some(frames), Some(rate)) = (track.codec_params.n_frames, stated_rate) {
        out.expect(frames, rate);
    }
    let mut any = false;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => bail!("corrupt audio stream ({e})"),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged frame inside an otherwise good stream: skip it, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => bail!("cannot decode ({e})"),
        };
        let spec = *decoded.spec();
        let rate = stated_rate.unwrap_or(spec.rate);
        let channels = spec.channels.count().max(1);
        let buf = buffer.get_or_insert_with(|| SampleBuffer::new(decoded.capacity() as u64, spec));
        if buf.capacity() < decoded.capacity() * channels {
            *buf = SampleBuffer::new(decoded.capacity() as u64, spec);
        }
        buf.copy_interleaved_ref(decoded);
        any |= !buf.samples().is_empty();
        out.push(rate, &mut downmix(buf.samples(), channels))?;
    }
    if !any {
        bail!("no audio could be decoded from the file");
    }
    Ok(())
}

/// Interleaved frames of `channels` samples as their mean.
fn downmix(interleaved: &[f32], channels: usize) -> impl Iterator<Item = f32> + '_ {
    interleaved
        .chunks_exact(channels)
        .map(move |frame| frame.iter().sum::<f32>() / channels as f32)
}

/// Whether the file is Ogg Opus: an Ogg page whose first packet is an `OpusHead`.
fn is_ogg_opus(file: &mut File) -> Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut head = [0u8; 64];
    let n = file.read(&mut head).context("cannot read the file")?;
    file.seek(SeekFrom::Start(0))
        .context("cannot read the file")?;
    Ok(head[..n].starts_with(b"OggS") && head[..n].windows(8).any(|w| w == b"OpusHead"))
}

/// Decodes Ogg Opus at 48 kHz (Opus' own rate), trimming the encoder delay and end padding,
/// with the header's output gain applied.
fn decode_opus(file: File, out: &mut dyn MonoSink) -> Result<()> {
    use opus_pure::{MAX_PACKET_SAMPLES, OggOpusReader, Trim};
    const RATE: i32 = 48_000;
    let bad = |e: opus_pure::Error| anyhow::anyhow!("corrupt Ogg Opus stream ({e})");
    let mut reader = OggOpusReader::new(std::io::BufReader::new(file)).map_err(bad)?;
    let head = reader.head().clone();
    let channels = (head.channel_count as usize).max(1);
    let mut decoder = head.decoder(RATE).map_err(bad)?;
    let mut trim = Trim::new(&head, RATE, channels).map_err(bad)?;
    let mut block = vec![0.0f32; MAX_PACKET_SAMPLES * channels];
    let mut any = false;
    for packet in reader.packets() {
        let packet = packet.map_err(bad)?;
        let n = decoder
            .decode(&packet.data, MAX_PACKET_SAMPLES, &mut block)
            .map_err(bad)?;
        let kept = trim.keep(&packet, &block[..n * channels]);
        any |= !kept.is_empty();
        out.push(RATE as u32, &mut downmix(kept, channels))?;
    }
    if !any {
        bail!("no audio could be decoded from the file");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, hz: f64, rate: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin() as f32 * 0.5)
            .collect()
    }

    #[test]
    fn streamed_resampling_is_block_size_independent_and_accurate() {
        let input = sine(44_100 * 3 / 2, 440.0, 44_100.0);
        let whole = {
            let mut r = MonoResampler::new(16_000);
            r.push_samples(44_100, &input).unwrap();
            r.finish().unwrap()
        };
        let ragged = {
            let mut r = MonoResampler::new(16_000);
            let mut at = 0;
            for (i, size) in [1usize, 4095, 4097, 333, 10_000].iter().cycle().enumerate() {
                if at >= input.len() || i > 10_000 {
                    break;
                }
                let end = (at + size).min(input.len());
                r.push_samples(44_100, &input[at..end]).unwrap();
                at = end;
            }
            r.finish().unwrap()
        };
        assert_eq!(whole.len(), 24_000, "⌈n · 16000 / 44100⌉ samples");
        assert_eq!(
            whole, ragged,
            "the output does not depend on the block sizes"
        );
        let expected = sine(24_000, 440.0, 16_000.0);
        let worst = whole[1000..23_000]
            .iter()
            .zip(&expected[1000..23_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        // Within 0.02 of a 0.5 sine: amplitude kept, timing within a quarter of a sample (the
        // trimmed delay is a whole number of output samples; a one-sample error would be 0.09).
        assert!(worst < 0.02, "a 440 Hz sine, max error {worst}");
    }

    #[test]
    fn odd_streams_are_refused() {
        let mut r = MonoResampler::new(16_000);
        let err = r.push_samples(1, &[0.0; 64]).unwrap_err().to_string();
        assert!(err.contains("1 Hz is not audio"), "{err}");
        let mut r = MonoResampler::new(16_000);
        r.push_samples(8_000, &[0.0; 64]).unwrap();
        let err = r.push_samples(16_000, &[0.0; 64]).unwrap_err().to_string();
        assert!(err.contains("changes within the file"), "{err}");
        let mut r = MonoResampler::new(16_000);
        let err = r
            .push_samples(16_000, &[0.0, f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(err.contains("NaN"), "{err}");
        assert!(MonoResampler::new(16_000).finish().is_err(), "no samples");
        let mut same = MonoResampler::new(16_000);
        same.push_samples(16_000, &[0.25; 10]).unwrap();
        assert_eq!(
            same.finish().unwrap(),
            vec![0.25; 10],
            "the same rate passes through"
        );
    }
}
