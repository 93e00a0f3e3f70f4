#!/usr/bin/env bash
# otelprofd in a pid namespace of its own, as in a container without hostPID
# (unshare --pid --fork --mount-proc). The kernel names processes by their host ids:
#  - with procfs_root left at /proc (the namespace's own, as for a sidecar sharing its
#    pod's process namespace), the sampler keys records by the namespace's ids: a fixture
#    started inside the namespace is profiled under its id there, with its function names,
#    and a fixture running outside it is not profiled at all;
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
write_config() { # procfs_root [comm regex, or "all" for no include rule]
  local inc="    include: {comm: [\"${2:-^$FX_callchain\$}\"]}"
  [ "${2:-}" = all ] && inc=""
  cat >"$WORK/config.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: 97
    reporter_interval: 1s
    procfs_root: $1
$inc
exporters:
  file/json: {path: $WORK/profiles.jsonl, format: json, flush_interval: 0s}
  file/folded: {path: $WORK/profiles.folded, format: folded, flush_interval: 0s}
service:
  telemetry: {metrics: {level: none}}
  pipelines:
    profiles: {receivers: [profiling], exporters: [file/json, file/folded]}
YAML
}

# stop_ns: SIGINT to the daemon itself (unshare's child, or its pid 1), which flushes and
# exits; unshare follows with its status.
stop_ns() {
  local inner rc
  inner=$(pgrep -P "$DAEMON_PID" | head -1)
  [ -n "$inner" ] || fail "no daemon process under unshare"
  kill -INT "$inner"
  for _ in $(seq 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$DAEMON_PID" 2>/dev/null && fail "otelprofd did not exit within 15 s of SIGINT"
  wait "$DAEMON_PID"
  rc=$?
  DAEMON_PID=
  [ "$rc" -eq 0 ] || fail "otelprofd exited with $rc"
}
# samples_of PID [FILE]: samples under process.pid PID in the json output.
samples_of() {
  jq -s --arg p "$1" '[.[].resourceProfiles[]
      | select([.resource.attributes[] | select(.key == "process.pid") | .value.intValue
                | tostring] == [$p])
      | .scopeProfiles[].profiles[].samples[]?
      | ((.values[0] // null) // (.timestampsUnixNano | length)) | tonumber] | add // 0' \
    "$WORK/profiles.jsonl"
}
wait_sampling() { wait_ready "$WORK/daemon.log" "$DAEMON_PID"; }

# 1. The namespace's own /proc: ids of the namespace; the host's processes are not its.
cp "$WORK/$FX_callchain" "$WORK/opd_pidout_$SUF" # same code, another name, outside
# No include rule: everything the daemon may see is sampled, so only the kernel's
# namespace check keeps the outside fixture out.
write_config /proc all
# In the namespace: the shell is pid 1; the fixture runs once the daemon samples.
unshare --pid --fork --mount-proc sh -c '
  "$1" --config "$2" >"$3" 2>&1 & d=$!
  for i in $(seq 3000); do grep -q "everything is ready" "$3" && break; sleep 0.1; done
  "$4" 2 >/dev/null & echo "$!" >"$5"
  wait "$!"
  wait "$d"' sh "$BIN" "$WORK/config.yaml" "$WORK/daemon.log" "$WORK/$FX_callchain" \
  "$WORK/fx_ns_pid" &
DAEMON_PID=$!
wait_sampling
grep -q "only the processes of this namespace are profiled" "$WORK/daemon.log" ||
  fail "the receiver did not switch to the namespace's ids"
"$WORK/opd_pidout_$SUF" 2 >/dev/null # the same work outside the namespace
sleep 2.5
# The shell in the namespace waits for the daemon: stop the daemon (the shell's child).
inner_sh=$(pgrep -P "$DAEMON_PID" | head -1)
daemon=$(pgrep -P "$inner_sh" -x otelprofd | head -1)
[ -n "$daemon" ] || fail "no daemon process in the namespace"
kill -INT "$daemon"
for _ in $(seq 150); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "otelprofd did not exit within 15 s of SIGINT"
wait "$DAEMON_PID" || fail "otelprofd in the namespace did not exit cleanly"
DAEMON_PID=
in_ns=$(jq -s -r '[.[].resourceProfiles[].resource.attributes | from_entries
    | select(.["process.executable.name"].stringValue | startswith("opd_callch"))
    | .["process.pid"].intValue] | unique | join(",")' "$WORK/profiles.jsonl")
want=$(cat "$WORK/fx_ns_pid" 2>/dev/null)
[ -n "$want" ] || fail "the fixture in the namespace did not run"
[ "$in_ns" = "$want" ] ||
  fail "the fixture in the namespace is under pid(s) '$in_ns', not its namespace pid $want"
n=$(samples_of "$in_ns")
[ "$n" -gt 50 ] || fail "only $n samples of the fixture in the namespace (pid $in_ns there)"
named=$(folded_sum "^$FX_callchain;.*main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma")
[ "$named" -gt 50 ] || fail "the namespace fixture's stacks are not symbolized ($named named)"
grep -q "opd_pidout_$SUF" "$WORK/profiles.jsonl" "$WORK/profiles.folded" &&
  fail "a process outside the daemon's pid namespace was profiled"
echo "ok: own /proc: $n samples under namespace pid $in_ns, $named symbolized, none from outside"
rm -f "$WORK/profiles.jsonl" "$WORK/profiles.folded"

# 2. The host's procfs: the host fixture is profiled by its host pid.
write_config "$hostproc"
unshare --pid --fork --mount-proc "$BIN" --config "$WORK/config.yaml" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_sampling
grep -q "running in a pid namespace of its own" "$WORK/daemon.log" ||
  fail "the receiver did not notice its pid namespace"
"$WORK/$FX_callchain" 2 >/dev/null &
fx=$!
wait "$fx"
fx_pid=$fx
fx=
sleep 2.5
stop_ns
n=$(samples_of "$fx_pid")
[ "$n" -gt 50 ] || fail "only $n samples under the fixture's host pid $fx_pid"
named=$(folded_sum "^$FX_callchain;.*main;opd_fx_alpha;opd_fx_beta;opd_fx_gamma")
[ "$named" -gt 50 ] || fail "the fixture's stacks are not symbolized ($named samples named)"
echo "PASS: with the host's procfs $n samples under host pid $fx_pid, $named symbolized"
