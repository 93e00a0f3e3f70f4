# Shared by the benches: wait_ready (all of them), and for the overhead benches
# (run_mem.sh, run_offcpu.sh) one otelprofd with the profiling receiver writing OTLP/JSON
# to $W/out.jsonl. daemon needs BIN, W; sets D (its pid).

# wait_ready LOG PID: returns once the daemon logs its readiness line (however long this
# kernel takes to verify); exits with its log when it died first or the kernel refused
# part of it.
wait_ready() {
  until grep -q "everything is ready" "$1"; do
    kill -0 "$2" 2>/dev/null || { echo "the daemon did not start" >&2; cat "$1" >&2; exit 1; }
    sleep 0.1
  done
  if grep -q "degraded:" "$1"; then
    grep "degraded:" "$1" >&2
    exit 1
  fi
}

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
  wait_ready "$W/d.log" "$D"
}

# stop: SIGINT and wait for the daemon's orderly exit.
stop() { kill -INT "$D"; wait "$D" || true; D=""; }
