#!/usr/bin/env bash
# Benchmark of the profiling receiver (needs root): on a fixed-work CPU-bound program,
# the slowdown caused by otelprofd and by `perf record -g` at the same frequency (19 Hz
# and 999 Hz, both sampling every CPU), measured in the same run; otelprofd's own CPU
# time per 1,000 samples; the BPF program's cost per sample (kernel bpf_stats); its RSS.
# Writes a markdown section to bench/RESULTS.profiling.md (override with RESULTS=...).
#   BUILD      build dir with otelprofd (default build)
#   REPS       repetitions per configuration, the median is reported (default 5)
#   WORK_ITERS work size (default sized for ~2 s on one core)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/otelprofd
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.profiling.md}
REPS=${REPS:-5}
WORK_ITERS=${WORK_ITERS:-1500000000}
TMP=$(mktemp -d /tmp/opd-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "run_profiling: needs root (BPF and system-wide perf)" >&2; exit 77; }
[ -x "$BIN" ] || { echo "run_profiling: $BIN not found; build otelprofd first" >&2; exit 1; }
command -v perf >/dev/null || { echo "run_profiling: perf (linux-perf) is needed" >&2; exit 1; }

# The fixed-work program: a dependent integer chain the compiler cannot shorten.
cat >"$TMP/work.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
__attribute__((noinline)) unsigned long step(unsigned long x) { return x * 6364136223846793005ul + 1442695040888963407ul; }
int main(int argc, char **argv)
{
    unsigned long n = strtoul(argv[1], NULL, 10), x = 1;
    for (unsigned long i = 0; i < n; i++)
        x = step(x) ^ (x >> 29);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* CPU seconds (user + system): less disturbed by other load on the host than wall time. */
    printf("%.4f %lu\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6, x & 1);
    return 0;
}
C
cc -O2 -fno-omit-frame-pointer -o "$TMP/work" "$TMP/work.c"

# run_work: prints "wall_seconds cpu_seconds" of one run of the work program.
run_work() {
  local t0 t1 cpu
  t0=$(date +%s.%N)
  cpu=$("$TMP/work" "$WORK_ITERS" | awk '{ print $1 }')
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c="$cpu" 'BEGIN { printf "%.4f %s\n", b - a, c }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start_otelprofd() {
  cat >"$TMP/cfg.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $1
    reporter_interval: 5s
exporters:
  file/folded:
    path: $TMP/out.folded
    format: folded
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [file/folded]
YAML
  rm -f "$TMP/out.folded"
  "$BIN" --config "$TMP/cfg.yaml" 2>"$TMP/otelprofd.log" &
  OPD_PID=$!
  sleep 6 # load, attach, and the first drain (kallsyms, symbol tables) out of the way
}

bpf_prog_stats() { # prints "run_cnt run_time_ns" of the sampler program
  bpftool prog show 2>/dev/null | awk '/opd_sample/ { for (i = 1; i <= NF; i++) { if ($i == "run_time_ns") t = $(i+1); if ($i == "run_cnt") c = $(i+1) } } END { print c + 0, t + 0 }'
}

declare -A WALL CPU
measure() { # measure NAME: medians of the work program's wall and CPU time under a setup
  local name=$1 v=()
  for _ in $(seq 1 "$REPS"); do v+=("$(run_work)"); done
  WALL[$name]=$(printf '%s\n' "${v[@]}" | awk '{ print $1 }' | median)
  CPU[$name]=$(printf '%s\n' "${v[@]}" | awk '{ print $2 }' | median)
  echo "  $name: wall ${WALL[$name]} s, CPU ${CPU[$name]} s (medians of $REPS)" >&2
}

echo "run_profiling: baseline" >&2
measure baseline
ROWS=""
for HZ in 19 999; do
  echo "run_profiling: otelprofd at $HZ Hz" >&2
  sysctl -q -w kernel.bpf_stats_enabled=1
  start_otelprofd "$HZ"
  c0=$(cpu_ticks "$OPD_PID")
  read -r bc0 bt0 < <(bpf_prog_stats)
  measure "otelprofd_$HZ"
  read -r bc1 bt1 < <(bpf_prog_stats)
  c1=$(cpu_ticks "$OPD_PID")
  rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$OPD_PID/status")
  kill -INT "$OPD_PID"; wait "$OPD_PID" || true
  sysctl -q -w kernel.bpf_stats_enabled=0
  # Samples during the measured window, from the kernel's own run count of the program.
  runs=$((bc1 - bc0))
  tck=$(getconf CLK_TCK)
  cpu_ms=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN { printf "%.0f", (b - a) * 1000 / t }')
  per_k=$(awk -v ms="$cpu_ms" -v n="$runs" 'BEGIN { printf "%.2f", n ? ms * 1000 / n : 0 }')
  bpf_ns=$(awk -v t="$((bt1 - bt0))" -v n="$runs" 'BEGIN { printf "%.0f", n ? t / n : 0 }')

  echo "run_profiling: perf record -g at $HZ Hz" >&2
  perf record -q -g -a -F "$HZ" -o "$TMP/perf.data" -- sleep 100000 >/dev/null 2>&1 &
  PERF_PID=$!
  sleep 2
  measure "perf_$HZ"
  kill -INT "$PERF_PID"; wait "$PERF_PID" || true

  echo "run_profiling: baseline again" >&2
  measure "baseline_$HZ"
  base=$(awk -v a="${CPU[baseline]}" -v b="${CPU[baseline_$HZ]}" 'BEGIN { printf "%.4f", (a < b) ? a : b }')
  bwall=$(awk -v a="${WALL[baseline]}" -v b="${WALL[baseline_$HZ]}" 'BEGIN { printf "%.4f", (a < b) ? a : b }')
  slow() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b / a - 1) * 100 }'; }
  ROWS+="| $HZ Hz | ${base} s | ${CPU[otelprofd_$HZ]} s ($(slow "$base" "${CPU[otelprofd_$HZ]}")) | ${CPU[perf_$HZ]} s ($(slow "$base" "${CPU[perf_$HZ]}")) | ${bwall} / ${WALL[otelprofd_$HZ]} / ${WALL[perf_$HZ]} s | $runs | ${cpu_ms} ms | ${per_k} ms | ${bpf_ns} ns | $((rss / 1024)) MiB |"$'\n'
done

{
  echo "## profiling receiver (eBPF sampling)"
  echo
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)),"
  echo "by \`bench/run_profiling.sh\` (REPS=$REPS, work = $WORK_ITERS dependent multiply-xor steps on one core)."
  echo "otelprofd and \`perf record -g -a\` both sample every CPU at the given frequency, in the same run, one after"
  echo "the other, with a baseline before and after each pair (the lower baseline is used); times are"
  echo "medians over the repetitions. Slowdown is on the work program's own CPU time (user+system, which"
  echo "includes the sampling interrupts it suffered); wall times are given too but this 2-CPU host is shared"
  echo "with other builds, so they are noisy. \"Samples\" is the kernel's run count of the"
  echo "sampler program while the work ran (all CPUs, idle included); otelprofd CPU is its user+system time"
  echo "over the same window (drains, symbolization, encoding); BPF ns/sample is the program's own run time"
  echo "(kernel.bpf_stats_enabled), spent in the sampled context rather than in otelprofd."
  echo
  echo "| Frequency | Work CPU, baseline | Under otelprofd | Under perf record -g | Wall: base / otelprofd / perf | Samples | otelprofd CPU | otelprofd CPU per 1,000 samples | BPF ns/sample | otelprofd peak RSS |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s' "$ROWS"
} >"$RESULTS"
cat "$RESULTS"
