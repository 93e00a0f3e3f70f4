# Shared by the overhead benches (run_mem.sh, run_offcpu.sh): one otelprofd with the
# profiling receiver writing OTLP/JSON to $W/out.jsonl. Needs BIN, W; sets D (its pid).

# daemon RECEIVER_LINES: writes $W/c.yaml with these lines under receivers.profiling
# (after reporter_interval: 1s) and starts the daemon; returns once it samples.
daemon() {
  cat >"$W/c.yaml" <<YAML
receivers:
  profiling:
    reporter_interval: 1s
$1
exporters:
  file:
    path: $W/out.jsonl
    format: json
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    profiles: { receivers: [profiling], exporters: [file] }
YAML
  "$BIN" --config "$W/c.yaml" >"$W/d.log" 2>&1 &
  D=$!
  # The daemon's own readiness line, however long this kernel takes to verify.
  until grep -q "everything is ready" "$W/d.log"; do
    kill -0 "$D" 2>/dev/null || { echo "daemon did not start"; cat "$W/d.log"; exit 1; }
    sleep 0.1
  done
}

# stop: SIGINT and wait for the daemon's orderly exit.
stop() { kill -INT "$D"; wait "$D" || true; D=""; }
