# opd_profiling_symbolize: process table (/proc) and on-host symbolizer of the profiling
# receiver. Included by collector/receivers/profiling/CMakeLists.txt and, when that file is
# absent, by tests/unit/profiling_symbolize.cmake; the guard keeps one definition.
if(TARGET opd_profiling_symbolize)
  return()
endif()

pkg_check_modules(LIBELF REQUIRED IMPORTED_TARGET libelf)
pkg_check_modules(LIBDW REQUIRED IMPORTED_TARGET libdw)
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
find_path(OPD_LIBIBERTY_INCLUDE libiberty/demangle.h REQUIRED)
find_library(OPD_LIBIBERTY_LIB NAMES libiberty.a iberty REQUIRED)

set(_opd_sym_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(opd_profiling_symbolize STATIC
  ${_opd_sym_dir}/fileutil.c
  ${_opd_sym_dir}/procmaps.c
  ${_opd_sym_dir}/cgroup.c
  ${_opd_sym_dir}/proctab.c
  ${_opd_sym_dir}/symtab.c
  ${_opd_sym_dir}/demangle.c
  ${_opd_sym_dir}/elfread.c
  ${_opd_sym_dir}/gopclntab.c
  ${_opd_sym_dir}/debuginfo.c
  ${_opd_sym_dir}/dwarflines.c
  ${_opd_sym_dir}/ksyms.c
  ${_opd_sym_dir}/perfmap.c
  ${_opd_sym_dir}/symbolizer.c
)
target_include_directories(opd_profiling_symbolize PRIVATE ${OPD_LIBIBERTY_INCLUDE})
target_link_libraries(opd_profiling_symbolize PUBLIC opd_base PkgConfig::LIBELF PkgConfig::LIBDW
                      PkgConfig::ZLIB PkgConfig::LIBCRYPTO ${OPD_LIBIBERTY_LIB})
