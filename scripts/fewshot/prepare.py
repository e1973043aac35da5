#!/usr/bin/env python3
"""Step 1 of the few-shot benchmark (bench.py): the distillation corpus's *test-split* tracks of a
few Debian packages (music the built-in model never trained on), cut into the teachers' 3 s
patches, with the teachers' stored outputs for each patch as truth.

Usage: python3 scripts/fewshot/prepare.py WORK
Downloads and unpacks the packages into WORK (apt-get download; no root install), decodes each
test-split track as the corpus's decode step does and checks its SHA-256 against the one stored
beside the teachers' outputs (weights/corpus/teacher-outputs.npz), so the labels are those of this
very audio. Writes WORK/patches.npz: `audio` [patches, 48000] float32 at 16 kHz, `teachers`
[patches, 50] (the mean of MTT_musicnn and MTT_vgg), `track` [patches] (index into `tracks`).
Needs numpy, soundfile and soxr (scripts/corpus/test-requirements.txt). Resumable: each track's
patches are kept in WORK/patches/ once done.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "corpus"))
import corpus  # noqa: E402
from catalogue import DISTILLATION, RESERVED  # noqa: E402

# Packages whose test-split tracks hold the benchmark's tags (counts of patches with the teachers'
# mean above 0.5, test split): piano (lincity-ng, supertux, warmux), techno (ufoai, warzone2100,
# planetblupi), classical (wesnoth, warmux), drums (warzone2100, ufoai), rock (fretsonfire).
PACKAGES = [
    "lincity-ng-data", "supertux-data", "warmux-data", "ufoai-music", "warzone2100-music",
    "planetblupi-music-ogg", "wesnoth-1.16-music", "fretsonfire-songs-muldjord",
    "colobot-common-sounds",
]
# Where an archive holds the music (as fetch.sh unpacks it).
ARCHIVES = {
    "ufoai-music": ("usr/share/games/ufoai/base/0music.pk3", "music/*"),
    "nexuiz-music": ("usr/share/games/nexuiz/data/music.pk3", "sound/cdtracks/*"),
}
CHUNK = int(corpus.CHUNK_SECONDS * corpus.SR)
assert not RESERVED & set(PACKAGES)


def fetch(work: Path, packages=PACKAGES):
    debs = work / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    for p in packages:
        target = work / "pkgs" / p
        if (target / ".done").exists():
            continue
        deb = sorted(debs.glob(f"{p}_*.deb"))[0]
        print(f"unpacking {deb.name}", flush=True)
        subprocess.run(["rm", "-rf", str(target)], check=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
        if p in ARCHIVES:
            archive, music = ARCHIVES[p]
            subprocess.run(["unzip", "-q", "-o", str(target / archive), music, "-d", str(target / "music")], check=True)
            (target / archive).unlink()
        (target / ".done").touch()


def main():
    work = Path(sys.argv[1])
    fetch(work)
    stored = corpus.TeacherOutputs(ROOT / "weights" / "corpus" / "teacher-outputs.npz")
    todo = [
        (pkg, name, files)
        for pkg, name, files in corpus.tracks(work, DISTILLATION)
        if pkg in PACKAGES and DISTILLATION.split(pkg, name) == "test"
    ]
    out = work / "patches"
    out.mkdir(exist_ok=True)
    for i, (pkg, name, files) in enumerate(todo):
        target = out / f"{pkg}__{name}.npz"
        if target.exists() or target.with_suffix(".skip").exists():
            continue
        mono = corpus.mixed(files)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "track.wav"
            sf.write(wav, mono, corpus.SR, subtype="FLOAT", format="WAV")
            found = stored.get(pkg, name, wav, corpus.TEACHERS)
        if found is None:
            # Too short for the corpus, or audio that decodes differently here: no truth for it.
            target.with_suffix(".skip").write_text("no stored teacher outputs for this audio\n")
            print(f"[{i + 1}/{len(todo)}] {pkg}/{name}: skipped (no stored outputs for this audio)")
            continue
        teachers = np.mean([found[m] for m in corpus.TEACHERS], axis=0)
        patches = np.zeros((len(teachers), CHUNK), np.float32)
        for k in range(len(teachers)):
            piece = mono[k * corpus.PATCH_SAMPLES: k * corpus.PATCH_SAMPLES + CHUNK]
            patches[k, : len(piece)] = piece
        corpus.atomic_write(target, lambda p: np.savez(open(p, "wb"), audio=patches, teachers=teachers))
        print(f"[{i + 1}/{len(todo)}] {pkg}/{name}: {len(teachers)} patches", flush=True)
    parts = sorted(out.glob("*.npz"))
    loaded = [np.load(p) for p in parts]
    np.savez(
        work / "patches.npz",
        audio=np.concatenate([z["audio"] for z in loaded]),
        teachers=np.concatenate([z["teachers"] for z in loaded]),
        track=np.concatenate([np.full(len(z["teachers"]), i) for i, z in enumerate(loaded)]),
        tracks=np.array([p.stem for p in parts]),
    )
    print(f"{sum(len(z['teachers']) for z in loaded)} patches of {len(parts)} tracks in {work / 'patches.npz'}")


if __name__ == "__main__":
    main()
