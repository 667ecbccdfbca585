#!/usr/bin/env bash
# One-shot ktrain side: build/verify the venv, make the TF model copy, run the
# benchmark. Extra arguments go to ktrain_side.py (default: the full run).
#
#   bash benchmarks/run_ktrain_side.sh --train-rows 500 --epochs 1 \
#        --out benchmarks/results/ktrain_short.json
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$HERE/.venv-ktrain/bin/python"
MODEL_DIR="$HERE/.cache/minilm-tf"

step() {  # step NAME CMD...: run CMD, print its wall time, stop on failure
    local name="$1" start ms rc
    shift
    start=$(date +%s%N)
    "$@" && rc=0 || rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    printf 'run_ktrain_side: %s took %d.%03ds (rc=%d)\n' "$name" $((ms / 1000)) $((ms % 1000)) "$rc"
    [ "$rc" -eq 0 ] || { echo "run_ktrain_side: ERROR: $name failed" >&2; exit "$rc"; }
}

step setup bash "$HERE/setup_ktrain_env.sh"
step convert "$PY" "$HERE/convert_minilm_tf.py" --out "$MODEL_DIR"
if [ "$#" -eq 0 ]; then
    set -- --train-rows 0 --epochs 1 --out "$HERE/results/ktrain_full.json"
fi
step benchmark "$PY" "$HERE/ktrain_side.py" --model-dir "$MODEL_DIR" "$@"
