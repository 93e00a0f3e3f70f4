#!/usr/bin/env bash
# Kubernetes enrichment end to end, against the fake API server over TLS with a CA made
# here and a bearer token: otlpjsonfile (tests/data/otlp/sample.jsonl, whose resources
# carry the container ids of tests/data/k8s/cluster.json's pods) → k8sattributes → team →
# redaction → file (json, proto, folded). Checked with jq:
#   run 1: k8s attributes, team from the pod annotation / the namespace label, blocked
#          function names masked in every output; run again with the Collector's current
#          names (otlp_json_file, k8s_attributes): the outputs are the same bytes;
#   run 2: pod annotation removed → team from the namespace annotation; names hashed;
#   run 3: namespace annotation removed too → team from a rule; hashes equal to run 2's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
command -v python3 >/dev/null && command -v openssl >/dev/null && command -v jq >/dev/null ||
  { echo "skip: python3, openssl or jq missing"; exit 77; }
t=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  [ -n "${sink:-}" ] && kill "$sink" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$t"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$t"/log*; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

cd "$t"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.crt -days 1 -subj /CN=opd-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
  -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 \
  -extfile ext 2>/dev/null
echo "s3cr3t-token" >accepted
echo "s3cr3t-token" >token
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >salt

python3 "$here/k8s/fake_apiserver.py" --fixture "$src/tests/data/k8s/cluster.json" \
  --port-file port --cert srv.crt --key srv.key --tokens accepted 2>log.apiserver &
srv=$!
for _ in $(seq 100); do [ -f port ] && break; sleep 0.05; done
[ -f port ] || fail "fake API server did not start"
port=$(cat port)
cat >kubeconfig <<YAML
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: fake
  cluster: {server: "https://127.0.0.1:$port", certificate-authority: ca.crt}
contexts:
- name: test
  context: {cluster: fake, user: profiler}
users:
- name: profiler
  user: {tokenFile: token}
YAML

control() { # path [json body]
  python3 - "$port" "$1" "${2:-}" <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="ca.crt")
data = sys.argv[3].encode() if sys.argv[3] else None
urllib.request.urlopen("https://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), data=data,
                       context=ctx).read()
PY
}

write_config() { # run-number symbols-action [receiver-type processor-type]
  local rtype=${3:-otlpjsonfile} ptype=${4:-k8sattributes}
  cat >"cfg$1.yaml" <<YAML
receivers:
  $rtype:
    include: [$src/tests/data/otlp/sample.jsonl]
    start_at: beginning
    poll_interval: 50ms
processors:
  $ptype:
    auth_type: kubeConfig
    wait_for_metadata: true
    wait_for_metadata_timeout: 20s
    extract:
      metadata: [k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.pod.start_time,
                 k8s.node.name, k8s.container.name, container.image.name, container.image.tag,
                 k8s.deployment.name, k8s.replicaset.name, k8s.job.name, k8s.cronjob.name,
                 service.name]
      labels:
        - {key: tier}
        - {tag_name: app.\$1, key_regex: "app\\\\.kubernetes\\\\.io/(.*)"}
      annotations:
        - {tag_name: default_container, key: kubectl.kubernetes.io/default-container}
    pod_association:
      - sources: [{from: resource_attribute, name: container.id}]
  team:
    auth_type: kubeConfig
    keys: [team.example.com/owner, team]
    rules:
      - {namespace: "^shop\$", team: shop-by-rule}
  redaction:
    allow_all_keys: true
    summary: info
    hash_salt_file: $t/salt
    symbols:
      blocked_patterns: ["ngx_"]
      action: $2
exporters:
  file/json: { path: $t/out$1.jsonl, flush_interval: 0s }
  file/proto: { path: $t/out$1.pb, format: proto, flush_interval: 0s }
  file/folded: { path: $t/out$1.folded, format: folded, flush_interval: 0s }
$(if [ "$1" = 1 ] && [ -n "$sink" ]; then
    echo "  otlp_grpc: {endpoint: 127.0.0.1:$(cat sink.port), tls: {insecure: true}}"; fi)
service:
  telemetry: {metrics: {level: none}} # no fixed port: tests may run in parallel
  pipelines:
    profiles:
      receivers: [$rtype]
      processors: [$ptype, team, redaction]
      exporters: [file/json, file/proto, file/folded$([ "$1" = 1 ] && [ -n "$sink" ] &&
        echo ", otlp_grpc")]
YAML
}

want=$(grep -c . "$src/tests/data/otlp/sample.jsonl")
run() { # run-number
  KUBECONFIG=$t/kubeconfig "$bin" --config "cfg$1.yaml" 2>"log$1" &
  local pid=$!
  for _ in $(seq 200); do
    [ -f "out$1.jsonl" ] && [ "$(grep -c . "out$1.jsonl")" -ge "$want" ] && break
    sleep 0.1
  done
  kill -TERM "$pid"
  wait "$pid" || fail "run $1: otelprofd exited with $?"
  [ "$(grep -c . "out$1.jsonl")" -eq "$want" ] || fail "run $1: not every request written"
}

# attr FILE CONTAINER-ID-PREFIX KEY: the distinct values of KEY on resources of that container
attr() {
  jq -r --arg c "$2" --arg k "$3" '.resourceProfiles[].resource.attributes as $a
    | select(any($a[]; .key == "container.id" and (.value.stringValue | startswith($c))))
    | $a[] | select(.key == $k) | .value.stringValue' "$1" | sort -u
}
expect() { # file cid key want
  local got
  got=$(attr "$1" "$2" "$3")
  [ "$got" = "$4" ] || fail "$1: $3 of container $2 is '$got', want '$4'"
}
no_secret() { # run-number
  for f in "out$1.jsonl" "out$1.pb" "out$1.folded"; do
    [ -s "$f" ] || fail "$f is empty"
    if grep -a -q 'ngx_' "$f"; then fail "$f still contains a blocked function name"; fi
  done
}

web=9b1deb4d
report=1e4f7a2b

# The shared peer (an independent gRPC stack and the official schema) receives run 1 too.
peer=$src/../shared/peer
[ -x "$peer/otlp-sink" ] || peer=/work/shared/peer
sink=
if command -v node >/dev/null && [ -x "$peer/otlp-sink" ] &&
  NODE_PATH=$("$peer/install-deps.sh" 2>/dev/null) && [ -n "$NODE_PATH" ]; then
  export NODE_PATH
  "$peer/otlp-sink" --listen 127.0.0.1:0 --port-file sink.port --out sink.jsonl --raw \
    --quiet 2>log.sink &
  sink=$!
  for _ in $(seq 100); do [ -f sink.port ] && break; sleep 0.1; done
  [ -f sink.port ] || fail "otlp-sink did not start"
else
  echo "note: node or the shared peer missing, gRPC output not checked"
fi

# ---- run 1: annotations on the pod, label on the namespace, names masked
write_config 1 mask
run 1
expect out1.jsonl $web k8s.pod.name web-6b7f9c8d4-q2x7m
expect out1.jsonl $web k8s.namespace.name shop
expect out1.jsonl $web k8s.node.name node-1
expect out1.jsonl $web k8s.pod.uid 5f0c2a1e-8b3d-4c6e-9f7a-1b2c3d4e5f60
expect out1.jsonl $web k8s.pod.start_time 2026-11-25T08:00:00Z
expect out1.jsonl $web k8s.container.name nginx
expect out1.jsonl $web container.image.name registry.local:5000/shop/web
expect out1.jsonl $web container.image.tag 1.25.3
expect out1.jsonl $web k8s.deployment.name web
expect out1.jsonl $web k8s.replicaset.name web-6b7f9c8d4
expect out1.jsonl $web service.name storefront
expect out1.jsonl $web k8s.pod.labels.tier frontend
expect out1.jsonl $web app.name storefront
expect out1.jsonl $web app.version 1.25.3
expect out1.jsonl $web default_container nginx
expect out1.jsonl $web team.name web-frontend
expect out1.jsonl $web team.source pod_annotation
expect out1.jsonl $report k8s.namespace.name analytics
expect out1.jsonl $report k8s.job.name report-29012345
expect out1.jsonl $report k8s.cronjob.name report
expect out1.jsonl $report container.image.name python
expect out1.jsonl $report container.image.tag 3.11-slim
expect out1.jsonl $report team.name data-eng
expect out1.jsonl $report team.source namespace_label
no_secret 1
jq -e '[.dictionary.stringTable[] | select(. == "[redacted]")] | length == 1' out1.jsonl \
  >/dev/null || fail "masked names are not one deduplicated [redacted] string"
grep -q 'ngx_' "$src/tests/data/otlp/sample.jsonl" || fail "fixture has no ngx_ names"
echo "ok: run 1: k8s metadata, team from pod annotation and namespace label, names masked"

# ---- run 1 again, written with the Collector's current type names
write_config 1n mask otlp_json_file k8s_attributes
"$bin" validate --config cfg1n.yaml >/dev/null || fail "the config with k8s_attributes is invalid"
"$bin" print-config --config cfg1n.yaml | grep -q '^  k8s_attributes:$' ||
  fail "print-config does not show k8s_attributes as written"
"$bin" print-config --config cfg1.yaml | grep -q '^  k8sattributes:$' ||
  fail "print-config does not show k8sattributes as written"
run 1n
for ext in jsonl pb folded; do
  cmp -s "out1.$ext" "out1n.$ext" || fail "out1n.$ext (k8s_attributes) differs from out1.$ext"
done
echo "ok: run 1 with otlp_json_file and k8s_attributes: the same json, proto and folded bytes"
if [ -n "$sink" ]; then
  kill -TERM "$sink"
  wait "$sink" 2>/dev/null
  sink=
  [ "$(jq -s '[.[] | select(.kind == "export")] | length' sink.jsonl)" -ge "$want" ] ||
    fail "the peer got fewer than $want requests: $(head -c 1500 sink.jsonl)"
  jq -e -s 'all(.[] | select(.kind == "export"); .valid == true)' sink.jsonl >/dev/null ||
    fail "the peer found violations: $(jq -c '.violations' sink.jsonl | head -3)"
  grep -q 'ngx_' sink.jsonl && fail "a blocked name reached the peer"
  grep -qi '6e67785f' sink.jsonl && fail "a blocked name is in the raw gRPC bytes"
  echo "ok: run 1 over gRPC: the peer decoded valid requests without any blocked name"
fi

# ---- run 2: the pod loses its team annotation → the namespace's annotation
control /_control/apply "$(jq -c '{kind: "pods", type: "MODIFIED",
  object: (.pods[0] | del(.metadata.annotations.team))}' "$src/tests/data/k8s/cluster.json")"
write_config 2 hash
run 2
expect out2.jsonl $web team.name shop-platform
expect out2.jsonl $web team.source namespace_annotation
no_secret 2
echo "ok: run 2: team from the namespace annotation, names hashed"

# ---- run 3: the namespace loses it too → the static rule; hashes stable across restarts
control /_control/apply "$(jq -c '{kind: "namespaces", type: "MODIFIED",
  object: (.namespaces[0] | del(.metadata.annotations.team))}' "$src/tests/data/k8s/cluster.json")"
write_config 3 hash
run 3
expect out3.jsonl $web team.name shop-by-rule
expect out3.jsonl $web team.source rule
no_secret 3
hashes() { jq -r '.dictionary.stringTable[] | select(test("^[0-9a-f]{32}$"))' "$1" | sort -u; }
[ -n "$(hashes out2.jsonl)" ] || fail "no hashed names in run 2"
[ "$(hashes out2.jsonl)" = "$(hashes out3.jsonl)" ] || fail "hashes differ across restarts"
echo "ok: run 3: team from a rule; $(hashes out2.jsonl | wc -l) hashed names stable across restarts"
