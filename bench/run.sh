#!/usr/bin/env bash
# npm run bench — launch overhead (warm and cold), a class start through SSO, the footprint with 150 labs,
# the proxy against configurable-http-proxy, the ledger, telemetry, the GPU queue and placement at scale,
# each side by side with its baseline or target (bench/README.md). Starts what it needs like `npm test`
# (plus a third engine and a registry on loopback for cold launches) and stops what it started.
source "$(dirname "${BASH_SOURCE[0]}")/../infra/lib.sh"
source "$RIGLAB_ROOT/infra/env.sh"
cd "$RIGLAB_ROOT"
svc="$RIGLAB_ROOT/infra/services.sh"
started=()
cleanup() {
  local s
  for s in "${started[@]}"; do
    case "$s" in
      postgres) bash "$svc" pg-stop ;;
      redis) bash "$svc" redis-stop bench ;;
      engine) bash "$svc" engine-stop local ;;
      rig2) bash "$svc" engine-stop bench-rig ;;
      cold) bash "$svc" engine-stop bench-cold ;;
      registry) bash "$svc" registry-stop ;;
    esac
  done
}
trap cleanup EXIT

node_ok
deps_ok
ensure_packages initdb:postgresql redis-server:redis-server dockerd:docker.io ip:iproute2 curl:curl docker-registry:docker-registry
PG_BIN="$(pg_bindir)"
if ! { [ -f "$RIGLAB_STATE/postgres/data/PG_VERSION" ] && (is_root && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RIGLAB_STATE/postgres/data" status || "$PG_BIN/pg_ctl" -D "$RIGLAB_STATE/postgres/data" status) >/dev/null 2>&1; }; then
  bash "$svc" pg-start "$LOCAL_PG_PORT"; started+=(postgres)
fi
bash "$svc" redis-start bench 63799; started+=(redis)
pid_is "$RIGLAB_STATE/engines/local/dockerd.pid" "$RIGLAB_STATE/engines/local/data " || started+=(engine)
ENGINE="$(bash "$svc" engine-start local riglab0 172.31.240.1/24)"
pid_is "$RIGLAB_STATE/engines/bench-rig/dockerd.pid" "$RIGLAB_STATE/engines/bench-rig/data " || started+=(rig2)
RIG2="$(bash "$svc" engine-start bench-rig riglab5 172.31.245.1/24)"
pid_is "$RIGLAB_STATE/engines/bench-cold/dockerd.pid" "$RIGLAB_STATE/engines/bench-cold/data " || started+=(cold)
COLD_RIG="$(bash "$svc" engine-start bench-cold riglab6 172.31.246.1/24)"
pid_is "$RIGLAB_STATE/registry/registry.pid" registry || started+=(registry)
REGISTRY="$(bash "$svc" registry-start 5000)"
build_ok
IMAGE="$(DOCKER_HOST="$ENGINE" bash infra/lab-image.sh course-templates/python-basics)"
DOCKER_HOST="$RIG2" docker image inspect "$IMAGE" >/dev/null 2>&1 || docker -H "$ENGINE" save "$IMAGE" | docker -H "$RIG2" load -q >/dev/null

# Cold launches pull the image from the registry onto an engine that has none of it.
REGISTRY_IMAGE="$REGISTRY/$IMAGE"
docker -H "$ENGINE" tag "$IMAGE" "$REGISTRY_IMAGE"
docker -H "$ENGINE" push -q "$REGISTRY_IMAGE" >/dev/null

PG_ADMIN_URL="$(bash "$svc" pg-url)" REDIS_URL="redis://127.0.0.1:63799" ENGINE="$ENGINE" RIG2="$RIG2" IMAGE="$IMAGE" \
  COLD_RIG="$COLD_RIG" REGISTRY_IMAGE="$REGISTRY_IMAGE" node bench/labs.bench.js
# The notebook proxy against configurable-http-proxy and direct (issue 10).
PG_ADMIN_URL="$(bash "$svc" pg-url)" REDIS_URL="redis://127.0.0.1:63799" ENGINE="$ENGINE" IMAGE="$IMAGE" \
  node bench/proxy.bench.js
# The usage ledger (issue 8): needs only PostgreSQL.
PG_ADMIN_URL="$(bash "$svc" pg-url)" node bench/ledger.bench.js
# Telemetry probe, ingest, growth and /metrics for 500 rigs (issue 9): PostgreSQL and an engine.
PG_ADMIN_URL="$(bash "$svc" pg-url)" ENGINE="$ENGINE" node bench/telemetry.bench.js
# The fair GPU queue and admission under load (issue 8): PostgreSQL, Redis and an engine for placement.
PG_ADMIN_URL="$(bash "$svc" pg-url)" REDIS_URL="redis://127.0.0.1:63799" ENGINE="$ENGINE" IMAGE="$IMAGE" node bench/queue.bench.js
# Placement and the GPU queue at scale (issue 10): 1,000 simulated rigs, 8,000 GPUs, 10,000 queued. PostgreSQL and Redis.
PG_ADMIN_URL="$(bash "$svc" pg-url)" REDIS_URL="redis://127.0.0.1:63799" node bench/placement.bench.js
# One summary of the figures above with the machine: bench/results/summary.md.
ENGINE="$ENGINE" node bench/summary.js
