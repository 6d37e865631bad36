#!/usr/bin/env bash
# Regenerate the lock files that scripts/install.sh and scripts/label_studio.sh install from:
#
#   requirements.lock           the engine: pyproject.toml [project.dependencies] + the test extra
#   scripts/label-studio.lock   Label Studio's own venv: label-studio==LABEL_STUDIO_VERSION
#
#   scripts/lock.sh [--upgrade] [engine|label-studio]
#
# Exact versions with sha256 hashes (pip-compile --generate-hashes), resolved for CPython 3.11
# on x86_64 Linux. Without --upgrade the pins already in a lock are kept wherever pyproject.toml
# still allows them, so adding one dependency changes only what it needs. pip-tools runs from a
# throwaway venv: it is a tool for making the lock, not a dependency of Kazi.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_TOOLS_VERSION=7.6.2
PY=${PYTHON:-python3}
TOOLS=${KAZI_LOCK_TOOLS_VENV:-${TMPDIR:-/tmp}/kazi-lock-tools-$PIP_TOOLS_VERSION}

die() {
  echo "lock.sh: $*" >&2
  exit 1
}

upgrade=()
targets=()
for arg in "$@"; do
  case "$arg" in
    --upgrade) upgrade=(--upgrade) ;;
    engine | label-studio) targets+=("$arg") ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(engine label-studio)

# The locks are for the interpreter the install scripts use here; another minor version would
# resolve differently (markers, wheels), so refuse rather than write a lock for the wrong one.
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$pyver" = 3.11 ] || die "the locks are for Python 3.11; $PY is $pyver (set PYTHON=python3.11)"

if [ ! -x "$TOOLS/bin/pip-compile" ]; then
  echo "lock.sh: installing pip-tools $PIP_TOOLS_VERSION into $TOOLS"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --upgrade pip
  "$TOOLS/bin/python" -m pip install -q "pip-tools==$PIP_TOOLS_VERSION"
fi

# --allow-unsafe pins setuptools/pip when something depends on them: --require-hashes refuses
# any requirement without a hash. No index or find-links lines: the lock names versions and
# hashes, not this machine's package sources.
compile() {
  CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$TOOLS/bin/pip-compile" --quiet \
    --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
    ${upgrade[@]+"${upgrade[@]}"} "$@" 2> >(grep -v 'is ignored: it is neither a file' >&2)
}

started=$SECONDS
for target in "${targets[@]}"; do
  case "$target" in
    engine)
      echo "lock.sh: resolving pyproject.toml (+ test extra) -> requirements.lock"
      compile --extra test -o requirements.lock pyproject.toml
      ;;
    label-studio)
      version=$(sed -n 's/^LABEL_STUDIO_VERSION=\([0-9.]*\)$/\1/p' scripts/label_studio.sh)
      [ -n "$version" ] || die "no LABEL_STUDIO_VERSION=... line in scripts/label_studio.sh"
      echo "lock.sh: resolving label-studio==$version -> scripts/label-studio.lock"
      echo "label-studio==$version" | compile -o scripts/label-studio.lock -
      ;;
  esac
done

# The engine lock must never pull a CUDA torch (several GB); faster-whisper runs on CTranslate2.
if grep -qiE '^(torch|nvidia-[a-z0-9-]+|triton)==' requirements.lock scripts/label-studio.lock; then
  die "a lock pins torch/nvidia/triton; find what pulls it in (grep 'via' in the lock)"
fi
echo "lock.sh: done in $((SECONDS - started)) s; check with:" \
  ".venv/bin/python -m pytest -q tests/unit/test_lock_file.py"
