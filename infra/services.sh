#!/usr/bin/env bash
# Start and stop the local services riglab runs on: PostgreSQL, Redis and Docker engines ("rigs").
# Each keeps its data, log and PID under $RIGLAB_STATE (.riglab/ by default). Every start is a no-op
# when the service already runs, so `npm run up` and `npm test` can call these freely.
#   services.sh pg-start [PORT]            services.sh pg-stop
#   services.sh redis-start NAME PORT      services.sh redis-stop NAME
#   services.sh engine-start NAME BRIDGE CIDR   (prints the engine's unix socket)
#   services.sh engine-stop NAME
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR="$RIGLAB_STATE/postgres"

pg_url() { # the admin URL of the local cluster
  echo "postgres://riglab:$(cat "$PG_DIR/password")@127.0.0.1:$(cat "$PG_DIR/port")/postgres"
}

as_postgres() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local port="${1:-54320}" bin
  bin="$(pg_bindir)" || die "PostgreSQL server binaries not found (Debian package postgresql)"
  if [ -f "$PG_DIR/data/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in ${PG_DIR#"$RIGLAB_ROOT"/}"
    rm -rf "$PG_DIR/data"
    [ -f "$PG_DIR/password" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PG_DIR/password"
    echo "$port" >"$PG_DIR/port"
    chmod 600 "$PG_DIR/password"
    mkdir -p "$PG_DIR/data" "$PG_DIR/sock"
    if is_root; then
      chown -R postgres:postgres "$PG_DIR"
      chown root:root "$PG_DIR/password" "$PG_DIR/port"
      install -o postgres -m 600 "$PG_DIR/password" "$PG_DIR/sock/.pw"
    else
      cp "$PG_DIR/password" "$PG_DIR/sock/.pw"
    fi
    as_postgres "$bin/initdb" -D "$PG_DIR/data" -U riglab --pwfile="$PG_DIR/sock/.pw" \
      --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
      || die "initdb failed; see ${PG_DIR}/initdb.log"
    rm -f "$PG_DIR/sock/.pw"
  fi
  port="$(cat "$PG_DIR/port")"
  say "starting PostgreSQL on 127.0.0.1:$port"
  as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 30 \
    -o "-p $port -k $PG_DIR/sock -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=200" \
    start >/dev/null || die "PostgreSQL did not start; see $PG_DIR/postgres.log"
}

pg_stop() {
  local bin
  bin="$(pg_bindir)" || return 0
  [ -f "$PG_DIR/data/PG_VERSION" ] || return 0
  as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

redis_start() {
  local name="$1" port="$2" dir="$RIGLAB_STATE/redis-$1"
  mkdir -p "$dir"
  if pid_is "$dir/redis.pid" redis-server; then return 0; fi
  say "starting Redis ($name) on 127.0.0.1:$port"
  # Redis holds only work in flight (DESIGN.md): no persistence, Postgres re-derives it.
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
  wait_for 10 redis redis-cli -p "$port" ping || die "Redis did not start; see $dir/redis.log"
  echo "$port" >"$dir/port"
}

stop_pidfile() { # FILE [WORDS]: stop the process in FILE, only if its command line has WORDS
  local pidfile="$1" pid i
  pid_alive "$pidfile" || return 0
  if [ -n "${2:-}" ] && ! pid_is "$pidfile" "$2"; then rm -f "$pidfile"; return 0; fi
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

redis_stop() { stop_pidfile "$RIGLAB_STATE/redis-$1/redis.pid" redis-server; }

engine_sock() { echo "$RIGLAB_STATE/engines/$1/docker.sock"; }

engine_start() {
  local name="$1" bridge="$2" cidr="$3" dir="$RIGLAB_STATE/engines/$1"
  local sock; sock="$(engine_sock "$name")"
  mkdir -p "$dir"
  # Rig bootstrap: the lab-network firewall. The Docker spawner puts lab containers on bridges named
  # rl-* (spawner/src/docker/lab-network.ts); these host rules make such a bridge a dead end: nothing
  # that a lab container starts reaches the host's own services (INPUT), another lab container (the
  # bridged FORWARD path, seen by iptables through br_netfilter) or anywhere else (routed FORWARD);
  # replies to connections the host opened (the portal, docker-proxy for published ports) still pass.
  # It is riglab's own chain, touching only rl-* interfaces, so other bridges, engines and the host's
  # firewall are left as they were. REJECT, not DROP: a student's code fails at once instead of hanging.
  # Docker's own iptables stay off (--iptables=false): with several engines on one host each dockerd
  # flushes the shared DOCKER chains at start, and `--internal` networks would refuse published ports.
  # Done on every call (idempotent, under a lock) because it is per host, not per engine.
  if is_root && command -v iptables >/dev/null 2>&1; then
    if [ ! -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then modprobe br_netfilter 2>/dev/null || true; fi
    if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 0 ]; then
      sysctl -qw net.bridge.bridge-nf-call-iptables=1 || true
    fi
    [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] \
      || warn "br_netfilter is off: lab containers on one rig could reach each other"
    (
      flock 8
      local ipt reject
      for ipt in iptables ip6tables; do
        command -v "$ipt" >/dev/null 2>&1 || continue
        reject=icmp-admin-prohibited; [ "$ipt" = ip6tables ] && reject=icmp6-adm-prohibited
        "$ipt" -w -N RIGLAB-LAB 2>/dev/null || true
        "$ipt" -w -C RIGLAB-LAB -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN 2>/dev/null \
          || "$ipt" -w -A RIGLAB-LAB -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
        "$ipt" -w -C RIGLAB-LAB -j REJECT --reject-with "$reject" 2>/dev/null \
          || "$ipt" -w -A RIGLAB-LAB -j REJECT --reject-with "$reject"
        "$ipt" -w -C INPUT -i rl-+ -j RIGLAB-LAB 2>/dev/null || "$ipt" -w -I INPUT 1 -i rl-+ -j RIGLAB-LAB
        "$ipt" -w -C FORWARD -i rl-+ -j RIGLAB-LAB 2>/dev/null || "$ipt" -w -I FORWARD 1 -i rl-+ -j RIGLAB-LAB
      done
    ) 8>"$RIGLAB_STATE/engines/.firewall.lock" || warn "could not install the lab-network firewall (iptables)"
  fi
  if pid_alive "$dir/dockerd.pid" && DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then
    echo "unix://$sock"; return 0
  fi
  is_root || die "starting a Docker engine needs root; set DOCKER_HOST to an engine you can use"
  # Pid files left by an engine that died with the machine may name processes that are now something
  # else (another engine's containerd, say); dockerd then refuses to start, or waits for a containerd
  # that is not there. Drop each unless it names this engine's own dockerd or containerd.
  pid_is "$dir/dockerd.pid" "--data-root $dir/data " || rm -f "$dir/dockerd.pid"
  pid_is "$dir/exec/containerd/containerd.pid" "$dir/exec/containerd/containerd.toml" \
    || rm -f "$dir/exec/containerd/containerd.pid"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$cidr" dev "$bridge"
    ip link set "$bridge" up
  fi
  say "starting Docker engine '$name' on ${sock#"$RIGLAB_ROOT"/}"
  # Own data/exec roots and bridge so several engines (rigs) coexist on one machine; no iptables
  # rules, so containers have no route out and the host's firewall is left alone.
  # Each engine allocates lab networks from its own /16 (picked from the engine's name), so engines
  # sharing a host do not race for the same subnets; 256 lab networks of /24 each.
  local pool=$((200 + $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 50))
  nohup dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    -H "unix://$sock" --bridge="$bridge" --iptables=false --ip-masq=false \
    --default-address-pool "base=10.$pool.0.0/16,size=24" \
    >"$dir/dockerd.log" 2>&1 &
  wait_for 30 dockerd env DOCKER_HOST="unix://$sock" docker version \
    || die "Docker engine '$name' did not start; see $dir/dockerd.log"
  echo "unix://$sock"
}

engine_stop() {
  local dir="$RIGLAB_STATE/engines/$1"
  stop_pidfile "$dir/dockerd.pid" "--data-root $dir/data "
}

# A container registry on loopback (Debian's docker-registry, the CNCF distribution registry): engines
# pull from 127.0.0.0/8 over plain HTTP without configuration. The benchmarks use it for cold launches.
registry_start() {
  local port="$1" dir="$RIGLAB_STATE/registry"
  mkdir -p "$dir/data"
  if pid_is "$dir/registry.pid" "$dir/config.yml"; then echo "127.0.0.1:$(cat "$dir/port")"; return 0; fi
  say "starting a container registry on 127.0.0.1:$port" >&2
  cat >"$dir/config.yml" <<EOT
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOT
  nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  wait_for 15 registry curl -sf "http://127.0.0.1:$port/v2/" || die "the registry did not start; see $dir/registry.log"
  echo "$port" >"$dir/port"
  echo "127.0.0.1:$port"
}

registry_stop() { stop_pidfile "$RIGLAB_STATE/registry/registry.pid" "$RIGLAB_STATE/registry/config.yml"; }

cmd="${1:-}"; shift || true
case "$cmd" in
  pg-start) pg_start "$@" ;;
  pg-stop) pg_stop ;;
  pg-url) pg_url ;;
  redis-start) redis_start "$@" ;;
  redis-stop) redis_stop "$@" ;;
  engine-start) engine_start "$@" ;;
  engine-stop) engine_stop "$@" ;;
  engine-sock) engine_sock "$@" ;;
  registry-start) registry_start "$@" ;;
  registry-stop) registry_stop ;;
  *) die "usage: services.sh pg-start|pg-stop|pg-url|redis-start|redis-stop|engine-start|engine-stop|registry-start|registry-stop ..." ;;
esac
