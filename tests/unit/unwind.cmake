# Unwind tables: parser/compiler unit tests against readelf, cache tests, fixtures.
if(NOT TARGET opd_unwind)
  add_subdirectory(${CMAKE_SOURCE_DIR}/collector/receivers/profiling/unwind
                   ${CMAKE_BINARY_DIR}/collector/receivers/profiling/unwind)
endif()

# Fixtures: built without frame pointers, as production code is, and never with the
# sanitizers (their runtimes would dwarf the code under test).
set(OPD_UNWIND_FX_FLAGS -O2 -fomit-frame-pointer -g -fno-sanitize=all)
set(OPD_UNWIND_FIXTURES chain qsort_cb deep sigspin sysloop)
foreach(fx ${OPD_UNWIND_FIXTURES})
  add_executable(unwind_fx_${fx} ${CMAKE_SOURCE_DIR}/tests/data/unwind/${fx}.c)
  target_compile_options(unwind_fx_${fx} PRIVATE ${OPD_UNWIND_FX_FLAGS})
  target_link_options(unwind_fx_${fx} PRIVATE -fno-sanitize=all)
  set_target_properties(unwind_fx_${fx} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/data/unwind)
endforeach()
add_executable(unwind_fx_drap ${CMAKE_SOURCE_DIR}/tests/data/unwind/drap.c)
target_compile_options(unwind_fx_drap PRIVATE ${OPD_UNWIND_FX_FLAGS} -mavx)
target_link_options(unwind_fx_drap PRIVATE -Wl,-z,lazy -fno-sanitize=all)
add_executable(unwind_fx_nounwind ${CMAKE_SOURCE_DIR}/tests/data/unwind/nounwind.c)
target_compile_options(unwind_fx_nounwind PRIVATE ${OPD_UNWIND_FX_FLAGS}
                       -fno-asynchronous-unwind-tables -fno-unwind-tables)
target_link_options(unwind_fx_nounwind PRIVATE -fno-sanitize=all)
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

# Privileged: the BPF unwinder loaded into this kernel, sampling the fixtures.
# bpf/unwind_probe.bpf.c becomes an object and a skeleton in this build dir, against its
# own vmlinux.h (so that it builds whatever state the sampler's BPF build is in).
if(DEFINED OPD_CLANG AND DEFINED OPD_BPFTOOL AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(_unw_out ${CMAKE_BINARY_DIR}/tests/unwind_bpf)
  set(_unw_obj ${_unw_out}/unwind_probe.bpf.o)
  set(_unw_skel ${_unw_out}/unwind_probe.skel.h)
  add_custom_command(OUTPUT ${_unw_out}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_unw_out}
    COMMAND ${OPD_BPFTOOL} btf dump file ${OPD_VMLINUX_BTF} format c > ${_unw_out}/vmlinux.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${_unw_out}/vmlinux.h.tmp ${_unw_out}/vmlinux.h
    COMMENT "vmlinux.h for unwind_probe"
    VERBATIM)
  add_custom_command(OUTPUT ${_unw_obj}
    COMMAND ${OPD_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${_unw_out} -I${CMAKE_SOURCE_DIR}/bpf
            -c ${CMAKE_SOURCE_DIR}/bpf/unwind_probe.bpf.c -o ${_unw_obj}
    COMMAND ${OPD_LLVM_STRIP} -g ${_unw_obj}
    DEPENDS ${CMAKE_SOURCE_DIR}/bpf/unwind_probe.bpf.c ${CMAKE_SOURCE_DIR}/bpf/walk.bpf.h
            ${CMAKE_SOURCE_DIR}/bpf/walk.h ${CMAKE_SOURCE_DIR}/bpf/regs.bpf.h
            ${CMAKE_SOURCE_DIR}/bpf/counter.bpf.h
            ${CMAKE_SOURCE_DIR}/bpf/unwind_table.h ${CMAKE_SOURCE_DIR}/bpf/profile.h
            ${_unw_out}/vmlinux.h
    COMMENT "BPF unwind_probe.bpf.c"
    VERBATIM)
  add_custom_command(OUTPUT ${_unw_skel}
    COMMAND ${OPD_BPFTOOL} gen skeleton ${_unw_obj} name unwind_probe_bpf > ${_unw_skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${_unw_skel}.tmp ${_unw_skel}
    DEPENDS ${_unw_obj}
    COMMENT "BPF skeleton unwind_probe.skel.h"
    VERBATIM)
  add_custom_target(unwind_probe_skel_gen DEPENDS ${_unw_skel})

  add_executable(test_unwind_bpf ${CMAKE_SOURCE_DIR}/tests/unit/test_unwind_bpf.c)
  target_include_directories(test_unwind_bpf PRIVATE ${_unw_out} ${CMAKE_SOURCE_DIR}/bpf)
  target_link_libraries(test_unwind_bpf PRIVATE opd_unwind PkgConfig::CMOCKA)
  add_dependencies(test_unwind_bpf unwind_probe_skel_gen unwind_fx_chain unwind_fx_qsort_cb
                   unwind_fx_deep unwind_fx_sigspin unwind_fx_sysloop unwind_fx_drap)
  opd_add_script_test(test_unwind_bpf LABELS privileged TIMEOUT 120
    COMMAND $<TARGET_FILE:test_unwind_bpf>)
endif()

# Every ELF file in /usr/bin and /lib/x86_64-linux-gnu: builds or is cleanly rejected.
# With directory arguments it is the host census of bench/RESULTS.unwind.md.
add_executable(test_unwind_census ${CMAKE_SOURCE_DIR}/tests/unit/test_unwind_census.c)
target_link_libraries(test_unwind_census PRIVATE opd_unwind)
add_test(NAME test_unwind_census COMMAND test_unwind_census)
set_tests_properties(test_unwind_census PROPERTIES LABELS "unit" TIMEOUT 600)
