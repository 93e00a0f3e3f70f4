# Root (or CAP_BPF+CAP_PERFMON) and cgroup v2: the profiling receiver's scope.namespaces
# against the fake API server, two fixture pods in two namespaces and one added later.
opd_add_script_test(privileged_k8s_scope LABELS privileged
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/k8s_scope.sh)
# The scope section's config checks through `otelprofd validate` (no privileges).
opd_add_script_test(integration_k8s_scope_config LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/k8s_scope_config.sh)
