#!/usr/bin/env bash
# Must show: a syscall-heavy fixture shows kernel frames under its user frames in one
# stack (root → main → opd_fx_reader → kernel entry → ... in the same folded line).
# Also: service.name comes from the process's OTEL_SERVICE_NAME.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
build_fixture syscalls

start_daemon 99 1s
OTEL_SERVICE_NAME=opd-syscalls-svc "$WORK/$FX_syscalls" 3 || fail "fixture failed"
sleep 1.5
stop_daemon

total=$(folded_sum "^$FX_syscalls;")
mixed=$(folded_sum "^$FX_syscalls;(.*;)?main;opd_fx_reader;([^ ]*;)?[^ ;]+_\\[k\\]")
echo "fixture: $total samples, $mixed with kernel frames under main;opd_fx_reader"
[ "$total" -gt 0 ] || fail "no samples of the fixture"
awk -v m="$mixed" -v t="$total" 'BEGIN { exit !(m >= 0.5 * t) }' ||
  fail "fewer than half of the samples have kernel frames under the user frames"
grep "^$FX_syscalls;" "$WORK/profiles.folded" | sort -t' ' -k2 -rn | head -3
jq -e -s '[ .[] | .dictionary as $d | $d.attributeTable[]?
            | select($d.stringTable[.keyStrindex // 0] == "profile.frame.type") | .value.stringValue ]
          | index("kernel") != null' "$WORK/profiles.jsonl" >/dev/null ||
  fail "no location has profile.frame.type kernel"
svc=$(jq -r --arg fx "$FX_syscalls" '.resourceProfiles[].resource
  | select(any(.attributes[]; .key == "process.executable.name" and .value.stringValue == $fx))
  | .attributes[] | select(.key == "service.name") | .value.stringValue' "$WORK/profiles.jsonl" | sort -u)
echo "service.name of the fixture: $svc"
[ "$svc" = "opd-syscalls-svc" ] || fail "service.name is not taken from OTEL_SERVICE_NAME"
echo PASS
