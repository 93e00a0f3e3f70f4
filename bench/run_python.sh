#!/usr/bin/env bash
# Benchmark of CPython unwinding (needs root): the extra per-sample cost of the BPF walk
# of interpreter frames. While otelprofd samples at HZ, tests/data/python/chain.py runs
# under PYTHON (Debian's python3) for SECS seconds, then a native frame-pointer program
# with the same sampler for the same time. Reported, from the kernel:
#   - the walk's own time per Python sample (opd_py_stats: OPD_PY_ST_NS / OPD_PY_ST_WALKS,
#     timed with bpf_ktime_get_ns inside the program) and the frames it recorded;
#   - the whole sampler program's mean run time per invocation (kernel.bpf_stats_enabled)
#     in each phase, so the walk's share of a sample is visible;
#   - then NPY (30) chain.py processes at once: the CPU time of the daemon's read-ahead
#     thread (opd-pyprefetch), which reads their code objects before the drain.
# Appends a markdown section to bench/RESULTS.python.md (override with RESULTS=...).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/otelprofd
PYTHON=${PYTHON:-/usr/bin/python3}
HZ=${HZ:-999}
SECS=${SECS:-8}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.python.md}
TMP=$(mktemp -d /tmp/opd-pybench.XXXXXX)
DPID=""
trap '[ -n "$DPID" ] && kill -KILL $DPID 2>/dev/null; rm -rf "$TMP"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "run_python: needs root (BPF and system-wide perf)" >&2; exit 77; }
[ -x "$BIN" ] || { echo "run_python: $BIN not found; build otelprofd first" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "run_python: bpftool is needed" >&2; exit 1; }

cat >"$TMP/native.c" <<'C'
#include <time.h>
__attribute__((noinline)) static unsigned long leaf(unsigned long x) { return x * 6364136223846793005ul + 1; }
__attribute__((noinline)) static unsigned long mid(unsigned long x) { return leaf(x) ^ (x >> 7); }
int main(int argc, char **argv)
{
    time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 5);
    unsigned long x = 1;
    while (time(NULL) < end)
        for (int i = 0; i < 1000000; i++)
            x = mid(x);
    return x == 42 ? 3 : 0; /* keeps x live; a plain x & 1 would fail the script */
}
C
sed -i '1i #include <stdlib.h>' "$TMP/native.c"
cc -O2 -fno-omit-frame-pointer -o "$TMP/native" "$TMP/native.c"

cat >"$TMP/cfg.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $HZ
    reporter_interval: 1s
exporters:
  file:
    path: $TMP/out.folded
    format: folded
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [file]
YAML

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap '[ -n "$DPID" ] && kill -KILL $DPID 2>/dev/null; sysctl -qw kernel.bpf_stats_enabled=$old_stats; rm -rf "$TMP"' EXIT
prog_max=$(bpftool -j prog show | jq '[ .[].id ] | max // 0')
map_max=$(bpftool -j map show | jq '[ .[].id ] | max // 0')
"$BIN" --config "$TMP/cfg.yaml" >"$TMP/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 1 3000); do grep -q "everything is ready" "$TMP/daemon.log" && break; sleep 0.1; done

# Other otelprofd instances may run on the host (bpftool here cannot tell the owning
# pid): take the newest sampler program and py stats map, created after the daemon
# started (ids only grow).
prog_id=$(bpftool -j prog show | jq -r --argjson m "$prog_max" \
  '[ .[] | select(.name == "opd_sample" and .id > $m) | .id ] | max')
map_id=$(bpftool -j map show | jq -r --argjson m "$map_max" \
  '[ .[] | select(.name == "opd_py_stats" and .id > $m) | .id ] | max')
[ "$prog_id" != null ] && [ "$map_id" != null ] || { echo "run_python: daemon's BPF objects not found" >&2; exit 1; }
# prog_stats: "run_time_ns run_cnt" of the sampler program.
prog_stats() {
  bpftool -j prog show id "$prog_id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
}
# py_stats: the per-CPU opd_py_stats counters summed, one number per slot (values come
# as little-endian byte arrays when the map is dumped without BTF).
py_stats() {
  bpftool -j map dump id "$map_id" | python3 -c '
import json, sys
def num(v):
    return v if isinstance(v, int) else int.from_bytes(bytes(int(x, 16) for x in v), "little")
rows = sorted(json.load(sys.stdin), key=lambda e: num(e["key"]))
print(" ".join(str(sum(num(c["value"]) for c in e["values"])) for e in rows))'
}

# The host is shared (builds and tests may run beside the bench): its load is recorded.
load0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r t0 c0 <<<"$(prog_stats)"
read -r -a p0 <<<"$(py_stats)"
"$PYTHON" "$ROOT/tests/data/python/chain.py" "$SECS" >/dev/null
read -r t1 c1 <<<"$(prog_stats)"
read -r -a p1 <<<"$(py_stats)"
"$TMP/native" "$SECS"
read -r t2 c2 <<<"$(prog_stats)"
# Read-ahead phase: NPY chain.py processes at once; CPU time of the daemon's thread that
# reads their code objects ahead of the drain (opd-pyprefetch), from /proc ticks.
NPY=${NPY:-30}
pypids=()
for _ in $(seq 1 "$NPY"); do "$PYTHON" "$ROOT/tests/data/python/chain.py" "$SECS" >/dev/null & pypids+=($!); done
sleep 1
pf_stat=""
for t in /proc/$DPID/task/*; do [ "$(cat "$t/comm")" = opd-pyprefetch ] && pf_stat=$t/stat; done
[ -n "$pf_stat" ] || { echo "run_python: no opd-pyprefetch thread in the daemon" >&2; exit 1; }
pf0=$(awk '{ print $14 + $15 }' "$pf_stat")
sleep $((SECS - 2))
pf1=$(awk '{ print $14 + $15 }' "$pf_stat")
wait "${pypids[@]}"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
kill -INT $DPID; wait $DPID || true; DPID=""

walks=$((p1[0] - p0[0])); notstate=$((p1[1] - p0[1])); frames=$((p1[3] - p0[3]))
ns=$((p1[5] - p0[5]))
res=$(awk -v w="$walks" -v f="$frames" -v ns="$ns" -v nt="$notstate" \
  -v npy="$NPY" -v pf0="$pf0" -v pf1="$pf1" -v secs="$SECS" -v t0="$t0" -v c0="$c0" -v t1="$t1" -v c1="$c1" -v t2="$t2" -v c2="$c2" 'BEGIN {
  printf "| Python samples walked | %d (%d without a thread state) |\n", w, nt
  printf "| frames per walk | %.1f |\n", (w ? f / w : 0)
  printf "| walk time per Python sample (in-program ktime) | %.0f ns |\n", (w ? ns / w : 0)
  printf "| sampler run time per invocation, Python phase (all CPUs) | %.0f ns over %d runs |\n", (c1 > c0 ? (t1 - t0) / (c1 - c0) : 0), c1 - c0
  printf "| sampler run time per invocation, native phase (all CPUs) | %.0f ns over %d runs |\n", (c2 > c1 ? (t2 - t1) / (c2 - c1) : 0), c2 - c1
  printf "| read-ahead thread CPU, %d CPython processes | %d ms over %d s |\n", npy, (pf1 - pf0) * 10, secs - 2
}')
{
  echo
  echo "## $(date -u +%Y-%m-%d) CPython walk, $(uname -r), $(nproc) CPUs, $HZ Hz, ${SECS}s per phase"
  echo
  echo "$("$PYTHON" -V 2>&1) ($PYTHON), fixture tests/data/python/chain.py; native phase: a frame-pointer C loop."
  echo "Host load average (1, 5, 15 min): $load0 before, $load1 after."
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "$res"
} | tee -a "$RESULTS"
