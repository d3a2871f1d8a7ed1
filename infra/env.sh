# shellcheck shell=bash
# Resolves where riglab's services are — given by the environment, or local ones that we start —
# and writes .riglab/riglab.env, which the portal and the CLI read. Sourced by up.sh.

PORTAL_PORT="${PORT:-8000}"
LOCAL_PG_PORT="${RIGLAB_PG_PORT:-54320}"
LOCAL_REDIS_PORT="${RIGLAB_REDIS_PORT:-63790}"
STARTED_FILE="$RIGLAB_STATE/started-by-up"

node_ok() {
  command -v node >/dev/null || die "Node.js 20.19+ is required (https://nodejs.org or Debian's nodejs)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js 20.19 or newer is required; this is $(node --version)"
}

deps_ok() {
  if [ ! -d "$RIGLAB_ROOT/node_modules" ] || [ "$RIGLAB_ROOT/package-lock.json" -nt "$RIGLAB_ROOT/node_modules/.package-lock.json" ]; then
    say "installing npm dependencies (npm ci)"
    (cd "$RIGLAB_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  fi
}

# The packages our local services need, for those not given by the environment.
packages_ok() {
  local need=()
  [ -n "${DATABASE_URL:-}" ] || need+=(initdb:postgresql)
  [ -n "${REDIS_URL:-}" ] || need+=(redis-server:redis-server)
  [ -n "${DOCKER_HOST:-}" ] || need+=(dockerd:docker.io ip:iproute2)
  # The rig telemetry probe image is made of these (spawner/src/probes): busybox, and ipmitool for BMCs.
  need+=(busybox:busybox-static ipmitool:ipmitool)
  [ ${#need[@]} -eq 0 ] || ensure_packages "${need[@]}"
}

mark_started() { grep -qx "$1" "$STARTED_FILE" 2>/dev/null || echo "$1" >>"$STARTED_FILE"; }

services_ok() {
  local svc="$RIGLAB_ROOT/infra/services.sh" pg
  if [ -n "${DATABASE_URL:-}" ]; then
    DB_URL="$DATABASE_URL"
  else
    bash "$svc" pg-start "$LOCAL_PG_PORT"; mark_started postgres
    pg="$(bash "$svc" pg-url)"
    psql "$pg" -tAc "SELECT 1 FROM pg_database WHERE datname='riglab'" | grep -q 1 || psql "$pg" -qc 'CREATE DATABASE riglab' >/dev/null
    DB_URL="${pg%/postgres}/riglab"
  fi
  if [ -n "${REDIS_URL:-}" ]; then
    RD_URL="$REDIS_URL"
  else
    bash "$svc" redis-start dev "$LOCAL_REDIS_PORT"; mark_started redis
    RD_URL="redis://127.0.0.1:$LOCAL_REDIS_PORT"
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    ENGINE="$DOCKER_HOST"
  else
    ENGINE="$(bash "$svc" engine-start local riglab0 172.31.240.1/24)"; mark_started engine
  fi
}

# Keeps the session secret across runs; rewrites the file only when something changed.
env_file_ok() {
  local file="$RIGLAB_STATE/riglab.env" secret tmp
  secret="$(sed -n 's/^SESSION_SECRET=//p' "$file" 2>/dev/null || true)"
  [ -n "$secret" ] || secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  tmp="$(mktemp)"
  cat >"$tmp" <<EOT
# Written by npm run up; the portal and \`npx riglab\` read it. Real environment variables win.
RIGLAB_ENV=development
DEV_IDP=true
PORT=$PORTAL_PORT
DATABASE_URL=$DB_URL
REDIS_URL=$RD_URL
SESSION_SECRET=$secret
EOT
  if cmp -s "$tmp" "$file"; then rm -f "$tmp"; else mv "$tmp" "$file"; chmod 600 "$file"; fi
}

# Builds api/ and web/ when any source is newer than the last build.
build_ok() {
  local stamp="$RIGLAB_ROOT/dist/.build-stamp"
  if [ -f "$stamp" ] && [ -z "$(find "$RIGLAB_ROOT/api" "$RIGLAB_ROOT/spawner" "$RIGLAB_ROOT/web" "$RIGLAB_ROOT/package-lock.json" \
      "$RIGLAB_ROOT/tsconfig.json" "$RIGLAB_ROOT/tsconfig.build.json" -newer "$stamp" -type f -print -quit)" ]; then
    return 0
  fi
  say "building the portal (api + web)"
  (cd "$RIGLAB_ROOT" && rm -rf dist && npm run --silent build >"$RIGLAB_STATE/build.log" 2>&1) || { cat "$RIGLAB_STATE/build.log" >&2; die "build failed"; }
  touch "$stamp"
  BUILT=1
}
