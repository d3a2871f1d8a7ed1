#!/usr/bin/env bash
# lab-image.sh — builds a course template's lab image locally (no registry) and prints its tag.
#
#   bash infra/lab-image.sh [TEMPLATE_DIR]      (default: course-templates/python-basics)
#
# Uses the engine at $DOCKER_HOST. Progress goes to stderr; stdout is the tag alone:
#   riglab/lab-<slug>:<recipe hash>
# The recipe hash is the first 12 hex digits of
#   sha256( for each file under the recipe folder, sorted bytewise by relative path:
#             "<sha256 hex of the file's content>  <relative path>\n" )
# i.e. `cd RECIPE && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum`.
# An image with that tag already in the engine is never rebuilt (the run takes well under a second).
#
# The build: a debootstrap minbase rootfs of Debian $SUITE (cached as a tarball under
# $RIGLAB_STATE/cache/, so only the first build pays for it), the recipe's packages.txt installed
# with apt in a chroot, the user jovyan (uid 1000, gid 100), the recipe's riglab-start as
# /usr/local/bin/riglab-start, then `docker import` with USER/WORKDIR/ENV/EXPOSE/CMD/LABEL.
# Needs root (debootstrap, chroot, mount).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE="${RIGLAB_LAB_SUITE:-bookworm}"
TEMPLATE_DIR="${1:-$RIGLAB_ROOT/course-templates/python-basics}"
[ -f "$TEMPLATE_DIR/template.json" ] || die "no template.json in $TEMPLATE_DIR"
TEMPLATE_DIR="$(cd "$TEMPLATE_DIR" && pwd)"

# --- read the template (node is what riglab runs on; python3 as a fallback) ----------------------
template_field() { # template_field KEY... — the string at that path in template.json, or nothing
  if command -v node >/dev/null 2>&1; then
    node -e 'let v=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));for(const k of process.argv.slice(2))v=v!=null&&typeof v==="object"?v[k]:undefined;process.stdout.write(typeof v==="string"?v:"")' \
      "$TEMPLATE_DIR/template.json" "$@"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v.get(k) if isinstance(v,dict) else None
sys.stdout.write(v if isinstance(v,str) else "")' "$TEMPLATE_DIR/template.json" "$@"
  else
    die "reading template.json needs node or python3"
  fi
}
SLUG="$(template_field slug)" || die "template.json in $TEMPLATE_DIR is not valid JSON"
[[ "$SLUG" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "template slug '$SLUG' is not a valid image name part"
RECIPE_NAME="$(template_field image recipe)"
[[ "$RECIPE_NAME" != */* && "$RECIPE_NAME" != .* ]] || die "image.recipe must name a folder inside the template"
RECIPE="$TEMPLATE_DIR/${RECIPE_NAME:-image}"
[ -d "$RECIPE" ] || die "recipe folder $RECIPE is missing"
[ -f "$RECIPE/packages.txt" ] || die "recipe $RECIPE has no packages.txt"
[ -f "$RECIPE/riglab-start" ] || die "recipe $RECIPE has no riglab-start"

recipe_hash() {
  (cd "$RECIPE" && find . -type f -print0 | sed -z 's|^\./||' | LC_ALL=C sort -z \
    | xargs -0 -r sha256sum | sha256sum | cut -c1-12)
}
HASH="$(recipe_hash)"
TAG="riglab/lab-$SLUG:$HASH"

command -v docker >/dev/null 2>&1 || die "the docker CLI is missing (apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "no Docker engine answers at ${DOCKER_HOST:-the default socket}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

# --- build -------------------------------------------------------------------------------------
is_root || die "building a lab image needs root (debootstrap, chroot, mount)"
ensure_packages debootstrap:debootstrap

mkdir -p "$RIGLAB_STATE/build" "$RIGLAB_STATE/cache"
# One build at a time on this machine; whoever waited re-checks the tag first.
exec 9>"$RIGLAB_STATE/build/lab-image.lock"
if ! flock -n 9; then
  say "another lab image build is running; waiting for it"
  flock 9
fi
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

# The Debian mirror the host uses (deb822 .sources or one-line .list), else deb.debian.org.
host_mirror() { # host_mirror SUITE
  local suite="$1" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      BEGIN { RS=""; FS="\n" }
      {
        uris=""; suites=""; types=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { uris = $i;   sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = " " $i " "; sub(/^ Suites:/, "", suites) }
          if ($i ~ /^Types:/)  { types = $i }
        }
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && suites ~ ("[ \t]" suite "[ \t]")) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done | head -n1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$f"
  done | head -n1
}
MIRROR="$(host_mirror "$SUITE" | head -n1)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY="$(host_mirror "$SUITE-security" | head -n1)"

ARCH="$(dpkg --print-architecture)"
BASE="$RIGLAB_STATE/cache/debootstrap-$SUITE-minbase-$ARCH.tar"
WORK="$(mktemp -d "$RIGLAB_STATE/build/lab-$SLUG.XXXXXX")"
ROOTFS="$WORK/rootfs"
cleanup() {
  local rc=$?
  if [ -d "$ROOTFS/proc" ] && mountpoint -q "$ROOTFS/proc"; then
    umount "$ROOTFS/proc" || umount -l "$ROOTFS/proc" || true
  fi
  # Never follow a mount that somehow survived into the host's filesystems.
  if [ -d "$ROOTFS/proc" ] && mountpoint -q "$ROOTFS/proc"; then
    warn "left $WORK in place: $ROOTFS/proc is still mounted"
  else
    rm -rf --one-file-system "$WORK"
  fi
  rm -f "$BASE.tmp.$$"
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
if [ ! -s "$BASE" ]; then
  say "debootstrap base $SUITE from $MIRROR (about 1 minute)"
  mkdir "$WORK/base"
  debootstrap --variant=minbase "$SUITE" "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  if tar -C "$WORK/base" --numeric-owner -cf "$BASE.tmp.$$" . && mv "$BASE.tmp.$$" "$BASE"; then
    say "cached the base rootfs as $BASE"
  else
    rm -f "$BASE.tmp.$$"
    warn "could not cache the base rootfs under $RIGLAB_STATE/cache (the next build debootstraps again)"
  fi
  mv "$WORK/base" "$ROOTFS"
else
  say "base rootfs from cache ($BASE)"
  mkdir "$ROOTFS"
  tar -C "$ROOTFS" --numeric-owner -xf "$BASE"
fi

# Apt sources for the chroot: the suite, its updates and (when the host has it) security.
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  [ -n "$SECURITY" ] && echo "deb ${SECURITY%/} $SUITE-security main"
} >"$ROOTFS/etc/apt/sources.list"
echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/99riglab-no-translations"
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true

mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]\+/\n/g' "$RECIPE/packages.txt" | grep -v '^$' || true)
[ ${#PACKAGES[@]} -gt 0 ] || die "$RECIPE/packages.txt lists no packages"

say "installing packages: ${PACKAGES[*]}"
mount -t proc proc "$ROOTFS/proc"
in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
{
  in_root apt-get update -q &&
  in_root apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" &&
  in_root apt-get clean
} >"$WORK/apt.log" 2>&1 || { tail -n 30 "$WORK/apt.log" >&2; die "apt-get in the chroot failed (log above)"; }

say "adding the user jovyan and riglab-start"
getent_group_100="$(in_root getent group 100 || true)"
[ -n "$getent_group_100" ] || in_root groupadd -g 100 users
in_root useradd --create-home --uid 1000 --gid 100 --shell /bin/bash jovyan
install -m 0755 "$RECIPE/riglab-start" "$ROOTFS/usr/local/bin/riglab-start"
umount "$ROOTFS/proc"

# Keep the image small and free of build-host leftovers.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
  "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/var/log/apt/* "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
: >"$ROOTFS/etc/resolv.conf"
mkdir -p "$ROOTFS/tmp" && chmod 1777 "$ROOTFS/tmp"

say "importing $TAG"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  -c 'USER jovyan' \
  -c 'WORKDIR /home/jovyan' \
  -c 'ENV HOME=/home/jovyan SHELL=/bin/bash USER=jovyan LANG=C.UTF-8 PYDEVD_DISABLE_FILE_VALIDATION=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'EXPOSE 8888' \
  -c 'CMD ["/usr/local/bin/riglab-start"]' \
  -c "LABEL org.riglab.template=$SLUG org.riglab.recipe=$HASH org.riglab.suite=$SUITE" \
  -m "riglab lab image for $SLUG (recipe $HASH)" \
  - "$TAG" >/dev/null
say "built $TAG in $((SECONDS - started)) s"
echo "$TAG"
