# opd_add_unit_test(<name> SOURCES <files...> LIBS <targets...>)
# One cmocka binary per module, registered with ctest under the label "unit".
function(opd_add_unit_test name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT OPD_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set(labels unit ${A_LABELS})
  set_tests_properties(${name} PROPERTIES LABELS "${labels}"
    ENVIRONMENT "OPD_SOURCE_DIR=${CMAKE_SOURCE_DIR};OPD_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()

# opd_add_script_test(<name> LABELS <labels...> COMMAND <cmd...>)
# A shell-driven test (integration or privileged) that runs build/otelprofd for real.
function(opd_add_script_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS;COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    SKIP_RETURN_CODE 77
    ENVIRONMENT "OPD_SOURCE_DIR=${CMAKE_SOURCE_DIR};OPD_BINARY_DIR=${CMAKE_BINARY_DIR};OTELPROFD=$<TARGET_FILE:otelprofd>")
  # Sampling tests compare sample counts with CPU time: nothing else may run beside them.
  if("privileged" IN_LIST A_LABELS)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# opd_add_fuzzer(<name> SOURCES <files...> LIBS <targets...>)
# A libFuzzer target; built only with OPD_FUZZ=ON (clang).
function(opd_add_fuzzer name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT OPD_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_property(GLOBAL APPEND PROPERTY OPD_FUZZERS ${name})
endfunction()
