#!/usr/bin/env python3
"""The distillation corpus: free music from Debian packages, labelled by an MTAT-trained teacher.

Steps (each resumable: finished outputs are kept, each written atomically):

  decode   every music track of the unpacked packages (fetch.sh) → WORK/audio/PKG/TRACK.wav,
           16 kHz mono float (Fret's on Fire songs: the song stem mixed with the guitar stem);
           plus the renders of render.py when WORK/renders holds them.
  label    the teachers (musicnn 0.1.0's MTT_musicnn and MTT_vgg) on every track: one row of 50
           sigmoid outputs per 3 s patch → WORK/teacher/PKG/TRACK.npy (MTT_musicnn) and
           WORK/teacher-MTT_vgg/PKG/TRACK.npy. Needs teacher-requirements.txt.
  pack     WORK/teacher-outputs.npz: the teachers' outputs with the SHA-256 of each track's
           audio (weights/corpus/ keeps a copy): `label --stored FILE` takes a track's outputs
           from it when its audio is the same, so a rebuild needs TensorFlow only for the rest.
  tables   WORK/labels.csv (one row per 3 s chunk: path, start, seconds, split, the 50 tags,
           the teachers' mean: the folder dataset of `trainer train --dataset folder`),
           WORK/labels-MODEL.csv (each teacher alone, same rows), WORK/tracks.csv (one row per
           track, the chunks' mean: for `trainer eval` at track level), WORK/manifest.csv
           (every chunk with its package, source file, offset and licence) and WORK/CREDITS.md.

The split is by track (a hash of the track's name): no track is in two splits.

Usage: python3 scripts/corpus/corpus.py WORK decode|label|tables|pack|all [--limit N] [--stored FILE]
The teacher step can be replaced by a label file (tests): put the .npy files in WORK/teacher.
"""

import argparse
import csv
import hashlib
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from catalogue import DISTILLATION, Catalogue

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter

SR = 16000
# The teacher's patch: 187 mel frames of hop 256 (musicnn: time_to_frames(3 s) + 1).
PATCH_FRAMES = 187
HOP = 256
PATCH_SAMPLES = PATCH_FRAMES * HOP  # 47 872 samples, 2.992 s: where patch k starts
CHUNK_SECONDS = 3.0  # the student's chunk that covers patch k
MIN_TRACK_SECONDS = 20.0  # shorter files are jingles or sound effects, not music
MTAT_TAGS = [
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
]

def atomic_write(path: Path, write):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def tracks(work: Path, catalogue: Catalogue = DISTILLATION):
    """(package, track name, [source files]) for every music track of `catalogue`, sorted."""
    out = []
    for pkg, where in catalogue.music.items():
        root = work / "pkgs" / pkg
        if not root.is_dir():
            print(f"warning: {root} is missing (run fetch.sh)", file=sys.stderr)
            continue
        if where == "fretsonfire":
            for song in sorted(root.glob("usr/share/games/fretsonfire/data/songs/**/song.ogg")):
                stems = [song] + [p for p in [song.with_name("guitar.ogg")] if p.exists()]
                out.append((pkg, slug(song.parent.name), stems))
        else:
            files = sorted({p for g in where for p in root.glob(g)})
            for f in files:
                out.append((pkg, slug(f"{f.parent.name}__{f.stem}"), [f]))
    for made in catalogue.made:  # render.py's instruments, sing.py's singing
        if (work / made).is_dir():
            for f in sorted((work / made).glob("*.wav")):
                out.append((made, f.stem, [f]))
    return out


def load_mono(path: Path):
    """As musicnn's librosa.load(sr=16000): channel mean, soxr 'HQ' resampling."""
    import soundfile as sf
    import soxr

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    return audio if rate == SR else soxr.resample(audio, rate, SR, quality="HQ").astype(np.float32)


def mixed(files) -> np.ndarray:
    """A track's stems (soundfile's libsndfile reads Vorbis and Opus) as one mono signal at SR,
    scaled down where the sum clips: the audio the teachers label."""
    stems = [load_mono(f) for f in files]
    mix = np.zeros(max(len(s) for s in stems), np.float32)
    for s in stems:
        mix[: len(s)] += s
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    return mix / peak if peak > 1.0 else mix


def decode(work: Path, limit, catalogue: Catalogue = DISTILLATION):
    import soundfile as sf

    done = skipped = 0
    todo = tracks(work, catalogue)[:limit]
    started = time.time()
    for i, (pkg, name, files) in enumerate(todo):
        target = work / "audio" / pkg / f"{name}.wav"
        if target.exists() or target.with_suffix(".short").exists():
            continue
        mix = mixed(files)
        n = len(mix)
        peak = float(np.abs(mix).max()) if n else 0.0
        if n < MIN_TRACK_SECONDS * SR or peak == 0.0:
            target.with_suffix(".short").parent.mkdir(parents=True, exist_ok=True)
            target.with_suffix(".short").write_text(f"{n / SR:.1f} s, peak {peak}\n")
            skipped += 1
            continue
        atomic_write(target, lambda p: sf.write(p, mix, SR, subtype="FLOAT", format="WAV"))
        done += 1
        print(f"[{i + 1}/{len(todo)}] {pkg}/{name}: {n / SR:.0f} s  ({time.time() - started:.0f} s)", flush=True)
    print(f"decoded {done} tracks, {skipped} too short or silent")


# The teachers: musicnn 0.1.0's two MTAT models (the same 50 tags). The labels are their mean
# (less of one model's noise); each one's outputs are kept (teacher_dir) so either can be used
# alone.
TEACHERS = ["MTT_musicnn", "MTT_vgg"]


def teacher_dir(work: Path, model: str) -> Path:
    """Where a teacher's outputs go: WORK/teacher for MTT_musicnn (the first edition's
    folder), WORK/teacher-MODEL for the others."""
    return work / ("teacher" if model == TEACHERS[0] else f"teacher-{model}")


class Teacher:
    """One musicnn model with its graph built once and its checkpoint restored explicitly
    (musicnn's extractor() swallows a failed restore and would run random weights)."""

    def __init__(self, model="MTT_musicnn"):
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning)  # musicnn's deprecated tf.layers
        import musicnn
        import tensorflow as tf
        from musicnn import models

        assert np.__version__.startswith("1."), "numpy >= 2 gives wrong musicnn tags silently"
        tf.compat.v1.disable_eager_execution()
        self.graph = tf.Graph()  # one per teacher: two models side by side
        with self.graph.as_default(), tf.name_scope("model"):
            self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, 96])
            self.is_training = tf.compat.v1.placeholder(tf.bool)
            y = models.define_model(self.x, self.is_training, model, 50)[0]
            self.y = tf.nn.sigmoid(y)
        with self.graph.as_default():
            self.sess = tf.compat.v1.Session(graph=self.graph)
            self.sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().restore(self.sess, os.path.dirname(musicnn.__file__) + f"/{model}/")

    @staticmethod
    def patches(audio):
        import librosa

        mel = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=HOP, n_fft=512, n_mels=96).T
        # As musicnn: float16, then log10(10000 x + 1) (float32 under numpy 1.x).
        mel = np.log10(10000 * mel.astype(np.float16) + 1)
        n = (mel.shape[0] - PATCH_FRAMES) // PATCH_FRAMES + 1
        return np.stack([mel[k * PATCH_FRAMES : k * PATCH_FRAMES + PATCH_FRAMES] for k in range(n)])

    def __call__(self, batch):
        """The sigmoid outputs `[patches, 50]` of `patches(audio)`."""
        out = [
            self.sess.run(self.y, feed_dict={self.x: batch[i : i + 64], self.is_training: False})
            for i in range(0, len(batch), 64)
        ]
        return np.concatenate(out).astype(np.float32)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a WAV's samples as float32: not of the file, whose header libsndfile
    stamps with the time it was written (the PEAK chunk)."""
    import soundfile as sf

    audio, _ = sf.read(path, dtype="float32")
    return hashlib.sha256(audio.tobytes()).hexdigest()


class TeacherOutputs:
    """The teachers' outputs as `pack` stores them (weights/corpus/teacher-outputs.npz): per
    track, the SHA-256 of the 16 kHz WAV they were computed from and each teacher's rows,
    quantised to 1/65535. A track whose samples are the same needs no TensorFlow."""

    SCALE = 65535

    def __init__(self, path: Path):
        z = np.load(path)
        self.index = {n: i for i, n in enumerate(z["tracks"])}
        self.sha256, self.offsets = z["sha256"], z["offsets"]
        self.outputs = {m: z[f"outputs-{m}"] for m in TEACHERS if f"outputs-{m}" in z}

    def get(self, pkg: str, name: str, wav: Path, models):
        """Each of `models`' outputs for the track, or None unless all are stored for this audio."""
        i = self.index.get(f"{pkg}/{name}")
        if i is None or any(m not in self.outputs for m in models) or self.sha256[i] != sha256_of(wav):
            return None
        rows = slice(self.offsets[i], self.offsets[i + 1])
        return {m: self.outputs[m][rows].astype(np.float32) / self.SCALE for m in models}

    @classmethod
    def write(cls, path: Path, tracks):
        """`tracks`: (pkg, name, wav, {model: outputs}) with the same models for every track."""
        models = list(tracks[0][3]) if tracks else []
        lengths = [len(t[3][models[0]]) for t in tracks]
        arrays = {
            "tracks": np.array([f"{p}/{n}" for p, n, _, _ in tracks]),
            "sha256": np.array([sha256_of(w) for _, _, w, _ in tracks]),
            "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        }
        for m in models:
            rows = np.concatenate([t[3][m] for t in tracks])
            arrays[f"outputs-{m}"] = np.round(np.clip(rows, 0, 1) * cls.SCALE).astype(np.uint16)
        atomic_write(path, lambda p: np.savez_compressed(open(p, "wb"), **arrays))


def label(work: Path, limit, stored: Path = None, catalogue: Catalogue = DISTILLATION):
    """Each track's outputs of every teacher: taken from `stored` (a `pack` file) where the
    track's audio is the one they were computed from, else computed."""
    import soundfile as sf

    known = TeacherOutputs(stored) if stored and stored.exists() else None
    teachers = {}  # built when first needed: a corpus found in `stored` needs no TensorFlow
    todo = [t for t in tracks(work, catalogue)[:limit] if (work / "audio" / t[0] / f"{t[1]}.wav").exists()]
    started, seconds, reused, labelled = time.time(), 0.0, 0, 0
    for i, (pkg, name, _) in enumerate(todo):
        targets = {m: teacher_dir(work, m) / pkg / f"{name}.npy" for m in TEACHERS}
        missing = [m for m, t in targets.items() if not t.exists()]
        if not missing:
            continue
        wav = work / "audio" / pkg / f"{name}.wav"
        found = known.get(pkg, name, wav, missing) if known else None
        if found:
            for model, probs in found.items():
                atomic_write(targets[model], lambda p: np.save(open(p, "wb"), probs))
            reused += 1
            continue
        audio, sr = sf.read(wav, dtype="float32")
        assert sr == SR
        patches = Teacher.patches(audio)  # the same mel patches for both teachers
        for model in missing:
            if model not in teachers:
                teachers[model] = Teacher(model)
            probs = teachers[model](patches)
            atomic_write(targets[model], lambda p: np.save(open(p, "wb"), probs))
        labelled += 1
        seconds += len(audio) / SR
        took = time.time() - started
        mean = np.mean([np.load(t) for t in targets.values()], axis=0).mean(0)
        top = ", ".join(f"{MTAT_TAGS[j]} {mean[j]:.2f}" for j in np.argsort(-mean)[:3])
        print(f"[{i + 1}/{len(todo)}] {pkg}/{name}: {len(patches)} patches, {top}  "
              f"({took:.0f} s, {seconds / max(took, 1e-9):.0f}× real time)", flush=True)
    print(f"{len(todo)} tracks: {reused} taken from {stored} (the same audio), "
          f"{labelled} labelled by the teachers, the rest labelled before" if known else
          f"{len(todo)} tracks: {labelled} labelled by the teachers, the rest labelled before")


def pack(work: Path, limit, catalogue: Catalogue = DISTILLATION):
    """WORK/teacher-outputs.npz: every labelled track's teacher outputs with its audio's SHA-256
    (TeacherOutputs), so that the label step of a later build needs TensorFlow only for tracks
    whose audio changed."""
    teachers = [m for m in TEACHERS if teacher_dir(work, m).is_dir()]
    rows = []
    for pkg, name, _ in tracks(work, catalogue)[:limit]:
        npys = {m: teacher_dir(work, m) / pkg / f"{name}.npy" for m in teachers}
        wav = work / "audio" / pkg / f"{name}.wav"
        if npys and all(p.exists() for p in npys.values()) and wav.exists():
            rows.append((pkg, name, wav, {m: np.load(p) for m, p in npys.items()}))
    TeacherOutputs.write(work / "teacher-outputs.npz", rows)
    print(f"packed {len(rows)} tracks' outputs of {', '.join(teachers)} into {work / 'teacher-outputs.npz'}")


def dep5_matches(pattern: str, source: str) -> bool:
    """Whether a DEP-5 `Files:` pattern (a path in the upstream source) names the installed
    file `source`: the pattern, or the pattern without its leading folders (installed paths
    differ from the source's), matches the end of the path; `*` alone is the fallback stanza."""
    from fnmatch import fnmatchcase

    parts = pattern.removeprefix("./").split("/")
    if parts == ["*"]:
        return False
    for k in range(len(parts) - 1 if len(parts) > 1 else 1):
        tail = "/".join(parts[k:])
        if fnmatchcase(source, "*/" + tail) or fnmatchcase(source, tail):
            return True
    return False


def licence(work: Path, pkg: str, source: Path = None, catalogue: Catalogue = DISTILLATION) -> str:
    """The licence of a track: the last DEP-5 stanza naming the file, else the catalogue's
    hand-read licence, else the stanza for `Files: *`."""
    if pkg in catalogue.made:
        return catalogue.licences[pkg]
    copyright = work / "credits" / f"{pkg}.copyright"
    text = copyright.read_text(errors="replace") if copyright.exists() else ""
    found, fallback = None, None
    for stanza in text.split("\n\n"):
        files = re.search(r"^Files:(.*(?:\n\s+.*)*)", stanza, re.M)
        lic = re.search(r"^License:\s*(\S.*)$", stanza, re.M)
        if not (files and lic):
            continue
        patterns = files.group(1).split()
        if patterns == ["*"]:
            fallback = fallback or lic.group(1).strip()
        elif source is not None and any(dep5_matches(p, source.as_posix()) for p in patterns):
            found = lic.group(1).strip()
    if found:
        return found
    if pkg in catalogue.licences:
        return catalogue.licences[pkg]
    if fallback:
        return fallback
    raise SystemExit(f"{copyright}: no licence found for {pkg}; add it to the catalogue's licences by hand (catalogue.py)")


def tables(work: Path, limit, catalogue: Catalogue = DISTILLATION):
    rows, track_rows, manifest = [], [], []
    # Each teacher's rows too, so that either can be used alone (labels-MODEL.csv).
    teachers = [m for m in TEACHERS if teacher_dir(work, m).is_dir()]
    own_rows = {m: [] for m in teachers}
    hours = {"train": 0.0, "valid": 0.0, "test": 0.0}
    for pkg, name, files in tracks(work, catalogue)[:limit]:
        npys = [teacher_dir(work, m) / pkg / f"{name}.npy" for m in teachers]
        if not npys or not npys[0].exists():
            continue
        outputs = []
        for npy in npys:
            if not npy.exists():
                raise SystemExit(f"{npy} is missing: run the label step again")
            probs = np.load(npy)
            if probs.ndim != 2 or probs.shape[1] != 50 or not np.isfinite(probs).all():
                raise SystemExit(f"{npy}: expected finite teacher outputs of shape [patches, 50], got {probs.shape}")
            if outputs and probs.shape != outputs[0].shape:
                raise SystemExit(f"{npy}: {probs.shape[0]} patches, but {npys[0]} has {outputs[0].shape[0]}")
            outputs.append(probs)
        probs = np.mean(outputs, axis=0)
        split = catalogue.split(pkg, name)
        path = f"audio/{pkg}/{name}.wav"
        lic = licence(work, pkg, files[0], catalogue)
        source = " + ".join(str(f.relative_to(work)) for f in files)
        for k, p in enumerate(probs):
            start = k * PATCH_SAMPLES / SR
            head = [path, f"{start:.3f}", f"{CHUNK_SECONDS}", split]
            rows.append(head + [f"{v:.4f}" for v in p])
            for m, out in zip(teachers, outputs):
                own_rows[m].append(head + [f"{v:.4f}" for v in out[k]])
            manifest.append([path, f"{start:.3f}", f"{CHUNK_SECONDS}", split, pkg, source, lic])
        hours[split] += len(probs) * PATCH_SAMPLES / SR / 3600
        track_rows.append([path, split] + [f"{v:.4f}" for v in probs.mean(0)])

    def write(name, header, body):
        def w(p):
            with open(p, "w", newline="") as f:
                out = csv.writer(f)
                out.writerow(header)
                out.writerows(body)
        atomic_write(work / name, w)

    write("labels.csv", ["path", "start", "seconds", "split"] + MTAT_TAGS, rows)
    if len(teachers) > 1:
        for m in teachers:
            write(f"labels-{m}.csv", ["path", "start", "seconds", "split"] + MTAT_TAGS, own_rows[m])
    write("tracks.csv", ["path", "split"] + MTAT_TAGS, track_rows)
    if len(teachers) > 1:  # each teacher's track means too (tracks-MODEL.csv)
        for m in teachers:
            means = {}
            for r in own_rows[m]:
                means.setdefault((r[0], r[3]), []).append([float(v) for v in r[4:]])
            write(f"tracks-{m}.csv", ["path", "split"] + MTAT_TAGS,
                  [[path, split] + [f"{v:.4f}" for v in np.mean(ps, axis=0)]
                   for (path, split), ps in means.items()])
    write("manifest.csv", ["path", "start", "seconds", "split", "package", "source", "licence"], manifest)
    pkgs = sorted({m[4] for m in manifest})
    credits = ["# Credits of the distillation corpus", "",
               "The music comes from these Debian main packages; each package's copyright file is",
               "in credits/. The labels are the mean of musicnn 0.1.0's "
               + " and ".join(teachers) + " (ISC licence).", "",
               "| package | tracks | licences |", "|---|---:|---|"]
    for pkg in pkgs:
        n = len({m[0] for m in manifest if m[4] == pkg})
        lics = sorted({m[6] for m in manifest if m[4] == pkg})
        credits.append(f"| {pkg} | {n} | {' / '.join(lics)} |")
    atomic_write(work / "CREDITS.md", lambda p: Path(p).write_text("\n".join(credits) + "\n"))
    print("| split | tracks | chunks | hours |\n|---|---:|---:|---:|")
    for s in ["train", "valid", "test"]:
        print(f"| {s} | {sum(1 for t in track_rows if t[1] == s)} | {sum(1 for r in rows if r[3] == s)} | {hours[s]:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("step", choices=["decode", "label", "tables", "pack", "all"])
    ap.add_argument("--limit", type=int, default=None, help="only the first N tracks (tests)")
    ap.add_argument("--stored", type=Path, default=None,
                    help="label: take the teachers' outputs from this pack file where the audio matches")
    a = ap.parse_args()
    for step in ["decode", "label", "tables"] if a.step == "all" else [a.step]:
        if step == "label":
            label(a.work, a.limit, a.stored)
        else:
            globals()[step](a.work, a.limit)


if __name__ == "__main__":
    main()
