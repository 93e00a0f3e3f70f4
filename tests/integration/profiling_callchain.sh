#!/usr/bin/env bash
# Must show: a fixture with a known call chain, built with frame pointers. At least 90% of
# its samples carry the whole chain, symbolized, root to leaf, and its sample count is
# within ±25% of Hz × its CPU seconds. Also checks the OTLP shape of its resource and
# profile (attributes, sample and period types, period, frame types, build id).
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
build_fixture callchain

HZ=99
start_daemon $HZ 1s
cpu=$("$WORK/$FX_callchain" 3) || fail "fixture failed"
sleep 1.5
stop_daemon

total=$(folded_sum "^$FX_callchain;")
chain=$(folded_sum "^$FX_callchain;(.*;)?main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma( |;)")
expected=$(awk -v c="$cpu" -v hz=$HZ 'BEGIN { printf "%d", c * hz }')
echo "fixture: ${cpu}s CPU, expected ~$expected samples; got $total, $chain with the whole chain"
[ "$total" -gt 0 ] || fail "no samples of the fixture"
awk -v t="$total" -v e="$expected" 'BEGIN { exit !(t >= 0.75 * e && t <= 1.25 * e) }' ||
  fail "sample count $total not within 25% of $expected"
awk -v c="$chain" -v t="$total" 'BEGIN { exit !(c >= 0.9 * t) }' ||
  fail "only $chain of $total samples carry main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma"

# OTLP shape, from the JSON lines: the fixture's resource and its profile. Dictionary
# attributes name their key by string index.
jq -e -s --arg hz "$HZ" --arg fx "$FX_callchain" '
  def akey($d): $d.stringTable[.keyStrindex // 0];
  [ .[] | .dictionary as $d | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.executable.name"
                 and .value.stringValue == $fx))
    | { res: (.resource.attributes | map({(.key): .value}) | add),
        prof: .scopeProfiles[0].profiles[0], scope: .scopeProfiles[0].scope, d: $d } ]
  | length > 0 and all(.[];
      . as $x
      | ($x.res["process.pid"].intValue | tonumber) > 0
      and ($x.res["process.executable.path"].stringValue | endswith("/" + $fx))
      and $x.res["service.name"].stringValue == $fx
      and ($x.res["host.name"].stringValue | length) > 0
      and $x.scope.name == "otelprofd"
      and $x.d.stringTable[$x.prof.sampleType.typeStrindex] == "samples"
      and $x.d.stringTable[$x.prof.sampleType.unitStrindex] == "count"
      and $x.d.stringTable[$x.prof.periodType.typeStrindex] == "cpu"
      and $x.d.stringTable[$x.prof.periodType.unitStrindex] == "nanoseconds"
      and ($x.prof.period | tonumber) == (1000000000 / ($hz | tonumber) | floor)
      and ($x.prof.durationNano | tonumber) > 0
      and all($x.prof.samples[];
            [ .attributeIndices[] | $x.d.attributeTable[.] | akey($x.d) ] as $k
            | $k == ["thread.name"]))
' "$WORK/profiles.jsonl" >/dev/null || fail "OTLP shape of the fixture's profiles is wrong"

# Frame types and the executable's build id on its mapping.
jq -e -s --arg fx "$FX_callchain" '
  [ .[] | .dictionary as $d
    | $d.mappingTable[]? | select($d.stringTable[.filenameStrindex // 0] | endswith("/" + $fx))
    | [ .attributeIndices[]? | $d.attributeTable[.]
        | select($d.stringTable[.keyStrindex // 0] == "process.executable.build_id.gnu") ]
    | length ] | add > 0
' "$WORK/profiles.jsonl" >/dev/null || fail "the fixture's mapping has no process.executable.build_id.gnu"
jq -e -s '[ .[] | .dictionary as $d | $d.attributeTable[]?
            | select($d.stringTable[.keyStrindex // 0] == "profile.frame.type") | .value.stringValue ]
          | index("native") != null' "$WORK/profiles.jsonl" >/dev/null ||
  fail "no location has profile.frame.type native"
echo PASS
