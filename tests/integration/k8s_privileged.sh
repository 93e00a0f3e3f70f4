#!/usr/bin/env bash
# Privileged end to end: a fixture process in a cgroup v2 path shaped like a kubelet pod
# cgroup (kubepods.slice/…-pod<UID>.slice/cri-containerd-<ID>.scope, under the cgroup2
# mount found in /proc/mounts, which on hybrid hosts is not /sys/fs/cgroup), the fake API
# server (TLS, token) serving that pod, and the real daemon: profiling → k8sattributes →
# team → redaction → file. While it runs, the pod's team annotation and then the
# namespace's are removed through the API server's watch, and the exported resources
# must follow: team from the pod annotation, then the namespace's, then a rule. The
# fixture's blocked function name must appear in no byte of the output.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/profiling_lib.sh"

require_privileges
command -v python3 >/dev/null && command -v openssl >/dev/null || skip "python3 or openssl missing"
cgmnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgmnt" ] || skip "no cgroup v2 mount in /proc/mounts"

uid=$(cat /proc/sys/kernel/random/uuid)
cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
pod_slice="$cgmnt/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice"
cg="$pod_slice/cri-containerd-$cid.scope"
srv=
fx=
k8s_cleanup() {
  [ -n "$fx" ] && kill -KILL "$fx" 2>/dev/null && wait "$fx" 2>/dev/null
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  rmdir "$cg" "$pod_slice" "$cgmnt/kubepods.slice/kubepods-besteffort.slice" \
    "$cgmnt/kubepods.slice" 2>/dev/null
  cleanup
}
trap k8s_cleanup EXIT
mkdir -p "$cg" || skip "cannot create cgroups under $cgmnt"

cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.crt -days 1 -subj /CN=opd-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
  -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 \
  -extfile ext 2>/dev/null
echo "e2e-token" >token
cp token accepted

ns_obj() { # annotations-json
  printf '{"metadata":{"name":"e2e-shop","uid":"0e2e0000-0000-4000-8000-00000000000a","annotations":%s}}' "$1"
}
pod_obj() { # annotations-json
  printf '{"metadata":{"name":"e2e-web-5f7d8c9b4-abcde","namespace":"e2e-shop","uid":"%s",
    "labels":{"app.kubernetes.io/name":"e2e-web","pod-template-hash":"5f7d8c9b4"},
    "annotations":%s,
    "ownerReferences":[{"kind":"ReplicaSet","name":"e2e-web-5f7d8c9b4","controller":true}]},
   "spec":{"nodeName":"node-1","containers":[{"name":"app","image":"registry.local/e2e/web:2.0"}]},
   "status":{"startTime":"2026-11-25T09:00:00Z",
    "containerStatuses":[{"name":"app","containerID":"containerd://%s"}]}}' "$uid" "$1" "$cid"
}
printf '{"namespaces":[%s],"pods":[%s]}' "$(ns_obj '{"team":"ns-team"}')" \
  "$(pod_obj '{"team":"pod-team"}')" >cluster.json
python3 "$here/k8s/fake_apiserver.py" --fixture cluster.json --port-file port --cert srv.crt \
  --key srv.key --tokens accepted 2>apiserver.log &
srv=$!
for _ in $(seq 100); do [ -f port ] && break; sleep 0.05; done
[ -f port ] || fail "fake API server did not start"
port=$(cat port)
cat >kubeconfig <<YAML
apiVersion: v1
kind: Config
current-context: e2e
clusters:
- {name: fake, cluster: {server: "https://127.0.0.1:$port", certificate-authority: $WORK/ca.crt}}
contexts:
- {name: e2e, context: {cluster: fake, user: profiler}}
users:
- {name: profiler, user: {tokenFile: $WORK/token}}
YAML
control() {
  python3 - "$port" "$1" "$2" <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="ca.crt")
urllib.request.urlopen("https://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]),
                       data=sys.argv[3].encode(), context=ctx).read()
PY
}

build_fixture callchain
# The fixture moves itself into the pod's container cgroup before it starts burning CPU.
sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 60' sh "$cg" "$WORK/$FX_callchain" >/dev/null &
fx=$!
sleep 0.2
grep -q "cri-containerd-$cid.scope" "/proc/$fx/cgroup" || fail "fixture is not in $cg"

cat >"$WORK/config.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: 97
    reporter_interval: 1s
    include: {pids: [$fx]}
processors:
  k8sattributes:
    auth_type: kubeConfig
    wait_for_metadata: true
    extract:
      metadata: [k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.container.name,
                 container.image.name, container.image.tag, k8s.deployment.name, service.name]
  team:
    auth_type: kubeConfig
    rules: [{namespace: "^e2e-shop\$", team: rule-team}]
  redaction:
    allow_all_keys: true
    symbols: {blocked_patterns: ["^opd_fx_beta\$"]}
exporters:
  file/json: {path: $WORK/profiles.jsonl, format: json, flush_interval: 0s}
  file/folded: {path: $WORK/profiles.folded, format: folded, flush_interval: 0s}
service:
  telemetry: {metrics: {level: none}} # no fixed port: tests may run in parallel
  pipelines:
    profiles:
      receivers: [profiling]
      processors: [k8sattributes, team, redaction]
      exporters: [file/json, file/folded]
YAML
KUBECONFIG=$WORK/kubeconfig "$BIN" --config "$WORK/config.yaml" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!

# wait_team TEAM SOURCE: until a request carries the fixture's resource with that team.
wait_team() {
  for _ in $(seq 150); do
    if [ -f profiles.jsonl ] && jq -e --arg c "$cid" --arg t "$1" --arg s "$2" '
        [.resourceProfiles[].resource.attributes | from_entries
         | select(.["container.id"].stringValue == $c
                  and .["team.name"].stringValue == $t and .["team.source"].stringValue == $s)]
        | length > 0' profiles.jsonl 2>/dev/null | grep -q true; then
      return 0
    fi
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd exited"
    sleep 0.2
  done
  fail "no resource of container $cid with team $1 from $2"
}

wait_team pod-team pod_annotation
jq -e --arg c "$cid" --arg u "$uid" '[.resourceProfiles[].resource.attributes | from_entries
    | select(.["container.id"].stringValue == $c)][0]
    | .["k8s.pod.uid"].stringValue == $u
      and .["k8s.pod.name"].stringValue == "e2e-web-5f7d8c9b4-abcde"
      and .["k8s.namespace.name"].stringValue == "e2e-shop"
      and .["k8s.container.name"].stringValue == "app"
      and .["container.image.name"].stringValue == "registry.local/e2e/web"
      and .["container.image.tag"].stringValue == "2.0"
      and .["k8s.deployment.name"].stringValue == "e2e-web"
      and .["service.name"].stringValue == "e2e-web"' profiles.jsonl 2>/dev/null |
  grep -q true || fail "k8s attributes missing on the fixture's resource: $(tail -c 2000 profiles.jsonl)"
echo "ok: the pod's metadata and team (pod annotation) on the sampled process"

control /_control/apply "{\"kind\":\"pods\",\"type\":\"MODIFIED\",\"object\":$(pod_obj '{}')}"
wait_team ns-team namespace_annotation
echo "ok: annotation removed from the pod → team from the namespace"
control /_control/apply "{\"kind\":\"namespaces\",\"type\":\"MODIFIED\",\"object\":$(ns_obj '{}')}"
wait_team rule-team rule
echo "ok: annotation removed from the namespace → team from the rule"

stop_daemon
grep -a -q 'opd_fx_beta' profiles.jsonl profiles.folded && fail "a blocked function name was exported"
grep -q 'opd_fx_alpha;\[redacted\];opd_fx_gamma' profiles.folded ||
  fail "the blocked frame is not masked in place: $(grep opd_fx profiles.folded | head -3)"
echo "ok: blocked function name in no byte of the output, masked in place in the stacks"
