"""Fixture: Python calling into a native library (ctypes) that burns CPU.

argv[1] is the library built from burn.c, argv[2] the seconds to burn, argv[3] the
seconds to stay alive afterwards (default 0), argv[4] the seconds to sleep before burning
(default 0; lets a profiler find the process first). The Python side is
call_native <- via_python <- <module>; samples should show opd_py_burn over them.
"""
import ctypes
import sys
import time

lib = ctypes.CDLL(sys.argv[1])
lib.opd_py_burn.argtypes = [ctypes.c_double]
lib.opd_py_burn.restype = ctypes.c_ulong


def call_native(seconds):
    return lib.opd_py_burn(seconds)  # @call_native


def via_python(seconds):
    return call_native(seconds)  # @via_python


if __name__ == "__main__":
    time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0)
    via_python(float(sys.argv[2]))
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
