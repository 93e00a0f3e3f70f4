#!/usr/bin/env bash
# Off-CPU profiling overhead (bench/RESULTS.mem.md): a pipe ping-pong between two
# processes (tests/data/offcpu/pingpong.c, two context switches per round trip) without
# the daemon, with the daemon at off_cpu_threshold 0 (CPU sampling only), 0.1 and 1,
# alternated ROUNDS times. Needs root (or CAP_BPF+CAP_PERFMON). Usage:
#   bench/run_offcpu.sh [build dir] [round trips] [rounds]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
N=${2:-200000}
ROUNDS=${3:-3}
BIN=$BUILD/otelprofd
W=$(mktemp -d /tmp/opd-offcpubench.XXXXXX)
D=""
trap '[ -n "$D" ] && kill -KILL $D 2>/dev/null; rm -rf "$W"' EXIT
cc -O2 -o "$W/opd_pingpong" "$SRC/tests/data/offcpu/pingpong.c"

. "$SRC/bench/bench_lib.sh"

echo "# round_trips wall_s wall_ns_per_round_trip"
for r in $(seq "$ROUNDS"); do
  echo "none   $("$W/opd_pingpong" "$N")"
  for t in 0 0.1 1; do
    daemon "    off_cpu_threshold: $t"
    echo "t=$t  $("$W/opd_pingpong" "$N")"
    stop
  done
done
