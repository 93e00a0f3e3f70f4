# OTLP profile model and codecs (otlp/).
set(OPD_OTLP_FIXTURE ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c)
opd_add_unit_test(test_otlp_dict
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_dict.c ${OPD_OTLP_FIXTURE}
  LIBS opd_otlp)
opd_add_unit_test(test_otlp_proto
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_proto.c ${OPD_OTLP_FIXTURE}
  LIBS opd_otlp)
# Encodes with our own .proto and decodes with protoc and the upstream schema.
opd_add_unit_test(test_otlp_protoc
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_protoc.c ${OPD_OTLP_FIXTURE}
  LIBS opd_otlp)
if(TARGET test_otlp_protoc)
  set_tests_properties(test_otlp_protoc PROPERTIES SKIP_RETURN_CODE 77)
endif()
opd_add_unit_test(test_otlp_json
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_json.c ${OPD_OTLP_FIXTURE}
  LIBS opd_otlp m)
# pprof profile.proto files from batches (read back with the generated decoder here, with
# go tool pprof in tests/integration/pprof.sh).
opd_add_unit_test(test_pprof
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_pprof.c ${OPD_OTLP_FIXTURE}
  LIBS opd_otlp)
