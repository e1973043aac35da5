#!/usr/bin/env python3
"""Synthetic singing for the corpus (no registry ships real singing under a free licence in
quantity): melodies of music21's corpus (Bach chorale sopranos, folk tunes) sung by two
synthesisers, a cappella and over instrumental corpus tracks at several levels.

  female  Sinsy (PyPI pysinsy, HTS voice nitech_jp_song070_f001, CC-BY-3.0): MusicXML with
          kana syllables, melodies moved into C4-G5.
  male    Festival's singing mode (Debian festival, voice kal_diphone): an XML of notes and
          English syllables, melodies moved into C3-G4.

Writes WORK/voices/PIECE__VOICE__MIX.wav at 16 kHz mono, MIX = `solo` or `over-PKG-TRACK-xDB`
(the voice's level above the instrumental bed). The bed is an already decoded corpus track of
the same split as the piece (catalogue.DISTILLATION.split), so no audio crosses splits. The teachers label
every render like any other track, so the labels say what the teachers hear, not what was
meant. Resumable: finished renders are kept.

Usage: python3 scripts/corpus/sing.py WORK [--pieces N]
"""

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import corpus  # noqa: E402
from catalogue import DISTILLATION  # noqa: E402

KANA = ["ら", "ら", "る", "り", "あ", "な", "の", "さ", "と", "は", "ま", "や", "か", "こ", "お"]
SYLLABLES = ["la", "la", "loo", "lee", "doo", "da", "na", "no", "oh", "ah", "ma", "see", "hey"]
MAX_SECONDS = 75  # a verse or two: enough chunks, and more melodies in the same hours
# The voice's level above the bed (dB): clearly sung, sung over a band, half buried.
MIX_DB = [6, 0, -6]


def melody_notes(score):
    """[(midi pitch or None for a rest, quarter lengths)] of a score's top part."""
    part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    notes = []
    for n in part.flatten().notesAndRests:
        length = float(n.quarterLength)
        if length <= 0:
            continue
        notes.append((None if n.isRest or not n.pitches else n.pitches[-1].midi, length))
    return notes


def melodies(count, rng):
    """(name, notes, tempo bpm) for `count` melodies: chorale sopranos and folk tunes
    (essenFolksong; each opus file holds hundreds of tunes: a few files are parsed once and
    several tunes taken from each), alternating."""
    from music21 import corpus as m21

    def parsed(paths):
        for path in paths:
            try:
                yield path, m21.parse(path)
            except Exception as e:  # a few corpus files do not parse
                print(f"skipping {path}: {e}", file=sys.stderr)

    def chorales():
        paths = sorted(str(p) for p in m21.getComposer("bach"))
        rng.shuffle(paths)
        for path, score in parsed(paths):
            yield corpus.slug(Path(path).stem), melody_notes(score)

    def folk():
        paths = sorted(str(p) for p in m21.getComposer("essenFolksong"))
        rng.shuffle(paths)
        for path, opus in parsed(paths):
            scores = list(opus.scores) if hasattr(opus, "scores") else [opus]
            for k in sorted(rng.sample(range(len(scores)), min(12, len(scores)))):
                yield corpus.slug(f"{Path(path).stem}-{k}"), melody_notes(scores[k])

    out = []
    sources = [chorales(), folk()]
    while len(out) < count and sources:
        source = sources[len(out) % len(sources)]
        try:
            name, notes = next(source)
        except StopIteration:
            sources.remove(source)
            continue
        if sum(1 for p, _ in notes if p is not None) >= 12:
            out.append((name, notes, rng.choice([72, 84, 96, 108])))
    return out


def into_range(notes, low, high):
    """The melody moved by octaves so that its notes lie within [low, high] as far as possible."""
    pitches = [p for p, _ in notes if p is not None]
    best = min(range(-4, 5), key=lambda k: sum(max(0, low - (p + 12 * k), (p + 12 * k) - high) for p in pitches))
    return [(None if p is None else p + 12 * best, d) for p, d in notes]


def verses(notes, bpm):
    """The melody repeated (a short folk tune is sung verse after verse) up to MAX_SECONDS."""
    out, seconds = [], 0.0
    while True:
        for p, d in notes:
            seconds += d * 60 / bpm
            if seconds > MAX_SECONDS:
                return out
            out.append((p, d))
        if seconds >= MAX_SECONDS / 2:
            return out
        out.append((None, 2.0))  # a breath between verses


def sinsy_xml(notes, bpm, rng):
    """MusicXML of one part with a kana syllable per note (what Sinsy reads)."""
    from music21 import meter, note, stream, tempo

    part = stream.Part()
    part.append(tempo.MetronomeMark(number=bpm))
    part.append(meter.TimeSignature("4/4"))
    for p, d in notes:
        if p is None:
            part.append(note.Rest(quarterLength=d))
        else:
            n = note.Note(p, quarterLength=d)
            n.lyric = rng.choice(KANA)
            part.append(n)
    score = stream.Score([part])
    return score


def sing_sinsy(notes, bpm, rng, tmp):
    import pysinsy

    xml = Path(tmp) / "song.musicxml"
    sinsy_xml(notes, bpm, rng).write("musicxml", fp=str(xml))
    sinsy = pysinsy.sinsy.Sinsy()
    assert sinsy.setLanguages("j", pysinsy.get_default_dic_dir())
    assert sinsy.loadVoices(pysinsy.get_default_htsvoice())
    if not sinsy.loadScoreFromMusicXML(str(xml)):
        raise RuntimeError("Sinsy could not read the score")
    wav, rate = sinsy.synthesize()
    sinsy.clearScore()
    return np.asarray(wav, np.float32), rate


def festival_xml(notes, bpm, rng):
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    body = []
    for p, d in notes:
        if p is None:
            body.append(f'<REST BEATS="{d:g}"></REST>')
        else:
            name = f"{names[p % 12]}{p // 12 - 1}"
            body.append(f'<PITCH NOTE="{name}"><DURATION BEATS="{d:g}">{rng.choice(SYLLABLES)}</DURATION></PITCH>')
    return ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
            '"Singing.v0_1.dtd" []>\n'
            f'<SINGING BPM="{bpm}">\n' + "\n".join(body) + "\n</SINGING>\n")


def sing_festival(notes, bpm, rng, tmp):
    import soundfile as sf

    xml = Path(tmp) / "song.xml"
    xml.write_text(festival_xml(notes, bpm, rng))
    wav = Path(tmp) / "song.wav"
    subprocess.run(["text2wave", "-mode", "singing", str(xml), "-o", str(wav)], check=True,
                   timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


VOICES = {"female": (sing_sinsy, 60, 79), "male": (sing_festival, 48, 67)}


def beds(work: Path):
    """Decoded instrumental corpus tracks by split: (package, track, path)."""
    out = {"train": [], "valid": [], "test": []}
    for wav in sorted((work / "audio").glob("*/*.wav")):
        pkg = wav.parent.name
        if pkg in ("renders", "voices"):
            continue
        out[DISTILLATION.split(pkg, wav.stem)].append((pkg, wav.stem, wav))
    return out


def normalised(x):
    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    return x / rms if rms > 0 else x


def write(target: Path, audio):
    import soundfile as sf

    peak = float(np.abs(audio).max())
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    corpus.atomic_write(target, lambda p: sf.write(p, audio.astype(np.float32), corpus.SR,
                                                   subtype="FLOAT", format="WAV"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--pieces", type=int, default=160, help="melodies per voice")
    a = ap.parse_args()
    out = a.work / "voices"
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    by_split = beds(a.work)
    if not any(by_split.values()):
        raise SystemExit(f"{a.work}/audio holds no decoded tracks: run corpus.py WORK decode first")
    tunes = melodies(a.pieces, rng)
    done = 0
    for k, (name, notes, bpm) in enumerate(tunes):
        rng = random.Random(f"{k}-{name}")  # each piece its own draws: a re-run makes the same
        voice = ["female", "male"][(k + k // 2) % 2]  # each voice sings chorales and folk tunes
        sing, low, high = VOICES[voice]
        piece = f"{name}__{voice}"
        split = DISTILLATION.split("voices", f"{piece}__solo")
        pool = by_split[split] or by_split["train"]
        bed_pkg, bed_name, bed_path = pool[rng.randrange(len(pool))]
        level = MIX_DB[k % len(MIX_DB)]
        targets = {"solo": out / f"{piece}__solo.wav",
                   "mix": out / f"{piece}__over-{corpus.slug(bed_pkg)}-{bed_name[:40]}-{level:+d}dB.wav"}
        if all(t.exists() for t in targets.values()):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                sung, rate = sing(verses(into_range(notes, low, high), bpm), bpm, rng, tmp)
            except Exception as e:  # one melody the synthesiser refuses is skipped
                print(f"skipping {piece}: {e}", file=sys.stderr)
                continue
        import soxr
        import soundfile as sf

        sung = soxr.resample(sung, rate, corpus.SR, quality="HQ").astype(np.float32)
        if len(sung) < corpus.MIN_TRACK_SECONDS * corpus.SR or not np.abs(sung).max() > 0:
            print(f"skipping {piece}: {len(sung) / corpus.SR:.0f} s sung", file=sys.stderr)
            continue
        write(targets["solo"], 0.25 * normalised(sung))
        bed, _ = sf.read(bed_path, dtype="float32")
        start = rng.randrange(max(1, len(bed) - len(sung)))
        bed = bed[start : start + len(sung)]
        bed = np.pad(bed, (0, len(sung) - len(bed)))
        gain = 10 ** (level / 20)
        write(targets["mix"], 0.2 * (gain * normalised(sung) + normalised(bed)) / (1 + gain))
        done += 1
        print(f"[{k + 1}/{len(tunes)}] {piece}: {len(sung) / corpus.SR:.0f} s, over {bed_pkg}/{bed_name} at {level:+d} dB",
              flush=True)
    print(f"{done} melodies sung into {out}")


if __name__ == "__main__":
    main()
