#!/usr/bin/env bash
# Soak (issue 18): otelprofd samples the whole host at 99 Hz for --minutes N (default 30)
# while process churn runs: short-lived C programs, programs that dlopen one of 16
# libraries, exec storms (a program re-executing itself 10 times), short-lived Go programs
# (when Debian's golang-go is installed) and short-lived Python processes. Every 10 s it
# records the daemon's RSS, the kernel memory of its BPF maps (the self metric
# otelprofd_profiling_bpf_memory_bytes), its open fds and its threads into a CSV. At the end:
#  - RSS + BPF map bytes grow less than 5 % over the last two thirds of the run (the median
#    of the window's last three samples against the median of its first three);
#  - fds and threads do not grow over that window (the largest of its last three samples
#    is at most the largest of its first three);
#  - the loss ledger closes: at shutdown, for every exporter, taken (entered) = delivered +
#    dropped + pending with unaccounted = 0; the drops by reason come from the last scrape.
# Needs root (BPF, system-wide perf events); exits 77 without it.
#
#   bench/soak.sh [--minutes N] [--hz N] [--workers N] [--out DIR]
# --workers: churn loops running side by side (default 3).
# Writes DIR/soak.csv (default out/soak), the daemon log and a summary; exit 0 when every
# check passes.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${OTELPROFD:-$ROOT/build/otelprofd}
MINUTES=30
HZ=99
WORKERS=3
OUT=$ROOT/out/soak
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --hz) HZ=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$MINUTES$HZ$WORKERS" in
  *[!0-9]*) echo "soak: --minutes, --hz and --workers take whole numbers" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (BPF and system-wide perf events)"; exit 77; }
[ -x "$BIN" ] || { echo "soak: $BIN not found; build otelprofd first" >&2; exit 1; }
command -v curl >/dev/null || { echo "soak: curl is needed" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/opd-soak.XXXXXX)
D=""
CHURN=()
cleanup() {
  [ ${#CHURN[@]} -gt 0 ] && kill "${CHURN[@]}" 2>/dev/null
  [ -n "$D" ] && kill -KILL "$D" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- fixtures ---------------------------------------------------------------------------
cat >"$TMP/burn.c" <<'C'
/* Burns about 3 ms of CPU and exits. */
#include <time.h>
int main(void)
{
    struct timespec a, b;
    volatile unsigned long x = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        for (int i = 0; i < 10000; i++)
            x += i;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 3000000L);
    return 0;
}
C
cat >"$TMP/lib.c" <<'C'
/* One of 16 libraries: the same work under a different name. */
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
unsigned long CAT(soak_work_, N)(unsigned long n)
{
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < n; i++)
        x += i * N;
    return x;
}
C
cat >"$TMP/dl.c" <<'C'
/* dlopens lib<argv[2]>.so from directory argv[1], runs its work, closes it. */
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    char path[4096], sym[64];
    if (argc < 3)
        return 2;
    snprintf(path, sizeof(path), "%s/libsoak%s.so", argv[1], argv[2]);
    snprintf(sym, sizeof(sym), "soak_work_%s", argv[2]);
    void *h = dlopen(path, RTLD_NOW);
    if (!h)
        return 1;
    unsigned long (*fn)(unsigned long) = (unsigned long (*)(unsigned long))dlsym(h, sym);
    if (fn)
        fn(3000000);
    dlclose(h);
    return 0;
}
C
cat >"$TMP/execchain.c" <<'C'
/* Re-executes itself argv[1] times (an exec storm in one process). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 0;
    volatile unsigned long x = 0;
    for (int i = 0; i < 200000; i++)
        x += i;
    if (n > 0) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", n - 1);
        execl("/proc/self/exe", argv[0], buf, (char *)NULL);
    }
    return 0;
}
C
cat >"$TMP/gochurn.go" <<'GO'
// Burns about 3 ms of CPU and exits.
package main

import "time"

func main() {
	end := time.Now().Add(3 * time.Millisecond)
	x := 0
	for time.Now().Before(end) {
		for i := 0; i < 10000; i++ {
			x += i
		}
	}
	_ = x
}
GO
cc -O1 -o "$TMP/soak_burn" "$TMP/burn.c" || exit 1
cc -O1 -o "$TMP/soak_dl" "$TMP/dl.c" -ldl || exit 1
cc -O1 -o "$TMP/soak_exec" "$TMP/execchain.c" || exit 1
for n in $(seq 0 15); do
  cc -O1 -shared -fPIC -DN="$n" -o "$TMP/libsoak$n.so" "$TMP/lib.c" || exit 1
done
GO_BIN=""
if command -v go >/dev/null; then
  (cd "$TMP" && GOCACHE="$TMP/gocache" GOPATH="$TMP/gopath" HOME="$TMP" CGO_ENABLED=0 GOFLAGS= \
     go build -o "$TMP/soak_go" gochurn.go) && GO_BIN=$TMP/soak_go
fi
[ -n "$GO_BIN" ] || echo "soak: no Go toolchain (golang-go): no Go processes in the churn"
PY=$(command -v python3 || true)
[ -n "$PY" ] || echo "soak: no python3: no Python processes in the churn"

# ---- daemon -----------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
       echo 19466)
cat >"$TMP/soak.yaml" <<YAML
receivers:
  profiling:
    samples_per_second: $HZ
    reporter_interval: 2s
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:$PORT
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [debug]
YAML
"$BIN" --config "$TMP/soak.yaml" >"$OUT/daemon.log" 2>&1 &
D=$!
for _ in $(seq 1 600); do
  grep -q "everything is ready" "$OUT/daemon.log" && break
  kill -0 "$D" 2>/dev/null || { echo "soak: otelprofd exited at start"; tail -20 "$OUT/daemon.log"; exit 1; }
  sleep 0.1
done
grep -q "everything is ready" "$OUT/daemon.log" || { echo "soak: otelprofd did not start"; exit 1; }
grep -E "memory: BPF maps|walking frame pointers|sampling " "$OUT/daemon.log" | sed 's/^/daemon: /'

# ---- churn --------------------------------------------------------------------------------
# One cycle: 10 C, 4 dlopen, 1 exec storm (11 images), 2 Go and 1 Python processes, then
# 0.2 s of rest. Worker W writes its counts to $TMP/churn.W as "processes execs".
churn() {
  local w=$1 procs=0 execs=0 i
  while :; do
    for i in 1 2 3 4 5 6 7 8 9 10; do "$TMP/soak_burn" & done
    for i in 1 2 3 4; do "$TMP/soak_dl" "$TMP" $((RANDOM % 16)) & done
    "$TMP/soak_exec" 10 &
    procs=$((procs + 15)); execs=$((execs + 25))
    if [ -n "$GO_BIN" ]; then "$GO_BIN" & "$GO_BIN" & procs=$((procs + 2)); execs=$((execs + 2)); fi
    if [ -n "$PY" ]; then
      "$PY" -c 'import time
t = time.time()
while time.time() - t < 0.005: pass' &
      procs=$((procs + 1)); execs=$((execs + 1))
    fi
    wait
    echo "$procs $execs" >"$TMP/churn.$w"
    sleep 0.2
  done
}
for w in $(seq 1 "$WORKERS"); do
  churn "$w" &
  CHURN+=($!)
done
# Processes and execs so far, over every worker.
churn_count() { cat "$TMP"/churn.* 2>/dev/null | awk '{ p += $1; e += $2 } END { print p + 0, e + 0 }'; }

# ---- samples every 10 s -----------------------------------------------------------------
CSV=$OUT/soak.csv
echo "seconds,rss_kib,bpf_map_bytes,fds,threads,samples_taken,processes,execs" >"$CSV"
metric() {
  awk -v m="$1" '$1 ~ "^" m "(_total)?({|$)" { n += $2 } END { printf "%.0f\n", n + 0 }' "$TMP/metrics.txt"
}
start=$(date +%s)
end=$((start + MINUTES * 60))
while :; do
  now=$(date +%s)
  kill -0 "$D" 2>/dev/null || { echo "soak: otelprofd died after $((now - start)) s"; tail -30 "$OUT/daemon.log"; exit 1; }
  # fds and threads before the scrape (the scrape's own connection is an fd).
  fds=$(ls "/proc/$D/fd" | wc -l)
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$D/status")
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$D/status")
  curl -sf "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics.txt" || : >"$TMP/metrics.txt"
  read -r procs execs < <(churn_count)
  echo "$((now - start)),$rss,$(metric otelprofd_profiling_bpf_memory_bytes),$fds,$threads,$(metric otelprofd_profiling_samples_taken),$procs,$execs" >>"$CSV"
  [ "$now" -ge "$end" ] && break
  sleep $(( (10 - (($(date +%s) - start) % 10)) ))
done
cp "$TMP/metrics.txt" "$OUT/metrics-last.txt"
kill "${CHURN[@]}" 2>/dev/null
wait "${CHURN[@]}" 2>/dev/null
CHURN=()
sleep 1
kill -INT "$D"
for _ in $(seq 1 300); do kill -0 "$D" 2>/dev/null || break; sleep 0.1; done
wait "$D"
rc=$?
D=""

# ---- checks -------------------------------------------------------------------------------
status=0
[ "$rc" -eq 0 ] || { echo "FAIL: otelprofd exited with $rc"; status=1; }
read -r procs execs < <(churn_count)
echo "churn: $procs processes, $execs execs in $MINUTES min ($WORKERS workers)" | tee "$OUT/churn.txt"
awk -F, -v out="$OUT/summary.txt" '
  NR == 1 { next }
  { t[++n] = $1; mem[n] = $2 * 1024 + $3; rss[n] = $2; bpf[n] = $3; fd[n] = $4; th[n] = $5 }
  function med3(a, i,   x, y, z) { x = a[i]; y = a[i + 1]; z = a[i + 2]
    return (x <= y ? (y <= z ? y : (x <= z ? z : x)) : (x <= z ? x : (y <= z ? z : y))) }
  function max3(a, i,   m) { m = a[i]; if (a[i + 1] > m) m = a[i + 1]; if (a[i + 2] > m) m = a[i + 2]; return m }
  END {
    first = int(n / 3) + 1                 # the window: the last two thirds of the samples
    if (n - first + 1 < 6) { print "FAIL: only " n " samples, too few for the checks"; exit 1 }
    m0 = med3(mem, first); m1 = med3(mem, n - 2)
    growth = 100 * (m1 - m0) / m0
    printf "window t=%d..%d s (%d samples): RSS+BPF %.1f -> %.1f MiB (%+.2f %%), RSS %.1f -> %.1f MiB, BPF maps %.1f -> %.1f MiB\n",
      t[first], t[n], n - first + 1, m0 / 1048576, m1 / 1048576, growth,
      med3(rss, first) / 1024, med3(rss, n - 2) / 1024, med3(bpf, first) / 1048576, med3(bpf, n - 2) / 1048576
    printf "fds %d -> %d, threads %d -> %d (largest of the first / last three samples)\n",
      max3(fd, first), max3(fd, n - 2), max3(th, first), max3(th, n - 2)
    bad = 0
    if (growth >= 5) { print "FAIL: RSS + BPF map bytes grew " growth " % (limit 5 %)"; bad = 1 }
    if (max3(fd, n - 2) > max3(fd, first)) { print "FAIL: fds grew"; bad = 1 }
    if (max3(th, n - 2) > max3(th, first)) { print "FAIL: threads grew"; bad = 1 }
    exit bad
  }' "$CSV" | tee -a "$OUT/churn.txt" || status=1
mv "$OUT/churn.txt" "$OUT/summary.txt"

echo "loss ledger at shutdown:"
grep "loss accounting" "$OUT/daemon.log" | sed 's/.*loss accounting /  /' | tee -a "$OUT/summary.txt"
grep -q "loss accounting" "$OUT/daemon.log" || { echo "FAIL: no loss accounting at shutdown"; status=1; }
while read -r line; do
  entered=$(sed -n 's/.*entered=\([0-9]*\).*/\1/p' <<<"$line")
  delivered=$(sed -n 's/.*delivered=\([0-9]*\).*/\1/p' <<<"$line")
  dropped=$(sed -n 's/.*dropped=\([0-9]*\).*/\1/p' <<<"$line")
  pending=$(sed -n 's/.*pending=\([0-9]*\).*/\1/p' <<<"$line")
  un=$(sed -n 's/.*unaccounted=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$line")
  if [ "$un" != 0 ] || [ "$entered" -ne $((delivered + dropped + pending)) ]; then
    echo "FAIL: the ledger does not close: $line"
    status=1
  fi
done < <(grep "loss accounting" "$OUT/daemon.log")
echo "drops by reason (last scrape, exporter debug):" | tee -a "$OUT/summary.txt"
grep -E '^otelprofd_loss_samples_dropped(_total)?\{' "$OUT/metrics-last.txt" |
  sed 's/^/  /' | tee -a "$OUT/summary.txt"
if [ "$status" -eq 0 ]; then
  echo "soak: ok ($MINUTES min at $HZ Hz; CSV $CSV)" | tee -a "$OUT/summary.txt"
else
  echo "soak: FAILED (CSV $CSV, log $OUT/daemon.log)" | tee -a "$OUT/summary.txt"
fi
exit "$status"
