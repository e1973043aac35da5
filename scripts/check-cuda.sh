#!/usr/bin/env bash
# Checks that the CUDA build compiles (`cargo check`, as docs.rs checks it), on a machine with or
# without a GPU. Not part of scripts/test.sh: it takes about 5 minutes of 2 cores and CI's time is
# spent on what runs.
#
# DOCS_RS=1 is how docs.rs builds without a GPU: burn's CUDA runtime downloads an LLVM bundle in
# a build script (tracel-llvm-bundler) and probes the CUDA toolkit; both are skipped for a check.
# A real `--features cuda` build needs the network once, and the toolkit to run. Without the
# default `wgpu` feature: only the CUDA path is new to check.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS_RS=1 cargo check -p trainer --no-default-features --features cuda
