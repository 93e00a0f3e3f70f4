# CPython support of the profiling receiver: decoders, layouts and detection (test_python),
# and a walk of every real interpreter found on the machine (test_python_live).
include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/python/python.cmake)
opd_add_unit_test(test_python
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_python.c
  LIBS opd_profiling_python)
opd_add_unit_test(test_python_live
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_python_live.c
  LIBS opd_profiling_python)
