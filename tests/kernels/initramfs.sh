#!/usr/bin/env bash
# Builds the matrix's guest: a busybox-static initramfs holding the current build of
# otelprofd, the unwind fixtures (built here, on the host) and every library they load, at
# the same absolute paths as on the host, with tests/kernels/guest-init.sh as /init.
#
#   tests/kernels/initramfs.sh OUTDIR     writes OUTDIR/initramfs.cpio (and OUTDIR/root/)
#
# OTELPROFD (default build/otelprofd), OPD_FIXTURE_SECONDS (default 12) and
# OPD_READY_TIMEOUT (seconds the guest waits for the daemon, default 200) are passed on.
# Twelve seconds a fixture: under TCG a new process's tables are published about half a
# second after its first sample (the watcher's work is emulated too), and the samples of
# that start (ld.so, frame-pointer walks before the tables) must stay well under the 5 %
# and 10 % the checks allow.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
bin=$(realpath "${OTELPROFD:-$src/build/otelprofd}")
busybox=/usr/bin/busybox
root=$out/root

[ -x "$bin" ] || { echo "initramfs: no otelprofd at $bin (build it first)" >&2; exit 1; }
# Debian's busybox package is dynamic; the guest has no libc of its own for it.
! ldd "$busybox" >/dev/null 2>&1 ||
  { echo "initramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

# The fixtures of tests/integration/unwind_daemon.sh, built the same way: only CFI can
# recover their callers. Their names are their process names in the folded output.
mkdir -p "$out/fixtures"
chain=$out/fixtures/uwchain
qsort=$out/fixtures/uwqsort
cc -O2 -fomit-frame-pointer -g -o "$chain" "$src/tests/data/unwind/chain.c"
cc -O2 -fomit-frame-pointer -g -o "$qsort" "$src/tests/data/unwind/qsort_cb.c"

rm -rf "$root"
mkdir -p "$root"/{proc,sys,dev,tmp,run,etc,root,usr/bin,usr/sbin}
# The host's merged-/usr links (/lib -> usr/lib, ...), so that every path ldd names and
# every path a process maps resolves in the guest as on the host.
for d in bin sbin lib lib32 lib64; do
  [ ! -L "/$d" ] || ln -s "$(readlink "/$d")" "$root/$d"
done

# put FILE: FILE at its own path in the guest (symlinks followed: one regular file at the
# resolved directory, under the name asked for).
put() {
  local dir
  dir=$(realpath "$(dirname "$1")")
  mkdir -p "$root$dir"
  cp -L "$1" "$root$dir/"
}

# put_with_libs FILE: FILE, every library ldd names for it, and the detached debug file of
# each when the host has one (libc6-dbg: the symbolizer then names libc's internal frames,
# msort_with_tmp and the like, as it does on the host).
put_with_libs() {
  local f id
  put "$1"
  for f in "$1" $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    put "$f"
    id=$(readelf -n "$f" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
    [ -z "$id" ] || [ ! -f "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ] ||
      put "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
  done
}

cp "$busybox" "$root/usr/bin/busybox"
ln -s busybox "$root/usr/bin/sh"
[ -e "$root/bin/sh" ] || { mkdir -p "$root/bin" && ln -s /usr/bin/busybox "$root/bin/sh"; }
put_with_libs "$bin"
put_with_libs "$chain"
put_with_libs "$qsort"
install -m 755 "$src/tests/kernels/guest-init.sh" "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
cat >"$root/etc/opd-guest.env" <<EOF
OPD_BIN=$bin
OPD_CHAIN=$chain
OPD_QSORT=$qsort
OPD_FIXTURE_SECONDS=${OPD_FIXTURE_SECONDS:-12}
OPD_READY_TIMEOUT=${OPD_READY_TIMEOUT:-200}
EOF

# Uncompressed: the kernel unpacks it at once, where decompressing costs seconds under TCG.
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out/initramfs.cpio"
echo "initramfs: $out/initramfs.cpio ($(du -h "$out/initramfs.cpio" | cut -f1))" >&2
