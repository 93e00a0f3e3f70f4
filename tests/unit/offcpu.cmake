# Unit tests of the off-CPU and memory profile parts that need no BPF.
if(TARGET opd_receiver_profiling)
  opd_add_unit_test(test_offcpu SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_offcpu.c
    LIBS opd_receiver_profiling opd_otlp)
endif()
if(TARGET opd_receiver_profiling)
  opd_add_unit_test(test_alloc SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_alloc.c
    LIBS opd_receiver_profiling opd_config m)
endif()
