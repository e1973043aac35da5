"""Shared fixtures: audio written here (no downloads) and the command line to compare with."""

import json
import os
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def music(seconds, rate, channels=1, seed=0):
    """A few seconds of something music-like: a chord with a pulse and some noise, float32
    `[channels, samples]` in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    pulse = (np.sin(2 * np.pi * 2.0 * t) > 0.6) * np.sin(2 * np.pi * 60 * t)
    x = 0.3 * chord + 0.2 * pulse + 0.02 * rng.standard_normal(len(t))
    out = np.stack([x * (1.0 - 0.3 * c) for c in range(channels)])
    return out.astype(np.float32)


def write_wav(path, samples, rate):
    """16-bit PCM WAV of `[channels, samples]` floats; returns the samples as read back
    (int16 / 32768, what a decoder gives)."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.T.tobytes())
    return pcm.astype(np.float32) / 32768.0


@pytest.fixture(scope="session")
def tagger():
    import modnet_tagger

    return modnet_tagger.Tagger()


@pytest.fixture(scope="session")
def trainer():
    """The trainer binary (TRAINER, else target/debug/trainer): `trainer tag --json`."""
    binary = Path(os.environ.get("TRAINER", ROOT / "target" / "debug" / "trainer"))
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it (cargo build -p trainer) or set TRAINER")

    def tag(*files):
        out = subprocess.run([str(binary), "tag", "--json", "--backend", "flex", *map(str, files)],
                             check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    return tag


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """WAV files: 7 s stereo at 44.1 kHz (a timeline), 2 s mono at 16 kHz (one chunk), and
    their samples as a decoder reads them."""
    folder = tmp_path_factory.mktemp("clips")
    long = folder / "long-stereo-44k.wav"
    short = folder / "short-mono-16k.wav"
    return {
        "long": (long, write_wav(long, music(7, 44100, channels=2, seed=1), 44100), 44100),
        "short": (short, write_wav(short, music(2, 16000, seed=2), 16000), 16000),
    }
