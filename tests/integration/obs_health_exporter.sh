#!/usr/bin/env bash
# An exporter that cannot deliver: otlp_http points at a closed port, with a one-consumer
# queue of 2 requests and a short retry budget; the recorded fixture is replayed three
# times (6 requests). Expected: health_check turns 503 naming exporter/otlp_http while the
# file exporter stays healthy; and at shutdown the loss ledger of both exporters closes
# exactly, the failing one through its drop reasons (queue_full for what found the queue
# full, retries_exhausted or permanent for what was tried, shutdown for what was left).
set -euo pipefail
source "$(dirname "$0")/obs_lib.sh"

"$BIN" components | grep -q '^  otlp_http ' || skip "this build has no otlp_http exporter"
read -r P_DEAD P_TEL P_HEALTH <<<"$(free_ports 3)"
for _ in 1 2 3; do cat "$FIXTURE"; done >"$WORK/in.jsonl"
cat >"$WORK/cfg.yaml" <<YAML
receivers:
  otlpjsonfile:
    include: [$WORK/in.jsonl]
    start_at: beginning
    poll_interval: 50ms
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:$P_DEAD
    timeout: 1s
    sending_queue:
      num_consumers: 1
      queue_size: 2
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 100ms
      max_elapsed_time: 400ms
  file:
    path: $WORK/out.jsonl
    flush_interval: 0s
extensions:
  health_check:
    endpoint: 127.0.0.1:$P_HEALTH
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:$P_TEL
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [otlp_http, file]
YAML
start_daemon "$WORK/cfg.yaml"
wait_http "http://127.0.0.1:$P_HEALTH/"
code=""
for _ in $(seq 50); do
  code=$(curl -s -o "$WORK/h.json" -w '%{http_code}' "http://127.0.0.1:$P_HEALTH/")
  [ "$code" = 503 ] && break
  sleep 0.1
done
[ "$code" = 503 ] || fail "health never turned 503: $(cat "$WORK/h.json")"
python3 - "$WORK/h.json" <<'PY' || fail "503 body: $(cat "$WORK/h.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "Server not available"
bad = [c["component"] for c in d["health"]["components"]]
assert bad == ["exporter/otlp_http"], bad
PY
ok "health_check: 503 naming exporter/otlp_http only"

sleep 2
curl -s "http://127.0.0.1:$P_TEL/metrics" >"$WORK/tel.txt"
stop_daemon
grep 'loss accounting' "$WORK/daemon.log" || fail "no loss accounting at shutdown"
for e in otlp_http file; do
  grep -q "loss accounting exporter/$e: entered=840 .*unaccounted=0$" "$WORK/daemon.log" ||
    fail "exporter/$e: the ledger does not close"
done
grep -q 'loss accounting exporter/otlp_http: entered=840 delivered=0 dropped=840' \
  "$WORK/daemon.log" || fail "otlp_http should have dropped all 840 samples"
grep -q 'loss accounting exporter/file: entered=840 delivered=840 dropped=0' "$WORK/daemon.log" ||
  fail "file should have delivered all 840 samples"
grep -E '^otelprofd_loss_samples_dropped_total\{exporter="otlp_http",reason="queue_full"\} [1-9]' \
  "$WORK/tel.txt" || fail "no queue_full drops counted: $(grep otlp_http "$WORK/tel.txt")"
grep -E '^otelprofd_loss_samples_dropped_total\{exporter="otlp_http",reason="(retries_exhausted|permanent)"\} [1-9]' \
  "$WORK/tel.txt" || fail "no failed-send drops counted"
ok "ledger closes for both exporters: otlp_http dropped all 840 (queue_full, failed sends, shutdown), file delivered 840"
