/* Batch building from a drained generation (see build.h). */
#include "collector/receivers/profiling/build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/python.bpf.h"
#include "bpf/unwind_table.h" /* OPD_FRAME_VIA_* */
#include "collector/mem.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/python.h"
#include "collector/receivers/profiling/symbolizer.h"
#include "otlp/profiles.h"

/* ---- per-batch frame cache: (pid, pc, flags) → location index ---------------------- */

struct loc_slot {
    uint64_t pc;
    int32_t pid; /* 0 for kernel frames */
    uint32_t flags;
    int32_t idx; /* 0 = empty slot (location 0 is the zero entry, never a real frame) */
};

struct loc_cache {
    struct loc_slot *v;
    size_t cap, n;
};

static uint64_t slot_hash(int32_t pid, uint64_t pc, uint32_t flags)
{
    uint64_t h = pc ^ ((uint64_t)(uint32_t)pid << 32) ^ flags;

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static struct loc_slot *cache_find(struct loc_cache *c, int32_t pid, uint64_t pc, uint32_t flags)
{
    size_t i = slot_hash(pid, pc, flags) & (c->cap - 1);

    for (;;) {
        struct loc_slot *s = &c->v[i];

        if (!s->idx || (s->pc == pc && s->pid == pid && s->flags == flags))
            return s;
        i = (i + 1) & (c->cap - 1);
    }
}

static int cache_grow(struct loc_cache *c)
{
    struct loc_cache nc = {.cap = c->cap ? c->cap * 2 : 1024};

    nc.v = opd_calloc(nc.cap, sizeof(*nc.v));
    if (!nc.v)
        return -ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        if (c->v[i].idx) {
            *cache_find(&nc, c->v[i].pid, c->v[i].pc, c->v[i].flags) = c->v[i];
            nc.n++;
        }
    }
    opd_free(c->v);
    *c = nc;
    return 0;
}

/* ---- building ------------------------------------------------------------------------ */

/* One thread.name value of a profile and the weight of its samples. */
struct thread_name {
    char name[OPD_COMM_LEN + 1];
    uint64_t weight;
};

struct builder {
    const struct opd_build_params *p;
    const struct opd_drain *d;
    struct opd_batch *b;
    struct opd_dict *dict;
    struct opd_build_stats *st;
    struct loc_cache cache;
    int32_t *locs; /* scratch for one stack */
    int32_t attr_frame_type[8];
    int32_t attr_via[3]; /* otelprofd.unwind.method per VIA_* (0: not interned yet) */
    const struct opd_sample_attrs *attrs;
    struct thread_name *names; /* scratch: the thread names of one profile */
    size_t cap_names;
    size_t n_kept; /* names[0..n_kept): the kept names, sorted; bounded profiles only */
};

/* How the kernel walk found a native user frame (bits of OPD_FRAME_VIA_MASK >> 61), kept
 * in the location cache's flags above the symbolizer's own. */
enum { VIA_NONE = 0, VIA_TABLE = 1, VIA_FP = 2 };
#define VIA_FLAGS_SHIFT 16
#define SYM_FLAGS_MASK  ((1u << VIA_FLAGS_SHIFT) - 1)

/* The otelprofd.unwind.method values, named as the receiver's unwinding.method options. */
static const char *const via_names[3] = {NULL, "eh_frame", "frame_pointer"};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

bool opd_profiling_comm_allowed(const struct opd_build_params *p, const char *comm)
{
    bool in = p->n_comm_include == 0;

    for (size_t i = 0; i < p->n_comm_include && !in; i++)
        in = regexec(&p->comm_include[i], comm, 0, NULL, 0) == 0;
    for (size_t i = 0; i < p->n_comm_exclude && in; i++)
        in = regexec(&p->comm_exclude[i], comm, 0, NULL, 0) != 0;
    return in;
}

static int32_t intern_mapping(struct builder *bl, const struct opd_sym_frame *f, bool kernel)
{
    const char *const ids[][2] = {
        {"process.executable.build_id.gnu", f->mapping.build_id_gnu},
        {"process.executable.build_id.go", f->mapping.build_id_go},
        {"process.executable.build_id.htlhash", f->mapping.build_id_htlhash},
    };
    struct opd_mapping m = {0};
    int32_t attrs[sizeof(ids) / sizeof(ids[0])];
    size_t n = 0;

    if (!kernel && !f->has_mapping)
        return 0;
    if (kernel && (!f->mapping.path || !f->mapping.path[0]))
        return 0;
    if (!kernel) {
        m.memory_start = f->mapping.memory_start;
        m.memory_limit = f->mapping.memory_limit;
        m.file_offset = f->mapping.file_offset;
    }
    m.filename_strindex = opd_dict_string(bl->dict, f->mapping.path ? f->mapping.path : "");
    if (m.filename_strindex < 0)
        return m.filename_strindex;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (!ids[i][1] || !ids[i][1][0])
            continue;
        attrs[n] = opd_dict_attr_str(bl->dict, ids[i][0], ids[i][1]);
        if (attrs[n] < 0)
            return attrs[n];
        n++;
    }
    m.attr_indices = n ? attrs : NULL;
    m.n_attr = n;
    return opd_dict_mapping(bl->dict, &m);
}

static int32_t frame_type_attr(struct builder *bl, const char *name)
{
    static const char *const known[] = {"native", "kernel", "go", "v8js", "jvm", "cpython"};
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(known[i], name) == 0)
            break;
    }
    if (i < sizeof(known) / sizeof(known[0]) && bl->attr_frame_type[i])
        return bl->attr_frame_type[i];
    {
        int32_t a = opd_dict_attr_str(bl->dict, "profile.frame.type", name);

        if (a > 0 && i < sizeof(known) / sizeof(known[0]))
            bl->attr_frame_type[i] = a;
        return a;
    }
}

/* Fills f for a user pc when no symbolizer is configured: the mapping from the process
 * table, the address as the offset into the file. */
static void frame_unsymbolized(struct builder *bl, int32_t pid, uint64_t pc,
                               struct opd_sym_frame *f)
{
    const struct opd_proc_mapping *m;

    memset(f, 0, sizeof(*f));
    f->type = OPD_FRAME_NATIVE;
    f->type_name = "native";
    f->pc = pc;
    f->address = pc;
    f->mapping.path = "";
    f->mapping.build_id_gnu = "";
    f->mapping.build_id_go = "";
    f->mapping.build_id_htlhash = "";
    m = opd_proctab_find_mapping(bl->p->tab, pid, pc, bl->p->now, NULL);
    if (m) {
        f->has_mapping = true;
        f->mapping.memory_start = m->start;
        f->mapping.memory_limit = m->end;
        f->mapping.file_offset = m->offset;
        f->mapping.dev = m->dev;
        f->mapping.inode = m->inode;
        f->mapping.path = m->path;
        f->file_offset = pc - m->start + m->offset;
        f->address = f->file_offset;
    }
}

/* Interns the location of one frame: pc in process pid (0 = kernel), flags the
 * symbolizer's (OPD_SYM_*) plus the frame's VIA_* << VIA_FLAGS_SHIFT. Returns the location
 * index or a negative errno. */
static int32_t frame_location(struct builder *bl, int32_t pid, uint64_t pc, uint32_t flags)
{
    bool kernel = pid == 0;
    uint32_t via = flags >> VIA_FLAGS_SHIFT;
    struct opd_sym_frame f;
    struct opd_location loc = {0};
    struct opd_line line = {0};
    struct loc_slot *slot;
    int32_t attr[2], idx;

    if (bl->cache.n * 2 >= bl->cache.cap && cache_grow(&bl->cache))
        return -ENOMEM;
    slot = cache_find(&bl->cache, pid, pc, flags);
    if (slot->idx)
        return slot->idx;

    bl->st->frames++;
    if (bl->p->sym) {
        uint32_t sf = flags & SYM_FLAGS_MASK;
        int rc = kernel ? opd_symbolizer_kernel(bl->p->sym, pc, sf, &f)
                        : opd_symbolizer_user(bl->p->sym, pid, pc, sf, bl->p->now, &f);

        if (rc == -ENOMEM)
            return -ENOMEM;
        if (rc && rc != -ENOENT && rc != -ESRCH) {
            memset(&f, 0, sizeof(f));
            f.address = pc;
        }
    } else if (kernel) {
        memset(&f, 0, sizeof(f));
        f.address = pc;
        f.type = OPD_FRAME_KERNEL;
    } else {
        frame_unsymbolized(bl, pid, pc, &f);
    }
    if (!f.type_name)
        f.type_name = kernel ? "kernel" : "native";

    loc.mapping_index = intern_mapping(bl, &f, kernel);
    if (loc.mapping_index < 0)
        return loc.mapping_index;
    loc.address = f.address;
    if (f.function && f.function[0]) {
        struct opd_function fn = {0};

        bl->st->frames_named++;
        fn.name_strindex = opd_dict_string(bl->dict, f.function);
        fn.system_name_strindex =
            opd_dict_string(bl->dict, f.system_name ? f.system_name : f.function);
        fn.filename_strindex = opd_dict_string(bl->dict, f.file ? f.file : "");
        if (fn.name_strindex < 0 || fn.system_name_strindex < 0 || fn.filename_strindex < 0)
            return -ENOMEM;
        line.function_index = opd_dict_function(bl->dict, &fn);
        if (line.function_index < 0)
            return line.function_index;
        line.line = f.line;
        loc.lines = &line;
        loc.n_lines = 1;
    }
    attr[0] = frame_type_attr(bl, f.type_name);
    if (attr[0] < 0)
        return attr[0];
    loc.attr_indices = attr;
    loc.n_attr = 1;
    if (via == VIA_TABLE || via == VIA_FP) {
        if (!bl->attr_via[via])
            bl->attr_via[via] =
                opd_dict_attr_str(bl->dict, "otelprofd.unwind.method", via_names[via]);
        if (bl->attr_via[via] < 0)
            return bl->attr_via[via];
        attr[loc.n_attr++] = bl->attr_via[via];
    }
    idx = opd_dict_location(bl->dict, &loc);
    if (idx <= 0)
        return idx < 0 ? idx : -EINVAL;
    slot->pc = pc;
    slot->pid = pid;
    slot->flags = flags;
    slot->idx = idx;
    bl->cache.n++;
    return idx;
}

/* Cache flag of CPython frame words (python/python.h), apart from every OPD_SYM_* flag. */
#define PY_FRAME_FLAG 0x80000000u

/* Returns the location index of one CPython frame word of pid (function, file, line from
 * its code object; frame type cpython) or -ENOMEM. */
static int32_t python_location(struct builder *bl, int32_t pid, uint64_t word)
{
    struct opd_python_frame pf;
    struct opd_function fn = {0};
    struct opd_location loc = {0};
    struct opd_line line = {0};
    struct loc_slot *slot;
    int32_t attr, idx;
    int rc;

    if (bl->cache.n * 2 >= bl->cache.cap && cache_grow(&bl->cache))
        return -ENOMEM;
    slot = cache_find(&bl->cache, pid, word, PY_FRAME_FLAG);
    if (slot->idx)
        return slot->idx;
    bl->st->frames++;
    rc = opd_python_frame(bl->p->py, pid, word, &pf);
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        /* Freed or unreadable code object: the frame is still a Python frame. */
        pf.function = pf.name = "<unknown python>";
        pf.file = "";
        pf.line = 0;
    } else {
        bl->st->frames_named++;
    }
    fn.name_strindex = opd_dict_string(bl->dict, pf.function);
    fn.system_name_strindex = opd_dict_string(bl->dict, pf.name);
    fn.filename_strindex = opd_dict_string(bl->dict, pf.file);
    if (fn.name_strindex < 0 || fn.system_name_strindex < 0 || fn.filename_strindex < 0)
        return -ENOMEM;
    line.function_index = opd_dict_function(bl->dict, &fn);
    if (line.function_index < 0)
        return line.function_index;
    line.line = pf.line;
    loc.lines = &line;
    loc.n_lines = 1;
    attr = frame_type_attr(bl, "cpython");
    if (attr < 0)
        return attr;
    loc.attr_indices = &attr;
    loc.n_attr = 1;
    idx = opd_dict_location(bl->dict, &loc);
    if (idx <= 0)
        return idx < 0 ? idx : -EINVAL;
    slot->pc = word;
    slot->pid = pid;
    slot->flags = PY_FRAME_FLAG;
    slot->idx = idx;
    bl->cache.n++;
    return idx;
}

/* Splits the kernel's user words into plain words (native frames without their
 * OPD_FRAME_VIA_* tag; CPython words as they are) and each word's VIA_*. */
static void strip_via(const uint64_t *ip, size_t len, uint64_t *plain, uint8_t *via)
{
    for (size_t i = 0; i < len; i++) {
        bool native = !(ip[i] & OPD_PY_TAG);

        via[i] = native ? (uint8_t)((ip[i] & OPD_FRAME_VIA_MASK) >> 61) : VIA_NONE;
        plain[i] = native ? ip[i] & ~OPD_FRAME_VIA_MASK : ip[i];
    }
}

/* Interns the user frames of us into bl->locs from *n. CPython frame words, which the
 * sampler appends after the native frames of a tracked CPython process, are merged in
 * where their eval loop frames are. In other processes every word is a native frame
 * (a frame-pointer walk can read any garbage). Each native frame keeps how the walk found
 * it. Returns 0 or -ENOMEM. */
static int user_frames(struct builder *bl, int32_t pid, const struct opd_drained_stack *us, size_t *n)
{
    uint64_t plain[OPD_MAX_FRAMES], merged[OPD_MAX_FRAMES];
    uint8_t via[OPD_MAX_FRAMES];
    const uint64_t *ip = plain;
    size_t words = us->len > OPD_MAX_FRAMES ? OPD_MAX_FRAMES : us->len, len = words, k = 0;
    uint32_t native = 0;
    bool py = bl->p->py && len && (us->ip[len - 1] & OPD_PY_TAG) &&
              opd_python_tracked(bl->p->py, pid);

    strip_via(us->ip, words, plain, via);
    if (py) {
        len = opd_python_merge(bl->p->py, pid, plain, len, merged, OPD_MAX_FRAMES);
        ip = merged;
    }
    for (size_t i = 0; i < len; i++) {
        int32_t l;

        if (py && (ip[i] & OPD_PY_TAG)) {
            l = python_location(bl, pid, ip[i]);
        } else {
            uint32_t v = VIA_NONE;

            /* The merge keeps native words in order (dropping garbage ones): the next
             * equal word of the walk is this one. */
            while (k < words && plain[k] != ip[i])
                k++;
            if (k < words)
                v = via[k++];
            l = frame_location(bl, pid, ip[i],
                               (native++ ? OPD_SYM_RETURN_ADDRESS : 0) | v << VIA_FLAGS_SHIFT);
        }
        if (l < 0)
            return l;
        bl->locs[(*n)++] = l;
    }
    return 0;
}

/* Interns the stack of record r: kernel frames (leaf first), then user frames. Returns
 * the stack index (0 = no frames at all) or -ENOMEM. */
static int32_t record_stack(struct builder *bl, const struct opd_drain_record *r)
{
    const struct opd_drained_stack *ks = opd_drain_stack(bl->d, r->key.kstack);
    const struct opd_drained_stack *us = opd_drain_stack(bl->d, r->key.ustack);
    size_t n = 0;

    if (r->key.ustack != OPD_STACK_NONE && !us)
        bl->st->no_user_stack += r->count;
    for (uint32_t i = 0; ks && i < ks->len; i++) {
        int32_t l = frame_location(bl, 0, ks->ip[i], i ? OPD_SYM_RETURN_ADDRESS : 0);

        if (l < 0)
            return l;
        bl->locs[n++] = l;
    }
    if (us) {
        int err = user_frames(bl, (int32_t)r->key.tgid, us, &n);

        if (err)
            return err;
    }
    if (n == 0)
        return 0;
    return opd_dict_stack(bl->dict, bl->locs, n);
}

static int set_resource_attrs(struct builder *bl, struct opd_resource *res, uint32_t pid,
                              const struct opd_proc *proc, const char *fallback_comm)
{
    const char *exe_path = proc && proc->exe_path ? proc->exe_path : "";
    const char *exe_name = exe_path[0]             ? base_name(exe_path)
                           : proc && proc->comm[0] ? proc->comm
                                                   : fallback_comm;
    const char *service = exe_name;
    int err;

    if (bl->p->service_name_from_env && proc && proc->service_name && proc->service_name[0])
        service = proc->service_name;
    if (bl->attrs->string_values) {
        char num[16];

        snprintf(num, sizeof(num), "%u", pid);
        err = opd_attrs_set_str(bl->b, &res->attrs, "process.pid", num);
    } else {
        err = opd_attrs_set_int(bl->b, &res->attrs, "process.pid", pid);
    }
    if (!err)
        err = opd_attrs_set_str(bl->b, &res->attrs, "process.executable.name", exe_name);
    if (!err && exe_path[0])
        err = opd_attrs_set_str(bl->b, &res->attrs, "process.executable.path", exe_path);
    if (!err && proc && proc->container_id[0])
        err = opd_attrs_set_str(bl->b, &res->attrs, "container.id", proc->container_id);
    if (!err && proc && proc->pod_uid[0])
        err = opd_attrs_set_str(bl->b, &res->attrs, "k8s.pod.uid", proc->pod_uid);
    if (!err && bl->p->host_name && bl->p->host_name[0])
        err = opd_attrs_set_str(bl->b, &res->attrs, "host.name", bl->p->host_name);
    if (!err)
        err = opd_attrs_set_str(bl->b, &res->attrs, "service.name", service);
    return err;
}

/* Sample and period types per record kind, as the backends recognise them: CPU and
 * off-CPU as the reference OTel profiler sends them (Pyroscope's process_cpu and off_cpu;
 * off-CPU has an empty period type), the memory profiles with pprof's sample types and
 * the period type "memory", the name Pyroscope gives a type it does not know (its heap
 * profiles' name). The off-CPU and memory profiles carry estimates already scaled up
 * from their sampling, as pprof's heap profiles do. */
static const struct {
    const char *type, *unit, *ptype, *punit;
} kind_types[OPD_PROF__MAX] = {
    [OPD_PROF_CPU] = {"samples", "count", "cpu", "nanoseconds"},
    [OPD_PROF_OFF_CPU] = {"off_cpu", "nanoseconds", "", ""},
    [OPD_PROF_ALLOC_SPACE] = {"alloc_space", "bytes", "memory", "bytes"},
    [OPD_PROF_ALLOC_OBJECTS] = {"alloc_objects", "count", "memory", "bytes"},
    [OPD_PROF_INUSE_SPACE] = {"inuse_space", "bytes", "memory", "bytes"},
};

/* Parca names a profile after its instrumentation scope: the memory profiles get a scope
 * of their own, so that their name there says memory too. */
#define SCOPE_NAME        "otelprofd"
#define MEMORY_SCOPE_NAME "otelprofd.memory"

/* The memory kinds follow each other (add_process walks them in order). */
_Static_assert(OPD_PROF_ALLOC_OBJECTS == OPD_PROF_ALLOC_SPACE + 1 &&
                   OPD_PROF_INUSE_SPACE == OPD_PROF_ALLOC_SPACE + 2,
               "memory kinds are contiguous");

static bool kind_is_memory(uint32_t kind)
{
    return kind == OPD_PROF_ALLOC_SPACE || kind == OPD_PROF_ALLOC_OBJECTS ||
           kind == OPD_PROF_INUSE_SPACE;
}

static int init_profile(struct builder *bl, struct opd_profile *prof, uint32_t kind)
{
    struct opd_dict *d = bl->dict;

    if (kind >= OPD_PROF__MAX)
        kind = OPD_PROF_CPU;
    prof->sample_type.type_strindex = opd_dict_string(d, kind_types[kind].type);
    prof->sample_type.unit_strindex = opd_dict_string(d, kind_types[kind].unit);
    prof->period_type.type_strindex = opd_dict_string(d, kind_types[kind].ptype);
    prof->period_type.unit_strindex = opd_dict_string(d, kind_types[kind].punit);
    if (prof->sample_type.type_strindex < 0 || prof->sample_type.unit_strindex < 0 ||
        prof->period_type.type_strindex < 0 || prof->period_type.unit_strindex < 0)
        return -ENOMEM;
    if (kind == OPD_PROF_CPU)
        prof->period = bl->p->samples_per_second ? 1000000000LL / bl->p->samples_per_second : 0;
    else if (kind_is_memory(kind))
        prof->period = (int64_t)bl->p->alloc_sample_bytes;
    prof->time_unix_nano = bl->d->start_unix_ns;
    prof->duration_nano =
        bl->d->end_unix_ns > bl->d->start_unix_ns ? bl->d->end_unix_ns - bl->d->start_unix_ns : 0;
    return 0;
}

const struct opd_sample_attrs opd_sample_attrs_default = {
    .thread_name = true,
    .normalize_thread_names = true,
    .max_thread_names = 32,
};

int opd_sample_attrs_from_config(const struct opd_strlist *names, const char *thread_names,
                                 int64_t max_thread_names, bool string_values,
                                 struct opd_sample_attrs *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < names->n; i++) {
        if (strcmp(names->v[i], "thread.name") == 0) {
            out->thread_name = true;
        } else if (strcmp(names->v[i], "thread.id") == 0) {
            out->thread_id = true;
        } else {
            snprintf(err, errlen,
                     "sample_attributes: \"%s\" is not one of thread.name, thread.id%s",
                     names->v[i],
                     strcmp(names->v[i], "cpu.logical_number") == 0
                         ? " (the sampler does not record the CPU of a sample)"
                         : "");
            return -EINVAL;
        }
    }
    out->normalize_thread_names = !thread_names || strcmp(thread_names, "raw") != 0;
    out->max_thread_names = max_thread_names > 0 ? (uint32_t)max_thread_names : 0;
    out->string_values = string_values;
    return 0;
}

/* The value of thread.name for the samples of threads beyond max_thread_names. */
#define OTHER_THREADS "[other]"

void opd_thread_name_normalize(const char *name, char *out)
{
    bool digits = false;

    for (; *name; name++) {
        bool d = *name >= '0' && *name <= '9';

        if (!d)
            *out++ = *name;
        else if (!digits)
            *out++ = '*';
        digits = d;
    }
    *out = '\0';
}

/* The thread.name value of record r before the bound: its name, normalized if asked. */
static void thread_name_of(const struct builder *bl, const struct opd_drain_record *r,
                           char out[OPD_COMM_LEN + 1])
{
    char raw[OPD_COMM_LEN + 1];

    memcpy(raw, r->key.comm, OPD_COMM_LEN);
    raw[OPD_COMM_LEN] = '\0';
    if (bl->attrs->normalize_thread_names)
        opd_thread_name_normalize(raw, out);
    else
        memcpy(out, raw, sizeof(raw));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct thread_name *)a)->name, ((const struct thread_name *)b)->name);
}

static int cmp_weight(const void *a, const void *b)
{
    const struct thread_name *x = a, *y = b;

    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Chooses the thread names that keep their own value in the profile of records
 * order[i..j): all of them when there are at most max_thread_names, else the heaviest
 * (bl->names[0..n_kept), sorted by name; n_kept = SIZE_MAX when every name is kept).
 * Returns 0 or -ENOMEM. */
static int pick_thread_names(struct builder *bl, const size_t *order, size_t i, size_t j)
{
    size_t n = 0, w = 0, max = bl->attrs->max_thread_names;

    bl->n_kept = SIZE_MAX;
    if (!bl->attrs->thread_name || !max || j - i <= max)
        return 0;
    if (opd_vec_reserve((void **)&bl->names, &bl->cap_names, j - i, sizeof(*bl->names)))
        return -ENOMEM;
    for (size_t k = i; k < j; k++) {
        const struct opd_drain_record *r = &bl->d->recs[order[k]];

        thread_name_of(bl, r, bl->names[n].name);
        bl->names[n++].weight = r->count;
    }
    qsort(bl->names, n, sizeof(*bl->names), cmp_name);
    for (size_t k = 1; k < n; k++) {
        if (strcmp(bl->names[k].name, bl->names[w].name) == 0)
            bl->names[w].weight += bl->names[k].weight;
        else
            bl->names[++w] = bl->names[k];
    }
    n = w + 1;
    if (n <= max)
        return 0;
    qsort(bl->names, n, sizeof(*bl->names), cmp_weight);
    qsort(bl->names, max, sizeof(*bl->names), cmp_name);
    bl->n_kept = max;
    return 0;
}

/* Interns the sample attributes of record r into attrs; returns how many or -ENOMEM. */
static int sample_attrs(struct builder *bl, const struct opd_drain_record *r, int32_t attrs[2])
{
    char name[OPD_COMM_LEN + 1];
    int n = 0;

    if (bl->attrs->thread_name) {
        struct thread_name key;

        thread_name_of(bl, r, name);
        memcpy(key.name, name, sizeof(name));
        if (bl->n_kept != SIZE_MAX &&
            !bsearch(&key, bl->names, bl->n_kept, sizeof(*bl->names), cmp_name))
            snprintf(name, sizeof(name), "%s", OTHER_THREADS);
        attrs[n] = opd_dict_attr_str(bl->dict, "thread.name", name);
        if (attrs[n++] < 0)
            return -ENOMEM;
    }
    if (bl->attrs->thread_id) {
        if (bl->attrs->string_values) {
            snprintf(name, sizeof(name), "%u", r->key.tid);
            attrs[n] = opd_dict_attr_str(bl->dict, "thread.id", name);
        } else {
            attrs[n] = opd_dict_attr_int(bl->dict, "thread.id", r->key.tid);
        }
        if (attrs[n++] < 0)
            return -ENOMEM;
    }
    return n;
}

/* The scope of res that holds profiles of kind (added when missing); NULL on -ENOMEM. */
static struct opd_scope *kind_scope(struct builder *bl, struct opd_resource *res, uint32_t kind)
{
    const char *name = kind_is_memory(kind) ? MEMORY_SCOPE_NAME : SCOPE_NAME;

    for (size_t i = 0; i < res->n_scopes; i++)
        if (strcmp(res->scopes[i].name, name) == 0)
            return &res->scopes[i];
    return opd_resource_add_scope(bl->b, res, name, bl->p->scope_version);
}

/* Adds to res the profile of kind with the records order[i..j) (one process; none: an
 * empty profile). */
static int add_profile(struct builder *bl, struct opd_resource *res, uint32_t kind,
                       const size_t *order, size_t i, size_t j)
{
    struct opd_scope *scope = kind_scope(bl, res, kind);
    struct opd_profile *prof;
    int err;

    if (!scope || !(prof = opd_scope_add_profile(bl->b, scope)))
        return -ENOMEM;
    err = init_profile(bl, prof, kind);
    if (!err)
        err = pick_thread_names(bl, order, i, j);
    for (size_t k = i; k < j && !err; k++) {
        const struct opd_drain_record *r = &bl->d->recs[order[k]];
        struct opd_sample s = {0};
        int64_t value = (int64_t)r->count;
        int32_t attrs[2];
        int32_t stack = record_stack(bl, r);
        int n = stack < 0 ? stack : sample_attrs(bl, r, attrs);

        if (n < 0)
            return n;
        s.stack_index = stack;
        s.attr_indices = n ? attrs : NULL;
        s.n_attr = (size_t)n;
        s.values = &value;
        s.n_values = 1;
        err = opd_profile_add_sample(bl->b, prof, &s);
        if (!err && kind == OPD_PROF_CPU)
            bl->st->samples += r->count;
    }
    /* Threads that share a (normalized) name and a stack are one sample. */
    if (!err && opd_profile_merge_samples(prof) < 0)
        err = -ENOMEM;
    return err;
}

static int cmp_rec(const void *a, const void *b, void *arg)
{
    const struct opd_drain *d = arg;
    const struct opd_drain_record *x = &d->recs[*(const size_t *)a];
    const struct opd_drain_record *y = &d->recs[*(const size_t *)b];

    if (x->key.tgid != y->key.tgid)
        return x->key.tgid < y->key.tgid ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->key.tid != y->key.tid)
        return x->key.tid < y->key.tid ? -1 : 1;
    return 0;
}

/* Adds the resource of records order[i..j) (one tgid, sorted by kind): one profile per
 * kind present. */
static int add_process(struct builder *bl, const size_t *order, size_t i, size_t j)
{
    const struct opd_drain_record *first = &bl->d->recs[order[i]];
    uint32_t pid = first->key.tgid;
    const char *fallback = first->key.comm;
    const struct opd_proc *proc;
    struct opd_resource *res;
    char comm[OPD_COMM_LEN + 1];
    uint32_t mem_next = OPD_PROF_ALLOC_SPACE; /* the next memory kind to add */
    int err = 0;

    /* The main thread's name stands for the process when /proc no longer knows it. */
    for (size_t k = i; k < j; k++) {
        if (bl->d->recs[order[k]].key.tid == pid)
            fallback = bl->d->recs[order[k]].key.comm;
    }
    memcpy(comm, fallback, OPD_COMM_LEN);
    comm[OPD_COMM_LEN] = '\0';
    proc = opd_proctab_get(bl->p->tab, (int32_t)pid, bl->p->now);
    if (!proc && errno == ENOMEM)
        return -ENOMEM;
    if (!opd_profiling_comm_allowed(bl->p, proc && proc->comm[0] ? proc->comm : comm)) {
        for (size_t k = i; k < j; k++)
            bl->st->filtered += bl->d->recs[order[k]].count;
        return 0;
    }

    res = opd_batch_add_resource(bl->b);
    if (!res)
        return -ENOMEM;
    err = set_resource_attrs(bl, res, pid, proc, comm);
    if (err)
        return err;
    bl->st->processes++;
    /* Records are sorted by kind. A process with any memory record gets every memory
     * profile, empty ones too, in the same order each interval: its pprof heap profiles
     * then always have the same sample types (go tool pprof merges only such files, and
     * -sample_index finds each type in each file). */
    for (size_t k = i, e; k < j; k = e) {
        uint32_t kind = bl->d->recs[order[k]].kind;

        for (e = k + 1; e < j && bl->d->recs[order[e]].kind == kind; e++)
            ;
        for (; kind_is_memory(kind) && mem_next < kind && !err; mem_next++)
            err = add_profile(bl, res, mem_next, order, k, k);
        if (!err)
            err = add_profile(bl, res, kind, order, k, e);
        if (!err && kind_is_memory(kind))
            mem_next = kind + 1;
        if (err)
            return err;
    }
    for (; mem_next != OPD_PROF_ALLOC_SPACE && kind_is_memory(mem_next) && !err; mem_next++)
        err = add_profile(bl, res, mem_next, order, j, j);
    return err;
}

struct opd_batch *opd_profiling_build(const struct opd_build_params *p, const struct opd_drain *d,
                                      struct opd_build_stats *stats)
{
    struct opd_build_stats local;
    struct builder bl = {.p = p,
                         .d = d,
                         .st = stats ? stats : &local,
                         .attrs = p->attrs ? p->attrs : &opd_sample_attrs_default};
    size_t *order = NULL;
    int err = -ENOMEM;

    memset(bl.st, 0, sizeof(*bl.st));
    bl.b = opd_batch_create();
    if (!bl.b)
        goto out;
    bl.dict = &bl.b->dict;
    bl.locs = opd_malloc(2 * OPD_MAX_FRAMES * sizeof(*bl.locs));
    order = opd_malloc(d->n_recs * sizeof(*order));
    if (!bl.locs || !order || cache_grow(&bl.cache))
        goto out;
    for (size_t i = 0; i < d->n_recs; i++)
        order[i] = i;
    /* Group by process (one resource each), threads in order within it. */
    qsort_r(order, d->n_recs, sizeof(*order), cmp_rec, (void *)d);
    for (size_t i = 0, j; i < d->n_recs; i = j) {
        for (j = i + 1; j < d->n_recs && d->recs[order[j]].key.tgid == d->recs[order[i]].key.tgid;
             j++)
            ;
        err = add_process(&bl, order, i, j);
        if (err)
            goto out;
    }
    err = 0;
out:
    opd_free(order);
    opd_free(bl.locs);
    opd_free(bl.names);
    opd_free(bl.cache.v);
    if (err) {
        opd_batch_unref(bl.b);
        errno = -err;
        return NULL;
    }
    return bl.b;
}
