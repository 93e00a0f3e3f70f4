#!/usr/bin/env bash
# CPU hotplug: a CPU taken offline and brought back (faster than one reporter interval,
# which silently kills its perf event) is sampled again: a fixture pinned to it afterwards
# gets its full share of samples. Skips without a hot-pluggable second CPU.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
CPU=1
CTL=/sys/devices/system/cpu/cpu$CPU/online
[ -w "$CTL" ] || skip "CPU $CPU is not hot-pluggable here ($CTL not writable)"
command -v taskset >/dev/null || skip "taskset (util-linux) is needed"
build_fixture callchain

HZ=99
start_daemon $HZ 1s
sleep 0.5
echo 0 >"$CTL" || skip "cannot take CPU $CPU offline"
sleep 0.2
echo 1 >"$CTL" || fail "cannot bring CPU $CPU back online"
# One interval for the receiver to notice and reopen the event.
sleep 2.2
cpu=$(taskset -c $CPU "$WORK/$FX_callchain" 2) || fail "fixture failed"
sleep 1.5
stop_daemon

total=$(folded_sum "^$FX_callchain;")
expected=$(awk -v c="$cpu" -v hz=$HZ 'BEGIN { printf "%d", c * hz }')
echo "pinned fixture after hotplug: $total samples, expected ~$expected"
grep "CPU $CPU" "$WORK/daemon.log"
awk -v t="$total" -v e="$expected" 'BEGIN { exit !(t >= 0.75 * e && t <= 1.25 * e) }' ||
  fail "CPU $CPU was not sampled again after coming back online"
echo PASS
