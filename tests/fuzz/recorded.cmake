# Recorded files of the offline subcommands (JSON lines, length-prefixed protobuf) and the
# pprof encoder behind `convert` and the file exporter's format: pprof. Seeds in
# corpus/recorded.
opd_add_fuzzer(fuzz_recorded
  SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_recorded.c ${CMAKE_SOURCE_DIR}/cmd/otelprofd/recorded.c
  LIBS opd_otlp)
