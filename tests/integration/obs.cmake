# Observability: the HTTP endpoints (prometheus, self-metrics, health_check) and the
# offline flamegraph and report subcommands.
foreach(t endpoints flamegraph report health_exporter)
  opd_add_script_test(obs_${t} LABELS integration TIMEOUT 180
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/obs_${t}.sh)
endforeach()
# The same ledger with the eBPF receiver: needs root or CAP_BPF+CAP_PERFMON (exit 77 else).
opd_add_script_test(obs_loss_profiling LABELS privileged TIMEOUT 120
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/obs_loss_profiling.sh)
# The profiles as the backends' readers see them: go tool pprof on the pprof files of the
# file exporter and of convert, protoc with the official schema, the shared peer.
opd_add_script_test(integration_backends LABELS integration TIMEOUT 180
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/backends.sh)
