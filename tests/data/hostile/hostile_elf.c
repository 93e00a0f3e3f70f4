/* Crafted ELF files (see hostile_elf.h). Layout of every file (offset = vaddr, one PT_LOAD
 * r-x over the whole file, PT_GNU_EH_FRAME over .eh_frame_hdr):
 *   0x0000 ELF header, program headers      0x1800 .symtab
 *   0x1000 .text: spin                      0x1a00 .strtab
 *   0x1100 .eh_frame_hdr                    0x1b00 .shstrtab
 *   0x1200 .eh_frame                        0x1c00 section headers (8)
 *   0x1400 .gopclntab (Go kinds) or .rodata (sh_addr 0 for the Py_Version kind)
 * The sound parts are written first; each kind then breaks one table. */
#include "tests/data/hostile/hostile_elf.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define OFF_HDR    0x1100u
#define OFF_EH     0x1200u
#define OFF_DATA   0x1400u
#define OFF_SYMTAB 0x1800u
#define OFF_STRTAB 0x1a00u
#define OFF_SHSTR  0x1b00u
#define OFF_SHDRS  0x1c00u

enum { S_NULL, S_TEXT, S_HDR, S_EH, S_DATA, S_SYMTAB, S_STRTAB, S_SHSTR, S_COUNT };

const uint8_t opd_hostile_spin_code[11] = {
    0x55,             /* push rbp */
    0x48, 0x89, 0xe5, /* mov rbp, rsp */
    0x48, 0xff, 0xcf, /* 1: dec rdi */
    0x75, 0xfb,       /* jnz 1b */
    0x5d,             /* pop rbp */
    0xc3,             /* ret */
};

static const char *const names[OPD_HOSTILE_NKINDS] = {
    [OPD_HOSTILE_CONTROL] = "control",
    [OPD_HOSTILE_EHFRAME_TRUNCATED] = "ehframe-truncated",
    [OPD_HOSTILE_EHFRAME_OVERSIZED] = "ehframe-oversized",
    [OPD_HOSTILE_EHFRAME_SELFREF] = "ehframe-selfref",
    [OPD_HOSTILE_GOPCLNTAB_TRUNCATED] = "gopclntab-truncated",
    [OPD_HOSTILE_GOPCLNTAB_OVERSIZED] = "gopclntab-oversized",
    [OPD_HOSTILE_GOPCLNTAB_SELFREF] = "gopclntab-selfref",
    [OPD_HOSTILE_SYMTAB_TRUNCATED] = "symtab-truncated",
    [OPD_HOSTILE_SYMTAB_OVERSIZED] = "symtab-oversized",
    [OPD_HOSTILE_SYMTAB_SELFREF] = "symtab-selfref",
    [OPD_HOSTILE_PYVERSION_WRAP] = "libpython3.12-pyversion-wrap",
};

const char *opd_hostile_name(enum opd_hostile_kind kind)
{
    return (unsigned)kind < OPD_HOSTILE_NKINDS ? names[kind] : "?";
}

uint8_t *opd_hostile_repro_elf(uint8_t *in, size_t n, size_t *elf_len)
{
    if (n <= 1 + OPD_HOSTILE_CODE_OFF + sizeof(opd_hostile_spin_code))
        return NULL;
    memcpy(in + 1 + OPD_HOSTILE_CODE_OFF, opd_hostile_spin_code, sizeof(opd_hostile_spin_code));
    *elf_len = n - 1;
    return in + 1;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Appends s (with its NUL) to the string table at tab; returns its offset. */
static uint32_t add_str(uint8_t *tab, uint32_t *len, const char *s)
{
    uint32_t off = *len;
    size_t n = strlen(s) + 1;

    memcpy(tab + off, s, n);
    *len += (uint32_t)n;
    return off;
}

/* A sound .eh_frame for spin: one CIE (zR, pcrel sdata4) and one FDE, then a terminator.
 * Returns its size. The FDE starts at offset 24. */
static uint32_t write_eh_frame(uint8_t *eh)
{
    static const uint8_t cie[24] = {
        0x14, 0, 0, 0, 0, 0, 0, 0, /* length 20, CIE id 0 */
        1, 'z', 'R', 0,            /* version, augmentation */
        1, 0x78, 16,               /* code align 1, data align -8, return address r16 */
        1, 0x1b,                   /* augmentation data: FDE pointers pcrel sdata4 */
        0x0c, 7, 8,                /* def_cfa rsp+8 */
        0x90, 1,                   /* offset r16 at cfa-8 */
        0, 0,                      /* nops */
    };
    static const uint8_t insns[12] = {
        0x41, 0x0e, 16, 0x86, 2, /* after push: cfa rsp+16, rbp at cfa-16 */
        0x43, 0x0d, 6,           /* after mov: cfa rbp+16 */
        0x46, 0x0c, 7, 8,        /* after pop: cfa rsp+8 */
    };
    uint8_t *fde = eh + 24;

    memcpy(eh, cie, sizeof(cie));
    memset(fde, 0, 36);
    put32(fde, 28);                                         /* length */
    put32(fde + 4, 28);                                     /* back to the CIE at 0 */
    put32(fde + 8, (uint32_t)(OPD_HOSTILE_CODE_OFF - (OFF_EH + 24 + 8))); /* pcrel */
    put32(fde + 12, sizeof(opd_hostile_spin_code));          /* range */
    fde[16] = 0;                                            /* augmentation length */
    memcpy(fde + 17, insns, sizeof(insns));
    return 24 + 32 + 4;
}

/* .eh_frame_hdr: version 1, eh_frame_ptr pcrel sdata4, count udata4, table datarel sdata4. */
static uint32_t write_eh_frame_hdr(uint8_t *h, uint32_t eh_vaddr, uint32_t count)
{
    h[0] = 1;
    h[1] = 0x1b;
    h[2] = 0x03;
    h[3] = 0x3b;
    put32(h + 4, eh_vaddr - (OFF_HDR + 4));
    put32(h + 8, count);
    put32(h + 12, OPD_HOSTILE_CODE_OFF - OFF_HDR);
    put32(h + 16, OFF_EH + 24 - OFF_HDR);
    return 20;
}

/* A Go 1.20 pclntab header (magic, pads, min LC, pointer size, then eight words). */
static void write_go_header(uint8_t *g, uint64_t nfunc, uint64_t funcname, uint64_t pcln)
{
    put32(g, 0xfffffff1u);
    g[4] = g[5] = 0;
    g[6] = 1;
    g[7] = 8;
    put64(g + 8, nfunc);
    put64(g + 16, 1);                    /* nfiles */
    put64(g + 24, OPD_HOSTILE_CODE_OFF); /* textStart */
    put64(g + 32, funcname);
    put64(g + 40, funcname); /* cu */
    put64(g + 48, funcname); /* filetab */
    put64(g + 56, funcname); /* pctab */
    put64(g + 64, pcln);
}

static void shdr(uint8_t *buf, unsigned i, uint32_t name, uint32_t type, uint64_t flags,
                 uint64_t addr, uint64_t off, uint64_t size, uint32_t link, uint32_t info,
                 uint64_t entsize)
{
    Elf64_Shdr sh = {
        .sh_name = name,
        .sh_type = type,
        .sh_flags = flags,
        .sh_addr = addr,
        .sh_offset = off,
        .sh_size = size,
        .sh_link = link,
        .sh_info = info,
        .sh_addralign = type == SHT_SYMTAB ? 8 : 1,
        .sh_entsize = entsize,
    };

    memcpy(buf + OFF_SHDRS + i * sizeof(sh), &sh, sizeof(sh));
}

static void sym(uint8_t *buf, unsigned i, uint32_t name, unsigned type, uint16_t shndx,
                uint64_t value, uint64_t size)
{
    Elf64_Sym s = {
        .st_name = name,
        .st_info = ELF64_ST_INFO(STB_GLOBAL, type),
        .st_shndx = shndx,
        .st_value = value,
        .st_size = size,
    };

    memcpy(buf + OFF_SYMTAB + i * sizeof(s), &s, sizeof(s));
}

int opd_hostile_build(enum opd_hostile_kind kind, uint8_t *buf)
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    Elf64_Phdr ph[2];
    uint8_t *strtab = buf + OFF_STRTAB, *shstr = buf + OFF_SHSTR;
    uint32_t strlen_ = 1, shlen = 1, eh_size, hdr_size, data_size = 0x100, nsyms = 1;
    uint32_t n_text, n_hdr, n_eh, n_data, n_symtab, n_strtab, n_shstr;
    uint64_t eh_sec_size, symtab_size, symtab_entsize = sizeof(Elf64_Sym);
    uint64_t data_addr = OFF_DATA;
    uint32_t symtab_link = S_STRTAB;
    bool go = kind == OPD_HOSTILE_GOPCLNTAB_TRUNCATED || kind == OPD_HOSTILE_GOPCLNTAB_OVERSIZED ||
              kind == OPD_HOSTILE_GOPCLNTAB_SELFREF;

    if ((unsigned)kind >= OPD_HOSTILE_NKINDS)
        return -EINVAL;
    memset(buf, 0, OPD_HOSTILE_SIZE);

    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_DYN;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_phoff = sizeof(*eh);
    eh->e_shoff = OFF_SHDRS;
    eh->e_ehsize = sizeof(*eh);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 2;
    eh->e_shentsize = sizeof(Elf64_Shdr);
    eh->e_shnum = S_COUNT;
    eh->e_shstrndx = S_SHSTR;

    memcpy(buf + OPD_HOSTILE_CODE_OFF, opd_hostile_spin_code, sizeof(opd_hostile_spin_code));
    eh_size = write_eh_frame(buf + OFF_EH);
    eh_sec_size = eh_size;
    hdr_size = write_eh_frame_hdr(buf + OFF_HDR, OFF_EH, 1);

    n_text = add_str(shstr, &shlen, ".text");
    n_hdr = add_str(shstr, &shlen, ".eh_frame_hdr");
    n_eh = add_str(shstr, &shlen, ".eh_frame");
    n_data = add_str(shstr, &shlen, go ? ".gopclntab" : ".rodata");
    n_symtab = add_str(shstr, &shlen, ".symtab");
    n_strtab = add_str(shstr, &shlen, ".strtab");
    n_shstr = add_str(shstr, &shlen, ".shstrtab");

    switch (kind) {
    case OPD_HOSTILE_CONTROL:
        sym(buf, nsyms++, add_str(strtab, &strlen_, OPD_HOSTILE_CONTROL_NAME), STT_FUNC, S_TEXT,
            OPD_HOSTILE_CODE_OFF, sizeof(opd_hostile_spin_code));
        break;
    case OPD_HOSTILE_EHFRAME_TRUNCATED:
        /* The section ends 14 bytes into the FDE, whose length still says 28. */
        eh_sec_size = 24 + 14;
        break;
    case OPD_HOSTILE_EHFRAME_OVERSIZED:
        /* The CIE claims ~4 GiB; the section header runs 1 GiB past the end of the file, so
         * the reader falls back to PT_GNU_EH_FRAME, whose header announces 2^32-1 FDEs. */
        put32(buf + OFF_EH, 0xfffffff0u);
        eh_sec_size = 1u << 30;
        hdr_size = write_eh_frame_hdr(buf + OFF_HDR, OFF_EH, 0xffffffffu);
        break;
    case OPD_HOSTILE_EHFRAME_SELFREF:
        /* Entry 0 is an FDE whose CIE pointer names entry 0 itself; the FDE at 24 names
         * entry 0 too; .eh_frame_hdr's eh_frame pointer names the header itself. */
        memset(buf + OFF_EH, 0, 24);
        put32(buf + OFF_EH, 20);
        put32(buf + OFF_EH + 4, 4);
        put32(buf + OFF_EH + 24 + 4, 28);
        hdr_size = write_eh_frame_hdr(buf + OFF_HDR, OFF_HDR, 1);
        break;
    case OPD_HOSTILE_GOPCLNTAB_TRUNCATED:
        /* 1000 functions announced; the section ends 16 bytes after the 72-byte header. */
        write_go_header(buf + OFF_DATA, 1000, 72, 80);
        data_size = 72 + 16;
        break;
    case OPD_HOSTILE_GOPCLNTAB_OVERSIZED:
        write_go_header(buf + OFF_DATA, 1ull << 40, 0xffffffffffff0000ull, 0xffffffffffff0000ull);
        break;
    case OPD_HOSTILE_GOPCLNTAB_SELFREF:
        /* The function table is the header's nfunc word, the name table the header itself:
         * function 0's name would be the magic bytes. */
        write_go_header(buf + OFF_DATA, 1, 0, 8);
        break;
    case OPD_HOSTILE_SYMTAB_TRUNCATED:
        /* Its size (below) runs 16 MiB past the end of the file. */
        sym(buf, nsyms++, add_str(strtab, &strlen_, "opd_hostile_truncated_spin"), STT_FUNC,
            S_TEXT, OPD_HOSTILE_CODE_OFF, sizeof(opd_hostile_spin_code));
        break;
    case OPD_HOSTILE_SYMTAB_OVERSIZED:
        sym(buf, nsyms++, add_str(strtab, &strlen_, "opd_hostile_oversized_spin"), STT_FUNC,
            S_TEXT, OPD_HOSTILE_CODE_OFF, sizeof(opd_hostile_spin_code));
        symtab_entsize = 1;
        break;
    case OPD_HOSTILE_SYMTAB_SELFREF:
        /* The names live in .strtab, but .symtab says its string table is itself. */
        sym(buf, nsyms++, add_str(strtab, &strlen_, "opd_hostile_selfref_spin"), STT_FUNC, S_TEXT,
            OPD_HOSTILE_CODE_OFF, sizeof(opd_hostile_spin_code));
        symtab_link = S_SYMTAB;
        break;
    case OPD_HOSTILE_PYVERSION_WRAP:
        /* What CPython exports, away from spin; Py_Version where value - sh_addr wraps. */
        data_addr = 0;
        sym(buf, nsyms++, add_str(strtab, &strlen_, "_PyRuntime"), STT_OBJECT, S_DATA, 0x10, 64);
        sym(buf, nsyms++, add_str(strtab, &strlen_, "PyCode_Type"), STT_OBJECT, S_DATA, 0x50, 64);
        sym(buf, nsyms++, add_str(strtab, &strlen_, "_PyEval_EvalFrameDefault"), STT_FUNC, S_DATA,
            0x90, 16);
        sym(buf, nsyms++, add_str(strtab, &strlen_, "Py_Version"), STT_OBJECT, S_DATA,
            0xfffffffffffffffeull, 4);
        break;
    default:
        break;
    }
    if (kind == OPD_HOSTILE_SYMTAB_TRUNCATED)
        symtab_size = (16u << 20) + nsyms * sizeof(Elf64_Sym);
    else if (kind == OPD_HOSTILE_SYMTAB_OVERSIZED)
        symtab_size = 1u << 30;
    else
        symtab_size = nsyms * sizeof(Elf64_Sym);

    memset(ph, 0, sizeof(ph));
    ph[0].p_type = PT_LOAD;
    ph[0].p_flags = PF_R | PF_X;
    ph[0].p_filesz = ph[0].p_memsz = OPD_HOSTILE_SIZE;
    ph[0].p_align = 0x1000;
    ph[1].p_type = PT_GNU_EH_FRAME;
    ph[1].p_flags = PF_R;
    ph[1].p_offset = ph[1].p_vaddr = ph[1].p_paddr = OFF_HDR;
    ph[1].p_filesz = ph[1].p_memsz = hdr_size;
    ph[1].p_align = 4;
    memcpy(buf + eh->e_phoff, ph, sizeof(ph));

    shdr(buf, S_TEXT, n_text, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, OPD_HOSTILE_CODE_OFF,
         OPD_HOSTILE_CODE_OFF, 0x40, 0, 0, 0);
    shdr(buf, S_HDR, n_hdr, SHT_PROGBITS, SHF_ALLOC, OFF_HDR, OFF_HDR, hdr_size, 0, 0, 0);
    shdr(buf, S_EH, n_eh, SHT_PROGBITS, SHF_ALLOC, OFF_EH, OFF_EH, eh_sec_size, 0, 0, 0);
    shdr(buf, S_DATA, n_data, SHT_PROGBITS, SHF_ALLOC, data_addr, OFF_DATA, data_size, 0, 0, 0);
    shdr(buf, S_SYMTAB, n_symtab, SHT_SYMTAB, 0, 0, OFF_SYMTAB, symtab_size, symtab_link, 1,
         symtab_entsize);
    shdr(buf, S_STRTAB, n_strtab, SHT_STRTAB, 0, 0, OFF_STRTAB, strlen_, 0, 0, 0);
    shdr(buf, S_SHSTR, n_shstr, SHT_STRTAB, 0, 0, OFF_SHSTR, shlen, 0, 0, 0);
    return 0;
}
