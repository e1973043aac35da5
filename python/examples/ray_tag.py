#!/usr/bin/env python3
"""Tag a music catalogue on a Ray cluster: paths → ray.data → map_batches with one Tagger per
worker (an actor pool: the model is loaded once per worker) → Parquet.

Each output row: `path`, `seconds`, one float column per tag (the clip's probabilities, as
`trainer tag`), `top` (the five best tags, comma-separated) and `error` (empty when tagged). A
file that cannot be read becomes a row with its error, never a failed job.

    python ray_tag.py MUSIC_FOLDER_OR_MANIFEST --out tags/ [--workers 2] [--address auto]

A manifest is a text file of one path per line, or a CSV with a `path` column. On this machine
`ray.init` starts a local cluster; on a real one pass `--address auto` on the head node (or
`ray://head:10001`), or submit the script with `ray job submit -- python ray_tag.py …`; every
worker needs `pip install modnet-tagger` and the same paths (a shared file system, or object
storage mounted at the same place).
"""

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

AUDIO = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".mka", ".mkv", ".webm"}


def list_paths(source: Path) -> list:
    """The audio files under a folder (recursively, sorted), or the paths a manifest names."""
    if source.is_dir():
        return sorted(str(p) for p in source.rglob("*") if p.suffix.lower() in AUDIO and p.is_file())
    if not source.is_file():
        raise SystemExit(f"{source}: neither a folder nor a manifest file")
    with open(source, newline="") as f:
        first = f.readline()
        f.seek(0)
        if "path" in next(csv.reader([first]), []):
            return [row["path"] for row in csv.DictReader(f) if row.get("path")]
        return [line.strip() for line in f if line.strip()]


class TagBatch:
    """One per Ray worker: the model is loaded once, then every batch of paths is tagged."""

    def __init__(self, weights=None, threads=1, top=5, heads=None):
        # The model's batches run on rayon's threads: as many as the worker's CPUs, so that
        # workers side by side do not oversubscribe the cores. Set before the first Tagger.
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
        import modnet_tagger

        self.error_type = modnet_tagger.TaggingError
        # Your own tags (a head file of `trainer teach` or `Heads.save`) become columns
        # `user:TAG` after the model's 50.
        self.tagger = modnet_tagger.Tagger(weights=weights, heads=heads)
        self.tags = self.tagger.tags
        self.top = top

    def __call__(self, batch: dict) -> dict:
        n = len(batch["path"])
        probabilities = np.full((n, len(self.tags)), np.nan, np.float32)
        seconds = np.zeros(n, np.float64)
        top, errors = [""] * n, [""] * n
        for i, path in enumerate(batch["path"]):
            try:
                # The clip's tags only, as `trainer tag --csv`: no timeline to compute.
                result = self.tagger.tag(str(path), timeline=False)
            except (self.error_type, OSError, ValueError) as e:
                errors[i] = str(e)
                continue
            probabilities[i] = result.probabilities
            seconds[i] = result.seconds
            model_tags = [t for t, _ in result.top(len(self.tags)) if not t.startswith("user:")]
            top[i] = ", ".join(model_tags[: self.top])
        out = {"path": np.asarray(batch["path"], dtype=object), "seconds": seconds}
        for j, tag in enumerate(self.tags):
            out[tag] = probabilities[:, j]
        out["top"] = np.asarray(top, dtype=object)
        out["error"] = np.asarray(errors, dtype=object)
        return out


def tag_catalogue(paths, out, workers=2, threads_per_worker=1, weights=None, batch_size=4, heads=None):
    """Tags `paths` with `workers` actors and writes Parquet files under `out`; returns the
    number of rows written and the wall time in seconds."""
    import ray

    started = time.time()
    ds = ray.data.from_items([{"path": p} for p in paths])
    tagged = ds.map_batches(
        TagBatch,
        fn_constructor_kwargs={"weights": weights, "threads": threads_per_worker, "heads": heads},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=threads_per_worker,
        batch_format="numpy",
    )
    tagged.write_parquet(str(out))
    return time.time() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="a folder of audio files, or a manifest")
    ap.add_argument("--out", type=Path, required=True, help="the Parquet folder to write")
    ap.add_argument("--workers", type=int, default=2, help="Tagger actors (one model each)")
    ap.add_argument("--threads-per-worker", type=int, default=1, help="CPUs each actor uses")
    ap.add_argument("--weights", help="a weights file (default: the built-in model)")
    ap.add_argument("--heads", help="your own tags: a head file (`trainer teach --out`, `Heads.save`)")
    ap.add_argument("--address", help="an existing cluster (`auto`, `ray://host:10001`); default: a local one")
    ap.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default: all)")
    ap.add_argument("--fail-on-error", action="store_true",
                    help="exit 1 when a file could not be tagged (default: 0 once the job completed; "
                         "the error rows are part of the result)")
    a = ap.parse_args()
    if a.workers < 1 or a.threads_per_worker < 1:
        raise SystemExit("--workers and --threads-per-worker must be at least 1")
    if a.out.exists() and not a.out.is_dir():
        raise SystemExit(f"{a.out} exists and is not a folder (--out names the Parquet folder to make)")
    if a.out.exists() and any(a.out.iterdir()):
        raise SystemExit(f"{a.out} exists and is not empty: choose a new folder")
    if a.heads:
        import modnet_tagger

        try:  # a bad head file is refused here, not in every worker
            modnet_tagger.Tagger(weights=a.weights, heads=a.heads)
        except modnet_tagger.TaggingError as e:
            raise SystemExit(f"--heads: {e}")
    paths = list_paths(a.source)
    if not paths:
        raise SystemExit(f"{a.source}: no audio files")

    import pyarrow.parquet as pq
    import ray

    ray.init(address=a.address, num_cpus=None if a.address else a.num_cpus, log_to_driver=False)
    wall = tag_catalogue(paths, a.out, a.workers, a.threads_per_worker, a.weights, heads=a.heads)
    table = pq.read_table(a.out, columns=["path", "seconds", "error"]).to_pydict()
    failed = [(p, e) for p, e in zip(table["path"], table["error"]) if e]
    hours = sum(table["seconds"]) / 3600
    print("| files | tagged | failed | audio (h) | workers | wall (s) | files/s | audio-hours/min |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(paths)} | {len(table['path']) - len(failed)} | {len(failed)} | {hours:.3f} | {a.workers} "
          f"| {wall:.1f} | {len(paths) / wall:.2f} | {hours / (wall / 60):.3f} |")
    for path, error in failed:
        print(f"- {error}", file=sys.stderr)
    return 1 if failed and a.fail_on_error else 0


if __name__ == "__main__":
    sys.exit(main())
