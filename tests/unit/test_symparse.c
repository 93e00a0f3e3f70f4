/* Parsers behind the symbolizer, on byte buffers: symbol tables, demangling, kallsyms, perf
 * maps, Go pclntab (synthetic tables of each layout) and the ELF reader on hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/demangle.h"
#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/gopclntab.h"
#include "collector/receivers/profiling/ksyms.h"
#include "collector/receivers/profiling/perfmap.h"
#include "collector/receivers/profiling/symtab.h"

static void test_symtab(void **state)
{
    struct opd_symtab t;
    const struct opd_symtab_entry *e;

    (void)state;
    opd_symtab_init(&t);
    assert_null(opd_symtab_lookup(&t, 5, 10));
    assert_int_equal(opd_symtab_add(&t, 0x2000, 0x100, "b", 1, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x1000, 0x1000, "big", 3, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x1100, 0x10, "small", 5, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x3000, 0, "unsized", 7, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x2000, 0, "b_alias_nosize", 14, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x2000, 0x100, "b_later", 7, 0), 0);
    assert_int_equal(opd_symtab_finish(&t), 0);
    assert_int_equal(t.n, 4);
    assert_null(opd_symtab_lookup(&t, 0xfff, 0x100));
    e = opd_symtab_lookup(&t, 0x1000, 0x100);
    assert_string_equal(opd_symtab_name(&t, e), "big");
    e = opd_symtab_lookup(&t, 0x1105, 0x100);
    assert_string_equal(opd_symtab_name(&t, e), "small");
    /* Past the small symbol but still inside the big one. */
    e = opd_symtab_lookup(&t, 0x1200, 0x100);
    assert_string_equal(opd_symtab_name(&t, e), "big");
    e = opd_symtab_lookup(&t, 0x20ff, 0x100);
    assert_string_equal(opd_symtab_name(&t, e), "b_later");
    assert_null(opd_symtab_lookup(&t, 0x2100, 0x100));
    e = opd_symtab_lookup(&t, 0x30ff, 0x100);
    assert_string_equal(opd_symtab_name(&t, e), "unsized");
    assert_null(opd_symtab_lookup(&t, 0x3100, 0x100));
    assert_true(opd_symtab_bytes(&t) > 0);
    opd_symtab_fini(&t);
    opd_symtab_fini(&t);
}

/* ELF aliases: global beats weak beats local, then fewer leading underscores, then shorter. */
static void test_symtab_elf_aliases(void **state)
{
    struct opd_symtab t;

    (void)state;
    opd_symtab_init(&t);
    t.elf_rank = true;
    assert_int_equal(opd_symtab_add(&t, 0x100, 8, "_IO_printf", 10, 2), 0);
    assert_int_equal(opd_symtab_add(&t, 0x100, 8, "printf", 6, 2), 0);
    assert_int_equal(opd_symtab_add(&t, 0x100, 8, "__printf_local", 14, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x200, 8, "strong", 6, 2), 0);
    assert_int_equal(opd_symtab_add(&t, 0x200, 8, "w", 1, 1), 0);
    assert_int_equal(opd_symtab_add(&t, 0x300, 0, "unsized_global", 14, 2), 0);
    assert_int_equal(opd_symtab_add(&t, 0x300, 4, "sized_local", 11, 0), 0);
    assert_int_equal(opd_symtab_finish(&t), 0);
    assert_int_equal(t.n, 3);
    assert_string_equal(opd_symtab_name(&t, opd_symtab_lookup(&t, 0x104, 0)), "printf");
    assert_string_equal(opd_symtab_name(&t, opd_symtab_lookup(&t, 0x204, 0)), "strong");
    assert_string_equal(opd_symtab_name(&t, opd_symtab_lookup(&t, 0x302, 0)), "sized_local");
    opd_symtab_fini(&t);
}

/* A byte limit stops a table from growing: parsers keep what fits. */
static void test_symtab_limit(void **state)
{
    struct opd_symtab t;
    char text[64 * 40];
    size_t o = 0;
    int i, n;

    (void)state;
    for (i = 0; i < 64; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%x 10 jit_function_%02d\n",
                              0x1000 + i * 0x10, i);
    opd_symtab_init(&t);
    t.limit = 512;
    n = opd_perfmap_parse(text, o, &t);
    assert_true(n > 0 && n < 64);
    assert_true(opd_symtab_bytes(&t) < 1024);
    assert_non_null(opd_symtab_lookup(&t, 0x1001, 1));
    for (i = 0; i < 1000 && opd_symtab_add(&t, 0x9000 + (uint64_t)i, 1, "more", 4, 0) == 0; i++)
        ;
    assert_true(i < 1000);
    assert_true(opd_symtab_bytes(&t) < 1024);
    opd_symtab_fini(&t);
}

static void test_demangle(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"_ZN3foo3barEv", "foo::bar()"},
        {"_ZNSt6vectorIiSaIiEE9push_backERKi",
         "std::vector<int, std::allocator<int> >::push_back(int const&)"},
        {"_ZN4core3ptr13drop_in_place17h1234567890abcdefE", "core::ptr::drop_in_place"},
        {"_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example"},
        {"_ZN3opd7fixture4spinEi", "opd::fixture::spin(int)"},
    };
    static const char *bad[] = {"main", "_Z", "_ZZZ", "", "_R", "_Zx"};
    char *long_name;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = opd_demangle(cases[i].in);

        assert_non_null(d);
        assert_string_equal(d, cases[i].out);
        opd_free(d);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(opd_demangle(bad[i]));
        assert_int_equal(errno, EINVAL);
    }
    long_name = malloc(10000);
    memset(long_name, 'N', 9999);
    memcpy(long_name, "_ZN", 3);
    long_name[9999] = '\0';
    assert_null(opd_demangle(long_name));
    free(long_name);
    opd_mem_fail_countdown = 0;
    assert_null(opd_demangle("_ZN3foo3barEv"));
    opd_mem_fail_countdown = -1;
    assert_int_equal(errno, ENOMEM);
}

static void test_symtab_demangled(void **state)
{
    struct opd_symtab t;
    const struct opd_symtab_entry *e;

    (void)state;
    opd_symtab_init(&t);
    assert_int_equal(opd_symtab_add(&t, 0x10, 4, "_ZN3foo3barEv", 13, 0), 0);
    assert_int_equal(opd_symtab_add(&t, 0x20, 4, "plain", 5, 0), 0);
    assert_int_equal(opd_symtab_finish(&t), 0);
    e = opd_symtab_lookup(&t, 0x11, 0);
    assert_string_equal(opd_symtab_demangled(&t, e), "foo::bar()");
    assert_string_equal(opd_symtab_demangled(&t, e), "foo::bar()");
    e = opd_symtab_lookup(&t, 0x21, 0);
    assert_string_equal(opd_symtab_demangled(&t, e), "plain");
    opd_symtab_fini(&t);
}

static void test_ksyms_parse(void **state)
{
    static const char text[] = "ffffffff81000000 T _stext\n"
                               "ffffffff81000100 t helper\n"
                               "ffffffff81000180 d data\n"
                               "zzzz T bad\n"
                               "ffffffff81000200 T\n"
                               "ffffffffc0000000 t modfn\t[mymod]\n"
                               "ffffffffc0000100 t modfn2\t[mymod]\n"
                               "ffffffffc0001000 t other\t[other_mod]";
    struct opd_symtab t;
    const struct opd_symtab_entry *e;

    (void)state;
    opd_symtab_init(&t);
    assert_int_equal(opd_ksyms_parse(text, strlen(text), &t), 5);
    e = opd_symtab_lookup(&t, 0xffffffff81000190ull, 1 << 20);
    assert_string_equal(opd_symtab_name(&t, e), "helper");
    assert_string_equal(opd_ksyms_module(&t, e), "");
    e = opd_symtab_lookup(&t, 0xffffffffc0000104ull, 1 << 20);
    assert_string_equal(opd_symtab_name(&t, e), "modfn2");
    assert_string_equal(opd_ksyms_module(&t, e), "[mymod]");
    e = opd_symtab_lookup(&t, 0xffffffffc0001000ull, 1 << 20);
    assert_string_equal(opd_ksyms_module(&t, e), "[other_mod]");
    opd_symtab_fini(&t);

    opd_symtab_init(&t);
    assert_int_equal(opd_ksyms_parse("0000000000000000 T a\n0000000000000000 t b\n", 42, &t),
                     -EPERM);
    opd_symtab_fini(&t);
    opd_symtab_init(&t);
    assert_int_equal(opd_ksyms_parse("", 0, &t), 0);
    opd_symtab_fini(&t);
}

static void test_perfmap_parse(void **state)
{
    static const char text[] = "7f0000001000 40 LazyCompile:~main /app/main.js:1\n"
                               "0x7f0000002000 0x20 py::fn:/x.py\r\n"
                               "7f0000003000 0 zero_size\n"
                               "7f0000004000 10\n"
                               "not a line\n"
                               "ffffffffffffffff 10 wraps\n"
                               "7f0000001000 40 LazyCompile:*main /app/main.js:1\n"
                               "7f0000005000 8 last line without newline";
    struct opd_symtab t;
    const struct opd_symtab_entry *e;

    (void)state;
    opd_symtab_init(&t);
    assert_int_equal(opd_perfmap_parse(text, strlen(text), &t), 4);
    e = opd_symtab_lookup(&t, 0x7f0000001010ull, 1);
    assert_non_null(e);
    assert_string_equal(opd_symtab_name(&t, e), "LazyCompile:*main /app/main.js:1");
    e = opd_symtab_lookup(&t, 0x7f000000201full, 1);
    assert_string_equal(opd_symtab_name(&t, e), "py::fn:/x.py");
    assert_null(opd_symtab_lookup(&t, 0x7f0000002020ull, 1));
    e = opd_symtab_lookup(&t, 0x7f0000005004ull, 1);
    assert_string_equal(opd_symtab_name(&t, e), "last line without newline");
    opd_symtab_fini(&t);
}

/* Streaming load: a map bigger than one read chunk, lines split across chunk boundaries. */
static void test_perfmap_load_fd(void **state)
{
    char path[] = "/tmp/opd_perfmap_XXXXXX";
    struct opd_symtab t;
    const struct opd_symtab_entry *e;
    FILE *f;
    int fd = mkstemp(path), i;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    for (i = 0; i < 60000; i++)
        fprintf(f, "%x 10 LazyCompile:~function_number_%d /some/long/path/to/a/module.js:%d\n",
                0x100000 + i * 0x10, i, i);
    fprintf(f, "deadbeef00 20 last_without_newline");
    fclose(f);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    opd_symtab_init(&t);
    assert_int_equal(opd_perfmap_load_fd(fd, &t), 60001);
    close(fd);
    e = opd_symtab_lookup(&t, 0x100000 + 44444 * 0x10 + 3, 1);
    assert_non_null(e);
    assert_string_equal(opd_symtab_name(&t, e),
                        "LazyCompile:~function_number_44444 /some/long/path/to/a/module.js:44444");
    e = opd_symtab_lookup(&t, 0xdeadbeef10ull, 1);
    assert_string_equal(opd_symtab_name(&t, e), "last_without_newline");
    opd_symtab_fini(&t);
    unlink(path);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* A two-function table in the 1.18+ layout: header, names, then functab + _func records. */
static size_t make_pclntab_118(uint8_t *b, uint32_t magic, uint64_t text)
{
    const uint64_t names = 72, pcln = 88;

    memset(b, 0, 256);
    put32(b, magic);
    b[6] = 1;
    b[7] = 8;
    put64(b + 8, 2);      /* nfunc */
    put64(b + 16, 0);     /* nfiles */
    put64(b + 24, text);  /* textStart */
    put64(b + 32, names); /* funcnameOffset */
    put64(b + 40, 0);     /* cuOffset */
    put64(b + 48, 0);     /* filetabOffset */
    put64(b + 56, 0);     /* pctabOffset */
    put64(b + 64, pcln);  /* pclnOffset */
    memcpy(b + names, "main.a\0main.b\0", 14);
    put32(b + pcln + 0, 0x0); /* entryoff */
    put32(b + pcln + 4, 24);  /* funcoff */
    put32(b + pcln + 8, 0x40);
    put32(b + pcln + 12, 40);
    put32(b + pcln + 16, 0x90); /* end */
    put32(b + pcln + 24, 0x0);  /* _func a: entryOff, nameOff */
    put32(b + pcln + 28, 0);
    put32(b + pcln + 40, 0x40); /* _func b */
    put32(b + pcln + 44, 7);
    return pcln + 56;
}

static void test_gopclntab(void **state)
{
    static const uint32_t magics[] = {OPD_GO_MAGIC_118, OPD_GO_MAGIC_120};
    uint8_t b[256];
    struct opd_symtab t;
    const struct opd_symtab_entry *e;
    size_t len, i, cut;

    (void)state;
    for (i = 0; i < 2; i++) {
        len = make_pclntab_118(b, magics[i], 0x401000);
        assert_true(opd_gopclntab_probe(b, len));
        opd_symtab_init(&t);
        assert_int_equal(opd_gopclntab_parse(b, len, 0x999000, &t), 2);
        assert_int_equal(opd_symtab_finish(&t), 0);
        e = opd_symtab_lookup(&t, 0x401010, 0);
        assert_non_null(e);
        assert_string_equal(opd_symtab_name(&t, e), "main.a");
        assert_int_equal(e->size, 0x40);
        e = opd_symtab_lookup(&t, 0x40108f, 0);
        assert_string_equal(opd_symtab_name(&t, e), "main.b");
        assert_null(opd_symtab_lookup(&t, 0x401090, 0));
        opd_symtab_fini(&t);
    }
    /* textStart 0 (PIE): the caller's text address is used. */
    len = make_pclntab_118(b, OPD_GO_MAGIC_120, 0);
    opd_symtab_init(&t);
    assert_int_equal(opd_gopclntab_parse(b, len, 0x1000, &t), 2);
    assert_int_equal(opd_symtab_finish(&t), 0);
    assert_string_equal(opd_symtab_name(&t, opd_symtab_lookup(&t, 0x1041, 0)), "main.b");
    opd_symtab_fini(&t);
    /* Every truncation fails cleanly or yields fewer functions. */
    for (cut = 0; cut < len; cut++) {
        int n;

        opd_symtab_init(&t);
        n = opd_gopclntab_parse(b, cut, 0, &t);
        assert_true(n == -EINVAL || (n >= 1 && n <= 2));
        opd_symtab_fini(&t);
    }
    /* Bad magic, pointer size, huge nfunc. */
    len = make_pclntab_118(b, 0xfffffffb, 0);
    assert_false(opd_gopclntab_probe(b, len));
    len = make_pclntab_118(b, OPD_GO_MAGIC_120, 0);
    b[7] = 3;
    opd_symtab_init(&t);
    assert_int_equal(opd_gopclntab_parse(b, len, 0, &t), -EINVAL);
    b[7] = 8;
    put64(b + 8, 1ull << 60);
    assert_int_equal(opd_gopclntab_parse(b, len, 0, &t), -EINVAL);
    opd_symtab_fini(&t);
}

/* The ELF reader on this very binary, then on thousands of damaged copies of it. */
static void test_elf_hostile(void **state)
{
    FILE *f = fopen("/proc/self/exe", "rb");
    uint8_t *orig, *buf;
    long len;
    unsigned seed = 12345;
    int i;

    (void)state;
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    orig = malloc((size_t)len);
    buf = malloc((size_t)len);
    assert_int_equal(fread(orig, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    {
        struct opd_elf_info info = {0};
        struct opd_symtab syms, go;
        struct Elf *elf = opd_elf_open_mem(orig, (size_t)len);

        opd_symtab_init(&syms);
        opd_symtab_init(&go);
        assert_non_null(elf);
        assert_int_equal(
            opd_elf_read(elf, OPD_ELF_HEADERS | OPD_ELF_SYMBOLS | OPD_ELF_GO, &info, &syms, &go),
            0);
        assert_true(info.n_loads >= 2);
        assert_true(info.has_symtab);
        assert_true(info.build_id_len == 20);
        assert_false(info.is_go);
        assert_true(syms.n > 10);
        assert_int_equal(go.n, 0);
        opd_symtab_fini(&syms);
        opd_symtab_fini(&go);
        opd_elf_info_fini(&info);
        opd_elf_close(elf);
    }
    for (i = 0; i < 600; i++) {
        struct opd_elf_info info = {0};
        struct opd_symtab syms, go;
        struct Elf *elf;
        size_t n = (size_t)len, k;

        memcpy(buf, orig, (size_t)len);
        if (i % 3 == 0)
            n = (size_t)(rand_r(&seed) % (unsigned)len);
        for (k = 0; k < (size_t)(i % 7) * 4; k++) {
            /* Damage the headers most: that is where the offsets live. */
            size_t at =
                (k & 1) ? (size_t)(rand_r(&seed) % 256) : (size_t)(rand_r(&seed) % (unsigned)len);

            if (at < n)
                buf[at] = (uint8_t)rand_r(&seed);
        }
        opd_symtab_init(&syms);
        opd_symtab_init(&go);
        elf = opd_elf_open_mem(buf, n);
        if (elf) {
            int err = opd_elf_read(elf, OPD_ELF_HEADERS | OPD_ELF_SYMBOLS | OPD_ELF_GO, &info,
                                   &syms, &go);

            assert_true(err == 0 || err == -EINVAL);
            opd_elf_close(elf);
        }
        opd_symtab_fini(&syms);
        opd_symtab_fini(&go);
        opd_elf_info_fini(&info);
    }
    assert_null(opd_elf_open_mem("not an elf", 10));
    free(orig);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symtab),       cmocka_unit_test(test_symtab_elf_aliases),
        cmocka_unit_test(test_symtab_limit), cmocka_unit_test(test_perfmap_load_fd),
        cmocka_unit_test(test_demangle),     cmocka_unit_test(test_symtab_demangled),
        cmocka_unit_test(test_ksyms_parse),  cmocka_unit_test(test_perfmap_parse),
        cmocka_unit_test(test_gopclntab),    cmocka_unit_test(test_elf_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
