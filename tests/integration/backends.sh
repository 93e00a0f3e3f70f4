#!/usr/bin/env bash
# The profiles as the consumers users run read them, from a recorded process with known
# chains in each profile type (CPU, off-CPU, and the three memory sample types), replayed
# by otlp_json_file:
#   - pprof: the file exporter's format: pprof, `otelprofd convert` of the same JSON and
#     of the exporter's proto file give the same files; `go tool pprof -traces` (Debian's
#     golang-go) shows every chain with its OTLP value (within 5%), -sample_index works
#     for alloc_space, alloc_objects and inuse_space, build id and comments carried over;
#   - protobuf: protoc --decode with the official opentelemetry-proto schema reads the
#     exporter's proto frames: the off-CPU profile's period type present and empty (the
#     reference profiler's shape, Pyroscope's off_cpu; Parca needs it present), the memory
#     profiles' period type "memory" (Pyroscope's name) in scope otelprofd.memory;
#   - the shared peer (an independent gRPC stack) accepts the same requests, valid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
ref=$src/../shared/ref/opentelemetry-proto
[ -d "$ref" ] || ref=/work/shared/ref/opentelemetry-proto
peer=$src/../shared/peer
[ -x "$peer/otlp-sink" ] || peer=/work/shared/peer
traces=$here/lib/pprof_traces.py
for c in go jq python3 protoc; do
  command -v "$c" >/dev/null || { echo "skip: $c missing (go: Debian's golang-go)"; exit 77; }
done
t=$(mktemp -d)
sink=
cleanup() {
  [ -n "$sink" ] && kill "$sink" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$t"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$t"/log*; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
ok() { echo "ok: $*"; }
cd "$t"
export GOCACHE=$t/gocache GOFLAGS=-mod=mod HOME=$t # go tool pprof writes its cache here

# A recorded process (pid 4242, /opt/fx) over two 5 s intervals: CPU on two chains,
# off-CPU on one, allocations on a leaking and a freeing chain.
python3 - fx.jsonl <<'PY'
import json, sys
T0 = 1764060000000000000
S, funcs, locs, stacks, attrs = [""], [{}], [{}], [{}], [{}]
def s(x):
    if x not in S: S.append(x)
    return S.index(x)
def add(table, e):
    if e not in table: table.append(e)
    return table.index(e)
def stack(*names):  # root first
    ids = []
    for n in reversed(names):
        f = add(funcs, {"nameStrindex": s(n), "filenameStrindex": s("fx.c")})
        ids.append(add(locs, {"mappingIndex": 1, "address": str(0x1000 + 16 * f),
                              "lines": [{"functionIndex": f, "line": "7"}]}))
    return add(stacks, {"locationIndices": ids})
A = stack("main", "opd_fx_alpha", "opd_fx_beta", "opd_fx_gamma")
B = stack("main", "opd_fx_alpha", "opd_fx_delta")
N = stack("main", "opd_fx_sleeper", "opd_fx_nap")
L = stack("main", "opd_fx_leaker", "opd_fx_leak_one")
F = stack("main", "opd_fx_freer", "opd_fx_free_one")
th = add(attrs, {"keyStrindex": s("thread.name"), "value": {"stringValue": "worker-*"}})
bid = add(attrs, {"keyStrindex": s("process.executable.build_id.gnu"),
                  "value": {"stringValue": "0123456789abcdef0123456789abcdef01234567"}})
def prof(t, u, pt, pu, period, samples, start):
    p = {"sampleType": {"typeStrindex": s(t), "unitStrindex": s(u)},
         "periodType": {"typeStrindex": s(pt), "unitStrindex": s(pu)},
         "timeUnixNano": str(start), "durationNano": "5000000000",
         "samples": [{"stackIndex": st, "values": [str(v)], "attributeIndices": [th]}
                     for st, v in samples]}
    if period: p["period"] = str(period)
    return p
out = open(sys.argv[1], "w")
for k in range(2):
    start = T0 + k * 5000000000
    mem = [("alloc_space", "bytes", [(L, 134217728 + k), (F, 33554432)]),
           ("alloc_objects", "count", [(L, 16384), (F, 4096 + k)]),
           ("inuse_space", "bytes", [(L, 134217728 - k)])]
    res = {"resource": {"attributes": [
              {"key": "process.pid", "value": {"intValue": "4242"}},
              {"key": "process.executable.name", "value": {"stringValue": "fx"}},
              {"key": "process.executable.path", "value": {"stringValue": "/opt/fx"}},
              {"key": "service.name", "value": {"stringValue": "fx"}}]},
           "scopeProfiles": [
              {"scope": {"name": "otelprofd"}, "profiles": [
                  prof("samples", "count", "cpu", "nanoseconds", 10101010,
                       [(A, 300 + k), (B, 100)], start),
                  prof("off_cpu", "nanoseconds", "", "", 0, [(N, 1020000000 + k)], start)]},
              {"scope": {"name": "otelprofd.memory"}, "profiles": [
                  prof(t, u, "memory", "bytes", 65536, smp, start) for t, u, smp in mem]}]}
    d = {"mappingTable": [{}, {"memoryStart": "4096", "memoryLimit": "1048576",
                               "filenameStrindex": s("/opt/fx"), "attributeIndices": [bid]}],
         "locationTable": locs, "functionTable": funcs, "linkTable": [{}],
         "stringTable": S, "attributeTable": attrs, "stackTable": stacks}
    out.write(json.dumps({"resourceProfiles": [res], "dictionary": d}) + "\n")
PY

# The shared peer, when node and its packages are there.
if command -v node >/dev/null && [ -x "$peer/otlp-sink" ] &&
  NODE_PATH=$("$peer/install-deps.sh" 2>/dev/null) && [ -n "$NODE_PATH" ]; then
  export NODE_PATH
  "$peer/otlp-sink" --listen 127.0.0.1:0 --port-file sink.port --out sink.jsonl --quiet \
    2>log.sink &
  sink=$!
  for _ in $(seq 100); do [ -s sink.port ] && break; sleep 0.1; done
  [ -s sink.port ] || fail "otlp-sink did not start"
else
  echo "note: node or the shared peer missing, gRPC output not checked"
fi

cat >cfg.yaml <<YAML
receivers:
  otlp_json_file: {include: [$t/fx.jsonl], start_at: beginning, poll_interval: 50ms}
exporters:
  file/json: {path: $t/out.jsonl, flush_interval: 0s}
  file/proto: {path: $t/out.pb, format: proto, flush_interval: 0s}
  file/pprof: {path: $t/pprof, format: pprof}
$([ -n "$sink" ] && echo "  otlp_grpc: {endpoint: 127.0.0.1:$(cat sink.port), tls: {insecure: true}}")
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    profiles:
      receivers: [otlp_json_file]
      exporters: [file/json, file/proto, file/pprof$([ -n "$sink" ] && echo ", otlp_grpc")]
YAML
"$bin" --config cfg.yaml 2>log.daemon &
pid=$!
for _ in $(seq 200); do
  [ -f out.jsonl ] && [ "$(grep -c . out.jsonl)" -ge 2 ] && break
  sleep 0.1
done
sleep 0.3
kill -TERM "$pid"
wait "$pid" || fail "otelprofd exited with $?"
[ "$(grep -c . out.jsonl)" -eq 2 ] || fail "not every request was written"

# ---- pprof files: the exporter's and convert's (from JSON and from proto) are the same
"$bin" convert --input fx.jsonl --output conv-json 2>log.convert || fail "convert of JSON failed"
"$bin" convert --input out.pb --output conv-proto 2>>log.convert || fail "convert of proto failed"
names=$(cd pprof && ls | sort | tr '\n' ' ')
want="fx-4242.cpu.20251125T084000.000Z.pb.gz fx-4242.cpu.20251125T084005.000Z.pb.gz"
want+=" fx-4242.memory.20251125T084000.000Z.pb.gz fx-4242.memory.20251125T084005.000Z.pb.gz"
want+=" fx-4242.off_cpu.20251125T084000.000Z.pb.gz fx-4242.off_cpu.20251125T084005.000Z.pb.gz "
[ "$names" = "$want" ] || fail "pprof files: $names, want $want"
for d in conv-json conv-proto; do
  for f in pprof/*; do
    cmp -s "$f" "$d/$(basename "$f")" || fail "$d/$(basename "$f") differs from the exporter's"
  done
done
ok "file exporter format: pprof and convert (of JSON and of proto) write the same 6 files"

# otlp_sum TYPE REGEX: the OTLP value of TYPE samples whose chain (root first) matches.
otlp_sum() {
  jq -r --arg t "$1" '.dictionary as $d | .resourceProfiles[].scopeProfiles[].profiles[]
    | select($d.stringTable[.sampleType.typeStrindex // 0] == $t) | .samples[]
    | ([$d.stackTable[.stackIndex].locationIndices[] | $d.locationTable[.]
        | $d.stringTable[$d.functionTable[.lines[0].functionIndex].nameStrindex]]
       | reverse | join(";")) + "\t" + (.values[0] | tostring)' out.jsonl |
    awk -F'\t' -v re="$2" '$1 ~ re { n += $2 } END { printf "%.0f\n", n }'
}
within5() { awk -v g="$1" -v w="$2" 'BEGIN { exit !(w > 0 && g >= w * 0.95 && g <= w * 1.05) }'; }
check() { # check LABEL TYPE REGEX PPROF-ARGS...
  local label=$1 type=$2 re=$3 got want
  shift 3
  go tool pprof -traces "$@" >"traces.$label" 2>"log.pprof.$label" ||
    fail "go tool pprof -traces $* failed: $(cat "log.pprof.$label")"
  got=$(python3 "$traces" "$re" "traces.$label")
  want=$(otlp_sum "$type" "$re")
  echo "$label: go tool pprof -traces $got, OTLP $want"
  within5 "$got" "$want" || fail "$label: pprof $got not within 5% of OTLP $want"
}
check cpu_gamma samples '^main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma$' pprof/fx-4242.cpu.*
check cpu_delta samples '^main;opd_fx_alpha;opd_fx_delta$' pprof/fx-4242.cpu.*
check off_cpu off_cpu '^main;opd_fx_sleeper;opd_fx_nap$' -unit=ns pprof/fx-4242.off_cpu.*
for idx in alloc_space alloc_objects inuse_space; do
  unit=-unit=B
  [ "$idx" = alloc_objects ] && unit=
  check "${idx}_leak" "$idx" '^main;opd_fx_leaker;opd_fx_leak_one$' -sample_index="$idx" $unit \
    pprof/fx-4242.memory.*
  grep -q "^Type: $idx$" "traces.${idx}_leak" || fail "-sample_index=$idx shows another type"
done
check alloc_space_free alloc_space '^main;opd_fx_freer;opd_fx_free_one$' -sample_index=alloc_space \
  -unit=B pprof/fx-4242.memory.*
[ "$(python3 "$traces" 'opd_fx_free' traces.inuse_space_leak)" = 0 ] ||
  fail "the freeing chain shows in inuse_space"
go tool pprof -raw pprof/fx-4242.cpu.20251125T084000.000Z.pb.gz >raw 2>&1 || fail "pprof -raw failed"
grep -q '/opt/fx 0123456789abcdef0123456789abcdef01234567' raw || fail "mapping or build id lost"
grep -q 'PeriodType: cpu nanoseconds' raw && grep -q 'Period: 10101010' raw ||
  fail "period type or period lost"
go tool pprof -comments pprof/fx-4242.cpu.20251125T084000.000Z.pb.gz 2>/dev/null |
  grep -q 'process.pid=4242' || fail "resource attributes are not in the comments"
go tool pprof -traces pprof/fx-4242.cpu.20251125T084000.000Z.pb.gz 2>/dev/null |
  grep -q 'thread.name:  worker-\*' || fail "sample attributes are not labels"
ok "go tool pprof reads every file: chains within 5% of OTLP, -sample_index for the three memory types"

# ---- protoc --decode with the official schema
python3 - out.pb "$ref" <<'PY' || fail "protoc's view of the profile types is wrong"
import re, struct, subprocess, sys
data, ref = open(sys.argv[1], "rb").read(), sys.argv[2]
n = struct.unpack(">I", data[:4])[0]
text = subprocess.run(
    ["protoc", "--decode=opentelemetry.proto.collector.profiles.v1development."
     "ExportProfilesServiceRequest", "-I", ref,
     "opentelemetry/proto/collector/profiles/v1development/profiles_service.proto"],
    input=data[4:4 + n], capture_output=True, check=True).stdout.decode()
def parse(lines):  # protoc's text format: "key: value" and "key {" ... "}"
    node = []
    while lines:
        line = lines.pop(0).strip()
        if line == "}":
            break
        if line.endswith("{"):
            node.append((line[:-1].strip(), parse(lines)))
        else:
            k, v = line.split(":", 1)
            v = v.strip()
            node.append((k, v[1:-1] if v.startswith('"') else int(v)))
    return node
def get(node, key, default=None):
    return next((v for k, v in node if k == key), default)
root = parse(text.splitlines())
strings = [v for k, v in get(root, "dictionary") if k == "string_table"]
seen = {}
for k, rp in root:
    if k != "resource_profiles":
        continue
    for k2, sp in rp:
        if k2 != "scope_profiles":
            continue
        scope = get(get(sp, "scope"), "name")
        for k3, p in sp:
            if k3 != "profiles":
                continue
            st, pt = get(p, "sample_type"), get(p, "period_type")
            assert pt is not None, "a profile without period_type"
            seen[strings[get(st, "type_strindex", 0)]] = (
                scope, strings[get(pt, "type_strindex", 0)], strings[get(pt, "unit_strindex", 0)])
assert seen["samples"] == ("otelprofd", "cpu", "nanoseconds"), seen
assert seen["off_cpu"] == ("otelprofd", "", ""), seen
for t in ("alloc_space", "alloc_objects", "inuse_space"):
    assert seen[t] == ("otelprofd.memory", "memory", "bytes"), seen
print("protoc: " + ", ".join("%s in %s, period type %r" % (t, v[0], v[1]) for t, v in seen.items()))
PY
ok "protoc --decode (official schema): off_cpu with an empty period type, memory profiles' period type memory"

# ---- the shared peer
if [ -n "$sink" ]; then
  kill -TERM "$sink"
  wait "$sink" 2>/dev/null || true
  sink=
  jq -e -s '[.[] | select(.kind == "export")] | length == 2 and
            all(.[] | select(.kind == "export"); .valid == true)' sink.jsonl >/dev/null ||
    fail "the peer did not accept both requests as valid: $(jq -c '.violations' sink.jsonl | head -3)"
  ok "the shared peer decoded both requests, valid"
fi
