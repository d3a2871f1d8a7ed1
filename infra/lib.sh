# shellcheck shell=bash
# Shared helpers for riglab's bring-up scripts: where state lives, how to say what is missing,
# and how to install Debian packages when we are allowed to.
set -euo pipefail

RIGLAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Everything riglab starts locally keeps its data, logs and PIDs here (git-ignored).
RIGLAB_STATE="${RIGLAB_STATE_DIR:-$RIGLAB_ROOT/.riglab}"
mkdir -p "$RIGLAB_STATE"

say() { printf '\033[1;34m[riglab]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[riglab]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[riglab] error:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

# ensure_packages CMD:PACKAGE ... — installs the Debian packages whose command is missing (as root),
# or names exactly what to install and stops (as a normal user).
ensure_packages() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd="${pair%%:*}"; pkg="${pair#*:}"
    case "$cmd" in
      initdb) pg_bindir >/dev/null || missing+=("$pkg") ;;
      *) command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg") ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! is_root; then
    die "missing Debian packages: ${missing[*]}
  install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}
  or point riglab at running services with DATABASE_URL, REDIS_URL and DOCKER_HOST (see README)."
  fi
  say "installing Debian packages: ${missing[*]}"
  local stamp="$RIGLAB_STATE/.apt-updated"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed"
    touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# wait_for SECONDS DESCRIPTION COMMAND... — polls COMMAND until it succeeds.
wait_for() {
  local secs="$1" what="$2"; shift 2
  local i
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# pid_is FILE WORDS: the process in FILE is alive and has WORDS in its command line (a pid file left by
# a service that died with the machine may name a process that is now something else).
pid_is() { pid_alive "$1" && tr '\0' ' ' <"/proc/$(cat "$1")/cmdline" 2>/dev/null | grep -qF -- "$2"; }
