//! Reading audio: any format symphonia knows, RF64 ([`rf64`]) and Ogg Opus (opus-pure; the
//! first Opus stream of a file that holds several, [`crate::ogg_streams`]), mixed down to mono
//! and resampled with rubato to the model's rate, as a stream. The input is a file, a named pipe
//! or standard input (`-`); folders, devices and sockets are refused by name. Every failure
//! names the input and what was wrong with it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use modnet::SampleRate;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::files::FileKind;
use crate::guard::catching_panics;
use crate::ogg_streams::FirstOpusStream;
pub use crate::resample::{MAX_SOURCE_RATE, MIN_SOURCE_RATE};
use crate::resample::{MonoResampler, MonoSink, check_source_rate};
use crate::rf64;
use crate::signal::{Signal, memory_samples};
use crate::stated_rate::stated_rate;

/// The name that reads standard input (`cat song.mp3 | trainer tag -`).
pub const STDIN: &str = "-";

/// Decodes `path` to mono f32 samples at `sample_rate` Hz, the whole signal in memory (a
/// training clip).
pub fn load_mono(path: &Path, sample_rate: SampleRate) -> Result<Vec<f32>> {
    decode_with(path, sample_rate, usize::MAX)?.into_vec()
}

/// Decodes `path` to a mono [`Signal`] at `sample_rate` Hz whose memory is bounded whatever
/// its length (longer signals are kept on disk). Decoding, downmixing and resampling run as
/// a stream, packet by packet.
pub fn decode(path: &Path, sample_rate: SampleRate) -> Result<Signal> {
    decode_with(path, sample_rate, memory_samples()?)
}

fn decode_with(path: &Path, sample_rate: SampleRate, memory_samples: usize) -> Result<Signal> {
    let mut out = MonoResampler::new(sample_rate, memory_samples);
    decode_mono(path, &mut out).with_context(|| format!("{}", path.display()))?;
    out.finish().with_context(|| format!("{}", path.display()))
}

/// Samples already in memory (a Python caller's array), one slice per channel, as a mono
/// [`Signal`] at `sample_rate`: the channels averaged and resampled exactly as a decoded file's
/// are, so the same audio gives the same tags either way.
pub fn from_channels(channels: &[&[f32]], from: u32, sample_rate: SampleRate) -> Result<Signal> {
    let Some(first) = channels.first() else {
        bail!("no channels: the array is empty");
    };
    if first.is_empty() {
        bail!("no samples: the array is empty");
    }
    if let Some(other) = channels.iter().find(|c| c.len() != first.len()) {
        bail!(
            "the channels differ in length ({} and {} samples)",
            first.len(),
            other.len()
        );
    }
    let mut out = MonoResampler::new(sample_rate, usize::MAX);
    if channels.len() == 1 {
        out.push_samples(from, first)?;
    } else {
        let n = channels.len() as f32;
        let mut mono = (0..first.len()).map(|i| channels.iter().map(|c| c[i]).sum::<f32>() / n);
        out.push(from, &mut mono)?;
    }
    out.finish()
}

/// The length of `path` in seconds: from the container's header when it says, else by
/// decoding it (nothing resampled or kept).
pub fn duration_seconds(path: &Path) -> Result<f64> {
    #[derive(Default)]
    struct Length {
        frames: u64,
        rate: u32,
    }
    impl MonoSink for Length {
        fn expect(&mut self, frames: u64, rate: u32) -> bool {
            (self.frames, self.rate) = (frames, rate);
            true
        }
        fn push(&mut self, rate: u32, block: &mut dyn Iterator<Item = f32>) -> Result<()> {
            self.rate = rate;
            self.frames += block.count() as u64;
            Ok(())
        }
    }
    let mut length = Length::default();
    decode_mono(path, &mut length).with_context(|| format!("{}", path.display()))?;
    if length.rate == 0 {
        bail!(
            "{}: no audio could be decoded from the file",
            path.display()
        );
    }
    Ok(SampleRate::new(length.rate).seconds(length.frames as usize))
}

/// An input opened for decoding.
enum Opened {
    /// A regular file: seekable (some containers keep their index at the end).
    File(File),
    /// A pipe or standard input, read once from start to end.
    Stream(Box<dyn Read + Send + Sync>),
}

/// Opens `path`: `-` is standard input, a named pipe is read as a stream, a regular file as a
/// file; anything else is named for what it is.
fn open(path: &Path) -> Result<Opened> {
    if path.as_os_str() == STDIN {
        return Ok(Opened::Stream(Box::new(std::io::stdin())));
    }
    let meta = std::fs::metadata(path).context("cannot open the file")?;
    match FileKind::of(&meta) {
        FileKind::Regular => {}
        FileKind::Pipe => {
            let pipe = File::open(path).context("cannot open the pipe")?;
            return Ok(Opened::Stream(Box::new(pipe)));
        }
        kind => bail!("it is {}, not an audio file", kind.what()),
    }
    if meta.len() == 0 {
        bail!("the file is empty (0 bytes)");
    }
    Ok(Opened::File(
        File::open(path).context("cannot open the file")?,
    ))
}

/// How much of an input is read to recognise its format and check its header's rate.
const HEAD_BYTES: u64 = 4096;

/// The first bytes of a stream (to recognise its format), and the stream from its start again.
fn peek(mut stream: Box<dyn Read + Send + Sync>) -> Result<(Vec<u8>, Box<dyn Read + Send + Sync>)> {
    let head = first_bytes(&mut stream).context("cannot read the input")?;
    if head.is_empty() {
        bail!("the input is empty (0 bytes)");
    }
    let again = std::io::Cursor::new(head.clone()).chain(stream);
    Ok((head, Box::new(again)))
}

/// Decodes every track-0 packet, averaging the channels, into `out`; a decoder's panic on
/// damaged data is an error like any other.
fn decode_mono(path: &Path, out: &mut dyn MonoSink) -> Result<()> {
    catching_panics("the decoder", || decode_unguarded(path, out))
}

fn decode_unguarded(path: &Path, out: &mut dyn MonoSink) -> Result<()> {
    let (head, source): (Vec<u8>, Box<dyn MediaSource>) = match open(path)? {
        Opened::File(mut file) => (read_head(&mut file)?, Box::new(file)),
        Opened::Stream(stream) => {
            let (head, stream) = peek(stream)?;
            (head, Box::new(ReadOnlySource::new(stream)))
        }
    };
    let (head, source): (Vec<u8>, Box<dyn MediaSource>) = match rf64::as_riff(&head) {
        None => (head, source),
        Some(riff) => {
            // The RIFF header in place of the file's first bytes, the rest read on.
            let mut rest = ReadSource(source);
            std::io::copy(
                &mut (&mut rest).take(head.len() as u64),
                &mut std::io::sink(),
            )
            .context("cannot read the file")?;
            let whole = std::io::Cursor::new(riff.clone()).chain(rest);
            (riff, Box::new(ReadOnlySource::new(whole)))
        }
    };
    if let Some(rate) = stated_rate(&head) {
        check_source_rate(rate).context("the header's sample rate")?;
    }
    if looks_like_ogg_opus(&head) {
        let others = decode_opus(Box::new(ReadSource(source)), out)?;
        if others > 0 {
            eprintln!(
                "notice: {}: the file holds {} logical streams; the first Opus stream was read",
                path.display(),
                others + 1
            );
        }
        return Ok(());
    }
    let stream = MediaSourceStream::new(source, Default::default());
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
    let stated_rate = track.codec_params.sample_rate;
    // Before the decoder is made: nothing may be sized by a rate no audio has.
    if let Some(rate) = stated_rate {
        check_source_rate(rate).context("the header's sample rate")?;
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| anyhow::anyhow!("unsupported codec ({e})"))?;
    if let (Some(frames), Some(rate)) = (track.codec_params.n_frames, stated_rate)
        && out.expect(frames, rate)
    {
        return Ok(());
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

/// A file's first bytes, the file rewound.
fn read_head(file: &mut File) -> Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let head = first_bytes(file).context("cannot read the file")?;
    file.seek(SeekFrom::Start(0))
        .context("cannot read the file")?;
    Ok(head)
}

/// Up to [`HEAD_BYTES`] from the start of `input`.
fn first_bytes(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    input.take(HEAD_BYTES).read_to_end(&mut head)?;
    Ok(head)
}

/// A symphonia source as a plain reader (for the Opus decoder).
struct ReadSource(Box<dyn MediaSource>);

impl Read for ReadSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

/// Whether a file's first bytes are an Ogg page whose first packet is an `OpusHead`.
fn looks_like_ogg_opus(head: &[u8]) -> bool {
    head.starts_with(b"OggS") && head.windows(8).any(|w| w == b"OpusHead")
}

/// Decodes Ogg Opus at 48 kHz (Opus' own rate), trimming the encoder delay and end padding,
/// with the header's output gain applied: the file's first Opus stream, how many others it
/// held returned.
fn decode_opus(input: Box<dyn Read + Send + Sync>, out: &mut dyn MonoSink) -> Result<usize> {
    use opus_pure::{MAX_PACKET_SAMPLES, OggOpusReader, Trim};
    const RATE: i32 = 48_000;
    let bad = |e: opus_pure::Error| anyhow::anyhow!("corrupt Ogg Opus stream ({e})");
    let first = FirstOpusStream::new(input);
    let others = first.other_streams();
    let mut reader = OggOpusReader::new(std::io::BufReader::new(first)).map_err(bad)?;
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
    Ok(others.load(std::sync::atomic::Ordering::Relaxed))
}
