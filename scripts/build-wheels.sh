#!/usr/bin/env bash
# Builds the Python package's wheels for package indexes and cluster images, and checks each by
# installing it into a fresh venv with no Rust on PATH and running the Python tests against it.
#
#   bash scripts/build-wheels.sh            # the CPU wheel  -> wheels/cpu/
#   bash scripts/build-wheels.sh gpu        # the GPU (wgpu) wheel -> wheels/gpu/
#   bash scripts/build-wheels.sh cpu gpu
#
# manylinux2014 (glibc 2.17: any Linux of the last ten years) through maturin's `--zig`, with
# zig from PyPI's `ziglang` (no system toolchain beyond Rust itself). One abi3 wheel serves
# CPython 3.9 and later. Both variants are named `modnet-tagger`: install one or the other (the
# GPU one also runs on the CPU, `Tagger(backend="flex")`, and is larger).
# Not part of the test run: a release build of the package takes ~20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(cpu)
cache=${MODNET_CACHE:-$HOME/.cache/modnet-rs}
venv=$cache/venvs/wheels
if [[ ! -x $venv/bin/maturin ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "maturin==1.16.0" "ziglang==0.13.0"
fi
# maturin finds zig as `python3 -m ziglang` of the python on PATH.
export PATH=$venv/bin:$PATH
trainer=${TRAINER:-}
for variant in "${variants[@]}"; do
  case $variant in
    cpu) features=() ;;
    gpu) features=(--features wgpu) ;;
    *) echo "error: unknown variant $variant (cpu or gpu)" >&2; exit 2 ;;
  esac
  out=wheels/$variant
  rm -rf "$out"
  started=$(date +%s)
  "$venv/bin/maturin" build --release --zig --compatibility manylinux2014 \
    -m python/Cargo.toml "${features[@]}" -o "$out"
  wheel=$(ls "$out"/modnet_tagger-*.whl)
  echo "built $wheel ($(du -h "$wheel" | cut -f1)) in $(( $(date +%s) - started )) s"

  # The check: a fresh venv, PATH without cargo or rustc, the wheel and the tests' needs only.
  check=$(mktemp -d)
  python3 -m venv "$check/venv"
  env -i HOME="$HOME" PATH=/usr/bin:/bin "$check/venv/bin/pip" install -q numpy pytest
  if command -v cargo >/dev/null && env -i PATH=/usr/bin:/bin sh -c 'command -v cargo' >/dev/null; then
    echo "error: cargo is on the check's PATH" >&2; exit 1
  fi
  started=$(date +%s.%N)
  env -i HOME="$HOME" PATH=/usr/bin:/bin "$check/venv/bin/pip" install -q --no-deps "$wheel"
  echo "installed into a fresh venv without Rust in $(echo "$(date +%s.%N) - $started" | bc) s"
  if [[ -n $trainer ]]; then
    # The package's tests (against `trainer tag`); the Ray recipe's need Ray, not the wheel.
    env -i HOME="$HOME" PATH=/usr/bin:/bin TRAINER="$trainer" \
      "$check/venv/bin/python" -m pytest -q -p no:cacheprovider python/tests/test_tagger.py
  else
    env -i HOME="$HOME" PATH=/usr/bin:/bin "$check/venv/bin/python" -c \
      "import modnet_tagger as m; print(m.__version__, m.BACKENDS, m.Tagger())"
  fi
  rm -rf "$check"
done
