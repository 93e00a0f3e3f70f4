# Privileged tests of off-CPU and allocation profiles (eBPF), and of all the profile types
# through pprof (backends_profiling): root or CAP_BPF+CAP_PERFMON,
# else they skip (exit 77) with a printed reason. Their times are compared with the
# fixtures' own clocks, so they run alone.
foreach(t offcpu alloc alloc_preload offcpu_peer backends_profiling thread_bound)
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integration/${t}.sh)
    opd_add_script_test(${t} LABELS privileged TIMEOUT 180
      COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/${t}.sh)
  endif()
endforeach()
