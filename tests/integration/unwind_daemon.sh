#!/usr/bin/env bash
# Must show (issue 4) through the daemon: build/otelprofd with the profiling receiver,
# default unwinding (auto: .eh_frame tables), fixtures built with -O2 -fomit-frame-pointer.
#  - chain: main → chain_a → chain_b → chain_c → chain_d → chain_leaf (a loop): ≥ 95 % of
#    its samples carry the whole chain, including chain_d, the leaf's direct caller;
#  - qsort_cb: CPU burnt in a qsort comparator: ≥ 90 % of the comparator's samples go
#    through libc's qsort back to sort_once and main;
#  - gochain (stripped Go, when Debian's golang-go is installed): ≥ 95 % of its samples
#    carry main.main;main.goA;main.goB;main.goC;main.goLeaf, walked by frame pointer;
#  - the self metrics show table frames, loaded files and walks ending at the outermost
#    frame; the JSON output holds as many samples of the chain fixture as the folded one;
#  - the same chain fixture under unwinding.method frame_pointer loses its callers (the
#    check that the tables, not the build, make the difference);
#  - every frame says how it was found (location attribute otelprofd.unwind.method):
#    the chain's callers eh_frame with tables, never eh_frame with frame pointers only;
#  - frame budget: deep (a 301-call recursion) is recorded whole to main with
#    max_frames 512, and cut at 127 frames, counted as truncated, with the default.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
command -v curl >/dev/null || fail "curl is needed"

SUF=$(( $$ % 10000 ))
CHAIN="uwchain_$SUF"
QSORT="uwqsort_$SUF"
DEEP="uwdeep_$SUF"
for fx in chain:$CHAIN qsort_cb:$QSORT deep:$DEEP; do
  cc -O2 -fomit-frame-pointer -g -o "$WORK/${fx#*:}" "$SRC/tests/data/unwind/${fx%%:*}.c" ||
    fail "cannot build fixture ${fx%%:*}"
done
GO="uwgo_$SUF"
if command -v go >/dev/null; then
  (cd "$WORK" && GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" HOME="$WORK" CGO_ENABLED=0 \
     GOFLAGS= go build -ldflags="-s -w" -o "$WORK/$GO" "$SRC/tests/data/unwind/gochain.go") ||
    fail "cannot build the Go fixture"
else
  echo "no go toolchain (Debian's golang-go): the Go part is skipped"
  GO=""
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# run_daemon METHOD [MAX_FRAMES]: starts otelprofd with unwinding.method METHOD, the
# frame budget MAX_FRAMES (default: the receiver's) and telemetry on PORT.
run_daemon() {
  rm -f "$WORK/profiles.jsonl" "$WORK/profiles.folded"
  METRICS_PORT=$PORT start_daemon 99 1s "    ${2:+max_frames: $2}
    unwinding:
      method: $1
    include:
      comm: [\"^uw(chain|qsort|deep|go)_$SUF\$\"]"
}

# need_share WHAT GOOD TOTAL MIN RATIO FIXTURE: at least MIN samples of WHAT, and GOOD of
# them at least RATIO x TOTAL; otherwise shows FIXTURE's heaviest stacks and fails.
need_share() {
  [ "$3" -ge "$4" ] || fail "only $3 samples of $1"
  awk -v c="$2" -v t="$3" -v r="$5" 'BEGIN { exit !(c >= r * t) }' && return 0
  grep "^$6;" "$WORK/profiles.folded" | sort -t' ' -k2 -nr | head -5
  fail "only $2 of $3 samples of $1 are complete (need $5 of them)"
}

# methods REGEX: "<function> <otelprofd.unwind.method or none>" for every location (in
# every request of the JSON output) of a function whose name matches REGEX.
methods() {
  jq -r --arg re "$1" '.dictionary as $d | $d.locationTable[1:][] | select(.lines)
    | ($d.stringTable[$d.functionTable[.lines[0].functionIndex].nameStrindex]) as $fn
    | select($fn | test($re))
    | [(.attributeIndices // [])[] | $d.attributeTable[.]
       | select($d.stringTable[.keyStrindex] == "otelprofd.unwind.method")
       | .value.stringValue] | "\($fn) \(.[0] // "none")"' "$WORK/profiles.jsonl"
}

metric() {
  awk -v m="$1" '$1 ~ "^" m "(_total)?({|$)" { n += $2 } END { print n + 0 }' "$WORK/metrics.txt"
}

# ---- config: a bad method or budget is a config error with its position ----
cat >"$WORK/bad.yaml" <<'YAML'
receivers:
  profiling:
    unwinding: { method: dwarf, table_memory: 10KiB }
exporters:
  debug: {}
service:
  pipelines: { profiles: { receivers: [profiling], exporters: [debug] } }
YAML
"$BIN" validate --config "$WORK/bad.yaml" >"$WORK/validate.txt" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "validate of a bad unwinding section exited $rc, not 2"
grep -q 'bad.yaml:3:.*unwinding::method: invalid value "dwarf"' "$WORK/validate.txt" &&
  grep -q 'unwinding::table_memory: value 10KiB out of range' "$WORK/validate.txt" ||
  { cat "$WORK/validate.txt"; fail "validate does not name both unwinding errors"; }

# ---- tables (the default) ----
run_daemon auto
grep -q "unwinding: .eh_frame tables" "$WORK/daemon.log" || fail "the table unwinder is not on"
"$WORK/$CHAIN" 3 >/dev/null &
c_pid=$!
"$WORK/$QSORT" 3 >/dev/null || fail "qsort fixture failed"
wait "$c_pid" || fail "chain fixture failed"
[ -z "$GO" ] || "$WORK/$GO" 2 || fail "Go fixture failed"
sleep 1.5
curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt" || fail "no self metrics"
stop_daemon

total=$(folded_sum "^$CHAIN;")
chain=$(folded_sum "^$CHAIN;(.*;)?main;chain_a;chain_b;chain_c;chain_d;chain_leaf( |;)")
echo "chain: $chain of $total samples carry main;chain_a;chain_b;chain_c;chain_d;chain_leaf"
need_share "the chain fixture" "$chain" "$total" 30 0.95 "$CHAIN"

cmp_total=$(folded_sum "^$QSORT;.*;slow_compare( |;)")
cmp_libc=$(folded_sum "^$QSORT;(.*;)?main;sort_once[^;]*;[^;]+;(.*;)?slow_compare( |;)")
echo "qsort_cb: $cmp_libc of $cmp_total comparator samples go through libc to sort_once;main"
need_share "the qsort comparator" "$cmp_libc" "$cmp_total" 20 0.9 "$QSORT"
grep -Eq "^$QSORT;(.*;)?sort_once[^;]*;(.*;)?(qsort|msort)[^;]*;(.*;)?slow_compare( |;)" \
  "$WORK/profiles.folded" || fail "no qsort/msort frame of libc between sort_once and slow_compare"

if [ -n "$GO" ]; then
  go_total=$(folded_sum "^$GO;.*main\\.goLeaf( |;)")
  go_chain=$(folded_sum "^$GO;(.*;)?main\\.main;main\\.goA;main\\.goB;main\\.goC;main\\.goLeaf( |;)")
  echo "gochain: $go_chain of $go_total main.goLeaf samples carry main.main;main.goA;main.goB;main.goC"
  need_share "main.goLeaf" "$go_chain" "$go_total" 20 0.95 "$GO"
  methods '^main\.go[ABC]$' | sort | uniq -c
  methods '^main\.go[ABC]$' | grep -q ' frame_pointer$' ||
    fail "the Go callers do not say they were found by frame pointer"
fi

json=$(jq --arg n "$CHAIN" '[.resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.executable.name"
                 and .value.stringValue == $n))
    | .scopeProfiles[].profiles[].samples[] | (.values[0] // 0) | tonumber] | add // 0' \
  "$WORK/profiles.jsonl" | awk '{ n += $1 } END { print n + 0 }')
[ "$json" = "$total" ] || fail "JSON holds $json chain samples, folded $total"
methods '^chain_[a-d]$' | sort | uniq -c
[ "$(methods '^chain_[a-d]$' | grep -c ' eh_frame$')" -ge 4 ] ||
  fail "the chain's callers do not say they were found through .eh_frame tables"
methods '^chain_[a-d]$' | grep -v ' eh_frame$' | grep -q . &&
  fail "a caller of the chain found through tables says otherwise"

frames_table=$(metric otelprofd_unwind_frames_table)
files=$(metric otelprofd_unwind_files_loaded)
outermost=$(metric otelprofd_unwind_stop_outermost)
tbytes=$(metric otelprofd_unwind_table_bytes)
echo "metrics: table frames $frames_table, files loaded $files, table bytes $tbytes," \
     "outermost stops $outermost, frame-pointer frames $(metric otelprofd_unwind_frames_frame_pointer)"
[ "$frames_table" -gt 0 ] || fail "otelprofd_unwind_frames_table is 0"
[ "$files" -gt 0 ] || fail "otelprofd_unwind_files_loaded is 0"
[ "$tbytes" -gt 0 ] || fail "otelprofd_unwind_table_bytes is 0"
[ "$outermost" -gt 0 ] || fail "no walk reached the outermost frame"

# ---- frame pointers only: the same fixture loses its callers ----
run_daemon frame_pointer
grep -q "unwinding: .eh_frame tables" "$WORK/daemon.log" && fail "tables on with frame_pointer"
"$WORK/$CHAIN" 2 >/dev/null || fail "chain fixture failed"
sleep 1.5
stop_daemon
methods '.' | grep -q ' eh_frame$' && fail "a frame says eh_frame under frame_pointer"
fp_total=$(folded_sum "^$CHAIN;")
fp_chain=$(folded_sum "^$CHAIN;(.*;)?main;chain_a;chain_b;chain_c;chain_d;chain_leaf( |;)")
echo "frame pointers: $fp_chain of $fp_total chain samples complete"
[ "$fp_total" -gt 0 ] || fail "no samples of the chain fixture with frame pointers"
awk -v c="$fp_chain" -v t="$fp_total" 'BEGIN { exit !(c < 0.5 * t) }' ||
  fail "frame pointers alone recovered the chain: the fixture does not test the unwinder"

# ---- frame budget ----
# deep_frames: "<user frames> <count>" per folded line of the deep fixture (the process
# name is the first field, not a frame; kernel frames, "_[k]", are not counted: the budget
# is per stack and a sample in the kernel has both).
deep_frames() {
  grep "^$DEEP;" "$WORK/profiles.folded" | awk '{ c = $NF; $NF = ""; n = split($0, f, ";"); u = 0
    for (i = 2; i <= n; i++) if (f[i] !~ /_\[k\] *$/) u++
    print u, c }'
}
run_daemon auto 512
grep -q "frame budget 512" "$WORK/daemon.log" || fail "the daemon does not report a budget of 512"
"$WORK/$DEEP" 3 >/dev/null || fail "deep fixture failed"
sleep 1.5
stop_daemon
deep_total=$(folded_sum "^$DEEP;")
# whole: main, then exactly 301 deep_recurse calls, then deep_spin (libc's start frames
# above main, kernel frames below deep_spin). Counted in awk: mawk has no ERE intervals.
deep_whole=$(grep "^$DEEP;" "$WORK/profiles.folded" | awk '{
    c = $NF; $NF = ""; n = split($0, f, ";"); sub(/ +$/, "", f[n])
    for (i = 1; i <= n && f[i] != "main"; i++) ;
    r = 0; for (i++; i <= n && f[i] == "deep_recurse"; i++) r++
    if (r == 301 && f[i] == "deep_spin") w += c
  } END { print w + 0 }')
echo "max_frames 512: $deep_whole of $deep_total deep samples carry main, 301 deep_recurse, deep_spin"
need_share "the deep fixture" "$deep_whole" "$deep_total" 30 0.95 "$DEEP"

run_daemon auto
"$WORK/$DEEP" 2 >/dev/null || fail "deep fixture failed"
sleep 1.5
curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt" || fail "no self metrics"
stop_daemon
longest=$(deep_frames | sort -n | tail -1 | cut -d' ' -f1)
truncated=$(metric otelprofd_unwind_stop_truncated)
echo "default budget: longest deep stack $longest frames, truncated walks $truncated"
[ "$longest" -le 127 ] || fail "a deep stack of $longest frames under the default budget of 127"
[ "$longest" -ge 120 ] || fail "the default budget recorded only $longest frames of deep"
[ "$truncated" -gt 0 ] || fail "walks cut by the budget are not counted"
echo PASS
