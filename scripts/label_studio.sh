#!/usr/bin/env bash
# Label Studio as a local server for development, tests and CI (see docs/label-studio.md).
#
#   scripts/label_studio.sh install
#   scripts/label_studio.sh start [--port N] [--db sqlite|postgres] [--data-dir DIR]
#   scripts/label_studio.sh stop [--data-dir DIR]
#   scripts/label_studio.sh status [--data-dir DIR]
#
# Label Studio lives in its own virtual environment (.venv-labelstudio): it pins redis<5.3 and
# older celery/SQLAlchemy, which must not leak into the engine's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$PWD

LABEL_STUDIO_VERSION=1.23.2
VENV=${KAZI_LABEL_STUDIO_VENV:-$REPO_ROOT/.venv-labelstudio}
STAMP=$VENV/.kazi-installed
LOCK_STAMP=$VENV/.kazi-lock-sha256
# Exact versions with hashes for the whole venv; regenerate with scripts/lock.sh label-studio.
LOCK=$REPO_ROOT/scripts/label-studio.lock
PIP_VERSION=26.3

USERNAME=${KAZI_LABEL_STUDIO_USERNAME:-admin@kazi.local}
PASSWORD=${KAZI_LABEL_STUDIO_PASSWORD:-kazi-dev-password}
TOKEN=${KAZI_LABEL_STUDIO_TOKEN:-kazi-dev-label-studio-token}
PG_HOST=${KAZI_LABEL_STUDIO_PG_HOST:-127.0.0.1}
PG_PORT=${KAZI_LABEL_STUDIO_PG_PORT:-5432}
PG_USER=${KAZI_LABEL_STUDIO_PG_USER:-postgres}
PG_PASSWORD=${KAZI_LABEL_STUDIO_PG_PASSWORD:-}
PG_DB=${KAZI_LABEL_STUDIO_PG_DB:-kazi_labelstudio}
START_TIMEOUT=${KAZI_LABEL_STUDIO_START_TIMEOUT:-180}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

die() {
  echo "label_studio.sh: $*" >&2
  exit 1
}

install() {
  # The stamp keeps exactly "label-studio==VERSION" (engine/labeling/label_studio_server.py reads
  # it); a second stamp holds the lock's hash, so a changed lock reinstalls too.
  want="label-studio==$LABEL_STUDIO_VERSION"
  [ -f "$LOCK" ] || die "$LOCK is missing; run: bash scripts/lock.sh label-studio"
  grep -q "^label-studio==$LABEL_STUDIO_VERSION " "$LOCK" ||
    die "$LOCK does not pin $want; run: bash scripts/lock.sh label-studio"
  local lock_sha
  lock_sha=$(sha256sum "$LOCK" | cut -d' ' -f1)
  if [ -x "$VENV/bin/label-studio" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] &&
    [ "$(cat "$LOCK_STAMP" 2>/dev/null)" = "$lock_sha" ]; then
    echo "Label Studio $LABEL_STUDIO_VERSION already installed in $VENV"
    return 0
  fi
  local started=$SECONDS
  echo "installing Label Studio $LABEL_STUDIO_VERSION into $VENV from $LOCK (a minute or two)"
  if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
  rm -f "$STAMP" "$LOCK_STAMP"
  "$VENV/bin/python" -m pip install -q "pip==$PIP_VERSION"
  # Exact versions with hashes (scripts/lock.sh). psycopg (3) comes with label-studio and is
  # what Django uses for PostgreSQL.
  "$VENV/bin/python" -m pip install -q --require-hashes -r "$LOCK"
  "$VENV/bin/python" -m pip check
  # A plain `label-studio --help` would create ~/.local/share/label-studio; ask the metadata instead.
  "$VENV/bin/python" -c 'import importlib.metadata as m; print("label-studio", m.version("label-studio"))'
  echo "$lock_sha" >"$LOCK_STAMP"
  echo "$want" >"$STAMP"
  echo "installed in $((SECONDS - started)) s"
}

# Options shared by start/stop/status.
PORT=8080
DB=postgres
DATA_DIR=${KAZI_LABEL_STUDIO_DATA_DIR:-${KAZI_VAR_DIR:-var}/label-studio}
parse_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) PORT=${2:?--port needs a value}; shift 2 ;;
      --port=*) PORT=${1#*=}; shift ;;
      --db) DB=${2:?--db needs a value}; shift 2 ;;
      --db=*) DB=${1#*=}; shift ;;
      --data-dir) DATA_DIR=${2:?--data-dir needs a value}; shift 2 ;;
      --data-dir=*) DATA_DIR=${1#*=}; shift ;;
      -h|--help) usage ;;
      *) die "unknown option $1" ;;
    esac
  done
  case "$DB" in sqlite|postgres) ;; *) die "--db must be sqlite or postgres, not $DB" ;; esac
  case "$PORT" in ''|*[!0-9]*) die "--port must be a number, not $PORT" ;; esac
  mkdir -p "$DATA_DIR"
  DATA_DIR=$(cd "$DATA_DIR" && pwd)
  PID_FILE=$DATA_DIR/label-studio.pid
  URL_FILE=$DATA_DIR/label-studio.url
  LOG_FILE=$DATA_DIR/label-studio.log
}

running_pid() {
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# 0 when GET URL/health answers 200.
healthy() {
  "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/health", timeout=3) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

port_in_use() {
  "$VENV/bin/python" - "$1" <<'PY'
import socket, sys
with socket.socket() as s:
    s.settimeout(1)
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

ensure_pg_database() {
  PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=$PG_USER PGPASSWORD=$PG_PASSWORD \
    "$VENV/bin/python" - "$PG_DB" <<'PY'
import sys
import psycopg

name = sys.argv[1]
with psycopg.connect(dbname="postgres", autocommit=True) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"created PostgreSQL database {name}")
PY
}

start() {
  parse_options "$@"
  [ -x "$VENV/bin/label-studio" ] || die "not installed; run: scripts/label_studio.sh install"
  local url="http://127.0.0.1:$PORT" pid
  if pid=$(running_pid); then
    echo "Label Studio already running (pid $pid) at $(cat "$URL_FILE" 2>/dev/null || echo '?')"
    return 0
  fi
  # Label Studio quietly moves to the next free port when its own is taken; refuse instead.
  if port_in_use "$PORT"; then
    die "port $PORT is in use; pick another with --port"
  fi

  local db_env=()
  if [ "$DB" = postgres ]; then
    ensure_pg_database
    db_env=(DJANGO_DB=default POSTGRE_NAME="$PG_DB" POSTGRE_USER="$PG_USER"
      POSTGRE_PASSWORD="$PG_PASSWORD" POSTGRE_HOST="$PG_HOST" POSTGRE_PORT="$PG_PORT")
  else
    db_env=(DJANGO_DB=sqlite DATABASE_NAME="$DATA_DIR/label_studio.sqlite3")
  fi

  echo "starting Label Studio on $url ($DB, data in $DATA_DIR, log $LOG_FILE)"
  : >"$LOG_FILE"
  env "${db_env[@]}" \
    LABEL_STUDIO_USERNAME="$USERNAME" \
    LABEL_STUDIO_PASSWORD="$PASSWORD" \
    LABEL_STUDIO_USER_TOKEN="$TOKEN" \
    LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
    LABEL_STUDIO_BASE_DATA_DIR="$DATA_DIR" \
    LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true \
    SSRF_PROTECTION_ENABLED=false \
    WEBHOOK_TIMEOUT=10 \
    LATEST_VERSION_CHECK=false \
    COLLECT_ANALYTICS=false \
    SENTRY_DSN= \
    FRONTEND_SENTRY_DSN= \
    PYTHONUNBUFFERED=1 \
    setsid "$VENV/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$PORT" \
    --enable-legacy-api-token </dev/null >>"$LOG_FILE" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$url" >"$URL_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  while ! healthy "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "Label Studio exited during start-up; last log lines:" >&2
      tail -n 40 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "Label Studio did not answer $url/health within $START_TIMEOUT s; last log lines:" >&2
      tail -n 40 "$LOG_FILE" >&2
      stop_pid "$pid"
      exit 1
    fi
    sleep 1
  done
  echo "Label Studio ready at $url (pid $pid); admin $USERNAME, API token in KAZI_LABEL_STUDIO_TOKEN"
}

stop_pid() {
  local pid=$1
  # setsid made the server its own process group.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

stop() {
  parse_options "$@"
  local pid
  if pid=$(running_pid); then
    stop_pid "$pid"
    echo "Label Studio stopped (pid $pid)"
  else
    rm -f "$PID_FILE"
    echo "Label Studio is not running (data dir $DATA_DIR)"
  fi
}

status() {
  parse_options "$@"
  local pid url
  url=$(cat "$URL_FILE" 2>/dev/null || echo "http://127.0.0.1:$PORT")
  if ! pid=$(running_pid); then
    echo "Label Studio is not running (data dir $DATA_DIR)"
    exit 3
  fi
  if healthy "$url"; then
    echo "Label Studio is running (pid $pid) at $url, healthy"
  else
    echo "Label Studio process $pid is up but $url/health does not answer (log $LOG_FILE)"
    exit 1
  fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  install) [ $# -eq 0 ] || die "install takes no options"; install ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  status) status "$@" ;;
  *) usage ;;
esac
