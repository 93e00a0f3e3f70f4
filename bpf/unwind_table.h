/* Unwind table layout shared by the table compiler (user space) and the BPF unwinder.
 *
 * One global array of rows (map opd_unwind_rows) holds the tables of every loaded file;
 * each file owns a contiguous extent [start, start + count) sorted by pc. A row applies
 * from its pc to the next row's pc. Row pcs are relative to the file's pc_base (its lowest
 * covered ELF vaddr) so that a table is shared by every process that maps the file; the
 * per-process mapping value folds pc_base into its bias.
 *
 * Everything here is plain fixed-width integers so that the same header compiles for
 * x86_64 and arm64 user space and for -target bpf. Register numbers are DWARF numbers of
 * the target architecture; x86_64 names appear in comments only. */
#ifndef OPD_BPF_UNWIND_TABLE_H
#define OPD_BPF_UNWIND_TABLE_H

#ifndef __VMLINUX_H__ /* BPF programs get the same types from vmlinux.h */
#include <linux/types.h>
#endif

/* How the walk found each user frame after the first, in the frame word itself: user
 * addresses are below 2^47, so bits 61-62 are free. Only in native words (bit 63 clear;
 * bit 63 marks a CPython frame word, see python.bpf.h). Frames read rather than unwound
 * (the interrupted pc; the return address on top of the stack at a probed allocator's
 * entry) carry neither. User space strips them before symbolizing. */
#define OPD_FRAME_VIA_TABLE (1ULL << 61) /* an .eh_frame / .debug_frame table row */
#define OPD_FRAME_VIA_FP    (1ULL << 62) /* a frame-pointer step */
#define OPD_FRAME_VIA_MASK  (OPD_FRAME_VIA_TABLE | OPD_FRAME_VIA_FP)

/* How the CFA (the caller's stack pointer before its call) is computed. 0 must mean "not
 * covered" so that zeroed memory and END markers stop a search cleanly. */
enum opd_unwind_cfa_type {
    OPD_CFA_END = 0,     /* no CFI covers this pc (gap after an FDE) */
    OPD_CFA_REG = 1,     /* CFA = reg[cfa_reg] + cfa_off */
    OPD_CFA_PLT = 2,     /* CFA = sp + cfa_off, + 8 when (pc & 15) >= cfa_reg (lazy PLT) */
    OPD_CFA_DEREF = 3,   /* CFA = *(reg[cfa_reg & 31] + cfa_off) + 8 * (cfa_reg >> 5):
                          * GCC DRAP realignment, saved stack pointers in assembly */
    OPD_CFA_SIGNAL = 4,  /* signal trampoline: registers in the ucontext at sp + 40 */
    OPD_CFA_INVALID = 5, /* CFI exists but uses a rule we cannot evaluate: stop */
};

/* Where the caller's frame pointer (rbp / x29) is. */
enum opd_unwind_fp_type {
    OPD_FP_SAME = 0,      /* unchanged in this frame */
    OPD_FP_OFFSET = 1,    /* saved at CFA + fp_off */
    OPD_FP_DEREF_REG = 2, /* saved at reg[fp] + fp_off (DRAP: breg6 expression) */
    OPD_FP_UNDEFINED = 3, /* value lost; the caller must not rely on it */
    OPD_FP_INVALID = 4,   /* unsupported rule: treat as undefined */
};

/* Where the return address is. */
enum opd_unwind_ra_type {
    OPD_RA_OFFSET = 0,    /* saved at CFA + ra_off (x86_64: always -8) */
    OPD_RA_UNDEFINED = 1, /* outermost frame (_start, clone child): clean stop */
    OPD_RA_REG = 2,       /* in register ra_off; valid in the interrupted frame only */
    OPD_RA_INVALID = 3,   /* unsupported rule: stop */
};

#define OPD_CFA_DEREF_REG_MASK   31u
#define OPD_CFA_DEREF_POST_SHIFT 5
#define OPD_CFA_DEREF_POST_MAX   7u /* post-add up to 56 bytes */

struct opd_unwind_row {
    __u32 pc;      /* file vaddr - pc_base where this row starts */
    __u8 cfa_type; /* enum opd_unwind_cfa_type */
    __u8 cfa_reg;  /* DWARF register; the PLT threshold K for OPD_CFA_PLT; register and
                    * post-add for OPD_CFA_DEREF */
    __u8 fp_type;  /* enum opd_unwind_fp_type */
    __u8 ra_type;  /* enum opd_unwind_ra_type */
    __s32 cfa_off;
    __s16 fp_off;
    __s16 ra_off; /* offset from the CFA, or a DWARF register for OPD_RA_REG */
};

/* One slot of map opd_unwind_files, indexed by the file id the table cache assigned.
 * count == 0 means the file's table is not (or no longer) loaded: fall back to the frame
 * pointer. gen changes each time the slot is reused so stale mappings can be detected. */
struct opd_unwind_file {
    __u32 start; /* first row in opd_unwind_rows */
    __u32 count; /* rows in this file's extent */
    __u32 gen;
    __u32 flags;
};

/* Per-process executable ranges: key of the LPM trie opd_unwind_ranges. Each mapping
 * [start, end) is split into aligned power-of-two blocks; prefixlen counts the pid's 32
 * bits plus the block's fixed address bits. pid and addr are big-endian so that the trie
 * compares them bit by bit from the most significant end. */
struct opd_unwind_range_key {
    __u32 prefixlen;
    __u32 pid_be;
    __u64 addr_be;
};

#define OPD_UNWIND_RANGE_KEY_BITS 96u

/* Flags of a range. */
#define OPD_RANGE_FP_ONLY 0x1u /* no table (JIT, Go, [vdso] unparsed): frame pointer walk */

struct opd_unwind_range {
    __u64 bias;    /* runtime pc - bias = row pc (load bias + the file's pc_base) */
    __u64 start;   /* the whole mapping [start, end), so that the unwinder can reuse */
    __u64 end;     /* one lookup for consecutive frames in the same mapping */
    __u32 file_id; /* slot in opd_unwind_files */
    __u32 gen;     /* must equal opd_unwind_files[file_id].gen */
    __u32 flags;   /* OPD_RANGE_* */
    __u32 pad;
};

/* Why a walk ended, and which method produced frames: slots of the per-CPU array
 * opd_unwind_stats, summed by user space. */
enum opd_unwind_stat {
    OPD_UNW_WALKS = 0,
    OPD_UNW_FRAMES_CFI,     /* frames found through a table row */
    OPD_UNW_FRAMES_FP,      /* frames found by a frame-pointer step */
    OPD_UNW_STOP_OUTERMOST, /* return address undefined (_start, clone): complete */
    OPD_UNW_STOP_FP_END,    /* no table and rbp == 0: end of the frame chain */
    OPD_UNW_STOP_TRUNCATED, /* frame budget exhausted */
    OPD_UNW_ERR_READ,       /* user memory unreadable */
    OPD_UNW_ERR_NO_PROGRESS, /* the stack did not move up */
    OPD_UNW_ERR_RULE,       /* row with an unsupported CFA or return-address rule */
    OPD_UNW_ERR_PC,         /* pc outside user space */
    OPD_UNW_ERR_FP,         /* frame-pointer step with an implausible rbp */
    OPD_UNW_NO_RANGE,       /* pc in no published range (pid unknown or new code) */
    OPD_UNW_STALE_FILE,     /* range names an evicted table (generation mismatch) */
    OPD_UNW__MAX,
};

/* DWARF register numbers used by the x86_64 unwinder. */
#define OPD_DWARF_X86_RBP 6
#define OPD_DWARF_X86_RSP 7
#define OPD_DWARF_X86_RA  16

#endif
