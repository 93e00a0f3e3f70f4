# Symbolizer through a private mount namespace (the container case): privileged, needs root.
if(NOT TARGET opd_profiling_symbolize)
  include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/symbolize.cmake)
endif()
add_executable(profiling_symtool ${CMAKE_SOURCE_DIR}/tests/integration/profiling_symtool.c)
target_link_libraries(profiling_symtool PRIVATE opd_profiling_symbolize)
add_dependencies(profiling_symtool opd_symfix_probe_alpha opd_symfix_probe_beta opd_symfix_jit)
opd_add_script_test(profiling_symbolize_ns LABELS privileged TIMEOUT 60
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/profiling_symbolize_ns.sh
          $<TARGET_FILE:profiling_symtool>)
