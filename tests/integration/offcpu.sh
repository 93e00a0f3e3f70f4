#!/usr/bin/env bash
# Must show (off-CPU): a fixture sleeping in nanosleep under a named function and one
# blocked reading a pipe. Their off_cpu profiles carry those chains (user frames root to
# leaf, then the kernel's), with a total off-CPU time within ±20% of the time the
# fixtures measured themselves. Once with every switch recorded (off_cpu_threshold: 1),
# once with half of them (values scaled back up). Also checks the profile's OTLP shape.
# Then the sleep fixture built with -O2 -fomit-frame-pointer: the off-CPU user stack is
# walked with the .eh_frame tables (unwinding auto) and keeps its callers; with
# unwinding.method frame_pointer it does not.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
. "$(dirname "$0")/offcpu_lib.sh"
require_privileges
build_fx offcpu sleep
build_fx offcpu pipe

within() { # within GOT WANT PCT
  awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { exit !(w > 0 && g >= w * (1 - p / 100) && g <= w * (1 + p / 100)) }'
}

check_chain() { # check_chain PID SECONDS REGEX WHAT
  local got want
  got=$(type_sum "$1" off_cpu "$3")
  want=$(awk -v s="$2" 'BEGIN { printf "%.0f", s * 1e9 }')
  echo "$4: fixture measured ${2}s off-CPU; profile has ${got} ns under the chain"
  within "$got" "$want" 20 || fail "$4: off-CPU time $got ns not within 20% of $want ns"
}

# --- every switch -------------------------------------------------------------------
start_daemon 19 1s "    off_cpu_threshold: 1"
read -r spid sslept < <("$WORK/$FX_sleep" 10 100) || fail "sleep fixture failed"
read -r ppid pblocked < <("$WORK/$FX_pipe" 10 100) || fail "pipe fixture failed"
sleep 1.5
stop_daemon

check_chain "$spid" "$sslept" \
  '(^|;)main;opd_fx_sleeper;opd_fx_nap;(.*;)?[a-z_0-9]*nanosleep;' "nanosleep"
check_chain "$ppid" "$pblocked" \
  '(^|;)main;opd_fx_waiter;opd_fx_read_pipe;(.*;)?(ksys_read|vfs_read);(.*;)?(pipe_read|anon_pipe_read);' "pipe"

# Every off-CPU stack ends in the scheduler, not in our own program.
prof_lines "$spid" | awk -F'\t' '$1 == "off_cpu" && $2 ~ /bpf_prog_|bpf_trace_run/ { bad = 1 }
  END { exit bad }' || fail "off-CPU kernel stacks include the BPF program's own frames"

# OTLP shape: the fixture's off_cpu profile is its own Profile, next to any CPU one, with
# the empty period type of the reference profiler (Pyroscope's off_cpu type).
jq -e -s --arg pid "$spid" '
  [ .[] | .dictionary as $d | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.pid"
                 and (.value.intValue | tostring) == $pid))
    | .scopeProfiles[].profiles[]
    | select($d.stringTable[.sampleType.typeStrindex // 0] == "off_cpu")
    | { u: $d.stringTable[.sampleType.unitStrindex // 0],
        pt: $d.stringTable[.periodType.typeStrindex // 0],
        pu: $d.stringTable[.periodType.unitStrindex // 0], n: (.samples | length) } ]
  | length > 0 and all(.[]; .u == "nanoseconds" and .pt == "" and .pu == ""
                           and .n > 0)
' "$WORK/profiles.jsonl" >/dev/null || fail "OTLP shape of the off_cpu profile is wrong"

# --- half of the switches, scaled back up ---------------------------------------------
rm -f "$WORK/profiles.jsonl" "$WORK/profiles.folded"
start_daemon 19 1s "    off_cpu_threshold: 0.5"
read -r spid sslept < <("$WORK/$FX_sleep" 400 5) || fail "sleep fixture failed"
sleep 1.5
stop_daemon
check_chain "$spid" "$sslept" '(^|;)main;opd_fx_sleeper;opd_fx_nap;' "nanosleep at 0.5"

# --- no frame pointers: the table walk -------------------------------------------------
NOFP="opd_sleepn_$SUF"
cc -O2 -g -fomit-frame-pointer -o "$WORK/$NOFP" "$SRC/tests/data/offcpu/sleep.c" ||
  fail "cannot build the sleep fixture without frame pointers"
for method in auto frame_pointer; do
  rm -f "$WORK/profiles.jsonl" "$WORK/profiles.folded"
  start_daemon 19 1s "    off_cpu_threshold: 1
    unwinding: { method: $method }"
  # 20 naps: the first one may come before the tables are published (frame pointers).
  read -r spid sslept < <("$WORK/$NOFP" 20 100) || fail "sleep fixture (no frame pointers) failed"
  sleep 1.5
  stop_daemon
  if [ "$method" = auto ]; then
    check_chain "$spid" "$sslept" '(^|;)main;opd_fx_sleeper;opd_fx_nap;' \
      "nanosleep, -fomit-frame-pointer, tables"
  else
    got=$(type_sum "$spid" off_cpu '(^|;)main;opd_fx_sleeper;opd_fx_nap;')
    echo "nanosleep, -fomit-frame-pointer, frame pointers only: $got ns under the chain"
    awk -v g="$got" -v s="$sslept" 'BEGIN { exit !(g < 0.5 * s * 1e9) }' ||
      fail "frame pointers alone kept the chain: the fixture does not test the table walk"
  fi
done
echo PASS
