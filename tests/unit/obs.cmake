# Observability: HTTP server, self-telemetry and loss accounting, health, prometheus.
opd_add_unit_test(test_httpserver SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_httpserver.c
  LIBS opd_httpserver)
opd_add_unit_test(test_health SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_health.c
  LIBS opd_extension_health_check opd_config)
opd_add_unit_test(test_selftelemetry SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_selftelemetry.c
  LIBS opd_collector)
opd_add_unit_test(test_prometheus SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_prometheus.c
  LIBS opd_exporter_prometheus opd_config)
opd_add_unit_test(test_loss_accounting SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_loss_accounting.c
  LIBS opd_collector opd_exporterhelper)
opd_add_unit_test(test_recorded SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_recorded.c
  ${CMAKE_SOURCE_DIR}/cmd/otelprofd/recorded.c LIBS opd_otlp)
