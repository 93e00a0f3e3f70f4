# Hostile binaries: crafted ELF files (tests/data/hostile) through the table builder, the
# ELF/symbol reader, CPython detection and the symbolizer, in-process (unit, so it also runs
# under ASan+UBSan); the generator and the mapping fixture for the privileged daemon test
# (tests/integration/hostile_binaries.sh) are built here too, into build/tests/hostile.
if(NOT TARGET opd_unwind)
  add_subdirectory(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/unwind
                   ${CMAKE_BINARY_DIR}/collector/receivers/profiling/unwind)
endif()
include(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/python/python.cmake)

set(OPD_HOSTILE_SRC ${CMAKE_SOURCE_DIR}/tests/data/hostile)
add_library(opd_hostile_elf STATIC ${OPD_HOSTILE_SRC}/hostile_elf.c)
target_include_directories(opd_hostile_elf PUBLIC ${CMAKE_SOURCE_DIR})

add_executable(opd_hostile_gen ${OPD_HOSTILE_SRC}/hostile_gen.c)
target_link_libraries(opd_hostile_gen PRIVATE opd_hostile_elf)
# The fixture runs code out of the crafted files: no sanitizer runtime, frame pointers kept.
add_executable(opd_hostile_fixture ${OPD_HOSTILE_SRC}/hostile_fixture.c ${OPD_HOSTILE_SRC}/hostile_elf.c)
target_compile_options(opd_hostile_fixture PRIVATE -O1 -fno-omit-frame-pointer -fno-sanitize=all)
target_link_options(opd_hostile_fixture PRIVATE -fno-sanitize=all)
target_include_directories(opd_hostile_fixture PRIVATE ${CMAKE_SOURCE_DIR})
set_target_properties(opd_hostile_gen opd_hostile_fixture PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/hostile)

opd_add_unit_test(test_hostile
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_hostile.c
  LIBS opd_hostile_elf opd_unwind opd_profiling_python opd_profiling_symbolize)

# Privileged: the same files mapped by a fixture while build/otelprofd samples it.
opd_add_script_test(hostile_binaries LABELS privileged TIMEOUT 120
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/hostile_binaries.sh)
