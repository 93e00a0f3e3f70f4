#!/usr/bin/env bash
# Export benchmark: the otlp_grpc exporter sending synthetic CPU profiles to an in-process
# null gRPC server (answers OK at once: the exporter's own cost) and to the independent
# gRPC receiver (shared/peer/otlp-sink, grpc-js) on loopback, gzip and none,
# and the cost of the exporter helper's queue path (in memory, persistent, persistent with
# fsync). Writes a markdown section to bench/RESULTS.export.md (override with RESULTS=...).
#   BUILD    build dir with tests/bench_export (default build)
#   BATCHES  requests per run (default 200);  SAMPLES  samples per request (default 5000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/tests/bench_export
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.export.md}
BATCHES=${BATCHES:-200}
SAMPLES=${SAMPLES:-5000}
SHARED=$ROOT/../shared
T=$(mktemp -d /tmp/opd-bench-export.XXXXXX)
sink=
trap '[ -n "$sink" ] && kill $sink 2>/dev/null; rm -rf "$T"' EXIT

[ -x "$BIN" ] || { echo "run_export: $BIN not found; build target bench_export" >&2; exit 1; }
[ -x "$SHARED/peer/otlp-sink" ] || { echo "run_export: no peer at $SHARED/peer" >&2; exit 77; }
NODE_PATH=$("$SHARED/peer/install-deps.sh" 2>/dev/null)
export NODE_PATH

run() { # compression
  "$SHARED/peer/otlp-sink" --listen 127.0.0.1:0 --port-file "$T/port" --out "$T/sink.jsonl" \
    --quiet --max-message-bytes 67108864 &
  sink=$!
  for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
  "$BIN" "127.0.0.1:$(cat "$T/port")" "$BATCHES" "$SAMPLES" "$1" | grep '^wire'
  kill "$sink"; wait "$sink" 2>/dev/null || true; sink=; rm -f "$T/port"
}

{
  echo "## Export (otlp_grpc to the grpc-js peer on loopback; exporter helper queue path)"
  echo
  echo "Command: \`bench/run_export.sh\` (BATCHES=$BATCHES SAMPLES=$SAMPLES), $(date -u +%Y-%m-%d)."
  echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
  echo
  echo '```'
  "$BIN" null "$BATCHES" "$SAMPLES" gzip | grep '^wire'
  "$BIN" null "$BATCHES" "$SAMPLES" none | grep '^wire'
  run gzip
  run none
  "$BIN" | grep '^queue'
  echo '```'
} | tee "$T/section.md"
cp "$T/section.md" "$RESULTS"
echo "run_export: wrote $RESULTS"
