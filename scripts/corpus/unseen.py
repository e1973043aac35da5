#!/usr/bin/env python3
"""An independent check of the built-in model: music it never saw, from three Debian packages
that the corpus never uses (hedgewars-data, drascula-music and performous, whose two theme
songs are the only real singing with a free licence in the registries), labelled by the same
teachers and kept whole as a test split. Evaluation only: nothing here is ever trained on.

Usage: python3 scripts/corpus/unseen.py WORK [decode|label|tables|ceiling|all]
(WORK/pkgs/PKG unpacked with dpkg -x, WORK/credits/PKG.copyright; scripts/corpus/unseen.sh
does all of it and runs `trainer eval`).

`ceiling` scores the second teacher (MTT_vgg) against the first (MTT_musicnn) with the
trainer's protocol: how well a second MTAT-trained model agrees with the teacher on this music,
the most a student can be asked for.
"""

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

import corpus
from catalogue import UNSEEN

# The trainer's defaults for soft labels (distill.sh): a teacher probability above 0.3 is a
# positive; tags with fewer than 5 positives are left out of the macro means.
THRESHOLD, MIN_POSITIVES = 0.3, 5


def agreement(truth, scores):
    """(tags scored, macro ROC-AUC, macro PR-AUC, top 1 in top 3) of `scores` against the soft
    labels `truth`, both [clips, 50]."""
    labels = (truth > THRESHOLD).astype(float)
    aucs, aps = [], []
    for t in range(truth.shape[1]):
        pos = labels[:, t].sum()
        if pos >= MIN_POSITIVES and pos < len(labels):
            # scikit-learn's, as the trainer's metrics (their parity is tested against it).
            aucs.append(roc_auc_score(labels[:, t], scores[:, t]))
            aps.append(average_precision_score(labels[:, t], scores[:, t]))
    top3 = np.argsort(-truth, axis=1, kind="stable")[:, :3]
    best = np.argmax(scores, axis=1)
    top = np.mean([b in row for b, row in zip(best, top3)])
    return len(aucs), float(np.mean(aucs)), float(np.mean(aps)), float(top)


def read(path: Path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[t]) for t in corpus.MTAT_TAGS] for r in rows])


def ceiling(work: Path, limit):
    print("| MTT_vgg against MTT_musicnn | clips | tags scored | macro ROC-AUC | macro PR-AUC | top 1 in top 3 |")
    print("|---|---:|---:|---:|---:|---:|")
    for level, stem in [("chunks", "labels"), ("tracks", "tracks")]:
        truth = read(work / f"{stem}-MTT_musicnn.csv")
        scores = read(work / f"{stem}-MTT_vgg.csv")
        n, auc, ap, top = agreement(truth, scores)
        print(f"| {level} | {len(truth)} | {n} | {auc:.3f} | {ap:.3f} | {100 * top:.1f} % |")


if __name__ == "__main__":
    work = Path(sys.argv[1])
    step = sys.argv[2] if len(sys.argv) > 2 else "all"
    for s in ["decode", "label", "tables", "ceiling"] if step == "all" else [step]:
        if s == "ceiling":
            ceiling(work, None)
        else:
            getattr(corpus, s)(work, None, catalogue=UNSEEN)
