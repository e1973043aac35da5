#!/usr/bin/env bash
# Issue 39's GPU measurements, step 2: everything in one call on a lent GPU (no network there),
# from the repository root with gpu-carry/ carried (scripts/gpu/prepare.sh). Writes every
# output under $OUT (the device tool brings it back) and prints one table at the end.
#
# Measured: `trainer bench` (training and forward clips/s) of the paper preset at batch 16 and 4,
# and of the built-in model's configuration at batch 16, through wgpu, for each convolution route
# (`--gpu-conv direct|unfolded|implicit-gemm`) with burn's autotune off and on; `trainer tag` of a fixture on
# wgpu against Flex (each binary); PyTorch's twin (model/benches/torch_modnet.py) on CUDA when
# torch is installed there. Each run has its own time limit so that one hang loses one row.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" bin
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for name in trainer trainer-autotune; do
  gunzip -c "gpu-carry/$name.gz" > "bin/$name" && chmod +x "bin/$name"
done
STEPS=${STEPS:-3}
# The device tool allows 600 s a call: rows past DEADLINE seconds are skipped (and say so),
# so that the summary and the files always come back.
DEADLINE=${DEADLINE:-480}
# SMOKE=1: every row on a tiny model, to check this script on a machine without a GPU (lavapipe).
SMOKE=${SMOKE:-0}
rows=()
bench() {  # binary, label, route (--gpu-conv), float type (--float), bench arguments…
  local bin=$1 label=$2 conv=$3 float=$4; shift 4
  local file="$OUT/bench-$bin-${label// /_}.md"
  if ((SECONDS > DEADLINE)); then rows+=("| $bin | $label | skipped (time) | | |"); return; fi
  if [[ $SMOKE == 1 ]]; then set -- --preset small --chunk-seconds 1 --batch-size 2; fi
  timeout 120 "bin/$bin" bench --backend wgpu --steps "$STEPS" --gpu-conv "$conv" --float "$float" "$@" > "$file" 2>&1
  local train forward passes
  train=$(grep -m1 '^| training, clips/s' "$file" | awk -F'|' '{print $3}')
  forward=$(grep -m1 '^| forward, clips/s' "$file" | awk -F'|' '{print $3}')
  passes=$(grep -m1 '^| convolution passes by implicit GEMM' "$file" | awk -F'|' '{print $3}')
  rows+=("| $bin | $label | ${train:-failed} | ${forward:-failed} | ${passes:-} |")
  echo "${rows[-1]}"
}
for bin in trainer trainer-autotune; do
  for conv in direct unfolded; do
    bench "$bin" "paper b16 $conv" "$conv" f32 --preset sincmodnet --batch-size 16
    bench "$bin" "built-in b16 $conv" "$conv" f32 --preset sincmodnet --widths 64x128 --chunk-seconds 3 --batch-size 16
  done
  # Whether the device launches the implicit GEMM (its passes column): through wgpu's WGSL
  # shaders cubecl has no cooperative matrices, so it should say 0 and match `direct`.
  bench "$bin" "paper b16 implicit-gemm" implicit-gemm f32 --preset sincmodnet --batch-size 16
  bench "$bin" "paper b4 direct" direct f32 --preset sincmodnet --batch-size 4
done
# Agreement with Flex on a real clip (a 15 s reference fixture, decoded the same way).
clip=tests/fixtures/reference/ufoai-music-music__David04-10.ogg
for bin in trainer trainer-autotune; do
  ((SECONDS > DEADLINE)) && break
  timeout 60 "bin/$bin" tag "$clip" --json --backend flex > "$OUT/tag-$bin-flex.json" 2>/dev/null
  for conv in direct unfolded implicit-gemm; do
    timeout 60 "bin/$bin" tag "$clip" --json --backend wgpu --gpu-conv "$conv" > "$OUT/tag-$bin-wgpu-$conv.json" 2>/dev/null
    python3 - "$OUT/tag-$bin-flex.json" "$OUT/tag-$bin-wgpu-$conv.json" <<'PY' | tee -a "$OUT/agreement.txt"
import json, sys
try:
    a, b = (json.load(open(f))[0]["probabilities"] for f in sys.argv[1:])
    print(f"{sys.argv[2]}: max |wgpu - flex| = {max(abs(x - y) for x, y in zip(a, b)):.2e}")
except Exception as e:
    print(f"{sys.argv[2]}: no comparison ({e})")
PY
  done
done
# PyTorch on the same GPU, when the machine has it.
if ((SECONDS > DEADLINE)); then
  echo "PyTorch skipped (time)" | tee "$OUT/torch.txt"
elif python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  for batch in 4 16; do
    timeout 60 python3 model/benches/torch_modnet.py paper 16 sinc cuda "$batch" > "$OUT/torch-paper-b$batch.txt" 2>&1
    echo "PyTorch paper batch $batch: $(tail -2 "$OUT/torch-paper-b$batch.txt" | tr '\n' ' ')"
  done
else
  echo "no PyTorch with CUDA on this machine" | tee "$OUT/torch.txt"
fi
{
  echo "| binary | configuration | training clips/s | forward clips/s | passes by implicit GEMM / direct |"
  echo "|---|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$OUT/summary.md"
