#!/bin/sh
# riglab telemetry probe: runs inside the read-only probe container (busybox only) and prints what
# the rig's hardware offers, one delimited section per source. It reads, never writes: every source
# that is missing is named on a "@@riglab missing SOURCE REASON" line instead of failing the probe.
# The parsers in spawner/src/probes/parsers read this format; change both together.
# A sysfs read can block on a sick GPU, so every slow source runs under `timeout`.

section() { echo "@@riglab section $1"; }
missing() { echo "@@riglab missing $1 $2"; }

echo "@@riglab probe 1"

section nproc
nproc

section loadavg
cat /proc/loadavg

section meminfo
cat /proc/meminfo

# The engine's data root is bind-mounted read-only here by the spawner (see rig-prober.ts).
if [ -d /rig/data-root ]; then
  section df
  df -P -k /rig/data-root
else
  missing df "the engine's data root was not mounted into the probe"
fi

# Board sensors. `grep .` prints "path:value" for every readable file and skips unreadable ones.
set -- /sys/class/hwmon/hwmon*
if [ -e "$1" ]; then
  section hwmon
  for h in "$@"; do
    timeout 2 grep -s . "$h"/name "$h"/temp*_input "$h"/temp*_label "$h"/fan*_input "$h"/power*_average 2>/dev/null
  done
else
  missing hwmon "no hwmon sensors are exposed by this rig's kernel"
fi

# AMD GPUs (amdgpu driver): only cards whose vendor is 0x1002 are read.
amd=0
for d in /sys/class/drm/card[0-9]*/device; do
  [ -e "$d/vendor" ] || continue
  [ "$(cat "$d/vendor" 2>/dev/null)" = "0x1002" ] || continue
  [ $amd -eq 0 ] && section amd
  amd=1
  timeout 2 grep -s . "$d"/vendor "$d"/device "$d"/uevent "$d"/gpu_busy_percent \
    "$d"/mem_info_vram_total "$d"/mem_info_vram_used \
    "$d"/current_link_speed "$d"/current_link_width "$d"/max_link_speed "$d"/max_link_width "$d"/pcie_replay_count \
    "$d"/hwmon/hwmon*/temp1_input "$d"/hwmon/hwmon*/fan1_input "$d"/hwmon/hwmon*/power1_average \
    "$d"/hwmon/hwmon*/power1_cap 2>/dev/null
done
[ $amd -eq 1 ] || missing amd "no AMD GPU (amdgpu driver) on this rig"

# NVIDIA: the NVIDIA container runtime mounts nvidia-smi into the probe when GPUs are requested.
if command -v nvidia-smi >/dev/null 2>&1; then
  section nvidia-smi
  timeout 4 nvidia-smi --query-gpu=index,uuid,name,driver_version,pci.bus_id,temperature.gpu,fan.speed,power.draw,power.limit,memory.used,memory.total,utilization.gpu,clocks.sm,clocks.mem,clocks_throttle_reasons.active,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max --format=csv 2>&1
  echo "@@riglab exit $?"
else
  missing nvidia-smi "not available in the probe (no NVIDIA runtime or GPUs on this rig)"
fi

# NVIDIA's full report holds what --query-gpu lacks: the PCIe replay counter (rising on a failing
# riser) and the card's own slowdown threshold. Only those lines are kept (the report is long).
if command -v nvidia-smi >/dev/null 2>&1; then
  section nvidia-smi-q
  timeout 4 nvidia-smi -q 2>/dev/null | grep -E '^GPU |Replays [Ss]ince [Rr]eset|GPU Slowdown'
fi

# Xid errors are only in the kernel log. Reading it needs CAP_SYSLOG, the one capability the probe
# keeps; the NVRM Xid lines and the last line's stamp come from one read, so no line is counted twice.
if dmesg >/dev/null 2>&1; then
  section kernel
  echo "boot_id $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
  dmesg | awk '/NVRM: Xid/ { print } { last = $0 } END { print "until " last }'
else
  missing kernel "the kernel log is not readable in the probe (CAP_SYSLOG not granted)"
fi

# BMC sensors, on server boards only.
# The spawner passes /dev/ipmi0 in where the rig has one (see rig-prober.ts).
if [ ! -e /dev/ipmi0 ]; then
  missing ipmitool "no BMC on this rig (no /dev/ipmi0)"
elif [ ! -x /usr/bin/ipmitool ]; then
  missing ipmitool "the rig has a BMC but the probe image has no ipmitool (install ipmitool on the portal host)"
else
  section ipmitool
  # ipmitool warns that its IANA enterprise-number registry (a 5 MB text file of OEM names) is
  # not in the image; the sensors do not need it.
  out="$(LD_LIBRARY_PATH=/lib/x86_64-linux-gnu timeout 4 /usr/bin/ipmitool sdr 2>&1)"
  code=$?
  echo "$out" | grep -v 'IANA PEN registry open failed'
  echo "@@riglab exit $code"
fi

echo "@@riglab end"
