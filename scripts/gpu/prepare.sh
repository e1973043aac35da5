#!/usr/bin/env bash
# Issue 39's GPU measurements, step 1 (here, on a machine without a GPU): the binaries that
# scripts/gpu/measure.sh runs on a lent GPU, in gpu-carry/ (git-ignored), gzipped so that both
# fit the device tool's 64 MiB carry (~27 MB gzipped each):
#   trainer.gz           release build, wgpu and CUDA (`--features cuda`), burn's autotune off
#   trainer-autotune.gz  the same with `--features autotune` (fusion stays off: burn#5257)
# CUDA builds here through the in-tree cubecl-cuda without its LLVM backend (patches/; NVRTC
# and the driver are loaded at run time on the GPU machine).
# Then, with a device lent: run(command="bash scripts/gpu/measure.sh", carry=["gpu-carry"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Without a toolkit cudarc binds the newest CUDA driver API it knows (13.4), which a machine's
# older driver may lack symbols of; CUDA 12.4's API (cubecl compiles against it) runs on every
# driver from 550 on. CUDARC_CUDA_VERSION=13040 builds for the newest instead.
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-12040}
target=${CARGO_TARGET_DIR:-target}
mkdir -p gpu-carry
build() {
  local name=$1; shift
  cargo build --release -p trainer "$@"
  strip -o "gpu-carry/$name" "$target/release/trainer"
  gzip -9 -f "gpu-carry/$name"
}
build trainer --features cuda
build trainer-autotune --features cuda,autotune
git rev-parse HEAD > gpu-carry/commit
ls -la gpu-carry
du -cb gpu-carry/* | tail -1 | awk '{ if ($1 > 64 * 1024 * 1024) { print "over the 64 MiB carry: " $1; exit 1 } }'
