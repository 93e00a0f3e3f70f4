# Unit tests of the profiling receiver's process table and symbolizer.
if(NOT TARGET opd_profiling_symbolize)
  include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/symbolize.cmake)
endif()

opd_add_unit_test(test_proctab
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proctab.c
  LIBS opd_profiling_symbolize)
