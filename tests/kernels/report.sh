#!/usr/bin/env bash
# Markdown tables of the last matrix run (tests/kernels/run.sh): one row per kernel from
# its result line, and every program's verified instruction count per kernel, at the
# default frame budget and at max_frames 1024, from the serial logs.
#
#   tests/kernels/report.sh [RESULTS_DIR]     default: build/kernels
set -euo pipefail

dir=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/kernels}
ls "$dir"/*.result >/dev/null 2>&1 || { echo "report: no results in $dir" >&2; exit 1; }
series=$(for r in "$dir"/*.result; do basename "$r" .result; done | sort -V)

# field RESULT_LINE REGEX: the first match of REGEX in the line.
field() { grep -oE "$2" <<<"$1" | head -n 1 || true; }

echo "| kernel | result | ready (host s, TCG) | frame pointers ready | max_frames 1024 ready | chain complete | qsort through libc | tables published within |"
echo "|---|---|---|---|---|---|---|---|"
for s in $series; do
  line=$(cat "$dir/$s.result")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(awk '{ print $1 }' <<<"$line")" \
    "$(awk '{ print $2 }' <<<"$line")" \
    "$(field "$line" 'guest/[0-9.]+s host' | sed 's/guest\///; s/s host//')" \
    "$(field "$line" 'fp ready [0-9.]+s' | sed 's/fp ready //; s/s$//')" \
    "$(field "$line" 'max_frames 1024 ready [0-9.]+s' | sed 's/max_frames 1024 ready //; s/s$//')" \
    "$(field "$line" 'chain [0-9.]+% of [0-9]+' | sed 's/chain //')" \
    "$(field "$line" 'qsort [0-9.]+% of [0-9]+' | sed 's/qsort //')" \
    "$(field "$line" 'published within [0-9]+ ms' | sed 's/published within //')"
done
echo

# costs LABEL: "program=N …" of that run in each kernel's log, as table rows.
costs() {
  local progs
  progs=$(for s in $series; do
      tr -d '\r' <"$dir/$s.log" | grep -a "daemon $1| " | grep -ao 'BPF programs verified.*' |
        grep -oE '[a-z_]+=[0-9]+' | cut -d= -f1
    done | awk '!seen[$0]++')
  printf '| program |'; for s in $series; do printf ' %s |' "$s"; done; echo
  printf '|---|'; for _ in $series; do printf -- '---|'; done; echo
  for p in $progs; do
    printf '| %s |' "$p"
    for s in $series; do
      v=$(tr -d '\r' <"$dir/$s.log" | grep -a "daemon $1| " | grep -ao 'BPF programs verified.*' |
        grep -oE "(^| )$p=[0-9]+" | cut -d= -f2 | head -n 1)
      printf ' %s |' "${v:--}"
    done
    echo
  done
}
echo "Verified instructions per program (kernel limit 1000000; the matrix fails a kernel above 250000), default frame budget (127), off-CPU and allocation programs on:"
echo
costs auto
echo
echo "The same at max_frames 1024:"
echo
costs frames1024
