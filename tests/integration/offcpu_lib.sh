# Shared helpers of the off-CPU and allocation tests (sourced after profiling_lib.sh).

# build_fx DIR NAME: compiles tests/data/DIR/NAME.c with frame pointers to $WORK/$FX_NAME,
# named like profiling_lib.sh's fixtures ("opd_" + 6 letters + "_" + a per-run suffix), so
# that a test run elsewhere on the host at the same time, whose daemon selects its own
# fixtures by name, never takes ours.
build_fx() {
  local name="opd_${2:0:6}_$SUF"
  printf -v "FX_$2" '%s' "$name"
  cc -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -o "$WORK/$name" \
    "$SRC/tests/data/$1/$2.c" -lpthread || fail "cannot build fixture $1/$2"
}

# prof_lines PID: one line per sample of that process, from the JSON output:
# "<sample type>\t<function;function;... root first>\t<value>\t<batch>" where batch is the
# output line (one per reporter interval). Frames without a name show as "?".
prof_lines() {
  jq -r --arg pid "$1" '
    .dictionary as $d | .resourceProfiles[]
    | select(any(.resource.attributes[]; .key == "process.pid"
                 and (.value.intValue | tostring) == $pid))
    | .scopeProfiles[].profiles[]
    | $d.stringTable[.sampleType.typeStrindex // 0] as $t
    | .samples[]
    | ([ $d.stackTable[.stackIndex // 0].locationIndices[]? | $d.locationTable[.]
         | (.lines[0].functionIndex // 0) as $f
         | if $f == 0 then "?" else $d.stringTable[$d.functionTable[$f].nameStrindex // 0] end ]
       | reverse | join(";")) as $s
    | "\($t)\t\($s)\t\(.values[0] // 0)\t\(input_line_number)"
  ' "$WORK/profiles.jsonl"
}

# type_sum PID TYPE REGEX: sum of the values of TYPE samples of PID whose stack matches
# REGEX (awk ERE over the root-first stack).
type_sum() {
  prof_lines "$1" | awk -F'\t' -v t="$2" -v re="$3" '$1 == t && $2 ~ re { n += $3 } END { printf "%.0f\n", n + 0 }'
}

# last_window_sum PID TYPE REGEX: like type_sum, but only over the last batch that has
# any TYPE sample of PID (for snapshot profiles such as inuse_space).
last_window_sum() {
  prof_lines "$1" | awk -F'\t' -v t="$2" -v re="$3" '
    $1 == t { if ($4 != last) { last = $4; n = 0 } if ($2 ~ re) n += $3 }
    END { printf "%.0f\n", n + 0 }'
}

# max_window_sum PID TYPE REGEX: the largest per-batch sum of TYPE samples of PID whose
# stack matches REGEX (for snapshot profiles: the fixture's state while it holds its
# blocks, whatever stays live in libc after it lets them go).
max_window_sum() {
  prof_lines "$1" | awk -F'\t' -v t="$2" -v re="$3" '
    $1 == t && $2 ~ re { n[$4] += $3 }
    END { m = 0; for (b in n) if (n[b] > m) m = n[b]; printf "%.0f\n", m }'
}
