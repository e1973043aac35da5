#!/usr/bin/env bash
# Checks that the CUDA build compiles, on a machine with or without a GPU, and runs the cuDNN
# module's own tests (what it says where libcudnn is missing, its shapes). scripts/test.sh runs
# it in the background in its own build folder: about 15 minutes of 2 cores the first time,
# about 1 afterwards.
#
# The CUDA build needs no CUDA toolkit and no network beyond the crate registry: the in-tree
# cubecl-cuda (patches/cubecl-cuda, without upstream's LLVM backend, whose build script
# downloads LLVM from GitHub) compiles kernels with NVRTC, and cudarc takes its newest bindings
# when no toolkit is found; the driver's libcuda and libnvrtc are loaded when the program runs
# (scripts/gpu/prepare.sh builds the release binary for a lent GPU). Without the default `wgpu`
# feature: only the CUDA path is new to check.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo check -p trainer --no-default-features --features cuda
cargo test -p modnet --features cudnn --lib kernels::conv2d::cudnn
