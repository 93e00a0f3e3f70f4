# Kubernetes metadata client and the k8sattributes, team, redaction and resource processors.
opd_add_unit_test(test_k8s SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s.c LIBS opd_k8s)
# Against tests/integration/k8s/fake_apiserver.py over TLS (needs python3 and openssl).
opd_add_unit_test(test_k8s_client SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_client.c
  LIBS opd_k8s LABELS peer)
if(TARGET test_k8s_client)
  set_tests_properties(test_k8s_client PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endif()
opd_add_unit_test(test_redaction
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_redaction.c ${CMAKE_SOURCE_DIR}/tests/unit/test_otlp_fixture.c
  LIBS opd_processor_redaction)
opd_add_unit_test(test_k8s_processors SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_k8s_processors.c
  LIBS opd_processor_k8sattributes opd_processor_team opd_processor_resource)
