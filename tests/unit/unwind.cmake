# Unwind tables: parser/compiler unit tests against readelf, cache tests, fixtures.
if(NOT TARGET opd_unwind)
  add_subdirectory(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/unwind
                   ${CMAKE_BINARY_DIR}/collector/receivers/profiling/unwind)
endif()

# Fixtures: built without frame pointers, as production code is.
set(OPD_UNWIND_FIXTURES chain qsort_cb)
foreach(fx ${OPD_UNWIND_FIXTURES})
  add_executable(unwind_fx_${fx} ${CMAKE_SOURCE_DIR}/tests/data/unwind/${fx}.c)
  target_compile_options(unwind_fx_${fx} PRIVATE -O2 -fomit-frame-pointer -g)
  set_target_properties(unwind_fx_${fx} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/data/unwind)
endforeach()
add_executable(unwind_fx_drap ${CMAKE_SOURCE_DIR}/tests/data/unwind/drap.c)
target_compile_options(unwind_fx_drap PRIVATE -O2 -fomit-frame-pointer -mavx)
target_link_options(unwind_fx_drap PRIVATE -Wl,-z,lazy)
add_executable(unwind_fx_nounwind ${CMAKE_SOURCE_DIR}/tests/data/unwind/nounwind.c)
target_compile_options(unwind_fx_nounwind PRIVATE -O2 -fomit-frame-pointer -g
                       -fno-asynchronous-unwind-tables -fno-unwind-tables)
set_target_properties(unwind_fx_drap unwind_fx_nounwind PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/data/unwind)
list(APPEND OPD_UNWIND_FIXTURES drap nounwind)

opd_add_unit_test(test_unwind_cfi
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_unwind_cfi.c
  LIBS opd_unwind)
foreach(fx ${OPD_UNWIND_FIXTURES})
  add_dependencies(test_unwind_cfi unwind_fx_${fx})
endforeach()

opd_add_unit_test(test_unwind_cache
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_unwind_cache.c
  LIBS opd_unwind)
