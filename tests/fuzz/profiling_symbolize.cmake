# Symbolizer parsers on hostile bytes: the ELF/symbol reader, the Go pclntab reader, the
# /proc maps parser (with the cgroup parser) and the perf map parser (with kallsyms).
# Seeds in corpus/elf, corpus/gopclntab, corpus/procmaps, corpus/perfmap.
if(NOT TARGET opd_profiling_symbolize)
  include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/symbolize.cmake)
endif()
foreach(f elf gopclntab procmaps perfmap)
  opd_add_fuzzer(fuzz_${f} SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${f}.c
    LIBS opd_profiling_symbolize)
endforeach()
