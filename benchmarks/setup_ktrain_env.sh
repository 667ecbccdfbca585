#!/usr/bin/env bash
# Create (or verify) benchmarks/.venv-ktrain: an isolated environment for
# ktrain 0.41.4, whose dependency pins (numpy<2, TF 2.20, transformers 4.54.1,
# legacy Keras) clash with the project's own environment.
#
# Idempotent: when the venv exists, was built from the current lock file and
# passes the import smoke test, it exits 0 without touching anything.
#
# Usage: bash benchmarks/setup_ktrain_env.sh
#   env PYTHON=/path/to/python3.11  interpreter to build the venv from
#   env FORCE=1                     rebuild from scratch
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-ktrain"
LOCK="$HERE/requirements-ktrain.lock"
STAMP="$VENV/.lock.sha256"

die() { echo "setup_ktrain_env: ERROR: $*" >&2; exit 1; }
log() { echo "setup_ktrain_env: $*"; }

find_python() {
    # Prints a CPython 3.11 interpreter (ktrain imports distutils: <3.12;
    # the lock was resolved for cp311).
    local cand
    for cand in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

smoke_test() {
    # Imports what the benchmark uses and checks the key versions.
    TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" - <<'PY'
import sys
import ktrain
from ktrain import text  # noqa: F401
import numpy, tensorflow as tf, tf_keras, transformers
want = {"ktrain": "0.41.4", "tensorflow": "2.20.0", "transformers": "4.54.1"}
got = {"ktrain": ktrain.__version__, "tensorflow": tf.__version__,
       "transformers": transformers.__version__}
bad = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
if bad or not numpy.__version__.startswith("1."):
    sys.exit(f"unexpected versions (want, got): {bad} numpy={numpy.__version__}")
if not tf.keras.Model.__module__.startswith("tf_keras"):
    sys.exit("tf.keras is not legacy Keras 2 (tf_keras); is TF_USE_LEGACY_KERAS=1 honoured?")
print("ktrain", ktrain.__version__, "tf", tf.__version__, "tf_keras", tf_keras.__version__,
      "transformers", transformers.__version__, "numpy", numpy.__version__)
PY
}

main() {
    [ -f "$LOCK" ] || die "lock file not found: $LOCK"
    local want_sha
    want_sha="$(sha256sum "$LOCK" | cut -d' ' -f1)"

    if [ "${FORCE:-0}" = "1" ] && [ -d "$VENV" ]; then
        log "FORCE=1: removing $VENV"
        rm -rf "$VENV"
    fi

    if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_sha" ]; then
        if smoke_test; then
            log "up to date: $VENV"
            return 0
        fi
        log "existing venv fails the smoke test; rebuilding"
        rm -rf "$VENV"
    fi

    local py
    py="$(find_python)" || die "need CPython 3.11 (set PYTHON=/path/to/python3.11)"
    log "using $py ($("$py" --version 2>&1))"

    if [ ! -x "$VENV/bin/python" ]; then
        "$py" -m venv "$VENV" || die "could not create venv at $VENV"
    fi

    log "installing pinned packages (no dependency resolution) from $(basename "$LOCK")"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-deps -r "$LOCK" \
        || die "pip install failed (network to PyPI? see output above)"

    smoke_test || die "import smoke test failed in $VENV"
    echo "$want_sha" > "$STAMP"
    log "ready: $VENV"
}

main "$@"
