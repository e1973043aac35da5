#!/usr/bin/env bash
# Which weights of the distillation run ship: its best epoch, or the mean of its last 2, 3 or 4
# kept epochs (`train --keep-epochs 4`, `trainer average`: checkpoint averaging), or the weights
# that ship now (a run that goes on never replaces them with worse ones), whichever has the
# lowest validation loss; the reserved packages never choose. New weights replace the shipped
# ones only when their loss is lower by at least MIN_STEP (5e-5): a smaller step is within the
# noise of 4747 validation chunks, and each ship adds a weights file to the repository's history.
# Prints the chosen file's path, and each candidate's validation loss on stderr. It can run
# between epochs of a run that goes on: a candidate already scored, and not changed since, is not
# scored again.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-corpus-work}"
trainer=target/release/trainer
run="$WORK/runs/student"
MIN_STEP="${MIN_STEP:-5e-5}"
[[ -e "$run/best.safetensors" ]] || { echo "error: no run in $run yet" >&2; exit 1; }

valid() { # the validation report of a weights file, unless one newer than the file exists
  local report="${1%.safetensors}.valid.json"
  [[ "$report" -nt "$1" ]] && return
  "$trainer" eval --dataset folder --data-dir "$WORK" --labels "$WORK/labels.csv" \
    --positive-threshold 0.3 --min-positives 5 --split valid --backend flex \
    --weights "$1" --json "$report" > /dev/null
}
candidates=("$run/best.safetensors")
shipped=weights/modnet-mtat-distilled.safetensors
if [[ -e $shipped ]]; then
  cmp -s "$shipped" "$run/shipped.safetensors" || cp "$shipped" "$run/shipped.safetensors"
  candidates+=("$run/shipped.safetensors")
fi
mapfile -t kept < <(find "$run/epochs" -name 'epoch-*.safetensors' 2> /dev/null | sort | tail -n 4)
for ((k = 2; k <= ${#kept[@]}; k++)); do
  mean="$run/mean-of-last-$k.safetensors"
  inputs=("${kept[@]: -k}")
  stale=0
  for f in "${inputs[@]}"; do [[ "$f" -nt "$mean" ]] && stale=1; done
  ((stale)) && "$trainer" average --weights "${inputs[@]}" --out "$mean"
  candidates+=("$mean")
done
for c in "${candidates[@]}"; do valid "$c"; done
# Only this call's candidates compete (not any other report left in the run folder).
python3 - "$MIN_STEP" "${candidates[@]}" << 'PY'
import json, sys
step = float(sys.argv[1])
loss = {w: json.load(open(w[: -len(".safetensors")] + ".valid.json"))["evaluation"]["loss"]
        for w in sys.argv[2:]}
name = lambda w: w.rsplit("/", 1)[-1][: -len(".safetensors")]
for w, l in loss.items():
    print(f"{name(w)}: validation loss {l:.6f}", file=sys.stderr)
best = min(loss, key=loss.get)
shipped = [w for w in loss if name(w) == "shipped"]
if shipped and best != shipped[0] and loss[best] > loss[shipped[0]] - step:
    gain = loss[shipped[0]] - loss[best]
    # A run that never beat its starting weights ties with them (its best is those weights).
    why = f"is lower by {gain:.1e} only, under MIN_STEP {step:g}" if gain > 0 else "ties with them"
    print(f"{name(best)} {why}: the shipped weights stay", file=sys.stderr)
    best = shipped[0]
print(best)
PY
