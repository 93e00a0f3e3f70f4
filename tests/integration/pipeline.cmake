opd_add_script_test(integration_roundtrip LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/roundtrip.sh)
opd_add_script_test(integration_cli LABELS integration
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/cli.sh)
