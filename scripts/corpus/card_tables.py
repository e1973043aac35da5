#!/usr/bin/env python3
"""The model card's agreement tables from `trainer eval --json` files: one summary row per file
and one per-tag table, grouped as the paper groups the tags, with a ROC-AUC / PR-AUC column
pair per file (— where a tag has fewer than the minimum of positives). Only the standard
library.

Usage: python3 scripts/corpus/card_tables.py "NAME=FILE.json" ...
"""

import json
import math
import sys

# The paper's order of its tag groups (each tag's group comes with the file).
ORDER = ["genre", "instrument", "vocal", "mood", "other"]


def number(v):
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def main(args):
    runs = []
    for arg in args:
        name, _, path = arg.partition("=")
        if not path:
            sys.exit(f"card_tables.py: '{arg}' is not NAME=FILE.json")
        with open(path) as f:
            d = json.load(f)
        runs.append((name, d["tags"], d["evaluation"], d["groups"]))
    print("| set | clips | tags scored | macro ROC-AUC | macro PR-AUC | top 1 in top 3 | BCE |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, tags, e, _ in runs:
        m = e["metrics"]
        print(f"| {name} | {len(e['clips'])} | {len(tags) - m['undefined_tags']} | "
              f"{m['roc_auc_macro']:.3f} | {m['pr_auc_macro']:.3f} | "
              f"{100 * e['top1_in_label_top3']:.1f} % | {e['loss']:.4f} |")
    print()
    print("| group | tag | " + " | ".join(f"{n} ROC-AUC | {n} PR-AUC" for n, *_ in runs) + " |")
    print("|---|---|" + "---:|---:|" * len(runs))
    tags, groups = runs[0][1], runs[0][3]
    for group in sorted(set(groups), key=lambda g: ORDER.index(g) if g in ORDER else len(ORDER)):
        for tag, g in zip(tags, groups):
            if g != group:
                continue
            cells, any_scored = [], False
            for _, run_tags, e, _ in runs:
                i = run_tags.index(tag) if tag in run_tags else None
                roc = e["metrics"]["roc_auc"][i] if i is not None else None
                ap = e["metrics"]["average_precision"][i] if i is not None else None
                if number(roc):
                    any_scored = True
                    cells += [f"{roc:.3f}", f"{ap:.3f}"]
                else:
                    cells += ["—", "—"]
            if any_scored:
                print(f"| {group} | {tag} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
