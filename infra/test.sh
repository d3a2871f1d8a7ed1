#!/usr/bin/env bash
# npm test — every test against real PostgreSQL, Redis and Docker engines, brought up the way
# `npm run up` brings them up; whatever this run started is stopped at the end, pass or fail.
# Extra arguments go to Jest (e.g. `npm test -- test/health.test.ts`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$RIGLAB_ROOT/infra/env.sh"
cd "$RIGLAB_ROOT"
svc="$RIGLAB_ROOT/infra/services.sh"
TEST_REDIS_PORT="${RIGLAB_TEST_REDIS_PORT:-63791}"
started=()

cleanup() {
  local s
  for s in "${started[@]}"; do
    case "$s" in
      postgres) bash "$svc" pg-stop ;;
      redis) bash "$svc" redis-stop test ;;
      engine) bash "$svc" engine-stop local ;;
    esac
  done
}
trap cleanup EXIT

node_ok
deps_ok
ensure_packages initdb:postgresql redis-server:redis-server dockerd:docker.io ip:iproute2 chromium:chromium busybox:busybox-static ipmitool:ipmitool
PG_BIN="$(pg_bindir)"

# Reuse the services `npm run up` runs (tests use their own databases and Redis), else start and stop ours.
if ! { [ -f "$RIGLAB_STATE/postgres/data/PG_VERSION" ] && (is_root && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RIGLAB_STATE/postgres/data" status || "$PG_BIN/pg_ctl" -D "$RIGLAB_STATE/postgres/data" status) >/dev/null 2>&1; }; then
  bash "$svc" pg-start "$LOCAL_PG_PORT"; started+=(postgres)
fi
# A test Redis already running belongs to another test run: reuse it and leave it running.
if ! pid_is "$RIGLAB_STATE/redis-test/redis.pid" redis-server; then started+=(redis); fi
bash "$svc" redis-start test "$TEST_REDIS_PORT"
if ! pid_is "$RIGLAB_STATE/engines/local/dockerd.pid" "$RIGLAB_STATE/engines/local/data "; then started+=(engine); fi
ENGINE="$(bash "$svc" engine-start local riglab0 172.31.240.1/24)"
build_ok

export RIGLAB_STATE_DIR="$RIGLAB_STATE"
export RIGLAB_TEST_PG_ADMIN_URL="$(bash "$svc" pg-url)"
export RIGLAB_TEST_REDIS_URL="redis://127.0.0.1:$TEST_REDIS_PORT"
export RIGLAB_TEST_DOCKER_HOST="$ENGINE"
export RIGLAB_ENV_FILE=""   # tests never read the development env file
# The default lab image, built once per recipe (a no-op when `npm run up` built it already).
RIGLAB_TEST_LAB_IMAGE="$(DOCKER_HOST="$ENGINE" bash infra/lab-image.sh course-templates/python-basics)"
export RIGLAB_TEST_LAB_IMAGE
set +e
if [ $# -eq 0 ]; then
  # The browser tests run after the rest, on their own: the other suites' Docker engines keep adding
  # and removing network interfaces, and Chromium aborts page loads whenever the host's network
  # changes (net::ERR_NETWORK_CHANGED), which a student's laptop never sees.
  npx jest --testPathIgnorePatterns '/test/browser/'
  rc=$?
  npx jest test/browser
  rc2=$?
  [ "$rc" -ne 0 ] || rc=$rc2
else
  npx jest "$@"
  rc=$?
fi
set -e
exit $rc
