opd_add_script_test(integration_roundtrip LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/roundtrip.sh)
opd_add_script_test(integration_cli LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/cli.sh)
opd_add_script_test(integration_memory_limiter LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/memory_limiter.sh)
opd_add_script_test(integration_otlpjsonfile LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/otlpjsonfile.sh)
