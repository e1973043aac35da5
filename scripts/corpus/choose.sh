#!/usr/bin/env bash
# Which weights of the distillation run ship: its best epoch, or the mean of its last 2, 3 or 4
# kept epochs (`train --keep-epochs 4`, `trainer average`: checkpoint averaging), or the weights
# that ship now (a run that goes on never replaces them with worse ones), whichever has the
# lowest validation loss; the reserved packages never choose. Prints the chosen file's path,
# and each candidate's validation loss on stderr. It can run between epochs of a run that goes
# on: a candidate already scored, and not changed since, is not scored again.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-corpus-work}"
trainer=target/release/trainer
run="$WORK/runs/student"
[[ -e "$run/best.safetensors" ]] || { echo "error: no run in $run yet" >&2; exit 1; }

valid() { # the validation report of a weights file, unless one newer than the file exists
  local report="${1%.safetensors}.valid.json"
  [[ "$report" -nt "$1" ]] && return
  "$trainer" eval --dataset folder --data-dir "$WORK" --labels "$WORK/labels.csv" \
    --positive-threshold 0.3 --min-positives 5 --split valid --backend flex \
    --weights "$1" --json "$report" > /dev/null
}
valid "$run/best.safetensors"
shipped=weights/modnet-mtat-distilled.safetensors
if [[ -e $shipped ]]; then
  cmp -s "$shipped" "$run/shipped.safetensors" || cp "$shipped" "$run/shipped.safetensors"
  valid "$run/shipped.safetensors"
fi
mapfile -t kept < <(find "$run/epochs" -name 'epoch-*.safetensors' 2> /dev/null | sort | tail -n 4)
for ((k = 2; k <= 4; k++)); do
  mean="$run/mean-of-last-$k.safetensors"
  if ((k > ${#kept[@]})); then
    rm -f "$mean" "${mean%.safetensors}.valid.json"
    continue
  fi
  inputs=("${kept[@]: -k}")
  stale=0
  for f in "${inputs[@]}"; do [[ "$f" -nt "$mean" ]] && stale=1; done
  ((stale)) && "$trainer" average --weights "${inputs[@]}" --out "$mean" 2> /dev/null
  valid "$mean"
done
python3 - "$run" << 'PY'
import json, pathlib, sys
reports = sorted(pathlib.Path(sys.argv[1]).glob("*.valid.json"))
loss = {r: json.load(open(r))["evaluation"]["loss"] for r in reports}
for r in reports:
    print(f"{r.name[:-len('.valid.json')]}: validation loss {loss[r]:.5f}", file=sys.stderr)
print(str(min(loss, key=loss.get))[: -len(".valid.json")] + ".safetensors")
PY
