#!/bin/bash
# Container case of the symbolizer: a process runs from a private mount namespace where a
# different binary is bind-mounted over the path that, on the host, holds another program.
# Symbols must come from the process's own file (/proc/PID/map_files, /proc/PID/root), never
# from the host file of the same name. Needs root (unshare -m, mount --bind).
set -euo pipefail
TOOL=${1:?usage: profiling_symbolize_ns.sh SYMTOOL}
FIX=${OPD_BINARY_DIR:?}/tests/profiling_sym

if [ "$(id -u)" != 0 ]; then
    echo "skip: needs root to create a mount namespace (unshare -m) and bind-mount a binary"
    exit 77
fi
if ! command -v unshare >/dev/null; then
    echo "skip: unshare (util-linux) not installed"
    exit 77
fi
if ! unshare -m true 2>/dev/null; then
    echo "skip: unshare -m is not permitted here (no CAP_SYS_ADMIN in this namespace)"
    exit 77
fi

work=$(mktemp -d /tmp/opd_symns.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cp "$FIX/opd_symfix_probe_beta" "$work/target"   # what the host sees at the path
cp "$FIX/opd_symfix_probe_alpha" "$work/alpha"   # what the process runs at the same path
unshare -m --propagation private sh -c \
    "mount --bind '$work/alpha' '$work/target' && exec '$work/target'" >"$work/out" &
for _ in $(seq 100); do
    [ -s "$work/out" ] && break
    sleep 0.05
done
read -r pid addr <"$work/out"
echo "probe pid $pid, function at 0x$addr, runs $work/target (alpha inside, beta on the host)"

# The trap we must avoid: the host file at that path names another function.
if ! nm "$work/target" | grep -q ' opd_probe_beta$'; then
    echo "FAIL: host file is not the beta probe"
    exit 1
fi
inside=$(readlink "/proc/$pid/exe")
echo "process exe: $inside"

fail=0
# 1) default procfs: map_files first.
line=$("$TOOL" "$pid" "$addr" | head -1)
echo "map_files: $line"
case "$line" in opd_probe_alpha$'\t'*) ;; *) echo "FAIL: expected opd_probe_alpha"; fail=1 ;; esac

# 2) a procfs view without map_files (as without CAP_CHECKPOINT_RESTORE): /proc/PID/root.
fake="$work/procfs"
mkdir -p "$fake/$pid"
for f in stat status maps cgroup comm environ exe root task; do
    ln -s "/proc/$pid/$f" "$fake/$pid/$f"
done
line=$("$TOOL" --procfs "$fake" "$pid" "$addr" | head -1)
echo "root: $line"
case "$line" in opd_probe_alpha$'\t'*) ;; *) echo "FAIL: expected opd_probe_alpha"; fail=1 ;; esac

# 3) neither map_files nor root (the process's namespace is out of reach): the host path is
#    another inode, so the frame must stay unnamed rather than wrongly named.
rm "$fake/$pid/root"
line=$("$TOOL" --procfs "$fake" "$pid" "$addr" | head -1 || true)
echo "no view: $line"
case "$line" in \?$'\t'*) ;; *) echo "FAIL: expected an unnamed frame"; fail=1 ;; esac

# 4) JIT frames of a process in its own pid and mount namespaces: its perf map is
#    /tmp/perf-<pid in its namespace>.map on its own /tmp, invisible from the host.
kill -9 "$pid" 2>/dev/null || true
wait 2>/dev/null || true
pid=""
if unshare -m -p -f --mount-proc true 2>/dev/null; then
    # The fixture is copied onto the namespace's own /tmp (the build tree may be under /tmp
    # and hidden by the mount), so its binary too exists only inside the namespace.
    unshare -m -p -f --mount-proc --propagation private sh -c \
        "exec 3<'$FIX/opd_symfix_jit' && mount -t tmpfs none /tmp &&
         cat <&3 >/tmp/opd_symfix_jit && exec 3<&- && chmod +x /tmp/opd_symfix_jit &&
         exec /tmp/opd_symfix_jit" >"$work/jit.out" &
    for _ in $(seq 100); do
        [ -s "$work/jit.out" ] && break
        sleep 0.05
    done
    nspid="" jaddr=""
    read -r nspid jaddr <"$work/jit.out" || true
    # The host pid of the fixture: the process whose NSpid ends with nspid.
    for st in /proc/[0-9]*/status; do
        if grep -q '^Name:[[:space:]]*opd_symfix_jit$' "$st" 2>/dev/null &&
            grep -Eq "^NSpid:.*[[:space:]]$nspid\$" "$st" 2>/dev/null; then
            pid=$(basename "$(dirname "$st")")
        fi
    done
    echo "jit pid $pid (namespace pid $nspid), code at 0x$jaddr"
    if [ -z "$pid" ] || [ "$pid" = "$nspid" ]; then
        echo "FAIL: cannot find the jit fixture's host pid"
        fail=1
    elif [ -e "/tmp/perf-$nspid.map" ] || [ -e "/tmp/perf-$pid.map" ]; then
        echo "FAIL: the perf map leaked to the host /tmp"
        fail=1
    else
        line=$("$TOOL" "$pid" "$jaddr" | head -1)
        echo "jit: $line"
        case "$line" in JIT:opd_jit_spin$'\t'*) ;; *) echo "FAIL: expected JIT:opd_jit_spin"; fail=1 ;; esac
    fi
else
    echo "note: pid namespaces not permitted here; JIT-in-namespace case not run"
fi

[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
