#!/usr/bin/env bash
# Must show (memory): an allocation fixture with two known chains allocating known byte
# totals in a 3:1 ratio (malloc and calloc, every block freed): the estimated
# alloc_space splits 3:1 within ±15%, and each chain's estimated bytes and objects are
# within ±15% of what it really allocated. A fixture that leaks one chain (malloc) and
# frees the other (posix_memalign) shows only the leaking chain in inuse_space, with
# about the bytes it holds. Anonymous mmap/munmap count as allocations and frees of
# large blocks, malloc's own mmap only once. Also checks the profiles' OTLP shape.
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
. "$(dirname "$0")/offcpu_lib.sh"
require_privileges
build_fx alloc ratio
build_fx alloc leak
build_fx alloc mmap

within() { # within GOT WANT PCT
  awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { exit !(w > 0 && g >= w * (1 - p / 100) && g <= w * (1 + p / 100)) }'
}

MIB=128
RATE=65536
start_daemon 19 1s "    memory:
      enabled: true
      sample_bytes: $RATE
      include:
        comm: ['^opd_(ratio|leak|mmap)_$SUF\$']"
# Each fixture waits (at most 10 s) until its allocator is probed: the receiver rescans
# processes every reporter_interval and probes the new ones' allocator.
rpid=$("$WORK/$FX_ratio" 10000 $MIB) || fail "ratio fixture failed"
read -r lpid leaked < <("$WORK/$FX_leak" 10000 $MIB) || fail "leak fixture failed"
mpid=$("$WORK/$FX_mmap" 10000 64) || fail "mmap fixture failed"
sleep 1.5
stop_daemon

big=$(type_sum "$rpid" alloc_space '(^|;)main;opd_fx_alloc_big;opd_fx_alloc_a;')
small=$(type_sum "$rpid" alloc_space '(^|;)main;opd_fx_alloc_small;opd_fx_alloc_b;')
big_n=$(type_sum "$rpid" alloc_objects '(^|;)main;opd_fx_alloc_big;opd_fx_alloc_a;')
small_n=$(type_sum "$rpid" alloc_objects '(^|;)main;opd_fx_alloc_small;opd_fx_alloc_b;')
echo "ratio: alloc_space big=$big small=$small (real $((3 * MIB << 20)) and $((MIB << 20)));" \
  "alloc_objects big=$big_n small=$small_n (real $((3 * (MIB << 20) / 4096)) and $(((MIB << 20) / 1024)))"
[ "$small" -gt 0 ] || fail "no alloc_space under the small chain"
ratio=$(awk -v a="$big" -v b="$small" 'BEGIN { printf "%.3f", a / b }')
echo "ratio: big/small = $ratio (want 3 ± 15%)"
within "$ratio" 3 15 || fail "alloc_space ratio $ratio not within 15% of 3"
within "$big" $((3 * MIB << 20)) 15 || fail "big chain's alloc_space $big not within 15% of the real bytes"
within "$small" $((MIB << 20)) 15 || fail "small chain's alloc_space $small not within 15% of the real bytes"
within "$big_n" $((3 * (MIB << 20) / 4096)) 15 || fail "big chain's alloc_objects $big_n off by more than 15%"
within "$small_n" $(((MIB << 20) / 1024)) 15 || fail "small chain's alloc_objects $small_n off by more than 15%"

held=$(max_window_sum "$lpid" inuse_space '(^|;)main;opd_fx_leaker;opd_fx_leak_one;')
freed=$(type_sum "$lpid" inuse_space '(^|;)main;opd_fx_freer;')
others=$(type_sum "$lpid" inuse_space '.')
freed_alloc=$(type_sum "$lpid" alloc_space '(^|;)main;opd_fx_freer;opd_fx_free_one;')
echo "leak: inuse_space of the leaking chain $held (holds $leaked); of the freeing chain $freed;" \
  "freeing chain's alloc_space $freed_alloc"
within "$held" "$leaked" 15 || fail "leaking chain's inuse_space $held not within 15% of $leaked"
[ "$freed" -eq 0 ] || fail "the freeing chain shows $freed bytes in use"
[ "$freed_alloc" -gt 0 ] || fail "the freeing chain's allocations (posix_memalign) were not seen"
awk -v a="$others" -v h="$held" 'BEGIN { exit !(a >= h) }' || fail "inuse_space total below the chain's"

# Large blocks: anonymous mmap counts as an allocation and munmap frees it; malloc's own
# mmap of a large block counts once, under malloc.
mapped=$(type_sum "$mpid" alloc_space '(^|;)main;opd_fx_mapper;opd_fx_map_one;')
mapped_held=$(max_window_sum "$mpid" inuse_space '(^|;)main;opd_fx_mapper;opd_fx_map_one;')
big_malloc=$(type_sum "$mpid" alloc_space '(^|;)main;opd_fx_big_malloc;')
echo "mmap: alloc_space $mapped (real $((64 << 20))), inuse_space $mapped_held (holds $((32 << 20)));" \
  "malloc of the same blocks $big_malloc"
within "$mapped" $((64 << 20)) 15 || fail "mmap chain's alloc_space $mapped not within 15% of 64 MiB"
within "$mapped_held" $((32 << 20)) 15 || fail "mmap chain's inuse_space $mapped_held not within 15% of 32 MiB"
within "$big_malloc" $((64 << 20)) 15 || fail "large malloc's alloc_space $big_malloc not within 15% of 64 MiB (counted twice?)"

# OTLP shape of the three memory profiles: pprof's sample types, period type "memory"
# (Pyroscope's name for them), in scope otelprofd.memory (Parca's name).
jq -e -s --arg pid "$lpid" --arg rate "$RATE" '
  [ .[] | .dictionary as $d | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.pid"
                 and (.value.intValue | tostring) == $pid))
    | .scopeProfiles[] | .scope.name as $scope | .profiles[]
    | { s: $scope, t: $d.stringTable[.sampleType.typeStrindex // 0],
        u: $d.stringTable[.sampleType.unitStrindex // 0],
        pt: $d.stringTable[.periodType.typeStrindex // 0],
        pu: $d.stringTable[.periodType.unitStrindex // 0], p: (.period | tonumber) } ]
  | map(select(.t != "samples")) as $m
  | ($m | map(.t) | unique) == ["alloc_objects", "alloc_space", "inuse_space"]
    and all($m[]; .s == "otelprofd.memory" and .pt == "memory" and .pu == "bytes"
                  and .p == ($rate | tonumber)
                  and .u == (if .t == "alloc_objects" then "count" else "bytes" end))
' "$WORK/profiles.jsonl" >/dev/null || fail "OTLP shape of the memory profiles is wrong"
echo PASS
