#!/usr/bin/env bash
# otlpjsonfile: a bad line is reported with file:line and skipped, never fatal; lines
# appended while running are picked up; start_at: end skips what was there at start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
sample=$src/tests/data/otlp/sample.jsonl
t=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$t"' EXIT

start() { # start_at
  cat >"$t/cfg.yaml" <<YAML
receivers:
  otlpjsonfile: { include: ["$t/in/*.jsonl"], start_at: $1, poll_interval: 50ms }
exporters:
  file: { path: $t/out.jsonl, flush_interval: 0s }
service:
  telemetry: { metrics: { address: "127.0.0.1:0" } }
  pipelines:
    profiles: { receivers: [otlpjsonfile], exporters: [file] }
YAML
  rm -f "$t/out.jsonl"
  "$bin" --config "$t/cfg.yaml" 2>"$t/log" &
  pid=$!
  for _ in $(seq 100); do grep -qs "running; SIGTERM" "$t/log" && break; sleep 0.1; done
}
lines() { if [ -f "$t/out.jsonl" ]; then grep -c . "$t/out.jsonl" || true; else echo 0; fi; }
wait_lines() { for _ in $(seq 100); do [ "$(lines)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
stop() { kill -TERM "$pid"; wait "$pid"; pid=; }

mkdir -p "$t/in"
{ sed -n 1p "$sample"; echo '{"resourceProfiles": [ this is not json'; echo '{"resourceProfiles": 5}';
  sed -n 2p "$sample"; } >"$t/in/a.jsonl"
start beginning
wait_lines 2 || { echo "FAIL: good lines around bad ones not exported"; cat "$t/log"; exit 1; }
grep -q "$t/in/a.jsonl:2: skipping line" "$t/log" || { echo "FAIL: line 2 not reported"; cat "$t/log"; exit 1; }
grep -q "$t/in/a.jsonl:3: skipping line" "$t/log" || { echo "FAIL: line 3 not reported"; cat "$t/log"; exit 1; }
# Appended while running, including a line written in two pieces.
line3=$(sed -n 3p "$sample")
printf '%s' "${line3:0:100}" >>"$t/in/a.jsonl"
sleep 0.3
[ "$(lines)" -eq 2 ] || { echo "FAIL: a partial line was consumed"; exit 1; }
printf '%s\n' "${line3:100}" >>"$t/in/a.jsonl"
wait_lines 3 || { echo "FAIL: appended line not picked up"; cat "$t/log"; exit 1; }
# A new file matching the glob is read whole.
cp "$sample" "$t/in/b.jsonl"
wait_lines 6 || { echo "FAIL: new file not read"; cat "$t/log"; exit 1; }
stop
echo "ok: bad lines skipped with file:line, appends and new files picked up"

start end
sleep 0.3
[ "$(lines)" -eq 0 ] || { echo "FAIL: start_at end re-read old lines"; exit 1; }
sed -n 1p "$sample" >>"$t/in/b.jsonl"
wait_lines 1 || { echo "FAIL: line appended after start not read"; cat "$t/log"; exit 1; }
stop
echo "ok: start_at end reads only what comes after start"
