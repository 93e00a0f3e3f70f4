# Kubernetes metadata client and the k8sattributes, team, redaction and resource processors.
opd_add_unit_test(test_k8s SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s.c LIBS opd_k8s)
