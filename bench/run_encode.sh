#!/bin/sh
# Builds bench_encode (Release, own build directory) and runs it. Extra arguments go to
# bench_encode (--samples N --stacks N --depth N). Prints the machine line RESULTS.md wants.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OPD_BENCH_BUILD_DIR:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DOPD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target bench_encode -j2 >/dev/null
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
exec "$build/bench/bench_encode" "$@"
