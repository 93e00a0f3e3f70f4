# CFI parser fuzzer; seeds in tests/fuzz/corpus/ehframe are sections cut from real files.
if(NOT TARGET opd_unwind)
  add_subdirectory(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/unwind
                   ${CMAKE_BINARY_DIR}/collector/receivers/profiling/unwind)
endif()
opd_add_fuzzer(fuzz_ehframe
  SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_ehframe.c
  LIBS opd_unwind)
