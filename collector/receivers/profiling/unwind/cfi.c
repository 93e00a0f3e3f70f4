/* CIE/FDE parsing and call-frame program evaluation (DWARF 4 section 6.4, LSB eh_frame). */
#include "cfi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

const struct opd_cfi_arch opd_cfi_arch_x86_64 = {.sp = 7, .fp = 6};
const struct opd_cfi_arch opd_cfi_arch_arm64 = {.sp = 31, .fp = 29};

/* DW_EH_PE_* pointer encodings. */
#define PE_OMIT    0xff
#define PE_ABSPTR  0x00
#define PE_ULEB    0x01
#define PE_UDATA2  0x02
#define PE_UDATA4  0x03
#define PE_UDATA8  0x04
#define PE_SLEB    0x09
#define PE_SDATA2  0x0a
#define PE_SDATA4  0x0b
#define PE_SDATA8  0x0c
#define PE_PCREL   0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

/* Nesting bound of DW_CFA_remember_state; real code uses 1-2 levels. */
#define REMEMBER_DEPTH 16
/* Small cache of parsed CIEs keyed by section offset; FDEs follow their CIE. */
#define CIE_CACHE 16

/* A cursor over hostile bytes kept as offsets from base, never as pointers: every read
 * checks its size against the bytes left (end - pos, which cannot wrap since
 * pos <= end), so no bound is ever computed as pointer + offset. The invariant
 * pos <= end <= size of the buffer at base holds after every call. */
struct reader {
    const uint8_t *base; /* start of the section (or expression), for offsets and pcrel */
    size_t pos;          /* next byte */
    size_t end;          /* end of the current entry */
};

/* A rule for one register we track (frame pointer, return address). */
enum rule_type {
    R_SAME,      /* same value / not mentioned */
    R_UNDEF,     /* DW_CFA_undefined */
    R_OFFSET,    /* saved at CFA + off */
    R_VAL_OFFSET, /* value is CFA + off */
    R_REG,       /* value in register reg */
    R_DEREF_REG, /* saved at reg + off (DW_CFA_expression bregN off) */
    R_OTHER,     /* anything else: unsupported */
};

struct rule {
    uint8_t type;
    uint8_t reg;
    int64_t off;
};

enum cfa_kind {
    C_REG,
    C_PLT,
    C_DEREF,
    C_OTHER,
};

struct cfa_state {
    uint8_t kind;
    uint8_t reg; /* register, or PLT threshold K */
    int64_t off;
    struct rule fp;
    struct rule ra;
};

struct cie {
    size_t offset; /* section offset of the CIE, the cache key */
    bool valid;
    bool has_z;
    bool signal;
    uint8_t fde_enc;
    uint8_t addr_size;
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    bool used;         /* cache slot holds a result (valid or not) for offset */
    size_t insns;      /* section offsets of the initial instructions */
    size_t insns_end;
};

struct fde_rec {
    uint64_t pc_begin;
    uint64_t pc_end;
    size_t first;  /* index of the first raw row */
    size_t nrows;
    uint32_t prio; /* section order: lower wins on overlap */
    uint32_t order;
};

struct raw_row {
    uint64_t pc;
    struct opd_unwind_row r;
};

struct opd_cfi_builder {
    struct opd_cfi_arch arch;
    struct raw_row *rows;
    size_t nrows, cap_rows;
    struct fde_rec *fdes;
    size_t nfdes, cap_fdes;
    uint32_t nsections;
    struct opd_cfi_stats stats;
    struct cie cache[CIE_CACHE];
    unsigned cache_next;
};

/* Section-parse context shared by the helpers below. */
struct ctx {
    struct opd_cfi_builder *b;
    const struct opd_cfi_section *sec;
};

static size_t rd_left(const struct reader *r)
{
    return r->end - r->pos;
}

/* Moves past n bytes; -EINVAL (and no move) when fewer are left. */
static int rd_skip(struct reader *r, uint64_t n)
{
    if (n > rd_left(r))
        return -EINVAL;
    r->pos += (size_t)n;
    return 0;
}

static int rd_u8(struct reader *r, uint8_t *v)
{
    if (rd_left(r) < 1)
        return -EINVAL;
    *v = r->base[r->pos++];
    return 0;
}

static int rd_bytes(struct reader *r, void *v, size_t n)
{
    if (n > rd_left(r))
        return -EINVAL;
    memcpy(v, r->base + r->pos, n);
    r->pos += n;
    return 0;
}

static int rd_u16(struct reader *r, uint16_t *v)
{
    return rd_bytes(r, v, 2);
}

static int rd_u32(struct reader *r, uint32_t *v)
{
    return rd_bytes(r, v, 4);
}

static int rd_u64(struct reader *r, uint64_t *v)
{
    return rd_bytes(r, v, 8);
}

static int rd_uleb(struct reader *r, uint64_t *v)
{
    uint64_t val = 0;
    unsigned shift = 0;
    uint8_t byte;

    do {
        if (rd_u8(r, &byte))
            return -EINVAL;
        if (shift >= 64)
            return -EINVAL;
        if (shift == 63 && (byte & 0x7e))
            return -EINVAL;
        val |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
    } while (byte & 0x80);
    *v = val;
    return 0;
}

static int rd_sleb(struct reader *r, int64_t *v)
{
    uint64_t val = 0;
    unsigned shift = 0;
    uint8_t byte;

    do {
        if (rd_u8(r, &byte))
            return -EINVAL;
        if (shift >= 64)
            return -EINVAL;
        val |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
    } while (byte & 0x80);
    if (shift < 64 && (byte & 0x40))
        val |= ~(uint64_t)0 << shift;
    *v = (int64_t)val;
    return 0;
}

/* Reads a pointer in encoding enc. field_vaddr is the runtime address of the field (for
 * pcrel). Indirect pointers are rejected (they need the loaded image); the caller that
 * only skips a field passes skip = true and gets any value. */
static int rd_encoded(const struct ctx *c, struct reader *r, uint8_t enc, uint8_t addr_size,
                      bool skip, uint64_t *out)
{
    uint64_t field = c->sec->vaddr + (uint64_t)r->pos;
    uint64_t v = 0;
    int err = 0;

    if (enc == PE_OMIT)
        return -EINVAL;
    switch (enc & 0x0f) {
    case PE_ABSPTR:
        if (addr_size == 4) {
            uint32_t u;
            err = rd_u32(r, &u);
            v = u;
        } else {
            err = rd_u64(r, &v);
        }
        break;
    case PE_ULEB:
        err = rd_uleb(r, &v);
        break;
    case PE_UDATA2: {
        uint16_t u;
        err = rd_u16(r, &u);
        v = u;
        break;
    }
    case PE_UDATA4: {
        uint32_t u;
        err = rd_u32(r, &u);
        v = u;
        break;
    }
    case PE_UDATA8:
    case PE_SDATA8:
        err = rd_u64(r, &v);
        break;
    case PE_SLEB: {
        int64_t s;
        err = rd_sleb(r, &s);
        v = (uint64_t)s;
        break;
    }
    case PE_SDATA2: {
        uint16_t u;
        err = rd_u16(r, &u);
        v = (uint64_t)(int64_t)(int16_t)u;
        break;
    }
    case PE_SDATA4: {
        uint32_t u;
        err = rd_u32(r, &u);
        v = (uint64_t)(int64_t)(int32_t)u;
        break;
    }
    default:
        return -EINVAL;
    }
    if (err)
        return err;
    if (skip) {
        *out = v;
        return 0;
    }
    if (enc & PE_INDIRECT)
        return -EINVAL;
    switch (enc & 0x70) {
    case 0:
        break;
    case PE_PCREL:
        v += field;
        break;
    case PE_DATAREL:
        v += c->sec->datarel_base;
        break;
    default:
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Bytes of a value in encoding enc when used as an FDE pc_range (never relative). */
static int rd_range(const struct ctx *c, struct reader *r, uint8_t enc, uint8_t addr_size,
                    uint64_t *out)
{
    return rd_encoded(c, r, enc & 0x0f, addr_size, false, out);
}

static int parse_cie(const struct ctx *c, size_t off, struct cie *cie)
{
    const struct opd_cfi_section *s = c->sec;
    struct reader r = {.base = s->data, .pos = off, .end = s->size};
    uint64_t len, id, aug_len = 0;
    uint32_t len32;
    uint8_t version;
    const char *aug;
    size_t aug_n;
    bool dwarf64 = false;
    int err;

    memset(cie, 0, sizeof(*cie));
    cie->offset = off;
    cie->fde_enc = PE_ABSPTR;
    cie->addr_size = 8;
    if (off > s->size)
        return -EINVAL;
    if ((err = rd_u32(&r, &len32)))
        return err;
    len = len32;
    if (len32 == 0xffffffffu) {
        if ((err = rd_u64(&r, &len)))
            return err;
        dwarf64 = true;
    }
    if (len == 0 || len > rd_left(&r))
        return -EINVAL;
    r.end = r.pos + (size_t)len;
    if (dwarf64) {
        err = rd_u64(&r, &id);
    } else {
        uint32_t id32;
        err = rd_u32(&r, &id32);
        id = id32;
        if (s->kind == OPD_CFI_DEBUG_FRAME && id32 == 0xffffffffu)
            id = ~(uint64_t)0;
    }
    if (err)
        return err;
    if (s->kind == OPD_CFI_EH_FRAME ? id != 0 : id != ~(uint64_t)0)
        return -EINVAL;
    if ((err = rd_u8(&r, &version)))
        return err;
    if (version != 1 && version != 3 && version != 4)
        return -EINVAL;
    aug = (const char *)r.base + r.pos;
    aug_n = strnlen(aug, rd_left(&r));
    if (aug_n == rd_left(&r))
        return -EINVAL;
    r.pos += aug_n + 1;
    /* Without 'z' we cannot skip unknown augmentation data; "eh" is the one ancient
     * exception we do not support either. */
    if (aug_n > 0 && aug[0] != 'z')
        return -EINVAL;
    if (version == 4) {
        uint8_t seg;
        if ((err = rd_u8(&r, &cie->addr_size)) || (err = rd_u8(&r, &seg)))
            return err;
        if ((cie->addr_size != 4 && cie->addr_size != 8) || seg != 0)
            return -EINVAL;
    }
    if ((err = rd_uleb(&r, &cie->code_align)) || (err = rd_sleb(&r, &cie->data_align)))
        return err;
    if (version == 1) {
        uint8_t ra = 0;
        err = rd_u8(&r, &ra);
        cie->ra_reg = ra;
    } else {
        err = rd_uleb(&r, &cie->ra_reg);
    }
    if (err)
        return err;
    if (cie->code_align == 0 || cie->code_align > 0xffff)
        return -EINVAL;
    if (aug_n > 0) {
        size_t aug_end, i;

        cie->has_z = true;
        if ((err = rd_uleb(&r, &aug_len)))
            return err;
        if (aug_len > rd_left(&r))
            return -EINVAL;
        aug_end = r.pos + (size_t)aug_len;
        for (i = 1; i < aug_n; i++) {
            uint8_t enc;
            uint64_t dummy;

            switch (aug[i]) {
            case 'L':
                if ((err = rd_u8(&r, &enc)))
                    return err;
                break;
            case 'P':
                if ((err = rd_u8(&r, &enc)))
                    return err;
                if ((err = rd_encoded(c, &r, enc, cie->addr_size, true, &dummy)))
                    return err;
                break;
            case 'R':
                if ((err = rd_u8(&r, &cie->fde_enc)))
                    return err;
                break;
            case 'S':
                cie->signal = true;
                break;
            default:
                /* Unknown letter: the length lets us skip the rest of the data. */
                i = aug_n;
                break;
            }
            if (r.pos > aug_end)
                return -EINVAL;
        }
        r.pos = aug_end;
    }
    if (cie->fde_enc == PE_OMIT)
        return -EINVAL;
    cie->insns = r.pos;
    cie->insns_end = r.end;
    cie->valid = true;
    return 0;
}

static const struct cie *get_cie(const struct ctx *c, size_t off)
{
    struct opd_cfi_builder *b = c->b;
    struct cie *slot;
    unsigned i;

    for (i = 0; i < CIE_CACHE; i++) {
        if (b->cache[i].used && b->cache[i].offset == off)
            return b->cache[i].valid ? &b->cache[i] : NULL;
    }
    slot = &b->cache[b->cache_next++ % CIE_CACHE];
    if (parse_cie(c, off, slot)) {
        slot->valid = false;
        slot->offset = off;
        /* Mark the slot used so that a bad CIE is not reparsed for each of its FDEs. */
        slot->used = true;
        b->stats.bad_cies++;
        return NULL;
    }
    slot->used = true;
    b->stats.cies++;
    return slot;
}

/* DW_OP codes used by the expressions we recognise. */
#define OP_DEREF 0x06
#define OP_PLUS_UCONST 0x23
#define OP_AND   0x1a
#define OP_PLUS  0x22
#define OP_SHL   0x24
#define OP_GE    0x2a
#define OP_LIT0  0x30
#define OP_BREG0 0x70

/* Recognises the lazy-PLT CFA expression
 *   breg7(sp)+N; breg16(rip)+0; lit15; and; litK; ge; lit3; shl; plus
 * the DRAP one, bregR+N; deref, and the saved-stack-pointer one of hand-written assembly
 * (OpenSSL), bregR+N; deref; plus_uconst P with P a multiple of 8 up to 56. Everything else
 * is C_OTHER. */
static void classify_cfa_expr(const struct opd_cfi_arch *arch, const uint8_t *p, size_t n,
                              struct cfa_state *st)
{
    struct reader r = {.base = p, .pos = 0, .end = n};
    uint8_t op, op2;
    int64_t off, off2;

    st->kind = C_OTHER;
    st->reg = 0;
    st->off = 0;
    if (rd_u8(&r, &op) || op < OP_BREG0 || op > OP_BREG0 + 31 || rd_sleb(&r, &off))
        return;
    if (rd_left(&r) && r.base[r.pos] == OP_DEREF &&
        (unsigned)(op - OP_BREG0) <= OPD_CFA_DEREF_REG_MASK) {
        uint64_t post = 0;

        r.pos++;
        if (rd_left(&r) && (rd_u8(&r, &op2) || op2 != OP_PLUS_UCONST || rd_uleb(&r, &post) ||
                            post % 8 || post / 8 > OPD_CFA_DEREF_POST_MAX))
            return;
        if (rd_left(&r))
            return;
        st->kind = C_DEREF;
        st->reg = (uint8_t)((op - OP_BREG0) | (post / 8) << OPD_CFA_DEREF_POST_SHIFT);
        st->off = off;
        return;
    }
    if (op - OP_BREG0 != arch->sp || rd_u8(&r, &op2) || op2 != 0x80 || rd_sleb(&r, &off2) ||
        off2 != 0)
        return;
    {
        uint8_t rest[7];
        if (rd_bytes(&r, rest, sizeof(rest)) || rd_left(&r))
            return;
        if (rest[0] != OP_LIT0 + 15 || rest[1] != OP_AND || rest[2] < OP_LIT0 ||
            rest[2] > OP_LIT0 + 15 || rest[3] != OP_GE || rest[4] != OP_LIT0 + 3 ||
            rest[5] != OP_SHL || rest[6] != OP_PLUS)
            return;
        st->kind = C_PLT;
        st->reg = (uint8_t)(rest[2] - OP_LIT0);
        st->off = off;
    }
}

/* A register rule given by DW_CFA_expression: bregR+N means "saved at reg + N". */
static void classify_reg_expr(const uint8_t *p, size_t n, struct rule *ru)
{
    struct reader r = {.base = p, .pos = 0, .end = n};
    uint8_t op;
    int64_t off;

    ru->type = R_OTHER;
    if (rd_u8(&r, &op) || op < OP_BREG0 || op > OP_BREG0 + 31 || rd_sleb(&r, &off) ||
        rd_left(&r))
        return;
    ru->type = R_DEREF_REG;
    ru->reg = (uint8_t)(op - OP_BREG0);
    ru->off = off;
}

static bool fits(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

/* Converts the evaluator state to a table row. */
static void to_row(const struct opd_cfi_arch *arch, const struct cie *cie,
                   const struct cfa_state *st, struct opd_unwind_row *out)
{
    memset(out, 0, sizeof(*out));
    switch (st->kind) {
    case C_REG:
        out->cfa_type = fits(st->off, INT32_MIN, INT32_MAX) ? OPD_CFA_REG : OPD_CFA_INVALID;
        out->cfa_reg = st->reg;
        out->cfa_off = (int32_t)st->off;
        break;
    case C_PLT:
        out->cfa_type = OPD_CFA_PLT;
        out->cfa_reg = st->reg;
        out->cfa_off = (int32_t)st->off; /* classify bounded it by the expression size */
        break;
    case C_DEREF:
        out->cfa_type = fits(st->off, INT32_MIN, INT32_MAX) ? OPD_CFA_DEREF : OPD_CFA_INVALID;
        out->cfa_reg = st->reg;
        out->cfa_off = (int32_t)st->off;
        break;
    default:
        out->cfa_type = OPD_CFA_INVALID;
        break;
    }
    if (out->cfa_type == OPD_CFA_PLT && !fits(st->off, INT32_MIN, INT32_MAX))
        out->cfa_type = OPD_CFA_INVALID;

    switch (st->fp.type) {
    case R_SAME:
        out->fp_type = OPD_FP_SAME;
        break;
    case R_UNDEF:
        out->fp_type = OPD_FP_UNDEFINED;
        break;
    case R_OFFSET:
        out->fp_type = fits(st->fp.off, INT16_MIN, INT16_MAX) ? OPD_FP_OFFSET : OPD_FP_INVALID;
        out->fp_off = (int16_t)st->fp.off;
        break;
    case R_DEREF_REG:
        /* Only "saved at fp + N" (DRAP) is expressible. */
        if (st->fp.reg == arch->fp && fits(st->fp.off, INT16_MIN, INT16_MAX)) {
            out->fp_type = OPD_FP_DEREF_REG;
            out->fp_off = (int16_t)st->fp.off;
        } else {
            out->fp_type = OPD_FP_INVALID;
        }
        break;
    case R_REG:
        out->fp_type = st->fp.reg == arch->fp ? OPD_FP_SAME : OPD_FP_INVALID;
        break;
    default:
        out->fp_type = OPD_FP_INVALID;
        break;
    }
    if (out->fp_type != OPD_FP_OFFSET && out->fp_type != OPD_FP_DEREF_REG)
        out->fp_off = 0;

    switch (st->ra.type) {
    case R_OFFSET:
        out->ra_type = fits(st->ra.off, INT16_MIN, INT16_MAX) ? OPD_RA_OFFSET : OPD_RA_INVALID;
        out->ra_off = (int16_t)st->ra.off;
        break;
    case R_UNDEF:
        out->ra_type = OPD_RA_UNDEFINED;
        break;
    case R_REG:
        out->ra_type = OPD_RA_REG;
        out->ra_off = st->ra.reg;
        break;
    default:
        out->ra_type = OPD_RA_INVALID;
        break;
    }
    if (out->ra_type != OPD_RA_OFFSET && out->ra_type != OPD_RA_REG)
        out->ra_off = 0;
    if (cie->signal) {
        /* The trampoline's expressions all describe the kernel's ucontext layout; the
         * unwinder reads that layout directly. */
        out->cfa_type = OPD_CFA_SIGNAL;
        out->cfa_reg = 0;
        out->cfa_off = 0;
        out->fp_type = OPD_FP_SAME;
        out->fp_off = 0;
        out->ra_type = OPD_RA_OFFSET;
        out->ra_off = 0;
    }
}

struct eval {
    const struct ctx *c;
    const struct cie *cie;
    uint64_t loc;
    uint64_t pc_end;
    struct cfa_state st;
    struct cfa_state init; /* state after the CIE's initial instructions */
    struct cfa_state stack[REMEMBER_DEPTH];
    unsigned depth;
    size_t fde_first; /* first raw row of the current FDE */
    bool in_fde;      /* false while running the CIE's initial instructions */
};

static int emit_row(struct eval *e)
{
    struct opd_cfi_builder *b = e->c->b;
    struct raw_row *row;

    if (e->loc >= e->pc_end)
        return 0;
    if (b->nrows > e->fde_first && b->rows[b->nrows - 1].pc == e->loc) {
        row = &b->rows[b->nrows - 1];
    } else {
        row = OPD_VEC_PUSH_SLOT(b->rows, b->nrows, b->cap_rows);
        if (!row)
            return -ENOMEM;
    }
    row->pc = e->loc;
    to_row(&b->arch, e->cie, &e->st, &row->r);
    return 0;
}

static struct rule *tracked(struct eval *e, uint64_t reg, struct cfa_state *st)
{
    if (reg == e->c->b->arch.fp)
        return &st->fp;
    if (reg == e->cie->ra_reg)
        return &st->ra;
    return NULL;
}

static int advance(struct eval *e, uint64_t delta)
{
    int err;

    if (!e->in_fde)
        return 0; /* a location advance in a CIE is meaningless; ignore it */
    if ((err = emit_row(e)))
        return err;
    if (delta > UINT64_MAX / e->cie->code_align)
        return -EINVAL;
    delta *= e->cie->code_align;
    if (e->loc + delta < e->loc)
        return -EINVAL;
    e->loc += delta;
    return 0;
}

static int set_rule(struct eval *e, uint64_t reg, uint8_t type, int64_t off, uint64_t reg2)
{
    struct rule *ru = tracked(e, reg, &e->st);

    if (ru) {
        ru->type = type;
        ru->off = off;
        ru->reg = reg2 > 255 ? 255 : (uint8_t)reg2;
    }
    return 0;
}

static int restore_rule(struct eval *e, uint64_t reg)
{
    struct rule *ru = tracked(e, reg, &e->st);

    if (ru && e->in_fde)
        *ru = *tracked(e, reg, &e->init);
    return 0;
}

static int mul_da(const struct eval *e, int64_t n, int64_t *out)
{
    int64_t da = e->cie->data_align;

    if (__builtin_mul_overflow(n, da, out))
        return -EINVAL;
    return 0;
}

/* Runs one call-frame program, the section bytes [start, end) (end <= section size).
 * Every opcode consumes at least one byte, so the loop is bounded by the program length. */
static int run_program(struct eval *e, size_t start, size_t end)
{
    struct reader r = {.base = e->c->sec->data, .pos = start, .end = end};
    uint64_t reg, u, len;
    int64_t s;
    uint8_t op;
    int err = 0;

    while (rd_left(&r)) {
        if ((err = rd_u8(&r, &op)))
            return err;
        switch (op >> 6) {
        case 1: /* advance_loc */
            err = advance(e, op & 0x3f);
            break;
        case 2: /* offset */
            if (!(err = rd_uleb(&r, &u))) {
                if (u > INT64_MAX || (err = mul_da(e, (int64_t)u, &s)))
                    return -EINVAL;
                err = set_rule(e, op & 0x3f, R_OFFSET, s, 0);
            }
            break;
        case 3: /* restore */
            err = restore_rule(e, op & 0x3f);
            break;
        default:
            switch (op) {
            case 0x00: /* nop */
                break;
            case 0x01: { /* set_loc */
                uint64_t loc;
                if ((err = rd_encoded(e->c, &r, e->cie->fde_enc, e->cie->addr_size, false,
                                      &loc)))
                    return err;
                if (!e->in_fde || loc < e->loc)
                    return -EINVAL;
                if ((err = emit_row(e)))
                    return err;
                e->loc = loc;
                break;
            }
            case 0x02: {
                uint8_t d;
                if (!(err = rd_u8(&r, &d)))
                    err = advance(e, d);
                break;
            }
            case 0x03: {
                uint16_t d;
                if (!(err = rd_u16(&r, &d)))
                    err = advance(e, d);
                break;
            }
            case 0x04: {
                uint32_t d;
                if (!(err = rd_u32(&r, &d)))
                    err = advance(e, d);
                break;
            }
            case 0x05: /* offset_extended */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_uleb(&r, &u)))
                    return err;
                if (u > INT64_MAX || mul_da(e, (int64_t)u, &s))
                    return -EINVAL;
                err = set_rule(e, reg, R_OFFSET, s, 0);
                break;
            case 0x06: /* restore_extended */
                if (!(err = rd_uleb(&r, &reg)))
                    err = restore_rule(e, reg);
                break;
            case 0x07: /* undefined */
                if (!(err = rd_uleb(&r, &reg)))
                    err = set_rule(e, reg, R_UNDEF, 0, 0);
                break;
            case 0x08: /* same_value */
                if (!(err = rd_uleb(&r, &reg)))
                    err = set_rule(e, reg, R_SAME, 0, 0);
                break;
            case 0x09: /* register */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_uleb(&r, &u)))
                    return err;
                err = set_rule(e, reg, R_REG, 0, u);
                break;
            case 0x0a: /* remember_state */
                if (e->depth >= REMEMBER_DEPTH)
                    return -EINVAL;
                e->stack[e->depth++] = e->st;
                break;
            case 0x0b: /* restore_state */
                if (e->depth == 0)
                    return -EINVAL;
                e->st = e->stack[--e->depth];
                break;
            case 0x0c: /* def_cfa */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_uleb(&r, &u)))
                    return err;
                if (reg > 255 || u > INT64_MAX)
                    return -EINVAL;
                e->st.kind = C_REG;
                e->st.reg = (uint8_t)reg;
                e->st.off = (int64_t)u;
                break;
            case 0x0d: /* def_cfa_register */
                if ((err = rd_uleb(&r, &reg)))
                    return err;
                if (reg > 255)
                    return -EINVAL;
                if (e->st.kind != C_REG)
                    e->st.off = 0;
                e->st.kind = C_REG;
                e->st.reg = (uint8_t)reg;
                break;
            case 0x0e: /* def_cfa_offset */
                if ((err = rd_uleb(&r, &u)))
                    return err;
                if (u > INT64_MAX)
                    return -EINVAL;
                if (e->st.kind == C_REG)
                    e->st.off = (int64_t)u;
                break;
            case 0x0f: /* def_cfa_expression */
                if ((err = rd_uleb(&r, &len)))
                    return err;
                if (len > rd_left(&r))
                    return -EINVAL;
                classify_cfa_expr(&e->c->b->arch, r.base + r.pos, (size_t)len, &e->st);
                r.pos += (size_t)len;
                break;
            case 0x10: /* expression */
            case 0x16: /* val_expression */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_uleb(&r, &len)))
                    return err;
                if (len > rd_left(&r))
                    return -EINVAL;
                {
                    struct rule *ru = tracked(e, reg, &e->st);
                    if (ru) {
                        if (op == 0x10)
                            classify_reg_expr(r.base + r.pos, (size_t)len, ru);
                        else
                            ru->type = R_OTHER;
                    }
                }
                r.pos += (size_t)len;
                break;
            case 0x11: /* offset_extended_sf */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_sleb(&r, &s)))
                    return err;
                if (mul_da(e, s, &s))
                    return -EINVAL;
                err = set_rule(e, reg, R_OFFSET, s, 0);
                break;
            case 0x12: /* def_cfa_sf */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_sleb(&r, &s)))
                    return err;
                if (reg > 255 || mul_da(e, s, &s))
                    return -EINVAL;
                e->st.kind = C_REG;
                e->st.reg = (uint8_t)reg;
                e->st.off = s;
                break;
            case 0x13: /* def_cfa_offset_sf */
                if ((err = rd_sleb(&r, &s)))
                    return err;
                if (mul_da(e, s, &s))
                    return -EINVAL;
                if (e->st.kind == C_REG)
                    e->st.off = s;
                break;
            case 0x14: /* val_offset */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_uleb(&r, &u)))
                    return err;
                if (u > INT64_MAX || mul_da(e, (int64_t)u, &s))
                    return -EINVAL;
                err = set_rule(e, reg, R_VAL_OFFSET, s, 0);
                break;
            case 0x15: /* val_offset_sf */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_sleb(&r, &s)))
                    return err;
                if (mul_da(e, s, &s))
                    return -EINVAL;
                err = set_rule(e, reg, R_VAL_OFFSET, s, 0);
                break;
            case 0x2d: /* GNU_window_save (SPARC; arm64 reuses it as negate_ra_state) */
                break;
            case 0x2e: /* GNU_args_size */
                err = rd_uleb(&r, &u);
                break;
            case 0x2f: /* GNU_negative_offset_extended */
                if ((err = rd_uleb(&r, &reg)) || (err = rd_uleb(&r, &u)))
                    return err;
                if (u > INT64_MAX || mul_da(e, -(int64_t)u, &s))
                    return -EINVAL;
                err = set_rule(e, reg, R_OFFSET, s, 0);
                break;
            default:
                /* Unknown opcode: its operand length is unknown, so the rest of the
                 * program cannot be decoded. */
                return -EINVAL;
            }
        }
        if (err)
            return err;
    }
    return 0;
}

static int parse_fde(const struct ctx *c, const struct cie *cie, struct reader *r)
{
    struct opd_cfi_builder *b = c->b;
    struct eval e;
    struct fde_rec *rec;
    uint64_t pc_begin, pc_range;
    int err;

    if ((err = rd_encoded(c, r, cie->fde_enc, cie->addr_size, false, &pc_begin)) ||
        (err = rd_range(c, r, cie->fde_enc, cie->addr_size, &pc_range)))
        return err;
    if (cie->has_z) {
        uint64_t aug_len;
        if ((err = rd_uleb(r, &aug_len)) || (err = rd_skip(r, aug_len)))
            return err;
    }
    if (pc_begin == 0 || pc_range == 0) {
        b->stats.empty_fdes++;
        return 0;
    }
    if (pc_begin + pc_range < pc_begin)
        return -EINVAL;

    memset(&e, 0, sizeof(e));
    e.c = c;
    e.cie = cie;
    e.loc = pc_begin;
    e.pc_end = pc_begin + pc_range;
    e.fde_first = b->nrows;
    /* Default rules before the CIE program: CFA undefined, registers unchanged. */
    e.st.kind = C_OTHER;
    e.st.fp.type = R_SAME;
    e.st.ra.type = R_SAME;
    if ((err = run_program(&e, cie->insns, cie->insns_end)))
        goto fail;
    e.depth = 0;
    e.init = e.st;
    e.in_fde = true;
    if ((err = run_program(&e, r->pos, r->end)))
        goto fail;
    if ((err = emit_row(&e)))
        goto fail;

    rec = OPD_VEC_PUSH_SLOT(b->fdes, b->nfdes, b->cap_fdes);
    if (!rec) {
        err = -ENOMEM;
        goto fail;
    }
    rec->pc_begin = pc_begin;
    rec->pc_end = e.pc_end;
    rec->first = e.fde_first;
    rec->nrows = b->nrows - e.fde_first;
    rec->prio = b->nsections;
    rec->order = (uint32_t)b->nfdes;
    b->stats.fdes++;
    if (cie->signal)
        b->stats.signal_fdes++;
    return 0;
fail:
    b->nrows = e.fde_first;
    return err;
}

struct opd_cfi_builder *opd_cfi_builder_create(const struct opd_cfi_arch *arch)
{
    struct opd_cfi_builder *b = opd_calloc(1, sizeof(*b));

    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    b->arch = *arch;
    return b;
}

void opd_cfi_builder_destroy(struct opd_cfi_builder *b)
{
    if (!b)
        return;
    opd_free(b->rows);
    opd_free(b->fdes);
    opd_free(b);
}

int opd_cfi_builder_add(struct opd_cfi_builder *b, const struct opd_cfi_section *sec)
{
    struct ctx c = {.b = b, .sec = sec};
    size_t off = 0;
    unsigned entries = 0;
    int err;

    if (!sec->data && sec->size)
        return -EINVAL;
    memset(b->cache, 0, sizeof(b->cache));
    while (sec->size - off >= 4) {
        struct reader r = {.base = sec->data, .pos = off, .end = sec->size};
        size_t id_pos;
        uint64_t len, id;
        uint32_t len32;
        bool dwarf64 = false;
        size_t next;

        if (rd_u32(&r, &len32))
            break;
        if (len32 == 0) {
            if (sec->kind == OPD_CFI_EH_FRAME)
                break; /* terminator */
            off += 4;
            continue;
        }
        len = len32;
        if (len32 == 0xffffffffu) {
            if (rd_u64(&r, &len))
                break;
            dwarf64 = true;
        }
        if (len > rd_left(&r) || len < (dwarf64 ? 8u : 4u)) {
            /* The chain is broken: nothing after this entry can be located. */
            if (entries == 0)
                return -EINVAL;
            b->stats.bad_fdes++;
            break;
        }
        next = r.pos + (size_t)len;
        r.end = next;
        id_pos = r.pos;
        if (dwarf64) {
            rd_u64(&r, &id);
        } else {
            uint32_t id32;
            rd_u32(&r, &id32);
            id = id32;
            if (sec->kind == OPD_CFI_DEBUG_FRAME && id32 == 0xffffffffu)
                id = ~(uint64_t)0;
        }
        entries++;
        if (sec->kind == OPD_CFI_EH_FRAME ? id != 0 : id != ~(uint64_t)0) {
            /* An FDE: find its CIE. */
            uint64_t cie_off;
            const struct cie *cie;

            if (sec->kind == OPD_CFI_EH_FRAME) {
                cie_off = id <= id_pos ? id_pos - id : UINT64_MAX;
            } else {
                cie_off = id;
            }
            cie = cie_off < sec->size ? get_cie(&c, (size_t)cie_off) : NULL;
            if (!cie) {
                b->stats.bad_fdes++;
            } else if ((err = parse_fde(&c, cie, &r))) {
                if (err == -ENOMEM)
                    return err;
                b->stats.bad_fdes++;
            }
        }
        off = next;
    }
    b->nsections++;
    return 0;
}

static int cmp_fde(const void *a, const void *b)
{
    const struct fde_rec *x = a, *y = b;

    if (x->pc_begin != y->pc_begin)
        return x->pc_begin < y->pc_begin ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

static bool same_rule(const struct opd_unwind_row *a, const struct opd_unwind_row *b)
{
    return a->cfa_type == b->cfa_type && a->cfa_reg == b->cfa_reg && a->fp_type == b->fp_type &&
           a->ra_type == b->ra_type && a->cfa_off == b->cfa_off && a->fp_off == b->fp_off &&
           a->ra_off == b->ra_off;
}

static int push_out(struct opd_unwind_table *t, size_t *cap, uint64_t pc,
                    const struct opd_unwind_row *r)
{
    struct opd_unwind_row *slot;

    if (t->nrows > 0) {
        struct opd_unwind_row *last = &t->rows[t->nrows - 1];
        if (last->pc == pc - t->pc_base) {
            /* A later FDE starting where the previous row starts replaces an END. */
            *last = *r;
            last->pc = (uint32_t)(pc - t->pc_base);
            if (t->nrows > 1 && same_rule(&t->rows[t->nrows - 2], last)) {
                t->nrows--;
                t->stats.merged_rows++;
            }
            return 0;
        }
        if (same_rule(last, r)) {
            t->stats.merged_rows++;
            return 0;
        }
    }
    slot = OPD_VEC_PUSH_SLOT(t->rows, t->nrows, *cap);
    if (!slot)
        return -ENOMEM;
    *slot = *r;
    slot->pc = (uint32_t)(pc - t->pc_base);
    return 0;
}

int opd_cfi_builder_finish(struct opd_cfi_builder *b, struct opd_unwind_table *out)
{
    struct opd_unwind_table t;
    struct opd_unwind_row end_row;
    uint64_t covered = 0;
    size_t cap = 0, i, j;
    int err = 0;

    memset(&t, 0, sizeof(t));
    memset(&end_row, 0, sizeof(end_row));
    t.stats = b->stats;
    if (b->nfdes == 0) {
        err = -ENOENT;
        goto out;
    }
    qsort(b->fdes, b->nfdes, sizeof(*b->fdes), cmp_fde);
    t.pc_base = b->fdes[0].pc_begin;
    for (i = 0; i < b->nfdes; i++) {
        const struct fde_rec *f = &b->fdes[i];

        if (i > 0 && f->pc_begin < covered) {
            t.stats.overlapping++;
            continue;
        }
        if (f->pc_end - t.pc_base > UINT32_MAX) {
            err = -E2BIG;
            goto out;
        }
        if (i > 0 && f->pc_begin > covered) {
            t.stats.end_rows++;
            if ((err = push_out(&t, &cap, covered, &end_row)))
                goto out;
        }
        for (j = 0; j < f->nrows; j++) {
            const struct raw_row *rr = &b->rows[f->first + j];

            t.stats.raw_rows++;
            if (rr->r.cfa_type == OPD_CFA_PLT)
                t.stats.plt_rows++;
            else if (rr->r.cfa_type == OPD_CFA_DEREF)
                t.stats.deref_rows++;
            else if (rr->r.cfa_type == OPD_CFA_INVALID)
                t.stats.invalid_rows++;
            if ((err = push_out(&t, &cap, rr->pc, &rr->r)))
                goto out;
        }
        covered = f->pc_end;
    }
    t.stats.end_rows++;
    if ((err = push_out(&t, &cap, covered, &end_row)))
        goto out;
    t.pc_end = covered;
    *out = t;
    memset(&t, 0, sizeof(t));
out:
    opd_unwind_table_fini(&t);
    return err;
}

void opd_unwind_table_fini(struct opd_unwind_table *t)
{
    if (!t)
        return;
    opd_free(t->rows);
    memset(t, 0, sizeof(*t));
}

const struct opd_unwind_row *opd_unwind_table_lookup(const struct opd_unwind_table *t,
                                                     uint64_t pc)
{
    size_t lo = 0, hi;
    uint32_t rel;

    if (!t->nrows || pc < t->pc_base || pc >= t->pc_end)
        return NULL;
    rel = (uint32_t)(pc - t->pc_base);
    hi = t->nrows;
    /* First row whose pc is greater than rel, minus one. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->rows[mid].pc <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &t->rows[lo - 1] : NULL;
}
