#!/usr/bin/env bash
# The command-line contract: subcommands, exit codes (0 ok, 1 runtime, 2 usage/config),
# config merging across several --config files, errors with file:line:col, and an orderly
# stop on SIGTERM and SIGINT.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0
fail=0

check() { # name, expected exit code, command...
  local name=$1 want=$2
  shift 2
  "$@" >"$t/out" 2>"$t/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $rc, want $want"
    cat "$t/out" "$t/err" | head -20
  fi
}
expect_text() { # name, file, fixed string
  if grep -qF -- "$3" "$2"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL $1: '$3' not in output:"; head -20 "$2"; fi
}

check version 0 "$bin" --version
expect_text version "$t/out" "otelprofd "
check components 0 "$bin" components
expect_text components-file "$t/out" "file"
expect_text components-otlpjsonfile "$t/out" "otlpjsonfile"
check no-args 2 "$bin"
check unknown-command 2 "$bin" frobnicate
check missing-config 2 "$bin" validate
check unreadable-config 2 "$bin" validate --config "$t/does-not-exist.yaml"

cat >"$t/base.yaml" <<'YAML'
receivers:
  otlpjsonfile:
    include: [/nonexistent/*.jsonl]
exporters:
  file:
    path: /tmp/base.jsonl
service:
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [file]
YAML
cat >"$t/over.yaml" <<'YAML'
exporters:
  file:
    format: folded
    path: ${env:OPD_TEST_OUT:-/tmp/default}/merged.folded
YAML
check validate-ok 0 "$bin" validate --config "$t/base.yaml"
OPD_TEST_OUT=/var/tmp check print-merged 0 "$bin" print-config --config "$t/base.yaml" --config "$t/over.yaml"
expect_text merged-format "$t/out" "folded"
expect_text merged-env "$t/out" "/var/tmp/merged.folded"
expect_text merged-default "$t/out" "poll_interval"

cat >"$t/bad.yaml" <<'YAML'
receivers:
  otlpjsonfile:
    include: [x]
    poll_interval: soon
exporters:
  file:
    path: /tmp/x
    colour: blue
service:
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [file, nothere]
YAML
check validate-bad 2 "$bin" validate --config "$t/bad.yaml"
expect_text bad-duration "$t/err" "bad.yaml:4:20:"
expect_text bad-unknown-key "$t/err" "bad.yaml:8:5:"
expect_text bad-undefined "$t/err" "bad.yaml:13:25:"
check run-bad 2 "$bin" --config "$t/bad.yaml"

# A bound on the BPF maps' kernel memory that not even their smallest sizes fit is a config
# error naming the option; one they fit (after sizing down) is valid.
for limit in 8 48; do
  cat >"$t/bpfmem.yaml" <<YAML
receivers:
  profiling:
    bpf_memory_limit_mib: $limit
exporters:
  file:
    path: /tmp/x
service:
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [file]
YAML
  if [ "$limit" = 8 ]; then
    check validate-bpf-limit-too-small 2 "$bin" validate --config "$t/bpfmem.yaml"
    expect_text bpf-limit-reason "$t/err" "bpf_memory_limit_mib 8 MiB cannot hold the BPF maps"
  else
    check validate-bpf-limit-fits 0 "$bin" validate --config "$t/bpfmem.yaml"
  fi
done

# A running daemon stops on SIGTERM and on SIGINT with exit 0.
for sig in TERM INT; do
  rm -f "$t/run.log"
  "$bin" --config "$t/base.yaml" 2>"$t/run.log" &
  pid=$!
  for _ in $(seq 100); do grep -qs "running; SIGTERM" "$t/run.log" && break; sleep 0.1; done
  kill -"$sig" "$pid"
  wait "$pid"
  rc=$?
  if [ "$rc" -eq 0 ] && grep -q "shutting down" "$t/run.log"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL SIG$sig: exit $rc"; cat "$t/run.log"; fi
done

# A component that cannot start is a runtime failure (exit 1), named in the log.
cat >"$t/nostart.yaml" <<'YAML'
receivers:
  otlpjsonfile:
    include: [x]
exporters:
  file:
    path: /nonexistent-dir/out.jsonl
service:
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [file]
YAML
check start-failure 1 "$bin" --config "$t/nostart.yaml"
expect_text start-failure-names "$t/err" "exporter/file"

# An OTLP exporter naming an extension of the wrong type fails its start, naming both.
for c in "otlp|auth: { authenticator: file_storage }|auth.authenticator file_storage: not a bearertokenauth extension" \
         "otlphttp|sending_queue: { storage: health_check }|sending_queue.storage health_check: not a file_storage extension"; do
  IFS='|' read -r exp opt want <<<"$c"
  cat >"$t/ext.yaml" <<YAML
receivers:
  otlpjsonfile:
    include: [x]
extensions:
  file_storage: { directory: $t }
  health_check: { endpoint: "127.0.0.1:0" }
exporters:
  $exp:
    endpoint: http://127.0.0.1:9
    $opt
service:
  telemetry: { metrics: { level: none } }
  extensions: [file_storage, health_check]
  pipelines:
    profiles:
      receivers: [otlpjsonfile]
      exporters: [$exp]
YAML
  check "extension-type-$exp" 1 "$bin" --config "$t/ext.yaml"
  expect_text "extension-type-$exp-names" "$t/err" "$want"
done

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
