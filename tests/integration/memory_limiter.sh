#!/usr/bin/env bash
# memory_limiter: with a limit far below the daemon's own RSS every batch is refused and
# counted as dropped (reason memory_limit) in the self-metrics; with a generous limit
# everything passes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
input=$src/tests/data/otlp/sample.jsonl
t=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$t"' EXIT
want=$(jq -s '[.[].resourceProfiles[].scopeProfiles[].profiles[].samples[] |
               if (.values | length) > 0 then (.values | map(tonumber) | add)
               else (.timestampsUnixNano | length) end] | add' "$input")

run() { # limit_mib
  cat >"$t/cfg.yaml" <<YAML
receivers:
  otlpjsonfile: { include: [$input], start_at: beginning, poll_interval: 50ms }
processors:
  memory_limiter: { check_interval: 100ms, limit_mib: $1 }
exporters:
  file: { path: $t/out.jsonl, flush_interval: 0s }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines:
    profiles: { receivers: [otlpjsonfile], processors: [memory_limiter], exporters: [file] }
YAML
  rm -f "$t/out.jsonl"
  "$bin" --config "$t/cfg.yaml" 2>"$t/log" &
  pid=$!
  for _ in $(seq 100); do
    grep -q "loss accounting\|pipeline refused.*:3:" "$t/log" && break
    [ -s "$t/out.jsonl" ] && [ "$(wc -l <"$t/out.jsonl")" -ge 3 ] && break
    sleep 0.1
  done
  sleep 0.3
  kill -TERM "$pid"
  wait "$pid"
  pid=
}

run 1
if [ -s "$t/out.jsonl" ]; then echo "FAIL: data passed a 1 MiB limit"; cat "$t/log"; exit 1; fi
grep -q "above the soft limit" "$t/log" || { echo "FAIL: no refusal logged"; cat "$t/log"; exit 1; }
grep -q "entered=$want delivered=0 dropped=$want .*unaccounted=0" "$t/log" ||
  { echo "FAIL: loss accounting does not show $want samples dropped"; cat "$t/log"; exit 1; }
echo "ok: 1 MiB limit refuses all $want samples, counted as dropped"

run 65536
[ "$(wc -l <"$t/out.jsonl")" -eq 3 ] || { echo "FAIL: generous limit did not pass all data"; cat "$t/log"; exit 1; }
grep -q "entered=$want delivered=$want dropped=0" "$t/log" ||
  { echo "FAIL: loss accounting with a generous limit"; cat "$t/log"; exit 1; }
echo "ok: 64 GiB limit passes all $want samples"
