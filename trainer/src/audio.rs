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

/// Decodes `path` to mono f32 samples at `sample_rate` Hz.
pub fn load_mono(path: &Path, sample_rate: u32) -> Result<Vec<f32>> {
    let (samples, rate) = decode_mono(path).with_context(|| format!("{}", path.display()))?;
    if samples.is_empty() {
        bail!("{}: the file holds no audio samples", path.display());
    }
    if samples.iter().any(|s| !s.is_finite()) {
        bail!(
            "{}: the decoded audio contains NaN or infinite samples",
            path.display()
        );
    }
    resample(&samples, rate, sample_rate).with_context(|| format!("{}: resampling", path.display()))
}

/// Decodes every track-0 packet, averaging the channels; returns samples and their rate.
pub fn decode_mono(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut file = File::open(path).context("cannot open the file")?;
    if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        bail!("the file is empty (0 bytes)");
    }
    if is_ogg_opus(&mut file)? {
        return decode_opus(file);
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
    let mut rate = track.codec_params.sample_rate;
    let mut mono = Vec::new();
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
        rate.get_or_insert(spec.rate);
        let channels = spec.channels.count().max(1);
        let buf = buffer.get_or_insert_with(|| SampleBuffer::new(decoded.capacity() as u64, spec));
        if buf.capacity() < decoded.capacity() * channels {
            *buf = SampleBuffer::new(decoded.capacity() as u64, spec);
        }
        buf.copy_interleaved_ref(decoded);
        mono.extend(
            buf.samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
    }
    let rate = rate.context("the stream does not state its sample rate")?;
    if mono.is_empty() {
        bail!("no audio could be decoded from the file");
    }
    Ok((mono, rate))
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
fn decode_opus(file: File) -> Result<(Vec<f32>, u32)> {
    use opus_pure::{MAX_PACKET_SAMPLES, OggOpusReader, Trim};
    const RATE: i32 = 48_000;
    let bad = |e: opus_pure::Error| anyhow::anyhow!("corrupt Ogg Opus stream ({e})");
    let mut reader = OggOpusReader::new(std::io::BufReader::new(file)).map_err(bad)?;
    let head = reader.head().clone();
    let channels = (head.channel_count as usize).max(1);
    let mut decoder = head.decoder(RATE).map_err(bad)?;
    let mut trim = Trim::new(&head, RATE, channels).map_err(bad)?;
    let mut block = vec![0.0f32; MAX_PACKET_SAMPLES * channels];
    let mut mono = Vec::new();
    for packet in reader.packets() {
        let packet = packet.map_err(bad)?;
        let n = decoder
            .decode(&packet.data, MAX_PACKET_SAMPLES, &mut block)
            .map_err(bad)?;
        mono.extend(
            trim.keep(&packet, &block[..n * channels])
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
    }
    if mono.is_empty() {
        bail!("no audio could be decoded from the file");
    }
    Ok((mono, RATE as u32))
}

/// Resamples mono audio from `from` Hz to `to` Hz (band-limited FFT resampler).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == 0 {
        bail!("a sample rate of 0 Hz");
    }
    if from == to {
        return Ok(samples.to_vec());
    }
    let chunk = 4096;
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 2, 1)?;
    let delay = resampler.output_delay();
    let expected = (samples.len() as u64 * to as u64).div_ceil(from as u64) as usize;
    let mut out = Vec::with_capacity(expected + delay + chunk);
    let mut pos = 0;
    while pos + chunk <= samples.len() {
        let y = resampler.process(&[&samples[pos..pos + chunk]], None)?;
        out.extend_from_slice(&y[0]);
        pos += chunk;
    }
    // The tail, then zeros until the resampler's delay has been flushed.
    let y = resampler.process_partial(Some(&[&samples[pos..]]), None)?;
    out.extend_from_slice(&y[0]);
    while out.len() < expected + delay {
        let y = resampler.process_partial::<&[f32]>(None, None)?;
        if y[0].is_empty() {
            break;
        }
        out.extend_from_slice(&y[0]);
    }
    let end = (delay + expected).min(out.len());
    Ok(out[delay.min(end)..end].to_vec())
}
