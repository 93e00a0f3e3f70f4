# Shared helpers of the obs integration tests (sourced): paths, a work directory, free
# loopback ports, waiting for an HTTP endpoint, and starting/stopping the daemon.

SRC=${OPD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${OTELPROFD:-${OPD_BINARY_DIR:-$SRC/build}/otelprofd}
FIXTURE=$SRC/tests/data/obs/cpu.jsonl
WORK=$(mktemp -d /tmp/opd-obs-test.XXXXXX)
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
ok() { echo "ok: $*"; }

[ -x "$BIN" ] || fail "otelprofd binary not found at $BIN"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"

# Prints n loopback ports that were free a moment ago.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Waits until URL answers (any HTTP status), up to ~10 s.
wait_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  fail "$1 never answered"
}

# Starts the daemon on config $1; its log goes to $WORK/daemon.log.
start_daemon() {
  "$BIN" --config "$1" >"$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
}

# Stops the daemon with SIGTERM and checks it exits 0.
stop_daemon() {
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || fail "otelprofd exited with $?"
  DAEMON_PID=""
}
