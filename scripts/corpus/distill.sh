#!/usr/bin/env bash
# The built-in model, end to end: corpus → teacher labels → student → weights/ (MODEL_CARD.md).
# Every step is resumable (re-run after an interruption); WORK defaults to corpus-work/ (ignored
# by git). Needs Debian's apt-get (packages are downloaded, not installed, but for fluidsynth),
# Python 3.11 and this repository's trainer. About 15 h of audio; on 2 CPU cores: labelling
# ~12 min, training about 40 min an epoch.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-corpus-work}"
EPOCHS="${EPOCHS:-3}"
VENV="$WORK/venv"

bash scripts/corpus/fetch.sh "$WORK"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/corpus/teacher-requirements.txt
  "$VENV/bin/pip" install -q --no-deps musicnn==0.1.0
fi
command -v fluidsynth > /dev/null || apt-get install -y -q fluidsynth
"$VENV/bin/python" scripts/corpus/render.py "$WORK"
for step in decode label tables; do
  "$VENV/bin/python" scripts/corpus/corpus.py "$WORK" "$step"
done

cargo build --release -p trainer
trainer=target/release/trainer
data=(--dataset folder --data-dir "$WORK" --labels "$WORK/labels.csv")
soft=(--positive-threshold 0.3 --min-positives 5)
"$trainer" prepare "${data[@]}"
resume=()
[[ -e "$WORK/runs/student/checkpoint.bin" ]] && resume=(--resume)
"$trainer" train "${data[@]}" "${soft[@]}" "${resume[@]}" --out "$WORK/runs/student" \
  --preset sincmodnet --widths 64x128 --chunk-seconds 3 --batch-size 16 --epochs "$EPOCHS" \
  --lr-patience 2 --stop-patience 4 --prior-bias \
  --augment-gain-db 6 --augment-shift 0.5 --augment-mix 0.2 --backend flex
# Agreement with the teacher on the test tracks: per 3 s chunk, and per track (16-chunk protocol).
"$trainer" eval "${data[@]}" "${soft[@]}" --weights "$WORK/runs/student/best.safetensors" \
  --split test --backend flex --json "$WORK/runs/student/test-chunks.json"
"$trainer" eval --dataset folder --data-dir "$WORK" --labels "$WORK/tracks.csv" "${soft[@]}" \
  --weights "$WORK/runs/student/best.safetensors" --split test --backend flex \
  --json "$WORK/runs/student/test-tracks.json"
"$trainer" export --weights "$WORK/runs/student/best.safetensors" \
  --out weights/modnet-mtat-distilled.safetensors
# What the weights were made from travels with them: the manifest and every package's licence.
mkdir -p weights/corpus
cp -r "$WORK/credits" "$WORK/CREDITS.md" weights/corpus/
gzip -c "$WORK/manifest.csv" > weights/corpus/manifest.csv.gz
