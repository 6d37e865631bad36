#!/usr/bin/env bash
# Create .venv and install Kazi with its test tools from requirements.lock (exact versions with
# hashes, made by scripts/lock.sh), then Kazi itself without dependencies, so the pins are what
# runs. Re-runs are quick: pip runs only when requirements.lock or pyproject.toml changed since
# the last install. Also makes sure Debian's `chromium` is there for the browser tests
# (playwright drives it; nothing downloads a browser at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
#   bash scripts/install.sh               install (or nothing, when already up to date)
#   bash scripts/install.sh --check-lock  only check that the lock covers pyproject.toml
case "${1:-}" in
  "" | --check-lock) ;;
  *) echo "install.sh: unknown argument $1 (only --check-lock)" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
PIP_VERSION=26.3
LOCK=requirements.lock
[ -f "$LOCK" ] || { echo "install.sh: $LOCK is missing; run: bash scripts/lock.sh" >&2; exit 1; }

# Every requirement of pyproject.toml (dependencies + the test extra) must be met by a pin in
# the lock; otherwise someone added or changed one without re-locking. Checked before pip runs,
# with the venv's Python (tomllib) and packaging (pip's copy when packaging isn't there yet).
check_lock_covers_pyproject() {
  local python=.venv/bin/python
  [ -x "$python" ] || python=$PY
  "$python" - "$LOCK" <<'PY'
import re
import sys
import tomllib

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # a fresh venv: pip vendors packaging
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import Version

lock_path = sys.argv[1]
pins = {}
for line in open(lock_path, encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
    if m:
        pins[canonicalize_name(m.group(1))] = Version(m.group(2))
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
wanted = project.get("dependencies", []) + project.get("optional-dependencies", {}).get("test", [])
problems = []
for text in wanted:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": "test"}):
        continue
    pinned = pins.get(canonicalize_name(req.name))
    if pinned is None:
        problems.append(f"{text}: not in {lock_path}")
    elif not req.specifier.contains(pinned, prereleases=True):
        problems.append(f"{text}: {lock_path} pins {req.name}=={pinned}")
if problems:
    print(f"install.sh: {lock_path} does not match pyproject.toml:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    print("install.sh: run `bash scripts/lock.sh` and commit the new lock", file=sys.stderr)
    sys.exit(1)
PY
}

if [ "${1:-}" = --check-lock ]; then
  check_lock_covers_pyproject
  echo "install.sh: $LOCK covers pyproject.toml"
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kazi-installed
want=$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  check_lock_covers_pyproject
  started=$SECONDS
  echo "install.sh: installing the pinned dependencies from $LOCK into .venv"
  .venv/bin/python -m pip install -q "pip==$PIP_VERSION"
  # --require-hashes: every file must match a hash in the lock (and every dependency be pinned).
  .venv/bin/python -m pip install -q --require-hashes -r "$LOCK"
  .venv/bin/python -m pip install -q --no-deps -e .
  .venv/bin/python -m pip check
  echo "$want" >"$stamp"
  echo "install.sh: installed in $((SECONDS - started)) s"
fi

# The worker app's full editor: Label Studio's open-source frontend from npm (frontend/, exact
# version and integrity hash in frontend/package-lock.json), copied to where the engine serves
# it (engine/worker_app/static/vendor/lsf/, git-ignored). npm runs only when the lock changed.
LSF_BUILD=frontend/node_modules/@heartexlabs/label-studio
LSF_STATIC=engine/worker_app/static/vendor/lsf
lsf_stamp=frontend/node_modules/.kazi-installed
lsf_want=$(sha256sum frontend/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$lsf_stamp" 2>/dev/null)" != "$lsf_want" ] || [ ! -f "$LSF_STATIC/main.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install.sh: the worker app's full editor needs npm (Node.js) to install" >&2
    echo "install.sh: frontend/package-lock.json; install Node.js with npm (apt-get install npm)" >&2
    exit 1
  fi
  echo "install.sh: installing Label Studio's frontend (npm ci in frontend/)"
  (cd frontend && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  mkdir -p "$LSF_STATIC"
  cp "$LSF_BUILD/build/static/js/main.js" "$LSF_BUILD/build/static/js/main.js.LICENSE.txt" \
    "$LSF_BUILD/build/static/css/main.css" \
    "$LSF_BUILD/LICENSE" "$LSF_STATIC/"
  echo "$lsf_want" >"$lsf_stamp"
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
