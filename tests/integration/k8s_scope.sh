#!/usr/bin/env bash
# Privileged end to end of the profiling receiver's Kubernetes scope. Three fixture "pods",
# each a process in a kubelet-shaped cgroup under the cgroup2 mount found in /proc/mounts:
#   A in namespace scope-in   (served by the fake API server from the start)
#   B in namespace scope-out  (served from the start)
#   C in namespace scope-in   (running from the start, but its pod is only added to the
#                              API server later, through a watch event)
# The receiver has scope.namespaces: [scope-in]. Checks:
#  - A is profiled; B appears in no output (file json, file folded), not even its pid or
#    its function names, and the kernel's filtered counter (self-metrics) covers at least
#    the samples B's CPU time accounts for, so B was dropped in the kernel;
#  - C is not profiled while its pod is unknown, and is once the pod appears;
#  - then with scope.pod_selector {app: fx-b} alone (every namespace), only B is profiled.
# Each fixture's functions are renamed at build time, so folded stacks tell them apart.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/profiling_lib.sh"

require_privileges
command -v python3 >/dev/null && command -v openssl >/dev/null || skip "python3 or openssl missing"
command -v curl >/dev/null || skip "curl missing"
cgmnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgmnt" ] || skip "no cgroup v2 mount in /proc/mounts"

HZ=97
qos="$cgmnt/kubepods.slice/kubepods-burstable.slice"
declare -A uid cid cg pid
for p in a b c; do
  uid[$p]=$(cat /proc/sys/kernel/random/uuid)
  cid[$p]=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  cg[$p]="$qos/kubepods-burstable-pod${uid[$p]//-/_}.slice/cri-containerd-${cid[$p]}.scope"
done
srv=
scope_cleanup() {
  for p in a b c; do
    [ -n "${pid[$p]:-}" ] && kill -KILL "${pid[$p]}" 2>/dev/null && wait "${pid[$p]}" 2>/dev/null
  done
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
  fi
  for p in a b c; do
    rmdir "${cg[$p]}" "$(dirname "${cg[$p]}")" 2>/dev/null
  done
  rmdir "$qos" "$cgmnt/kubepods.slice" 2>/dev/null
  cleanup
}
trap scope_cleanup EXIT
for p in a b c; do
  mkdir -p "${cg[$p]}" || skip "cannot create cgroups under $cgmnt"
done

cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.crt -days 1 -subj /CN=opd-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
  -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 \
  -extfile ext 2>/dev/null
echo "scope-token" >token
cp token accepted

pod_obj() { # p namespace
  printf '{"metadata":{"name":"fx-%s","namespace":"%s","uid":"%s","labels":{"app":"fx-%s"}},
   "spec":{"nodeName":"node-1","containers":[{"name":"app","image":"registry.local/fx:1"}]},
   "status":{"startTime":"2026-11-25T09:00:00Z",
    "containerStatuses":[{"name":"app","containerID":"containerd://%s"}]}}' \
    "$1" "$2" "${uid[$1]}" "$1" "${cid[$1]}"
}
printf '{"pods":[%s,%s]}' "$(pod_obj a scope-in)" "$(pod_obj b scope-out)" >cluster.json
python3 "$here/k8s/fake_apiserver.py" --fixture cluster.json --port-file port --cert srv.crt \
  --key srv.key --tokens accepted 2>apiserver.log &
srv=$!
for _ in $(seq 100); do [ -f port ] && break; sleep 0.05; done
[ -f port ] || fail "fake API server did not start"
port=$(cat port)
cat >kubeconfig <<YAML
apiVersion: v1
kind: Config
current-context: scope
clusters:
- {name: fake, cluster: {server: "https://127.0.0.1:$port", certificate-authority: $WORK/ca.crt}}
contexts:
- {name: scope, context: {cluster: fake, user: profiler}}
users:
- {name: profiler, user: {tokenFile: $WORK/token}}
YAML

# Three builds of the call-chain fixture whose functions carry the pod's letter.
for p in a b c; do
  cc -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls \
    -Dopd_fx_alpha=opd_sc${p}_alpha -Dopd_fx_beta=opd_sc${p}_beta -Dopd_fx_gamma=opd_sc${p}_gamma \
    -o "$WORK/opd_sc${p}_$SUF" "$SRC/tests/data/profiling/callchain.c" ||
    fail "cannot build fixture $p"
done
# Each fixture moves itself into its container cgroup before it starts burning CPU.
for p in a b c; do
  sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 60' sh "${cg[$p]}" "$WORK/opd_sc${p}_$SUF" \
    >/dev/null &
  pid[$p]=$!
done
sleep 0.2
for p in a b c; do
  grep -q "cri-containerd-${cid[$p]}.scope" "/proc/${pid[$p]}/cgroup" ||
    fail "fixture $p is not in ${cg[$p]}"
done

cat >config.yaml <<YAML
receivers:
  profiling:
    samples_per_second: $HZ
    reporter_interval: 1s
    scope:
      namespaces: [scope-in]
      auth_type: kubeConfig
exporters:
  file/json: {path: $WORK/profiles.jsonl, format: json, flush_interval: 0s}
  file/folded: {path: $WORK/profiles.folded, format: folded, flush_interval: 0s}
service:
  telemetry: {metrics: {address: "127.0.0.1:0"}}
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [file/json, file/folded]
YAML
"$BIN" validate --config config.yaml >/dev/null || fail "the scope config does not validate"
KUBECONFIG=$WORK/kubeconfig "$BIN" --config config.yaml >daemon.log 2>&1 &
DAEMON_PID=$!

# pid_samples P: samples of fixture P in the json output, by its process.pid.
pid_samples() {
  [ -f profiles.jsonl ] || { echo 0; return; }
  jq -s --arg p "${pid[$1]}" '[.[].resourceProfiles[]
      | select([.resource.attributes[] | select(.key == "process.pid")
                | .value.intValue | tostring] == [$p])
      | .scopeProfiles[].profiles[].samples[]?
      | ((.values[0] // null) // (.timestampsUnixNano | length)) | tonumber] | add // 0' \
    profiles.jsonl
}
# cpu_ticks P: user+system CPU time of fixture P in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${pid[$1]}/stat"; }
metric() { # NAME REASON: the receiver's counter from the self-metrics endpoint
  curl -s "http://127.0.0.1:$mport/metrics" | awk -v n="$1" -v r="$2" '
    index($0, n "{") == 1 && (r == "" || index($0, "reason=\"" r "\"")) { print $NF; exit }'
}

wait_ready daemon.log "$DAEMON_PID"
mport=$(sed -n 's/.*serving self-metrics at .*(port \([0-9]*\)).*/\1/p' daemon.log | head -1)
[ -n "$mport" ] || fail "no self-metrics port in the log"
grep -q "scope: 1 pods selected, 1 pod cgroups found" daemon.log ||
  fail "the receiver did not select exactly pod A at start"
b0=$(cpu_ticks b)
f0=$(metric otelprofd_profiling_samples_lost_total filtered)

# A shows up; C does not while its pod is unknown to the API server.
for _ in $(seq 100); do
  [ "$(pid_samples a)" -gt 50 ] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd exited"
  sleep 0.2
done
[ "$(pid_samples a)" -gt 50 ] || fail "pod A (in scope) was not profiled"
sleep 2
[ "$(pid_samples c)" -eq 0 ] || fail "pod C was profiled before the API server knew its pod"

# The kernel's filtered counter covers at least B's samples (its CPU time × HZ, less a
# margin for timer jitter); the counters are read at each 1 s drain, so wait one more.
b1=$(cpu_ticks b)
sleep 1.5
f1=$(metric otelprofd_profiling_samples_lost_total filtered)
[ -n "$f0" ] && [ -n "$f1" ] || fail "no filtered counter in the self-metrics"
tck=$(getconf CLK_TCK)
b_samples=$(( (b1 - b0) * HZ / tck ))
[ "$b_samples" -gt 50 ] || fail "fixture B did not run (${b_samples} samples' worth of CPU)"
echo "B ran for $(( (b1 - b0) * 1000 / tck )) ms (~$b_samples samples); filtered in the kernel: $(( f1 - f0 ))"
[ $(( f1 - f0 )) -ge $(( b_samples * 8 / 10 )) ] ||
  fail "the kernel filtered $(( f1 - f0 )) samples, fewer than B's ~$b_samples"

# C's pod starts (as far as the API server says): its samples follow.
python3 - "$port" "$(pod_obj c scope-in)" <<'PY' || fail "cannot add pod C"
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="ca.crt")
body = json.dumps({"kind": "pods", "type": "ADDED", "object": json.loads(sys.argv[2])})
urllib.request.urlopen("https://127.0.0.1:%s/_control/apply" % sys.argv[1],
                       data=body.encode(), context=ctx).read()
PY
for _ in $(seq 100); do
  [ "$(pid_samples c)" -gt 20 ] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd exited"
  sleep 0.2
done
[ "$(pid_samples c)" -gt 20 ] || fail "pod C was not profiled after its pod appeared"
grep -q "scope: 2 pods selected, 2 pod cgroups found" daemon.log ||
  fail "the receiver did not log the new pod"
stop_daemon

# B in no output: not its pid, not its process name, not its functions.
[ "$(pid_samples b)" -eq 0 ] || fail "pod B (out of scope) has samples in the json output"
if grep -q "opd_scb_" profiles.jsonl profiles.folded; then
  fail "pod B's process or function names appear in the output"
fi
n_b=$(jq -s --arg p "${pid[b]}" '[.[].resourceProfiles[].resource.attributes[]
    | select(.key == "process.pid" and (.value.intValue | tostring) == $p)] | length' profiles.jsonl)
[ "$n_b" -eq 0 ] || fail "pod B's pid is on $n_b resources of the json output"
grep -q "${cid[a]}" profiles.jsonl || fail "pod A's container id is missing from the json output"
if grep -q -e "${cid[b]}" -e "${uid[b]}" profiles.jsonl profiles.folded; then
  fail "pod B's container id or pod uid appears in the output"
fi
a_folded=$(folded_sum "^opd_sca_$SUF;.*opd_sca_gamma")
[ "$a_folded" -gt 50 ] || fail "pod A's stacks are missing from the folded output ($a_folded)"
summary="A $(pid_samples a) samples, C $(pid_samples c), B 0 (kernel filtered $(( f1 - f0 )) while B ran)"

# pod_selector alone: only B (label app=fx-b), whatever its namespace.
rm -f profiles.jsonl profiles.folded
sed -i 's/^      namespaces: \[scope-in\]$/      pod_selector: {app: fx-b}/' config.yaml
grep -q "pod_selector: {app: fx-b}" config.yaml || fail "cannot rewrite the config"
KUBECONFIG=$WORK/kubeconfig "$BIN" --config config.yaml >daemon.log 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do
  [ "$(pid_samples b)" -gt 20 ] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd exited"
  sleep 0.2
done
[ "$(pid_samples b)" -gt 20 ] || fail "pod B was not profiled under pod_selector app=fx-b"
stop_daemon
[ "$(pid_samples a)" -eq 0 ] && [ "$(pid_samples c)" -eq 0 ] ||
  fail "pods A or C (other labels) were profiled under pod_selector app=fx-b"
grep -q -e "opd_sca_" -e "opd_scc_" profiles.folded && fail "A's or C's stacks in the folded output"
echo "PASS: $summary; with pod_selector app=fx-b: B $(pid_samples b), A 0, C 0"
