#!/usr/bin/env bash
# The main job, end to end, on embedded defaults (SQLite, local object store, filesystem broker)
# plus a real Label Studio started for it (staff's side): real recordings and drawn images are
# pre-drafted, published, answered by simulated trainees through the engine's worker app (/app),
# merged, reviewed and assembled.
# The recordings are the samples shipped in engine/demo/samples unless KAZI_DATA (or --data)
# names another folder with a speech/ subfolder. Each run keeps its own state under var/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${KAZI_DATA:-engine/demo/samples}
args=("$@")
for i in "${!args[@]}"; do  # a --data given here wins over KAZI_DATA (kazi takes the last one)
  case "${args[$i]}" in
    --data) DATA=${args[$((i + 1))]:-} ;;
    --data=*) DATA=${args[$i]#--data=} ;;
  esac
done
# Checked before the (minutes long, first time) install, so a wrong folder fails at once.
if [ ! -d "$DATA/speech" ]; then
  echo "demo.sh: no speech/ folder under $DATA (set KAZI_DATA or pass --data DIR)" >&2
  exit 2
fi
bash scripts/install.sh
exec .venv/bin/kazi demo --data "$DATA" "$@"
