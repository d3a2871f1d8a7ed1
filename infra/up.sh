#!/usr/bin/env bash
# npm run up — the portal with everything it needs, from nothing. A second run is fast and changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$RIGLAB_ROOT/infra/env.sh"
cd "$RIGLAB_ROOT"
BUILT=0

node_ok
deps_ok
packages_ok
services_ok
env_file_ok
build_ok

IMAGE="$(DOCKER_HOST="$ENGINE" bash infra/lab-image.sh course-templates/python-basics)" || die "building the lab image failed"
node api/bin/riglab.js migrate >/dev/null || die "database migration failed"
node api/bin/riglab.js seed-demo --image "$IMAGE" --rig-endpoint "$ENGINE" >"$RIGLAB_STATE/seed.log" || die "seeding the demo failed"

PID_FILE="$RIGLAB_STATE/portal.pid"
if pid_alive "$PID_FILE" && [ "$BUILT" = 1 ]; then
  say "restarting the portal on the new build"
  kill "$(cat "$PID_FILE")"; wait_for 15 stop bash -c "! kill -0 $(cat "$PID_FILE") 2>/dev/null" || true
fi
if ! pid_alive "$PID_FILE"; then
  say "starting the portal on port $PORTAL_PORT"
  nohup node dist/api/src/main.js >>"$RIGLAB_STATE/portal.log" 2>&1 &
  echo $! >"$PID_FILE"
  mark_started portal
  wait_for 60 portal curl -fsS "http://127.0.0.1:$PORTAL_PORT/api/health" \
    || { tail -n 20 "$RIGLAB_STATE/portal.log" >&2; die "the portal did not come up; see .riglab/portal.log"; }
fi

cat >&2 <<EOT

  riglab is up:  http://localhost:$PORTAL_PORT
  $(cat "$RIGLAB_STATE/seed.log")

  Sign in (development SAML IdP, password demo):  student   ta   instructor   admin
  As student, press Launch on "Python basics": Jupyter opens at /user/student/python-basics/
  API token for scripts:             npx riglab token create --user admin
  Health / metrics / API docs:       /api/health   /metrics   /api/docs
  Logs: .riglab/portal.log           Stop everything: npm run down

EOT
