# The profiling receiver's Kubernetes scope (config checks, filter hand-over); no server.
if(TARGET opd_receiver_profiling)
  opd_add_unit_test(test_prof_k8s_scope
    SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_prof_k8s_scope.c
    LIBS opd_receiver_profiling opd_k8s)
endif()
# The pid namespace check of procfs_root (container deployment).
if(TARGET opd_receiver_profiling)
  opd_add_unit_test(test_prof_pidns SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_prof_pidns.c
    LIBS opd_receiver_profiling)
endif()
