# Shared helpers of the privileged profiling tests (sourced). Each test runs the real
# daemon with the profiling receiver and file exporters, runs fixtures while it samples,
# stops it with SIGINT and inspects the OTLP/JSON and folded output with jq and awk.

SRC=${OPD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${OTELPROFD:-${OPD_BINARY_DIR:-$SRC/build}/otelprofd}
WORK=$(mktemp -d /tmp/opd-prof-test.XXXXXX)
DAEMON_PID=""

cleanup() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null
  fi
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$WORK/daemon.log" ] && tail -30 "$WORK/daemon.log"; exit 1; }

# Skips unless this process may load BPF programs and open system-wide perf events.
require_privileges() {
  local capeff
  capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
  # CAP_SYS_ADMIN (21), or CAP_BPF (39) and CAP_PERFMON (38).
  if ! (( (0x$capeff >> 21) & 1 )) && ! (( ((0x$capeff >> 39) & 1) && ((0x$capeff >> 38) & 1) )); then
    skip "needs root or CAP_BPF+CAP_PERFMON (CapEff=$capeff)"
  fi
  [ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
  [ -x "$BIN" ] || fail "otelprofd binary not found at $BIN"
  command -v jq >/dev/null || fail "jq is needed"
  command -v cc >/dev/null || fail "a C compiler is needed for the fixtures"
}

# Fixture process names carry this run's number, so that tests running at the same time
# (ctest -j, or another checkout on the host) never count each other's samples.
SUF=$(( $$ % 10000 ))

# build_fixture NAME: compiles tests/data/profiling/NAME.c with frame pointers to
# $WORK/$FX_NAME, where FX_NAME is "opd_" + the first 6 letters of NAME + "_" + SUF (at most
# 15 characters: the whole name is the process's comm).
build_fixture() {
  local name="opd_${1:0:6}_$SUF"
  printf -v "FX_$1" '%s' "$name"
  cc -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -o "$WORK/$name" \
    "$SRC/tests/data/profiling/$1.c" || fail "cannot build fixture $1"
}

# start_daemon HZ INTERVAL [extra receiver yaml lines]: writes the config and starts otelprofd.
# With METRICS_PORT set, the self metrics are served on 127.0.0.1:$METRICS_PORT; with
# PPROF_DIR set, a file exporter writes pprof files there too.
start_daemon() {
  local hz=$1 interval=$2 extra=${3:-} metrics="level: none" pprof="" pprof_id=""
  [ -n "${METRICS_PORT:-}" ] && metrics="address: 127.0.0.1:$METRICS_PORT"
  if [ -n "${PPROF_DIR:-}" ]; then
    pprof="  file/pprof:
    path: $PPROF_DIR
    format: pprof"
    pprof_id=", file/pprof"
  fi
  cat >"$WORK/config.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $hz
    reporter_interval: $interval
$extra
exporters:
  file/json:
    path: $WORK/profiles.jsonl
    format: json
    flush_interval: 0s
  file/folded:
    path: $WORK/profiles.folded
    format: folded
    flush_interval: 0s
$pprof
service:
  telemetry:
    logs:
      level: info
    metrics:
      $metrics
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [file/json, file/folded$pprof_id]
YAML
  "$BIN" --config "$WORK/config.yaml" >"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  wait_ready "$WORK/daemon.log" "$DAEMON_PID"
}

# wait_ready LOG PID: waits for the daemon's own readiness line ("everything is ready"),
# however long this kernel takes to verify the programs (bounded by OPD_READY_TIMEOUT,
# 300 s, only so that a hung start ends). Fails at once, with the kernel's reason, when
# the daemon exits or turns a feature off because the kernel refused its program
# (ALLOW_DEGRADED=1 lets a test that expects that go on).
wait_ready() {
  local log=$1 pid=$2 deadline=$(( $(date +%s) + ${OPD_READY_TIMEOUT:-300} ))
  while ! grep -q "everything is ready" "$log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      grep -E "error|verifier" "$log" | tail -5
      fail "otelprofd exited at start"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "otelprofd not ready after ${OPD_READY_TIMEOUT:-300} s"
    sleep 0.1
  done
  if [ "${ALLOW_DEGRADED:-0}" != 1 ] && grep -q "degraded:" "$log"; then
    grep "degraded:" "$log"
    fail "the kernel refused part of the sampler (reason above)"
  fi
}

# stop_daemon: SIGINT, wait for the orderly exit (final drain and flush), check exit 0.
stop_daemon() {
  local rc
  kill -INT "$DAEMON_PID"
  for _ in $(seq 1 150); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$DAEMON_PID" 2>/dev/null && fail "otelprofd did not exit within 15 s of SIGINT"
  wait "$DAEMON_PID"
  rc=$?
  DAEMON_PID=""
  [ "$rc" -eq 0 ] || fail "otelprofd exited with $rc"
}

# folded_sum REGEX: sum of the counts of folded lines matching REGEX (awk ERE).
folded_sum() {
  awk -v re="$1" '$0 ~ re { n += $NF } END { print n + 0 }' "$WORK/profiles.folded"
}
