#!/usr/bin/env bash
# Checks that the CUDA build compiles, on a machine with or without a GPU, and runs the cuDNN
# module's own tests (what it says where libcudnn is missing, its shapes). scripts/test.sh runs
# it in the background in its own build folder: about 15 minutes of 2 cores the first time on a
# machine, about 1 afterwards.
#
# The CUDA build needs no CUDA toolkit and no network beyond the crate registry: the in-tree
# cubecl-cuda (patches/cubecl-cuda, without upstream's LLVM backend, whose build script
# downloads LLVM from GitHub) compiles kernels with NVRTC, and cudarc takes its newest bindings
# when no toolkit is found; the driver's libcuda and libnvrtc are loaded when the program runs
# (scripts/gpu/prepare.sh builds the release binary for a lent GPU). Without the default `wgpu`
# feature: only the CUDA path is new to check.
#
# MODNET_CUDA_TREE=DIR: run from a copy of this tree in DIR, a fixed place, refreshed file by file
# where the contents changed. cargo knows a path crate (patches/cubecl-cuda) by its path, so from
# each new clone (every CI run) it would compile cubecl and burn again, 11 minutes; from the
# same place with the same files it compiles only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n ${MODNET_CUDA_TREE:-} ]]; then
  to=$MODNET_CUDA_TREE
  mkdir -p "$to"
  files=$(git ls-files --cached --others --exclude-standard)
  while IFS= read -r f; do
    [[ -f $f ]] || continue
    if ! cmp -s "$f" "$to/$f"; then
      mkdir -p "$to/$(dirname "$f")"
      cp "$f" "$to/$f"
    fi
  done <<< "$files"
  # Files the tree no longer has go from the copy too (target/ is never in it).
  comm -13 <(sort <<< "$files") <(cd "$to" && find . -type f -not -path './target/*' | sed 's|^\./||' | sort) |
    (cd "$to" && xargs -r -d '\n' rm -f)
  cd "$to"
fi
cargo check -p trainer --no-default-features --features cuda
cargo test -p modnet --features cudnn --lib kernels::conv2d::cudnn
