#!/usr/bin/env bash
# The kernel matrix: boots every kernel of tests/kernels/kernels.list under qemu (TCG) with
# the current build of otelprofd in a busybox initramfs and judges each one
# (tests/kernels/judge.sh). One line per kernel, then "kernels: N passed, M failed".
#
#   tests/kernels/run.sh                    every kernel
#   OPD_KERNELS="6.1 7.3" tests/kernels/run.sh     a subset, by series
#
# OPD_KERNEL_CACHE       where fetch.sh keeps the kernels (/var/cache/otelprofd/kernels)
# OPD_KERNEL_RESULTS     serial logs and results (build/kernels)
# OPD_KERNEL_TIMEOUT     seconds one kernel may take, boot to power-off (240)
# OPD_FIXTURE_SECONDS    seconds each fixture runs in the guest (12; see initramfs.sh)
# OTELPROFD              the binary under test (build/otelprofd)
# A kernel that cannot be fetched is a SKIP with its reason; with CI=true it is a failure.
# Exit status: 0 when every kernel passed, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
results=${OPD_KERNEL_RESULTS:-$src/build/kernels}
timeout_s=${OPD_KERNEL_TIMEOUT:-240}
# Two kernels at a time: one TCG vCPU each keeps a host core busy, and this is a 2-core
# machine shared with other builds.
jobs=2
# The guest gives up waiting for the daemon a little before the host gives up on the guest.
export OPD_READY_TIMEOUT=$((timeout_s * 3 / 4))

for tool in qemu-system-x86_64 cpio busybox; do
  command -v "$tool" >/dev/null ||
    { echo "kernels: $tool is missing (scripts/setup installs it)" >&2; exit 1; }
done

mkdir -p "$results"
rm -f "$results"/*.log "$results"/*.result
read -ra series_list <<<"${OPD_KERNELS:-}"
"$here/fetch.sh" "${series_list[@]}" >"$results/kernels.txt"
"$here/initramfs.sh" "$results"

# stamp: each line of stdin behind the seconds since this started, "[  12.345] ", without
# the serial console's carriage returns.
stamp() {
  local t0=${EPOCHREALTIME/./} line us
  while IFS= read -r line || [ -n "$line" ]; do
    us=$((${EPOCHREALTIME/./} - t0))
    printf '[%4d.%03d] %s\n' $((us / 1000000)) $((us / 1000 % 1000)) "${line%$'\r'}"
  done
}

# boot SERIES RELEASE IMAGE: boots the kernel, its console into $results/SERIES.log, and
# judges it into $results/SERIES.result.
boot() {
  local log=$results/$1.log rc=0 t0=$SECONDS
  timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp 1 \
    -nographic -no-reboot -kernel "$3" -initrd "$results/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 | stamp >"$log" || rc=$?
  [ "$rc" != 124 ] || echo "qemu stopped after the ${timeout_s} s timeout" >>"$log"
  "$here/judge.sh" "$log" "$2" >"$results/$1.result" || true
  echo "kernels: $1 done in $((SECONDS - t0)) s" >&2
}

t0=$SECONDS
running=0
while read -r series release image; do
  [ "$release" != SKIP ] || continue
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "kernels: booting $release" >&2
  boot "$series" "$release" "$image" &
  running=$((running + 1))
done <"$results/kernels.txt"
wait

passed=0
failed=0
skipped=0
while read -r series release reason; do
  if [ "$release" = SKIP ]; then
    if [ "${CI:-}" = true ]; then
      echo "$series FAIL cannot be fetched (CI expects every kernel): $reason"
      failed=$((failed + 1))
    else
      echo "$series SKIP $reason"
      skipped=$((skipped + 1))
    fi
    continue
  fi
  result=$(cat "$results/$series.result" 2>/dev/null || echo "$release FAIL no result")
  echo "$result"
  case $result in
    *" PASS "*) passed=$((passed + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
done <"$results/kernels.txt"
echo "kernels: booted in $((SECONDS - t0)) s; serial logs in $results"
echo "kernels: $passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
[ "$failed" = 0 ]
