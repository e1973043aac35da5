#!/usr/bin/env python3
"""Makes the built-in model's background set (weights/modnet-mtat-distilled-background.safetensors):
pooled embeddings of 3 s clips of music of many kinds, which stand beside a user's
counter-examples whenever a tag is taught (model/src/heads/background.rs).

The clips: training-split tracks of ten Debian packages of the distillation corpus (so nothing new
enters the training corpus), none of them a package the few-shot benchmark scores on
(prepare.PACKAGES) nor a reserved one; at most TRACKS_PER_PACKAGE tracks a package (in the order
of a hash of their names, so that no one soundtrack dominates) and six clips evenly spaced
through each track (the packages' training splits hold about 70 tracks of 20 s or more).

Usage: python3 scripts/fewshot/background.py WORK [--out FILE]
Downloads and unpacks the packages into WORK (apt-get download), decodes as the corpus does
(16 kHz mono), embeds with the modnet_tagger wheel (the built-in model, CPU) and writes FILE.
Needs numpy, soundfile, soxr, safetensors and the wheel. Resumable: each track's clips are kept
in WORK/background/.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "corpus"))
sys.path.insert(0, str(Path(__file__).parent))
import corpus  # noqa: E402
import prepare  # noqa: E402
from catalogue import DISTILLATION, RESERVED  # noqa: E402

PACKAGES = [
    "nexuiz-music", "singularity-music", "hyperrogue-music", "asc-music", "frozen-bubble-data",
    "extremetuxracer-data", "lugaru-data", "noiz2sa-data", "scorched3d-data",
    "fretsonfire-songs-sectoid",
]
TRACKS_PER_PACKAGE = 24
PLACES = tuple(i / 7 for i in range(1, 7))
CLIP = int(corpus.CHUNK_SECONDS * corpus.SR)
OUT = ROOT / "weights" / "modnet-mtat-distilled-background.safetensors"
assert not (RESERVED | set(prepare.PACKAGES)) & set(PACKAGES)


def chosen_tracks(work: Path):
    by_package = {}
    for pkg, name, files in corpus.tracks(work, DISTILLATION):
        if pkg in PACKAGES and DISTILLATION.split(pkg, name) == "train":
            by_package.setdefault(pkg, []).append((name, files))
    for pkg, tracks in sorted(by_package.items()):
        tracks.sort(key=lambda t: hashlib.sha256(f"{pkg}/{t[0]}".encode()).hexdigest())
        for name, files in tracks[:TRACKS_PER_PACKAGE]:
            yield pkg, name, files


def clips(work: Path):
    """Each chosen track's clips, decoded once and kept."""
    kept = work / "background"
    kept.mkdir(exist_ok=True)
    out, names = [], []
    for pkg, name, files in chosen_tracks(work):
        target = kept / f"{pkg}__{corpus.slug(name)}.npy"
        if not target.exists():
            mono = corpus.mixed(files)
            if len(mono) < corpus.MIN_TRACK_SECONDS * corpus.SR:
                continue
            starts = [int(p * (len(mono) - CLIP)) for p in PLACES]
            np.save(target, np.stack([mono[s : s + CLIP] for s in starts]).astype(np.float32))
            print(f"{pkg}/{name}", flush=True)
        out.append(np.load(target))
        names.append(f"{pkg}/{name}")
    return np.concatenate(out), names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    prepare.fetch(args.work, PACKAGES)
    audio, names = clips(args.work)
    import modnet_tagger
    from safetensors.numpy import save_file

    tagger = modnet_tagger.Tagger()
    embeddings = np.stack([tagger.embed(c, sample_rate=corpus.SR).chunks[0] for c in audio])
    # The model's identity as head files carry it (summary, SHA-256 of its weights).
    probe = tagger.learn_heads(list(embeddings[:2]), {"probe": [True, False]}, background=False)
    summary, sha256 = probe.base
    packages = sorted({n.split("/")[0] for n in names})
    source = (f"{len(audio)} clips of 3 s from {len(names)} training-split tracks of the distillation "
              f"corpus (Debian: {', '.join(packages)}), {len(PLACES)} a track")
    save_file({"embeddings": embeddings.astype(np.float32)}, str(args.out), metadata={
        "modnet.format": "modnet-background/1",
        "modnet.background.base": json.dumps({"summary": summary, "sha256": sha256}),
        "modnet.background.source": source,
    })
    print(f"{source}\n-> {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
