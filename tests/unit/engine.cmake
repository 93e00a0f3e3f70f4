opd_add_unit_test(test_engine SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_engine.c
  LIBS opd_collector)
opd_add_unit_test(test_folded SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_folded.c
  LIBS opd_collector)
opd_add_unit_test(test_file_exporter SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_file_exporter.c
  LIBS opd_exporter_file opd_receiver_otlpjsonfile)
