#!/usr/bin/env bash
# The test command: install, lint (ruff, mypy), make sure services are up, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Static checks CI fails on.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy engine workers schemas
bash scripts/services.sh
exec .venv/bin/python -m pytest -q "$@"
