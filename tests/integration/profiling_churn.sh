#!/usr/bin/env bash
# Must show: 2,000 short-lived processes while sampling. The daemon stays up, its RSS stays
# under the budget, and samples of processes that exited before the drain are still
# attributed (their own pid and executable name on the resource).
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
build_fixture churn

# Budget: the configured symbol cache (32 MiB) plus 32 MiB for everything else.
BUDGET_KIB=${OPD_CHURN_RSS_BUDGET_KIB:-65536}
# The churn runs in a cgroup v2 subtree of its own and the receiver includes only that
# subtree (in the kernel, so every new child is in scope from its first instruction):
# the RSS measured is the churn's, not that of symbolizing whatever else the host runs.
CGROOT=""
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
  if [ "$(stat -f -c %T "$d" 2>/dev/null)" = "cgroup2fs" ]; then CGROOT=$d; break; fi
done
SCOPE=""
RUN=("$WORK/$FX_churn" 2000 5)
if [ -n "$CGROOT" ] && mkdir "$CGROOT/opd-churn-$$" 2>/dev/null; then
  CG=/opd-churn-$$
  trap 'rmdir "$CGROOT$CG" 2>/dev/null; cleanup' EXIT
  SCOPE="    include:
      cgroup_prefixes: [\"$CG\"]"
  RUN=(sh -c "echo \$\$ > $CGROOT$CG/cgroup.procs && exec $WORK/$FX_churn 2000 5")
else
  echo "no writable cgroup v2 tree: sampling the whole host"
fi
start_daemon 199 2s "    max_processes: 1024
    symbolization:
      cache_size: 32MiB
$SCOPE"
"${RUN[@]}" >"$WORK/churn.out" || fail "churn fixture failed"
sleep 2.5
kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd died during the churn"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON_PID/status")
stop_daemon

echo "churn: $(cat "$WORK/churn.out") children; otelprofd RSS ${rss} KiB, peak ${peak} KiB (budget ${BUDGET_KIB} KiB)"
[ "$peak" -lt "$BUDGET_KIB" ] || fail "peak RSS $peak KiB over the budget $BUDGET_KIB KiB"

# Children: resources named opd_churn with distinct pids, and their samples.
read -r pids samples < <(jq -r -s --arg fx "$FX_churn" '
  [ .[] | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.executable.name" and .value.stringValue == $fx))
    | { pid: (.resource.attributes[] | select(.key == "process.pid") | .value.intValue),
        n: ([ .scopeProfiles[].profiles[].samples[].values[0] | tonumber ] | add) } ]
  | "\(map(.pid) | unique | length) \(map(.n) | add // 0)"' "$WORK/profiles.jsonl")
echo "attributed: $samples samples over $pids distinct opd_churn pids"
# 2,000 children × 5 ms CPU at 199 Hz is ~2,000 samples; demand a large share of them.
[ "$pids" -ge 500 ] || fail "only $pids distinct child pids attributed"
[ "$samples" -ge 1000 ] || fail "only $samples samples attributed to the children"
# The kernel announces each new process on its first sample and the receiver reads /proc
# right then, so most children, gone long before the drain, keep their executable path
# and get their frames symbolized.
named=$(folded_sum "^$FX_churn;(.*;)?opd_fx_child_work( |;)")
withpath=$(jq -r --arg fx "$FX_churn" '.resourceProfiles[].resource.attributes
  | map({(.key): .value}) | add | select(."process.executable.name".stringValue == $fx)
  | has("process.executable.path")' "$WORK/profiles.jsonl" | grep -c true)
echo "exited children: $named samples symbolized to opd_fx_child_work; $withpath resources with their path"
[ "$named" -ge $((samples / 2)) ] || fail "fewer than half of the children's samples are symbolized"
[ "$withpath" -ge $((pids / 2)) ] || fail "fewer than half of the children kept their executable path"
echo PASS
