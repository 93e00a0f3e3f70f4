# Kubernetes API JSON decoding and watch stream framing; seeds in corpus/k8s_json and
# corpus/k8s_stream are real API response shapes.
opd_add_fuzzer(fuzz_k8s_json SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_k8s_json.c LIBS opd_k8s)
opd_add_fuzzer(fuzz_k8s_stream SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_k8s_stream.c
  LIBS opd_k8s)
