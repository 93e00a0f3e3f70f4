#!/usr/bin/env bash
# Scope filter, end to end. (1) include.cgroup_prefixes: only threads of a cgroup v2
# subtree made for the test are sampled; everything else on the host is out of scope.
# (2) exclude.comm: a process whose name matches never shows up, even in the first
# interval. (3) exclude.pids. (4) include.comm: a process started after the daemon is in
# scope from its exec on (the kernel announces the exec, the rule is applied at once).
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
build_fixture callchain

# (1) cgroup subtree. v2 is at /sys/fs/cgroup, or at /sys/fs/cgroup/unified on hybrid hosts.
CGROOT=""
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if [ "$(stat -f -c %T "$d" 2>/dev/null)" = "cgroup2fs" ]; then CGROOT=$d; break; fi
done
if [ -n "$CGROOT" ] && mkdir "$CGROOT/opd-scope-$$" 2>/dev/null; then
  CG=/opd-scope-$$
  trap 'rmdir "$CGROOT$CG/inner" "$CGROOT$CG" 2>/dev/null; cleanup' EXIT
  mkdir "$CGROOT$CG/inner"
  start_daemon 99 1s "    include:
      cgroup_prefixes: [\"$CG\"]"
  # The fixture runs inside the subtree (a child cgroup: prefixes cover descendants).
  sh -c "echo \$\$ > $CGROOT$CG/inner/cgroup.procs && exec $WORK/$FX_callchain 1.5" >/dev/null ||
    fail "cannot run the fixture in $CGROOT$CG/inner"
  # Something outside the subtree burns CPU meanwhile.
  "$WORK/$FX_callchain" 1 >/dev/null
  sleep 1.5
  stop_daemon
  inside=$(folded_sum "^$FX_callchain;")
  others=$(awk -F';' -v p="$FX_callchain" '$1 != p { n += $NF } END { print n + 0 }' "$WORK/profiles.folded")
  pids=$(jq -r '.resourceProfiles[].resource.attributes[] | select(.key == "process.pid") | .value.intValue' \
    "$WORK/profiles.jsonl" | sort -u | wc -l)
  echo "cgroup include: $inside samples inside $CG, $others outside, $pids process(es)"
  [ "$inside" -ge 100 ] || fail "the fixture in $CG was not sampled ($inside)"
  [ "$others" -eq 0 ] || fail "$others samples from outside $CG"
  [ "$pids" -eq 1 ] || fail "expected only the fixture inside the cgroup, got $pids processes"
  rm -f "$WORK/profiles.folded" "$WORK/profiles.jsonl"
else
  echo "cgroup include: skipped (no writable cgroup v2 tree)"
fi

# (2) exclude by process name, and (3) exclude by pid: a busy copy of the fixture under
# another name, started before the daemon.
BUSY_NAME=opd_busy_$SUF
cp "$WORK/$FX_callchain" "$WORK/$BUSY_NAME"
"$WORK/$BUSY_NAME" 4 >/dev/null &
BUSY=$!
start_daemon 99 1s "    exclude:
      comm: [\"^$FX_callchain\$\"]
      pids: [\"$BUSY\"]"
"$WORK/$FX_callchain" 1.5 >/dev/null
wait "$BUSY"
sleep 1.5
stop_daemon
excluded=$(folded_sum "^$FX_callchain;")
busy=$(folded_sum "^$BUSY_NAME;")
all=$(awk '{ n += $NF } END { print n + 0 }' "$WORK/profiles.folded")
echo "exclude: $excluded samples of the comm-excluded fixture, $busy of the pid-excluded one, $all in all"
[ "$excluded" -eq 0 ] || fail "comm-excluded process was sampled ($excluded)"
[ "$busy" -eq 0 ] || fail "pid-excluded process was sampled ($busy)"
[ "$all" -gt 0 ] || fail "nothing else was sampled either"
rm -f "$WORK/profiles.folded" "$WORK/profiles.jsonl"

# (4) include by name, for a process that starts after the daemon; reporting every 5 s,
# so without the exec notification it would be out of scope for its whole life.
LATE_NAME=opd_late_$SUF
cp "$WORK/$FX_callchain" "$WORK/$LATE_NAME"
HZ=99
start_daemon $HZ 5s "    include:
      comm: [\"^$LATE_NAME\$\"]"
cpu=$("$WORK/$LATE_NAME" 1.5) || fail "fixture failed"
sleep 0.5
stop_daemon
late=$(folded_sum "^$LATE_NAME;")
other=$(awk -F';' -v p="$LATE_NAME" '$1 != p { n += $NF } END { print n + 0 }' "$WORK/profiles.folded")
expected=$(awk -v c="$cpu" -v hz=$HZ 'BEGIN { printf "%d", c * hz }')
echo "include by name: $late samples of the late process (expected ~$expected), $other of others"
awk -v t="$late" -v e="$expected" 'BEGIN { exit !(t >= 0.75 * e && t <= 1.25 * e) }' ||
  fail "the late process was not in scope from its start ($late of ~$expected)"
[ "$other" -eq 0 ] || fail "$other samples of processes not included"
echo PASS
