/* CPython support, pure parts: line table decoders against every instruction of real code
 * objects (tables dumped by each interpreter, tests/data/python/lines_3.X.txt), string
 * and code object reading from a fake address space, the stack merge, and detection in
 * Debian's python3 binary when it is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/python.bpf.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/python/pycode.h"
#include "collector/receivers/profiling/python/pyelf.h"
#include "collector/receivers/profiling/python/pylayout.h"
#include "collector/receivers/profiling/python/python.h"
#include "collector/receivers/profiling/python/pywalk.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Checks every (index, line) of one dump file; returns the number of offsets compared. */
static size_t check_dump(const char *name, unsigned minor)
{
    const struct opd_py_layout *l = opd_py_layout_find(3, minor);
    char path[1024];
    char *buf = NULL;
    size_t cap = 0, compared = 0, mismatches = 0;
    FILE *f;

    assert_non_null(l);
    snprintf(path, sizeof(path), "%s/tests/data/python/%s",
             getenv("OPD_SOURCE_DIR") ? getenv("OPD_SOURCE_DIR") : ".", name);
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&buf, &cap, f) > 0) {
        struct opd_py_code c = {0};
        char *hex = strchr(buf, ' '), *pairs;
        size_t hl;

        assert_non_null(hex);
        *hex++ = '\0';
        pairs = strchr(hex, ' ');
        assert_non_null(pairs);
        *pairs++ = '\0';
        c.firstline = atoi(buf);
        hl = strcmp(hex, "-") == 0 ? 0 : strlen(hex);
        c.linetable = malloc(hl / 2 + 1);
        c.lt_len = hl / 2;
        for (size_t i = 0; i < c.lt_len; i++)
            c.linetable[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        for (char *tok = strtok(pairs, ",\n"); tok; tok = strtok(NULL, ",\n")) {
            unsigned idx;
            int line;

            assert_int_equal(sscanf(tok, "%u:%d", &idx, &line), 2);
            if (opd_py_code_line(l, &c, idx) != line) {
                if (mismatches++ < 5)
                    print_message("%s: firstline %d index %u: want %d got %d\n", name,
                                  c.firstline, idx, line, opd_py_code_line(l, &c, idx));
            }
            compared++;
        }
        free(c.linetable);
    }
    free(buf);
    fclose(f);
    assert_int_equal(mismatches, 0);
    return compared;
}

static void test_lines_310(void **state)
{
    (void)state;
    assert_true(check_dump("lines_3.10.txt", 10) > 1000);
}

static void test_lines_311(void **state)
{
    (void)state;
    assert_true(check_dump("lines_3.11.txt", 11) > 1000);
}

static void test_lines_312(void **state)
{
    (void)state;
    assert_true(check_dump("lines_3.12.txt", 12) > 1000);
}

static void test_lines_313(void **state)
{
    (void)state;
    assert_true(check_dump("lines_3.13.txt", 13) > 1000);
}

static void test_lines_garbage(void **state)
{
    /* Truncated or random tables end the walk with the first line, never overrun. */
    static const uint8_t junk[] = {0xf0, 0xff, 0xff, 0xff, 0x70, 0x01};
    static const uint8_t trunc[] = {0xf0};

    (void)state;
    assert_int_equal(opd_py_line_311(junk, sizeof(junk), 7, 3), 7);
    assert_int_equal(opd_py_line_311(trunc, sizeof(trunc), 9, 100), 9);
    assert_int_equal(opd_py_line_310(trunc, sizeof(trunc), 9, 0), 9);
    assert_int_equal(opd_py_line_311(NULL, 0, 5, 0), 5);
}

/* ---- a fake address space --------------------------------------------------------- */

#define FAKE_BASE 0x10000ULL
static uint8_t fake[8192];

static int fake_read(void *arg, uint64_t addr, void *buf, size_t len)
{
    (void)arg;
    if (addr < FAKE_BASE || addr + len > FAKE_BASE + sizeof(fake))
        return -EFAULT;
    memcpy(buf, fake + (addr - FAKE_BASE), len);
    return 0;
}

static void put64(uint64_t addr, uint64_t v)
{
    memcpy(fake + (addr - FAKE_BASE), &v, 8);
}

static void put32(uint64_t addr, uint32_t v)
{
    memcpy(fake + (addr - FAKE_BASE), &v, 4);
}

/* A compact str at addr: kind 1/2/4, ascii or not. */
static void put_str(const struct opd_py_layout *l, uint64_t addr, const void *data, size_t nchars,
                    unsigned kind, int ascii)
{
    put64(addr + l->str_length, nchars);
    put32(addr + l->str_state, (kind << 2) | 0x20 | (ascii ? 0x40 : 0));
    memcpy(fake + (addr - FAKE_BASE) + (ascii ? l->str_ascii_data : l->str_compact_data), data,
           nchars * kind);
}

static void test_read_str(void **state)
{
    const struct opd_py_layout *l = opd_py_layout_find(3, 11);
    static const uint16_t ucs2[] = {0x3b1, 'x', 0x4e2d};
    static const uint8_t latin1[] = {'c', 0xe9};
    char out[OPD_PY_STR_MAX];

    (void)state;
    memset(fake, 0, sizeof(fake));
    put_str(l, FAKE_BASE + 0x100, "hello", 5, 1, 1);
    assert_int_equal(opd_py_read_str(l, fake_read, NULL, FAKE_BASE + 0x100, out, sizeof(out)), 0);
    assert_string_equal(out, "hello");
    put_str(l, FAKE_BASE + 0x200, ucs2, 3, 2, 0);
    assert_int_equal(opd_py_read_str(l, fake_read, NULL, FAKE_BASE + 0x200, out, sizeof(out)), 0);
    assert_string_equal(out, "\xce\xb1x\xe4\xb8\xad");
    put_str(l, FAKE_BASE + 0x300, latin1, 2, 1, 0);
    assert_int_equal(opd_py_read_str(l, fake_read, NULL, FAKE_BASE + 0x300, out, sizeof(out)), 0);
    assert_string_equal(out, "c\xc3\xa9");
    /* Not compact (state 0), unmapped, absurd length: refused. */
    assert_int_equal(opd_py_read_str(l, fake_read, NULL, FAKE_BASE + 0x400, out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(opd_py_read_str(l, fake_read, NULL, 0x8, out, sizeof(out)), -EFAULT);
    put64(FAKE_BASE + 0x500 + l->str_length, 1ULL << 40);
    put32(FAKE_BASE + 0x500 + l->str_state, 0x64);
    assert_int_equal(opd_py_read_str(l, fake_read, NULL, FAKE_BASE + 0x500, out, sizeof(out)),
                     -EINVAL);
    /* A long str is truncated, still terminated. */
    {
        char big[600];

        memset(big, 'a', sizeof(big));
        put_str(l, FAKE_BASE + 0x600, big, sizeof(big), 1, 1);
        assert_int_equal(
            opd_py_read_str(l, fake_read, NULL, FAKE_BASE + 0x600, out, sizeof(out)), 0);
        assert_int_equal(strlen(out), OPD_PY_STR_MAX - 1);
    }
}

static void test_code_read(void **state)
{
    const struct opd_py_layout *l = opd_py_layout_find(3, 12);
    const uint64_t code = FAKE_BASE + 0x1000, type = 0xdead000;
    /* 3.11+ table: one entry, code 13 (no columns), 4 units, line delta +2 (varint 4). */
    static const uint8_t lt[] = {0x80 | (13 << 3) | 3, 4, 0x80 | (10 << 3) | 1, 0, 0};
    struct opd_py_code c;

    (void)state;
    memset(fake, 0, sizeof(fake));
    put64(code + 8, type);
    put32(code + l->code_firstlineno, 40);
    put64(code + l->code_name, FAKE_BASE + 0x100);
    put64(code + l->code_qualname, FAKE_BASE + 0x200);
    put64(code + l->code_filename, FAKE_BASE + 0x300);
    put64(code + l->code_linetable, FAKE_BASE + 0x400);
    put_str(l, FAKE_BASE + 0x100, "meth", 4, 1, 1);
    put_str(l, FAKE_BASE + 0x200, "K.meth", 6, 1, 1);
    put_str(l, FAKE_BASE + 0x300, "/app/k.py", 9, 1, 1);
    put64(FAKE_BASE + 0x400 + l->bytes_size, sizeof(lt));
    memcpy(fake + 0x400 + l->bytes_data, lt, sizeof(lt));

    assert_int_equal(opd_py_code_read(l, fake_read, NULL, code, type, &c), 0);
    assert_string_equal(c.name, "meth");
    assert_string_equal(c.qualname, "K.meth");
    assert_string_equal(c.file, "/app/k.py");
    assert_int_equal(c.firstline, 40);
    assert_int_equal(opd_py_code_line(l, &c, 0), 42);
    assert_int_equal(opd_py_code_line(l, &c, 3), 42);
    assert_int_equal(opd_py_code_line(l, &c, 4), 42);
    assert_int_equal(opd_py_code_line(l, &c, 9), 40); /* past the table */
    opd_py_code_fini(&c);
    /* Another type (a freed and reused address): refused. */
    assert_int_equal(opd_py_code_read(l, fake_read, NULL, code, type + 8, &c), -EINVAL);
    opd_py_code_fini(&c);
    /* A line table claiming 1 GiB: names kept, no lines. */
    put64(FAKE_BASE + 0x400 + l->bytes_size, 1ULL << 30);
    assert_int_equal(opd_py_code_read(l, fake_read, NULL, code, type, &c), 0);
    assert_null(c.linetable);
    assert_int_equal(opd_py_code_line(l, &c, 2), 40);
    opd_py_code_fini(&c);
}

/* ---- merging ----------------------------------------------------------------------- */

/* A read that fails like process_vm_readv on a process that is gone. */
static int gone_read(void *arg, uint64_t addr, void *buf, size_t len)
{
    (void)arg, (void)addr, (void)buf, (void)len;
    return -ESRCH;
}

/* The read-ahead walk over two threads of a fake 3.12 and 3.13 process: shims skipped,
 * 3.13 non-code executables skipped, duplicates listed once, a frame cycle bounded, an
 * unreadable thread ending its own walk only, the process gone reported. */
static void check_walk(unsigned minor)
{
    const struct opd_py_layout *l = opd_py_layout_find(3, minor);
    const uint64_t rt = FAKE_BASE, interp = FAKE_BASE + 0x300, t1 = FAKE_BASE + 0x1000,
                   t2 = FAKE_BASE + 0x1100, t3 = FAKE_BASE + 0x1200, cf = FAKE_BASE + 0x1300,
                   fr = FAKE_BASE + 0x1400, code_type = 0x7777, other_type = 0x8888;
    const uint64_t c1 = FAKE_BASE + 0x1800, c2 = FAKE_BASE + 0x1900, none = FAKE_BASE + 0x1a00;
    uint64_t codes[8];
    int n;

    assert_non_null(l);
    memset(fake, 0, sizeof(fake));
    put64(rt + l->runtime_interp_head, interp);
    put64(interp + l->interp_threads_head, t1);
    put64(c1 + 8, code_type);
    put64(c2 + 8, code_type);
    put64(none + 8, other_type);
    /* Thread 1: c1 <- shim(c2) <- none (3.13 only: else a code) <- c1 <- cycle to itself. */
    put64(t1 + l->tstate_next, t2);
    if (l->cframe_current != OPD_PYL_NONE) {
        put64(t1 + l->tstate_frame, cf);
        put64(cf + l->cframe_current, fr);
    } else {
        put64(t1 + l->tstate_frame, fr);
    }
    put64(fr + l->frame_code, c1);
    put64(fr + l->frame_back, fr + 0x80);
    put64(fr + 0x80 + l->frame_code, c2);
    fake[fr + 0x80 + l->frame_owner - FAKE_BASE] = 3;
    put64(fr + 0x80 + l->frame_back, fr + 0x100);
    put64(fr + 0x100 + l->frame_code, none);
    put64(fr + 0x100 + l->frame_back, fr + 0x180);
    put64(fr + 0x180 + l->frame_code, c1);
    put64(fr + 0x180 + l->frame_back, fr + 0x180);
    /* Thread 2: its frame pointer is unreadable; thread 3: c2. */
    put64(t2 + l->tstate_next, t3);
    put64(t2 + l->tstate_frame, 0x10);
    put64(t3 + l->tstate_next, 0);
    if (l->cframe_current != OPD_PYL_NONE) {
        put64(t3 + l->tstate_frame, cf + 0x40);
        put64(cf + 0x40 + l->cframe_current, fr + 0x200);
    } else {
        put64(t3 + l->tstate_frame, fr + 0x200);
    }
    put64(fr + 0x200 + l->frame_code, c2);

    n = opd_py_walk_codes(l, fake_read, NULL, rt, code_type, codes, 8);
    if (minor >= 13) {
        assert_int_equal(n, 2);
        assert_int_equal(codes[0], c1);
        assert_int_equal(codes[1], c2);
    } else {
        assert_int_equal(n, 3);
        assert_int_equal(codes[0], c1);
        assert_int_equal(codes[1], none);
        assert_int_equal(codes[2], c2);
    }
    /* cap bounds what is stored. */
    assert_int_equal(opd_py_walk_codes(l, fake_read, NULL, rt, code_type, codes, 1), 1);
    assert_int_equal(codes[0], c1);
    /* No interpreter yet, and a process that is gone. */
    put64(rt + l->runtime_interp_head, 0);
    assert_int_equal(opd_py_walk_codes(l, fake_read, NULL, rt, code_type, codes, 8), 0);
    assert_int_equal(opd_py_walk_codes(l, gone_read, NULL, rt, code_type, codes, 8), -ESRCH);
}

static void test_walk(void **state)
{
    (void)state;
    check_walk(12);
    check_walk(13);
}

static bool fake_eval(void *arg, uint64_t pc)
{
    (void)arg;
    return pc >= 0x5000 && pc < 0x6000;
}

#define PY(code, entry) (OPD_PY_TAG | ((entry) ? OPD_PY_ENTRY : 0) | (uint64_t)(code))

static void test_merge(void **state)
{
    /* Native: leaf helper, eval, C function, eval, main. Python: segment 1 (a, b entry),
     * segment 2 (c entry). */
    const uint64_t ip[] = {0x100, 0x5010, 0x200, 0x5020, 0x300,
                           PY(0xa0, 0), PY(0xb0, 1), PY(0xc0, 1)};
    const uint64_t want[] = {0x100, PY(0xa0, 0), PY(0xb0, 1), 0x5010, 0x200,
                             PY(0xc0, 1), 0x5020, 0x300};
    /* The native walk ended at the first eval frame: the rest goes at the root. */
    const uint64_t cut[] = {0x5010, PY(0xa0, 1), PY(0xb0, 1)};
    const uint64_t cut_want[] = {PY(0xa0, 1), 0x5010, PY(0xb0, 1)};
    const uint64_t plain[] = {0x1, 0x2, 0x3};
    /* A tagged garbage word among the native frames is dropped, not taken as Python. */
    const uint64_t junk[] = {0x100, PY(0xd0, 0), 0x5010, PY(0xa0, 1)};
    const uint64_t junk_want[] = {0x100, PY(0xa0, 1), 0x5010};
    uint64_t out[16];
    size_t n;

    (void)state;
    n = opd_python_merge_with(ip, 8, fake_eval, NULL, out, 16);
    assert_int_equal(n, 8);
    assert_memory_equal(out, want, sizeof(want));
    n = opd_python_merge_with(cut, 3, fake_eval, NULL, out, 16);
    assert_int_equal(n, 3);
    assert_memory_equal(out, cut_want, sizeof(cut_want));
    n = opd_python_merge_with(plain, 3, fake_eval, NULL, out, 16);
    assert_int_equal(n, 3);
    assert_memory_equal(out, plain, sizeof(plain));
    n = opd_python_merge_with(junk, 4, fake_eval, NULL, out, 16);
    assert_int_equal(n, 3);
    assert_memory_equal(out, junk_want, sizeof(junk_want));
    /* A short output buffer is never overrun. */
    n = opd_python_merge_with(ip, 8, fake_eval, NULL, out, 4);
    assert_int_equal(n, 4);
}

static void test_layouts(void **state)
{
    (void)state;
    for (unsigned m = 10; m <= 13; m++) {
        const struct opd_py_layout *l = opd_py_layout_find(3, m);

        assert_non_null(l);
        assert_int_equal(l->minor, m);
        assert_true(l->code_linetable + 8 <= 0xa0); /* inside the header opd_py_code_read reads */
        assert_true(l->code_firstlineno + 4 <= 0xa0);
    }
    assert_null(opd_py_layout_find(3, 9));
    assert_null(opd_py_layout_find(3, 14));
    assert_null(opd_py_layout_find(2, 7));
}

static void test_version_from_name(void **state)
{
    unsigned ma, mi;

    (void)state;
    assert_int_equal(opd_py_version_from_name("/usr/bin/python3.11", &ma, &mi), 0);
    assert_int_equal(mi, 11);
    assert_int_equal(opd_py_version_from_name("/x/libpython3.13d.so.1.0", &ma, &mi), 0);
    assert_int_equal(mi, 13);
    assert_int_equal(opd_py_version_from_name("/usr/bin/python3", &ma, &mi), -EINVAL);
    assert_int_equal(opd_py_version_from_name("/usr/bin/python2.7", &ma, &mi), -EINVAL);
    assert_int_equal(opd_py_version_from_name("libc.so.6", &ma, &mi), -EINVAL);
}

static void test_elf_debian(void **state)
{
    struct opd_py_elf e;

    (void)state;
    if (access("/usr/bin/python3.11", R_OK) != 0) {
        print_message("no /usr/bin/python3.11: skipped\n");
        skip();
    }
    assert_int_equal(opd_py_elf_inspect("/usr/bin/python3.11", &e), 0);
    assert_int_equal(e.major, 3);
    assert_int_equal(e.minor, 11);
    assert_true(e.runtime != 0 && e.code_type != 0);
    assert_true(e.eval_start != 0 && e.eval_end > e.eval_start + 1000);
    /* Not CPython. */
    assert_int_equal(opd_py_elf_inspect("/bin/sh", &e), -ENOENT);
    assert_true(opd_py_elf_inspect("/nonexistent/python3.11", &e) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_310),   cmocka_unit_test(test_lines_311),
        cmocka_unit_test(test_lines_312),   cmocka_unit_test(test_lines_313),
        cmocka_unit_test(test_lines_garbage), cmocka_unit_test(test_read_str),
        cmocka_unit_test(test_code_read),   cmocka_unit_test(test_merge),
        cmocka_unit_test(test_layouts),     cmocka_unit_test(test_version_from_name),
        cmocka_unit_test(test_elf_debian),  cmocka_unit_test(test_walk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
