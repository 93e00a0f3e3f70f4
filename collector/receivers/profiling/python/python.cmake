# opd_profiling_python: CPython detection, layouts and frame resolution of the profiling
# receiver. Included by collector/receivers/profiling/CMakeLists.txt and by
# tests/unit/python.cmake; the guard keeps one definition.
if(TARGET opd_profiling_python)
  return()
endif()
if(NOT TARGET opd_profiling_symbolize)
  include(${CMAKE_CURRENT_LIST_DIR}/../symbolize.cmake)
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)

add_library(opd_profiling_python STATIC
  ${CMAKE_CURRENT_LIST_DIR}/pylayout.c
  ${CMAKE_CURRENT_LIST_DIR}/pyelf.c
  ${CMAKE_CURRENT_LIST_DIR}/pycode.c
  ${CMAKE_CURRENT_LIST_DIR}/pywalk.c
  ${CMAKE_CURRENT_LIST_DIR}/pyahead.c
  ${CMAKE_CURRENT_LIST_DIR}/python.c)
target_link_libraries(opd_profiling_python PUBLIC opd_profiling_symbolize opd_base
                      PkgConfig::LIBBPF Threads::Threads)
