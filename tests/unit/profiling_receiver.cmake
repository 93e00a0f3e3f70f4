# Unit tests of the profiling receiver's user-space parts (no BPF needed).
if(TARGET opd_receiver_profiling)
  opd_add_unit_test(test_profiling_receiver
    SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_profiling_receiver.c
    LIBS opd_receiver_profiling opd_config opd_otlp)
endif()

# The unwind worker's queue and thread, with recording ops (no BPF needed).
if(TARGET opd_profiling_sampler)
  opd_add_unit_test(test_unwind_worker
    SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_unwind_worker.c
    LIBS opd_profiling_sampler)
endif()

# BPF map memory: the estimate (against the kernel's figures when this process may create
# maps) and the sizing of the largest maps to bpf_memory_limit_mib.
if(TARGET opd_profiling_sampler)
  opd_add_unit_test(test_bpf_memory
    SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_bpf_memory.c
    LIBS opd_profiling_sampler)
endif()
