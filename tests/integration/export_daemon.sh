#!/usr/bin/env bash
# otelprofd end to end: otlpjsonfile → otlp_grpc → the independent gRPC receiver
# (shared/peer/otlp-sink), and → otlp_http → a local HTTP server.
#  1. h2c with gzip and a bearer token from bearertokenauth: every request of the recorded
#     input arrives, decoded with zero error-severity violations, all samples present.
#  2. persistent queue: the daemon queues while the peer is down, is killed with SIGKILL,
#     and a restarted daemon delivers everything queued before the kill.
#  3. otlp_http: the same input arrives as protobuf at an HTTP server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
shared=$src/../shared
input=$src/tests/data/otlp/sample.jsonl

[ -x "$shared/peer/otlp-sink" ] || { echo "SKIP: no OTLP peer at $shared/peer"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
NODE_PATH=$("$shared/peer/install-deps.sh" 2>/dev/null) || { echo "SKIP: peer deps"; exit 77; }
export NODE_PATH

t=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$t"
}
trap cleanup EXIT

want_req=$(grep -c . "$input")
want_samples=$(jq -s '[.[].resourceProfiles[].scopeProfiles[].profiles[].samples | length] | add' "$input")
# Samples as the exporter's metrics count them (opd_batch_sample_count): the sum of a
# sample's values, or its number of timestamps when it has no values.
want_items=$(jq -s '[.[].resourceProfiles[].scopeProfiles[].profiles[].samples[] |
  if ((.values // []) | length) > 0 then ([.values[] | tonumber | select(. > 0)] | add // 0)
  else ((.timestampsUnixNano // []) | length) end] | add' "$input")
peer_items() { # sink.jsonl → items in the OK requests, counted the same way
  jq -s '[.[] | select(.response.status == "OK") |
    .request.resource_profiles[].scope_profiles[].profiles[].samples[] |
    if ((.values // []) | length) > 0 then ([.values[] | tonumber | select(. > 0)] | add // 0)
    else ((.timestamps_unix_nano // []) | length) end] | add // 0' "$1"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_sink() { # name port flags...
  local name=$1 port=$2; shift 2
  rm -f "$t/$name.port"
  "$shared/peer/otlp-sink" --listen "127.0.0.1:$port" --port-file "$t/$name.port" \
    --out "$t/$name.jsonl" --append --quiet "$@" 2>"$t/$name.err" &
  pids+=($!)
  sink_pid=$!
  for _ in $(seq 200); do [ -s "$t/$name.port" ] && break; sleep 0.05; done
  [ -s "$t/$name.port" ] || { echo "FAIL: sink did not start"; cat "$t/$name.err"; exit 1; }
}

wait_lines() { # file n
  for _ in $(seq 300); do
    [ -f "$1" ] && [ "$(grep -c . "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# ---- 0. config errors are caught by validate, with their position --------------------------
bad() { # yaml-exporter-body expected-text
  cat >"$t/bad.yaml" <<YAML
receivers:
  otlpjsonfile: { include: [$input] }
exporters:
  $1
service:
  pipelines:
    profiles: { receivers: [otlpjsonfile], exporters: [$(echo "$1" | cut -d: -f1)] }
YAML
  set +e
  "$bin" validate --config "$t/bad.yaml" >"$t/bad.out" 2>&1
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || { echo "FAIL: validate exit $rc for: $1"; cat "$t/bad.out"; exit 1; }
  grep -q "$2" "$t/bad.out" || { echo "FAIL: no \"$2\" in:"; cat "$t/bad.out"; exit 1; }
  grep -q "bad.yaml:[0-9]*:[0-9]*" "$t/bad.out" || { echo "FAIL: no position:"; cat "$t/bad.out"; exit 1; }
}
bad 'otlp_grpc: { endpoint: collector }' 'host:port'
bad 'otlp: { endpoint: "c:4317", compression: brotli }' 'brotli'
bad 'otlp_grpc: { endpoint: "c:4317", tls: { cert_file: /x.pem } }' 'key_file'
bad 'otlphttp: { endpoint: "collector:4318" }' 'http://'
bad 'otlp_grpc: { endpoint: "c:4317", retry_on_failure: { multiplier: 0.5 } }' 'multiplier'
echo "ok: invalid exporter configs refused by validate with their position"

# ---- 1. h2c, gzip, bearer token --------------------------------------------------------
start_sink h2c 0 --require-header "authorization=Bearer t0ken"
port=$(cat "$t/h2c.port")
cat >"$t/grpc.yaml" <<YAML
extensions:
  bearertokenauth/peer:
    token: \${env:OPD_TEST_TOKEN}
receivers:
  otlpjsonfile:
    include: [$input]
    start_at: beginning
    poll_interval: 50ms
exporters:
  otlp_grpc/peer:
    endpoint: 127.0.0.1:$port
    tls: { insecure: true }
    compression: gzip
    auth: { authenticator: bearertokenauth/peer }
    retry_on_failure: { initial_interval: 100ms, max_interval: 500ms }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  extensions: [bearertokenauth/peer]
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [otlp_grpc/peer]
YAML
OPD_TEST_TOKEN=t0ken "$bin" --config "$t/grpc.yaml" 2>"$t/d1.log" &
d=$!; pids+=($d)
wait_lines "$t/h2c.jsonl" "$want_req" || { echo "FAIL: peer got too few requests"; cat "$t/d1.log"; exit 1; }
kill -TERM "$d"; wait "$d" || { echo "FAIL: otelprofd exit $?"; cat "$t/d1.log"; exit 1; }
ok=$(jq -s '[.[] | select(.kind == "export" and .response.status == "OK")] | length' "$t/h2c.jsonl")
errs=$(jq -s '[.[].violations[]? | select(.severity == "error")] | length' "$t/h2c.jsonl")
got_samples=$(jq -s '[.[] | select(.response.status == "OK") | .summary.samples] | add' "$t/h2c.jsonl")
enc=$(jq -r -s '[.[].grpc.encoding] | unique | join(",")' "$t/h2c.jsonl")
[ "$ok" -eq "$want_req" ] || { echo "FAIL: $ok OK exports, want $want_req"; exit 1; }
[ "$errs" -eq 0 ] || { echo "FAIL: $errs violations"; jq -c '.violations' "$t/h2c.jsonl"; exit 1; }
[ "$got_samples" -eq "$want_samples" ] || { echo "FAIL: $got_samples samples, want $want_samples"; exit 1; }
[ "$enc" = gzip ] || { echo "FAIL: encoding $enc"; exit 1; }
echo "ok: h2c + gzip + bearer token: $ok requests, $got_samples samples, 0 violations"
kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true

# ---- 1b. peer down at start, then up; a queue of one request overflows -----------------------
port=$(free_port)
mport=$(free_port)
cat >"$t/down.yaml" <<YAML
receivers:
  otlpjsonfile:
    include: [$input]
    start_at: beginning
    poll_interval: 50ms
exporters:
  otlp_grpc/peer:
    endpoint: 127.0.0.1:$port
    tls: { insecure: true }
    sending_queue: { queue_size: 1, num_consumers: 1 }
    retry_on_failure: { initial_interval: 100ms, max_interval: 300ms }
service:
  telemetry: { metrics: { address: "127.0.0.1:$mport" } }
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [otlp_grpc/peer]
YAML
"$bin" --config "$t/down.yaml" 2>"$t/d1b.log" &
d=$!; pids+=($d)
sleep 3
start_sink down "$port"
metric() { # name → value for this exporter (0 when absent)
  curl -s "http://127.0.0.1:$mport/metrics" |
    awk -v n="$1" '$1 ~ "^"n"(_total)?[{]" && $1 ~ /exporter="otlp_grpc\/peer"/ && $1 !~ /reason/ { print $2; f=1 } END { if (!f) print 0 }'
}
for _ in $(seq 100); do
  sent=$(metric otelcol_exporter_sent_profile_samples)
  failed=$(metric otelcol_exporter_enqueue_failed_profile_samples)
  [ "$((sent + failed))" -ge "$want_items" ] && break
  sleep 0.1
done
sleep 0.3
sent=$(metric otelcol_exporter_sent_profile_samples)
failed=$(metric otelcol_exporter_enqueue_failed_profile_samples)
kill -TERM "$d"; wait "$d" || { echo "FAIL: otelprofd exit $?"; cat "$t/d1b.log"; exit 1; }
got=$(peer_items "$t/down.jsonl")
[ "$failed" -gt 0 ] || { echo "FAIL: the one-request queue never overflowed"; cat "$t/d1b.log"; exit 1; }
[ "$got" -eq "$sent" ] || { echo "FAIL: peer has $got samples, exporter says it sent $sent"; exit 1; }
[ "$((got + failed))" -eq "$want_items" ] ||
  { echo "FAIL: delivered $got + dropped $failed != $want_items"; cat "$t/d1b.log"; exit 1; }
echo "ok: peer down then up: $got samples delivered, $failed dropped at the full queue, as counted"
kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true

# ---- 2. persistent queue across SIGKILL --------------------------------------------------
port=$(free_port)
mkdir -p "$t/queue"
: >"$t/empty.jsonl"
pq_config() { # include-file
  cat <<YAML
extensions:
  file_storage/q: { directory: $t/queue, fsync: true }
receivers:
  otlpjsonfile:
    include: [$1]
    start_at: beginning
    poll_interval: 50ms
exporters:
  otlp_grpc/peer:
    endpoint: 127.0.0.1:$port
    tls: { insecure: true }
    sending_queue: { storage: file_storage/q }
    retry_on_failure: { initial_interval: 100ms, max_interval: 300ms, max_elapsed_time: 0s }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  extensions: [file_storage/q]
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [otlp_grpc/peer]
YAML
}
pq_config "$input" >"$t/pq1.yaml"
pq_config "$t/empty.jsonl" >"$t/pq2.yaml"
"$bin" --config "$t/pq1.yaml" 2>"$t/d2.log" &
d=$!; pids+=($d)
qf=$t/queue/exporter_otlp_grpc_peer.queue
for _ in $(seq 100); do
  n=$(python3 - "$qf" <<'PY' 2>/dev/null || echo 0
import struct, sys
d = open(sys.argv[1], 'rb').read(); off = n = 0
while off + 32 <= len(d):
    ln = struct.unpack('<I', d[off + 24:off + 28])[0]
    n += d[off + 4] == 1; off += 32 + ln
print(n)
PY
)
  [ "$n" -ge "$want_req" ] && break
  sleep 0.1
done
[ "$n" -ge "$want_req" ] || { echo "FAIL: only $n requests in the queue file"; cat "$t/d2.log"; exit 1; }
kill -9 "$d"; wait "$d" 2>/dev/null || true
start_sink pq "$port"
"$bin" --config "$t/pq2.yaml" 2>"$t/d3.log" &
d=$!; pids+=($d)
wait_lines "$t/pq.jsonl" "$want_req" || { echo "FAIL: queued requests not delivered"; cat "$t/d3.log"; exit 1; }
sleep 0.5
kill -TERM "$d"; wait "$d" || { echo "FAIL: otelprofd exit $?"; cat "$t/d3.log"; exit 1; }
ok=$(jq -s '[.[] | select(.response.status == "OK")] | length' "$t/pq.jsonl")
got_samples=$(jq -s '[.[] | select(.response.status == "OK") | .summary.samples] | add' "$t/pq.jsonl")
[ "$ok" -eq "$want_req" ] || { echo "FAIL: $ok delivered after restart, want $want_req"; exit 1; }
[ "$got_samples" -eq "$want_samples" ] || { echo "FAIL: $got_samples samples after restart"; exit 1; }
echo "ok: persistent queue: $ok requests queued before SIGKILL delivered after restart"
kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true

# ---- 3. otlp_http -----------------------------------------------------------------------------
python3 "$here/export_http_server.py" --out "$t/http" --port-file "$t/http.port" &
pids+=($!)
for _ in $(seq 100); do [ -s "$t/http.port" ] && break; sleep 0.05; done
cat >"$t/http.yaml" <<YAML
receivers:
  otlpjsonfile:
    include: [$input]
    start_at: beginning
    poll_interval: 50ms
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:$(cat "$t/http.port")
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [otlphttp]
YAML
"$bin" --config "$t/http.yaml" 2>"$t/d4.log" &
d=$!; pids+=($d)
wait_lines "$t/http/requests.jsonl" "$want_req" || { echo "FAIL: http server got too few"; cat "$t/d4.log"; exit 1; }
kill -TERM "$d"; wait "$d" || { echo "FAIL: otelprofd exit $?"; cat "$t/d4.log"; exit 1; }
ok=$(jq -s '[.[] | select(.status == 200 and .encoding == "gzip")] | length' "$t/http/requests.jsonl")
[ "$ok" -eq "$want_req" ] || { echo "FAIL: $ok gzip protobuf posts, want $want_req"; exit 1; }
if command -v protoc >/dev/null && [ -d "$shared/ref/opentelemetry-proto" ]; then
  for f in "$t"/http/req-*.bin; do
    protoc --decode=opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest \
      -I "$shared/ref/opentelemetry-proto" \
      opentelemetry/proto/collector/profiles/v1development/profiles_service.proto <"$f" >/dev/null ||
      { echo "FAIL: $f does not decode with the official schema"; exit 1; }
  done
fi
echo "ok: otlp_http: $ok protobuf requests (gzip) decoded with the official schema"
