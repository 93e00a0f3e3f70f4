#!/usr/bin/env bash
# The table unwinder through the daemon (needs root): build/otelprofd with the profiling
# receiver, unwinding.method auto (tables) against frame_pointer.
#  1. Per-sample cost of the sampler program on the whole host (kernel bpf_stats through
#     the daemon's own otelprofd_profiling_bpf_run_* metrics), with the chain fixture
#     (-O2 -fomit-frame-pointer) burning one CPU.
#  2. Workload slowdown, same run, same frequency: the chain fixture's iterations alone,
#     under otelprofd (tables, scoped to the fixture) and under
#     `perf record --call-graph dwarf` (which samples only the fixture too). Best of REPS.
#  3. Frame budget: the deep fixture (301-call recursion) scoped, max_frames 127 against
#     512: sampler cost per sample and frames recorded.
# Prints a markdown section; append it to bench/RESULTS.unwind.md.
#   BUILD  build dir with otelprofd (default build)   HZ   frequency (default 997)
#   SECS   seconds per run (default 3)                REPS repetitions (default 3)
#   ONLY   "budget": only part 3
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/otelprofd
HZ=${HZ:-997}
SECS=${SECS:-3}
REPS=${REPS:-3}
TMP=$(mktemp -d /tmp/opd-unwbench.XXXXXX)
STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)
DPID=""
cleanup() {
  [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
  echo "$STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "run_unwind_daemon: needs root" >&2; exit 77; }
[ -x "$BIN" ] || { echo "run_unwind_daemon: $BIN not found" >&2; exit 1; }
command -v perf >/dev/null || { echo "run_unwind_daemon: perf is needed" >&2; exit 1; }
cc -O2 -fomit-frame-pointer -g -o "$TMP/uwbench" "$ROOT/tests/data/unwind/chain.c"
cc -O2 -fomit-frame-pointer -g -o "$TMP/uwdeep" "$ROOT/tests/data/unwind/deep.c"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# start METHOD SCOPE [MAX_FRAMES]: SCOPE "host" samples everything, "fixture" only the
# fixtures.
start() {
  local scope=""
  [ "$2" = fixture ] && scope='    include: { comm: ["^uw(bench|deep)$"] }'
  cat >"$TMP/cfg.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $HZ
    reporter_interval: 1s
    max_frames: ${3:-127}
    unwinding: { method: $1 }
$scope
exporters:
  file: { path: $TMP/out.folded, format: folded, flush_interval: 0s }
service:
  telemetry: { metrics: { address: "127.0.0.1:$PORT" } }
  pipelines: { profiles: { receivers: [profiling], exporters: [file] } }
YAML
  "$BIN" --config "$TMP/cfg.yaml" >"$TMP/daemon.log" 2>&1 &
  DPID=$!
  for _ in $(seq 1 3000); do
    grep -q "everything is ready" "$TMP/daemon.log" && return 0
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  echo "otelprofd did not start" >&2
  cat "$TMP/daemon.log" >&2
  exit 1
}
stop() { kill -INT "$DPID"; wait "$DPID" || true; DPID=""; }
metric() {
  awk -v m="$1" '$1 ~ "^" m "(_total)?({|$)" { n += $2 } END { printf "%d", n }' "$TMP/m.txt"
}
iters() { "$@" | awk '/iterations/ { print $1 }'; }
# snap SUFFIX: fetches the daemon's metrics and keeps the counters the tables below need
# as n<SUFFIX> (program runs), t (run time), r (recorded samples), w (walks), f (frames).
snap() {
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$TMP/m.txt"
  printf -v "n$1" '%s' "$(metric otelprofd_profiling_bpf_run_count)"
  printf -v "t$1" '%s' "$(metric otelprofd_profiling_bpf_run_time_ns)"
  printf -v "r$1" '%s' "$(metric otelprofd_profiling_samples_recorded)"
  printf -v "w$1" '%s' "$(metric otelprofd_unwind_walks)"
  printf -v "f$1" '%s' "$(( $(metric otelprofd_unwind_frames_table) +
                            $(metric otelprofd_unwind_frames_frame_pointer) ))"
}

budget() {
  echo "### Frame budget: deep fixture (301-call recursion), scoped, $HZ Hz, $SECS s"
  echo
  echo "| max_frames | runs | ns/run | frames/walk | user frames of the longest stack |"
  echo "|---|---|---|---|---|"
  for mf in 127 512; do
    start auto fixture "$mf"
    sleep 1
    snap 0
    "$TMP/uwdeep" "$SECS" >/dev/null
    sleep 1.2
    snap 1
    stop
    longest=$(awk '/^uwdeep;/ { $NF = ""; n = split($0, f, ";"); u = 0
      for (i = 2; i <= n; i++) if (f[i] !~ /_\[k\] *$/) u++
      if (u > m) m = u } END { print m + 0 }' "$TMP/out.folded")
    awk -v mf="$mf" -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v w=$((w1 - w0)) -v f=$((f1 - f0)) \
        -v l="$longest" 'BEGIN {
      printf "| %d | %d | %.0f | %.1f | %d |\n", mf, n, n ? t / n : 0, w ? f / w : 0, l }'
    rm -f "$TMP/out.folded"
  done
  echo
}
if [ "${ONLY:-}" = budget ]; then
  echo "## Frame budget through the daemon ($(date -u +%F), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
  echo
  echo "\`bench/run_unwind_daemon.sh\` (ONLY=budget BUILD=$BUILD HZ=$HZ SECS=$SECS)."
  echo
  budget
  exit 0
fi

echo "## 6. Through the daemon ($(date -u +%F), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
echo
echo "\`bench/run_unwind_daemon.sh\` (BUILD=$BUILD HZ=$HZ SECS=$SECS REPS=$REPS)."
echo
echo "### Sampler program cost per sample, whole host, chain fixture running"
echo
echo "| unwinding.method | runs | ns/run (all samples) | ns/recorded sample | frames/walk (table + fp) | complete chain samples |"
echo "|---|---|---|---|---|---|"
for method in auto frame_pointer; do
  start "$method" host
  sleep 1 # first tables built, the first interval's stats as a baseline
  snap 0
  "$TMP/uwbench" "$SECS" >/dev/null
  sleep 1.2
  snap 1
  stop
  tot=$(awk '/^uwbench;/ { n += $NF } END { print n + 0 }' "$TMP/out.folded")
  ok=$(awk '/^uwbench;(.*;)?main;chain_a;chain_b;chain_c;chain_d;chain_leaf( |;|$)/ { n += $NF } END { print n + 0 }' "$TMP/out.folded")
  awk -v m="$method" -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v r=$((r1 - r0)) -v w=$((w1 - w0)) \
      -v f=$((f1 - f0)) -v tot="$tot" -v ok="$ok" 'BEGIN {
    printf "| %s | %d | %.0f | %.0f | %s | %d of %d (%.1f %%) |\n", m, n, n ? t / n : 0,
      r ? t / r : 0, w ? sprintf("%.1f", f / w) : "– (no table walk)", ok, tot,
      tot ? 100 * ok / tot : 0 }'
  rm -f "$TMP/out.folded"
done
echo
echo "### Workload slowdown, same run ($HZ Hz, chain fixture iterations in $SECS s, best of $REPS)"
echo
best_alone=0; best_opd=0; best_perf=0
for _ in $(seq 1 "$REPS"); do
  a=$(iters "$TMP/uwbench" "$SECS")
  start auto fixture
  o=$(iters "$TMP/uwbench" "$SECS")
  stop
  p=$(iters perf record -q -F "$HZ" --call-graph dwarf -o "$TMP/perf.data" -- "$TMP/uwbench" "$SECS" 2>/dev/null)
  [ "$a" -gt "$best_alone" ] && best_alone=$a
  [ "$o" -gt "$best_opd" ] && best_opd=$o
  [ "$p" -gt "$best_perf" ] && best_perf=$p
done
psize=$(du -k "$TMP/perf.data" | cut -f1)
echo "| Mode | Iterations | Slowdown |"
echo "|---|---|---|"
echo "| alone | $best_alone | – |"
awk -v a="$best_alone" -v o="$best_opd" -v p="$best_perf" -v ps="$psize" 'BEGIN {
  printf "| otelprofd, unwinding auto (tables), scoped to the fixture | %d | %.1f %% |\n", o, 100 * (a - o) / a
  printf "| perf record -F HZ --call-graph dwarf (%d KiB of perf.data) | %d | %.1f %% |\n", ps, p, 100 * (a - p) / a }' | sed "s/HZ/$HZ/"
