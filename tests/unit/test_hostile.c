/* Hostile binaries without BPF: the crafted files of tests/data/hostile (truncated,
 * oversized and self-referential .eh_frame, .gopclntab and .symtab, a Py_Version that
 * wraps, and the fuzz_ehframe reproducer crash-03f79b6d) go through every reader the daemon
 * points at a mapped file: the unwind table builder, the ELF/symbol reader, CPython
 * detection, and the symbolizer on this very process after it maps them PROT_EXEC.
 * Nothing may crash or read out of bounds (this runs under ASan+UBSan in build-asan); the
 * control file is symbolized, every hostile one comes out as a bare address with the
 * rejection counted by reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/pyelf.h"
#include "collector/receivers/profiling/symbolizer.h"
#include "collector/receivers/profiling/unwind/elf_cfi.h"
#include "collector/telemetry.h"
#include "tests/data/hostile/hostile_elf.h"

#define REPRO OPD_HOSTILE_NKINDS /* index of the reproducer after the generated kinds */

static char dir[PATH_MAX];
static char paths[OPD_HOSTILE_NKINDS + 1][PATH_MAX + 64];

static void write_file(const char *path, const uint8_t *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

/* The fuzz_ehframe reproducer (a selector byte, then an ELF file), with spin copied to
 * offset 0x1000 as the daemon test runs it. */
static void write_repro(const char *path)
{
    char src[PATH_MAX + 64];
    const char *s = getenv("OPD_SOURCE_DIR");
    uint8_t *data, *elf;
    struct stat st;
    size_t len;
    int fd;

    snprintf(src, sizeof(src), "%s/tests/fuzz/regress/ehframe/crash-03f79b6d", s ? s : ".");
    fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    data = malloc((size_t)st.st_size);
    assert_non_null(data);
    assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
    close(fd);
    elf = opd_hostile_repro_elf(data, (size_t)st.st_size, &len);
    assert_non_null(elf);
    write_file(path, elf, len);
    free(data);
}

static int setup(void **state)
{
    static uint8_t buf[OPD_HOSTILE_SIZE];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/opd_hostile_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    for (int k = 0; k < OPD_HOSTILE_NKINDS; k++) {
        if (opd_hostile_build((enum opd_hostile_kind)k, buf))
            return -1;
        snprintf(paths[k], sizeof(paths[k]), "%s/%s.so", dir, opd_hostile_name(k));
        write_file(paths[k], buf, sizeof(buf));
    }
    snprintf(paths[REPRO], sizeof(paths[REPRO]), "%s/repro-03f79b6d.so", dir);
    write_repro(paths[REPRO]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k <= REPRO; k++)
        unlink(paths[k]);
    rmdir(dir);
    return 0;
}

static bool is_ehframe_kind(int k)
{
    return k == OPD_HOSTILE_EHFRAME_TRUNCATED || k == OPD_HOSTILE_EHFRAME_OVERSIZED ||
           k == OPD_HOSTILE_EHFRAME_SELFREF || k == REPRO;
}

/* The unwind table builder: the control's table describes spin; no hostile .eh_frame
 * yields a table (and the others' sound .eh_frame still does). */
static void test_unwind_tables(void **state)
{
    (void)state;
    for (int k = 0; k <= REPRO; k++) {
        struct opd_unwind_table t;
        int err = opd_elf_cfi_build(paths[k], NULL, &t, NULL);

        if (is_ehframe_kind(k)) {
            if (err == 0)
                fail_msg("%s: a table was built from a hostile .eh_frame", paths[k]);
            assert_true(err == -ENOENT || err == -EINVAL || err == -ENOEXEC);
            continue;
        }
        assert_int_equal(err, 0);
        {
            const struct opd_unwind_row *r = opd_unwind_table_lookup(&t, OPD_HOSTILE_CODE_OFF);

            assert_non_null(r);
            assert_int_equal(r->cfa_type, OPD_CFA_REG);
            assert_int_equal(r->cfa_off, 8);
        }
        opd_unwind_table_fini(&t);
    }
}

/* The ELF/symbol reader: each hostile symbol or Go table is flagged, and nothing names
 * the code at 0x1000 except the control's symbol. */
static void test_symbol_reader(void **state)
{
    static const unsigned want[OPD_HOSTILE_NKINDS + 1] = {
        [OPD_HOSTILE_GOPCLNTAB_TRUNCATED] = OPD_ELF_BAD_GOPCLNTAB,
        [OPD_HOSTILE_GOPCLNTAB_OVERSIZED] = OPD_ELF_BAD_GOPCLNTAB,
        [OPD_HOSTILE_GOPCLNTAB_SELFREF] = OPD_ELF_BAD_GOPCLNTAB,
        [OPD_HOSTILE_SYMTAB_TRUNCATED] = OPD_ELF_BAD_SYMTAB,
        [OPD_HOSTILE_SYMTAB_OVERSIZED] = OPD_ELF_BAD_SYMTAB,
        [OPD_HOSTILE_SYMTAB_SELFREF] = OPD_ELF_BAD_SYMTAB,
        [REPRO] = OPD_ELF_BAD_HEADERS,
    };

    (void)state;
    for (int k = 0; k <= REPRO; k++) {
        struct opd_elf_info info = {0};
        struct opd_symtab syms, go;
        const struct opd_symtab_entry *e;
        struct Elf *elf;
        int fd = open(paths[k], O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        opd_symtab_init(&syms);
        opd_symtab_init(&go);
        elf = opd_elf_open_fd(fd);
        assert_non_null(elf);
        assert_int_equal(opd_elf_read(elf,
                                      OPD_ELF_HEADERS | OPD_ELF_SYMBOLS | OPD_ELF_GO |
                                          OPD_ELF_GO_LINES,
                                      &info, &syms, &go),
                         0);
        if ((info.malformed & want[k]) != want[k] || (!want[k] && info.malformed))
            fail_msg("%s: malformed flags %#x, want %#x", paths[k], info.malformed, want[k]);
        e = opd_symtab_lookup(&syms, OPD_HOSTILE_CODE_OFF + 4, 4096);
        if (k == OPD_HOSTILE_CONTROL) {
            assert_non_null(e);
            assert_string_equal(opd_symtab_name(&syms, e), OPD_HOSTILE_CONTROL_NAME);
        } else if (k != REPRO && e) {
            fail_msg("%s: spin named %s", paths[k], opd_symtab_name(&syms, e));
        }
        if (opd_symtab_lookup(&go, OPD_HOSTILE_CODE_OFF + 4, 4096))
            fail_msg("%s: a Go function covers spin", paths[k]);
        opd_symtab_fini(&syms);
        opd_symtab_fini(&go);
        opd_elf_info_fini(&info);
        opd_elf_close(elf);
        close(fd);
    }
}

/* CPython detection: the wrapping Py_Version is not read; the version comes from the file
 * name. */
static void test_python_detection(void **state)
{
    struct opd_py_elf py;

    (void)state;
    assert_int_equal(opd_py_elf_inspect(paths[OPD_HOSTILE_PYVERSION_WRAP], &py), 0);
    assert_false(py.exact);
    assert_int_equal(py.major, 3);
    assert_int_equal(py.minor, 12);
    for (int k = 0; k <= REPRO; k++)
        if (k != OPD_HOSTILE_PYVERSION_WRAP)
            assert_int_equal(opd_py_elf_inspect(paths[k], &py), -ENOENT);
}

/* The symbolizer on this process with every file mapped PROT_EXEC: the control's spin is
 * named, every other file's comes out as mapping + offset, and the rejections are counted
 * by reason. */
static void test_symbolizer_mapped(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000};
    struct opd_symbolizer_config sc = {.cache_size = 0};
    struct opd_telemetry *tel;
    struct opd_proctab *tab;
    struct opd_symbolizer *sym;
    uint8_t *maps[OPD_HOSTILE_NKINDS + 1];
    size_t sizes[OPD_HOSTILE_NKINDS + 1];
    static const char *const reasons[] = {"malformed_headers", "malformed_symtab",
                                          "malformed_gopclntab"};
    static const int64_t counts[] = {1, 3, 3};

    (void)state;
    for (int k = 0; k <= REPRO; k++) {
        struct stat st;
        int fd = open(paths[k], O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0 && fstat(fd, &st) == 0);
        sizes[k] = (size_t)st.st_size;
        maps[k] = mmap(NULL, sizes[k], PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        assert_true(maps[k] != MAP_FAILED);
        close(fd);
    }
    tel = opd_telemetry_create();
    tab = opd_proctab_create(&pc, tel, "receiver/profiling");
    sym = opd_symbolizer_create(&sc, tab, tel, "receiver/profiling");
    assert_non_null(sym);
    for (int k = 0; k <= REPRO; k++) {
        struct opd_sym_frame f;
        uint64_t pcv = (uint64_t)(uintptr_t)maps[k] + OPD_HOSTILE_CODE_OFF + 4;
        int err = opd_symbolizer_user(sym, getpid(), pcv, 0, 1, &f);

        assert_true(f.has_mapping);
        assert_string_equal(f.mapping.path, paths[k]);
        assert_int_equal(f.file_offset, OPD_HOSTILE_CODE_OFF + 4);
        if (k == OPD_HOSTILE_CONTROL) {
            assert_int_equal(err, 0);
            assert_string_equal(f.function, OPD_HOSTILE_CONTROL_NAME);
        } else {
            if (err != -ENOENT)
                fail_msg("%s: spin symbolized as %s", paths[k], f.function);
            assert_null(f.function);
        }
    }
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        char labels[128];

        snprintf(labels, sizeof(labels), "receiver=\"profiling\",reason=\"%s\"", reasons[i]);
        if (opd_metric_get(opd_telemetry_find(tel, "otelprofd_profiling_symbolizer_files_rejected",
                                              labels)) != counts[i])
            fail_msg("files rejected for %s: %lld, want %lld", reasons[i],
                     (long long)opd_metric_get(opd_telemetry_find(
                         tel, "otelprofd_profiling_symbolizer_files_rejected", labels)),
                     (long long)counts[i]);
    }
    opd_symbolizer_flush(sym);
    opd_symbolizer_destroy(sym);
    opd_proctab_destroy(tab);
    opd_telemetry_destroy(tel);
    for (int k = 0; k <= REPRO; k++)
        munmap(maps[k], sizes[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unwind_tables),
        cmocka_unit_test(test_symbol_reader),
        cmocka_unit_test(test_python_detection),
        cmocka_unit_test(test_symbolizer_mapped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
