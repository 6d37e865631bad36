#!/usr/bin/env bash
# Static checks CI fails on: ruff lint, ruff formatting, mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy engine workers schemas
