#!/usr/bin/env bash
# What the staged BPF walk costs on this host (needs root and perf), interleaved rounds so
# that the VM's drift (±3 % between runs) hits every mode alike:
#  1. BPF cost per sample of the CPU sampler (its whole chain of tail-called stages, from
#     the kernel's bpf stats through the daemon's metrics), unwinding.method auto (tables)
#     against frame_pointer, on the same fixture: the chain built WITH frame pointers, so
#     both walks recover all of its frames; two copies keep both CPUs busy, so that nearly
#     every sample is one of theirs. Also the chain built without frame pointers (tables).
#  2. Workload slowdown at HZ: iterations of the no-frame-pointer chain alone, under
#     otelprofd (tables, the whole host), under `perf record -g` and under
#     `perf record --call-graph dwarf` (both on the fixture only), and each profiler's own
#     CPU per 1,000 samples.
# Prints a markdown section (medians over the rounds, and every round).
#   BUILD (default build)  HZ (999)  SECS per run (3)  ROUNDS (6)
set -euo pipefail
. "$(dirname "$0")/bench_lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/otelprofd
HZ=${HZ:-999}
SECS=${SECS:-3}
ROUNDS=${ROUNDS:-6}
TMP=$(mktemp -d /tmp/opd-walkcost.XXXXXX)
STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)
DPID=""
cleanup() {
  [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
  echo "$STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "run_walk_cost: needs root" >&2; exit 77; }
[ -x "$BIN" ] || { echo "run_walk_cost: $BIN not found" >&2; exit 1; }
command -v perf >/dev/null || { echo "run_walk_cost: perf is needed (linux-perf)" >&2; exit 1; }
cc -O2 -fno-omit-frame-pointer -g -o "$TMP/wcfp" "$ROOT/tests/data/unwind/chain.c"
cc -O2 -fomit-frame-pointer -g -o "$TMP/wcnofp" "$ROOT/tests/data/unwind/chain.c"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# start METHOD SCOPE: otelprofd at HZ with unwinding.method METHOD; SCOPE "fixture" samples
# only the fixtures, "host" everything. Returns once the daemon is ready.
start() {
  local scope=""
  [ "$2" = fixture ] && scope='    include: { comm: ["^wc(fp|nofp)$"] }'
  cat >"$TMP/cfg.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $HZ
    reporter_interval: 1s
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
  wait_ready "$TMP/daemon.log" "$DPID"
}
stop() { kill -INT "$DPID"; wait "$DPID" || true; DPID=""; rm -f "$TMP/out.folded"; }
metric() {
  curl -sf "http://127.0.0.1:$PORT/metrics" |
    awk -v m="$1" '$1 ~ "^" m "(_total)?({|$)" { n += $2 } END { printf "%d", n }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# cost METHOD FIXTURE: ns per recorded sample of FIXTURE (two copies on the CPUs). Samples
# of other processes are filtered out early and cost far less; their share is taken out
# with the cost per filtered sample measured in the same daemon before the fixture runs.
cost() {
  local n0 t0 r0 n1 t1 r1 n2 t2 r2
  start "$1" fixture
  "$TMP/$2" 1 >/dev/null # tables of the fixture's files built once
  sleep 1.2
  n0=$(metric otelprofd_profiling_bpf_run_count); t0=$(metric otelprofd_profiling_bpf_run_time_ns)
  r0=$(metric otelprofd_profiling_samples_recorded)
  sleep 2 # nothing in scope runs: what a sample of anything else costs
  n1=$(metric otelprofd_profiling_bpf_run_count); t1=$(metric otelprofd_profiling_bpf_run_time_ns)
  r1=$(metric otelprofd_profiling_samples_recorded)
  "$TMP/$2" "$SECS" >/dev/null &
  local other=$!
  "$TMP/$2" "$SECS" >/dev/null
  wait "$other" # not a bare wait: the daemon is a child too
  sleep 1.2 # the last samples drained
  n2=$(metric otelprofd_profiling_bpf_run_count); t2=$(metric otelprofd_profiling_bpf_run_time_ns)
  r2=$(metric otelprofd_profiling_samples_recorded)
  stop
  awk -v fn=$((n1 - n0 - (r1 - r0))) -v ft=$((t1 - t0)) -v n=$((n2 - n1)) -v t=$((t2 - t1)) \
      -v r=$((r2 - r1)) 'BEGIN { f = fn > 0 ? ft / fn : 0
        printf "%.0f %.0f", r ? (t - f * (n - r)) / r : 0, f }'
}

# The fixture's iterations and CPU seconds ("N iterations C cpu_seconds").
fx_out() { awk '/iterations/ { print $1, $3 }'; }

# perf_run MODE...: iterations, perf's own CPU seconds, samples for `perf record MODE`.
perf_run() {
  python3 - "$TMP" "$HZ" "$SECS" "$@" <<'PY'
import os, re, subprocess, sys
tmp, hz, secs, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cmd = ["perf", "record", "-F", hz, *mode, "-o", tmp + "/perf.data", "--", tmp + "/wcnofp", secs]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
_, status, ru = os.wait4(p.pid, 0)
out, err = p.stdout.read(), p.stderr.read()
it, fxcpu = out.split()[0], float(out.split()[2])
m = re.search(r"\((\d+) samples\)", err)
# perf's rusage holds its child's (the fixture's) CPU too: subtract what the fixture used.
print(it, "%.3f" % (ru.ru_utime + ru.ru_stime - fxcpu), m.group(1) if m else 0)
PY
}

echo "## Staged walk: cost per sample and slowdown ($(date -u +%F), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
echo
echo "\`bench/run_walk_cost.sh\` (HZ=$HZ SECS=$SECS ROUNDS=$ROUNDS), $ROUNDS interleaved rounds."
echo
: >"$TMP/cost.txt"
: >"$TMP/slow.txt"
for r in $(seq 1 "$ROUNDS"); do
  # Alternate the order so that drift within a round does not favour one method.
  if [ $((r % 2)) = 1 ]; then order="auto frame_pointer"; else order="frame_pointer auto"; fi
  for m in $order; do
    echo "$r $m wcfp $(cost "$m" wcfp)" >>"$TMP/cost.txt"
  done
  echo "$r auto wcnofp $(cost auto wcnofp)" >>"$TMP/cost.txt"

  read -r a_it _ < <("$TMP/wcnofp" "$SECS" | fx_out)
  start auto host
  d0=$(cpu_ticks "$DPID"); s0=$(metric otelprofd_profiling_samples_recorded)
  read -r o_it _ < <("$TMP/wcnofp" "$SECS" | fx_out)
  d1=$(cpu_ticks "$DPID"); s1=$(metric otelprofd_profiling_samples_recorded)
  stop
  read -r g_it g_cpu g_n < <(perf_run -g)
  read -r w_it w_cpu w_n < <(perf_run --call-graph dwarf)
  tick=$(getconf CLK_TCK)
  echo "$r $a_it $o_it $(awk -v d=$((d1 - d0)) -v t="$tick" 'BEGIN { printf "%.3f", d / t }') $((s1 - s0)) $g_it $g_cpu $g_n $w_it $w_cpu $w_n" >>"$TMP/slow.txt"
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fp=$(awk '$2 == "frame_pointer" { print $4 }' "$TMP/cost.txt" | median)
tb=$(awk '$2 == "auto" && $3 == "wcfp" { print $4 }' "$TMP/cost.txt" | median)
nf=$(awk '$3 == "wcnofp" { print $4 }' "$TMP/cost.txt" | median)
echo "### BPF cost per sample (the sampler's whole stage chain, kernel bpf stats; medians)"
echo
echo "| fixture | unwinding.method | ns per sample | ratio to frame pointers |"
echo "|---|---|---|---|"
echo "| chain with frame pointers (both walks get all 9 frames) | frame_pointer | $fp | 1.00 |"
awk -v t="$tb" -v f="$fp" 'BEGIN { printf "| chain with frame pointers | auto (tables) | %s | %.2f |\n", t, t / f }'
awk -v t="$nf" -v f="$fp" 'BEGIN { printf "| chain without frame pointers | auto (tables) | %s | %.2f |\n", t, t / f }'
echo
echo "Every round (round, method, fixture, ns per recorded sample, ns per sample of anything else):"
echo
echo '```'
cat "$TMP/cost.txt"
echo '```'
echo
echo "### Workload slowdown at $HZ Hz (chain without frame pointers, $SECS s a run; medians of per-round ratios)"
echo
awk '{ o[NR] = 100 * (1 - $3 / $2); g[NR] = 100 * (1 - $6 / $2); w[NR] = 100 * (1 - $9 / $2)
       oc[NR] = $5 ? 1e6 * $4 / $5 : 0; gc[NR] = $8 ? 1e6 * $7 / $8 : 0; wc[NR] = $11 ? 1e6 * $10 / $11 : 0 }
     function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
       return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
     END { n = NR
       print "| profiler | slowdown of the fixture | profiler CPU per 1,000 samples |"
       print "|---|---|---|"
       printf "| otelprofd, tables, whole host | %.1f %% | %.1f ms |\n", med(o, n), med(oc, n)
       printf "| perf record -g (fixture only) | %.1f %% | %.1f ms |\n", med(g, n), med(gc, n)
       printf "| perf record --call-graph dwarf (fixture only) | %.1f %% | %.1f ms |\n", med(w, n), med(wc, n) }' "$TMP/slow.txt"
echo
echo "Every round (round, iterations alone, under otelprofd, its CPU s, its samples, under perf -g, perf CPU s, samples, under perf dwarf, perf CPU s, samples):"
echo
echo '```'
cat "$TMP/slow.txt"
echo '```'
