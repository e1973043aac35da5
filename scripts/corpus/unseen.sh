#!/usr/bin/env bash
# The independent check of a student (default: the built-in model) on music the corpus never
# uses: hedgewars-data, drascula-music and performous, labelled by both teachers
# (unseen.py). Prints how far the second teacher agrees with the first (the ceiling), then
# the student's agreement with MTT_musicnn (the figures of earlier model cards) and with the
# teachers' mean, per 3 s chunk and per track. Resumable; WORK defaults to unseen-work/
# (ignored by git); the teachers' venv is the corpus' (run distill.sh first).
#
# Usage: bash scripts/corpus/unseen.sh [WEIGHTS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-unseen-work}"
VENV="${VENV:-corpus-work/venv}"
PACKAGES=(hedgewars-data drascula-music performous)
weights=("$@")
((${#weights[@]})) || weights=(weights/modnet-mtat-distilled.safetensors)
for w in "${weights[@]}"; do
  [[ -f $w ]] || { echo "unseen.sh: weights file $w does not exist" >&2; exit 2; }
done
[[ -x $VENV/bin/python ]] || { echo "unseen.sh: no teacher venv at $VENV (run scripts/corpus/distill.sh)" >&2; exit 2; }

mkdir -p "$WORK/debs" "$WORK/pkgs" "$WORK/credits"
for p in "${PACKAGES[@]}"; do
  if ! compgen -G "$WORK/debs/${p}_*.deb" > /dev/null; then
    (cd "$WORK/debs" && apt-get download "$p")
  fi
  if [[ ! -e "$WORK/pkgs/$p/.done" ]]; then
    rm -rf "$WORK/pkgs/$p"
    dpkg -x "$(ls "$WORK"/debs/"${p}"_*.deb | head -1)" "$WORK/pkgs/$p"
    touch "$WORK/pkgs/$p/.done"
  fi
  cp "$WORK/pkgs/$p/usr/share/doc/$p/copyright" "$WORK/credits/$p.copyright"
done
"$VENV/bin/python" scripts/corpus/unseen.py "$WORK" all

cargo build --release -q -p trainer
soft=(--positive-threshold 0.3 --min-positives 5 --split test --backend flex)
mkdir -p "$WORK/eval"
for w in "${weights[@]}"; do
  name=$(basename "$w" .safetensors)
  for teacher in MTT_musicnn mean; do
    suffix=$([[ $teacher == mean ]] && echo "" || echo "-$teacher")
    for level in chunks tracks; do
      labels=$([[ $level == chunks ]] && echo labels || echo tracks)
      echo "== $name against $teacher, $level"
      target/release/trainer eval --dataset folder --data-dir "$WORK" \
        --labels "$WORK/$labels$suffix.csv" --weights "$w" "${soft[@]}" \
        --json "$WORK/eval/$name-$teacher-$level.json"
    done
  done
done
