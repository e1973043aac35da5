#!/usr/bin/env python3
"""Peak memory of `trainer tag` / `embed` on an hour-long file, and on a library of two.

Writes a 60-minute 44.1 kHz mono WAV (a tone with noise, 318 MB) into a temporary folder,
runs the release trainer on it, and prints a table of peak resident memory (ru_maxrss of the
child) and wall time. The trainer keeps a decoded signal in memory up to 4.4 minutes of audio
and on disk beyond, so the peak should not grow with the length.

    cargo build -p trainer --release
    python3 scripts/bench-long-file.py [--trainer target/release/trainer] [--minutes 60]
"""

import argparse
import array
import math
import os
import subprocess
import sys
import tempfile
import time
import wave


def write_wav(path, minutes, rate=44_100):
    # One second of a 440 Hz tone with a little noise, repeated: fast to write in pure Python.
    second = array.array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * 440 * i / rate) + ((i * 7919) % 401) - 200)
            for i in range(rate)
        ),
    )
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        block = second.tobytes()
        for _ in range(int(minutes * 60)):
            w.writeframes(block)


def peak_of(cmd):
    """Runs cmd alone; returns (peak RSS in MB, seconds). ru_maxrss is the largest child so far,
    so each command runs in a fresh Python child that reports its own child's peak."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.time()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "if r.returncode != 0: sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.time() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    mb, secs = out.stdout.split()
    return float(mb), float(secs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainer", default="target/release/trainer")
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()
    if not os.access(args.trainer, os.X_OK):
        sys.exit(f"{args.trainer} is not there: cargo build -p trainer --release")
    with tempfile.TemporaryDirectory() as tmp:
        long = os.path.join(tmp, "lib", "long.wav")
        os.makedirs(os.path.dirname(long))
        started = time.time()
        write_wav(long, args.minutes)
        write_wav(os.path.join(tmp, "lib", "long2.wav"), args.minutes)
        print(
            f"wrote two {args.minutes:g}-minute WAVs ({os.path.getsize(long) / 1e6:.0f} MB each) "
            f"in {time.time() - started:.1f} s",
            file=sys.stderr,
        )
        t = args.trainer
        rows = [
            # The default backend (auto) as a user runs it: on a machine without a GPU it must
            # not load the Vulkan drivers (52 MB of llvmpipe once).
            ("tag FILE (default backend)", [t, "tag", long]),
            ("tag FILE", [t, "tag", long, "--backend", "flex"]),
            ("embed FILE", [t, "embed", long, "--out", os.path.join(tmp, "e.safetensors"),
                            "--backend", "flex"]),
            ("tag DIR --csv (2 files, --jobs 2)",
             [t, "tag", os.path.join(tmp, "lib"), "--csv", os.path.join(tmp, "t.csv"),
              "--jobs", "2", "--backend", "flex"]),
        ]
        print(f"| command ({args.minutes:g}-minute WAV, 44.1 kHz) | peak memory (MB) | wall (s) |")
        print("|---|---:|---:|")
        for name, cmd in rows:
            mb, secs = peak_of(cmd)
            print(f"| `{name}` | {mb:.0f} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
