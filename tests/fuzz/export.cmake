# Export path: gRPC response handling (HTTP/2 frames through the client callbacks, then
# framing / partial_success / RetryInfo parsers) and the persistent-queue file reader.
# Seeds in corpus/grpc_response (recorded server answers) and corpus/pqueue (queue files).
opd_add_fuzzer(fuzz_grpc_response SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_grpc_response.c
  LIBS opd_grpc)
opd_add_fuzzer(fuzz_pqueue SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_pqueue.c
  LIBS opd_pqueue)
