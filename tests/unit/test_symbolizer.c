/* Symbolizer against real files: this test binary, a fixture shared library (plain, stripped
 * with its debug file in a build-id directory, stripped with .gnu_debuglink), a perf map of
 * this process, a stripped Go program, kallsyms (a fixture file and the real one), the cache
 * budget, vanished processes and allocation failures. Fixtures are built by CMake into
 * $OPD_BINARY_DIR/tests/profiling_sym. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/symbolizer.h"
#include "collector/telemetry.h"

typedef uintptr_t (*addr_fn)(void);

static char fixdir[PATH_MAX];
static char srcdir[PATH_MAX];

struct env {
    struct opd_telemetry *tel;
    struct opd_proctab *tab;
    struct opd_symbolizer *sym;
};

static void env_open(struct env *e, const char *const *dirs, size_t n_dirs, size_t cache,
                     bool dwarf)
{
    struct opd_proctab_config pc = {.grace_ns = 1000};
    struct opd_symbolizer_config sc = {
        .debug_dirs = dirs, .n_debug_dirs = n_dirs, .cache_size = cache, .dwarf_lines = dwarf};

    e->tel = opd_telemetry_create();
    assert_non_null(e->tel);
    e->tab = opd_proctab_create(&pc, e->tel, "receiver/profiling");
    assert_non_null(e->tab);
    e->sym = opd_symbolizer_create(&sc, e->tab, e->tel, "receiver/profiling");
    assert_non_null(e->sym);
}

static void env_close(struct env *e)
{
    opd_symbolizer_destroy(e->sym);
    opd_proctab_destroy(e->tab);
    opd_telemetry_destroy(e->tel);
}

static int64_t metric(struct env *e, const char *name)
{
    return opd_metric_get(opd_telemetry_find(e->tel, name, "receiver=\"profiling\""));
}

static const char *const no_dirs[] = {"/nonexistent/debug"};

static void *open_fixture(const char *rel)
{
    char path[PATH_MAX * 2];
    void *h;

    snprintf(path, sizeof(path), "%s/%s", fixdir, rel);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail_msg("dlopen %s: %s", path, dlerror());
    return h;
}

static uintptr_t fixture_addr(void *h, const char *fn)
{
    addr_fn f = (addr_fn)(uintptr_t)dlsym(h, fn);

    assert_non_null(f);
    return f();
}

/* Line of the first line in the fixture source that contains needle. */
static int source_line(const char *file, const char *needle)
{
    char path[PATH_MAX * 2], line[512];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/tests/data/profiling/sym/%s", srcdir, file);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        n++;
        if (strstr(line, needle)) {
            fclose(f);
            return n;
        }
    }
    fclose(f);
    return -1;
}

static int setup(void **state)
{
    const char *b = getenv("OPD_BINARY_DIR"), *s = getenv("OPD_SOURCE_DIR");

    (void)state;
    if (!b || !s) {
        fprintf(stderr, "OPD_BINARY_DIR and OPD_SOURCE_DIR must be set (run through ctest)\n");
        return -1;
    }
    snprintf(fixdir, sizeof(fixdir), "%s/tests/profiling_sym", b);
    snprintf(srcdir, sizeof(srcdir), "%s", s);
    return 0;
}

__attribute__((noinline)) static int self_marker(int x)
{
    volatile int v = x;

    return v * 3;
}

static void test_self_binary(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    uint64_t pc = (uint64_t)(uintptr_t)&self_marker;
    char exe[PATH_MAX];
    ssize_t r;

    (void)state;
    assert_int_equal(self_marker(1), 3);
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), pc, 0, 1, &f), 0);
    assert_string_equal(f.function, "self_marker");
    assert_string_equal(f.system_name, "self_marker");
    assert_int_equal(f.symbol_offset, 0);
    assert_int_equal(f.type, OPD_FRAME_NATIVE);
    assert_string_equal(f.type_name, "native");
    assert_true(f.has_mapping);
    r = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(r > 0);
    exe[r] = '\0';
    assert_string_equal(f.mapping.path, exe);
    assert_true(pc >= f.mapping.memory_start && pc < f.mapping.memory_limit);
    assert_int_equal(f.file_offset, pc - f.mapping.memory_start + f.mapping.file_offset);
    assert_int_equal(strlen(f.mapping.build_id_gnu), 40);
    assert_string_equal(f.mapping.build_id_go, "");
    assert_int_equal(strlen(f.mapping.build_id_htlhash), 32);
    assert_null(f.file);

    /* A return address just past the function's first byte still names it. */
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), pc + 1, OPD_SYM_RETURN_ADDRESS, 1, &f),
                     0);
    assert_string_equal(f.function, "self_marker");
    assert_int_equal(f.symbol_offset, 0);
    assert_int_equal(f.pc, pc + 1);
    assert_int_equal(metric(&e, "otelprofd_profiling_symbolizer_cache_misses"), 1);
    assert_int_equal(metric(&e, "otelprofd_profiling_symbolizer_cache_hits"), 1);
    assert_true(metric(&e, "otelprofd_profiling_symbolizer_cache_bytes") > 0);
    opd_symbolizer_flush(e.sym);
    env_close(&e);
}

static void test_shared_library(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    void *h = open_fixture("libopdsymfix.so");
    uint64_t pc;

    (void)state;
    env_open(&e, no_dirs, 1, 0, false);
    pc = (uint64_t)(uintptr_t)dlsym(h, "opd_fixture_lib_function");
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), pc + 2, 0, 1, &f), 0);
    assert_string_equal(f.function, "opd_fixture_lib_function");
    assert_int_equal(f.symbol_offset, 2);
    assert_non_null(strstr(f.mapping.path, "/tests/profiling_sym/libopdsymfix.so"));
    assert_int_equal(f.address - f.symbol_offset + 2, f.address);
    assert_true(f.address < f.pc); /* a shared library is loaded with a bias */

    assert_int_equal(
        opd_symbolizer_user(e.sym, getpid(), fixture_addr(h, "opd_fixture_addr_hidden"), 0, 1, &f),
        0);
    assert_string_equal(f.function, "opd_fixture_hidden");

    assert_int_equal(
        opd_symbolizer_user(e.sym, getpid(), fixture_addr(h, "opd_fixture_addr_mangled"), 0, 1, &f),
        0);
    assert_string_equal(f.function, "opd::fixture::spin(int)");
    assert_string_equal(f.system_name, "_ZN3opd7fixture4spinEi");
    env_close(&e);
    dlclose(h);
}

/* Copies (by symlink) the fixture debug file into dir/.build-id/xx/rest.debug. */
static void make_build_id_dir(const char *dir)
{
    char path[PATH_MAX * 2], target[PATH_MAX * 2], hex[2 * OPD_BUILD_ID_MAX + 1];
    struct opd_elf_info info = {0};
    struct Elf *elf;
    FILE *f;
    void *buf;
    long len;

    snprintf(target, sizeof(target), "%s/libopdsymfix.debug", fixdir);
    f = fopen(target, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    elf = opd_elf_open_mem(buf, (size_t)len);
    assert_non_null(elf);
    assert_int_equal(opd_elf_read(elf, OPD_ELF_HEADERS, &info, NULL, NULL), 0);
    opd_elf_build_id_hex(&info, hex, sizeof(hex));
    assert_int_equal(strlen(hex), 40);
    opd_elf_close(elf);
    opd_elf_info_fini(&info);
    free(buf);
    snprintf(path, sizeof(path), "%s/.build-id", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/.build-id/%.2s", dir, hex);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
    assert_int_equal(symlink(target, path), 0);
}

static void test_build_id_debug_file(void **state)
{
    char dir[] = "/tmp/opd_debugdir_XXXXXX", cmd[PATH_MAX];
    const char *dirs[] = {"/nonexistent", dir};
    struct env e;
    struct opd_sym_frame f;
    void *h = open_fixture("stripped/libopdsymfix.so");
    uint64_t hidden = fixture_addr(h, "opd_fixture_addr_hidden");
    int line;

    (void)state;
    /* Without the debug file the hidden function cannot be named, but the frame keeps its
     * mapping, file offset and build id for a backend. */
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), hidden, 0, 1, &f), -ENOENT);
    assert_null(f.function);
    assert_true(f.has_mapping);
    assert_non_null(strstr(f.mapping.path, "stripped/libopdsymfix.so"));
    assert_int_equal(strlen(f.mapping.build_id_gnu), 40);
    assert_int_equal(f.file_offset, hidden - f.mapping.memory_start + f.mapping.file_offset);
    assert_true(f.address < hidden);
    /* Exported functions still come from .dynsym. */
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(),
                                         (uint64_t)(uintptr_t)dlsym(h, "opd_fixture_lib_function"),
                                         0, 1, &f),
                     0);
    assert_string_equal(f.function, "opd_fixture_lib_function");
    env_close(&e);

    assert_non_null(mkdtemp(dir));
    make_build_id_dir(dir);
    env_open(&e, dirs, 2, 0, true);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), hidden, 0, 1, &f), 0);
    assert_string_equal(f.function, "opd_fixture_hidden");
    /* DWARF lines come from the debug file too. */
    assert_non_null(f.file);
    assert_non_null(strstr(f.file, "symlib.c"));
    line = source_line("symlib.c", "int opd_fixture_hidden(int x)");
    assert_true(f.line == line || f.line == line + 1);
    env_close(&e);
    dlclose(h);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_debuglink(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    void *h = open_fixture("linked/libopdsymfix.so");

    (void)state;
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(
        opd_symbolizer_user(e.sym, getpid(), fixture_addr(h, "opd_fixture_addr_hidden"), 0, 1, &f),
        0);
    assert_string_equal(f.function, "opd_fixture_hidden");
    assert_non_null(strstr(f.mapping.path, "linked/libopdsymfix.so"));
    env_close(&e);
    dlclose(h);
}

/* No build id: the debuglink's CRC decides, and a debug file of another build under the
 * right name is refused. */
static void test_debuglink_crc(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    void *good = open_fixture("crc/libopdsymfix_nobid.so");
    void *bad = open_fixture("badcrc/libopdsymfix_nobid.so");

    (void)state;
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(),
                                         fixture_addr(good, "opd_fixture_addr_hidden"), 0, 1, &f),
                     0);
    assert_string_equal(f.function, "opd_fixture_hidden");
    assert_string_equal(f.mapping.build_id_gnu, "");
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(),
                                         fixture_addr(bad, "opd_fixture_addr_hidden"), 0, 1, &f),
                     -ENOENT);
    assert_null(f.function);
    assert_non_null(strstr(f.mapping.path, "badcrc/libopdsymfix_nobid.so"));
    env_close(&e);
    dlclose(good);
    dlclose(bad);
}

static void test_dwarf_lines(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    void *h = open_fixture("libopdsymfix.so");
    uint64_t pc = (uint64_t)(uintptr_t)dlsym(h, "opd_fixture_lib_function");
    int line = source_line("symlib.c", "int opd_fixture_lib_function(int x)");

    (void)state;
    env_open(&e, no_dirs, 1, 0, true);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), pc, 0, 1, &f), 0);
    assert_string_equal(f.function, "opd_fixture_lib_function");
    assert_non_null(f.file);
    assert_non_null(strstr(f.file, "symlib.c"));
    assert_true(f.line == line || f.line == line + 1);
    env_close(&e);

    /* Off by default. */
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), pc, 0, 1, &f), 0);
    assert_null(f.file);
    assert_int_equal(f.line, 0);
    env_close(&e);
    dlclose(h);
}

/* Inlined frames: somewhere in the caller's code DWARF places the inlined function, in
 * OTLP order (inlined first), and the caller's line becomes the call site. */
static void test_inlined(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    void *h = open_fixture("libopdsymfix.so");
    uint64_t pc = (uint64_t)(uintptr_t)dlsym(h, "opd_fixture_inline_caller"), a;
    int call_line = source_line("symlib.c", "/* call site */");
    int body_first = source_line("symlib.c", "int opd_fixture_inlined(volatile int *p)");
    int body_last = source_line("symlib.c", "/* inlined body */") + 1;
    int found = 0;

    (void)state;
    env_open(&e, no_dirs, 1, 0, true);
    for (a = pc; a < pc + 256 && !found; a++) {
        if (opd_symbolizer_user(e.sym, getpid(), a, 0, 1, &f) != 0)
            break;
        if (strcmp(f.function, "opd_fixture_inline_caller") != 0)
            break;
        if (f.n_inlined == 0)
            continue;
        assert_int_equal(f.n_inlined, 1);
        assert_string_equal(f.inlined[0].function, "opd_fixture_inlined");
        assert_non_null(f.inlined[0].file);
        assert_non_null(strstr(f.inlined[0].file, "symlib.c"));
        assert_true(f.inlined[0].line >= body_first && f.inlined[0].line <= body_last);
        assert_non_null(f.file);
        assert_int_equal(f.line, call_line);
        found = 1;
    }
    assert_true(found);
    env_close(&e);
    dlclose(h);
}

static void test_perf_map(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    char path[64];
    uint8_t *code;
    FILE *pm;

    (void)state;
    code = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(code != MAP_FAILED);
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
    pm = fopen(path, "w");
    assert_non_null(pm);
    fprintf(pm, "%lx 100 LazyCompile:~hello /app/x.js:3\n", (unsigned long)(uintptr_t)code);
    fprintf(pm, "0x%lx 0x80 Interpreted:world\n", (unsigned long)(uintptr_t)(code + 0x200));
    fprintf(pm, "garbage\n");
    fclose(pm);

    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)code + 0x10, 0, 1, &f), 0);
    assert_int_equal(f.type, OPD_FRAME_JIT);
    assert_string_equal(f.type_name, "native"); /* this test is not a known runtime */
    assert_string_equal(f.function, "LazyCompile:~hello /app/x.js:3");
    assert_int_equal(f.symbol_offset, 0x10);
    assert_true(f.has_mapping);
    assert_int_equal(f.mapping.inode, 0);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)code + 0x210, 0, 1, &f), 0);
    assert_string_equal(f.function, "Interpreted:world");
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)code + 0x400, 0, 1, &f),
                     -ENOENT);
    assert_null(f.function);

    /* JIT code in a memfd mapping ("/memfd:opd-jit (deleted)"): not ELF, so the perf map. */
    {
        int mfd = memfd_create("opd-jit", 0);
        uint8_t *jit;

        assert_true(mfd >= 0);
        assert_int_equal(ftruncate(mfd, 4096), 0);
        jit = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, mfd, 0);
        assert_true(jit != MAP_FAILED);
        close(mfd);
        pm = fopen(path, "a");
        assert_non_null(pm);
        fprintf(pm, "%lx 40 JIT:memfd_fn\n", (unsigned long)(uintptr_t)jit);
        fclose(pm);
        opd_symbolizer_flush(e.sym);
        opd_proctab_sweep(e.tab, 2);
        assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)jit + 8, 0, 2, &f), 0);
        assert_string_equal(f.function, "JIT:memfd_fn");
        assert_int_equal(f.type, OPD_FRAME_JIT);
        assert_non_null(strstr(f.mapping.path, "memfd:opd-jit"));
        munmap(jit, 4096);
    }

    /* The runtime rewrites its map: seen after the interval ends. */
    pm = fopen(path, "a");
    assert_non_null(pm);
    fprintf(pm, "%lx 100 LazyCompile:*later\n", (unsigned long)(uintptr_t)(code + 0x400));
    fclose(pm);
    opd_symbolizer_flush(e.sym);
    opd_proctab_sweep(e.tab, 2);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)code + 0x404, 0, 3, &f), 0);
    assert_string_equal(f.function, "LazyCompile:*later");
    env_close(&e);
    unlink(path);
    munmap(code, 8192);
}

static void test_kernel_fixture(void **state)
{
    static const char kallsyms[] = "ffffffff81000000 T _stext\n"
                                   "ffffffff81000100 t do_one_thing\n"
                                   "ffffffff81000200 D some_data\n"
                                   "ffffffff81000300 W weak_fn\n"
                                   "ffffffff81000400 T _etext\n"
                                   "ffffffffc0001000 t ext4_fill_super\t[ext4]\n"
                                   "ffffffffc0001100 T ext4_mount\t[ext4]\n"
                                   "ffffffffc0002000 t nf_hook\t[nf_tables]\n"
                                   "bad line\n";
    char path[] = "/tmp/opd_kallsyms_XXXXXX";
    struct opd_proctab_config pc = {0};
    struct opd_symbolizer_config sc = {.kallsyms_path = path};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, NULL);
    struct opd_symbolizer *s;
    struct opd_sym_frame f;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, kallsyms, sizeof(kallsyms) - 1), (ssize_t)sizeof(kallsyms) - 1);
    close(fd);
    s = opd_symbolizer_create(&sc, tab, NULL, NULL);
    assert_non_null(s);
    assert_int_equal(opd_symbolizer_kernel(s, 0xffffffff81000123ull, 0, &f), 0);
    assert_string_equal(f.function, "do_one_thing");
    assert_int_equal(f.symbol_offset, 0x23);
    assert_int_equal(f.type, OPD_FRAME_KERNEL);
    assert_string_equal(f.type_name, "kernel");
    assert_string_equal(f.mapping.path, "[kernel.kallsyms]");
    assert_false(f.has_mapping);
    /* Data symbols are not functions: the address belongs to the text symbol before it. */
    assert_int_equal(opd_symbolizer_kernel(s, 0xffffffff81000210ull, 0, &f), 0);
    assert_string_equal(f.function, "do_one_thing");
    assert_int_equal(opd_symbolizer_kernel(s, 0xffffffffc0001104ull, 0, &f), 0);
    assert_string_equal(f.function, "ext4_mount");
    assert_string_equal(f.mapping.path, "[ext4]");
    assert_int_equal(opd_symbolizer_kernel(s, 0xffffffffc0002001ull, OPD_SYM_RETURN_ADDRESS, &f),
                     0);
    assert_string_equal(f.function, "nf_hook");
    assert_string_equal(f.mapping.path, "[nf_tables]");
    assert_int_equal(opd_symbolizer_kernel(s, 0x1000, 0, &f), -ENOENT);
    assert_null(f.function);
    /* Reload keeps answering. */
    assert_int_equal(opd_symbolizer_reload_kernel(s), 0);
    assert_int_equal(opd_symbolizer_kernel(s, 0xffffffff81000301ull, 0, &f), 0);
    assert_string_equal(f.function, "weak_fn");
    opd_symbolizer_destroy(s);

    /* kptr_restrict: all addresses zero. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0000000000000000 T _stext\n", 26), 26);
    close(fd);
    s = opd_symbolizer_create(&sc, tab, NULL, NULL);
    assert_int_equal(opd_symbolizer_kernel(s, 0xffffffff81000123ull, 0, &f), -ENOENT);
    opd_symbolizer_destroy(s);
    unlink(path);
    opd_proctab_destroy(tab);
}

static void test_kernel_real(void **state)
{
    struct opd_proctab_config pc = {0};
    struct opd_symbolizer_config sc = {0};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, NULL);
    struct opd_symbolizer *s = opd_symbolizer_create(&sc, tab, NULL, NULL);
    struct opd_sym_frame f;
    unsigned long long addr = 0;
    char line[512], name[256], type;
    FILE *k = fopen("/proc/kallsyms", "r");

    (void)state;
    assert_non_null(s);
    while (k && fgets(line, sizeof(line), k)) {
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 && addr &&
            strcmp(name, "schedule") == 0)
            break;
        addr = 0;
    }
    if (k)
        fclose(k);
    if (!addr) {
        opd_symbolizer_destroy(s);
        opd_proctab_destroy(tab);
        skip(); /* kallsyms hidden (kptr_restrict) or unreadable here */
    }
    assert_int_equal(opd_symbolizer_kernel(s, addr + 4, 0, &f), 0);
    assert_string_equal(f.function, "schedule");
    assert_int_equal(f.symbol_offset, 4);
    assert_string_equal(f.mapping.path, "[kernel.kallsyms]");
    opd_symbolizer_destroy(s);
    opd_proctab_destroy(tab);
}

/* A cache of one byte evicts on every new file; strings handed out before stay valid until
 * the flush. */
static void test_cache_budget(void **state)
{
    struct env e;
    struct opd_sym_frame f1, f2;
    void *h = open_fixture("libopdsymfix.so");
    const char *name1;

    (void)state;
    env_open(&e, no_dirs, 1, 1, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)&self_marker, 0, 1, &f1), 0);
    name1 = f1.function;
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(),
                                         (uintptr_t)dlsym(h, "opd_fixture_lib_function"), 0, 1,
                                         &f2),
                     0);
    assert_true(metric(&e, "otelprofd_profiling_symbolizer_cache_evictions") >= 1);
    assert_string_equal(name1, "self_marker"); /* parked, not freed */
    assert_int_equal(strlen(f1.mapping.build_id_gnu), 40);
    opd_symbolizer_flush(e.sym);
    /* Evicted: the next lookup loads the file again. */
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), (uintptr_t)&self_marker, 0, 1, &f1), 0);
    assert_int_equal(metric(&e, "otelprofd_profiling_symbolizer_cache_misses"), 3);
    assert_true(opd_symbolizer_cache_bytes(e.sym) > 1); /* the one in use is kept */
    env_close(&e);
    dlclose(h);
}

/* The running fixture program, killed by the teardown even when an assertion failed. */
static pid_t probe_pid = -1;

static int kill_probe(void **state)
{
    int status;

    (void)state;
    if (probe_pid > 0) {
        kill(probe_pid, SIGKILL);
        waitpid(probe_pid, &status, 0);
    }
    probe_pid = -1;
    return 0;
}

/* Spawns a fixture program that prints "pid hexaddr"; returns its pid. */
static pid_t spawn_probe(const char *path, uint64_t *addr)
{
    int fds[2];
    pid_t pid;
    char buf[128];
    ssize_t n, got = 0;
    int cpid;
    unsigned long long a;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    probe_pid = pid;
    while (got < (ssize_t)sizeof(buf) - 1 &&
           (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += n;
        if (memchr(buf, '\n', (size_t)got))
            break;
    }
    close(fds[0]);
    buf[got > 0 ? got : 0] = '\0';
    if (sscanf(buf, "%d %llx", &cpid, &a) != 2)
        fail_msg("probe %s printed '%s'", path, buf);
    assert_int_equal(cpid, pid);
    *addr = a;
    return pid;
}

static void go_case(const char *name, bool lines)
{
    struct env e;
    struct opd_sym_frame f;
    char path[PATH_MAX * 2];
    uint64_t addr;
    pid_t pid;
    int status;

    snprintf(path, sizeof(path), "%s/%s", fixdir, name);
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "skip: %s not built (install golang-go)\n", path);
        skip();
    }
    pid = spawn_probe(path, &addr);
    env_open(&e, no_dirs, 1, 0, lines);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr + 3, OPD_SYM_RETURN_ADDRESS, 1, &f), 0);
    assert_string_equal(f.function, "main.opdGoSpin");
    if (lines) {
        /* Stripped: no DWARF, the lines come from the pclntab. */
        int line = source_line("goprobe.go", "func opdGoSpin(");

        assert_non_null(f.file);
        assert_non_null(strstr(f.file, "goprobe.go"));
        assert_true(f.line >= line && f.line <= line + 3);
    } else {
        assert_null(f.file);
    }
    assert_int_equal(f.type, OPD_FRAME_GO);
    assert_string_equal(f.type_name, "go");
    assert_int_equal(f.symbol_offset, 2);
    assert_true(strlen(f.mapping.build_id_go) > 10);
    assert_non_null(strstr(f.mapping.path, name));
    kill_probe(NULL);
    (void)status;
    env_close(&e);
}

static void test_go_stripped(void **state)
{
    (void)state;
    go_case("goprobe", false);
    go_case("goprobe", true);
}

static void test_go_stripped_pie(void **state)
{
    (void)state;
    go_case("goprobe-pie", true);
}

/* A process that exits: its frames are still symbolized within the grace period (the
 * cache and the table keep what was read), and a pid nobody knows is -ESRCH. */
static void test_vanished_process(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    char path[PATH_MAX * 2];
    uint64_t addr;
    pid_t pid;
    int status;

    (void)state;
    snprintf(path, sizeof(path), "%s/opd_symfix_probe_alpha", fixdir);
    pid = spawn_probe(path, &addr);
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr, 0, 1, &f), 0);
    assert_string_equal(f.function, "opd_probe_alpha");
    kill_probe(NULL);
    (void)status;
    opd_symbolizer_flush(e.sym);
    opd_proctab_sweep(e.tab, 2);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr + 1, 0, 3, &f), 0);
    assert_string_equal(f.function, "opd_probe_alpha");
    assert_int_equal(f.symbol_offset, 1);
    opd_proctab_sweep(e.tab, 5000); /* grace over */
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr, 0, 5001, &f), -ESRCH);
    assert_null(f.function);
    assert_int_equal(f.address, addr);
    assert_int_equal(opd_symbolizer_user(e.sym, -1, addr, 0, 1, &f), -EINVAL);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), 8, 0, 1, &f), -ENOENT);
    assert_false(f.has_mapping);
    env_close(&e);
}

/* [vdso] frames are named from the daemon's own copy of the image. */
static void test_vdso(void **state)
{
    struct env e;
    struct opd_sym_frame f;
    unsigned long long start = 0, end = 0, a;
    char line[512];
    int named = 0, found = 0;
    FILE *m = fopen("/proc/self/maps", "r");

    (void)state;
    assert_non_null(m);
    while (fgets(line, sizeof(line), m))
        if (strstr(line, "[vdso]") && sscanf(line, "%llx-%llx", &start, &end) == 2)
            break;
    fclose(m);
    if (!start) {
        fprintf(stderr, "skip: no [vdso] mapping in this process\n");
        skip();
    }
    env_open(&e, no_dirs, 1, 0, false);
    for (a = start; a < end; a += 4) {
        if (opd_symbolizer_user(e.sym, getpid(), a, 0, 1, &f) != 0)
            continue;
        named++;
        assert_string_equal(f.mapping.path, "[vdso]");
        if (strstr(f.function, "clock_gettime"))
            found = 1;
    }
    assert_true(named > 0);
    assert_true(found);
    env_close(&e);
}

/* The file id (htlhash) against digests computed independently (Python's hashlib over the
 * same bytes: head 4 KiB, tail 4 KiB, length big-endian). */
static void test_file_id(void **state)
{
    static const struct {
        size_t len;
        const char *want;
    } cases[] = {{10000, "29e3194e821b97b5565d43a5156ad97a"},
                 {100, "6f7e61d01e75215762f708a2727b9650"}};
    char path[] = "/tmp/opd_fileid_XXXXXX", id[33];
    uint8_t buf[10000];

    (void)state;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i % 251);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, cases[k].len), (ssize_t)cases[k].len);
        assert_int_equal(opd_elf_file_id(fd, id), 0);
        assert_string_equal(id, cases[k].want);
        close(fd);
        unlink(path);
        memcpy(path + strlen(path) - 6, "XXXXXX", 6);
    }
}

/* ids_only: the frame keeps its mapping, its ELF virtual address and every build id, but
 * no name; kernel frames stay unnamed (kallsyms is not read). */
static void test_ids_only(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000};
    struct opd_symbolizer_config sc = {.ids_only = true};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "receiver/profiling");
    struct opd_symbolizer *sym;
    struct opd_sym_frame f, named;
    uint64_t pc_self = (uint64_t)(uintptr_t)&self_marker;
    struct env e;
    char id[33];
    int fd;

    (void)state;
    assert_non_null(tab);
    sym = opd_symbolizer_create(&sc, tab, NULL, "receiver/profiling");
    assert_non_null(sym);
    assert_int_equal(opd_symbolizer_user(sym, getpid(), pc_self, 0, 1, &f), -ENOENT);
    assert_null(f.function);
    assert_true(f.has_mapping);
    assert_int_equal(strlen(f.mapping.build_id_gnu), 40);
    fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(opd_elf_file_id(fd, id), 0);
    close(fd);
    assert_string_equal(f.mapping.build_id_htlhash, id);
    assert_int_equal(opd_symbolizer_kernel(sym, 0xffffffff81000000ull, 0, &f), -ENOENT);
    assert_null(f.function);

    /* The same address as full symbolization gives, which also carries the file id. */
    env_open(&e, no_dirs, 1, 0, false);
    assert_int_equal(opd_symbolizer_user(e.sym, getpid(), pc_self, 0, 1, &named), 0);
    assert_int_equal(opd_symbolizer_user(sym, getpid(), pc_self, 0, 1, &f), -ENOENT);
    assert_int_equal(f.address, named.address);
    assert_string_equal(named.mapping.build_id_htlhash, id);
    env_close(&e);
    opd_symbolizer_destroy(sym);
    opd_proctab_destroy(tab);
}

/* Pages the kernel maps without a file ([uprobes] holds the uretprobe trampolines) are
 * named after the page instead of left as bare addresses. A fake procfs root holds one
 * process with such pages. */
static void test_kernel_pages(void **state)
{
    static const char *const pages[] = {"[uprobes]", "[vsyscall]", "[vdso]"};
    static const uint64_t at[] = {0x7ffff7fc0010ull, 0xffffffffff600400ull, 0x7ffff7fd0020ull};
    char root[] = "/tmp/opd_fakeproc_XXXXXX", path[PATH_MAX];
    struct opd_proctab_config pc = {.grace_ns = 1000};
    struct opd_symbolizer_config sc = {0};
    struct opd_proctab *tab;
    struct opd_symbolizer *sym;
    struct opd_sym_frame f;
    FILE *out;

    (void)state;
    assert_non_null(mkdtemp(root));
    pc.procfs_root = root;
    sc.procfs_root = root;
    snprintf(path, sizeof(path), "%s/4242", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/4242/stat", root);
    out = fopen(path, "w");
    assert_non_null(out);
    fputs("4242 (app) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 77 1000 10 18446744\n", out);
    fclose(out);
    snprintf(path, sizeof(path), "%s/4242/maps", root);
    out = fopen(path, "w");
    assert_non_null(out);
    /* A [vdso] of a size ours does not have (a 32-bit process's). */
    fputs("7ffff7fc0000-7ffff7fc1000 r-xp 00000000 00:00 0 [uprobes]\n"
          "7ffff7fd0000-7ffff7fd1000 r-xp 00000000 00:00 0 [vdso]\n"
          "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n",
          out);
    fclose(out);
    tab = opd_proctab_create(&pc, NULL, "receiver/profiling");
    assert_non_null(tab);
    sym = opd_symbolizer_create(&sc, tab, NULL, "receiver/profiling");
    assert_non_null(sym);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        assert_int_equal(opd_symbolizer_user(sym, 4242, at[i], 0, 1, &f), 0);
        assert_string_equal(f.function, pages[i]);
        assert_string_equal(f.mapping.path, pages[i]);
        assert_string_equal(f.mapping.build_id_gnu, "");
        assert_string_equal(f.mapping.build_id_htlhash, "");
    }
    opd_symbolizer_destroy(sym);
    opd_proctab_destroy(tab);
    snprintf(path, sizeof(path), "rm -rf %s", root);
    assert_int_equal(system(path), 0);
}

/* Hostile files mapped executable: a truncated library and one with a scrambled header.
 * The symbolizer must answer (named or not) and never crash. */
static void test_hostile_mapping(void **state)
{
    static const long cuts[] = {64, 700, 4096, 9000};
    char src[PATH_MAX * 2], path[] = "/tmp/opd_hostile_XXXXXX";
    struct env e;
    struct opd_sym_frame f;
    uint8_t *bytes;
    long len;
    size_t k;
    FILE *in;

    (void)state;
    snprintf(src, sizeof(src), "%s/libopdsymfix.so", fixdir);
    in = fopen(src, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    len = ftell(in);
    fseek(in, 0, SEEK_SET);
    bytes = malloc((size_t)len);
    assert_int_equal(fread(bytes, 1, (size_t)len, in), (size_t)len);
    fclose(in);
    env_open(&e, no_dirs, 1, 0, true);
    for (k = 0; k < 2 * sizeof(cuts) / sizeof(cuts[0]); k++) {
        long n = cuts[k / 2] < len ? cuts[k / 2] : len;
        int fd = mkstemp(path), err;
        uint8_t *m;

        assert_true(fd >= 0);
        if (k & 1) {
            /* Scramble section and program header offsets and counts. */
            memset(bytes + 0x20, 0xff, 0x20);
        }
        assert_int_equal(write(fd, bytes, (size_t)n), n);
        m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        assert_true(m != MAP_FAILED);
        close(fd);
        err = opd_symbolizer_user(e.sym, getpid(), (uintptr_t)m + 16, 0, 1, &f);
        assert_true(err == 0 || err == -ENOENT);
        assert_true(f.has_mapping);
        munmap(m, 4096);
        unlink(path);
        memcpy(path + strlen(path) - 6, "XXXXXX", 6);
        opd_symbolizer_flush(e.sym);
        opd_proctab_sweep(e.tab, 1);
    }
    env_close(&e);
    free(bytes);
}

/* A process whose binary is gone by the time its samples are drained (an exited container):
 * prefetching at first sight keeps its symbols. */
static void test_prefetch(void **state)
{
    char src[PATH_MAX * 2], cmd[PATH_MAX * 3], dir[] = "/tmp/opd_prefetch_XXXXXX";
    char bin[sizeof(dir) + 16];
    struct env e;
    struct opd_sym_frame f;
    uint64_t addr;
    pid_t pid;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof(bin), "%s/probe", dir);
    snprintf(src, sizeof(src), "%s/opd_symfix_probe_alpha", fixdir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, bin);
    assert_int_equal(system(cmd), 0);
    pid = spawn_probe(bin, &addr);
    env_open(&e, no_dirs, 1, 0, false);
    assert_true(opd_symbolizer_prefetch(e.sym, pid, 1) >= 1);
    assert_int_equal(opd_symbolizer_prefetch(e.sym, pid, 1), 0); /* cached now */
    kill_probe(NULL);
    assert_int_equal(unlink(bin), 0);
    rmdir(dir);
    opd_symbolizer_flush(e.sym);
    opd_proctab_sweep(e.tab, 2);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr, 0, 3, &f), 0);
    assert_string_equal(f.function, "opd_probe_alpha");
    assert_int_equal(opd_symbolizer_prefetch(e.sym, 0, 3), -EINVAL);
    env_close(&e);

    /* Without the prefetch the same frame stays unnamed (but keeps its mapping). */
    strcpy(dir, "/tmp/opd_prefetch_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof(bin), "%s/probe", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, bin);
    assert_int_equal(system(cmd), 0);
    pid = spawn_probe(bin, &addr);
    env_open(&e, no_dirs, 1, 0, false);
    assert_non_null(opd_proctab_get(e.tab, pid, 1));
    kill_probe(NULL);
    assert_int_equal(unlink(bin), 0);
    rmdir(dir);
    opd_proctab_sweep(e.tab, 2);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr, 0, 3, &f), -ENOENT);
    assert_true(f.has_mapping);
    env_close(&e);
}

/* A file rewritten in place keeps its inode: the cache notices the new size/mtime at the
 * next interval instead of naming the new program's frames with the old symbols. */
static void test_inode_reuse(void **state)
{
    char dir[] = "/tmp/opd_reuse_XXXXXX", bin[sizeof(dir) + 16], cmd[PATH_MAX * 3];
    struct env e;
    struct opd_sym_frame f;
    struct stat st1, st2;
    uint64_t addr;
    pid_t pid;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof(bin), "%s/prog", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s/opd_symfix_probe_alpha' '%s'", fixdir, bin);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(stat(bin, &st1), 0);
    env_open(&e, no_dirs, 1, 0, false);
    pid = spawn_probe(bin, &addr);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr, 0, 1, &f), 0);
    assert_string_equal(f.function, "opd_probe_alpha");
    kill_probe(NULL);
    /* cp into an existing file truncates and rewrites the same inode. */
    snprintf(cmd, sizeof(cmd), "cp '%s/opd_symfix_probe_beta' '%s'", fixdir, bin);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(stat(bin, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    pid = spawn_probe(bin, &addr);
    opd_symbolizer_flush(e.sym);
    opd_proctab_sweep(e.tab, 2);
    assert_int_equal(opd_symbolizer_user(e.sym, pid, addr, 0, 3, &f), 0);
    assert_string_equal(f.function, "opd_probe_beta");
    kill_probe(NULL);
    env_close(&e);
    unlink(bin);
    rmdir(dir);
}

static void test_nomem(void **state)
{
    struct opd_proctab_config pc = {0};
    struct opd_symbolizer_config sc = {.dwarf_lines = true};
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, NULL);
    struct opd_symbolizer *s = NULL;
    struct opd_sym_frame f;
    long i;
    int err = -ENOMEM;

    (void)state;
    for (i = 0; i < 64 && !s; i++) {
        opd_mem_fail_countdown = i;
        s = opd_symbolizer_create(&sc, tab, tel, NULL);
        opd_mem_fail_countdown = -1;
        if (!s)
            assert_int_equal(errno, ENOMEM);
    }
    assert_non_null(s);
    /* Every failure point of a first lookup gives -ENOMEM or a (maybe degraded) frame. */
    for (i = 0; i < 400; i++) {
        opd_mem_fail_countdown = i;
        err = opd_symbolizer_user(s, getpid(), (uintptr_t)&self_marker, 0, 1, &f);
        opd_mem_fail_countdown = -1;
        assert_true(err == 0 || err == -ENOMEM || err == -ENOENT || err == -ESRCH);
        opd_symbolizer_destroy(s);
        opd_proctab_destroy(tab);
        tab = opd_proctab_create(&pc, NULL, NULL);
        s = opd_symbolizer_create(&sc, tab, tel, NULL);
        assert_non_null(s);
        if (err == 0)
            break;
    }
    assert_int_equal(err, 0);
    opd_symbolizer_destroy(s);
    opd_proctab_destroy(tab);
    opd_telemetry_destroy(tel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_binary),
        cmocka_unit_test(test_shared_library),
        cmocka_unit_test(test_build_id_debug_file),
        cmocka_unit_test(test_debuglink),
        cmocka_unit_test(test_debuglink_crc),
        cmocka_unit_test(test_dwarf_lines),
        cmocka_unit_test(test_inlined),
        cmocka_unit_test(test_perf_map),
        cmocka_unit_test(test_kernel_fixture),
        cmocka_unit_test(test_kernel_real),
        cmocka_unit_test(test_cache_budget),
        cmocka_unit_test_teardown(test_go_stripped, kill_probe),
        cmocka_unit_test_teardown(test_go_stripped_pie, kill_probe),
        cmocka_unit_test_teardown(test_vanished_process, kill_probe),
        cmocka_unit_test(test_vdso),
        cmocka_unit_test(test_file_id),
        cmocka_unit_test(test_ids_only),
        cmocka_unit_test(test_kernel_pages),
        cmocka_unit_test(test_hostile_mapping),
        cmocka_unit_test_teardown(test_prefetch, kill_probe),
        cmocka_unit_test_teardown(test_inode_reuse, kill_probe),
        cmocka_unit_test(test_nomem),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
