#!/usr/bin/env bash
# Must show (pprof): the daemon samples fixtures with known chains (built with frame
# pointers) in each profile type, a CPU burner, a sleeper (off-CPU) and a leaker
# (allocations), and writes OTLP/JSON and pprof files from the same batches. For each
# fixture `go tool pprof -traces` over its pprof files shows its chain with the value the
# OTLP output has for it, within 5%, and -sample_index selects alloc_space, alloc_objects
# and inuse_space of the one memory file per interval. Frames in the [uprobes] page
# (uretprobe trampolines of the allocation probes) are named after it. Then with
# symbolization off: every mapping of the CPU fixture's files carries its GNU build id and
# its file id (process.executable.build_id.htlhash, checked against Python's hashlib over
# the same file), for the backend to symbolize.
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
unnamed=$(jq -r '.dictionary as $d | $d.locationTable[]
  | select((.mappingIndex // 0) > 0 and (.lines | length) == 0
           and $d.stringTable[$d.mappingTable[.mappingIndex].filenameStrindex // 0] == "[uprobes]")
  | .address' "$WORK/profiles.jsonl" | wc -l)
named=$(grep -c '"\[uprobes\]"' "$WORK/profiles.jsonl")
echo "[uprobes]: $named request(s) name it, $unnamed unnamed location(s) in it"
[ "$unnamed" -eq 0 ] || fail "$unnamed frames in the [uprobes] page are left unnamed"

# ---- symbolization off: build ids and file ids for the backend
rm -f "$WORK/profiles.jsonl" "$WORK/profiles.folded"
PPROF_DIR=
start_daemon 97 1s "    symbolization: {enabled: false}
    include: {comm: ['^$FX_callchain\$']}"
"$WORK/$FX_callchain" 1 >/dev/null || fail "callchain fixture failed"
sleep 1.5
stop_daemon
jq -r '.dictionary as $d | $d.mappingTable[]
  | select($d.stringTable[.filenameStrindex // 0] | startswith("/"))
  | [$d.stringTable[.filenameStrindex]]
    + [.attributeIndices[]? | $d.attributeTable[.]
       | $d.stringTable[.keyStrindex] + "=" + .value.stringValue] | join(" ")' \
  "$WORK/profiles.jsonl" | sort -u >"$WORK/mappings.txt"
python3 - "$WORK/mappings.txt" "$FX_callchain" <<'PY' || fail "a mapping lacks its build ids"
import hashlib, struct, sys
seen = set()
for line in open(sys.argv[1]):
    path, *attrs = line.split()
    ids = dict(a.split("=", 1) for a in attrs)
    data = open(path, "rb").read()
    want = hashlib.sha256(data[:4096] + data[-4096:] + struct.pack(">Q", len(data))).hexdigest()
    assert ids.get("process.executable.build_id.htlhash") == want[:32], (path, ids, want[:32])
    assert len(ids.get("process.executable.build_id.gnu", "")) == 40, (path, ids)
    seen.add(path.rsplit("/", 1)[-1])
    print("%s: gnu %s, htlhash %s" % (path, ids["process.executable.build_id.gnu"],
                                       ids["process.executable.build_id.htlhash"]))
assert sys.argv[2] in seen, seen
PY
named=$(jq -r '.dictionary as $d | [$d.functionTable[1:][] | $d.stringTable[.nameStrindex // 0]
  | select(startswith("opd_fx_"))] | length' "$WORK/profiles.jsonl" | sort -n | tail -1)
[ "$named" -eq 0 ] || fail "symbolization off, but fixture frames were named"
echo PASS
