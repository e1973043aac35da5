#!/usr/bin/env python3
"""The few-shot benchmark of your own tags: a head learned from k examples of a tag (and k
counter-examples) against the built-in model's own output for that tag, on music neither saw.

Usage: python3 scripts/fewshot/bench.py WORK [--draws 20] [--out scripts/fewshot]
WORK holds patches.npz from prepare.py: 3 s patches of the distillation corpus's test-split
tracks (never trained on) with the teachers' mean outputs. Truth is the teachers' mean above 0.5.
The tracks are split in two halves (no track on both sides), each benchmark tag's tracks dealt
alternately to the halves in the order of a hash of their names; heads learn from patches of one
half and everything is scored on the other, then the other way round (the figures are the mean
of both directions). For each tag and k, `draws` heads
learn from k random positive and k random negative patches (`Tagger.learn_heads`, the same code
as `trainer teach`); each is scored by ROC-AUC over the held-out patches, as is the built-in
model's probability for the tag. The same again at k = ALONE with no counter-examples: the
built-in model's background set (scripts/fewshot/background.py; other packages) stands in.
Writes results.md (the table) and fewshot.png (the curves) to --out. Needs numpy, matplotlib
and the modnet_tagger wheel.
"""

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

import modnet_tagger

TAGS = ["techno", "classical", "drums", "piano", "rock"]
KS = [5, 10, 20, 50]
ALONE = 10
TRUTH = 0.5


def roc_auc(labels, scores):
    """Mann–Whitney ROC-AUC with ties counted half (sklearn's roc_auc_score)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels.sum()
    neg = len(labels) - pos
    return (ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg)


def embedded(work: Path, tagger):
    """Each patch's pooled embedding and the built-in model's probabilities (cached)."""
    cache = work / "embedded.npz"
    if cache.exists():
        z = np.load(cache)
        return z["embeddings"], z["probabilities"]
    audio = np.load(work / "patches.npz")["audio"]
    embeddings, probabilities = [], []
    started = time.time()
    for i, patch in enumerate(audio):
        embeddings.append(tagger.embed(patch, sample_rate=16000).chunks[0])
        probabilities.append(tagger.tag(patch, sample_rate=16000, timeline=False).probabilities)
        if (i + 1) % 200 == 0:
            print(f"embedded {i + 1}/{len(audio)} patches ({time.time() - started:.0f} s)", flush=True)
    np.savez(cache, embeddings=np.array(embeddings), probabilities=np.array(probabilities))
    return np.array(embeddings), np.array(probabilities)


def halves(names, track, teachers, vocabulary):
    """Each track's half (0 or 1): tracks grouped by the benchmark tag they hold most patches of
    (or none), each group dealt alternately in the order of a hash of the names, so that every
    tag has examples on both sides."""
    groups = {}
    for i, name in enumerate(names):
        counts = [(teachers[track == i, vocabulary.index(g)] > TRUTH).sum() for g in TAGS]
        main = TAGS[int(np.argmax(counts))] if max(counts) > 0 else None
        groups.setdefault(main, []).append(i)
    half = np.zeros(len(names), int)
    for members in groups.values():
        members.sort(key=lambda i: hashlib.sha256(str(names[i]).encode()).hexdigest())
        for j, i in enumerate(members):
            half[i] = j % 2
    return half


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    tagger = modnet_tagger.Tagger()
    z = np.load(args.work / "patches.npz")
    teachers, track, names = z["teachers"], z["track"], z["tracks"]
    embeddings, probabilities = embedded(args.work, tagger)
    half = halves(names, track, teachers, tagger.tags)[track]
    rng = np.random.default_rng(0)
    rows, times = [], []
    for tag in TAGS:
        t = tagger.tags.index(tag)
        truth = teachers[:, t] > TRUTH
        row = {"tag": tag, "positives": int(truth.sum()), "patches": len(truth)}
        builtin, scores, alone = [], {k: [] for k in KS}, []
        for side in (0, 1):  # learn on one half, score on the other; then the other way
            pool_pos = np.flatnonzero((half == side) & truth)
            pool_neg = np.flatnonzero((half == side) & ~truth)
            test = np.flatnonzero(half != side)
            builtin.append(roc_auc(truth[test], probabilities[test, t]))
            for k in [k for k in KS if len(pool_pos) >= k]:
                for _ in range(args.draws):
                    chosen = np.concatenate([rng.choice(pool_pos, k, replace=False),
                                             rng.choice(pool_neg, k, replace=False)])
                    started = time.perf_counter()
                    heads = tagger.learn_heads([embeddings[i] for i in chosen],
                                               {f"my {tag}": [True] * k + [False] * k})
                    times.append((2 * k, time.perf_counter() - started))
                    scores[k].append(roc_auc(truth[test], heads.predict(embeddings[test])[:, 0]))
                    if k == ALONE:  # the same examples, no counter-examples: the background
                        heads = tagger.learn_heads([embeddings[i] for i in chosen[:k]], {f"my {tag}": [True] * k})
                        assert heads.report[0]["background"] > 0
                        alone.append(roc_auc(truth[test], heads.predict(embeddings[test])[:, 0]))
        row["builtin"] = float(np.mean(builtin))
        row["alone"] = (float(np.mean(alone)), float(np.std(alone)))
        # A k that only one half has enough examples for is reported from that direction (marked).
        for k in KS:
            row[k] = (float(np.mean(scores[k])), float(np.std(scores[k])), len(scores[k]) < 2 * args.draws) if scores[k] else None
        rows.append(row)
        print(row, flush=True)
    write(args.out, rows, times, args.draws)


def write(out: Path, rows, times, draws):
    lines = [
        "| tag | patches with the tag (of all) | built-in | "
        + " | ".join(f"k = {k}" for k in KS) + " | k = 10 − built-in | k = 50 − built-in "
        f"| k = {ALONE}, no counter-examples² |",
        "|---|---:|---:|" + "---:|" * len(KS) + "---:|---:|---:|",
    ]
    for r in rows:
        cells = [f"{r[k][0]:.3f} ± {r[k][1]:.3f}{'¹' if r[k][2] else ''}" if r[k] else "—" for k in KS]
        gap = lambda k: f"{r[k][0] - r['builtin']:+.3f}" if r[k] else "—"  # noqa: E731
        lines.append(f"| {r['tag']} | {r['positives']} ({r['patches']}) | "
                     f"{r['builtin']:.3f} | " + " | ".join(cells) + f" | {gap(10)} | {gap(50)} "
                     f"| {r['alone'][0]:.3f} ± {r['alone'][1]:.3f} |")
    slowest = {n: max(s for m, s in times if m == n) for n in sorted({m for m, _ in times})}
    lines.append("")
    lines.append("¹ one direction only: the other half holds fewer than k patches with the tag.")
    lines.append("")
    lines.append(f"² the same {ALONE} examples with no counter-examples: the built-in model's background set "
                 "(clips of ten other packages of the corpus) stands in for them.")
    lines.append("")
    lines.append(f"ROC-AUC on the held-out half's patches (truth: the teachers' mean > {TRUTH}), mean ± sd "
                 f"over {draws} draws of k examples and k counter-examples in each direction; learning one head (cross-validation included), slowest of the "
                 "draws: " + ", ".join(f"{n} examples {s * 1e3:.0f} ms" for n, s in slowest.items()))
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, r in enumerate(rows):
        ks = [k for k in KS if r[k]]
        colour = f"C{i}"
        ax.errorbar(ks, [r[k][0] for k in ks], yerr=[r[k][1] for k in ks], marker="o", color=colour,
                    capsize=3, label=f"{r['tag']} (head)")
        ax.axhline(r["builtin"], color=colour, linestyle="--", linewidth=1)
        ax.plot([ALONE], [r["alone"][0]], marker="x", color=colour, linestyle="none")
    ax.set_xscale("log")
    ax.set_xticks(KS, [str(k) for k in KS])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("examples of the tag (and as many counter-examples)")
    ax.set_ylabel("ROC-AUC on held-out patches")
    ax.set_title("Your own tag from k examples vs the built-in tag (dashed);\n"
                 f"× at k = {ALONE}: no counter-examples, the background set instead", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "fewshot.png", dpi=120)


if __name__ == "__main__":
    main()
