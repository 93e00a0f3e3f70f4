/* Unwind table compiler: checked against readelf's interpretation of the same CFI (the
 * independent oracle) on Debian's libc and on fixtures built without frame pointers, plus
 * hand-made sections for the rules real binaries rarely contain and for hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/unwind/cfi.h"
#include "collector/receivers/profiling/unwind/elf_cfi.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static char *fixture(const char *name)
{
    static char buf[4096];
    const char *bin = getenv("OPD_BINARY_DIR");

    snprintf(buf, sizeof(buf), "%s/tests/data/unwind/unwind_fx_%s", bin ? bin : ".", name);
    return buf;
}

/* ---- readelf oracle ------------------------------------------------------------------ */

static int reg_number(const char *name)
{
    static const char *names[] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                                  "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    for (int i = 0; i < 16; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

struct oracle_stats {
    unsigned long checks;
    unsigned long mismatches;
    unsigned long fdes;
    unsigned long exp_rows;
};

/* Compares our row for pc against one readelf row (cfa text, rbp and ra column text;
 * NULL when the column is absent). Returns 1 on agreement. */
static int agree(const struct opd_unwind_row *row, const char *cfa, const char *rbp,
                 const char *ra)
{
    char regname[16];
    long off;

    if (!row)
        return 0;
    if (!strcmp(cfa, "exp")) {
        if (row->cfa_type != OPD_CFA_PLT && row->cfa_type != OPD_CFA_DEREF &&
            row->cfa_type != OPD_CFA_SIGNAL && row->cfa_type != OPD_CFA_INVALID)
            return 0;
        if (row->cfa_type == OPD_CFA_SIGNAL)
            return 1; /* the whole row is the kernel's ucontext layout */
    } else if (sscanf(cfa, "%15[a-z0-9]%ld", regname, &off) == 2) {
        if (row->cfa_type != OPD_CFA_REG || row->cfa_reg != reg_number(regname) ||
            row->cfa_off != off)
            return 0;
    } else {
        return 0;
    }
    if (!rbp || !strcmp(rbp, "u") || !strcmp(rbp, "s")) {
        if (row->fp_type != OPD_FP_SAME && row->fp_type != OPD_FP_UNDEFINED)
            return 0;
    } else if (rbp[0] == 'c') {
        if (row->fp_type != OPD_FP_OFFSET || row->fp_off != atol(rbp + 1))
            return 0;
    } else if (!strcmp(rbp, "exp")) {
        if (row->fp_type != OPD_FP_DEREF_REG && row->fp_type != OPD_FP_INVALID)
            return 0;
    } else if (row->fp_type != OPD_FP_INVALID && row->fp_type != OPD_FP_SAME) {
        return 0;
    }
    if (!ra || !strcmp(ra, "u"))
        return row->ra_type == OPD_RA_UNDEFINED;
    if (ra[0] == 'c')
        return row->ra_type == OPD_RA_OFFSET && row->ra_off == atol(ra + 1);
    if (!strcmp(ra, "exp"))
        return row->ra_type == OPD_RA_INVALID;
    /* "rN (name)": the value lives in DWARF register N. */
    return row->ra_type == OPD_RA_REG && ra[0] == 'r' && row->ra_off == atol(ra + 1);
}

struct pending {
    unsigned long loc;
    char cfa[32], rbp[32], ra[32];
    int has_rbp;
};

static void check_at(const struct opd_unwind_table *t, unsigned long pc, const struct pending *p,
                     struct oracle_stats *st)
{
    const struct opd_unwind_row *row = opd_unwind_table_lookup(t, pc);

    st->checks++;
    if (!agree(row, p->cfa, p->has_rbp ? p->rbp : NULL, p->ra)) {
        if (st->mismatches++ < 10)
            fprintf(stderr,
                    "mismatch at %#lx: readelf cfa=%s rbp=%s ra=%s; ours type=%u reg=%u "
                    "off=%d fp=%u/%d ra=%u/%d\n",
                    pc, p->cfa, p->has_rbp ? p->rbp : "-", p->ra, row ? row->cfa_type : 99,
                    row ? row->cfa_reg : 0, row ? row->cfa_off : 0, row ? row->fp_type : 0,
                    row ? row->fp_off : 0, row ? row->ra_type : 0, row ? row->ra_off : 0);
    }
}

/* Checks a row that applies over [p->loc, end): at its start, one byte in, and at the
 * last byte. */
static void check_range(const struct opd_unwind_table *t, const struct pending *p,
                        unsigned long end, struct oracle_stats *st)
{
    check_at(t, p->loc, p, st);
    if (p->loc + 1 < end)
        check_at(t, p->loc + 1, p, st);
    if (end - 1 > p->loc + 1)
        check_at(t, end - 1, p, st);
}

static void compare_with_readelf(const char *path, const struct opd_unwind_table *t,
                                 struct oracle_stats *st)
{
    char cmd[4200], line[1024];
    char cols[24][16];
    int ncols = 0, in_fde = 0, in_cie = 0, have_row = 0, have_rows_in_fde = 0;
    unsigned long fde_lo = 0, fde_hi = 0, cie_off = 0, fde_cie = 0;
    /* Initial rows of the CIEs seen so far (by offset): an FDE without instructions
     * prints no rows, and the CIE's row applies to it. */
    struct {
        unsigned long off;
        struct pending row;
    } cies[64];
    int ncies = 0;
    struct pending cur;
    FILE *f;

    memset(st, 0, sizeof(*st));
    memset(&cur, 0, sizeof(cur));
    snprintf(cmd, sizeof(cmd), "readelf -wF '%s' 2>/dev/null", path);
    f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b, loc;
        char *tok, *save;
        int i;

        if (!strncmp(line, "Contents of the", 15)) {
            ncies = 0; /* CIE offsets are per section */
            continue;
        }
        if (strstr(line, " FDE cie=")) {
            char *pc = strstr(line, "pc=");
            char *ci = strstr(line, "cie=");
            in_fde = pc && sscanf(pc, "pc=%lx..%lx", &fde_lo, &fde_hi) == 2;
            in_cie = 0;
            fde_cie = ci ? strtoul(ci + 4, NULL, 16) : 0;
            /* Same filter as the parser: FDEs for discarded code have pc 0. */
            if (fde_lo == 0)
                in_fde = 0;
            have_row = have_rows_in_fde = 0;
            ncols = 0;
            if (in_fde)
                st->fdes++;
            continue;
        }
        if (strstr(line, " CIE ")) {
            in_fde = 0;
            in_cie = ncies < 64;
            cie_off = strtoul(line, NULL, 16);
            ncols = 0;
            continue;
        }
        if (!in_fde && !in_cie)
            continue;
        if (strstr(line, "LOC")) {
            ncols = 0;
            for (tok = strtok_r(line, " \n", &save); tok && ncols < 24;
                 tok = strtok_r(NULL, " \n", &save))
                snprintf(cols[ncols++], sizeof(cols[0]), "%s", tok);
            continue;
        }
        if (sscanf(line, "%lx", &loc) == 1 && strlen(line) > 20 && ncols > 2) {
            struct pending next;

            memset(&next, 0, sizeof(next));
            next.loc = loc;
            i = 0;
            for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
                if (i >= ncols)
                    break;
                /* readelf writes a register value as "r9 (r9)": one column. */
                if (tok[0] == '(') {
                    i--;
                    continue;
                }
                if (i == 1)
                    snprintf(next.cfa, sizeof(next.cfa), "%s", tok);
                else if (!strcmp(cols[i], "rbp")) {
                    snprintf(next.rbp, sizeof(next.rbp), "%s", tok);
                    next.has_rbp = 1;
                } else if (!strcmp(cols[i], "ra"))
                    snprintf(next.ra, sizeof(next.ra), "%s", tok);
            }
            if (in_cie) {
                cies[ncies].off = cie_off;
                cies[ncies++].row = next;
                in_cie = 0;
                continue;
            }
            if (!strcmp(next.cfa, "exp"))
                st->exp_rows++;
            if (have_row && next.loc > cur.loc)
                check_range(t, &cur, next.loc, st);
            cur = next;
            have_row = have_rows_in_fde = 1;
            continue;
        }
        if (line[0] == '\n') {
            if (have_row)
                check_range(t, &cur, fde_hi, st);
            else if (in_fde && !have_rows_in_fde && fde_hi > fde_lo) {
                /* No instructions: the CIE's initial row applies. */
                for (i = 0; i < ncies; i++) {
                    if (cies[i].off == fde_cie) {
                        struct pending cie_row = cies[i].row;
                        cie_row.loc = fde_lo;
                        check_range(t, &cie_row, fde_hi, st);
                        break;
                    }
                }
            }
            have_row = 0;
            in_fde = 0;
            (void)a;
            (void)b;
        }
    }
    pclose(f);
}

static void check_file_against_readelf(const char *path, unsigned long min_fdes)
{
    struct opd_unwind_table t;
    struct opd_elf_cfi_info info;
    struct oracle_stats st;

    assert_int_equal(opd_elf_cfi_build(path, NULL, &t, &info), 0);
    compare_with_readelf(path, &t, &st);
    fprintf(stderr, "%s: %zu rows (%u raw), %u FDEs (hdr %u), readelf %lu FDEs, %lu checks, "
                    "%lu mismatches, %lu exp rows, bad fdes %u, merged %u, end %u\n",
            path, t.nrows, t.stats.raw_rows, t.stats.fdes, info.hdr_fde_count, st.fdes,
            st.checks, st.mismatches, st.exp_rows, t.stats.bad_fdes, t.stats.merged_rows,
            t.stats.end_rows);
    assert_true(st.fdes >= min_fdes);
    assert_true(st.checks > 3 * st.fdes);
    assert_int_equal(st.mismatches, 0);
    assert_int_equal(t.stats.bad_fdes, 0);
    if (info.hdr_fde_count && !info.used_debug_frame)
        assert_int_equal(info.hdr_fde_count, t.stats.fdes + t.stats.empty_fdes);
    opd_unwind_table_fini(&t);
}

static void test_libc_vs_readelf(void **state)
{
    struct opd_unwind_table t;

    (void)state;
    check_file_against_readelf(LIBC, 3000);
    /* The signal trampoline's FDE is compiled to a SIGNAL row. */
    assert_int_equal(opd_elf_cfi_build(LIBC, NULL, &t, NULL), 0);
    assert_int_equal(t.stats.signal_fdes, 1);
    assert_true(t.stats.plt_rows >= 1);
    /* Merging: far fewer rows than the raw ones, and strictly increasing. */
    assert_true(t.stats.merged_rows > 100);
    assert_int_equal(t.nrows, t.stats.raw_rows + t.stats.end_rows - t.stats.merged_rows);
    for (size_t i = 1; i < t.nrows; i++)
        assert_true(t.rows[i].pc > t.rows[i - 1].pc);
    assert_int_equal(t.rows[t.nrows - 1].cfa_type, OPD_CFA_END);
    opd_unwind_table_fini(&t);
}

static void test_fixtures_vs_readelf(void **state)
{
    (void)state;
    check_file_against_readelf(fixture("chain"), 5);
    check_file_against_readelf(fixture("qsort_cb"), 3);
    check_file_against_readelf(fixture("drap"), 2);
    check_file_against_readelf(fixture("nounwind"), 2);
    check_file_against_readelf(fixture("deep"), 3);
    check_file_against_readelf(fixture("sigspin"), 4);
}

/* Whether the fixture's .comment names only GCC (the C compiler CMake used). */
static int built_by_gcc(const char *path)
{
    char cmd[4200], line[512];
    int gcc = 0, clang = 0;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "readelf -p .comment '%s' 2>/dev/null", path);
    f = popen(cmd, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        gcc |= strstr(line, "GCC:") != NULL;
        clang |= strstr(line, "clang") != NULL;
    }
    pclose(f);
    return gcc && !clang;
}

static void test_drap_and_plt_rows(void **state)
{
    struct opd_unwind_table t;

    (void)state;
    assert_int_equal(opd_elf_cfi_build(fixture("drap"), NULL, &t, NULL), 0);
    /* DRAP is GCC's way to realign; clang realigns through a base register instead. */
    if (built_by_gcc(fixture("drap")))
        assert_true(t.stats.deref_rows >= 1);
    assert_true(t.stats.plt_rows >= 1);
    for (size_t i = 0; i < t.nrows; i++) {
        if (t.rows[i].cfa_type == OPD_CFA_PLT) {
            /* binutils' lazy PLT template: K = 11, or 10 with IBT. */
            assert_true(t.rows[i].cfa_reg == 11 || t.rows[i].cfa_reg == 10);
            assert_int_equal(t.rows[i].cfa_off, 8);
        }
        if (t.rows[i].cfa_type == OPD_CFA_DEREF) {
            assert_int_equal(t.rows[i].cfa_reg, OPD_DWARF_X86_RBP); /* no post-add */
            assert_int_equal(t.rows[i].cfa_off, -8);
        }
    }
    opd_unwind_table_fini(&t);
}

static void test_debug_frame_only(void **state)
{
    struct opd_unwind_table t;
    struct opd_elf_cfi_info info;
    char tmp[] = "/tmp/opd_unwind_dfXXXXXX", cmd[8400];
    int fd;

    (void)state;
    assert_int_equal(opd_elf_cfi_build(fixture("nounwind"), NULL, &t, &info), 0);
    assert_int_equal(info.used_debug_frame, 1);
    opd_unwind_table_fini(&t);

    /* A stripped binary plus a compressed separate debug file. */
    fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "objcopy --only-keep-debug --compress-debug-sections=zlib '%s' '%s.dbg' && "
             "objcopy --strip-debug '%s' '%s'",
             fixture("nounwind"), tmp, fixture("nounwind"), tmp);
    assert_int_equal(system(cmd), 0);
    {
        char dbg[64], stripped_dbg_only[64];
        struct opd_unwind_table t2, t3;
        struct oracle_stats st;

        snprintf(dbg, sizeof(dbg), "%s.dbg", tmp);
        snprintf(stripped_dbg_only, sizeof(stripped_dbg_only), "%s", tmp);
        assert_int_equal(opd_elf_cfi_build(stripped_dbg_only, dbg, &t2, &info), 0);
        assert_int_equal(info.used_debug_frame, 1);
        compare_with_readelf(fixture("nounwind"), &t2, &st);
        assert_true(st.checks > 10);
        assert_int_equal(st.mismatches, 0);
        /* Without the debug file only the C runtime's .eh_frame remains: fewer FDEs. */
        assert_int_equal(opd_elf_cfi_build(stripped_dbg_only, NULL, &t3, NULL), 0);
        assert_true(t3.stats.fdes < t2.stats.fdes);
        opd_unwind_table_fini(&t2);
        opd_unwind_table_fini(&t3);
        unlink(dbg);
    }
    unlink(tmp);
}

/* An ELF with its section headers removed is read through PT_GNU_EH_FRAME. */
static void test_no_section_headers(void **state)
{
    struct opd_unwind_table a, b;
    struct opd_elf_cfi_info info;
    char tmp[] = "/tmp/opd_unwind_nshXXXXXX";
    char buf[65536];
    ssize_t n;
    int in, out;
    uint8_t zero[8] = {0};

    (void)state;
    in = open(fixture("chain"), O_RDONLY);
    out = mkstemp(tmp);
    assert_true(in >= 0 && out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    /* e_shoff (0x28, 8 bytes), e_shnum (0x3c), e_shstrndx (0x3e). */
    assert_int_equal(pwrite(out, zero, 8, 0x28), 8);
    assert_int_equal(pwrite(out, zero, 2, 0x3c), 2);
    assert_int_equal(pwrite(out, zero, 2, 0x3e), 2);
    close(out);
    assert_int_equal(opd_elf_cfi_build(fixture("chain"), NULL, &a, NULL), 0);
    assert_int_equal(opd_elf_cfi_build(tmp, NULL, &b, &info), 0);
    assert_int_equal(info.via_phdr, 1);
    assert_int_equal(a.nrows, b.nrows);
    assert_int_equal(a.pc_base, b.pc_base);
    assert_memory_equal(a.rows, b.rows, a.nrows * sizeof(*a.rows));
    opd_unwind_table_fini(&a);
    opd_unwind_table_fini(&b);
    unlink(tmp);
}

/* ---- hand-made sections ------------------------------------------------------------- */

struct sec_buf {
    uint8_t b[512];
    size_t n;
};

static void put(struct sec_buf *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    assert_true(s->n + n <= sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void put_u32(struct sec_buf *s, uint32_t v)
{
    put(s, &v, 4);
}

/* Appends a standard "zR" CIE (pcrel sdata4, code 1, data -8, ra 16, def_cfa rsp+8,
 * ra at cfa-8) and returns its offset. */
static size_t add_cie(struct sec_buf *s, const char *aug)
{
    size_t off = s->n;
    uint8_t body[64];
    size_t n = 0;

    body[n++] = 1; /* version */
    memcpy(body + n, aug, strlen(aug) + 1);
    n += strlen(aug) + 1;
    body[n++] = 1;    /* code align */
    body[n++] = 0x78; /* data align -8 */
    body[n++] = 16;   /* ra */
    body[n++] = 1;    /* aug length */
    body[n++] = 0x1b; /* R: pcrel sdata4 */
    body[n++] = 0x0c; /* def_cfa rsp+8 */
    body[n++] = 7;
    body[n++] = 8;
    body[n++] = 0x90; /* offset r16, 1 * -8 */
    body[n++] = 1;
    while ((n + 4) % 8)
        body[n++] = 0;
    put_u32(s, (uint32_t)(n + 4));
    put_u32(s, 0);
    put(s, body, n);
    return off;
}

/* Appends an FDE for [pc, pc + len) (vaddr of the section is 0x1000) with program ins. */
static void add_fde(struct sec_buf *s, size_t cie_off, uint64_t pc, uint32_t len,
                    const uint8_t *ins, size_t nins)
{
    size_t start = s->n;
    int32_t rel;

    put_u32(s, (uint32_t)(4 + 4 + 4 + 1 + nins));
    put_u32(s, (uint32_t)(s->n - cie_off));
    rel = (int32_t)(pc - (0x1000 + s->n));
    put(s, &rel, 4);
    put_u32(s, len);
    put(s, "\0", 1);
    put(s, ins, nins);
    (void)start;
}

static int build(struct sec_buf *s, struct opd_unwind_table *t)
{
    struct opd_cfi_section sec = {.data = s->b, .size = s->n, .vaddr = 0x1000,
                                  .kind = OPD_CFI_EH_FRAME};
    struct opd_cfi_builder *b = opd_cfi_builder_create(&opd_cfi_arch_x86_64);
    int err;

    assert_non_null(b);
    err = opd_cfi_builder_add(b, &sec);
    if (!err)
        err = opd_cfi_builder_finish(b, t);
    opd_cfi_builder_destroy(b);
    return err;
}

static void test_synthetic_rules(void **state)
{
    /* push rbp; mov rsp,rbp; ... remember; leave; ret; restore */
    static const uint8_t f1[] = {
        0x41, 0x0e, 16, 0x86, 2, /* +1: cfa rsp+16, rbp at cfa-16 */
        0x43, 0x0d, 6,           /* +3: cfa reg rbp */
        0x4a, 0x0a,              /* +10: remember */
        0x0c, 7, 8,              /* def_cfa rsp+8 */
        0xc6,                    /* restore rbp */
        0x41, 0x0b,              /* +1: restore_state */
    };
    /* PLT expression (K = 11) and a DRAP one. */
    static const uint8_t f2[] = {
        0x0f, 11, 0x77, 8, 0x80, 0, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22, /* plt */
        0x44, 0x0f, 3, 0x76, 0x78, 0x06, /* +4: cfa = *(rbp - 8) */
        0x10, 6, 2, 0x76, 0x00,          /* rbp saved at rbp + 0 */
        0x41, 0x07, 16,                  /* +1: ra undefined */
    };
    /* OpenSSL's saved stack pointer: cfa = *(rsp + 40) + 8; and one we refuse. */
    static const uint8_t f4[] = {
        0x41, 0x0f, 5, 0x77, 40, 0x06, 0x23, 8,        /* +1: breg7 40; deref; plus_uconst 8 */
        0x41, 0x0f, 5, 0x77, 40, 0x06, 0x23, 12,       /* +1: plus_uconst 12: unsupported */
    };
    /* An unknown opcode drops the FDE, not the section. */
    static const uint8_t f3[] = {0x41, 0x1c, 0x41};
    struct sec_buf s = {.n = 0};
    struct opd_unwind_table t;
    const struct opd_unwind_row *r;
    size_t cie = add_cie(&s, "zR");

    add_fde(&s, cie, 0x2000, 0x20, f1, sizeof(f1));
    add_fde(&s, cie, 0x3000, 0x10, f2, sizeof(f2));
    add_fde(&s, cie, 0x4000, 0x10, f3, sizeof(f3));
    add_fde(&s, cie, 0x5000, 0x10, f4, sizeof(f4));
    put_u32(&s, 0);
    assert_int_equal(build(&s, &t), 0);
    assert_int_equal(t.stats.fdes, 3);
    assert_int_equal(t.stats.bad_fdes, 1);
    assert_int_equal(t.pc_base, 0x2000);

    r = opd_unwind_table_lookup(&t, 0x2000);
    assert_true(r->cfa_type == OPD_CFA_REG && r->cfa_reg == 7 && r->cfa_off == 8);
    r = opd_unwind_table_lookup(&t, 0x2002);
    assert_true(r->cfa_reg == 7 && r->cfa_off == 16 && r->fp_type == OPD_FP_OFFSET &&
                r->fp_off == -16 && r->ra_type == OPD_RA_OFFSET && r->ra_off == -8);
    r = opd_unwind_table_lookup(&t, 0x2005);
    assert_true(r->cfa_reg == 6 && r->cfa_off == 16);
    r = opd_unwind_table_lookup(&t, 0x200e); /* after leave */
    assert_true(r->cfa_reg == 7 && r->cfa_off == 8 && r->fp_type == OPD_FP_SAME);
    r = opd_unwind_table_lookup(&t, 0x200f); /* restore_state brings rbp frame back */
    assert_true(r->cfa_reg == 6 && r->cfa_off == 16 && r->fp_type == OPD_FP_OFFSET);
    r = opd_unwind_table_lookup(&t, 0x201f);
    assert_true(r->cfa_reg == 6);
    r = opd_unwind_table_lookup(&t, 0x2020); /* gap: END */
    assert_int_equal(r->cfa_type, OPD_CFA_END);

    r = opd_unwind_table_lookup(&t, 0x3000);
    assert_true(r->cfa_type == OPD_CFA_PLT && r->cfa_reg == 11 && r->cfa_off == 8);
    r = opd_unwind_table_lookup(&t, 0x3004);
    assert_true(r->cfa_type == OPD_CFA_DEREF && r->cfa_reg == 6 && r->cfa_off == -8);
    assert_true(r->fp_type == OPD_FP_DEREF_REG && r->fp_off == 0);
    assert_int_equal(r->ra_type, OPD_RA_OFFSET);
    r = opd_unwind_table_lookup(&t, 0x3005);
    assert_int_equal(r->ra_type, OPD_RA_UNDEFINED);
    r = opd_unwind_table_lookup(&t, 0x5001);
    assert_int_equal(r->cfa_type, OPD_CFA_DEREF);
    assert_int_equal(r->cfa_reg & OPD_CFA_DEREF_REG_MASK, 7);
    assert_int_equal(r->cfa_reg >> OPD_CFA_DEREF_POST_SHIFT, 1);
    assert_int_equal(r->cfa_off, 40);
    r = opd_unwind_table_lookup(&t, 0x5002);
    assert_int_equal(r->cfa_type, OPD_CFA_INVALID);
    assert_int_equal(opd_unwind_table_lookup(&t, 0x3010)->cfa_type, OPD_CFA_END);
    assert_null(opd_unwind_table_lookup(&t, 0x1fff));
    opd_unwind_table_fini(&t);
}

static void test_hostile_sections(void **state)
{
    struct sec_buf s = {.n = 0};
    struct opd_unwind_table t;
    uint8_t deep[40];
    size_t cie, i;

    (void)state;
    /* Nothing usable at all. */
    assert_int_equal(build(&s, &t), -ENOENT);
    put_u32(&s, 0x1000); /* length beyond the section */
    put_u32(&s, 0);
    assert_int_equal(build(&s, &t), -EINVAL);

    /* remember_state nested too deep, and restore without remember: both FDEs dropped. */
    s.n = 0;
    cie = add_cie(&s, "zR");
    for (i = 0; i < sizeof(deep); i++)
        deep[i] = 0x0a;
    add_fde(&s, cie, 0x2000, 0x10, deep, sizeof(deep));
    add_fde(&s, cie, 0x3000, 0x10, (const uint8_t[]){0x0b}, 1);
    /* An FDE whose CIE pointer points outside the section. */
    put_u32(&s, 16);
    put_u32(&s, 0x7fffffff);
    put_u32(&s, 0);
    put_u32(&s, 0);
    put_u32(&s, 0);
    /* A CIE with an unknown non-z augmentation, and an FDE using it. */
    {
        size_t bad = s.n;
        put_u32(&s, 12);
        put_u32(&s, 0);
        put(&s, (const uint8_t[]){1, 'x', 0, 1, 0x78, 16, 0, 0}, 8);
        add_fde(&s, bad, 0x5000, 0x10, NULL, 0);
    }
    add_fde(&s, cie, 0x6000, 0x10, NULL, 0);
    assert_int_equal(build(&s, &t), 0);
    assert_int_equal(t.stats.fdes, 1);
    assert_int_equal(t.stats.bad_fdes, 4);
    assert_int_equal(t.stats.bad_cies, 1);
    assert_int_equal(t.pc_base, 0x6000);
    opd_unwind_table_fini(&t);

    /* Every truncation of a valid section parses without reading past its end (run
     * under ASan in the sanitizer build). */
    s.n = 0;
    cie = add_cie(&s, "zR");
    add_fde(&s, cie, 0x2000, 0x20, (const uint8_t[]){0x41, 0x0e, 16, 0x86, 2}, 5);
    for (i = 0; i <= s.n; i++) {
        struct opd_cfi_section sec = {.data = opd_malloc(i), .size = i, .vaddr = 0x1000};
        struct opd_cfi_builder *b = opd_cfi_builder_create(&opd_cfi_arch_x86_64);

        assert_non_null(sec.data);
        memcpy((void *)sec.data, s.b, i);
        opd_cfi_builder_add(b, &sec);
        if (opd_cfi_builder_finish(b, &t) == 0)
            opd_unwind_table_fini(&t);
        opd_cfi_builder_destroy(b);
        opd_free((void *)sec.data);
    }
}

/* ---- fuzz findings ------------------------------------------------------------------ */

/* Reads a fuzz_ehframe input kept in tests/fuzz/regress/ehframe into *data. */
static size_t regress_input(const char *name, uint8_t **data)
{
    char path[4096];
    const char *src = getenv("OPD_SOURCE_DIR");
    struct stat st;
    int fd;

    snprintf(path, sizeof(path), "%s/tests/fuzz/regress/ehframe/%s", src ? src : ".", name);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    *data = malloc((size_t)st.st_size);
    assert_non_null(*data);
    assert_int_equal(read(fd, *data, (size_t)st.st_size), st.st_size);
    close(fd);
    return (size_t)st.st_size;
}

/* crash-03f79b6d: a PT_LOAD whose p_offset + p_filesz wraps past 2^64 covers the
 * PT_GNU_EH_FRAME address; the segment's "bytes available" wrapped to nearly 2^64 and the
 * CFI walk formed pointers far outside the file. The segment is now checked as an offset
 * and a size against the file size, and the CFI reader keeps offsets, never end pointers. */
static void test_fuzz_ehframe_wrapping_segment(void **state)
{
    struct opd_unwind_table t;
    struct opd_elf_cfi_info info;
    uint8_t *data;
    size_t n = regress_input("crash-03f79b6d", &data);
    int fd = memfd_create("regress", MFD_CLOEXEC);

    (void)state;
    assert_true(n > 1 && (data[0] & 4)); /* selector: a whole ELF file follows */
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data + 1, n - 1), (ssize_t)(n - 1));
    assert_int_equal(opd_elf_cfi_build_fd(fd, -1, &t, &info), -ENOENT);
    assert_int_equal(info.via_phdr, 0);
    close(fd);

    /* The same bytes as a raw section: walked within its n - 1 bytes. */
    {
        struct opd_cfi_section sec = {.data = data + 1, .size = n - 1, .vaddr = 0x10000};
        struct opd_cfi_builder *b = opd_cfi_builder_create(&opd_cfi_arch_x86_64);

        opd_cfi_builder_add(b, &sec);
        if (opd_cfi_builder_finish(b, &t) == 0)
            opd_unwind_table_fini(&t);
        opd_cfi_builder_destroy(b);
    }
    free(data);
}

static void test_alloc_failures(void **state)
{
    struct opd_unwind_table t;
    int err;
    long n;

    (void)state;
    for (n = 0; n < 64; n++) {
        opd_mem_fail_countdown = n;
        err = opd_elf_cfi_build(fixture("chain"), NULL, &t, NULL);
        opd_mem_fail_countdown = -1;
        if (err == 0) {
            opd_unwind_table_fini(&t);
            break;
        }
        assert_int_equal(err, -ENOMEM);
    }
    assert_true(n < 64);
}

/* Go binaries: Go code is left to the frame-pointer walk (no .debug_frame rows). */
static void test_go_binary(void **state)
{
    static const char *cands[] = {"/usr/lib/go/bin/gofmt", "/usr/bin/promtool"};
    struct opd_unwind_table t;
    struct opd_elf_cfi_info info;
    const char *path = NULL;
    int err;

    (void)state;
    for (int i = 0; i < 2 && !path; i++)
        if (access(cands[i], R_OK) == 0)
            path = cands[i];
    if (!path)
        skip();
    err = opd_elf_cfi_build(path, NULL, &t, &info);
    assert_int_equal(info.is_go, 1);
    assert_int_equal(info.used_debug_frame, 0);
    if (err == 0)
        opd_unwind_table_fini(&t);
    else
        assert_int_equal(err, -ENOENT);
}

static void test_not_elf(void **state)
{
    struct opd_unwind_table t;

    (void)state;
    assert_int_equal(opd_elf_cfi_build("/proc/self/status", NULL, &t, NULL), -ENOEXEC);
    assert_int_equal(opd_elf_cfi_build("/nonexistent/x", NULL, &t, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libc_vs_readelf),
        cmocka_unit_test(test_fixtures_vs_readelf),
        cmocka_unit_test(test_drap_and_plt_rows),
        cmocka_unit_test(test_debug_frame_only),
        cmocka_unit_test(test_no_section_headers),
        cmocka_unit_test(test_synthetic_rules),
        cmocka_unit_test(test_hostile_sections),
        cmocka_unit_test(test_fuzz_ehframe_wrapping_segment),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_go_binary),
        cmocka_unit_test(test_not_elf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
