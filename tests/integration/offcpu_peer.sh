#!/usr/bin/env bash
# The independent OTLP gRPC receiver (shared/peer/otlp-sink) accepts the off-CPU and
# memory profiles: the daemon profiles the sleep and leak fixtures with off_cpu_threshold
# and memory on and exports over otlp_grpc; every request is answered OK with zero
# error-severity violations, and the peer saw off_cpu, alloc_space, alloc_objects and
# inuse_space profiles.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
. "$(dirname "$0")/offcpu_lib.sh"
require_privileges
shared=$SRC/../shared
[ -x "$shared/peer/otlp-sink" ] || skip "no OTLP peer at $shared/peer"
command -v node >/dev/null || skip "node not installed"
NODE_PATH=$("$shared/peer/install-deps.sh" 2>/dev/null) || skip "cannot install the peer's deps"
export NODE_PATH
build_fx offcpu sleep
build_fx alloc leak

"$shared/peer/otlp-sink" --listen 127.0.0.1:0 --port-file "$WORK/sink.port" \
  --out "$WORK/sink.jsonl" --quiet 2>"$WORK/sink.err" &
SINK=$!
trap 'kill $SINK 2>/dev/null; cleanup' EXIT
for _ in $(seq 200); do [ -s "$WORK/sink.port" ] && break; sleep 0.05; done
[ -s "$WORK/sink.port" ] || fail "sink did not start: $(cat "$WORK/sink.err")"

cat >"$WORK/config.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: 19
    reporter_interval: 1s
    off_cpu_threshold: 1
    memory:
      enabled: true
      sample_bytes: 64KiB
      include:
        comm: ['^$FX_leak\$']
exporters:
  otlp_grpc/peer:
    endpoint: 127.0.0.1:$(cat "$WORK/sink.port")
    tls: { insecure: true }
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [otlp_grpc/peer]
YAML
"$BIN" --config "$WORK/config.yaml" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_ready "$WORK/daemon.log" "$DAEMON_PID"
"$WORK/$FX_sleep" 5 100 >/dev/null || fail "sleep fixture failed"
"$WORK/$FX_leak" 10000 16 >/dev/null || fail "leak fixture failed"
sleep 1.5
stop_daemon
kill -INT $SINK 2>/dev/null
wait $SINK 2>/dev/null

req=$(jq -s '[.[] | select(.kind == "export")] | length' "$WORK/sink.jsonl")
ok=$(jq -s '[.[] | select(.kind == "export" and .response.status == "OK")] | length' "$WORK/sink.jsonl")
errs=$(jq -s '[.[].violations[]? | select(.severity == "error")] | length' "$WORK/sink.jsonl")
types=$(jq -r -s '[.[] | select(.kind == "export") | .request as $r
  | $r.resource_profiles[]?.scope_profiles[]?.profiles[]?
  | $r.dictionary.string_table[.sample_type.type_strindex // 0]] | unique | join(",")' "$WORK/sink.jsonl")
echo "peer: $ok of $req exports OK, $errs error violations, sample types: $types"
[ "$req" -gt 0 ] && [ "$ok" -eq "$req" ] || fail "the peer refused exports"
[ "$errs" -eq 0 ] || { jq -c '.violations' "$WORK/sink.jsonl" | head; fail "$errs violations"; }
for t in off_cpu alloc_space alloc_objects inuse_space; do
  case ",$types," in *",$t,"*) ;; *) fail "the peer saw no $t profile";; esac
done
echo PASS
