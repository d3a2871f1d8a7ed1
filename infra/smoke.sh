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
# Read whole first: `grep -q` quits at its first match, and under pipefail curl's "failed writing body" would fail the check.
metrics="$(curl -fsS "$base/metrics")" || fail "/metrics did not answer"
grep -q '^riglab_request_duration_seconds_bucket' <<<"$metrics" || fail "/metrics lacks riglab_request_duration_seconds"
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

# University sign-in, the whole SAML flow a browser drives: portal → development IdP form → ACS.
BASE="$base" node -e '
  const base = process.env.BASE;
  const unesc = (s) => s.replace(/&quot;/g, "\"").replace(/&#39;/g, "\x27").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const form = (html) => ({
    action: unesc((/<form[^>]*action="([^"]*)"/.exec(html) || [])[1] || ""),
    fields: Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], unesc(m[2])])),
  });
  (async () => {
    const start = await fetch(base + "/auth/saml/login?next=/courses", { redirect: "manual" });
    if (start.status !== 302) throw new Error("/auth/saml/login answered " + start.status);
    const idp = form(await (await fetch(start.headers.get("location"))).text());
    const answer = form(await (await fetch(idp.action, { method: "POST", body: new URLSearchParams({ ...idp.fields, username: "student", password: "demo" }) })).text());
    const acs = await fetch(answer.action, { method: "POST", body: new URLSearchParams(answer.fields), redirect: "manual" });
    if (acs.status !== 303) throw new Error("the ACS answered " + acs.status);
    const cookie = (acs.headers.get("set-cookie") || "").split(";")[0];
    const me = await (await fetch(base + "/api/me", { headers: { cookie } })).json();
    if (me.username !== "student" || !me.courses.some((c) => c.code === "CS101")) throw new Error("/api/me: " + JSON.stringify(me));
  })().catch((e) => { console.error(e.message); process.exit(1); });' || fail "SAML sign-in through the development IdP"
echo "sso: student signed in through the development SAML IdP and sees CS101"

# A student's lab, end to end: launch, Jupyter answers through the portal's proxy, stop.
student="$(npx --no-install riglab token create --user student --scope read labs --expires 1h 2>/dev/null)" || fail "token for student"
auth=(-H "Authorization: Bearer $student")
tpl="$(curl -fsS "${auth[@]}" "$base/api/labs/launchable" | node -e 'const t=JSON.parse(require("fs").readFileSync(0,"utf8")).find(x=>x.slug==="python-basics"); if(!t) process.exit(1); console.log(t.id)')" \
  || fail "the student cannot see the python-basics template"
lab="$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d "{\"templateId\":\"$tpl\"}" "$base/api/labs" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).id)')" \
  || fail "launch refused"
state=""
for _ in $(seq 1 120); do
  state="$(curl -fsS "${auth[@]}" "$base/api/labs/$lab" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).state)')"
  [ "$state" = ready ] || [ "$state" = failed ] && break
  sleep 0.5
done
[ "$state" = ready ] || fail "the student's lab did not become ready (state: $state)"
curl -fsS "${auth[@]}" "$base/user/student/python-basics/api/status" | grep -q '"started"' || fail "Jupyter does not answer through /user/student/python-basics/"
echo "lab: student launched python-basics; Jupyter answers at /user/student/python-basics/"
curl -fsS -X DELETE "${auth[@]}" "$base/api/labs/$lab" >/dev/null || fail "stop refused"
for _ in $(seq 1 60); do
  state="$(curl -fsS "${auth[@]}" "$base/api/labs/$lab" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).state)')"
  [ "$state" = stopped ] && break
  sleep 0.5
done
[ "$state" = stopped ] || fail "the lab did not stop (state: $state)"
echo "lab: stopped; the student's home volume is kept"
