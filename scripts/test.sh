#!/usr/bin/env bash
# Runs every test of the project, installing first what the tests need (each install is guarded,
# so a machine that has it already skips it). Called by .ci/run.
#
#   Rust tests (model, trainer CLI, parity with tests/fixtures,     cargo test
#     wgpu against Flex on Mesa's lavapipe)
#   the distillation corpus script on a tiny fixture (no downloads), scripts/corpus/test_corpus.py
#     and choose.sh's rule for which weights ship
#   the Python package and its Ray example (a local Ray cluster)     pytest python/tests
#   the web page in headless Chromium, WebGPU and CPU               tests/browser (node --test)
# The CUDA build's compile check is scripts/check-cuda.sh (5 minutes; not part of this run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Each step's header says how long the run has taken so far: CI shows only the end of a run's
# output, so a slow run still says which step was slow.
step() { printf '== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

if ! command -v cargo >/dev/null; then
  echo "error: Rust is not installed (https://rustup.rs), cargo is needed" >&2
  exit 1
fi
step "installs (each skipped when already there): downloads in the background, compiled tools here"
# Downloads (Debian's packages, npm, PyPI) wait on the network rather than the CPU, so they run
# beside the compiled installs and the first builds, each job with its own log. apt takes one
# install at a time: lavapipe and chromium share a job.
mkdir -p target/install-logs
(bash scripts/install-lavapipe.sh && bash scripts/install-web-tools.sh browser) \
  > target/install-logs/system.log 2>&1 &
system_installs=$!
python_venvs() {
  local venv=target/corpus-test-venv
  if [[ ! -x $venv/bin/python ]] || ! $venv/bin/python -c "import numpy, soundfile, soxr" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "numpy==1.26.4" "soundfile==0.14.0" "soxr==1.1.0"
  fi
  venv=target/python-venv
  if [[ ! -x $venv/bin/python ]] || ! $venv/bin/python -c "import maturin, pytest, ray, pyarrow" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r python/requirements-test.txt
  fi
}
python_venvs > target/install-logs/python.log 2>&1 &
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
bash scripts/install-web-tools.sh rust
export PATH="$root/tests/browser/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# One build from a clean clone: incremental state would only cost disk (gigabytes; a CI run
# whose disk filled up died in the linker with a bus error).
export CARGO_INCREMENTAL=0

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "the model crate compiles no_std for the browser (wasm32, no default features)"
cargo check -p modnet --no-default-features --target wasm32-unknown-unknown

step "the corpus script (numpy, soundfile, soxr in target/corpus-test-venv; no TensorFlow)"
await $python_installs target/install-logs/python.log
target/corpus-test-venv/bin/python scripts/corpus/test_corpus.py

step "Rust tests (Flex on the CPU, and wgpu against Flex; dependencies optimised)"
await $system_installs target/install-logs/system.log
# The wgpu tests run on lavapipe (a Vulkan driver on the CPU, installed in the background above)
# unless VK_DRIVER_FILES names another driver.
lavapipe=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [[ -z ${VK_DRIVER_FILES:-} && -f $lavapipe ]]; then
  export VK_DRIVER_FILES=$lavapipe
fi
cargo test --workspace --exclude modnet-web

step "the Python package (a maturin wheel in target/python-venv; pytest, with the Ray example)"
# The wheel is built in the dev profile and with the `wgpu` feature: then its dependencies are
# exactly the Rust tests' (already built and optimised); only the package's own crates are new.
# `pip install ./python` builds the release, for the CPU only. The tests run the `trainer` that
# the Rust tests built (a `cargo build -p trainer` would resolve features anew).
venv=target/python-venv
[[ -x target/debug/trainer ]] || { echo "error: cargo test built no target/debug/trainer" >&2; exit 1; }
rm -rf target/wheels
"$venv/bin/maturin" build --profile dev --features wgpu -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install -q --force-reinstall --no-deps target/wheels/modnet_tagger-*.whl
TRAINER="$root/target/debug/trainer" "$venv/bin/python" -m pytest -q python/tests

step "the CPU benchmark builds (cargo bench -p modnet runs it: speed is printed, not asserted)"
# The tests' package selection: `-p modnet` alone would unify burn's features without wgpu and
# compile burn again.
cargo test --workspace --exclude modnet-web --bench speed --no-run

step "the web page (trunk build --release: page, CPU engine, WebGPU engine)"
# Offline builds need every crate downloaded first: `cargo test` never builds the WebGPU
# engine's feature, so a fresh machine would lack its crates.
cargo fetch
# Built for the tests, not for shipping (`trunk build --release` on index.html ships): the CPU
# engine in the page's profile, so that the two share one compile of their wasm dependencies
# (burn, Leptos) and only the WebGPU engine, with its own features, compiles them again; no
# link-time optimisation, and no wasm-opt (9 minutes on the unoptimised programs; the shipped
# build runs it). All three at opt-level 3, the CPU engine's shipped level: at the page's "z"
# LLVM does not vectorise loops, and the CPU engine's figures (the 6-minute song, the live
# window) came out twice the shipped engine's. The browser test labels the sizes it prints.
sed -e 's/data-cargo-profile-release="wasm-engine"/data-cargo-profile-release="wasm-release"/' \
  -e 's/data-wasm-opt="[^"]*"/data-wasm-opt="0"/' \
  index.html > index-test.html
CARGO_PROFILE_WASM_RELEASE_LTO=false CARGO_PROFILE_WASM_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL=3 trunk build index-test.html --release --offline

step "the page in headless Chromium (WebGPU on SwiftShader, then the CPU fallback)"
MODNET_PAGE_TEST_BUILD=1 TRAINER="$root/target/debug/trainer" node --test tests/browser/page.test.mjs
step "all tests passed"
