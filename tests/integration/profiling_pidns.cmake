# Root: otelprofd in a pid namespace of its own (unshare --pid --fork --mount-proc), with
# the namespace's /proc (refused) and with the host's procfs as procfs_root (profiles).
opd_add_script_test(privileged_profiling_pidns LABELS privileged
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/profiling_pidns.sh)
