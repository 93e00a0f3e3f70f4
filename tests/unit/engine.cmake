opd_add_unit_test(test_engine SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_engine.c
  LIBS opd_collector)
opd_add_unit_test(test_folded SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_folded.c
  LIBS opd_collector)
