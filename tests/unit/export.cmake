# Export path: gRPC codec, exporter helper (queue, retry, persistent queue).
opd_add_unit_test(test_grpc_codec SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_grpc_codec.c
  LIBS opd_grpc_codec)
opd_add_unit_test(test_exporterhelper
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_exporterhelper.c
  LIBS opd_exporterhelper)
opd_add_unit_test(test_exporterhelper_split
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_exporterhelper_split.c
          ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c
  LIBS opd_split)
opd_add_unit_test(test_grpc_replay SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_grpc_replay.c
  LIBS opd_grpc)
opd_add_unit_test(test_export_config
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_export_config.c
  LIBS opd_exporter_otlp_grpc opd_exporter_otlp_http)
