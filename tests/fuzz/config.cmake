# bytes → YAML → node tree → the whole config load path, with the fake factory table.
opd_add_fuzzer(fuzz_config
  SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_config.c ${CMAKE_SOURCE_DIR}/tests/unit/test_config_fake.c
  LIBS opd_config)
