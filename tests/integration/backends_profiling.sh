#!/usr/bin/env bash
# Must show (pprof): the daemon samples fixtures with known chains (built with frame
# pointers) in each profile type, a CPU burner, a sleeper (off-CPU) and a leaker
# (allocations), and writes OTLP/JSON and pprof files from the same batches. For each
# fixture `go tool pprof -traces` over its pprof files shows its chain with the value the
# OTLP output has for it, within 5%, and -sample_index selects alloc_space, alloc_objects
# and inuse_space of the one memory file per interval.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
. "$(dirname "$0")/offcpu_lib.sh"
require_privileges
command -v go >/dev/null || skip "go tool pprof needs Debian's golang-go"
export GOCACHE=$WORK/gocache HOME=$WORK
TRACES=$SRC/tests/integration/lib/pprof_traces.py
build_fixture callchain
build_fx offcpu sleep
build_fx alloc leak

PPROF_DIR=$WORK/pprof
mkdir -p "$PPROF_DIR"
start_daemon 97 1s "    off_cpu_threshold: 1
    memory:
      enabled: true
      sample_bytes: 64KiB
      include:
        comm: ['^$FX_leak\$']"
"$WORK/$FX_callchain" 2 >"$WORK/cpu.out" &
cpid=$!
read -r spid _ < <("$WORK/$FX_sleep" 10 100) || fail "sleep fixture failed"
wait "$cpid" || fail "callchain fixture failed"
read -r lpid _ < <("$WORK/$FX_leak" 10000 32) || fail "leak fixture failed"
sleep 1.5
stop_daemon

within5() { awk -v g="$1" -v w="$2" 'BEGIN { exit !(w > 0 && g >= w * 0.95 && g <= w * 1.05) }'; }
# check WHAT PID TYPE REGEX FILE-KIND PPROF-ARGS...: the chain's value by go tool pprof over
# the fixture's pprof files of that kind, and by the OTLP output.
check() {
  local what=$1 pid=$2 type=$3 re=$4 kind=$5 got want files
  shift 5
  files=$(ls "$PPROF_DIR"/*-"$pid".$kind.*.pb.gz 2>/dev/null)
  [ -n "$files" ] || fail "$what: no $kind pprof file of pid $pid in $(ls "$PPROF_DIR" | head)"
  # shellcheck disable=SC2086
  go tool pprof -traces "$@" $files >"$WORK/traces.$what" 2>"$WORK/pprof.$what.log" ||
    fail "$what: go tool pprof failed: $(tail -3 "$WORK/pprof.$what.log")"
  got=$(python3 "$TRACES" "$re" "$WORK/traces.$what")
  want=$(type_sum "$pid" "$type" "$re")
  echo "$what: go tool pprof -traces $got, OTLP $want ($(echo "$files" | wc -l) files)"
  within5 "$got" "$want" || fail "$what: pprof $got not within 5% of OTLP $want"
}
check cpu "$cpid" samples '(^|;)main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma' cpu
check off_cpu "$spid" off_cpu '(^|;)main;opd_fx_sleeper;opd_fx_nap;' off_cpu -unit=ns
for idx in alloc_space alloc_objects inuse_space; do
  unit=-unit=B
  [ "$idx" = alloc_objects ] && unit=
  check "$idx" "$lpid" "$idx" '(^|;)main;opd_fx_leaker;opd_fx_leak_one' memory \
    -sample_index="$idx" $unit
  grep -q "^Type: $idx$" "$WORK/traces.$idx" || fail "-sample_index=$idx shows another type"
done
echo PASS
