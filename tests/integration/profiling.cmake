# Privileged tests of the profiling receiver (eBPF): they need root or CAP_BPF+CAP_PERFMON
# and skip (exit 77) with a printed reason otherwise.
if(TARGET opd_profiling_sampler)
  add_executable(test_profiling_sampler ${CMAKE_SOURCE_DIR}/tests/integration/profiling_sampler.c)
  target_link_libraries(test_profiling_sampler PRIVATE opd_profiling_sampler)
  add_test(NAME profiling_sampler COMMAND test_profiling_sampler)
  set_tests_properties(profiling_sampler PROPERTIES LABELS "privileged" SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
                       TIMEOUT 60)
endif()
foreach(t callchain syscalls churn hotplug scope options)
  opd_add_script_test(profiling_${t} LABELS privileged TIMEOUT 180
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/profiling_${t}.sh)
endforeach()
# Taking a CPU offline disturbs every other sampling test running at the same time.
set_tests_properties(profiling_hotplug PROPERTIES RUN_SERIAL TRUE)
# A kernel's refusal of one program turns off that feature only, said once (issue 13).
opd_add_script_test(degraded LABELS privileged TIMEOUT 300
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/degraded.sh)
