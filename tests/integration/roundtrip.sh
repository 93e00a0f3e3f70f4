#!/usr/bin/env bash
# Round trip: a recorded OTLP/JSON file → otlpjsonfile → file (json, proto, folded).
# The JSON output must describe exactly the same profiles as the input (compared after
# resolving every dictionary reference), the proto output must decode to the same request
# count with protoc when the official schema is at hand, and the folded output must match
# an independent rendering of the input.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
input=${1:-$src/tests/data/otlp/sample.jsonl}
t=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$t"' EXIT
pid=

cat >"$t/cfg.yaml" <<YAML
receivers:
  otlpjsonfile:
    include: [$input]
    start_at: beginning
    poll_interval: 50ms
exporters:
  file/json: { path: $t/out.jsonl, flush_interval: 0s }
  file/proto: { path: $t/out.pb, format: proto, flush_interval: 0s }
  file/folded: { path: $t/out.folded, format: folded, flush_interval: 0s }
service:
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [file/json, file/proto, file/folded]
YAML

"$bin" --config "$t/cfg.yaml" 2>"$t/log" &
pid=$!
want=$(grep -c . "$input")
for _ in $(seq 200); do
  [ -f "$t/out.jsonl" ] && [ "$(grep -c . "$t/out.jsonl")" -ge "$want" ] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || { echo "FAIL: otelprofd exited with $?"; cat "$t/log"; exit 1; }
pid=
got=$(grep -c . "$t/out.jsonl" || true)
[ "$got" -eq "$want" ] || { echo "FAIL: $got of $want requests written"; cat "$t/log"; exit 1; }

jq -c -f "$here/lib/normalize.jq" "$input" | sort >"$t/want.norm"
jq -c -f "$here/lib/normalize.jq" "$t/out.jsonl" | sort >"$t/got.norm"
[ -s "$t/want.norm" ] || { echo "FAIL: input has no profiles"; exit 1; }
if ! diff -u "$t/want.norm" "$t/got.norm" >"$t/diff"; then
  echo "FAIL: JSON round trip changed the profiles:"; head -c 4000 "$t/diff"; exit 1
fi
echo "ok: json round trip, $(wc -l <"$t/want.norm") profiles identical"

jq -r -f "$here/lib/folded.jq" "$input" |
  awk '{ c = $NF; $NF = ""; sub(/ $/, ""); s[$0] += c } END { for (k in s) print k, s[k] }' |
  sort >"$t/want.folded"
awk '{ c = $NF; $NF = ""; sub(/ $/, ""); s[$0] += c } END { for (k in s) print k, s[k] }' \
  "$t/out.folded" | sort >"$t/got.folded"
[ -s "$t/want.folded" ] || { echo "FAIL: no stacks in input"; exit 1; }
if ! diff -u "$t/want.folded" "$t/got.folded"; then
  echo "FAIL: folded stacks differ"; exit 1
fi
echo "ok: folded, $(wc -l <"$t/want.folded") distinct stacks"

# proto: 4-byte big-endian length + message, one per request.
python3 - "$t/out.pb" "$t" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
off = n = 0
while off < len(data):
    (ln,) = struct.unpack('>I', data[off:off + 4])
    off += 4
    open('%s/msg%d.pb' % (sys.argv[2], n), 'wb').write(data[off:off + ln])
    off += ln
    n += 1
assert off == len(data), 'trailing bytes in proto output'
PY
nmsg=$(ls "$t"/msg*.pb | wc -l)
[ "$nmsg" -eq "$want" ] || { echo "FAIL: $nmsg proto messages, want $want"; exit 1; }
ref="$src/../shared/ref/opentelemetry-proto"
if command -v protoc >/dev/null && [ -d "$ref" ]; then
  for m in "$t"/msg*.pb; do
    protoc --decode=opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest \
      -I "$ref" opentelemetry/proto/collector/profiles/v1development/profiles_service.proto \
      <"$m" >"$m.txt" || { echo "FAIL: protoc cannot decode $m"; exit 1; }
    grep -q 'string_table' "$m.txt" || { echo "FAIL: no dictionary in $m"; exit 1; }
  done
  echo "ok: proto, $nmsg messages decoded by protoc with the official schema"
else
  echo "note: protoc or shared/ref missing; proto output checked for framing only"
fi
