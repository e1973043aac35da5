#!/usr/bin/env bash
# Runs every test of the workspace, installing first what the tests need (each install is guarded,
# so a machine that has it already skips it). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "error: Rust is not installed (https://rustup.rs), cargo is needed" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "== installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

echo "== formatting (cargo fmt --check)"
cargo fmt --all -- --check

echo "== the model crate builds no_std for the browser (wasm32, no default features)"
cargo build -p modnet --no-default-features --target wasm32-unknown-unknown

echo "== tests (Flex CPU backend; dependencies optimised)"
cargo test --workspace
