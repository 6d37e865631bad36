#!/usr/bin/env bash
# Create .venv and install Kazi with its test tools. Re-runs are quick: pip runs only when
# pyproject.toml changed since the last install. Also makes sure Debian's `chromium` is there for
# the browser tests (playwright drives it; nothing downloads a browser at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kazi-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  echo "$want" >"$stamp"
fi

# Headless browser for tests/browser.py: Debian's chromium (about 1 minute the first time).
if ! command -v chromium >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: the browser tests need Debian's 'chromium' package, and apt-get is missing;" >&2
    echo "install.sh: install chromium with this system's package manager (it must be on PATH)." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "install.sh: installing chromium needs root (apt-get install chromium)." >&2
      exit 1
    fi
  fi
  echo "install.sh: installing chromium (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine: update once, quietly.
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
  chromium --version 2>/dev/null
fi
