# Privileged: the .eh_frame unwinder through the daemon (issue 4's must-show list), with
# fixtures built without frame pointers. Skips (77) without root or CAP_BPF+CAP_PERFMON.
opd_add_script_test(unwind_daemon LABELS privileged TIMEOUT 180
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/unwind_daemon.sh)
