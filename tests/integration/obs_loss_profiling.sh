#!/usr/bin/env bash
# Loss accounting end to end with the eBPF receiver (privileged): the daemon samples the
# host at 99 Hz while two busy processes run that the scope excludes, one by pid and one
# by comm (counted as "filtered" or "comm_filtered", depending on where the receiver
# applies each filter); two exporters (file, prometheus) get the rest. After SIGTERM
# the daemon logs its ledger; for each exporter it must close exactly:
#   taken in the kernel = delivered + Σ dropped (idle, filtered, map_full, comm_filtered,
#                          refused, exporter drops) + pending,  i.e. unaccounted = 0,
# and the file exporter's output must hold exactly the delivered samples.
set -euo pipefail
source "$(dirname "$0")/obs_lib.sh"

capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if ! (( (0x$capeff >> 21) & 1 )) && ! (( ((0x$capeff >> 39) & 1) && ((0x$capeff >> 38) & 1) )); then
  skip "needs root or CAP_BPF+CAP_PERFMON (CapEff=$capeff)"
fi
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
command -v jq >/dev/null || skip "jq is not installed"

# Two busy loops (no child processes) under their own names; the pid-excluded one starts
# before the daemon so its pid can go in the config.
cp /bin/sh "$WORK/opd_pidbusy"
cp /bin/sh "$WORK/opd_commbusy"
"$WORK/opd_pidbusy" -c 'while :; do :; done' &
PIDBUSY=$!
COMMBUSY=""
trap 'kill $PIDBUSY $COMMBUSY 2>/dev/null || true; cleanup' EXIT
read -r P_PROM P_TEL P_HEALTH <<<"$(free_ports 3)"
cat >"$WORK/cfg.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: 99
    reporter_interval: 1s
    exclude:
      pids: ["$PIDBUSY"]
      comm: ["^opd_commbusy\$"]
exporters:
  file:
    path: $WORK/out.jsonl
    flush_interval: 0s
  prometheus:
    endpoint: 127.0.0.1:$P_PROM
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
      receivers: [profiling]
      exporters: [file, prometheus]
YAML
start_daemon "$WORK/cfg.yaml"
wait_http "http://127.0.0.1:$P_HEALTH/"
# Extensions start before the receiver attaches its programs: until then, 503.
code=$(curl -s -o "$WORK/h1.json" -w '%{http_code}' "http://127.0.0.1:$P_HEALTH/")
if grep -q 'everything is ready' "$WORK/daemon.log"; then
  echo "health before attach: not observed (the receiver was already attached)"
else
  [ "$code" = 503 ] || fail "health answered $code before the programs were attached"
  grep -q '"component":"receiver/profiling"' "$WORK/h1.json" ||
    fail "503 body does not name the receiver: $(cat "$WORK/h1.json")"
  echo "health before attach: 503 $(cat "$WORK/h1.json")"
fi
for _ in $(seq 150); do
  grep -q 'everything is ready' "$WORK/daemon.log" && break
  sleep 0.1
done
code=$(curl -s -o "$WORK/h2.json" -w '%{http_code}' "http://127.0.0.1:$P_HEALTH/")
[ "$code" = 200 ] || fail "health answered $code once attached: $(cat "$WORK/h2.json")"
grep -q 'eBPF programs attached to' "$WORK/h2.json" || fail "health body: $(cat "$WORK/h2.json")"
ok "health_check: 503 naming the receiver until attached, then 200"
"$WORK/opd_commbusy" -c 'while :; do :; done' &
COMMBUSY=$!
sleep 3
kill "$COMMBUSY" "$PIDBUSY"
wait "$COMMBUSY" "$PIDBUSY" 2>/dev/null || true
sleep 1.5
curl -s "http://127.0.0.1:$P_TEL/metrics" >"$WORK/tel.txt"
stop_daemon

grep 'loss accounting' "$WORK/daemon.log" || fail "no loss accounting at shutdown"
metric() { awk -v k="$1" 'index($0, k) == 1 { print $NF }' "$WORK/tel.txt"; }
filtered=$(metric 'otelprofd_loss_samples_dropped_total{exporter="file",reason="filtered"}')
commf=$(metric 'otelprofd_loss_samples_dropped_total{exporter="file",reason="comm_filtered"}')
echo "while running: filtered=$filtered comm_filtered=$commf"
# Where a filter acts (kernel or user space) is the receiver's business; that the excluded
# loops were counted as dropped, and are absent from the output, is ours.
[ $(( ${filtered:-0} + ${commf:-0} )) -gt 0 ] || fail "the excluded busy loops were not counted"
if jq -r '.resourceProfiles[].resource.attributes[] | select(.key == "process.executable.name")
          | .value.stringValue' "$WORK/out.jsonl" | grep -qE '^opd_(pid|comm)busy$'; then
  fail "an excluded busy loop shows up in the output"
fi

for e in file prometheus; do
  line=$(grep "loss accounting exporter/$e:" "$WORK/daemon.log")
  un=$(sed -n 's/.*unaccounted=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")
  [ "$un" = 0 ] || fail "exporter/$e: the ledger does not close: $line"
done
delivered=$(sed -n 's/.*exporter\/file: .*delivered=\([0-9]*\).*/\1/p' "$WORK/daemon.log")
written=$(jq '[.resourceProfiles[].scopeProfiles[].profiles[].samples[] |
  ((.values[0] // null) // (.timestampsUnixNano | length)) | tonumber] | add // 0' \
  "$WORK/out.jsonl" | awk '{ n += $1 } END { print n + 0 }')
[ "$written" = "$delivered" ] || fail "file holds $written samples, the ledger says $delivered"
ok "taken = delivered + dropped for both exporters; file holds the $written delivered samples"
