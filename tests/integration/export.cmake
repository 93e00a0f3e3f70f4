# Export path against real peers: the otlp_grpc exporter driven directly against the
# independent gRPC receiver in shared/peer (skips with 77 when it is absent).
if(OPD_BUILD_TESTS)
  add_executable(export_grpc_test
    ${CMAKE_SOURCE_DIR}/tests/integration/export_grpc_test.c
    ${CMAKE_SOURCE_DIR}/tests/integration/export_peer.c
    ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c)
  target_link_libraries(export_grpc_test PRIVATE opd_exporter_otlp_grpc opd_otlp
    PkgConfig::JANSSON PkgConfig::CMOCKA)
  opd_add_script_test(integration_export_grpc LABELS integration TIMEOUT 300
    COMMAND $<TARGET_FILE:export_grpc_test>)
endif()

# The otlp_http exporter against a small local HTTP server (tests/integration/
# export_http_server.py, Python standard library).
if(OPD_BUILD_TESTS)
  add_executable(export_http_test
    ${CMAKE_SOURCE_DIR}/tests/integration/export_http_test.c
    ${CMAKE_SOURCE_DIR}/tests/integration/export_peer.c
    ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c)
  target_link_libraries(export_http_test PRIVATE opd_exporter_otlp_http opd_otlp
    PkgConfig::JANSSON PkgConfig::CMOCKA)
  opd_add_script_test(integration_export_http LABELS integration TIMEOUT 300
    COMMAND $<TARGET_FILE:export_http_test>)
endif()

# The daemon end to end: otlpjsonfile → otlp_grpc / otlp_http, persistent queue across
# SIGKILL.
opd_add_script_test(integration_export_daemon LABELS integration TIMEOUT 300
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/export_daemon.sh)

# bench/bench_export (run with bench/run_export.sh): export throughput to the peer and the
# cost of the queue path. Built with the tests since it shares their batch fixture.
if(OPD_BUILD_TESTS)
  add_executable(bench_export ${CMAKE_SOURCE_DIR}/bench/bench_export.c
    ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c)
  target_link_libraries(bench_export PRIVATE opd_exporter_otlp_grpc opd_otlp
    PkgConfig::CMOCKA)
endif()
