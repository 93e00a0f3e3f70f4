#!/usr/bin/env bash
# Memory profiles of processes using jemalloc or tcmalloc (preloaded): the leak fixture
# under each allocator found on this host shows its leaking chain in inuse_space with
# about the bytes it holds and not the freeing chain, the allocator library's own
# functions probed (and libc's mmap inside them not counted again). Skips when neither
# libjemalloc2 nor libtcmalloc-minimal4 is installed.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
. "$(dirname "$0")/offcpu_lib.sh"
require_privileges
libs=()
for l in libjemalloc.so.2 libtcmalloc_minimal.so.4; do
  p=$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')
  [ -n "$p" ] && libs+=("$p")
done
[ ${#libs[@]} -gt 0 ] || skip "neither libjemalloc2 nor libtcmalloc-minimal4 is installed"
build_fx alloc leak

within() { # within GOT WANT PCT
  awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { exit !(w > 0 && g >= w * (1 - p / 100) && g <= w * (1 + p / 100)) }'
}

start_daemon 19 1s "    memory:
      enabled: true
      sample_bytes: 65536
      include:
        comm: ['^$FX_leak\$']"
pids=()
for l in "${libs[@]}"; do
  read -r pid leaked < <(LD_PRELOAD=$l "$WORK/$FX_leak" 10000 64) || fail "leak fixture failed under $l"
  pids+=("$pid $leaked $l")
done
sleep 1.5
stop_daemon

for e in "${pids[@]}"; do
  read -r pid leaked lib <<<"$e"
  held=$(max_window_sum "$pid" inuse_space '(^|;)main;opd_fx_leaker;opd_fx_leak_one;')
  freed=$(type_sum "$pid" inuse_space '(^|;)main;opd_fx_freer;')
  echo "$(basename "$lib"): inuse_space of the leaking chain $held (holds $leaked), of the freeing chain $freed"
  within "$held" "$leaked" 15 || fail "$(basename "$lib"): leaking chain's inuse_space $held not within 15% of $leaked"
  [ "$freed" -eq 0 ] || fail "$(basename "$lib"): the freeing chain shows $freed bytes in use"
  grep -q "probing .*/$(basename "$lib")" "$WORK/daemon.log" ||
    fail "$(basename "$lib") was not probed"
done
echo PASS
