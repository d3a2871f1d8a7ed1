#!/usr/bin/env bash
# probe-image.sh — builds riglab's telemetry probe image locally (no registry) and prints its tag.
#
#   bash infra/probe-image.sh
#
# Uses the engine at $DOCKER_HOST. Progress goes to stderr; stdout is the tag alone:
#   riglab/probe:<recipe hash>
# The image is FROM scratch: Debian's static busybox, links for the applets the probe uses,
# spawner/src/probes/image/probe.sh as /probe.sh, and this host's glibc (x86_64, where present) so
# that the nvidia-smi the NVIDIA runtime mounts into the probe can run. The recipe hash is the first
# 12 hex digits of
#   sha256( for each regular file of the image, sorted bytewise by path: "<sha256>  <path>\n" )
# i.e. `find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum`, the hash the spawner computes
# (spawner/src/probes/probe-image.ts), which imports the same image itself into a rig that lacks it.
# An image with that tag already in the engine is never rebuilt.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUSYBOX="${RIGLAB_BUSYBOX:-/bin/busybox}"
SCRIPT="$RIGLAB_ROOT/spawner/src/probes/image/probe.sh"
[ -f "$SCRIPT" ] || die "the probe script $SCRIPT is missing"

# busybox-static puts its binary at /bin/busybox; a dynamically linked busybox would not run FROM scratch.
if [ ! -x "$BUSYBOX" ]; then
  [ "$BUSYBOX" = /bin/busybox ] || die "RIGLAB_BUSYBOX=$BUSYBOX is not an executable file"
  ensure_packages busybox:busybox-static
fi
if command -v file >/dev/null 2>&1 && file -L "$BUSYBOX" | grep -q 'dynamically linked'; then
  die "$BUSYBOX is dynamically linked: install busybox-static (apt-get install busybox-static)"
fi

command -v docker >/dev/null 2>&1 || die "the docker CLI is missing (apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "no Docker engine answers at ${DOCKER_HOST:-the default socket}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/riglab-probe.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"/{bin,dev,etc,proc,sys,rig/data-root,tmp,usr/bin,usr/lib}
install -m 0755 "$BUSYBOX" "$ROOTFS/bin/busybox"
install -m 0755 "$SCRIPT" "$ROOTFS/probe.sh"
GLIBC_DIR=lib/x86_64-linux-gnu
GLIBC=(ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1)
have_glibc=1
for f in "${GLIBC[@]}"; do [ -e "/$GLIBC_DIR/$f" ] || have_glibc=0; done
if [ $have_glibc -eq 1 ]; then
  mkdir -p "$ROOTFS/$GLIBC_DIR" "$ROOTFS/usr/$GLIBC_DIR" "$ROOTFS/lib64"
  for f in "${GLIBC[@]}"; do install -m 0755 "/$GLIBC_DIR/$f" "$ROOTFS/$GLIBC_DIR/$f"; done  # follows links
  ln -s "../$GLIBC_DIR/ld-linux-x86-64.so.2" "$ROOTFS/lib64/ld-linux-x86-64.so.2"
else
  warn "no x86_64 glibc under /$GLIBC_DIR: the probe will not be able to run nvidia-smi"
fi
# ipmitool (Debian's, with the libraries it links beyond glibc) for rigs whose board has a BMC.
if [ $have_glibc -eq 1 ] && [ -x /usr/bin/ipmitool ]; then
  install -m 0755 /usr/bin/ipmitool "$ROOTFS/usr/bin/ipmitool"
  for lib in $(ldd /usr/bin/ipmitool | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
    name="$(basename "$lib")"
    case " ${GLIBC[*]} " in *" $name "*) continue ;; esac
    install -m 0755 "$lib" "$ROOTFS/$GLIBC_DIR/$name"
  done
else
  warn "no ipmitool on this host (apt-get install ipmitool): the probe will not read BMC sensors"
fi
HASH="$(cd "$ROOTFS" && find . -type f -print0 | sed -z 's|^\./||' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
TAG="riglab/probe:$HASH"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

started=$SECONDS
for applet in sh cat grep df nproc timeout ls head tr test '[' dmesg awk; do
  ln -s busybox "$ROOTFS/bin/$applet"
done

say "importing $TAG"
tar -C "$ROOTFS" --numeric-owner --owner=0 --group=0 -c . | docker import \
  -c 'CMD ["/bin/sh", "/probe.sh"]' \
  -c "LABEL org.riglab.role=probe org.riglab.recipe=$HASH" \
  -m "riglab telemetry probe (recipe $HASH)" \
  - "$TAG" >/dev/null
say "built $TAG in $((SECONDS - started)) s"
echo "$TAG"
