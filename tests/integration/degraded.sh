#!/usr/bin/env bash
# Degradation when the kernel refuses a BPF program (issue 13): the refusal is real — the
# programs named in OTELPROFD_TEST_REFUSE_PROGRAMS start with an instruction every
# verifier refuses (bpf/walk.h) — and the daemon must
#  - turn off only the feature that program serves and say so once, with the verifier's
#    reason, as a `degraded:` warning (no verifier dump at info level);
#  - still be ready (the time from the refusal to readiness is printed);
#  - export it: otelprofd_profiling_degraded{feature}, _bpf_program_loaded{program},
#    _unwinder_active{method}; and name it in the health_check body;
#  - keep sampling: with the table walk refused, user stacks by frame pointer;
#  - fail the start, naming the program and the reason, when the refused program is the
#    core's (finish stage), or the table walk while unwinding.method is eh_frame.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
command -v curl >/dev/null || fail "curl is needed"

build_fixture callchain
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# run REFUSE METHOD: starts the daemon with programs REFUSE refused and unwinding METHOD,
# off-CPU and memory on (every program loads unless refused).
run() {
  cat >"$WORK/config.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: 99
    reporter_interval: 1s
    off_cpu_threshold: 0.5
    memory: { enabled: true }
    unwinding: { method: $2 }
    include: { comm: ["^$FX_callchain\$"] }
exporters:
  file/folded: { path: $WORK/profiles.folded, format: folded, flush_interval: 0s }
extensions:
  health_check: { endpoint: "127.0.0.1:$HPORT" }
service:
  extensions: [health_check]
  telemetry:
    logs: { level: info }
    metrics: { address: "127.0.0.1:$MPORT" }
  pipelines:
    profiles: { receivers: [profiling], exporters: [file/folded] }
YAML
  rm -f "$WORK/profiles.folded"
  OTELPROFD_TEST_REFUSE_PROGRAMS=$1 "$BIN" --config "$WORK/config.yaml" >"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
}

metric() { # NAME LABEL: value of the metric line with that label
  curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v n="$1" -v l="$2" \
    'index($0, n "{") == 1 && index($0, l) { print $NF; exit }'
}

# seconds from the first `degraded:` line to the readiness line, from the log's clock.
refusal_to_ready() {
  awk '/degraded:/ && !d { d = $1 } /everything is ready/ { r = $1 }
       function s(t) { split(substr(t, 12, 12), a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
       END { if (d && r) printf "%.3f", s(r) - s(d); else print "?" }' "$WORK/daemon.log"
}

# ---- 1. Python frames and off-CPU refused: both off, the rest runs ----
run opd_sample_python,opd_offcpu_walk auto
ALLOW_DEGRADED=1 wait_ready "$WORK/daemon.log" "$DAEMON_PID"
echo "python and off-CPU refused: ready $(refusal_to_ready) s after the refusal"
[ "$(grep -c 'degraded: Python frames off' "$WORK/daemon.log")" = 1 ] ||
  fail "the Python refusal is not said exactly once"
[ "$(grep -c 'degraded: off-CPU profiling off' "$WORK/daemon.log")" = 1 ] ||
  fail "the off-CPU refusal is not said exactly once"
grep 'degraded: Python frames off' "$WORK/daemon.log" | grep -q 'opd_sample_python: .*frame pointer is read only' ||
  fail "the Python refusal does not name the program and the verifier's reason"
grep -q 'PROG LOAD LOG\|processed [0-9]* insns' "$WORK/daemon.log" &&
  fail "the verifier's dump reached the info-level log"
grep -q 'off-CPU: recording' "$WORK/daemon.log" && fail "off-CPU was started although refused"
[ "$(metric otelprofd_profiling_degraded 'feature="python"')" = 1 ] || fail "no degraded{python} metric"
[ "$(metric otelprofd_profiling_degraded 'feature="off_cpu"')" = 1 ] || fail "no degraded{off_cpu} metric"
[ "$(metric otelprofd_profiling_degraded 'feature="memory"')" = 0 ] || fail "memory said degraded"
[ "$(metric otelprofd_profiling_bpf_program_loaded 'program="opd_sample_python"')" = 0 ] ||
  fail "opd_sample_python said loaded"
[ "$(metric otelprofd_profiling_bpf_program_loaded 'program="opd_alloc_walk"')" = 1 ] ||
  fail "the allocation walk is not loaded"
[ "$(metric otelprofd_profiling_unwinder_active 'method="eh_frame"')" = 1 ] ||
  fail "the table unwinder is not the active one"
v=$(metric otelprofd_profiling_bpf_verified_instructions 'program="opd_sample_walk"')
[ -n "$v" ] && [ "$v" -gt 0 ] || fail "no verified instruction count for opd_sample_walk"
health=$(curl -s "http://127.0.0.1:$HPORT/")
echo "$health" | grep -q 'degraded: Python frames off' || fail "the health body does not name it: $health"
"$WORK/$FX_callchain" 2 >/dev/null || fail "fixture failed"
sleep 1.5
stop_daemon
[ "$(folded_sum "^$FX_callchain;")" -gt 20 ] || fail "too few samples while degraded"

# ---- 2. The table walk refused: frame pointers, and the fixture's chain still whole ----
run opd_sample_walk auto
ALLOW_DEGRADED=1 wait_ready "$WORK/daemon.log" "$DAEMON_PID"
echo "table walk refused: ready $(refusal_to_ready) s after the refusal"
grep -q 'degraded: .eh_frame table unwinding off (the kernel refused program opd_sample_walk' \
  "$WORK/daemon.log" || fail "the table walk's refusal is not said"
grep -q 'user stacks: frame_pointer' "$WORK/daemon.log" || fail "the start does not say frame_pointer"
[ "$(metric otelprofd_profiling_unwinder_active 'method="frame_pointer"')" = 1 ] ||
  fail "frame pointers are not the active unwinder"
"$WORK/$FX_callchain" 2 >/dev/null || fail "fixture failed"
sleep 1.5
stop_daemon
whole=$(folded_sum "^$FX_callchain;(.*;)?main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma( |;)")
[ "$whole" -gt 20 ] || fail "the frame-pointer fixture's chain is not whole by frame pointer ($whole)"

# ---- 3. Refusals that must fail the start, with the program and the reason ----
for case in "opd_sample_walk eh_frame" "opd_sample_finish auto"; do
  set -- $case
  run "$1" "$2"
  wait "$DAEMON_PID"
  rc=$?
  DAEMON_PID=""
  [ "$rc" != 0 ] || fail "refusing $1 (method $2) did not fail the start"
  grep -q "cannot load the BPF sampler.*refused program $1" "$WORK/daemon.log" &&
    grep -q 'verifier: .*frame pointer is read only' "$WORK/daemon.log" ||
    { cat "$WORK/daemon.log"; fail "refusing $1 does not say which program and why"; }
  echo "refusing $1 with method $2 fails the start (exit $rc) and says why"
done
echo "ok: degradation: one line, metrics and health per refused feature; core refusals fail the start"
