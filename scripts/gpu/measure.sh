#!/usr/bin/env bash
# Issue 39's GPU measurements, step 2: everything in one call on a lent GPU (no network there),
# from the repository root with gpu-carry/ carried (scripts/gpu/prepare.sh). Writes every
# output under $OUT (the device tool brings it back) and prints one table at the end.
#
# Measured, most important first (rows past the deadline are skipped and say so):
# - `trainer bench` (training and forward clips/s) through CUDA of the paper preset at batch 16
#   by cuDNN and by implicit GEMM, then PyTorch's twin, then cuDNN with its heuristics' algorithms,
#   the built-in model's configuration, batch 4, the direct and unfolded routes, `auto`'s choice
#   and burn's autotune (the second binary); each route per pass (`per-pass`: the fastest for
#   each convolution and pass, its table of choices in the row's file);
# - PyTorch's twin (model/benches/torch_modnet.py) on the same GPU, batch 16 and 4, when torch
#   with CUDA is installed there;
# - `bench --layers` on CUDA: each convolution of the paper preset, each pass, each route (ms);
# - `trainer tag` of a fixture on CUDA (each route) and wgpu against Flex;
# - one epoch of `train` (a small synthetic job) on Flex and on CUDA by each fast route: the
#   losses side by side; the default synthetic job and the built-in model's configuration on
#   synthetic clips, on CUDA (clips/s, ROC-AUC);
# - the same `bench` rows through wgpu (unfolded and per-pass early, then direct and autotune).
# Each run has its own time limit so that one hang loses one row.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" bin
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for name in trainer trainer-autotune; do
  gunzip -c "gpu-carry/$name.gz" > "bin/$name" && chmod +x "bin/$name"
done
# cubecl-cuda loads the driver's libcuda and NVRTC at run time: NVRTC may come only with
# PyTorch's wheels (site-packages/nvidia/*/lib), which are not on the loader's path.
for dir in $(python3 -c "import site, glob; print(' '.join(sorted({p.rsplit('/', 1)[0] for s in site.getsitepackages() for p in glob.glob(s + '/nvidia/*/lib/lib*.so*')})))" 2>/dev/null) /usr/local/cuda/lib64; do
  [[ -d $dir ]] && LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
done
# cudarc finds NVRTC as libnvrtc.so or libnvrtc.so.12 … .so.9 — not .so.13, which is all a
# CUDA 13 wheel of PyTorch brings — and the driver runs only code of its own CUDA version or
# older: where no unversioned libnvrtc.so is on the path, one is linked to the newest
# libnvrtc.so.N with N at most the driver's CUDA major version.
driver_cuda=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9]*' | grep -o '[0-9]*$')
if [[ -n $driver_cuda ]]; then
  mkdir -p bin/libs
  found=() newest=""
  for dir in ${LD_LIBRARY_PATH//:/ } /usr/lib/x86_64-linux-gnu; do
    [[ -e $dir/libnvrtc.so ]] && found+=("$dir/libnvrtc.so")
    for lib in "$dir"/libnvrtc.so.[0-9]*; do
      [[ $lib =~ libnvrtc\.so\.([0-9]+)$ ]] || continue
      ((BASH_REMATCH[1] <= driver_cuda)) || continue
      [[ -z $newest || ${BASH_REMATCH[1]} -gt ${newest##*.} ]] && newest=$lib
    done
  done
  if ((${#found[@]} == 0)) && [[ -n $newest ]]; then
    ln -sf "$newest" bin/libs/libnvrtc.so
    LD_LIBRARY_PATH="$PWD/bin/libs:${LD_LIBRARY_PATH:-}"
  fi
  echo "driver's CUDA: $driver_cuda; NVRTC: ${found[*]:-${newest:-none found}}" | tee -a "$OUT/gpu.txt"
fi
export LD_LIBRARY_PATH
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" > "$OUT/libraries.txt"
STEPS=${STEPS:-3}
# The device tool allows 600 s a call: rows past DEADLINE seconds are skipped (and say so),
# so that the summary and the files always come back.
DEADLINE=${DEADLINE:-480}
# SMOKE=1: every row on a tiny model, to check this script on a machine without a GPU (lavapipe;
# the CUDA rows then fail with the trainer's sentence, which is what they should do there).
SMOKE=${SMOKE:-0}
rows=()
bench() {  # binary, backend, label, route (--gpu-conv), bench arguments…
  local bin=$1 backend=$2 label=$3 conv=$4; shift 4
  local file="$OUT/bench-$bin-$backend-${label// /_}.md"
  if ((SECONDS > DEADLINE)); then rows+=("| $bin | $backend | $label | skipped (time) | | |"); return; fi
  if [[ $SMOKE == 1 ]]; then set -- --preset small --chunk-seconds 1 --batch-size 2; fi
  timeout 120 "bin/$bin" bench --backend "$backend" --steps "$STEPS" --gpu-conv "$conv" "$@" > "$file" 2>&1
  local status=$? failed=failed train forward passes
  ((status == 124)) && failed="timed out (120 s)"
  train=$(grep -m1 '^| training, clips/s' "$file" | awk -F'|' '{print $3}')
  forward=$(grep -m1 '^| forward, clips/s' "$file" | awk -F'|' '{print $3}')
  passes=$(grep -m1 '^| convolution passes by' "$file" | awk -F'|' '{print $3}')
  chose=$(grep -m1 '^gpu-conv auto:' "$file")
  [[ -n $chose ]] && echo "$label: $chose" >> "$OUT/auto.txt"
  rows+=("| $bin | $backend | $label | ${train:-$failed} | ${forward:-$failed} | ${passes:-} |")
  echo "${rows[-1]}"
}
paper=(--preset sincmodnet --batch-size 16)
builtin=(--preset sincmodnet --widths 64x128 --chunk-seconds 3 --batch-size 16)
# PyTorch on the same GPU, when the machine has it (early: the ratios need it).
torch_rows() {
  if ((SECONDS > DEADLINE)); then
    echo "PyTorch skipped (time)" | tee "$OUT/torch.txt"
  elif python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    for batch in 16 4; do
      timeout 60 python3 model/benches/torch_modnet.py paper 16 sinc cuda "$batch" > "$OUT/torch-paper-b$batch.txt" 2>&1
      echo "PyTorch paper batch $batch: $(tail -2 "$OUT/torch-paper-b$batch.txt" | tr '\n' ' ')" | tee -a "$OUT/torch.txt"
    done
  else
    echo "no PyTorch with CUDA on this machine" | tee "$OUT/torch.txt"
  fi
}
# Most important first: a row past the deadline is skipped.
bench trainer cuda "paper b16 cudnn" cudnn "${paper[@]}"
bench trainer cuda "paper b16 implicit-gemm" implicit-gemm "${paper[@]}"
torch_rows
# wgpu's best hope (the unfolded form, every layer since it is unfolded in tiles): early, so
# that issue 39's wgpu figure is never skipped.
bench trainer wgpu "paper b16 unfolded" unfolded "${paper[@]}"
# Each pass of each convolution by the route fastest for it (its table of choices is in the
# row's file), through wgpu and CUDA.
bench trainer wgpu "paper b16 per-pass" per-pass "${paper[@]}"
bench trainer cuda "paper b16 per-pass" per-pass "${paper[@]}"
MODNET_CUDNN_ALGORITHMS=heuristic bench trainer cuda "paper b16 cudnn heuristic" cudnn "${paper[@]}"
bench trainer cuda "built-in b16 cudnn" cudnn "${builtin[@]}"
bench trainer cuda "paper b4 cudnn" cudnn --preset sincmodnet --batch-size 4
bench trainer cuda "paper b16 direct" direct "${paper[@]}"
bench trainer cuda "paper b16 unfolded" unfolded "${paper[@]}"
bench trainer cuda "built-in b16 implicit-gemm" implicit-gemm "${builtin[@]}"
bench trainer cuda "paper b16 auto" auto "${paper[@]}"
bench trainer-autotune cuda "paper b16 autotune" direct "${paper[@]}"
# Each distinct convolution of the paper preset, each pass, by each route CUDA takes (ms).
layer_args=("${paper[@]}"); [[ $SMOKE == 1 ]] && layer_args=(--preset small --chunk-seconds 1 --batch-size 2)
if ((SECONDS <= DEADLINE)); then
  timeout 150 bin/trainer bench --backend cuda --steps 1 --gpu-conv direct --layers "${layer_args[@]}" > "$OUT/layers-cuda.md" 2>&1
  grep '^| [0-9]' "$OUT/layers-cuda.md" | head -60
fi
# Agreement with Flex on a real clip (a 15 s reference fixture, decoded the same way).
clip=tests/fixtures/reference/ufoai-music-music__David04-10.ogg
agree() {  # backend, route
  ((SECONDS > DEADLINE)) && return
  local file="$OUT/tag-$1-$2.json"
  timeout 60 bin/trainer tag "$clip" --json --backend "$1" --gpu-conv "$2" > "$file" 2>"$file.err"
  python3 - "$OUT/tag-flex.json" "$file" <<'PY' | tee -a "$OUT/agreement.txt"
import json, sys
try:
    a, b = (json.load(open(f))[0]["probabilities"] for f in sys.argv[1:])
    print(f"{sys.argv[2]}: max |gpu - flex| = {max(abs(x - y) for x, y in zip(a, b)):.2e}")
except Exception as e:
    print(f"{sys.argv[2]}: no comparison ({e})")
PY
}
timeout 60 bin/trainer tag "$clip" --json --backend flex > "$OUT/tag-flex.json" 2>/dev/null
for conv in cudnn implicit-gemm direct; do agree cuda "$conv"; done
agree wgpu direct
# One epoch of a small synthetic job on Flex and on CUDA: the epoch's losses side by side.
learn() {  # backend, route
  ((SECONDS > DEADLINE)) && return
  local run="$OUT/train-$1-$2"
  timeout 90 bin/trainer train --out "$run" --epochs 1 --synth-clips 64 16 16 --backend "$1" \
    --gpu-conv "$2" > "$run.log" 2>&1
  echo "$1 $2: $(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))[0]; print('train loss', r.get('train_loss'), 'valid loss', r.get('valid_loss'))" "$run/log.json" 2>&1)" | tee -a "$OUT/train-agreement.txt"
}
learn flex direct
for conv in cudnn implicit-gemm; do learn cuda "$conv"; done
# The default job (README's first command) on CUDA, `--gpu-conv auto`.
if ((SECONDS <= DEADLINE)); then
  timeout 150 bin/trainer train --out "$OUT/default-cuda" --backend cuda > "$OUT/default-cuda.log" 2>&1
  tail -5 "$OUT/default-cuda.log" | tee "$OUT/default-cuda.txt"
fi
# The built-in model's configuration trained on synthetic clips on CUDA (clips/s, ROC-AUC).
if ((SECONDS <= DEADLINE)); then
  timeout 120 bin/trainer train --out "$OUT/builtin-cuda" --backend cuda --preset sincmodnet \
    --widths 64x128 --chunk-seconds 3 --synth-seconds 4 --batch-size 16 --epochs 3 \
    > "$OUT/builtin-cuda.log" 2>&1
  tail -5 "$OUT/builtin-cuda.log" | tee "$OUT/builtin-cuda.txt"
fi
# The same through wgpu (Vulkan): its WGSL shaders reach no matrix units.
bench trainer wgpu "paper b16 direct" direct "${paper[@]}"
bench trainer wgpu "built-in b16 direct" direct "${builtin[@]}"
bench trainer-autotune wgpu "paper b16 autotune" direct "${paper[@]}"
# Each convolution through wgpu, each pass and route, with its distance to Flex.
if ((SECONDS <= DEADLINE)); then
  timeout 100 bin/trainer bench --backend wgpu --steps 1 --gpu-conv direct --layers "${layer_args[@]}" > "$OUT/layers-wgpu.md" 2>&1
fi
{
  echo "| binary | backend | configuration | training clips/s | forward clips/s | passes by cuDNN / implicit GEMM / unfolded / direct |"
  echo "|---|---|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$OUT/summary.md"
