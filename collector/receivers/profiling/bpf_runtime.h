/* The sampler program's kernel run time as self metrics, from the kernel's BPF statistics
 * (run_time_ns / run_cnt of bpf_prog_info; the stages it tail-calls count in its time).
 * The kernel counts them only while kernel.bpf_stats_enabled is 1; otherwise the metrics
 * stay at 0. Also the CPython walk's own counters (opd_py_stats), which are always
 * counted, and what the kernel accepted at load: each program's verifier cost and whether
 * it is loaded, the active user-stack unwinder and the features the kernel refused. */
#ifndef OPD_PROFILING_BPF_RUNTIME_H
#define OPD_PROFILING_BPF_RUNTIME_H

struct opd_sampler;
struct opd_telemetry;
struct opd_bpf_runtime;

/* Registers otelprofd_profiling_bpf_run_time_ns, _bpf_run_count and
 * _bpf_run_time_per_sample_ns (mean over the last update interval) with labels
 * receiver="<id>",program="opd_sample"; otelprofd_profiling_python_walks,
 * _walks_no_thread_state, _walk_read_failures, _frames_recorded, _walks_truncated and
 * _walk_time_ns with receiver="<id>"; and, set once, otelprofd_profiling_bpf_program_loaded
 * and _bpf_verified_instructions per program, otelprofd_profiling_unwinder_active per
 * method (eh_frame, frame_pointer) and otelprofd_profiling_degraded per feature. s and tel
 * are borrowed and must outlive it. NULL with errno EINVAL (no registry) or ENOMEM. */
struct opd_bpf_runtime *opd_bpf_runtime_create(struct opd_sampler *s, struct opd_telemetry *tel,
                                               const char *id);

/* Reads the program's statistics and sets the metrics. */
void opd_bpf_runtime_update(struct opd_bpf_runtime *rt);

/* Frees it. NULL is a no-op. */
void opd_bpf_runtime_destroy(struct opd_bpf_runtime *rt);

#endif
