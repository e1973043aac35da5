#!/usr/bin/env python3
"""Renders for what the game music lacks (singing, choir, harpsichord, organ, sitar, harp, flute,
strings, piano): music21's corpus scores written to MIDI with chosen General MIDI programs and
rendered by FluidSynth with Debian's FluidR3_GM SoundFont (fetch.sh unpacks it).

Writes WORK/renders/PIECE__INSTRUMENT.wav (44.1 kHz; corpus.py's decode step resamples). The
split of corpus.py keeps all renders of one piece in one split. Resumable: existing renders are
kept. Needs music21 (teacher-requirements.txt) and the `fluidsynth` program (Debian package).

Usage: python3 scripts/corpus/render.py WORK
"""

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# General MIDI programs (0-based).
CHOIR, VOICE, HARPSICHORD, ORGAN, PIANO = 52, 53, 6, 19, 0
SITAR, HARP, FLUTE, VIOLIN, VIOLA, CELLO, STRINGS = 104, 46, 73, 40, 41, 42, 48

# (composer in music21's corpus, how many pieces, [(instrument name, program per part or one)]).
PLAN = [
    ("bach", 24, [("choir", CHOIR), ("oohs", VOICE)]),
    ("bach", 12, [("harpsichord", HARPSICHORD), ("organ", ORGAN)]),
    ("bach", 8, [("harp", HARP), ("piano", PIANO)]),
    ("palestrina", 10, [("choir", CHOIR)]),
    ("monteverdi", 10, [("choir", CHOIR), ("oohs", VOICE)]),
    ("ryansMammoth", 20, [("flute", FLUTE), ("sitar", SITAR), ("violin", VIOLIN)]),
    ("beethoven", 4, [("strings", STRINGS), ("quartet", [VIOLIN, VIOLIN, VIOLA, CELLO])]),
    ("haydn", 3, [("quartet", [VIOLIN, VIOLIN, VIOLA, CELLO]), ("piano", PIANO)]),
    ("mozart", 3, [("quartet", [VIOLIN, VIOLIN, VIOLA, CELLO]), ("harpsichord", HARPSICHORD)]),
    ("joplin", 1, [("piano", PIANO)]),
]
MAX_SECONDS = 240  # long movements are cut (FluidSynth renders the MIDI as written)
RUNAWAY_SECONDS = 60 * 60  # a render longer than an hour is a note that never ends


def with_programs(score, programs):
    from music21 import instrument

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    for k, part in enumerate(parts):
        program = programs[min(k, len(programs) - 1)] if isinstance(programs, list) else programs
        for old in part.recurse().getElementsByClass(instrument.Instrument):
            part.remove(old, recurse=True)
        inst = instrument.Instrument()
        inst.midiProgram = program
        inst.midiChannel = k % 9  # never channel 10 (drums)
        part.insert(0, inst)
    return score


def main():
    from music21 import corpus

    work = Path(sys.argv[1])
    font = next((work / "pkgs" / "fluid-soundfont-gm").rglob("FluidR3_GM.sf2"))
    out = work / "renders"
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    done = 0
    for composer, count, instruments in PLAN:
        paths = sorted(str(p) for p in corpus.getComposer(composer))
        rng.shuffle(paths)
        used = 0
        for path in paths:
            if used >= count:
                break
            piece = Path(path).stem.replace(".", "_")
            try:
                parsed = corpus.parse(path)
            except Exception as e:  # a few corpus files do not parse: take the next one
                print(f"skipping {path}: {e}", file=sys.stderr)
                continue
            # Opus files (ryansMammoth) hold many tunes: take a few, one after another.
            scores = list(parsed.scores)[:3] if hasattr(parsed, "scores") else [parsed]
            used += 1
            for name, programs in instruments:
                target = out / f"{composer}-{piece}__{name}.wav"
                # .failed: FluidSynth never finished any of its scores (no retry on a re-run).
                if target.exists() or target.with_suffix(".failed").exists():
                    continue
                with tempfile.TemporaryDirectory() as tmp:
                    wavs = []
                    for i, score in enumerate(scores):
                        mid = Path(tmp) / f"{i}.mid"
                        with_programs(score, programs).write("midi", fp=str(mid))
                        wav = Path(tmp) / f"{i}.wav"
                        if fluidsynth(font, mid, wav):
                            wavs.append(wav)
                        else:
                            print(f"skipping {path} #{i}: FluidSynth did not finish", file=sys.stderr)
                    if not wavs:
                        target.with_suffix(".failed").touch()
                        continue
                    join(wavs, target)
                done += 1
                print(f"rendered {target.name}", flush=True)
    print(f"{done} renders written to {out}")


def fluidsynth(font, mid, wav):
    """Renders MID to WAV; False when FluidSynth fails, writes more than RUNAWAY_SECONDS of
    audio or runs past 10 min. A few scores hold a note that never ends: FluidSynth would render
    forever, faster than real time (one filled 9.8 GB of /tmp within its timeout); the size limit
    stops those. Both limits are far above any real score (the longest, Beethoven's Grosse Fuge,
    renders 19.4 min in about 22 s), so that what is kept does not depend on the machine."""
    limit = RUNAWAY_SECONDS * 44100 * 2 * 2  # FluidSynth writes 16-bit stereo
    with subprocess.Popen(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", str(wav),
                           str(font), str(mid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        started = time.monotonic()
        while proc.poll() is None:
            too_big = wav.exists() and wav.stat().st_size > limit
            if too_big or time.monotonic() - started > 600:
                proc.kill()
                proc.wait()
                wav.unlink(missing_ok=True)
                return False
            time.sleep(0.2)
        return proc.returncode == 0


def join(wavs, target):
    import numpy as np
    import soundfile as sf

    parts = [sf.read(w, dtype="float32", always_2d=True)[0] for w in wavs]
    audio = np.concatenate(parts)[: MAX_SECONDS * 44100]
    tmp = target.with_name(target.name + ".tmp")
    sf.write(tmp, audio, 44100, subtype="FLOAT", format="WAV")
    tmp.replace(target)


if __name__ == "__main__":
    main()
