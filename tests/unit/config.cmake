# Config subsystem: YAML node tree, env expansion, merge, binder, document loader, fixtures.
opd_add_unit_test(test_config
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c ${CMAKE_SOURCE_DIR}/tests/unit/test_config_fake.c
  LIBS opd_config)
if(TARGET test_config)
  target_compile_definitions(test_config PRIVATE
    OPD_CONFIG_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/data/config")
endif()
