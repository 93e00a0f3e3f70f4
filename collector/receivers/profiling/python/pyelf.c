/* CPython detection in one ELF file (see pyelf.h). Reads .dynsym, else .symtab, through
 * libelf without mmap; Py_Version's value is read from its section's file bytes. */
#include "collector/receivers/profiling/python/pyelf.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/receivers/profiling/elfread.h"

int opd_py_version_from_name(const char *path, unsigned *major, unsigned *minor)
{
    const char *b = strrchr(path, '/');
    unsigned ma, mi;
    int used = 0;

    b = b ? b + 1 : path;
    if (strncmp(b, "lib", 3) == 0)
        b += 3;
    if (sscanf(b, "python%u.%u%n", &ma, &mi, &used) != 2 || used == 0 || ma != 3 || mi > 99)
        return -EINVAL;
    *major = ma;
    *minor = mi;
    return 0;
}

/* Reads the 4-byte value of a symbol from its section's file data. The symbol's value is
 * hostile: its offset into the section is checked as a size against what is left of the
 * section and of its data (sums like st_value + 4 could wrap past 2^64). */
static int read_sym_u32(Elf *elf, const GElf_Sym *sym, uint32_t *out)
{
    Elf_Scn *scn = elf_getscn(elf, sym->st_shndx);
    GElf_Shdr sh;
    Elf_Data *d;
    uint64_t off;

    if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
        return -EINVAL;
    if (sym->st_value < sh.sh_addr)
        return -EINVAL;
    off = sym->st_value - sh.sh_addr;
    if (off > sh.sh_size || sh.sh_size - off < 4)
        return -EINVAL;
    d = elf_getdata(scn, NULL);
    if (!d || !d->d_buf || off > d->d_size || d->d_size - off < 4)
        return -EINVAL;
    memcpy(out, (const char *)d->d_buf + off, 4);
    return 0;
}

static int scan_symbols(Elf *elf, Elf_Scn *scn, struct opd_py_elf *out, uint32_t *version,
                        int *have_version)
{
    GElf_Shdr sh;
    Elf_Data *d;
    size_t n;

    if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize)
        return -EINVAL;
    d = elf_getdata(scn, NULL);
    if (!d)
        return -EINVAL;
    n = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < n; i++) {
        GElf_Sym sym;
        const char *name;

        if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
            continue;
        name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name || (name[0] != '_' && name[0] != 'P'))
            continue;
        if (strcmp(name, "_PyRuntime") == 0) {
            out->runtime = sym.st_value;
        } else if (strcmp(name, "PyCode_Type") == 0) {
            out->code_type = sym.st_value;
        } else if (strcmp(name, "_PyEval_EvalFrameDefault") == 0) {
            out->eval_start = sym.st_value;
            out->eval_end = sym.st_value + (sym.st_size ? sym.st_size : 1);
        } else if (strcmp(name, "Py_Version") == 0 && (sym.st_size == 4 || sym.st_size == 8)) {
            /* const unsigned long: the value is in its low 4 bytes (x86_64 is LE). */
            if (read_sym_u32(elf, &sym, version) == 0)
                *have_version = 1;
        }
    }
    return 0;
}

int opd_py_elf_inspect(const char *path, struct opd_py_elf *out)
{
    Elf *elf = NULL;
    Elf_Scn *scn = NULL, *dynsym = NULL, *symtab = NULL;
    uint32_t version = 0;
    int have_version = 0, fd, err;

    memset(out, 0, sizeof(*out));
    if (opd_elf_lib_init())
        return -ENOTSUP;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    elf = elf_begin(fd, ELF_C_READ, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        err = -ENOENT;
        goto out;
    }
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;

        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_DYNSYM)
            dynsym = scn;
        else if (sh.sh_type == SHT_SYMTAB)
            symtab = scn;
    }
    if (dynsym)
        scan_symbols(elf, dynsym, out, &version, &have_version);
    if (symtab && (!out->runtime || !out->code_type || !out->eval_start))
        scan_symbols(elf, symtab, out, &version, &have_version);
    if (!out->runtime) {
        err = -ENOENT;
        goto out;
    }
    if (have_version && (version >> 24) == 3) {
        /* PY_VERSION_HEX: major, minor, micro, level/serial one byte each. */
        out->major = version >> 24;
        out->minor = (version >> 16) & 0xff;
        out->micro = (version >> 8) & 0xff;
        out->exact = true;
    } else if (opd_py_version_from_name(path, &out->major, &out->minor)) {
        err = -EINVAL;
        goto out;
    }
    err = 0;
out:
    if (elf)
        elf_end(elf);
    close(fd);
    return err;
}
