#!/bin/sh
# PID 1 of the matrix's guest (busybox only: sh, awk, grep). Runs otelprofd three times:
# with the default unwinding while the fixtures run, then briefly with frame pointers and
# with tables at max_frames 1024, and prints on the console what it saw;
# tests/kernels/judge.sh on the host decides.
# Console protocol (one line each):
#   opd-guest: start METHOD               the daemon is being started
#   opd-guest: ready|exited|timeout METHOD SECONDS   (guest uptime from start)
#   opd-guest: exit METHOD RC
#   daemon METHOD| <log line>             the daemon's log
#   folded METHOD| <line>                 its folded output
#   opd-guest: done                       then the guest powers off
# /etc/opd-guest.env (written by initramfs.sh) sets OPD_BIN, OPD_CHAIN, OPD_QSORT,
# OPD_FIXTURE_SECONDS, OPD_READY_TIMEOUT.

/usr/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# /tmp stays the initramfs's own (writable) directory: a tmpfs over it would hide a build
# that lives below /tmp.
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# The receiver reads cgroup v2 paths of the processes it samples.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Locked memory for BPF maps on kernels before 5.11 (busybox's ulimit has -l).
# shellcheck disable=SC3045
ulimit -l unlimited
ip link set lo up
hostname opd-guest
. /etc/opd-guest.env

say() { echo "opd-guest: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }

# config METHOD MAX_FRAMES: the receiver at its defaults but for the unwinding method and
# the frame budget, with the off-CPU and allocation programs on so that every BPF program
# is loaded.
config() {
  cat <<YAML
receivers:
  profiling:
    samples_per_second: 99
    reporter_interval: 1s
    max_frames: $2
    # The stacks maps at 1024 frames (8 KiB an entry) do not fit the default bound.
    bpf_memory_limit_mib: $(( $2 > 512 ? 512 : 256 ))
    off_cpu_threshold: 0.1
    memory:
      enabled: true
    unwinding:
      method: $1
    include:
      comm: ["^(${OPD_CHAIN##*/}|${OPD_QSORT##*/})\$"]
exporters:
  file/folded:
    path: /tmp/profiles.folded
    format: folded
    flush_interval: 0s
service:
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    profiles:
      receivers: [profiling]
      exporters: [file/folded]
YAML
}

# run LABEL FIXTURES METHOD MAX_FRAMES: starts the daemon, waits for it to be ready, runs
# the fixtures when FIXTURES is 1, stops it with SIGINT and prints its log and output
# under LABEL.
run() {
  method=$1
  config "$3" "$4" >/tmp/config.yaml
  rm -f /tmp/profiles.folded
  say start "$method"
  t0=$(now)
  "$OPD_BIN" --config /tmp/config.yaml >/tmp/daemon.log 2>&1 &
  pid=$!
  state=timeout
  while awk -v a="$t0" -v b="$(now)" -v t="$OPD_READY_TIMEOUT" 'BEGIN { exit !(b - a < t) }'; do
    if grep -q "everything is ready" /tmp/daemon.log; then
      state=ready
      break
    fi
    kill -0 "$pid" 2>/dev/null || { state=exited; break; }
    # Polling takes CPU from the daemon on the one vCPU: not too often.
    sleep 0.25
  done
  say "$state" "$method" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
  if [ "$state" = ready ] && [ "$2" = 1 ]; then
    # One after the other: on the one vCPU each has the whole CPU, and the watcher
    # builds one's tables at a time (samples taken before a process's tables are
    # published fall back to frame pointers, and are incomplete).
    "$OPD_CHAIN" "$OPD_FIXTURE_SECONDS" >/dev/null
    "$OPD_QSORT" "$OPD_FIXTURE_SECONDS" >/dev/null
    # Two reporter intervals, so the last samples are drained and written.
    sleep 2
    # How soon each new process's unwind tables were published (from its first sample).
    wget -q -O - http://127.0.0.1:8888/metrics 2>/dev/null |
      grep -E '^otelprofd_unwind_(tables_published|publish_latency)' | sed "s/^/metrics $method| /"
  fi
  kill -INT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 120 ]; do
    sleep 0.25
    i=$((i + 1))
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid"
  say exit "$method" $?
  # Every line of the daemon's own, but only the start of a verifier log that libbpf
  # passes on (it can be thousands of lines, slow over the emulated serial port).
  awk -v m="$method" '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/ || n++ < 200 {
    print "daemon " m "| " $0 }' /tmp/daemon.log
  [ ! -f /tmp/profiles.folded ] || sed "s/^/folded $method| /" /tmp/profiles.folded
}

say kernel "$(uname -r)"
run auto 1 auto 127
run frame_pointer 0 frame_pointer 127
run frames1024 0 auto 1024
say "done"
poweroff -f
