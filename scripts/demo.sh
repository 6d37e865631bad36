#!/usr/bin/env bash
# The main job, end to end, on embedded defaults (SQLite, local object store, filesystem broker)
# plus a real Label Studio started for it: real recordings and drawn images are pre-drafted,
# published, answered by simulated trainees in Label Studio, merged, reviewed and assembled.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
DATA=${KAZI_DATA:-../shared/data}
exec .venv/bin/kazi demo --data "$DATA" "$@"
