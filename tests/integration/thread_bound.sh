#!/usr/bin/env bash
# Must show (sample attributes): a process with 2,000 threads named worker-N, all burning
# CPU at once, sampled at 997 Hz. With the receiver's defaults (thread.name, normalized,
# at most 32 names per process and profile) every CPU profile of the process has at most
# 33 distinct sample-attribute combinations (here: one, worker-*, and the main thread's);
# with thread.id and raw names asked for, there is one per sampled thread.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
name="opd_thread_$SUF"
FX_threads=$name
cc -O1 -g -fno-omit-frame-pointer -pthread -o "$WORK/$name" "$SRC/tests/data/profiling/threads.c" ||
  fail "cannot build the thread fixture"

# combos PID: per CPU profile of PID (one per interval), its number of distinct attribute
# sets, and the thread names among them; one line each.
combos() {
  jq -r --arg pid "$1" '.dictionary as $d | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.pid"
                 and ((.value.intValue // .value.stringValue) | tostring) == $pid))
    | .scopeProfiles[].profiles[]
    | select($d.stringTable[.sampleType.typeStrindex // 0] == "samples")
    | [.samples[] | [.attributeIndices[]?] | sort] | unique
    | "\(length)\t\([.[][] | $d.attributeTable[.]
                      | select($d.stringTable[.keyStrindex] == "thread.name")
                      | .value.stringValue] | unique | join(","))"' "$WORK/profiles.jsonl"
}

run() { # run [receiver yaml lines]
  rm -f "$WORK/profiles.jsonl" "$WORK/profiles.folded"
  start_daemon 997 1s "    include:
      comm: ['^$name\$']
${1:-}"
  pid=$("$WORK/$name" 2000 3 | head -1) || fail "thread fixture failed"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  sleep 1.2
  stop_daemon
}

run
combos "$pid" >"$WORK/defaults.txt"
[ -s "$WORK/defaults.txt" ] || fail "no CPU profile of the fixture"
max=$(cut -f1 "$WORK/defaults.txt" | sort -n | tail -1)
echo "defaults: sample-attribute combinations per CPU profile: $(cut -f1 "$WORK/defaults.txt" | tr '\n' ' ')(max $max);" \
  "thread names: $(cut -f2 "$WORK/defaults.txt" | tr '\n' ' ')"
[ "$max" -le 33 ] || fail "a profile has $max attribute combinations, above the bound of 33"
grep -q 'worker-\*' "$WORK/defaults.txt" || fail "thread names are not normalized to worker-*"
if grep -q 'worker-[0-9]' "$WORK/defaults.txt"; then fail "a raw worker-N name is left"; fi

run "    sample_attributes: [thread.name, thread.id]
    thread_names: raw"
combos "$pid" >"$WORK/all.txt"
total=$(jq -r --arg pid "$pid" '.dictionary as $d | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.pid"
                 and (.value.intValue | tostring) == $pid))
    | .scopeProfiles[].profiles[] | .samples[] | .attributeIndices[]? | $d.attributeTable[.]
    | select($d.stringTable[.keyStrindex] == "thread.id") | .value.intValue' \
  "$WORK/profiles.jsonl" | sort -u | wc -l)
echo "thread.id and raw names: combinations per CPU profile: $(cut -f1 "$WORK/all.txt" | tr '\n' ' ');" \
  "$total distinct threads sampled"
[ "$total" -gt 200 ] || fail "only $total threads sampled: the fixture does not test the bound"
echo PASS
