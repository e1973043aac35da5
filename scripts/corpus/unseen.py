#!/usr/bin/env python3
"""An independent check of the built-in model: music it never saw, from two Debian packages
that the corpus never uses (hedgewars-data, drascula-music), labelled by the same teacher and
kept whole as a test split. Evaluation only: nothing here is ever trained on.

Usage: python3 scripts/corpus/unseen.py WORK   (WORK/pkgs/PKG unpacked with dpkg -x,
WORK/credits/PKG.copyright), then
  trainer eval --dataset folder --data-dir WORK --labels WORK/labels.csv --split test …
"""

import sys
from pathlib import Path

import corpus

corpus.MUSIC = {
    "hedgewars-data": ["usr/share/games/hedgewars/Data/Music/*.ogg"],
    "drascula-music": ["usr/share/scummvm/drascula/audio/*.ogg"],
}
corpus.FORBIDDEN = set()
corpus.LICENCE.update({"hedgewars-data": "GPL-2 / see credits", "drascula-music": "see credits"})
corpus.split_of = lambda pkg, track: "test"  # all of it is a test set

if __name__ == "__main__":
    work = Path(sys.argv[1])
    for step in ["decode", "label", "tables"]:
        getattr(corpus, step)(work, None)
