/* libelf reader for symbolization. Hostile input: every size and offset comes through
 * libelf's checked accessors (gelf_*, elf_getdata, elf_strptr); we add bounds on counts. */
#include "collector/receivers/profiling/elfread.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/gopclntab.h"

#define MAX_SYMBOLS       (16u << 20)
#define MAX_SECTION_BYTES (512u << 20) /* .symtab/.dynsym/.gopclntab read into memory */
#define MAX_NOTE_BYTES    (1u << 20)

int opd_elf_lib_init(void)
{
    static int done; /* elf_version is idempotent; the flag only saves the call */

    if (!done) {
        if (elf_version(EV_CURRENT) == EV_NONE)
            return -ENOTSUP;
        done = 1;
    }
    return 0;
}

struct Elf *opd_elf_open_fd(int fd)
{
    Elf *e;

    if (opd_elf_lib_init()) {
        errno = ENOTSUP;
        return NULL;
    }
    /* ELF_C_READ, not READ_MMAP: reads through pread, so truncation is an error, not SIGBUS. */
    e = elf_begin(fd, ELF_C_READ, NULL);
    if (!e) {
        errno = EINVAL;
        return NULL;
    }
    if (elf_kind(e) != ELF_K_ELF) {
        elf_end(e);
        errno = EINVAL;
        return NULL;
    }
    return e;
}

struct Elf *opd_elf_open_mem(const void *buf, size_t len)
{
    Elf *e;

    if (opd_elf_lib_init()) {
        errno = ENOTSUP;
        return NULL;
    }
    e = elf_memory((char *)buf, len);
    if (!e) {
        errno = EINVAL;
        return NULL;
    }
    if (elf_kind(e) != ELF_K_ELF) {
        elf_end(e);
        errno = EINVAL;
        return NULL;
    }
    return e;
}

void opd_elf_close(struct Elf *elf)
{
    if (elf)
        elf_end(elf);
}

void opd_elf_info_fini(struct opd_elf_info *info)
{
    if (!info)
        return;
    opd_free(info->loads);
    info->loads = NULL;
    info->n_loads = 0;
    opd_free(info->go_pcln);
    info->go_pcln = NULL;
    info->go_pcln_len = 0;
}

/* Walks the notes of one data block for the GNU and Go build ids. */
static void scan_notes(Elf_Data *d, struct opd_elf_info *info)
{
    size_t off = 0, next, name_off, desc_off;
    GElf_Nhdr nh;

    while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        const char *name = (const char *)d->d_buf + name_off;
        const uint8_t *desc = (const uint8_t *)d->d_buf + desc_off;

        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
            nh.n_descsz > 0 && !info->build_id_len) {
            info->build_id_len = nh.n_descsz < OPD_BUILD_ID_MAX ? nh.n_descsz : OPD_BUILD_ID_MAX;
            memcpy(info->build_id, desc, info->build_id_len);
        } else if (nh.n_type == 4 && (nh.n_namesz == 3 || nh.n_namesz == 4) &&
                   memcmp(name, "Go", 3) == 0 && nh.n_descsz > 0 && !info->go_build_id[0]) {
            size_t n =
                nh.n_descsz < OPD_GO_BUILD_ID_MAX - 1 ? nh.n_descsz : OPD_GO_BUILD_ID_MAX - 1;
            size_t i;

            for (i = 0; i < n && desc[i] >= 0x20 && desc[i] < 0x7f; i++)
                info->go_build_id[i] = (char)desc[i];
            info->go_build_id[i] = '\0';
            info->is_go = true;
        }
        if (next <= off)
            break;
        off = next;
    }
}

static int read_headers(Elf *elf, struct opd_elf_info *info)
{
    GElf_Ehdr eh;
    size_t i, phnum;
    bool notes_from_sections = false;
    Elf_Scn *scn = NULL;
    size_t shstrndx;

    if (!gelf_getehdr(elf, &eh))
        return -EINVAL;
    info->type = eh.e_type;
    if (elf_getphdrnum(elf, &phnum))
        phnum = 0;
    if (phnum > 4096)
        return -EINVAL;
    for (i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        struct opd_elf_load *l;
        size_t cap = info->n_loads;

        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        /* A segment's file part lies within its memory part, and neither range wraps. */
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > UINT64_MAX - ph.p_filesz ||
            ph.p_vaddr > UINT64_MAX - ph.p_memsz)
            info->malformed |= OPD_ELF_BAD_HEADERS;
        if (opd_vec_reserve((void **)&info->loads, &cap, info->n_loads + 1, sizeof(*l)))
            return -ENOMEM;
        l = &info->loads[info->n_loads++];
        l->offset = ph.p_offset;
        l->vaddr = ph.p_vaddr;
        l->filesz = ph.p_filesz;
        l->memsz = ph.p_memsz;
    }
    if (elf_getshdrstrndx(elf, &shstrndx))
        shstrndx = 0;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        const char *name;
        Elf_Data *d;

        if (!gelf_getshdr(scn, &sh))
            continue;
        name = shstrndx ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
        if (sh.sh_type == SHT_NOTE && sh.sh_size <= MAX_NOTE_BYTES) {
            d = elf_getdata(scn, NULL);
            if (d && d->d_buf) {
                scan_notes(d, info);
                notes_from_sections = true;
            }
        }
        if (!name)
            continue;
        if (strcmp(name, ".symtab") == 0 && sh.sh_type == SHT_SYMTAB && sh.sh_size > 0)
            info->has_symtab = true;
        else if (strcmp(name, ".debug_info") == 0 || strcmp(name, ".zdebug_info") == 0)
            info->has_debug_info = sh.sh_type != SHT_NOBITS;
        else if (strcmp(name, ".gopclntab") == 0 || strcmp(name, ".data.rel.ro.gopclntab") == 0)
            info->is_go = true;
        else if (strcmp(name, ".gnu_debuglink") == 0 && sh.sh_type != SHT_NOBITS &&
                 sh.sh_size <= MAX_NOTE_BYTES) {
            d = elf_getdata(scn, NULL);
            if (d && d->d_buf && d->d_size >= 8) {
                const char *s = d->d_buf;
                size_t n = strnlen(s, d->d_size);
                size_t crc_off = (n + 4) & ~(size_t)3;

                if (n > 0 && n < sizeof(info->debuglink) && crc_off + 4 <= d->d_size &&
                    !memchr(s, '/', n)) {
                    const uint8_t *c = (const uint8_t *)d->d_buf + crc_off;

                    memcpy(info->debuglink, s, n);
                    info->debuglink[n] = '\0';
                    /* The CRC is stored in the file's byte order. */
                    if (eh.e_ident[EI_DATA] == ELFDATA2MSB)
                        info->debuglink_crc = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
                                              (uint32_t)c[2] << 8 | c[3];
                    else
                        info->debuglink_crc = (uint32_t)c[3] << 24 | (uint32_t)c[2] << 16 |
                                              (uint32_t)c[1] << 8 | c[0];
                }
            }
        }
    }
    /* Without section headers, notes are still reachable through PT_NOTE. */
    if (!notes_from_sections) {
        for (i = 0; i < phnum; i++) {
            GElf_Phdr ph;
            Elf_Data *d;

            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
                continue;
            if (ph.p_filesz == 0 || ph.p_filesz > (1u << 20))
                continue;
            d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
            if (d && d->d_buf)
                scan_notes(d, info);
        }
    }
    return 0;
}

/* True for symbols that name code: functions, ifuncs, and untyped symbols in executable
 * sections (hand-written assembly). */
static bool is_code_symbol(Elf *elf, const GElf_Sym *s)
{
    int type = GELF_ST_TYPE(s->st_info);
    Elf_Scn *scn;
    GElf_Shdr sh;

    if (s->st_shndx == SHN_UNDEF || s->st_value == 0)
        return false;
    if (type == STT_FUNC || type == STT_GNU_IFUNC)
        return true;
    if (type != STT_NOTYPE || s->st_shndx >= SHN_LORESERVE)
        return false;
    scn = elf_getscn(elf, s->st_shndx);
    return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR);
}

/* Whether section index link names a string table. */
static bool is_strtab(Elf *elf, size_t link)
{
    Elf_Scn *scn = elf_getscn(elf, link);
    GElf_Shdr sh;

    return scn && gelf_getshdr(scn, &sh) && sh.sh_type == SHT_STRTAB;
}

/* Reads one symbol section. A section that cannot be what it says (absurd size, unreadable
 * data, an entry size other than the class's symbol size, a string table that is not one)
 * is rejected whole and flagged in *malformed. */
static int read_symbols_of(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct opd_symtab *syms,
                           size_t *added, unsigned *malformed)
{
    size_t i, n, entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
    Elf_Data *d;

    /* libelf reads the whole section into memory: refuse absurd sizes up front. */
    if (sh->sh_size > MAX_SECTION_BYTES || sh->sh_entsize != entsize || entsize == 0 ||
        !is_strtab(elf, sh->sh_link)) {
        *malformed |= OPD_ELF_BAD_SYMTAB;
        return 0;
    }
    d = elf_getdata(scn, NULL);
    if (!d || !d->d_buf) {
        *malformed |= OPD_ELF_BAD_SYMTAB;
        return 0;
    }
    n = d->d_size / entsize;
    if (n > MAX_SYMBOLS)
        n = MAX_SYMBOLS;
    for (i = 0; i < n; i++) {
        GElf_Sym s;
        const char *name;
        int err;

        if (!gelf_getsym(d, (int)i, &s) || !is_code_symbol(elf, &s))
            continue;
        name = elf_strptr(elf, sh->sh_link, s.st_name);
        if (!name || !name[0])
            continue;
        /* ARM/AArch64 mapping symbols ($x, $d) and local labels are not functions. */
        if (name[0] == '$' || (name[0] == '.' && name[1] == 'L'))
            continue;
        err = opd_symtab_add(syms, s.st_value, s.st_size, name, strlen(name),
                             GELF_ST_BIND(s.st_info) == STB_GLOBAL ? 2
                             : GELF_ST_BIND(s.st_info) == STB_WEAK ? 1
                                                                   : 0);
        if (err == -EFBIG)
            return 0; /* the table reached its byte limit: keep what fits */
        if (err)
            return err;
        (*added)++;
    }
    return 0;
}

static int read_symbols(Elf *elf, struct opd_symtab *syms, unsigned *malformed)
{
    static const Elf64_Word order[2] = {SHT_SYMTAB, SHT_DYNSYM};
    size_t added = 0;
    int k, err;

    for (k = 0; k < 2 && added == 0; k++) {
        Elf_Scn *scn = NULL;

        while ((scn = elf_nextscn(elf, scn)) != NULL) {
            GElf_Shdr sh;

            if (!gelf_getshdr(scn, &sh) || sh.sh_type != order[k])
                continue;
            err = read_symbols_of(elf, scn, &sh, syms, &added, malformed);
            if (err)
                return err;
        }
    }
    return 0;
}

/* Parses the table at p; keeps a copy in keep (when not NULL) for line lookups. Returns the
 * number of functions, -EINVAL, -ENOMEM, -E2BIG. */
static int parse_table(const uint8_t *p, size_t len, uint64_t text, struct opd_symtab *go_syms,
                       struct opd_elf_info *keep)
{
    int n = opd_gopclntab_parse(p, len, text, go_syms);

    if (n > 0 && keep && !keep->go_pcln) {
        keep->go_pcln = opd_malloc(len);
        if (!keep->go_pcln)
            return -ENOMEM;
        memcpy(keep->go_pcln, p, len);
        keep->go_pcln_len = len;
    }
    return n;
}

/* Looks for a pclntab header at 8-byte aligned offsets of scn. Returns 0 when found and
 * parsed, 1 when not there, -ENOMEM/-E2BIG. */
static int scan_for_pclntab(Elf_Scn *scn, uint64_t text, struct opd_symtab *go_syms,
                            struct opd_elf_info *keep)
{
    GElf_Shdr sh;
    Elf_Data *d;
    size_t off;
    int n;

    if (!gelf_getshdr(scn, &sh) || sh.sh_size > MAX_SECTION_BYTES)
        return 1;
    d = elf_getdata(scn, NULL);
    if (!d || !d->d_buf)
        return 1;
    /* off <= d_size always, so d_size - off is what is left and cannot wrap. */
    for (off = 0; d->d_size - off >= 64; off += 8) {
        const uint8_t *p = (const uint8_t *)d->d_buf + off;

        if (!opd_gopclntab_probe(p, d->d_size - off))
            continue;
        n = parse_table(p, d->d_size - off, text, go_syms, keep);
        if (n == -ENOMEM || n == -E2BIG)
            return n;
        if (n > 0)
            return 0;
    }
    return 1;
}

/* Finds the pclntab: the .gopclntab section, else (PIE builds keep it inside .data.rel.ro)
 * a header with a known magic at an 8-byte aligned offset of .data.rel.ro or .rodata, else
 * (for a binary known to be Go) of any read-only data section. */
static int read_go(Elf *elf, bool is_go, struct opd_symtab *go_syms, struct opd_elf_info *keep,
                   unsigned *malformed)
{
    Elf_Scn *scn = NULL, *cand[2] = {NULL, NULL}, *tab = NULL;
    uint64_t text = 0, first_exec = 0;
    size_t shstrndx;
    Elf_Data *d;
    int k, n;

    if (elf_getshdrstrndx(elf, &shstrndx))
        return 0;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        const char *name;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
            continue;
        /* The first code section stands in for .text when names cannot be trusted. */
        if (!first_exec && (sh.sh_flags & SHF_EXECINSTR))
            first_exec = sh.sh_addr;
        name = elf_strptr(elf, shstrndx, sh.sh_name);
        if (!name)
            continue;
        /* PIE builds name it .data.rel.ro.gopclntab. */
        if (strcmp(name, ".gopclntab") == 0 || strcmp(name, ".data.rel.ro.gopclntab") == 0)
            tab = scn;
        else if (strcmp(name, ".text") == 0)
            text = sh.sh_addr;
        else if (strcmp(name, ".data.rel.ro") == 0)
            cand[0] = scn;
        else if (strcmp(name, ".rodata") == 0)
            cand[1] = scn;
    }
    if (!text)
        text = first_exec;
    if (tab) {
        GElf_Shdr sh;

        if (!gelf_getshdr(tab, &sh) || sh.sh_size > MAX_SECTION_BYTES ||
            !(d = elf_getdata(tab, NULL)) || !d->d_buf) {
            *malformed |= OPD_ELF_BAD_GOPCLNTAB;
            return 0;
        }
        n = parse_table(d->d_buf, d->d_size, text, go_syms, keep);
        if (n == -EINVAL)
            *malformed |= OPD_ELF_BAD_GOPCLNTAB;
        return n == -ENOMEM || n == -E2BIG ? n : 0;
    }
    for (k = 0; k < 2; k++) {
        if (!cand[k])
            continue;
        n = scan_for_pclntab(cand[k], text, go_syms, keep);
        if (n <= 0)
            return n;
    }
    /* Section names can be mangled by tools that rewrite Go binaries: when the Go build id
     * says this is Go, scan every read-only data section. */
    if (!is_go)
        return 0;
    scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
            (sh.sh_flags & SHF_EXECINSTR))
            continue;
        n = scan_for_pclntab(scn, text, go_syms, keep);
        if (n <= 0)
            return n;
    }
    return 0;
}

int opd_elf_read(struct Elf *elf, unsigned what, struct opd_elf_info *info, struct opd_symtab *syms,
                 struct opd_symtab *go_syms)
{
    unsigned scratch = 0, *malformed = info ? &info->malformed : &scratch;
    int err = 0;

    if (!elf)
        return -EINVAL;
    if ((what & OPD_ELF_HEADERS) && info) {
        err = read_headers(elf, info);
        if (err)
            return err;
    }
    if ((what & OPD_ELF_SYMBOLS) && syms) {
        syms->elf_rank = true;
        err = read_symbols(elf, syms, malformed);
        if (err)
            return err;
        err = opd_symtab_finish(syms);
        if (err)
            return err;
    }
    if ((what & OPD_ELF_GO) && go_syms) {
        err = read_go(elf, info && info->is_go, go_syms, (what & OPD_ELF_GO_LINES) ? info : NULL,
                      malformed);
        if (err)
            return err;
        err = opd_symtab_finish(go_syms);
        if (err)
            return err;
        if (info && go_syms->n)
            info->is_go = true;
    }
    return 0;
}

int opd_elf_offset_to_vaddr(const struct opd_elf_info *info, uint64_t off, uint64_t *vaddr)
{
    size_t i;

    for (i = 0; i < info->n_loads; i++) {
        const struct opd_elf_load *l = &info->loads[i];

        if (off >= l->offset && off - l->offset < l->filesz) {
            *vaddr = l->vaddr + (off - l->offset);
            return 0;
        }
    }
    return -ENOENT;
}

/* Lowercase hex of p[0..n) into out (out_len bytes, NUL-terminated; cut to fit). */
static void hex_encode(const uint8_t *p, size_t n, char *out, size_t out_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    if (!out_len)
        return;
    for (i = 0; i < n && o + 2 < out_len; i++) {
        out[o++] = hex[p[i] >> 4];
        out[o++] = hex[p[i] & 15];
    }
    out[o] = '\0';
}

void opd_elf_build_id_hex(const struct opd_elf_info *info, char *out, size_t out_len)
{
    hex_encode(info->build_id, info->build_id_len, out, out_len);
}

/* Feeds len bytes of fd from offset off into the digest. */
static int hash_range(EVP_MD_CTX *ctx, int fd, off_t off, size_t len)
{
    uint8_t buf[4096];

    while (len) {
        ssize_t n = pread(fd, buf, len < sizeof(buf) ? len : sizeof(buf), off);

        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
            return -ENOMEM;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

int opd_elf_file_id(int fd, char out[33])
{
    uint8_t md[EVP_MAX_MD_SIZE], be[8];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int mdlen = 0;
    struct stat st;
    size_t head, tail;
    int err = -ENOMEM;

    out[0] = '\0';
    if (!ctx)
        return -ENOMEM;
    if (fstat(fd, &st)) {
        err = -errno;
        goto out;
    }
    head = st.st_size < 4096 ? (size_t)st.st_size : 4096;
    tail = head;
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)((uint64_t)st.st_size >> (56 - 8 * i));
    if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto out;
    /* The head, the tail (both whole when the file is shorter), the length. */
    err = hash_range(ctx, fd, 0, head);
    if (!err)
        err = hash_range(ctx, fd, st.st_size - (off_t)tail, tail);
    if (err)
        goto out;
    err = -ENOMEM;
    if (!EVP_DigestUpdate(ctx, be, sizeof(be)) || !EVP_DigestFinal_ex(ctx, md, &mdlen) ||
        mdlen < 16)
        goto out;
    hex_encode(md, 16, out, 33);
    err = 0;
out:
    EVP_MD_CTX_free(ctx);
    return err;
}
