/* Read-only views of a profile batch shared by the prometheus exporter and the flamegraph
 * and report subcommands: how much CPU time a sample stands for, what a frame is called
 * and what kind of code it runs, and a resource's identifying attributes. */
#ifndef OPD_PROFVIEW_H
#define OPD_PROFVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_batch;
struct opd_dict;
struct opd_location;
struct opd_profile;
struct opd_resource;
struct opd_sample;

enum opd_pv_kind {
    OPD_PV_NATIVE = 0,
    OPD_PV_KERNEL,
    OPD_PV_GO,
    OPD_PV_INTERPRETED, /* cpython, php, ruby, perl, v8js, jvm, dotnet, beam, luajit */
    OPD_PV_UNKNOWN,
    OPD_PV_KINDS,
};

/* "native", "kernel", "go", "interpreted", "unknown". */
const char *opd_pv_kind_name(enum opd_pv_kind k);

/* Whether p measures on-CPU time, and how many nanoseconds one unit of sample weight
 * stands for: the period of a cpu/nanoseconds period type (one count per period), or 1
 * for a sample type in nanoseconds. Off-CPU and event profiles are not CPU. */
bool opd_pv_profile_cpu(const struct opd_batch *b, const struct opd_profile *p,
                        uint64_t *ns_per_unit);

/* The frame kind of location l, from its profile.frame.type attribute. */
enum opd_pv_kind opd_pv_location_kind(const struct opd_dict *d, const struct opd_location *l);

/* Writes into buf the name of frame k of location l (0 = innermost inlined frame; a
 * location without lines has one frame): the function name, its system name, or
 * "<file basename>+0x<address>" when unsymbolized. Returns buf. */
const char *opd_pv_frame_name(const struct opd_dict *d, const struct opd_location *l, size_t k,
                              char *buf, size_t cap);

/* Number of frames location l stands for (its lines, at least 1). */
size_t opd_pv_location_frames(const struct opd_location *l);

/* The leaf (innermost) frame's name of sample s, "[unknown]" without a stack. */
const char *opd_pv_leaf_name(const struct opd_batch *b, const struct opd_sample *s, char *buf,
                             size_t cap);

/* String value of a resource attribute, or NULL when absent or not a non-empty string. */
const char *opd_pv_resource_str(const struct opd_resource *r, const char *key);

/* The owning team: the team processor's attribute (team.name by default), else a plain
 * `team` attribute; NULL when neither is set. */
const char *opd_pv_team(const struct opd_resource *r);

/* service.name, else "unknown_service:<process.executable.name>", else
 * "unknown_service" (the OTel semantic-convention fallback). Written into buf. */
const char *opd_pv_service_name(const struct opd_resource *r, char *buf, size_t cap);

#endif
