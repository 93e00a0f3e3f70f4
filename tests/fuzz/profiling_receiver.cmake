# Drained kernel data → batch builder, and the CPU list parser. Seeds in
# corpus/profiling_build.
if(TARGET opd_receiver_profiling)
  opd_add_fuzzer(fuzz_profiling_build
    SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_profiling_build.c
    LIBS opd_receiver_profiling opd_otlp)
endif()
