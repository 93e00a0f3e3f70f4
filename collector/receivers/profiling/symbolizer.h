/* On-host symbolization for the profiling receiver: user pcs of a process and kernel ips
 * become frames with a function name, mapping, build ids and (optionally) file:line.
 *
 * Build: part of the static library `opd_profiling_symbolize` defined in
 * collector/receivers/profiling/symbolize.cmake; the receiver's CMakeLists.txt does
 * `include(${CMAKE_CURRENT_SOURCE_DIR}/symbolize.cmake)` and links `opd_profiling_symbolize`.
 *
 * Sources, in order: for a user pc, the process's executable mapping (opd_proctab) gives the
 * file; the file is opened through /proc/PID/map_files/<range> or /proc/PID/root/<path>
 * (never the host path of the same name), its symbols come from .symtab, then .dynsym, then
 * a separate debug file (<debug_dir>/.build-id/xx/rest.debug, then .gnu_debuglink next to
 * the file, in <dir>/.debug/ and in <debug_dir>/<dir>/), and for Go binaries from .gopclntab.
 * Anonymous executable memory and non-ELF file mappings (memfd JIT code) are looked up in
 * /tmp/perf-<nspid>.map inside the process's root; [vdso] from the daemon's own vdso image.
 * Kernel ips come from <procfs_root>/kallsyms (modules included), loaded once. A pc in a
 * page the kernel provides ([uprobes]: uretprobe trampolines; [vsyscall]; [vdso] when its
 * image cannot be read) is named after the page.
 * C++ and Rust names are demangled (libiberty). With dwarf_lines, file:line and inlined
 * frames come from DWARF (the binary or its debug file), and for Go from the pclntab.
 *
 * Caches: symbol tables are keyed by GNU build id (else by device and inode) so processes
 * running the same binary share one table; they are bounded by cache_size bytes with LRU
 * eviction and count hits, misses and evictions in the telemetry registry. A cached file's
 * size and mtime are rechecked once per interval (an inode rewritten in place or reused is
 * reloaded); a file that could not be read is retried after the next flush.
 *
 * Lifetime: every string in a returned frame (function, file, mapping path, build ids) stays
 * valid until the next opd_symbolizer_flush() (or destroy), even if its table is evicted
 * meanwhile: evicted tables are freed by the flush. Intern the strings into the batch, then
 * flush once per reporter interval. Not thread safe: one thread uses a symbolizer (and it
 * calls into its opd_proctab, so the same lock must cover both).
 *
 * Memory: one file's table may take at most half of cache_size (at least 1 MiB); perf maps
 * and kallsyms are streamed, never held whole; kallsyms (~6 MB for 120k text symbols) is
 * outside the budget. */
#ifndef OPD_PROFILING_SYMBOLIZER_H
#define OPD_PROFILING_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_telemetry;
struct opd_proctab;

enum opd_frame_type {
    OPD_FRAME_NATIVE = 0, /* ELF code: C, C++, Rust ... */
    OPD_FRAME_KERNEL,
    OPD_FRAME_GO,  /* named from .gopclntab */
    OPD_FRAME_JIT, /* named from a perf-PID.map */
};

/* The mapping a user frame fell in. All strings "" when unknown, never NULL. */
struct opd_sym_mapping {
    uint64_t memory_start; /* first address of the mapping */
    uint64_t memory_limit; /* one past the last */
    uint64_t file_offset;  /* file offset of memory_start */
    uint64_t dev, inode;   /* from /proc/PID/maps */
    const char *path;      /* as in /proc/PID/maps; "[kernel.kallsyms]" or "[module]" for kernel */
    const char *build_id_gnu; /* lowercase hex of NT_GNU_BUILD_ID */
    const char *build_id_go;  /* the Go build id string (.note.go.buildid) */
    /* The file id of every ELF file read (process.executable.build_id.htlhash, see
     * opd_elf_file_id), with or without the other two. */
    const char *build_id_htlhash;
};

struct opd_sym_inline {
    const char *function;
    const char *file; /* NULL when unknown */
    int64_t line;
};

struct opd_sym_frame {
    enum opd_frame_type type;
    /* profile.frame.type value: "native", "kernel", "go"; for perf-map frames the runtime
     * when the executable tells it ("v8js" for node, "jvm" for java, "cpython" for python),
     * else "native". Static string. */
    const char *type_name;
    uint64_t pc;             /* as passed in */
    uint64_t address;        /* user: ELF virtual address of pc (pc - load bias), or pc when the
                                file could not be read; kernel: the ip */
    uint64_t file_offset;    /* user: offset of pc in the mapped file; kernel: 0 */
    const char *function;    /* demangled name, NULL when not symbolized */
    const char *system_name; /* symbol name as stored (mangled), NULL when not symbolized */
    uint64_t symbol_offset;  /* address - start of the symbol */
    const char *file;        /* source file (DWARF lines or Go pclntab), NULL when unknown */
    int64_t line;            /* 0 when unknown */
    /* Functions inlined at pc (DWARF, with dwarf_lines), innermost first: OTLP's
     * Location.lines are inlined[0..n_inlined) followed by {function, file, line}. When there
     * are inlined frames, inlined[0] carries pc's own file:line and file/line above is the
     * call site in `function`. The array is valid until the next opd_symbolizer_* call, its
     * strings until the next flush. */
    const struct opd_sym_inline *inlined;
    size_t n_inlined;
    bool has_mapping; /* false for kernel frames and pcs outside every mapping */
    struct opd_sym_mapping mapping;
};

struct opd_symbolizer_config {
    const char *procfs_root;       /* NULL means "/proc" */
    const char *const *debug_dirs; /* NULL means { "/usr/lib/debug" } */
    size_t n_debug_dirs;
    size_t cache_size;         /* bytes for symbol tables; 0 means 64 MiB */
    bool dwarf_lines;          /* fill file/line from DWARF .debug_line (libdw) */
    const char *kallsyms_path; /* NULL means "<procfs_root>/kallsyms" */
    /* Mappings and their build ids only, no names (symbolization left to the backend):
     * no symbol tables, debug files, perf maps or kallsyms are read. */
    bool ids_only;
};

/* Flag for opd_symbolizer_user/kernel: pc is a return address (every frame but the leaf),
 * so the lookup uses pc - 1 to land inside the call instruction. */
#define OPD_SYM_RETURN_ADDRESS 0x1u

struct opd_symbolizer;

/* Creates a symbolizer reading processes through tab (borrowed: tab must outlive it).
 * cfg and its strings are copied. tel may be NULL; otherwise the counters
 * otelprofd_profiling_symbolizer_cache_{hits,misses,evictions} and the gauge
 * otelprofd_profiling_symbolizer_cache_bytes are registered with label receiver="<who>".
 * Returns NULL with errno (ENOMEM, EINVAL). */
struct opd_symbolizer *opd_symbolizer_create(const struct opd_symbolizer_config *cfg,
                                             struct opd_proctab *tab, struct opd_telemetry *tel,
                                             const char *who);

/* Frees the symbolizer and all its caches. NULL is a no-op. */
void opd_symbolizer_destroy(struct opd_symbolizer *s);

/* Symbolizes user address pc of process pid into *out (always fully written).
 * Returns 0 when a function name was found; -ENOENT when it was not but the frame still
 * carries what is known (mapping, file offset, build ids: a backend can finish the job);
 * -ESRCH when the process is unknown and gone (out has only pc/address); -EINVAL on bad
 * arguments; -ENOMEM. A hostile or vanished file is -ENOENT, never a crash. */
int opd_symbolizer_user(struct opd_symbolizer *s, int32_t pid, uint64_t pc, unsigned flags,
                        uint64_t now, struct opd_sym_frame *out);

/* Loads (or refreshes in the LRU) the symbols of every file pid maps executable, while the
 * process is alive: call it when a process is first seen, so the frames of one that exits
 * before its samples are drained can still be named (its files may be unreachable then,
 * e.g. inside a container that is gone). Returns the number of files newly loaded, -ESRCH
 * when the process is unknown and gone, -EINVAL, -ENOMEM. */
int opd_symbolizer_prefetch(struct opd_symbolizer *s, int32_t pid, uint64_t now);

/* Symbolizes kernel ip into *out (type OPD_FRAME_KERNEL, mapping.path the module name in
 * brackets, "[kernel.kallsyms]" for the core kernel). kallsyms is loaded on first use.
 * Returns 0, -ENOENT when no symbol covers ip (or kallsyms is unreadable or all zero
 * because of kptr_restrict), -EINVAL, -ENOMEM. */
int opd_symbolizer_kernel(struct opd_symbolizer *s, uint64_t ip, unsigned flags,
                          struct opd_sym_frame *out);

/* Rereads kallsyms (after module load/unload). Returns 0 or -errno; the old table is kept
 * on failure. */
int opd_symbolizer_reload_kernel(struct opd_symbolizer *s);

/* Ends an interval: frees what was evicted since the last flush and the per-interval
 * lookaside data. Invalidates every string returned before. */
void opd_symbolizer_flush(struct opd_symbolizer *s);

/* Bytes currently accounted to the symbol caches. */
size_t opd_symbolizer_cache_bytes(const struct opd_symbolizer *s);

#endif
