#!/bin/sh
# riglab burn-in checks, one per container of the burn-in image (static busybox only; no network, no
# capabilities). Usage: burnin.sh cpu SECONDS WORKERS | memory MIB | disk MIB | devices PATH...
# What it prints is read by spawner/src/burnin/burnin-output.ts, one fact a line:
#   figure NAME NUMBER   a measurement
#   detail TEXT          what was done and what it measured, for people
#   fail TEXT            why the check failed (the script then exits 1)
# Times come from /proc/uptime (centiseconds), read without a fork, so the loops measure work and
# not the clock.

MIB=1048576
# Each MiB of a pattern is a 16-byte header naming its place plus one shared random block: every MiB
# differs (a fault that maps two addresses onto one shows), yet any MiB can be rebuilt to compare.
BODY=$((MIB - 16))

fail() {
  echo "fail $*"
  exit 1
}

# NOW = centiseconds since boot; "1" before the fraction keeps a leading zero from reading as octal.
now() {
  read -r up _ </proc/uptime
  NOW=$((${up%.*} * 100 + 1${up#*.} - 100))
}

# AMOUNT per CENTISECONDS, per second, one decimal.
rate() { awk -v n="$1" -v cs="$2" 'BEGIN { if (cs < 1) cs = 1; printf "%.1f", n * 100 / cs }'; }
mbps() { awk -v b="$1" -v cs="$2" 'BEGIN { if (cs < 1) cs = 1; printf "%.1f", b / 1e6 * 100 / cs }'; }
secs() { awk -v cs="$1" 'BEGIN { printf "%.2f", cs / 100 }'; }

pattern() {
  printf 'riglab-%08d\n' "$1"
  cat /tmp/block
}

random_block() {
  head -c "$1" /dev/urandom >/tmp/block 2>/dev/null || fail "could not make $1 bytes of random test data in /tmp"
}

cpu() {
  seconds=$1 workers=$2
  # 4 MiB per hash: long enough that hashing, not starting sha256sum, is most of the work.
  random_block $((4 * MIB))
  want=$(sha256sum /tmp/block)
  want=${want%% *}
  now
  start=$NOW end=$((NOW + seconds * 100))
  w=1
  while [ "$w" -le "$workers" ]; do
    (
      ops=0 bad=0
      now
      while [ "$NOW" -lt "$end" ]; do
        got=$(sha256sum /tmp/block)
        [ "${got%% *}" = "$want" ] || bad=$((bad + 1))
        ops=$((ops + 1))
        now
      done
      echo "$ops $bad" >"/tmp/worker.$w"
    ) &
    w=$((w + 1))
  done
  wait
  now
  took=$((NOW - start))
  ops=0 bad=0 idle=0 done=0 w=1
  while [ "$w" -le "$workers" ]; do
    if [ -f "/tmp/worker.$w" ]; then
      read -r o b <"/tmp/worker.$w"
      ops=$((ops + o)) bad=$((bad + b)) done=$((done + 1))
      [ "$o" -gt 0 ] || idle=$((idle + 1))
    fi
    w=$((w + 1))
  done
  echo "figure seconds $(secs "$took")"
  echo "figure workers $workers"
  echo "figure ops $ops"
  echo "figure opsPerSecond $(rate "$ops" "$took")"
  echo "figure hashMiBPerSecond $(rate $((ops * 4)) "$took")"
  echo "figure mismatches $bad"
  [ "$done" -eq "$workers" ] || fail "only $done of $workers workers finished"
  [ "$bad" -eq 0 ] || fail "$bad of $ops SHA-256 sums of the same 4 MiB came out different: the CPU or its memory computes wrong results under load"
  [ "$idle" -eq 0 ] || fail "$idle of $workers workers finished no hash in $(secs "$took") s"
  echo "detail $workers workers hashed the same 4 MiB $ops times in $(secs "$took") s ($(rate "$ops" "$took") hashes/s, $(rate $((ops * 4)) "$took") MiB/s); every sum agreed"
}

memory() {
  mib=$1
  random_block $BODY
  now
  start=$NOW i=0
  while [ "$i" -lt "$mib" ]; do
    pattern "$i"
    i=$((i + 1))
  done >/mem/pattern 2>/dev/null || fail "could not write $mib MiB into memory (tmpfs full or memory limit reached)"
  now
  wrote=$((NOW - start)) start=$NOW bad=0 first=-1 i=0
  while [ "$i" -lt "$mib" ]; do
    pattern "$i" >/tmp/want
    if ! dd if=/mem/pattern bs=$MIB skip="$i" count=1 2>/dev/null | cmp -s - /tmp/want; then
      bad=$((bad + 1))
      [ "$first" -ge 0 ] || first=$i
    fi
    i=$((i + 1))
  done
  now
  read_cs=$((NOW - start))
  echo "figure mib $mib"
  echo "figure writeMiBps $(rate "$mib" "$wrote")"
  echo "figure verifyMiBps $(rate "$mib" "$read_cs")"
  echo "figure mismatches $bad"
  [ "$bad" -eq 0 ] || fail "$bad of $mib MiB read back different from what was written (first at MiB $first)"
  echo "detail wrote a $mib MiB pattern into memory at $(rate "$mib" "$wrote") MiB/s and read every MiB back intact at $(rate "$mib" "$read_cs") MiB/s"
}

disk() {
  mib=$1 file=/scratch/burnin.dat
  random_block $BODY
  # The sum of what is written, from the same generator: no disk involved.
  want=$(i=0; while [ "$i" -lt "$mib" ]; do pattern "$i"; i=$((i + 1)); done | sha256sum)
  want=${want%% *}
  now
  start=$NOW
  (i=0; while [ "$i" -lt "$mib" ]; do pattern "$i"; i=$((i + 1)); done) |
    dd of="$file" bs=$MIB iflag=fullblock conv=fsync 2>/tmp/dd.err || fail "writing $mib MiB to the scratch volume failed: $(tail -n 1 /tmp/dd.err)"
  sync
  now
  wrote=$((NOW - start))
  # O_DIRECT reads the disk, not the page cache that still holds what was just written; a data root
  # whose filesystem refuses O_DIRECT (tmpfs) is read through the cache, and the detail says so.
  direct=1 how="from the disk (O_DIRECT)" flag=iflag=direct
  if [ "$(dd if="$file" bs=$MIB count=1 iflag=direct 2>/dev/null | wc -c)" -ne $MIB ]; then
    direct=0 how="through the page cache (the data root's filesystem refuses O_DIRECT)" flag=
  fi
  now
  start=$NOW
  # shellcheck disable=SC2086 # an empty $flag must vanish
  got=$(dd if="$file" bs=$MIB $flag 2>/dev/null | sha256sum)
  now
  read_cs=$((NOW - start))
  got=${got%% *}
  rm -f "$file"
  bytes=$((mib * MIB))
  same=0
  [ "$got" = "$want" ] && same=1
  echo "figure mib $mib"
  echo "figure writeMBps $(mbps "$bytes" "$wrote")"
  echo "figure readMBps $(mbps "$bytes" "$read_cs")"
  echo "figure checksumMatch $same"
  echo "figure directRead $direct"
  [ "$same" -eq 1 ] || fail "the $mib MiB read back from the scratch volume differ from what was written (sha256 $got, expected $want)"
  echo "detail wrote $mib MiB to a scratch volume on the engine's data root at $(mbps "$bytes" "$wrote") MB/s (with fsync), read them back $how at $(mbps "$bytes" "$read_cs") MB/s; sha256 sums equal"
}

devices() {
  opened=0 total=0
  for d in "$@"; do
    total=$((total + 1))
    [ -e "$d" ] || fail "$d does not exist inside the container"
    [ -c "$d" ] || [ -b "$d" ] || fail "$d is not a device node"
    # Read and write, as a GPU runtime opens its nodes.
    (exec 3<>"$d") 2>/dev/null || fail "$d exists but cannot be opened for reading and writing"
    opened=$((opened + 1))
  done
  echo "figure devices $total"
  echo "figure opened $opened"
  echo "detail opened $* for reading and writing inside a container"
}

check=$1
shift
case "$check" in
cpu) cpu "$@" ;;
memory) memory "$@" ;;
disk) disk "$@" ;;
devices) devices "$@" ;;
*) fail "unknown check '$check'" ;;
esac
