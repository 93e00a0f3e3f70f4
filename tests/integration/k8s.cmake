# Kubernetes enrichment, team and redaction through build/otelprofd against the fake API
# server (TLS, bearer token).
opd_add_script_test(integration_k8s_pipeline LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/k8s_pipeline.sh)
opd_add_script_test(integration_k8s_configs LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/k8s_configs.sh)
# Root (or CAP_BPF+CAP_PERFMON) and cgroup v2: a fixture in a kubelet-shaped pod cgroup.
opd_add_script_test(privileged_k8s_e2e LABELS privileged
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/k8s_privileged.sh)
