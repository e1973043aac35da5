//! Every format the seeds hold is read whole: the same 0.25 s tone (16 kHz, 4 000 samples)
//! through each container and codec.

use std::path::Path;

use modnet::SampleRate;
use modnet_audio::audio;

fn seed(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/fuzz")
        .join(name)
}

/// RF64 (probe row 4) was refused as "end of stream"; the others keep working.
#[test]
fn each_seed_format_is_read_to_its_length() {
    for name in [
        "rf64.wav",
        "pcm16.wav",
        "float-stereo.wav",
        "pcm24-ext.wav",
        "pcm16.flac",
        "pcm16.aiff",
        "pcm16.caf",
        "vorbis.ogg",
        "opus.opus",
        "two-streams.opus",
        "mono.mp3",
    ] {
        let path = seed(name);
        let signal = audio::decode(&path, SampleRate::new(16_000))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let samples = signal.into_vec().unwrap();
        // MP3 and Vorbis keep their codecs' padding (symphonia 0.5 trims neither: 4 480
        // samples from this Vorbis file); the rest are exact.
        let exact = !name.ends_with(".mp3") && !name.ends_with(".ogg");
        let n = samples.len();
        assert!(
            if exact {
                n == 4_000
            } else {
                n.abs_diff(4_000) <= 1_200
            },
            "{name}: {n} samples"
        );
        let seconds = audio::duration_seconds(&path).unwrap();
        assert!((seconds - 0.25).abs() < 0.08, "{name}: {seconds} s");
        let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.1, "{name}: the tone is there (peak {peak})");
    }
}

/// Probe row 4: an Ogg file of two Opus streams (`two-streams.opus`: `opus.opus` and a copy of
/// it under another serial number, pages interleaved) was refused as corrupt; it reads as its
/// first stream does alone.
#[test]
fn a_file_of_two_opus_streams_reads_as_its_first() {
    let decode = |name: &str| {
        audio::decode(&seed(name), SampleRate::new(16_000))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"))
            .into_vec()
            .unwrap()
    };
    assert_eq!(decode("two-streams.opus"), decode("opus.opus"));
}
