#!/usr/bin/env bash
# Receiver options reach the kernel side: event: cycles (taken, or refused by the hardware
# with a logged fall-back to cpu-clock), kernel_frames: false (no kernel frame anywhere,
# even for a syscall-heavy process) and max_frames (no user stack deeper than asked).
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
build_fixture callchain
build_fixture syscalls

start_daemon 99 1s "    event: cycles
    kernel_frames: false
    max_frames: 3"
"$WORK/$FX_syscalls" 1 || fail "fixture failed"
"$WORK/$FX_callchain" 1 >/dev/null || fail "fixture failed"
sleep 1.5
stop_daemon

if grep -q "sampling .* (cycles)" "$WORK/daemon.log"; then
  echo "event: hardware cycles in use"
elif grep -q "hardware cycles event unavailable" "$WORK/daemon.log" &&
     grep -q "sampling .* (cpu-clock)" "$WORK/daemon.log"; then
  echo "event: cycles unavailable here, fell back to cpu-clock as logged"
else
  fail "event: cycles neither used nor reported as unavailable"
fi
sys=$(folded_sum "^$FX_syscalls;")
kern=$(awk '/_\[k\]/ { n += $NF } END { print n + 0 }' "$WORK/profiles.folded")
deep=$(awk -F';' -v p="$FX_callchain" '$1 == p && NF > 4 { n++ } END { print n + 0 }' "$WORK/profiles.folded")
chain=$(folded_sum "^$FX_callchain;")
echo "kernel_frames off: $kern samples with kernel frames ($sys of the syscall fixture)"
echo "max_frames 3: $deep lines deeper than 3 frames ($chain samples of the call chain fixture)"
[ "$sys" -gt 0 ] && [ "$chain" -gt 0 ] || fail "fixtures were not sampled"
[ "$kern" -eq 0 ] || fail "kernel frames recorded with kernel_frames: false"
[ "$deep" -eq 0 ] || fail "user stacks deeper than max_frames"
# The 3 innermost frames of the chain: beta;gamma under alpha (leaf last).
[ "$(folded_sum "^$FX_callchain;opd_fx_alpha;opd_fx_beta;opd_fx_gamma ")" -gt 0 ] ||
  fail "the 3 kept frames are not the innermost ones"
echo PASS
