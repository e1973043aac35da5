#!/usr/bin/env bash
# Installs what building and testing the web page needs, each step skipped when already there.
#
#   bash scripts/install-web-tools.sh [all|rust|browser]
#
# rust: the wasm32-unknown-unknown target, trunk 0.21.14 and wasm-bindgen-cli of exactly the
# version in Cargo.lock (compiled here: minutes of CPU). browser: wasm-opt (npm binaryen 132;
# Debian's binaryen 108 builds a page that dies at start), playwright-core
# (tests/browser/node_modules) and Debian's chromium (downloads). all (the default): both.
set -euo pipefail
cd "$(dirname "$0")/.."

install_rust_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "== installing the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi

  # Both tools are built for build time: trunk's own release profile (fat LTO, one codegen
  # unit) took 14 minutes on 2 cores. trunk only orchestrates (cargo, wasm-bindgen and wasm-opt
  # do the work), so it is built unoptimised and without debug info; wasm-bindgen rewrites every
  # build's wasm, so it keeps opt-level 1 (no LTO, many codegen units).
  local fast=(env CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1)

  if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.14$'; then
    echo "== installing trunk 0.21.14 (a few minutes on 2 cores)"
    CARGO_PROFILE_DEV_DEBUG=false cargo install trunk --version 0.21.14 --locked --debug
  fi

  # wasm-bindgen-cli must equal the wasm-bindgen the page links (pinned with = in web/Cargo.toml).
  local bindgen
  bindgen=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
  if ! wasm-bindgen --version 2>/dev/null | grep -q "^wasm-bindgen $bindgen\$"; then
    echo "== installing wasm-bindgen-cli $bindgen (about 4 minutes)"
    "${fast[@]}" cargo install wasm-bindgen-cli --version "$bindgen"
  fi
}

install_browser_tools() {
  if ! command -v npm >/dev/null; then
    echo "error: Node.js and npm are needed (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
  if [ ! -x tests/browser/node_modules/.bin/wasm-opt ] || [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "== installing wasm-opt (npm binaryen) and playwright-core"
    (cd tests/browser && npm ci --no-audit --no-fund)
  fi

  if ! command -v chromium >/dev/null; then
    echo "== installing Debian's chromium"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq chromium chromium-driver
  fi
}

case ${1:-all} in
  all) install_rust_tools; install_browser_tools ;;
  rust) install_rust_tools ;;
  browser) install_browser_tools ;;
  *) echo "error: unknown part '$1' (all, rust or browser)" >&2; exit 2 ;;
esac
