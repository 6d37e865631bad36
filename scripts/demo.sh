#!/usr/bin/env bash
# The main job on embedded defaults (SQLite, local object store, filesystem broker, a worker the CLI
# starts): submit a real ten-sentence recording, wait with progress bars, list its microtasks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
DATA=${KAZI_DATA:-../shared/data}
exec .venv/bin/kazi submit --kind transcription "$DATA/speech/harvard-OSR_us_000_0034_8k.wav" --wait
