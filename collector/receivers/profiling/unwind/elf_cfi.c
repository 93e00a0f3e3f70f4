/* Locating .eh_frame / .eh_frame_hdr / .debug_frame in an ELF file with libelf. */
#include "elf_cfi.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#include "collector/log.h"

#define WHO "unwind/elf"

#ifndef EM_AARCH64
#define EM_AARCH64 183
#endif

static int elf_ready(void)
{
    static int ok = -1;

    if (ok < 0)
        ok = elf_version(EV_CURRENT) != EV_NONE;
    return ok ? 0 : -ENOEXEC;
}

static Elf *open_elf(int fd)
{
    Elf *e;

    if (elf_ready())
        return NULL;
    e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!e)
        return NULL;
    if (elf_kind(e) != ELF_K_ELF || gelf_getclass(e) != ELFCLASS64) {
        elf_end(e);
        return NULL;
    }
    return e;
}

static Elf_Scn *find_section(Elf *e, const char *name, GElf_Shdr *out)
{
    Elf_Scn *scn = NULL;
    size_t shstrndx;

    if (elf_getshdrstrndx(e, &shstrndx))
        return NULL;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        const char *n;

        if (!gelf_getshdr(scn, &sh))
            continue;
        n = elf_strptr(e, shstrndx, sh.sh_name);
        if (n && !strcmp(n, name)) {
            *out = sh;
            return scn;
        }
    }
    return NULL;
}

/* Section bytes; NULL for SHT_NOBITS or unreadable sections. Decompresses
 * SHF_COMPRESSED sections in libelf's private copy. */
static Elf_Data *section_data(Elf_Scn *scn, const GElf_Shdr *sh)
{
    Elf_Data *d;

    if (sh->sh_type == SHT_NOBITS)
        return NULL;
    if ((sh->sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
        return NULL;
    d = elf_getdata(scn, NULL);
    if (!d || !d->d_buf || d->d_size == 0)
        return NULL;
    return d;
}

/* Maps a vaddr to a file offset through the PT_LOAD segments; returns the bytes of the
 * segment's file image from there on, *avail of them. The program headers are hostile:
 * the segment is checked as an offset and a size against the file size (each compared
 * with what is left, so no sum can wrap) before any pointer is formed. */
static const uint8_t *vaddr_bytes(Elf *e, uint64_t vaddr, size_t *avail)
{
    size_t n, i, fsize;
    const uint8_t *img = (const uint8_t *)elf_rawfile(e, &fsize);

    if (!img || elf_getphdrnum(e, &n))
        return NULL;
    for (i = 0; i < n; i++) {
        GElf_Phdr ph;

        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
            uint64_t delta = vaddr - ph.p_vaddr;

            if (ph.p_offset > fsize || ph.p_filesz > fsize - ph.p_offset)
                return NULL;
            /* delta < p_filesz <= fsize - p_offset: the offset stays inside the file. */
            *avail = (size_t)(ph.p_filesz - delta);
            return img + ph.p_offset + delta;
        }
    }
    return NULL;
}

/* Decodes the .eh_frame_hdr field at offset *pos of hdr[0, n) (udata4/sdata4/udata8/
 * sdata8, absolute, pcrel or datarel to the header at hdr_vaddr) and moves *pos past it. */
static int hdr_field(const uint8_t *hdr, size_t n, size_t *pos, uint8_t enc, uint64_t hdr_vaddr,
                     uint64_t *out)
{
    uint64_t field_vaddr = hdr_vaddr + *pos;
    uint64_t v;

    if (*pos > n)
        return -EINVAL;
    switch (enc & 0x0f) {
    case 0x03:
    case 0x0b: {
        uint32_t u;
        if (n - *pos < 4)
            return -EINVAL;
        memcpy(&u, hdr + *pos, 4);
        *pos += 4;
        v = (enc & 0x0f) == 0x0b ? (uint64_t)(int64_t)(int32_t)u : u;
        break;
    }
    case 0x00:
    case 0x04:
    case 0x0c:
        if (n - *pos < 8)
            return -EINVAL;
        memcpy(&v, hdr + *pos, 8);
        *pos += 8;
        break;
    default:
        return -EINVAL;
    }
    switch (enc & 0x70) {
    case 0x00:
        break;
    case 0x10:
        v += field_vaddr;
        break;
    case 0x30:
        v += hdr_vaddr;
        break;
    default:
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* Reads .eh_frame_hdr at hdr (vaddr hv): the .eh_frame address and the FDE count. */
static int parse_hdr(const uint8_t *hdr, size_t n, uint64_t hv, uint64_t *eh_vaddr,
                     uint32_t *count)
{
    size_t pos = 4;
    uint64_t c = 0;

    if (n < 4 || hdr[0] != 1)
        return -EINVAL;
    if (hdr_field(hdr, n, &pos, hdr[1], hv, eh_vaddr))
        return -EINVAL;
    *count = 0;
    if (hdr[2] != 0xff && hdr[3] != 0xff && !hdr_field(hdr, n, &pos, hdr[2], hv, &c) &&
        c <= UINT32_MAX)
        *count = (uint32_t)c;
    return 0;
}

static uint64_t got_vaddr(Elf *e)
{
    GElf_Shdr sh;

    if (find_section(e, ".got", &sh))
        return sh.sh_addr;
    return 0;
}

static int add_eh_frame(Elf *e, struct opd_cfi_builder *b, struct opd_elf_cfi_info *info)
{
    struct opd_cfi_section sec = {.kind = OPD_CFI_EH_FRAME};
    GElf_Shdr sh, hsh;
    Elf_Scn *scn, *hscn;
    Elf_Data *d;

    hscn = find_section(e, ".eh_frame_hdr", &hsh);
    if (hscn && (d = section_data(hscn, &hsh))) {
        uint64_t ev;
        parse_hdr(d->d_buf, d->d_size, hsh.sh_addr, &ev, &info->hdr_fde_count);
    }
    scn = find_section(e, ".eh_frame", &sh);
    if (scn && (d = section_data(scn, &sh))) {
        sec.data = d->d_buf;
        sec.size = d->d_size;
        sec.vaddr = sh.sh_addr;
        sec.datarel_base = got_vaddr(e);
        info->used_eh_frame = 1;
        return opd_cfi_builder_add(b, &sec);
    }
    /* No section headers (or a stripped one): follow PT_GNU_EH_FRAME. */
    {
        size_t n, i, avail;

        if (elf_getphdrnum(e, &n))
            return -ENOENT;
        for (i = 0; i < n; i++) {
            GElf_Phdr ph;
            const uint8_t *hdr;
            uint64_t ev;
            uint32_t count = 0;

            if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
                continue;
            hdr = vaddr_bytes(e, ph.p_vaddr, &avail);
            if (!hdr || parse_hdr(hdr, avail < ph.p_filesz ? avail : ph.p_filesz, ph.p_vaddr,
                                  &ev, &count))
                return -ENOENT;
            sec.data = vaddr_bytes(e, ev, &avail);
            if (!sec.data)
                return -ENOENT;
            sec.size = avail;
            sec.vaddr = ev;
            info->hdr_fde_count = count;
            info->used_eh_frame = 1;
            info->via_phdr = 1;
            return opd_cfi_builder_add(b, &sec);
        }
    }
    return -ENOENT;
}

static int add_debug_frame(Elf *e, struct opd_cfi_builder *b, struct opd_elf_cfi_info *info)
{
    struct opd_cfi_section sec = {.kind = OPD_CFI_DEBUG_FRAME};
    GElf_Shdr sh;
    Elf_Scn *scn = find_section(e, ".debug_frame", &sh);
    Elf_Data *d;

    if (!scn || !(d = section_data(scn, &sh)))
        return -ENOENT;
    sec.data = d->d_buf;
    sec.size = d->d_size;
    info->used_debug_frame = 1;
    return opd_cfi_builder_add(b, &sec);
}

int opd_elf_cfi_build_fd(int fd, int debug_fd, struct opd_unwind_table *out,
                         struct opd_elf_cfi_info *info)
{
    struct opd_elf_cfi_info local;
    struct opd_cfi_builder *b = NULL;
    const struct opd_cfi_arch *arch;
    Elf *e = NULL, *de = NULL;
    GElf_Shdr gosh;
    GElf_Ehdr eh;
    int err, have = 0;

    if (!info)
        info = &local;
    memset(info, 0, sizeof(*info));
    e = open_elf(fd);
    if (!e || !gelf_getehdr(e, &eh)) {
        err = -ENOEXEC;
        goto out;
    }
    info->machine = eh.e_machine;
    if (eh.e_machine == EM_X86_64)
        arch = &opd_cfi_arch_x86_64;
    else if (eh.e_machine == EM_AARCH64)
        arch = &opd_cfi_arch_arm64;
    else {
        err = -ENOEXEC;
        goto out;
    }
    b = opd_cfi_builder_create(arch);
    if (!b) {
        err = -ENOMEM;
        goto out;
    }
    err = add_eh_frame(e, b, info);
    if (err == -ENOMEM)
        goto out;
    have |= err == 0;
    /* Go code is walked by frame pointer (Go keeps them, and its runtime switches stacks
     * in ways its .debug_frame does not describe); .eh_frame still covers cgo's C code. */
    info->is_go = find_section(e, ".gopclntab", &gosh) != NULL ||
                  find_section(e, ".go.buildinfo", &gosh) != NULL;
    err = info->is_go ? -ENOENT : add_debug_frame(e, b, info);
    if (err == -ENOMEM)
        goto out;
    have |= err == 0;
    if (!info->is_go && debug_fd >= 0 && (de = open_elf(debug_fd))) {
        err = add_debug_frame(de, b, info);
        if (err == -ENOMEM)
            goto out;
        have |= err == 0;
    }
    if (!have) {
        err = -ENOENT;
        goto out;
    }
    err = opd_cfi_builder_finish(b, out);
out:
    opd_cfi_builder_destroy(b);
    if (de)
        elf_end(de);
    if (e)
        elf_end(e);
    return err;
}

int opd_elf_cfi_build(const char *path, const char *debug_path, struct opd_unwind_table *out,
                      struct opd_elf_cfi_info *info)
{
    int fd, dfd = -1, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (debug_path) {
        dfd = open(debug_path, O_RDONLY | O_CLOEXEC);
        if (dfd < 0)
            OPD_DEBUG(WHO, "%s: cannot open debug file %s: %s", path, debug_path,
                      strerror(errno));
    }
    err = opd_elf_cfi_build_fd(fd, dfd, out, info);
    if (dfd >= 0)
        close(dfd);
    close(fd);
    return err;
}

static int note_build_id(Elf_Data *d, uint8_t *buf, size_t cap)
{
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;

    while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            !memcmp((const char *)d->d_buf + name_off, "GNU", 4) && nh.n_descsz > 0) {
            size_t n = nh.n_descsz < cap ? nh.n_descsz : cap;
            memcpy(buf, (const char *)d->d_buf + desc_off, n);
            return (int)n;
        }
    }
    return -ENOENT;
}

int opd_elf_build_id(int fd, uint8_t *buf, size_t cap)
{
    Elf *e = open_elf(fd);
    Elf_Scn *scn = NULL;
    int ret = -ENOENT;
    size_t n, i;

    if (!e)
        return -ENOEXEC;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
            continue;
        d = elf_getdata(scn, NULL);
        if (d && d->d_buf && (ret = note_build_id(d, buf, cap)) > 0)
            goto out;
    }
    /* No section headers: PT_NOTE segments. */
    if (!elf_getphdrnum(e, &n)) {
        for (i = 0; i < n; i++) {
            GElf_Phdr ph;
            Elf_Data *d;

            if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE)
                continue;
            d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
            if (d && d->d_buf && (ret = note_build_id(d, buf, cap)) > 0)
                goto out;
        }
    }
    ret = -ENOENT;
out:
    elf_end(e);
    return ret;
}

int opd_elf_load_bias(int fd, uint64_t map_start, uint64_t pgoff, uint64_t *bias)
{
    Elf *e = open_elf(fd);
    int ret = -ENOENT;
    size_t n, i;

    if (!e)
        return -ENOEXEC;
    if (elf_getphdrnum(e, &n))
        goto out;
    for (i = 0; i < n; i++) {
        GElf_Phdr ph;
        uint64_t seg_page;

        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        /* The mapping starts at a page boundary at or below the segment's offset. */
        seg_page = ph.p_offset & ~(uint64_t)0xfff;
        if (pgoff >= seg_page && pgoff < ph.p_offset + ph.p_filesz) {
            *bias = map_start - (ph.p_vaddr - (ph.p_offset - pgoff));
            ret = 0;
            goto out;
        }
    }
out:
    elf_end(e);
    return ret;
}
