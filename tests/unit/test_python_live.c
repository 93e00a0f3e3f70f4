/* CPython layouts against real interpreters: runs tests/data/python/chain.py under every
 * CPython found on this machine (Debian's python3 and pyenv builds of 3.10-3.13), then,
 * from outside, with only the layout table and the ELF file:
 *   - finds the thread state the way the BPF walk does (glibc TSS slot at fsbase, fsbase
 *     taken with ptrace) and checks it is the interpreter's first thread;
 *   - walks its frames as bpf/python.bpf.h does and resolves each code object, expecting
 *     inner, middle, outer, <module> at the lines marked in chain.py;
 *   - collects the code objects of every thread with the read-ahead walk (pywalk.h);
 *   - attaches the tracker (python.h), reads ahead once, kills the process, and still
 *     resolves the sampled frame of inner (name, file, line) from what was read ahead;
 *   - a process that loads libpython after it was first inspected (embedding, dlopen) is
 *     attached by a later recheck.
 * A version not installed is reported and skipped; at least one must be present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/python.bpf.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/pycode.h"
#include "collector/receivers/profiling/python/pyelf.h"
#include "collector/receivers/profiling/python/pylayout.h"
#include "collector/receivers/profiling/python/python.h"
#include "collector/receivers/profiling/python/pywalk.h"

struct interp {
    const char *path;
    unsigned minor;
};

static const struct interp interps[] = {
    {"/usr/bin/python3.11", 11},
    {"/root/.pyenv/versions/3.10.13/bin/python3.10", 10},
    {"/root/.pyenv/versions/3.11.7/bin/python3.11", 11},
    {"/root/.pyenv/versions/3.12.1/bin/python3.12", 12},
    {"/root/.pyenv/versions/3.13.0/bin/python3.13", 13},
};

static char fixture[1024];
static int marks[4]; /* inner, middle, outer, module */

static void read_marks(void)
{
    static const char *const names[] = {"@inner", "@middle", "@outer", "@module"};
    char line[512];
    int n = 0;
    FILE *f;

    snprintf(fixture, sizeof(fixture), "%s/tests/data/python/chain.py",
             getenv("OPD_SOURCE_DIR") ? getenv("OPD_SOURCE_DIR") : ".");
    f = fopen(fixture, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        n++;
        for (int i = 0; i < 4; i++) {
            if (strstr(line, names[i]))
                marks[i] = n;
        }
    }
    fclose(f);
    for (int i = 0; i < 4; i++)
        assert_true(marks[i] > 0);
}

static int rd(void *arg, uint64_t addr, void *buf, size_t len)
{
    return opd_python_read_mem((int32_t)(intptr_t)arg, addr, buf, len);
}

static uint64_t rd64(pid_t pid, uint64_t addr)
{
    uint64_t v = 0;

    assert_int_equal(opd_python_read_mem(pid, addr, &v, sizeof(v)), 0);
    return v;
}

/* The interpreter's file among pid's executable mappings, with its load bias. */
static void find_python(pid_t pid, struct opd_py_elf *e, uint64_t *bias)
{
    char path[64], *text = NULL;
    size_t cap = 0, len = 0;
    struct opd_proc_mapping *maps = NULL;
    int n, found = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    f = fopen(path, "r");
    assert_non_null(f);
    len = (size_t)getdelim(&text, &cap, '\0', f);
    fclose(f);
    n = opd_procmaps_parse(text, len, OPD_MAP_EXEC, &maps);
    assert_true(n > 0);
    for (int i = 0; i < n && !found; i++) {
        struct opd_elf_info info = {0};
        struct Elf *elf;
        uint64_t vaddr;
        int fd;

        if (!strstr(maps[i].path, "python") || opd_py_elf_inspect(maps[i].path, e))
            continue;
        fd = open(maps[i].path, O_RDONLY);
        assert_true(fd >= 0);
        elf = opd_elf_open_fd(fd);
        assert_non_null(elf);
        assert_int_equal(opd_elf_read(elf, OPD_ELF_HEADERS, &info, NULL, NULL), 0);
        assert_int_equal(opd_elf_offset_to_vaddr(&info, maps[i].offset, &vaddr), 0);
        *bias = maps[i].start - vaddr;
        opd_elf_info_fini(&info);
        opd_elf_close(elf);
        close(fd);
        found = 1;
    }
    opd_procmaps_free(maps, (size_t)n);
    free(text);
    assert_true(found);
}

static uint64_t fsbase_of(pid_t pid)
{
    struct user_regs_struct regs;
    int st;

    assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
    assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(ptrace(PTRACE_GETREGS, pid, 0, &regs), 0);
    assert_int_equal(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
    return regs.fs_base;
}

/* Builds the process table's view of pid: its executable mappings. */
static int proc_of(pid_t pid, struct opd_proc *proc, struct opd_proc_mapping **maps,
                   char **text)
{
    char path[64];
    size_t cap = 0, len;
    FILE *f;
    int n;

    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    f = fopen(path, "r");
    assert_non_null(f);
    *text = NULL;
    len = (size_t)getdelim(text, &cap, '\0', f);
    fclose(f);
    n = opd_procmaps_parse(*text, len, OPD_MAP_EXEC, maps);
    assert_true(n > 0);
    memset(proc, 0, sizeof(*proc));
    proc->pid = pid;
    proc->maps = *maps;
    proc->n_maps = (size_t)n;
    return n;
}

/* The tracker resolves the sampled frames of pid (words: inner, middle, outer, <module>)
 * after pid is gone, from its read-ahead. The cache is one set of four slots: the four
 * objects of the stack must all stay in it. */
static void check_tracker(pid_t pid, const uint64_t words[4])
{
    static const char *const want[] = {"inner", "middle", "outer", "<module>"};
    struct opd_python_config cfg = {.map_fd = -1, .prefetch_ms = -1, .cache_slots = 4};
    const uint64_t inner_word = words[0];
    struct opd_python *py = opd_python_create(&cfg, NULL, "test");
    struct opd_python_frame f;
    struct opd_python_stats st;
    struct opd_proc_mapping *maps;
    struct opd_proc proc;
    char *text;
    int n, status;

    assert_non_null(py);
    n = proc_of(pid, &proc, &maps, &text);
    assert_int_equal(opd_python_attach(py, &proc), 1);
    opd_procmaps_free(maps, (size_t)n);
    free(text);
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_true(st.prefetched >= 4);
    assert_int_equal(st.exited, 0);

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    for (int i = 3; i >= 0; i--) {
        assert_int_equal(opd_python_frame(py, pid, words[i], &f), 0);
        assert_string_equal(f.name, want[i]);
        assert_string_equal(f.file, fixture);
        assert_int_equal(f.line, marks[i]);
    }
    /* The next round notices the exit; what was read ahead stays resolvable. */
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.exited, 1);
    assert_true(opd_python_tracked(py, pid));
    assert_int_equal(opd_python_frame(py, pid, inner_word, &f), 0);
    assert_string_equal(f.name, "inner");
    /* An object nobody read ahead cannot be read any more. */
    assert_int_equal(opd_python_frame(py, pid, inner_word ^ 0x100, &f), -ENOENT);
    opd_python_destroy(py);
}

static void check_interp(const struct interp *in)
{
    const struct opd_py_layout *l = opd_py_layout_find(3, in->minor);
    struct opd_py_elf e;
    uint64_t bias = 0, rt, interp, tstate, tss_tstate, frame, fsbase;
    uint64_t codes[4] = {0}, walked[16], words[4] = {0};
    int32_t tss[2];
    int pfd[2], got = 0, n;
    char buf[16] = {0};
    pid_t pid;

    assert_non_null(l);
    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(in->path, in->path, fixture, "60", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    assert_true(read(pfd[0], buf, sizeof(buf) - 1) > 0);
    assert_true(strncmp(buf, "ready", 5) == 0);
    usleep(100 * 1000); /* into the spin line */

    find_python(pid, &e, &bias);
    assert_int_equal(e.minor, in->minor);
    rt = e.runtime + bias;
    interp = rd64(pid, rt + l->runtime_interp_head);
    assert_true(interp != 0);
    tstate = rd64(pid, interp + l->interp_threads_head);
    assert_true(tstate != 0);
    assert_int_equal(rd64(pid, tstate + l->tstate_next), 0); /* one thread */
    if (l->tstate_native_tid != OPD_PYL_NONE)
        assert_int_equal(rd64(pid, tstate + l->tstate_native_tid), (uint64_t)pid);

    /* The BPF path: glibc TSS slot of the key in _PyRuntime. */
    assert_int_equal(opd_python_read_mem(pid, rt + l->runtime_tss, tss, sizeof(tss)), 0);
    assert_int_equal(tss[0], 1);
    assert_true(tss[1] >= 0 && tss[1] < 32);
    fsbase = fsbase_of(pid);
    tss_tstate = rd64(pid, fsbase + 0x310 + 16 * (uint64_t)tss[1] + 8);
    assert_int_equal(tss_tstate, tstate);

    frame = rd64(pid, tstate + l->tstate_frame);
    if (l->cframe_current != OPD_PYL_NONE)
        frame = rd64(pid, frame + l->cframe_current);
    for (int i = 0; frame && i < 64 && got < 4; i++) {
        static const char *const want[] = {"inner", "middle", "outer", "<module>"};
        uint64_t code = rd64(pid, frame + l->frame_code), idx = 0;
        uint8_t owner = 0;
        struct opd_py_code c;

        if (l->frame_owner != OPD_PYL_NONE)
            assert_int_equal(opd_python_read_mem(pid, frame + l->frame_owner, &owner, 1), 0);
        if (owner == 3) { /* shim */
            frame = rd64(pid, frame + l->frame_back);
            continue;
        }
        if (l->instr_kind == OPD_PY_LASTI) {
            int32_t lasti = 0;

            assert_int_equal(opd_python_read_mem(pid, frame + l->frame_instr, &lasti, 4), 0);
            idx = lasti > 0 ? (uint64_t)lasti : 0;
        } else {
            uint64_t instr = rd64(pid, frame + l->frame_instr);

            assert_true(instr > code + l->code_bytecode);
            idx = (instr - code - l->code_bytecode) / 2;
        }
        assert_int_equal(opd_py_code_read(l, rd, (void *)(intptr_t)pid, code,
                                          e.code_type + bias, &c),
                         0);
        print_message("  %s: %s (%s) %s:%d\n", in->path, c.qualname, c.name, c.file,
                      opd_py_code_line(l, &c, (uint32_t)idx));
        assert_string_equal(c.name, want[got]);
        assert_string_equal(c.file, fixture);
        assert_int_equal(opd_py_code_line(l, &c, (uint32_t)idx), marks[got]);
        if (got < 4) {
            codes[got] = code;
            /* The word the BPF walk records for this frame. */
            words[got] = OPD_PY_TAG | (idx << OPD_PY_IDX_SHIFT) | (code & OPD_PY_ADDR_MASK) |
                         ((uint64_t)(uint32_t)c.firstline & OPD_PY_CHECK_MASK);
        }
        opd_py_code_fini(&c);
        got++;
        frame = rd64(pid, frame + l->frame_back);
    }
    assert_int_equal(got, 4);

    /* The read-ahead walk finds the same code objects, innermost first. */
    n = opd_py_walk_codes(l, rd, (void *)(intptr_t)pid, rt, e.code_type + bias, walked, 16);
    assert_true(n >= 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(walked[i], codes[i]);

    check_tracker(pid, words);
    close(pfd[0]);
}

static void test_live(void **state)
{
    int tested = 0;

    (void)state;
    read_marks();
    for (size_t i = 0; i < sizeof(interps) / sizeof(interps[0]); i++) {
        if (access(interps[i].path, X_OK) != 0) {
            print_message("%s not installed: skipped\n", interps[i].path);
            continue;
        }
        check_interp(&interps[i]);
        tested++;
    }
    assert_true(tested > 0);
}

/* Starts chain.py under path; returns its pid once it spins. */
static pid_t spawn_chain(const char *path, int *out_fd)
{
    char buf[16] = {0};
    int pfd[2];
    pid_t pid;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(path, path, fixture, "60", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    assert_true(read(pfd[0], buf, sizeof(buf) - 1) > 0);
    assert_true(strncmp(buf, "ready", 5) == 0);
    *out_fd = pfd[0];
    return pid;
}

static int attach_pid(struct opd_python *py, pid_t pid)
{
    struct opd_proc_mapping *maps;
    struct opd_proc proc;
    char *text;
    int n = proc_of(pid, &proc, &maps, &text), r;

    r = opd_python_attach(py, &proc);
    opd_procmaps_free(maps, (size_t)n);
    free(text);
    return r;
}

/* With room for one process: a second one is refused while the first runs, and takes the
 * place of the first once the read-ahead has seen it exit. */
static void test_exited_make_room(void **state)
{
    struct opd_python_config cfg = {.map_fd = -1, .max_procs = 1, .prefetch_ms = -1};
    const char *path = NULL;
    struct opd_python_stats st;
    struct opd_python *py;
    int fa, fb, status;
    pid_t a, b;

    (void)state;
    read_marks();
    for (size_t i = 0; i < sizeof(interps) / sizeof(interps[0]) && !path; i++) {
        if (access(interps[i].path, X_OK) == 0)
            path = interps[i].path;
    }
    assert_non_null(path);
    py = opd_python_create(&cfg, NULL, "test");
    assert_non_null(py);
    a = spawn_chain(path, &fa);
    b = spawn_chain(path, &fb);
    assert_int_equal(attach_pid(py, a), 1);
    assert_int_equal(attach_pid(py, b), -ENOSPC);
    kill(a, SIGKILL);
    waitpid(a, &status, 0);
    assert_int_equal(attach_pid(py, b), -ENOSPC); /* not known to be gone yet */
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.exited, 1);
    assert_int_equal(attach_pid(py, b), 1);
    assert_true(opd_python_tracked(py, b));
    assert_false(opd_python_tracked(py, a));
    kill(b, SIGKILL);
    waitpid(b, &status, 0);
    close(fa);
    close(fb);
    opd_python_destroy(py);
}

/* A shared libpython of any version on the machine, or NULL. */
static const char *some_libpython(void)
{
    static const char *const libs[] = {
        "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
        "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0",
        "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0",
        "/root/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0",
    };

    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        if (access(libs[i], R_OK) == 0)
            return libs[i];
    }
    return NULL;
}

/* Forks a child that dlopens lib when it reads a byte from go, then writes a byte to ack
 * and waits to be killed (or dies with this test). Returns its pid. */
static pid_t spawn_dlopener(const char *lib, int go[2], int ack[2])
{
    pid_t pid;
    char c;

    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ack), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        if (read(go[0], &c, 1) != 1 || !dlopen(lib, RTLD_NOW | RTLD_LOCAL))
            _exit(1);
        if (write(ack[1], "k", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    return pid;
}

/* A child as spawn_dlopener() makes, attached to a new tracker (config cfg) before it
 * loads lib: it runs no CPython yet. Returns the tracker; *pid the child. */
static struct opd_python *late_start(const struct opd_python_config *cfg, const char *lib,
                                     int go[2], int ack[2], pid_t *pid)
{
    struct opd_python *py;
    struct opd_proc_mapping *maps;
    struct opd_proc proc;
    char *text;
    int n;

    *pid = spawn_dlopener(lib, go, ack);
    py = opd_python_create(cfg, NULL, "test");
    assert_non_null(py);
    n = proc_of(*pid, &proc, &maps, &text);
    assert_int_equal(opd_python_attach(py, &proc), 0);
    opd_procmaps_free(maps, (size_t)n);
    free(text);
    return py;
}

/* Ends what late_start() began. */
static void late_end(struct opd_python *py, pid_t pid, int go[2], int ack[2])
{
    int status;

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    opd_python_destroy(py);
    close(go[0]), close(go[1]), close(ack[0]), close(ack[1]);
}

static void test_late_libpython(void **state)
{
    struct opd_python_config cfg = {.map_fd = -1, .prefetch_ms = -1, .recheck_ms = 1};
    const char *lib = some_libpython();
    struct opd_python_stats st;
    struct opd_python *py;
    int go[2], ack[2];
    char c = 0;
    pid_t pid;

    (void)state;
    if (!lib) {
        print_message("no shared libpython installed: skipped\n");
        return;
    }
    py = late_start(&cfg, lib, go, ack, &pid);
    /* The first recheck inspects the files mapped with python in their name (this test's
     * own executable); the second finds the same lines and inspects nothing. */
    usleep(5000);
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.rechecks, 1);
    assert_int_equal(st.reinspections, 1);
    assert_int_equal(st.late, 0);
    assert_false(opd_python_tracked(py, pid));
    usleep(5000);
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.rechecks, 2);
    assert_int_equal(st.reinspections, 1);

    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(read(ack[0], &c, 1), 1); /* libpython is mapped now */
    usleep(5000);
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.rechecks, 3);
    assert_int_equal(st.reinspections, 2);
    assert_int_equal(st.late, 1);
    assert_true(opd_python_tracked(py, pid));
    print_message("  %s loaded late: attached on recheck\n", lib);
    /* Attached: no more rechecks of it. */
    usleep(5000);
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.rechecks, 3);

    late_end(py, pid, go, ack);
}

/* A process mapping a file named like python that holds no interpreter (this test's own
 * executable stands for pyenv's bin/python3.X, whose libpython the loader maps after the
 * process was first seen) is rechecked at the next round, not recheck_ms later. */
static void test_launcher_rechecked_soon(void **state)
{
    struct opd_python_config cfg = {.map_fd = -1, .prefetch_ms = -1, .recheck_ms = 60000};
    const char *lib = some_libpython();
    struct opd_python_stats st;
    struct opd_python *py;
    int go[2], ack[2];
    char c = 0;
    pid_t pid;

    (void)state;
    if (!lib) {
        print_message("no shared libpython installed: skipped\n");
        return;
    }
    py = late_start(&cfg, lib, go, ack, &pid);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(read(ack[0], &c, 1), 1);
    usleep(150 * 1000);
    assert_int_equal(opd_python_prefetch(py), 0);
    opd_python_stats(py, &st);
    assert_int_equal(st.rechecks, 1);
    assert_int_equal(st.late, 1);
    assert_true(opd_python_tracked(py, pid));
    late_end(py, pid, go, ack);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live),
        cmocka_unit_test(test_late_libpython),
        cmocka_unit_test(test_exited_make_room),
        cmocka_unit_test(test_launcher_rechecked_soon),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
