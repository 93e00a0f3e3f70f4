#!/usr/bin/env bash
# Judges one kernel from its serial log: tests/kernels/guest-init.sh's console lines, each
# behind the "[seconds]" stamp run.sh puts on it. Prints one line and exits 0 when the
# kernel passes, 1 when it fails.
#
#   tests/kernels/judge.sh LOG LABEL
#
# A kernel passes when, with the default unwinding (tables, method auto) and the off-CPU
# and allocation programs on, the daemon becomes ready with no "degraded:" line and no
# "BPF program load failed", uses the .eh_frame tables, records the unwind fixtures'
# stacks whole (the shares of tests/integration/unwind_daemon.sh), and stops with 0; when
# it becomes ready the same way with frame pointers, and with tables at the largest frame
# budget (max_frames 1024); and when no program's verified instruction count in any of the
# three runs exceeds OPD_MAX_VERIFIED_INSNS (250000: a quarter of the kernel's limit, as the
# verifier's cost differs between kernel builds).
set -euo pipefail
# shellcheck source=tests/integration/profiling_lib.sh
. "$(dirname "$0")/../integration/profiling_lib.sh"   # folded_sum, $WORK (removed at exit)

log=$1
label=$2
max_insns=${OPD_MAX_VERIFIED_INSNS:-250000}
why=()
not_ready=""   # the first run whose daemon did not become ready

# guest EVENT METHOD: "<value> <stamp>" of the guest's first line of that event, e.g. for
# "[  23.750] opd-guest: ready auto 15.5": "15.5 23.750" (the stamp is the host's seconds
# since qemu started). Nothing when there is no such line. METHOD "*" matches any.
guest() {
  tr -d '\r' <"$log" | awk -v e="$1" -v m="$2" '{ i = index($0, "opd-guest: ") } i {
    split(substr($0, i + 11), f, " ")
    if (f[1] == e && (f[2] == m || m == "*") && !n++) { s = $0; sub(/^\[ */, "", s); sub(/\].*/, "", s)
      print (f[3] == "" ? "-" : f[3]), s } }'
}
# daemon METHOD: the daemon's log of that run.
daemon() { grep -a "daemon $1| " "$log" | tr -d '\r' | sed "s/^.*daemon $1| //" || true; }

for m in auto frame_pointer frames1024; do
  state=""
  for e in ready exited timeout; do
    [ -z "$(guest "$e" "$m")" ] || { state=$e; break; }
  done
  [ "$state" = ready ] || not_ready=${not_ready:-$m}
  case $state in
    ready) ;;
    "") if [ -n "$(guest start "$m")" ]; then
          why+=("$m: the guest was stopped before the daemon was ready")
        else
          why+=("$m: the daemon was never started")
        fi ;;
    *) why+=("$m: daemon $state after $(guest "$state" "$m" | cut -d' ' -f1) s, not ready") ;;
  esac
  read -r rc _ <<<"$(guest exit "$m")" || true
  [ -z "$rc" ] || [ "$rc" = 0 ] || [ "$state" != ready ] || why+=("$m: otelprofd exited with $rc")
  n=$(daemon "$m" | grep -c 'degraded:' || true)
  [ "$n" = 0 ] || why+=("$m: $n 'degraded:' lines")
  n=$(daemon "$m" | grep -c 'BPF program load failed' || true)
  [ "$n" = 0 ] || why+=("$m: $n 'BPF program load failed' lines")
done
grep -aq 'opd-guest: done' "$log" ||
  why+=("the guest did not finish; last line: $(tail -1 "$log" | tr -d '\r' | cut -c1-160)")
read -r ready_guest ready_stamp <<<"$(guest ready auto)" || true
read -r _ start_stamp <<<"$(guest start auto)" || true
read -r _ boot_stamp <<<"$(guest kernel '*')" || true
if [ -n "$ready_guest" ] && ! daemon auto | grep -q 'unwinding: .eh_frame tables'; then
  why+=("auto: the table unwinder is not on")
fi

# ---- the fixtures, judged as tests/integration/unwind_daemon.sh judges them ----
grep -a 'folded auto| ' "$log" | tr -d '\r' | sed 's/^.*folded auto| //' >"$WORK/profiles.folded" || true
chain_total=$(folded_sum '^uwchain;')
chain=$(folded_sum '^uwchain;(.*;)?main;chain_a;chain_b;chain_c;chain_d;chain_leaf( |;)')
cmp_total=$(folded_sum '^uwqsort;.*;slow_compare( |;)')
cmp_libc=$(folded_sum '^uwqsort;(.*;)?main;sort_once[^;]*;[^;]+;(.*;)?slow_compare( |;)')
# share GOOD TOTAL: GOOD as a percentage of TOTAL.
share() { awk -v g="$1" -v t="$2" 'BEGIN { if (t) printf "%.1f%%", 100 * g / t; else print "-" }'; }
# need WHAT GOOD TOTAL MIN RATIO: at least MIN samples, GOOD at least RATIO of them.
need() {
  if [ "$3" -lt "$4" ]; then
    why+=("only $3 samples of $1 (need $4)")
  elif ! awk -v g="$2" -v t="$3" -v r="$5" 'BEGIN { exit !(g >= r * t) }'; then
    why+=("$1 complete in $2 of $3 samples (need $5)")
  fi
}
if [ -n "$ready_guest" ]; then
  need "the chain fixture" "$chain" "$chain_total" 30 0.95
  need "the qsort comparator" "$cmp_libc" "$cmp_total" 20 0.9
  grep -Eq '^uwqsort;(.*;)?sort_once[^;]*;(.*;)?(qsort|msort)[^;]*;(.*;)?slow_compare( |;)' \
    "$WORK/profiles.folded" || why+=("no qsort/msort frame of libc between sort_once and slow_compare")
fi

# ---- verified instruction counts: every name=N after "BPF programs verified" ----
counts=$(daemon auto | grep -o 'BPF programs verified.*' | head -1 |
  grep -oE '[A-Za-z_][A-Za-z0-9_]*=[0-9]+' | tr '\n' ' ' || true)
counts=${counts% }
over=$( (daemon auto; daemon frame_pointer; daemon frames1024) | grep -o 'BPF programs verified.*' |
  grep -oE '[A-Za-z_][A-Za-z0-9_]*=[0-9]+' | awk -F= -v max="$max_insns" '$2 > max' |
  sort -u | tr '\n' ' ' || true)
[ -z "$over" ] || why+=("verified instructions over $max_insns: ${over% }")

# Seconds to ready by the guest's clock and by the host's (the serial line's stamps), and
# the host's seconds from qemu's start to the guest's init.
ready="not ready"
[ -z "$ready_guest" ] || ready=$(awk -v g="$ready_guest" -v a="$start_stamp" -v b="$ready_stamp" \
  -v k="$boot_stamp" 'BEGIN { printf "ready %ss guest/%.1fs host (boot %.1fs)", g, b - a, k }')
read -r fp _ <<<"$(guest ready frame_pointer)" || true
read -r f1024 _ <<<"$(guest ready frames1024)" || true
line="$(printf '%-28s' "$label") $([ ${#why[@]} = 0 ] && echo PASS || echo FAIL)  $ready"
line+="  fp $([ -n "$fp" ] && echo "ready ${fp}s" || echo "not ready")"
line+="  max_frames 1024 $([ -n "$f1024" ] && echo "ready ${f1024}s" || echo "not ready")"
line+="  verified ${counts:-n/a}"
line+="  chain $(share "$chain" "$chain_total") of $chain_total"
line+="  qsort $(share "$cmp_libc" "$cmp_total") of $cmp_total"
# Longest time from a fixture's first sample to its published unwind tables.
publish=$(tr -d '\r' <"$log" |
  grep -ao 'metrics auto| otelprofd_unwind_publish_latency_max_microseconds{[^}]*} [0-9]*' |
  awk '{ printf "%.0f ms", $NF / 1000 }' | tail -n 1)
line+="  tables published within ${publish:-n/a}"
if [ ${#why[@]} = 0 ]; then
  echo "${line%% }"
  exit 0
fi
# The reason: the daemon's error lines and libbpf's first complaint (the cause of a load
# failure: a CO-RE relocation, the verifier's verdict), with how long the kernel took to
# reject a program; then the checks that failed.
reason=$( (daemon auto; daemon frame_pointer; daemon frames1024) | awk '
  function secs(ts) { split(substr(ts, 12, 12), t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }
  !t0 && $1 ~ /^[0-9]+-/ { t0 = secs($1) }
  $2 == "error" || ($2 == "warn" && $3 ~ /libbpf:$/ && !libbpf++) {
    msg = $0; sub(/^[^ ]+ +[^ ]+ +/, "", msg); sub(/^[^ ]+\/libbpf: libbpf: /, "libbpf: ", msg)
    if (msg ~ /BPF program load failed/)
      msg = msg sprintf(" (after %.1f s)", secs($1) - t0)
    if (!seen[msg]++) printf "%s%s", (n++ ? " | " : "daemon: "), substr(msg, 1, 200)
  }')
# A daemon that ended without an error line before it was ready (it could not even be
# run): its last words.
if [ -z "$reason" ] && [ -n "$not_ready" ]; then
  reason=$(daemon "$not_ready" | tail -1 | cut -c1-200)
  [ -z "$reason" ] || reason="daemon: $reason"
fi
for w in "${why[@]}"; do
  reason+="${reason:+; }$w"
done
echo "${line%% }  reason: $reason"
exit 1
