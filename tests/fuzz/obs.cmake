# HTTP request parser of the built-in server (self-metrics, prometheus, health_check).
opd_add_fuzzer(fuzz_http_request
  SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_http_request.c
  LIBS opd_httpserver)
