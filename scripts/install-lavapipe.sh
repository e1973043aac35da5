#!/usr/bin/env bash
# Installs Mesa's lavapipe (a Vulkan driver on the CPU) when no Vulkan driver is there, so the
# wgpu tests run on a machine without a GPU. Skipped when a driver is installed already.
set -euo pipefail
if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1 || ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  echo "== installing Mesa's lavapipe (mesa-vulkan-drivers, libvulkan1) for the wgpu tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq mesa-vulkan-drivers libvulkan1
fi
