#!/usr/bin/env bash
# The test command: install, lint (ruff, mypy), make sure services are up, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/lint.sh
bash scripts/services.sh
exec .venv/bin/python -m pytest -q "$@"
