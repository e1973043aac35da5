#!/usr/bin/env bash
# The built-in model, end to end: corpus → teacher labels → student → weights/ (MODEL_CARD.md).
# Every step is resumable (re-run after an interruption); WORK defaults to corpus-work/ (ignored
# by git). Needs Debian's apt-get (music packages are downloaded, not installed; fluidsynth and
# festival are installed), Python 3.11 with a C++ compiler (pysinsy builds from source) and this
# repository's trainer. 38 h of audio (30 h of music from 33 packages, 3.9 h of rendered
# scores, 4.5 h of synthetic singing). Measured on a fresh 2-core machine (a test build sharing
# the cores): download 4 min (4.7 GB), installs 3 min, rendering 14 min, decoding 9 min, singing
# 10 min, labelling with both teachers 50 min (46x real time); a track whose samples are those
# (SHA-256) in weights/corpus/teacher-outputs.npz (the shipped model's labels) is not labelled
# again, so an unchanged corpus needs no TensorFlow time. Training about 40 min an
# epoch on an idle machine (36 min of steps at 17 chunks/s, 2 of validation); then
# choose.sh scores the candidates (the best epoch, means of the last epochs: 2 min each).
# Training stops when the validation loss has not improved for STOP_PATIENCE epochs (or after
# EPOCHS); re-running the script resumes it from its checkpoint, and INIT_WEIGHTS (below) goes
# on from a weights file on a machine without the run folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-corpus-work}"
EPOCHS="${EPOCHS:-40}"
STOP_PATIENCE="${STOP_PATIENCE:-3}"
# A lower validation loss counts (for the schedule, the early stop and the best weights) only by
# more than MIN_DELTA: smaller steps are within the noise of the 4747 validation chunks.
MIN_DELTA="${MIN_DELTA:-5e-5}"
# The learning rate a new run starts at; a run that goes on from INIT_WEIGHTS may start where
# the earlier run's schedule had brought it.
LR="${LR:-1e-3}"
VENV="$WORK/venv"

bash scripts/corpus/fetch.sh "$WORK"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/corpus/teacher-requirements.txt
  "$VENV/bin/pip" install -q --no-deps musicnn==0.1.0
fi
# Sinsy (the female voice) builds from source; Festival's singing mode is the male voice.
"$VENV/bin/python" -c "import pysinsy" 2> /dev/null || "$VENV/bin/pip" install -q pysinsy==0.0.5
command -v fluidsynth > /dev/null || apt-get install -y -q fluidsynth
command -v text2wave > /dev/null ||
  apt-get install -y -q festival festvox-kallpc16k festlex-cmu festlex-poslex
"$VENV/bin/python" scripts/corpus/render.py "$WORK"
# Singing goes over decoded corpus tracks: decode first, sing, then decode the voices too.
"$VENV/bin/python" scripts/corpus/corpus.py "$WORK" decode
"$VENV/bin/python" scripts/corpus/sing.py "$WORK"
"$VENV/bin/python" scripts/corpus/corpus.py "$WORK" decode
# The teachers' outputs of the shipped model's corpus travel with it (weights/corpus/): a track
# whose samples are the same is not labelled again.
"$VENV/bin/python" scripts/corpus/corpus.py "$WORK" label --stored weights/corpus/teacher-outputs.npz
for step in tables pack; do
  "$VENV/bin/python" scripts/corpus/corpus.py "$WORK" "$step"
done

cargo build --release -p trainer
trainer=target/release/trainer
data=(--dataset folder --data-dir "$WORK" --labels "$WORK/labels.csv")
soft=(--positive-threshold 0.3 --min-positives 5)
"$trainer" prepare "${data[@]}"
# A new run starts with its output biases at the labels' prior, or, when INIT_WEIGHTS names a
# weights file (say the shipped weights/modnet-mtat-distilled.safetensors on a machine that lacks
# the run folder), from those weights; a run folder with a checkpoint is resumed.
start=(--prior-bias)
[[ -n ${INIT_WEIGHTS:-} ]] && start=(--init-weights "$INIT_WEIGHTS")
[[ -e "$WORK/runs/student/checkpoint.bin" ]] && start=(--resume)
# The LR halves after one epoch without a new best (not the paper's two): an epoch is ~40 min of
# two cores, and from epoch 2 on the validation loss moved by about 0.001 an epoch at 1e-3.
"$trainer" train "${data[@]}" "${soft[@]}" "${start[@]}" --out "$WORK/runs/student" \
  --preset sincmodnet --widths 64x128 --chunk-seconds 3 --batch-size 16 --epochs "$EPOCHS" \
  --lr "$LR" --lr-patience 1 --stop-patience "$STOP_PATIENCE" --min-delta "$MIN_DELTA" \
  --rare-tag-power 0.5 --augment-gain-db 6 --augment-shift 0.5 --augment-mix 0.2 --backend flex \
  --keep-epochs 4
# The best epoch or a mean of the last ones (checkpoint averaging), by validation loss.
run="$WORK/runs/student"
chosen=$(WORK="$WORK" bash scripts/corpus/choose.sh)
echo "shipping $chosen"
# Agreement with the teacher on the test tracks: per 3 s chunk, and per track (16-chunk protocol).
"$trainer" eval "${data[@]}" "${soft[@]}" --weights "$chosen" \
  --split test --backend flex --json "$run/test-chunks.json"
"$trainer" eval --dataset folder --data-dir "$WORK" --labels "$WORK/tracks.csv" "${soft[@]}" \
  --weights "$chosen" --split test --backend flex --json "$run/test-tracks.json"
"$trainer" export --weights "$chosen" --out weights/modnet-mtat-distilled.safetensors
# What the weights were made from travels with them: the manifest and every package's licence.
mkdir -p weights/corpus
cp -r "$WORK/credits" "$WORK/CREDITS.md" weights/corpus/
gzip -c "$WORK/manifest.csv" > weights/corpus/manifest.csv.gz
cp "$WORK/teacher-outputs.npz" weights/corpus/
