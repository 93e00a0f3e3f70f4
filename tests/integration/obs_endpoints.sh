#!/usr/bin/env bash
# The daemon's three HTTP endpoints on a recorded CPU profile (tests/data/obs/cpu.jsonl,
# totals documented in gen_fixture.py) replayed through otlpjsonfile:
#  - exporter prometheus: exact CPU seconds per function, top_n with the rest as
#    function="other", OpenMetrics on request, series expiring once a short window slides
#    past them, and `promtool check metrics` clean;
#  - service.telemetry.metrics: registry + process metrics, promtool clean, and the loss
#    accounting closing (unaccounted 0, entered = delivered for every exporter);
#  - extension health_check: 200 with a JSON body, 404 elsewhere.
set -euo pipefail
source "$(dirname "$0")/obs_lib.sh"

read -r P_PROM P_SHORT P_TEL P_HEALTH <<<"$(free_ports 4)"
cat >"$WORK/cfg.yaml" <<YAML
receivers:
  otlpjsonfile:
    include: [$FIXTURE]
    start_at: beginning
    poll_interval: 50ms
exporters:
  prometheus:
    endpoint: 127.0.0.1:$P_PROM
  prometheus/short:
    endpoint: 127.0.0.1:$P_SHORT
    top_n: 3
    window: 2s
  file:
    path: $WORK/out.jsonl
    flush_interval: 0s
extensions:
  health_check:
    endpoint: 127.0.0.1:$P_HEALTH
    path: /health
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:$P_TEL
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [prometheus, prometheus/short, file]
YAML

"$BIN" validate --config "$WORK/cfg.yaml" >/dev/null || fail "config does not validate"
"$BIN" validate --config "$SRC/tests/data/obs/example.yaml" >/dev/null ||
  fail "tests/data/obs/example.yaml does not validate"
start_daemon "$WORK/cfg.yaml"
wait_http "http://127.0.0.1:$P_PROM/metrics"
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$P_PROM/metrics" >"$WORK/prom.txt"
  grep -q 'service_name="batch"' "$WORK/prom.txt" && break
  sleep 0.1
done
grep -q 'service_name="batch"' "$WORK/prom.txt" || fail "the recorded samples never reached /metrics"
# The 2 s window forgets quickly: read it at once, check it later.
curl -s "http://127.0.0.1:$P_SHORT/metrics" >"$WORK/short.txt"

# Exact values: one sample is 50 ms of CPU.
want() {
  grep -qF "$1" "$WORK/prom.txt" || { cat "$WORK/prom.txt"; fail "missing: $1"; }
}
want 'otelprofd_function_cpu_seconds{service_name="checkout",k8s_namespace_name="shop",team="payments",function="crypto/sha256.block"} 3'
want 'otelprofd_function_cpu_seconds{service_name="checkout",k8s_namespace_name="shop",team="payments",function="vfs_write"} 0.5'
want 'otelprofd_function_cpu_seconds{service_name="search",k8s_namespace_name="shop",team="discovery",function="score"} 1.5'
want 'otelprofd_function_cpu_seconds{service_name="unknown_service:postgres",k8s_namespace_name="",team="unassigned",function="hash_search"} 1.25'
want 'otelprofd_function_cpu_seconds{service_name="fraud",k8s_namespace_name="risk",team="payments",function="other"} 0.75'
want 'otelprofd_service_cpu_seconds{service_name="fraud",k8s_namespace_name="risk",team="payments"} 6'
n=$(grep -c '^otelprofd_function_cpu_seconds{service_name="fraud"' "$WORK/prom.txt")
[ "$n" -eq 11 ] || fail "fraud has $n series, want top 10 + other"
ok "prometheus: exact CPU seconds, top_n 10 plus other"

curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' -D "$WORK/om.head" \
  "http://127.0.0.1:$P_PROM/metrics" >"$WORK/om.txt"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$WORK/om.head" ||
  fail "OpenMetrics not negotiated"
[ "$(tail -n 1 "$WORK/om.txt")" = "# EOF" ] || fail "OpenMetrics output does not end in # EOF"
grep -q '^# UNIT otelprofd_function_cpu_seconds seconds$' "$WORK/om.txt" || fail "no # UNIT line"
curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' \
  "http://127.0.0.1:$P_TEL/metrics" >"$WORK/om_tel.txt"
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
  for f in om om_tel; do
    /usr/bin/python3 - "$WORK/$f.txt" <<'PY' || fail "the OpenMetrics parser rejects $f.txt"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
assert fams, "no metric families"
PY
  done
  echo "OpenMetrics outputs parse with prometheus_client's strict parser"
else
  echo "skipped the strict OpenMetrics parse: python3-prometheus-client not installed"
fi
ok "prometheus: OpenMetrics on request"

n=$(grep -c '^otelprofd_function_cpu_seconds{service_name="fraud"' "$WORK/short.txt" || true)
[ "$n" -eq 4 ] || fail "top_n 3: fraud has $n series, want 3 + other"
grep -qF 'function="other"} 3.9' "$WORK/short.txt" || fail "top_n 3: other should be 3.9 s (rules 3..14)"

curl -s "http://127.0.0.1:$P_TEL/metrics" >"$WORK/tel.txt"
grep -q '^otelcol_process_cpu_seconds_total ' "$WORK/tel.txt" || fail "no process CPU seconds"
grep -q '^otelcol_process_memory_rss_bytes [1-9]' "$WORK/tel.txt" || fail "no process RSS"
grep -qF 'otelcol_receiver_accepted_profile_samples_total{receiver="otlpjsonfile"} 280' "$WORK/tel.txt" ||
  fail "receiver counter missing"
grep -qF 'otelprofd_loss_samples_entered_total 280' "$WORK/tel.txt" || fail "entered != 280"
for e in prometheus prometheus/short file; do
  grep -qF "otelprofd_loss_samples_unaccounted{exporter=\"$e\"} 0" "$WORK/tel.txt" ||
    { grep loss "$WORK/tel.txt"; fail "loss accounting does not close for $e"; }
done
grep -qF 'otelprofd_loss_samples_delivered_total{exporter="prometheus"} 280' "$WORK/tel.txt" ||
  fail "prometheus did not deliver 280 samples"
ok "self-metrics: process metrics, counters, loss accounting closes"

if command -v promtool >/dev/null; then
  promtool check metrics <"$WORK/prom.txt" || fail "promtool rejects the prometheus exporter"
  promtool check metrics <"$WORK/short.txt" || fail "promtool rejects prometheus/short"
  promtool check metrics <"$WORK/tel.txt" || fail "promtool rejects the self-metrics"
  ok "promtool check metrics: clean"
else
  echo "skipped promtool checks: promtool not installed (Debian package prometheus)"
fi

code=$(curl -s -o "$WORK/health.json" -w '%{http_code}' "http://127.0.0.1:$P_HEALTH/health")
[ "$code" = 200 ] || fail "health answered $code"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="Server available" and d["health"]["healthy"] is True' \
  "$WORK/health.json" || fail "health body: $(cat "$WORK/health.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_HEALTH/other")
[ "$code" = 404 ] || fail "health answered $code on another path"
ok "health_check: 200 with JSON, 404 elsewhere"

# Nothing new arrives: after the 2 s window has slid past, the short exporter forgets
# every series while the 60 s one still shows them.
sleep 2.5
curl -s "http://127.0.0.1:$P_SHORT/metrics" >"$WORK/short2.txt"
if grep -q '^otelprofd_function_cpu_seconds{' "$WORK/short2.txt"; then
  fail "series did not expire: $(head -5 "$WORK/short2.txt")"
fi
curl -s "http://127.0.0.1:$P_PROM/metrics" | grep -q 'service_name="checkout"' ||
  fail "the 60 s window lost its series early"
ok "prometheus: series expire when the window slides past them"

stop_daemon
grep -q 'loss accounting exporter/file: entered=280 delivered=280 dropped=0 pending=0 unaccounted=0' \
  "$WORK/daemon.log" || fail "no closing loss accounting line at shutdown"
ok "shutdown logs the loss accounting"
