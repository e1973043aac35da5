#!/usr/bin/env python3
"""Excerpts of test-split tracks of the distillation corpus with the teachers' stored outputs for
them: the fixture that holds the built-in model to its teachers on music it never trained on,
decoded and resampled by the trainer itself (trainer/tests/reference.rs).

Usage: python3 scripts/corpus/reference_clips.py WORK
(WORK/pkgs/PKG unpacked and WORK/credits/PKG.copyright copied as fetch.sh does: noiz2sa-data
and ufoai-music.) Needs numpy, soundfile and soxr.

For each clip the track is decoded as the corpus's decode step does, and its SHA-256 checked
against the one stored beside the teachers' outputs (weights/corpus/teacher-outputs.npz): the
outputs are those of this very audio. The excerpt (whole 3 s patches) is cut from the original
file at its own rate and channels and written as Ogg Vorbis, so that the test goes through the
trainer's decoder and resampler; tests/fixtures/reference/teachers.json holds each teacher's mean
over the excerpt's patches.
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
import corpus  # noqa: E402
from catalogue import DISTILLATION  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "reference"
# (package, track, first patch, patches): two 15 s excerpts of each track.
CLIPS = [
    ("noiz2sa-data", "sounds__stg5", 2, 5),
    ("noiz2sa-data", "sounds__stg5", 12, 5),
    ("ufoai-music", "music__David04", 10, 5),
    ("ufoai-music", "music__David04", 30, 5),
    ("ufoai-music", "music__alBasrahM", 10, 5),
    ("ufoai-music", "music__alBasrahM", 30, 5),
]
# Only permissive licences (no share-alike, no GPL) travel with the repository's tests.
PERMISSIVE = ("BSD", "CC-BY-3.0", "public-domain", "public domain")


def main():
    work = Path(sys.argv[1])
    stored = np.load(ROOT / "weights" / "corpus" / "teacher-outputs.npz")
    index = {t: i for i, t in enumerate(stored["tracks"])}
    sources = {
        (pkg, name): files
        for pkg, name, files in corpus.tracks(work, DISTILLATION)
        if any(pkg == p for p, *_ in CLIPS)
    }
    OUT.mkdir(parents=True, exist_ok=True)
    reference = {"tags": corpus.MTAT_TAGS, "clips": {}}
    for pkg, name, first, count in CLIPS:
        assert DISTILLATION.split(pkg, name) == "test", f"{pkg}/{name} is not in the test split"
        (source,) = sources[(pkg, name)]
        mono = corpus.mixed([source])
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "track.wav"
            sf.write(wav, mono, corpus.SR, subtype="FLOAT", format="WAV")
            digest = corpus.sha256_of(wav)
        i = index[f"{pkg}/{name}"]
        if digest != stored["sha256"][i]:
            raise SystemExit(f"{source}: its audio is not the audio the teachers labelled")
        rows = slice(stored["offsets"][i] + first, stored["offsets"][i] + first + count)
        assert rows.stop <= stored["offsets"][i + 1], "the excerpt runs past the track"
        audio, rate = sf.read(source, dtype="float32", always_2d=True)
        start = first * corpus.PATCH_SAMPLES / corpus.SR
        seconds = count * corpus.PATCH_SAMPLES / corpus.SR
        excerpt = audio[round(start * rate): round((start + seconds) * rate)]
        lic = corpus.licence(work, pkg, source, DISTILLATION)
        if not lic.startswith(PERMISSIVE):
            raise SystemExit(f"{source}: {lic} is not a licence the fixture takes")
        clip = f"{pkg}-{name}-{first}.ogg"
        sf.write(OUT / clip, excerpt, rate, format="OGG", subtype="VORBIS")
        reference["clips"][clip] = {
            "source": str(source.relative_to(work)),
            "licence": lic,
            "start_seconds": start,
            "seconds": seconds,
            "teachers": {
                model: [round(float(v), 4) for v in (stored[f"outputs-{model}"][rows] / 65535.0).mean(axis=0)]
                for model in corpus.TEACHERS
            },
        }
        print(f"{clip}: {seconds:.2f} s from {start:.2f} s of {source.name} ({rate} Hz, {audio.shape[1]} ch)")
    (OUT / "teachers.json").write_text(json.dumps(reference, indent=1) + "\n")


if __name__ == "__main__":
    main()
