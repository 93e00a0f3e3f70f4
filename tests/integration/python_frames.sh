#!/usr/bin/env bash
# Must show (CPython frames in mixed stacks):
#  1. tests/data/python/chain.py run by Debian's python3: at least 90% of its samples show
#     inner -> middle -> outer innermost first as cpython frames with chain.py and the
#     marked lines, and the interpreter's native eval frame (_PyEval_EvalFrameDefault)
#     root-side of them;
#     the same chain (90%, file and line) under every other CPython found on the machine
#     (pyenv builds of 3.10-3.13 with a shared libpython), one process each;
#  2. native_call.py calling a native library through ctypes: a stack with the library's
#     opd_py_burn as a native frame leaf-side of the Python frames call_native, via_python.
# Runs otelprofd with the profiling receiver and the file exporter (json and folded).
set -uo pipefail
. "$(dirname "$0")/profiling_lib.sh"
require_privileges
PY=${OPD_TEST_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || skip "no $PY"
FIXDIR=$WORK/py
mkdir -p "$FIXDIR"
cp "$SRC/tests/data/python/chain.py" "$SRC/tests/data/python/native_call.py" "$FIXDIR/"
cc -O1 -g -fno-omit-frame-pointer -shared -fPIC -o "$FIXDIR/libopdburn.so" \
  "$SRC/tests/data/python/burn.c" || fail "cannot build the native library"
mark() { grep -n "@$2\$" "$FIXDIR/$1" | cut -d: -f1; }

# stacks PID: one line per sample of that process, "count frame;frame;..." leaf first,
# each frame "type|function|file|line".
stacks() {
  jq -r -s --arg pid "$1" '
    .[] | .dictionary as $d | .resourceProfiles[]?
    | select(any(.resource.attributes[]; .key == "process.pid"
                 and (.value.intValue | tostring) == $pid))
    | .scopeProfiles[]?.profiles[]? | .samples[]?
    | ((.values[0] // "0") | tonumber) as $n
    | [ $d.stackTable[.stackIndex // 0].locationIndices[]? | $d.locationTable[.] as $l
        | ($l.lines[0]? // {}) as $ln
        | ([ $l.attributeIndices[]? | $d.attributeTable[.]
             | select($d.stringTable[.keyStrindex // 0] == "profile.frame.type")
             | .value.stringValue ][0] // "") as $t
        | $d.functionTable[$ln.functionIndex // 0] as $f
        | "\($t)|\($d.stringTable[$f.nameStrindex // 0] // "")|\($d.stringTable[$f.filenameStrindex // 0] // "")|\(($ln.line // 0) | tonumber)" ]
    | "\($n) \(join(";"))"' "$WORK/profiles.jsonl"
}

HZ=99
start_daemon $HZ 1s
# Each fixture stays alive LINGER seconds after burning: code objects are read from the
# live process at the drain (every second here), and the host may be busy.
LINGER=3
"$PY" "$FIXDIR/chain.py" 3 $LINGER >/dev/null &
CHAIN=$!
"$PY" "$FIXDIR/native_call.py" "$FIXDIR/libopdburn.so" 3 $LINGER &
NATIVE=$!
wait $CHAIN || fail "chain.py failed"
wait $NATIVE || fail "native_call.py failed"
# Then each other interpreter alone, so that on a busy host its samples are not mostly
# interpreter start-up.
declare -A OTHER=()
for other in /root/.pyenv/versions/3.1[0-9].*/bin/python3.1[0-9]; do
  [ -x "$other" ] || continue
  "$other" "$FIXDIR/chain.py" 3 1 >/dev/null &
  OTHER[$!]=$other
  wait $! || fail "chain.py under $other failed"
done
sleep 1.5
stop_daemon

# Frames are "type|function|file|line"; in awk regexes a literal | is [|].
F=$FIXDIR/chain.py
stacks $CHAIN >"$WORK/chain.txt"
fr() { printf '%s[|]%s[|]%s[|]%s' "$1" "$2" "$3" "$4"; }
# Native frames may sit between them: 3.10 runs each Python frame in its own eval call.
nat="(native[|][^;]*;)*"
re="$(fr cpython inner "$F" "$(mark chain.py inner)");$nat$(fr cpython middle "$F" "$(mark chain.py middle)");$nat$(fr cpython outer "$F" "$(mark chain.py outer)")(;|\$)"
eval_re="native[|]_PyEval_EvalFrameDefault[|]"
sum() { awk -v re="$1" '$0 ~ re { n += $1 } END { print n + 0 }' "$2"; }
total=$(awk '{ n += $1 } END { print n + 0 }' "$WORK/chain.txt")
chain=$(sum "$re" "$WORK/chain.txt")
with_eval=$(awk -v a="$re" -v b="$eval_re" '$0 ~ a && $0 ~ b { n += $1 } END { print n + 0 }' \
  "$WORK/chain.txt")
under=$(sum "${re%'(;|$)'};(.*;)?$eval_re" "$WORK/chain.txt")
echo "chain.py: $total samples, $chain with inner;middle;outer at the marked lines;" \
  "$with_eval of these reach the eval loop natively, $under with it under the chain"
[ "$total" -gt 0 ] || fail "no samples of chain.py (pid $CHAIN)"
awk -v c="$chain" -v t="$total" 'BEGIN { exit !(c >= 0.9 * t) }' ||
  { head -5 "$WORK/chain.txt"; fail "only $chain of $total samples show the Python chain"; }
# The chain must sit on (leaf side of) the eval loop wherever the native walk reached it
# (startup samples without the chain do not count).
[ "$with_eval" -gt 0 ] ||
  echo "note: no native walk reached _PyEval_EvalFrameDefault (needs the .eh_frame unwinder)"
awk -v c="$under" -v t="$with_eval" 'BEGIN { exit !(c >= 0.9 * t) }' ||
  { grep _PyEval "$WORK/chain.txt" | head -5; fail "only $under of $with_eval samples with the eval loop have the chain over it"; }

for p in "${!OTHER[@]}"; do
  stacks "$p" >"$WORK/chain.$p.txt"
  t=$(awk '{ n += $1 } END { print n + 0 }' "$WORK/chain.$p.txt")
  c=$(sum "$re" "$WORK/chain.$p.txt")
  echo "chain.py under ${OTHER[$p]}: $t samples, $c with the chain"
  [ "$t" -gt 0 ] || fail "no samples of chain.py under ${OTHER[$p]}"
  awk -v c="$c" -v t="$t" 'BEGIN { exit !(c >= 0.9 * t) }' ||
    { head -3 "$WORK/chain.$p.txt"; fail "only $c of $t samples under ${OTHER[$p]} show the chain"; }
done

F=$FIXDIR/native_call.py
stacks $NATIVE >"$WORK/native.txt"
re="native[|]opd_py_burn[|][^;]*;(.*;)?$(fr cpython call_native "$F" "$(mark native_call.py call_native)");$(fr cpython via_python "$F" "$(mark native_call.py via_python)")(;|\$)"
total=$(awk '{ n += $1 } END { print n + 0 }' "$WORK/native.txt")
mixed=$(sum "$re" "$WORK/native.txt")
echo "native_call.py: $total samples, $mixed with opd_py_burn over call_native;via_python"
[ "$mixed" -gt 0 ] || { head -5 "$WORK/native.txt"; fail "no stack shows the native frame over the Python frames"; }

# Folded output names the Python functions too.
grep -q ';outer;middle;inner' "$WORK/profiles.folded" || fail "folded output lacks outer;middle;inner"
echo PASS
