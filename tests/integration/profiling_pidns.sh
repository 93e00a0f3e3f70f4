#!/usr/bin/env bash
# otelprofd in a pid namespace of its own, as in a container without hostPID
# (unshare --pid --fork --mount-proc). The kernel samples name processes by their host
# ids, which the namespace's own /proc does not know:
#  - with procfs_root left at /proc (the namespace's), start fails with a clear message
#    instead of reading metadata and symbols of whatever process has that id there;
#  - with the host's procfs mounted into the daemon's view (as a hostPath /proc at
#    /host/proc would be) and procfs_root pointing at it, a fixture running on the host
#    is profiled under its host pid, with its function names.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/profiling_lib.sh"

require_privileges
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
unshare --pid --fork --mount-proc true 2>/dev/null || skip "unshare --pid --mount-proc not permitted"

hostproc="$WORK/hostproc"
mkdir -p "$hostproc"
fx=
ns_cleanup() {
  [ -n "$fx" ] && kill -KILL "$fx" 2>/dev/null && wait "$fx" 2>/dev/null
  if [ -n "$DAEMON_PID" ]; then
    pkill -KILL -P "$DAEMON_PID" 2>/dev/null
    kill -KILL "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
  fi
  umount "$hostproc" 2>/dev/null
  cleanup
}
trap ns_cleanup EXIT
# A procfs instance of the host's pid namespace; unshare's new mount namespace copies it.
mount -t proc proc "$hostproc" || skip "cannot mount a procfs"

build_fixture callchain
write_config() { # procfs_root
  cat >"$WORK/config.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: 97
    reporter_interval: 1s
    procfs_root: $1
    include: {comm: ["^$FX_callchain\$"]}
exporters:
  file/json: {path: $WORK/profiles.jsonl, format: json, flush_interval: 0s}
  file/folded: {path: $WORK/profiles.folded, format: folded, flush_interval: 0s}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    profiles: {receivers: [profiling], exporters: [file/json, file/folded]}
YAML
}

# 1. The namespace's own /proc: refused at start.
write_config /proc
out=$(timeout 30 unshare --pid --fork --mount-proc "$BIN" --config "$WORK/config.yaml" 2>&1)
rc=$?
[ "$rc" -ne 0 ] || fail "otelprofd started with a procfs of its own pid namespace"
grep -q "pid namespace other than the host's" <<<"$out" ||
  fail "no clear message for the pid namespace mismatch: $out"
grep -q "procfs_root" <<<"$out" || fail "the message does not name the remedy: $out"
echo "ok: refused with the namespace's own /proc"

# 2. The host's procfs: the host fixture is profiled by its host pid.
write_config "$hostproc"
unshare --pid --fork --mount-proc "$BIN" --config "$WORK/config.yaml" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do
  grep -q "sampling .* CPUs" "$WORK/daemon.log" 2>/dev/null && break
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd exited at start"
  sleep 0.1
done
grep -q "sampling .* CPUs" "$WORK/daemon.log" || fail "otelprofd did not start sampling"
grep -q "running in a pid namespace of its own" "$WORK/daemon.log" ||
  fail "the receiver did not notice its pid namespace"
"$WORK/$FX_callchain" 2 >/dev/null &
fx=$!
wait "$fx"
fx_pid=$fx
fx=
sleep 2.5
# SIGINT to the daemon itself (unshare's child), which flushes and exits; unshare follows.
inner=$(pgrep -P "$DAEMON_PID" | head -1)
[ -n "$inner" ] || fail "no daemon process under unshare"
kill -INT "$inner"
for _ in $(seq 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "otelprofd did not exit within 15 s of SIGINT"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
[ "$rc" -eq 0 ] || fail "otelprofd exited with $rc"

n=$(jq -s --arg p "$fx_pid" '[.[].resourceProfiles[]
    | select([.resource.attributes[] | select(.key == "process.pid") | .value.intValue
              | tostring] == [$p])
    | .scopeProfiles[].profiles[].samples[]?
    | ((.values[0] // null) // (.timestampsUnixNano | length)) | tonumber] | add // 0' \
  "$WORK/profiles.jsonl")
[ "$n" -gt 50 ] || fail "only $n samples under the fixture's host pid $fx_pid"
named=$(folded_sum "^$FX_callchain;.*main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma")
[ "$named" -gt 50 ] || fail "the fixture's stacks are not symbolized ($named samples named)"
echo "PASS: refused with the namespace's /proc; with the host's procfs $n samples under host pid $fx_pid, $named symbolized"
