#!/usr/bin/env bash
# npm run down — stops what `npm run up` started, by the PIDs it recorded. Data stays in .riglab/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STARTED_FILE="$RIGLAB_STATE/started-by-up"
svc="$RIGLAB_ROOT/infra/services.sh"

stop_pid() {
  local pidfile="$1" pid i
  pid_alive "$pidfile" || return 0
  pid="$(cat "$pidfile")"; kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

[ -f "$STARTED_FILE" ] || { say "nothing to stop (npm run up has not started anything here)"; exit 0; }
if grep -qx portal "$STARTED_FILE"; then say "stopping the portal"; stop_pid "$RIGLAB_STATE/portal.pid"; fi
if grep -qx engine "$STARTED_FILE"; then say "stopping the Docker engine 'local'"; bash "$svc" engine-stop local; fi
if grep -qx redis "$STARTED_FILE"; then say "stopping Redis"; bash "$svc" redis-stop dev; fi
if grep -qx postgres "$STARTED_FILE"; then say "stopping PostgreSQL"; bash "$svc" pg-stop; fi
rm -f "$STARTED_FILE"
say "stopped; data is kept in .riglab/ (delete that folder to start from scratch)"
