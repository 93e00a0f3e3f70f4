#!/usr/bin/env bash
# Must show (issue 18): hostile binaries end to end. A fixture maps PROT_EXEC the crafted
# files of tests/data/hostile (truncated, oversized and self-referential .eh_frame,
# .gopclntab and .symtab; a Py_Version that wraps, under a libpython name; a sound control)
# and the fuzz_ehframe reproducer crash-03f79b6d, and runs code in each of them while
# build/otelprofd samples it at 99 Hz. Then:
#  - the daemon stays up and exits cleanly; its peak RSS stays under the budget;
#  - the fixture's frames in the control file are named, those in every hostile file come
#    out as bare addresses (file+0x...), and no name from a hostile table ever appears;
#  - the self metrics say why: otelprofd_profiling_symbolizer_files_rejected by reason,
#    and (when the .eh_frame unwinder is loaded) otelprofd_unwind_table_build_failures.
# The part without BPF (the same files through the readers, under ASan) is test_hostile.
# Skips (77) without root or CAP_BPF+CAP_PERFMON.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
command -v curl >/dev/null || fail "curl is needed"

TOOLS=${OPD_BINARY_DIR:-$SRC/build}/tests/hostile
[ -x "$TOOLS/opd_hostile_gen" ] && [ -x "$TOOLS/opd_hostile_fixture" ] ||
  fail "opd_hostile_gen/opd_hostile_fixture not built in $TOOLS"
BUDGET_KIB=${OPD_HOSTILE_RSS_BUDGET_KIB:-131072}
FX="hostfx_$SUF"
mkdir -p "$WORK/files"
"$TOOLS/opd_hostile_gen" "$WORK/files" "$SRC/tests/fuzz/regress/ehframe/crash-03f79b6d" 03f79b6d ||
  fail "cannot write the crafted files"
cp "$TOOLS/opd_hostile_fixture" "$WORK/$FX"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

METRICS_PORT=$PORT start_daemon 99 1s "    include:
      comm: [\"^$FX\$\"]"
"$WORK/$FX" 8 "$WORK"/files/*.so >"$WORK/fixture.out" 2>&1 || fail "fixture failed: $(cat "$WORK/fixture.out")"
grep -q "^ready 12$" "$WORK/fixture.out" || fail "fixture ran code in $(cat "$WORK/fixture.out") files, not 12"
sleep 2.5
kill -0 "$DAEMON_PID" 2>/dev/null || fail "otelprofd died while sampling the hostile files"
peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON_PID/status")
curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt" || fail "no self metrics"
stop_daemon

metric() {
  awk -v m="$1" -v l="$2" '$1 ~ "^" m "(_total)?({|$)" && index($1, l) { n += $2 } END { print n + 0 }' \
    "$WORK/metrics.txt"
}
echo "otelprofd peak RSS $peak KiB (budget $BUDGET_KIB KiB)"
[ "$peak" -lt "$BUDGET_KIB" ] || fail "peak RSS $peak KiB over the budget $BUDGET_KIB KiB"

# Frames per file: the leaf frames of the fixture's samples that fall in each crafted file.
total=$(folded_sum "^$FX;")
[ "$total" -ge 200 ] || fail "only $total samples of the fixture"
printf '%-34s %8s %8s\n' file named bare
bad=0
for f in "$WORK"/files/*.so; do
  base=$(basename "$f")
  re_base=${base//./\\.}
  named=$(folded_sum "^$FX;(.*;)?opd_hostile_control_spin( |;)")
  bare=$(folded_sum "^$FX;(.*;)?$re_base\\+0x[0-9a-f]+( |;)")
  case "$base" in
    control.so)
      printf '%-34s %8s %8s\n' "$base" "$named" "$bare"
      [ "$named" -ge 5 ] || { echo "FAIL: the control file's spin is not named"; bad=1; } ;;
    *)
      printf '%-34s %8s %8s\n' "$base" - "$bare"
      [ "$bare" -ge 5 ] || { echo "FAIL: only $bare bare-address samples in $base"; bad=1; } ;;
  esac
done
# Names that only hostile tables hold: they must never come out.
leaked=$(grep -c -E "opd_hostile_(truncated|oversized|selfref)_spin|_PyEval_EvalFrameDefault" \
  "$WORK/profiles.folded")
[ "$leaked" -eq 0 ] || { echo "FAIL: $leaked folded lines carry names from hostile tables"; bad=1; }
[ "$bad" -eq 0 ] || { grep "^$FX;" "$WORK/profiles.folded" | sort -t' ' -k2 -nr | head -20; fail "see above"; }

# Why: the symbolizer's rejections by reason, and the unwinder's failed tables.
rej_h=$(metric otelprofd_profiling_symbolizer_files_rejected 'reason="malformed_headers"')
rej_s=$(metric otelprofd_profiling_symbolizer_files_rejected 'reason="malformed_symtab"')
rej_g=$(metric otelprofd_profiling_symbolizer_files_rejected 'reason="malformed_gopclntab"')
tbl_fail=$(metric otelprofd_unwind_table_build_failures "")
tbl_files=$(metric otelprofd_unwind_files_loaded "")
echo "files rejected: malformed_headers $rej_h, malformed_symtab $rej_s, malformed_gopclntab $rej_g;" \
  "unwind tables: $tbl_files loaded, $tbl_fail failed"
[ "$rej_h" -ge 1 ] || fail "the reproducer's program headers were not counted as malformed"
[ "$rej_s" -ge 3 ] || fail "only $rej_s malformed symbol tables counted (3 crafted)"
[ "$rej_g" -ge 3 ] || fail "only $rej_g malformed .gopclntab counted (3 crafted)"
if [ "$tbl_files" -gt 0 ]; then
  # The .eh_frame unwinder is loaded: the three hostile .eh_frame and the reproducer fail.
  [ "$tbl_fail" -ge 4 ] || fail "only $tbl_fail unwind table failures counted (4 expected)"
else
  echo "the .eh_frame unwinder loaded no table (frame pointers on this host): its part is test_hostile's"
fi
grep -E "ERROR|panic|AddressSanitizer" "$WORK/daemon.log" && fail "errors in the daemon log"
echo "hostile binaries: daemon up, $total samples, hostile frames bare, rejections counted"
