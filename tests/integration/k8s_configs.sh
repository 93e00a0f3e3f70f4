#!/usr/bin/env bash
# Config checks through `otelprofd validate`: the otelprofd configs embedded in
# examples/k8s/*.yaml are valid; redaction, team and k8sattributes configs with
# patterns that do not compile or unknown names are rejected (exit 2) with the place.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${OPD_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
bin=${OTELPROFD:-$src/build/otelprofd}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

if python3 -c 'import yaml' 2>/dev/null; then
  for f in "$src"/examples/k8s/*.yaml; do
    python3 - "$f" "$t/$(basename "$f")" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "ConfigMap" and "otelprofd.yaml" in d.get("data", {}):
        open(sys.argv[2], "w").write(d["data"]["otelprofd.yaml"])
PY
    [ -f "$t/$(basename "$f")" ] || continue
    K8S_NODE_NAME=node-1 "$bin" validate --config "$t/$(basename "$f")" >"$t/out" 2>&1 ||
      { cat "$t/out"; fail "$(basename "$f"): embedded otelprofd config is not valid"; }
    echo "ok: examples/k8s/$(basename "$f") config valid"
  done
else
  echo "note: PyYAML missing, example manifests not checked"
fi

bad() { # name expected-message yaml
  printf '%s\n' "$3" >"$t/$1.yaml"
  set +e
  "$bin" validate --config "$t/$1.yaml" >"$t/$1.out" 2>&1
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || { cat "$t/$1.out"; fail "$1: exit $rc, want 2"; }
  grep -q -- "$2" "$t/$1.out" || { cat "$t/$1.out"; fail "$1: no '$2' in the error"; }
  grep -q "$t/$1.yaml:[0-9]*:[0-9]*" "$t/$1.out" || { cat "$t/$1.out"; fail "$1: no file:line:col"; }
  echo "ok: $1 rejected"
}
pipeline='exporters: {debug: {}}
service: {pipelines: {profiles: {receivers: [otlpjsonfile], processors: [P], exporters: [debug]}}}
receivers: {otlpjsonfile: {include: [/dev/null]}}'
bad redaction_regex "does not compile" "processors:
  redaction:
    symbols: {blocked_patterns: ['ok', '([']}
${pipeline//P/redaction}"
bad redaction_salt "hash_salt_file" "processors:
  redaction: {hash_function: sha256}
${pipeline//P/redaction}"
bad team_regex "rules::0::namespace" "processors:
  team: {rules: [{namespace: '(', team: x}]}
${pipeline//P/team}"
bad k8sattributes_metadata "k8s.bogus" "processors:
  k8sattributes: {extract: {metadata: [k8s.bogus]}}
${pipeline//P/k8sattributes}"
bad k8sattributes_auth "auth_type" "processors:
  k8sattributes: {auth_type: token}
${pipeline//P/k8sattributes}"
