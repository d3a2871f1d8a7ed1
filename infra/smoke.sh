#!/usr/bin/env bash
# Checks a portal brought up by `npm run up` the way the README says a newcomer would.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RIGLAB_ROOT"
base="http://127.0.0.1:${PORT:-8000}"
fail() { die "smoke: $*"; }

health="$(curl -fsS "$base/api/health")" || fail "/api/health did not answer"
echo "$health" | node -e '
  const h = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const bad = [];
  if (h.checks.database.status !== "up") bad.push("database");
  if (h.checks.redis.status !== "up") bad.push("redis");
  const local = h.checks.rigs.find((r) => r.name === "local");
  if (!local || local.status !== "up") bad.push("rig local");
  if (bad.length) { console.error("down: " + bad.join(", ")); process.exit(1); }
  console.log("health: database, redis and rig local up");' || fail "health: $health"
curl -fsS "$base/metrics" | grep -q '^riglab_request_duration_seconds_bucket' || fail "/metrics lacks riglab_request_duration_seconds"
echo "metrics: riglab_ series present"
curl -fsS "$base/api/docs" | grep -qi 'swagger' || fail "/api/docs is not the API viewer"
curl -fsS "$base/api/docs/openapi.json" | grep -q '"/api/health"' || fail "OpenAPI document lacks /api/health"
echo "docs: viewer and OpenAPI document answer"
token="$(npx --no-install riglab token create --user admin 2>/dev/null)" || fail "npx riglab token create failed"
me="$(curl -fsS -H "Authorization: Bearer $token" "$base/api/me")" || fail "/api/me refused the new token"
echo "$me" | grep -q '"username":"admin"' || fail "/api/me: $me"
echo "token: npx riglab token create --user admin authenticates GET /api/me"
curl -fsS "$base/" | grep -q '<div id="root">' || fail "the web UI is not served at /"
echo "web: UI served at /"
