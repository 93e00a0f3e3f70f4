#!/usr/bin/env bash
# Memory profiling overhead (bench/RESULTS.mem.md): the allocation-heavy benchmark
# tests/data/alloc/bench.c run unprofiled and profiled in the same run, alternated
# ROUNDS times:
#   off     no daemon
#   probed  daemon with memory profiling at the default sample_bytes (512 KiB), the
#           benchmark in the memory scope
#   shared  daemon probing libc for another process in scope, the benchmark itself out
#           of scope (uprobes are per file: every process mapping that libc traps)
# Needs root (or CAP_BPF+CAP_PERFMON+CAP_SYS_ADMIN for uprobes). Usage:
#   bench/run_mem.sh [build dir] [pairs] [rounds]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
N=${2:-2000000}
ROUNDS=${3:-3}
BIN=$BUILD/otelprofd
W=$(mktemp -d /tmp/opd-membench.XXXXXX)
D=""
trap '[ -n "$D" ] && kill -KILL $D 2>/dev/null; rm -rf "$W"' EXIT
cc -O2 -fno-omit-frame-pointer -o "$W/opd_membench" "$SRC/tests/data/alloc/bench.c"
cp "$W/opd_membench" "$W/opd_other"
cc -O2 -x c -o "$W/opd_idle" - <<'C'
#include <stdlib.h>
#include <unistd.h>
int main(void) { void *p = malloc(1); sleep(3600); free(p); return 0; }
C

. "$SRC/bench/bench_lib.sh"
mem_daemon() { # comm regex of the memory scope
  daemon "    memory:
      enabled: true
      include:
        comm: ['$1']"
}

echo "# pairs cpu_s wall_s cpu_ns_per_pair malloc_probed"
for r in $(seq "$ROUNDS"); do
  echo "off    $("$W/opd_membench" 0 "$N")"
  mem_daemon '^opd_membench$'
  echo "probed $("$W/opd_membench" 10000 "$N")"
  stop
  "$W/opd_idle" & I=$!
  mem_daemon '^opd_idle$'
  sleep 2.5
  echo "shared $("$W/opd_other" 0 "$N")"
  stop
  kill $I; wait $I 2>/dev/null || true
done
