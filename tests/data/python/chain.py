"""Fixture: a known chain of three Python functions burning CPU (outer -> middle -> inner).

The lines marked with @name are the ones a profile must show for each function; tests
read the markers from this file. Prints "ready" once the chain is running, then spins for
argv[1] seconds (default: until killed), then sleeps argv[2] seconds (default 0): the
profiler reads code objects from the live process when it drains, so a test keeps the
process alive past the next drain. With argv[3], it first sleeps that many seconds after
start-up: a profiler finds a process at its first sample, and the pause lets it do so
before the chain runs.
"""
import sys
import time


def inner(deadline):
    n = 0
    print("ready", flush=True)
    while time.time() < deadline: n += 1  # @inner
    return n


def middle(deadline):
    return inner(deadline) + 1  # @middle


def outer(deadline):
    return middle(deadline) + 1  # @outer


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1e9
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
    outer(time.time() + secs)  # @module
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
