# Privileged tests of CPython frames in mixed stacks (need root or CAP_BPF+CAP_PERFMON,
# skip with exit 77 otherwise).
opd_add_script_test(python_frames LABELS privileged TIMEOUT 120
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/python_frames.sh)
