# OTLP profile model and codecs (otlp/).
set(OPD_OTLP_FIXTURE ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c)
opd_add_unit_test(test_otlp_dict
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_dict.c ${OPD_OTLP_FIXTURE}
  LIBS opd_otlp)
