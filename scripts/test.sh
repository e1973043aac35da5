#!/usr/bin/env bash
# Runs every test of the project, installing first what the tests need (each install is guarded,
# so a machine that has it already skips it). Called by .ci/run.
#
#   Rust tests (model, trainer CLI, parity with tests/fixtures,     cargo test
#     wgpu against Flex on Mesa's lavapipe)
#   the distillation corpus scripts on a tiny fixture (no downloads)   pytest scripts/corpus
#     and choose.sh's rule for which weights ship
#   the Python package and its Ray example (a local Ray cluster)     pytest python/tests
#   the web page in headless Chromium, WebGPU and CPU               tests/browser (node --test)
#   the CUDA build compiles, and the cuDNN module's tests             scripts/check-cuda.sh
#
# What outlives the clone, in MODNET_CACHE (default ~/.cache/modnet-rs): sccache and its
# compiler cache, the build folder (cargo's target, CARGO_TARGET_DIR) and the Python venvs. A
# fresh clone on a machine where this ran before compiles only the project's own crates. Delete
# the folder to start cold; a build folder over 60 GB is deleted by the run itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${MODNET_CACHE:-$HOME/.cache/modnet-rs}

# Each step's header says how long the run has taken so far: CI shows only the end of a run's
# output, so a slow run still says which step was slow.
step() { printf '== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

if ! command -v cargo >/dev/null; then
  echo "error: Rust is not installed (https://rustup.rs), cargo is needed" >&2
  exit 1
fi
step "installs (each skipped when already there): downloads and compiled tools in the background"
bash scripts/install-sccache.sh "$cache/tools"
# sccache caches only non-incremental builds; incremental state would also cost disk
# (gigabytes; a CI run whose disk filled up died in the linker with a bus error).
export CARGO_INCREMENTAL=0
export RUSTC_WRAPPER=$cache/tools/bin/sccache SCCACHE_DIR=${SCCACHE_DIR:-$cache/sccache}
export SCCACHE_CACHE_SIZE=${SCCACHE_CACHE_SIZE:-40G}
"$RUSTC_WRAPPER" --zero-stats >/dev/null
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
if [[ -d $CARGO_TARGET_DIR ]] && (( $(du -s --block-size=1G "$CARGO_TARGET_DIR" | cut -f1) > 60 )); then
  echo "the build folder $CARGO_TARGET_DIR is over 60 GB: starting it anew (sccache refills it)"
  rm -rf "$CARGO_TARGET_DIR"
fi
# Downloads (Debian's packages, npm, PyPI) wait on the network rather than the CPU, so they run
# beside the compiled installs and the first builds, each job with its own log. apt takes one
# install at a time: lavapipe and chromium share a job.
mkdir -p target/install-logs
(bash scripts/install-lavapipe.sh && bash scripts/install-web-tools.sh browser) \
  > target/install-logs/system.log 2>&1 &
system_installs=$!
# Each venv is named by a hash of what it holds, so that a changed pin gets a new one.
# The corpus scripts' pins (scripts/corpus/test-requirements.txt).
corpus_venv=$cache/venvs/corpus-test-$(sha256sum scripts/corpus/test-requirements.txt | cut -c1-12)
venv=$cache/venvs/python-$(sha256sum python/requirements-test.txt | cut -c1-12)
python_venvs() {
  local venv=$1
  if [[ ! -x $venv/bin/python ]] || ! $venv/bin/python -c "import numpy, soundfile, soxr, sklearn, pytest" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r scripts/corpus/test-requirements.txt
  fi
  venv=$2
  if [[ ! -x $venv/bin/python ]] || ! $venv/bin/python -c "import maturin, pytest, ray, pyarrow, mypy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r python/requirements-test.txt
  fi
}
python_venvs "$corpus_venv" "$venv" > target/install-logs/python.log 2>&1 &
python_installs=$!
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
# Waits for a background install; if it failed, shows its log and stops.
await() {
  if ! wait "$1"; then
    cat "$2" >&2
    echo "error: an install failed (its log, $2, is above)" >&2
    exit 1
  fi
}
# trunk and wasm-bindgen-cli compile for minutes on a fresh machine; the page's build is the
# last step, so they compile beside the others (in cargo install's own build folder, sccache
# serving what it compiled before).
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
env -u CARGO_TARGET_DIR bash scripts/install-web-tools.sh rust > target/install-logs/rust-tools.log 2>&1 &
rust_installs=$!
export PATH="$root/tests/browser/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "the model crate compiles no_std for the browser (wasm32, no default features), in the background"
# Its own build folder: cargo locks one folder per build, and this check shares nothing with
# the others, so it fills the cores where the tests' build waits on one crate.
CARGO_TARGET_DIR=$cache/target-no-std cargo check -p modnet --no-default-features \
  --target wasm32-unknown-unknown > target/install-logs/no-std.log 2>&1 &
no_std_check=$!

step "the CUDA build compiles (and the cuDNN module's tests), in the background"
# Its own build folder too (burn with CUDA shares no artifacts with the tests' build), run from a
# copy of the tree at a fixed place so that a new clone does not compile burn again (see the
# script); needs no GPU and no CUDA toolkit (patches/cubecl-cuda).
MODNET_CUDA_TREE=$cache/cuda-tree CARGO_TARGET_DIR=$cache/target-cuda bash scripts/check-cuda.sh > target/install-logs/cuda.log 2>&1 &
cuda_check=$!

step "the Rust tests' build (the longest step: it starts before any install is awaited)"
# --timings: which crates and links the build spent its time on, in $CARGO_TARGET_DIR/cargo-timings.
cargo test --workspace --exclude modnet-web --no-run --timings

step "the corpus scripts (pytest in $corpus_venv; no TensorFlow)"
await $python_installs target/install-logs/python.log
"$corpus_venv/bin/python" -m pytest -q -p no:cacheprovider scripts/corpus

step "Rust tests (Flex on the CPU, and wgpu against Flex; dependencies optimised)"
await $system_installs target/install-logs/system.log
# The wgpu tests run on lavapipe (a Vulkan driver on the CPU, installed in the background above)
# unless VK_DRIVER_FILES names another driver.
lavapipe=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [[ -z ${VK_DRIVER_FILES:-} && -f $lavapipe ]]; then
  export VK_DRIVER_FILES=$lavapipe
fi
cargo test --workspace --exclude modnet-web
wait $no_std_check || { cat target/install-logs/no-std.log >&2; echo "error: the no_std check failed" >&2; exit 1; }
wait $cuda_check || { cat target/install-logs/cuda.log >&2; echo "error: the CUDA build's check failed" >&2; exit 1; }

step "the Python package (a maturin wheel in $venv; pytest, with the Ray example)"
# The wheel is built in the dev profile and with the `test-build` feature (`wgpu`, and the
# trainer in the graph only to resolve features as the tests did): then its dependencies are
# exactly the Rust tests' (already built and optimised); only the package's own crate is new.
# `pip install ./python` builds the release, for the CPU only. The tests run the `trainer` that
# the Rust tests built (a `cargo build -p trainer` would resolve features anew).
trainer=$CARGO_TARGET_DIR/debug/trainer
[[ -x $trainer ]] || { echo "error: cargo test built no $trainer" >&2; exit 1; }
rm -rf target/wheels
"$venv/bin/maturin" build --profile dev --features test-build -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install -q --force-reinstall --no-deps target/wheels/modnet_tagger-*.whl
TRAINER="$trainer" "$venv/bin/python" -m pytest -q python/tests
# The type stubs: against the module itself, and a typed program under mypy's strictest rules.
"$venv/bin/python" -m mypy.stubtest modnet_tagger --allowlist python/stubtest-allowlist.txt
"$venv/bin/python" -m mypy --strict --no-incremental python/examples/typed_usage.py

step "the CPU benchmark builds (cargo bench -p modnet runs it: speed is printed, not asserted)"
# The tests' package selection: `-p modnet` alone would unify burn's features without wgpu and
# compile burn again.
cargo test --workspace --exclude modnet-web --bench speed --no-run

step "the web page (trunk build --release: page, CPU engine, WebGPU engine)"
await $rust_installs target/install-logs/rust-tools.log
# Offline builds need every crate downloaded first: `cargo test` never builds the WebGPU
# engine's feature, so a fresh machine would lack its crates.
cargo fetch
# Built for the tests, not for shipping (`trunk build --release` on index.html ships): page and
# both engines in the `wasm-test` profile (Cargo.toml: the CPU engine's kernels at its shipped
# opt-level 3, what only orchestrates at 1, no link-time optimisation), so that the page and the
# CPU engine share one compile of their wasm dependencies and only the WebGPU engine, with its
# own features, compiles them again; and no wasm-opt (9 minutes on the unoptimised programs;
# the shipped build runs it). The browser test labels the sizes it prints.
sed -E -e 's/data-cargo-profile-release="[^"]*"/data-cargo-profile-release="wasm-test"/' \
  -e 's/data-wasm-opt="[^"]*"/data-wasm-opt="0"/' \
  index.html > index-test.html
trunk build index-test.html --release --offline

step "the page in headless Chromium (WebGPU on SwiftShader, then the CPU fallback)"
MODNET_PAGE_TEST_BUILD=1 TRAINER="$trainer" node --test tests/browser/page.test.mjs
step "all tests passed"
echo "sccache (the compiler cache in $SCCACHE_DIR) on this run:"
"$RUSTC_WRAPPER" --show-stats | grep -E "^(Compile requests|Cache hits|Cache misses|Non-cacheable calls|Cache hits rate)" || true
