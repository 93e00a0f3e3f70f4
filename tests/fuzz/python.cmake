# CPython code objects, strings and line tables read out of a fuzzed process memory.
# Seeds in corpus/pycode (line tables dumped by real interpreters).
include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/python/python.cmake)
opd_add_fuzzer(fuzz_pycode SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_pycode.c
  LIBS opd_profiling_python)
# CPython detection in hostile ELF files (symbol tables, Py_Version read from file bytes).
# Seeds in corpus/pyelf: small shared objects with the symbols CPython exports.
opd_add_fuzzer(fuzz_pyelf SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_pyelf.c
  LIBS opd_profiling_python)
