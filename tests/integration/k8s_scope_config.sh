#!/usr/bin/env bash
# The profiling receiver's scope section through `otelprofd validate` and print-config:
# a good scope validates, and bad input is a config error (exit 2) with a clear message:
# a bad namespace name, a bad label, an unknown key, and scope combined with include
# rules (which would widen what a scope must only narrow). Needs no privileges.
set -uo pipefail
SRC=${OPD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${OTELPROFD:-${OPD_BINARY_DIR:-$SRC/build}/otelprofd}
WORK=$(mktemp -d /tmp/opd-scope-cfg.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$BIN" ] || fail "otelprofd binary not found at $BIN"

# conf FILE SCOPE-YAML [RECEIVER-EXTRA]: a pipeline whose receiver has this scope.
conf() {
  cat >"$WORK/$1" <<YAML
receivers:
  profiling:
    scope:
$2
${3:-}
exporters:
  file: {path: $WORK/out.jsonl}
service:
  pipelines:
    profiles: {receivers: [profiling], exporters: [file]}
YAML
}
# expect_error FILE TEXT: validate exits 2 and says TEXT.
expect_error() {
  local out rc
  out=$("$BIN" validate --config "$WORK/$1" 2>&1)
  rc=$?
  [ "$rc" -eq 2 ] || fail "$1: validate exited $rc, want 2: $out"
  grep -qF -- "$2" <<<"$out" || fail "$1: no \"$2\" in: $out"
}

conf good.yaml '      namespaces: [shop, payments]
      pod_selector: {app.kubernetes.io/name: web, tier: ""}
      auth_type: kubeConfig
      filter: {node_from_env_var: NODE_NAME}' '    exclude: {comm: ["^sshd$"]}'
"$BIN" validate --config "$WORK/good.yaml" || fail "a good scope does not validate"
out=$("$BIN" print-config --config "$WORK/good.yaml" 2>&1) || fail "print-config failed: $out"
grep -q "payments" <<<"$out" && grep -q "app.kubernetes.io/name" <<<"$out" ||
  fail "print-config does not show the scope: $out"

conf ns.yaml '      namespaces: [Shop]'
expect_error ns.yaml '"Shop" is not a namespace name'
conf label.yaml '      pod_selector: {"app/x/y": web}'
expect_error label.yaml '"app/x/y" is not a label key'
conf value.yaml '      pod_selector: {app: "-web"}'
expect_error value.yaml '"-web" is not a label value'
conf unknown.yaml '      namespace_list: [shop]'
expect_error unknown.yaml 'namespace_list'
conf auth.yaml '      namespaces: [shop]
      auth_type: token'
expect_error auth.yaml 'auth_type'
conf combined.yaml '      namespaces: [shop]' '    include: {comm: ["^java$"]}'
expect_error combined.yaml 'cannot be combined'
echo "PASS: scope config checks"
