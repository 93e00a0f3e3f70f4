# CPython code objects, strings and line tables read out of a fuzzed process memory.
# Seeds in corpus/pycode (line tables dumped by real interpreters).
include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/python/python.cmake)
opd_add_fuzzer(fuzz_pycode SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_pycode.c
  LIBS opd_profiling_python)
