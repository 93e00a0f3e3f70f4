# Unit tests of the profiling receiver's process table and symbolizer, and the fixture
# binaries they symbolize (built here, into build/tests/profiling_sym/).
if(NOT TARGET opd_profiling_symbolize)
  include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/symbolize.cmake)
endif()

set(OPD_SYMFIX_SRC ${CMAKE_SOURCE_DIR}/tests/data/profiling/sym)
set(OPD_SYMFIX_OUT ${CMAKE_BINARY_DIR}/tests/profiling_sym)

# A shared library with exported, hidden and mangled functions, built with DWARF and a
# build id. No SONAME, so its stripped copies can be dlopen'ed next to it.
add_library(opd_symfix_lib SHARED ${OPD_SYMFIX_SRC}/symlib.c)
target_compile_options(opd_symfix_lib PRIVATE -g -O1 -fno-omit-frame-pointer)
target_link_options(opd_symfix_lib PRIVATE -Wl,--build-id=sha1)
set_target_properties(opd_symfix_lib PROPERTIES OUTPUT_NAME opdsymfix NO_SONAME ON
                      LIBRARY_OUTPUT_DIRECTORY ${OPD_SYMFIX_OUT})

# stripped/: the same library without .symtab or DWARF (its debug file goes in a build-id
# directory at test time); linked/: stripped plus .gnu_debuglink, the debug file beside it.
add_custom_command(
  OUTPUT ${OPD_SYMFIX_OUT}/libopdsymfix.debug ${OPD_SYMFIX_OUT}/stripped/libopdsymfix.so
         ${OPD_SYMFIX_OUT}/linked/libopdsymfix.so ${OPD_SYMFIX_OUT}/linked/libopdsymfix.debug
  COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:opd_symfix_lib>
          ${OPD_SYMFIX_OUT}/libopdsymfix.debug
  COMMAND ${CMAKE_COMMAND} -E make_directory ${OPD_SYMFIX_OUT}/stripped ${OPD_SYMFIX_OUT}/linked
  COMMAND ${CMAKE_STRIP} --strip-all -o ${OPD_SYMFIX_OUT}/stripped/libopdsymfix.so
          $<TARGET_FILE:opd_symfix_lib>
  COMMAND ${CMAKE_COMMAND} -E copy ${OPD_SYMFIX_OUT}/libopdsymfix.debug
          ${OPD_SYMFIX_OUT}/linked/libopdsymfix.debug
  COMMAND ${CMAKE_OBJCOPY} --add-gnu-debuglink=${OPD_SYMFIX_OUT}/linked/libopdsymfix.debug
          ${OPD_SYMFIX_OUT}/stripped/libopdsymfix.so ${OPD_SYMFIX_OUT}/linked/libopdsymfix.so
  DEPENDS opd_symfix_lib
  COMMENT "profiling symbolizer fixtures: stripped and debug-linked library" VERBATIM)

# The same library without a build id: its .gnu_debuglink is verified by CRC. crc/ holds the
# right debug file beside it, badcrc/ a debug file of another build under the same name.
add_library(opd_symfix_lib_nobid SHARED ${OPD_SYMFIX_SRC}/symlib.c)
target_compile_options(opd_symfix_lib_nobid PRIVATE -g -O1 -fno-omit-frame-pointer)
target_link_options(opd_symfix_lib_nobid PRIVATE -Wl,--build-id=none)
set_target_properties(opd_symfix_lib_nobid PROPERTIES OUTPUT_NAME opdsymfix_nobid NO_SONAME ON
                      LIBRARY_OUTPUT_DIRECTORY ${OPD_SYMFIX_OUT}/nobid)
add_custom_command(
  OUTPUT ${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.so ${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.debug
         ${OPD_SYMFIX_OUT}/badcrc/libopdsymfix_nobid.so
         ${OPD_SYMFIX_OUT}/badcrc/libopdsymfix_nobid.debug
  COMMAND ${CMAKE_COMMAND} -E make_directory ${OPD_SYMFIX_OUT}/crc ${OPD_SYMFIX_OUT}/badcrc
  COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:opd_symfix_lib_nobid>
          ${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.debug
  COMMAND ${CMAKE_STRIP} --strip-all -o ${OPD_SYMFIX_OUT}/nobid/stripped.so
          $<TARGET_FILE:opd_symfix_lib_nobid>
  COMMAND ${CMAKE_OBJCOPY} --add-gnu-debuglink=${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.debug
          ${OPD_SYMFIX_OUT}/nobid/stripped.so ${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.so
  COMMAND ${CMAKE_COMMAND} -E copy ${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.so
          ${OPD_SYMFIX_OUT}/badcrc/libopdsymfix_nobid.so
  COMMAND ${CMAKE_OBJCOPY} --only-keep-debug --add-section .opd_other=${OPD_SYMFIX_SRC}/symlib.c
          $<TARGET_FILE:opd_symfix_lib_nobid> ${OPD_SYMFIX_OUT}/badcrc/libopdsymfix_nobid.debug
  DEPENDS opd_symfix_lib_nobid
  COMMENT "profiling symbolizer fixtures: debuglink verified by CRC" VERBATIM)

# Two programs that differ only in the name of the function they spin in.
foreach(probe alpha beta)
  add_executable(opd_symfix_probe_${probe} ${OPD_SYMFIX_SRC}/probe.c)
  target_compile_definitions(opd_symfix_probe_${probe} PRIVATE PROBE_NAME=opd_probe_${probe})
  target_compile_options(opd_symfix_probe_${probe} PRIVATE -O1 -fno-omit-frame-pointer)
  set_target_properties(opd_symfix_probe_${probe} PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY ${OPD_SYMFIX_OUT})
endforeach()

# A "JIT" that runs code from anonymous memory described by /tmp/perf-<pid>.map.
add_executable(opd_symfix_jit ${OPD_SYMFIX_SRC}/jitprobe.c)
set_target_properties(opd_symfix_jit PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${OPD_SYMFIX_OUT})

# A stripped Go program (non-PIE and PIE) when Debian's golang-go is installed.
set(OPD_SYMFIX_GO_OUTPUTS "")
find_program(OPD_GO go)
if(OPD_GO)
  set(_go_env ${CMAKE_COMMAND} -E env GOCACHE=${OPD_SYMFIX_OUT}/gocache
              GOPATH=${OPD_SYMFIX_OUT}/gopath HOME=${OPD_SYMFIX_OUT} CGO_ENABLED=0 GOFLAGS=
              GOPROXY=off GO111MODULE=off)
  add_custom_command(
    OUTPUT ${OPD_SYMFIX_OUT}/goprobe ${OPD_SYMFIX_OUT}/goprobe-pie
    COMMAND ${_go_env} ${OPD_GO} build "-ldflags=-s -w" -o ${OPD_SYMFIX_OUT}/goprobe
            ${OPD_SYMFIX_SRC}/goprobe.go
    COMMAND ${_go_env} ${OPD_GO} build -buildmode=pie "-ldflags=-s -w"
            -o ${OPD_SYMFIX_OUT}/goprobe-pie ${OPD_SYMFIX_SRC}/goprobe.go
    COMMAND ${CMAKE_STRIP} --strip-all ${OPD_SYMFIX_OUT}/goprobe ${OPD_SYMFIX_OUT}/goprobe-pie
    DEPENDS ${OPD_SYMFIX_SRC}/goprobe.go
    COMMENT "profiling symbolizer fixtures: stripped Go programs" VERBATIM)
  set(OPD_SYMFIX_GO_OUTPUTS ${OPD_SYMFIX_OUT}/goprobe ${OPD_SYMFIX_OUT}/goprobe-pie)
endif()

add_custom_target(opd_symfix_files
  DEPENDS ${OPD_SYMFIX_OUT}/stripped/libopdsymfix.so ${OPD_SYMFIX_OUT}/linked/libopdsymfix.so
          ${OPD_SYMFIX_OUT}/crc/libopdsymfix_nobid.so ${OPD_SYMFIX_OUT}/badcrc/libopdsymfix_nobid.so
          ${OPD_SYMFIX_GO_OUTPUTS})

opd_add_unit_test(test_proctab
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_proctab.c
  LIBS opd_profiling_symbolize)

opd_add_unit_test(test_symbolizer
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_symbolizer.c
  LIBS opd_profiling_symbolize ${CMAKE_DL_LIBS})
if(TARGET test_symbolizer)
  add_dependencies(test_symbolizer opd_symfix_files opd_symfix_probe_alpha opd_symfix_probe_beta)
endif()

opd_add_unit_test(test_symparse
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_symparse.c
  LIBS opd_profiling_symbolize)
