# OTLP codecs: decode, re-encode, re-decode must agree. Seeds in corpus/otlp_json and
# corpus/otlp_proto.
opd_add_fuzzer(fuzz_otlp_json SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_otlp_json.c
  LIBS opd_otlp)
opd_add_fuzzer(fuzz_otlp_proto SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_otlp_proto.c
  LIBS opd_otlp)
