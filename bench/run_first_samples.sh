#!/usr/bin/env bash
# The first seconds of a process (needs root): how soon after a new process's first sample
# its unwind tables are published (from then on its stacks are table-walked; the samples
# before are walked by frame pointer and say so), on an idle host and on one running 2,000
# more processes. The daemon samples at HZ, scoped to the fixture; the fixture (the
# no-frame-pointer chain) is started RUNS times for RUN_SECS each. Reads the daemon's
# otelprofd_unwind_tables_published_within{le} buckets and the fixture's complete share.
#   BUILD (default build)  HZ (99)  RUNS (20)  RUN_SECS (0.5)  PROCS (2000)
set -euo pipefail
. "$(dirname "$0")/bench_lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/otelprofd
HZ=${HZ:-99}
RUNS=${RUNS:-20}
RUN_SECS=${RUN_SECS:-0.5}
PROCS=${PROCS:-2000}
TMP=$(mktemp -d /tmp/opd-first.XXXXXX)
DPID=""
cleanup() {
  [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
  pkill -KILL -f "$TMP/idle" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "run_first_samples: needs root" >&2; exit 77; }
cc -O2 -fomit-frame-pointer -g -o "$TMP/fschain" "$ROOT/tests/data/unwind/chain.c"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# measure LABEL: one daemon, RUNS fixture processes, one table row.
measure() {
  cat >"$TMP/cfg.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $HZ
    reporter_interval: 1s
    include: { comm: ["^fschain$"] }
exporters:
  file: { path: $TMP/out.folded, format: folded, flush_interval: 0s }
service:
  telemetry: { metrics: { address: "127.0.0.1:$PORT" } }
  pipelines: { profiles: { receivers: [profiling], exporters: [file] } }
YAML
  rm -f "$TMP/out.folded"
  "$BIN" --config "$TMP/cfg.yaml" >"$TMP/daemon.log" 2>&1 &
  DPID=$!
  wait_ready "$TMP/daemon.log" "$DPID"
  for _ in $(seq 1 "$RUNS"); do "$TMP/fschain" "$RUN_SECS" >/dev/null; done
  sleep 1.5
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$TMP/m.txt"
  kill -INT "$DPID"; wait "$DPID" || true; DPID=""
  total=$(awk '/^fschain;/ { n += $NF } END { print n + 0 }' "$TMP/out.folded")
  ok=$(awk '/^fschain;(.*;)?main;chain_a;chain_b;chain_c;chain_d;chain_leaf( |;|$)/ { n += $NF } END { print n + 0 }' "$TMP/out.folded")
  awk -v label="$1" -v total="$total" -v ok="$ok" '
    /^otelprofd_unwind_tables_published_within/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); b[le] = $NF; order[++k] = le }
    /^otelprofd_unwind_tables_published(_total)?\{/ { n = $NF }
    /^otelprofd_unwind_publish_latency_microseconds(_total)?\{/ { sum = $NF }
    /^otelprofd_unwind_publish_latency_max_microseconds\{/ { max = $NF }
    END {
      # the smallest bucket holding half, nine tenths and all of the processes
      for (i = 1; i <= k; i++) { if (!p50 && b[order[i]] >= n / 2) p50 = order[i]; if (!p90 && b[order[i]] >= 0.9 * n) p90 = order[i] }
      printf "| %s | %d | %.1f | ≤ %s s | ≤ %s s | %.1f | %s | %d of %d (%.1f %%) |\n", label, n,
        n ? sum / n / 1000 : 0, p50, p90, max / 1000, b["0.1"] "/" n, ok, total, total ? 100 * ok / total : 0 }' "$TMP/m.txt"
}

echo "## The first seconds of a process ($(date -u +%F), $(uname -r), $(nproc) CPUs)"
echo
echo "\`bench/run_first_samples.sh\` (HZ=$HZ RUNS=$RUNS RUN_SECS=$RUN_SECS PROCS=$PROCS): the"
echo "no-frame-pointer chain started $RUNS times; time from each process's first sample to its"
echo "published unwind tables (the daemon's own histogram), and the share of the fixture's"
echo "samples whose whole chain was recovered."
echo
echo "| host | new processes | mean ms | median | 90th percentile | max ms | published within 100 ms | complete chain samples |"
echo "|---|---|---|---|---|---|---|---|"
measure "idle (load $(cut -d' ' -f1 /proc/loadavg))"
# 2,000 more processes, each with its own address space (a copy of sleep each).
ln -sf "$(command -v sleep)" "$TMP/idle"
for _ in $(seq 1 "$PROCS"); do "$TMP/idle" 3600 & done
sleep 2
measure "$(ls /proc | grep -c '^[0-9]') processes (load $(cut -d' ' -f1 /proc/loadavg))"
