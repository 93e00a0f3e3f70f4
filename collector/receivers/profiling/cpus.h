/* The online CPU list (/sys/devices/system/cpu/online, "0-3,6,8-9"). */
#ifndef OPD_PROFILING_CPUS_H
#define OPD_PROFILING_CPUS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a kernel CPU list into mask[0..n): mask[i] = 1 for listed CPUs below n (others
 * are ignored). Returns the number of CPUs set, or -EINVAL on malformed text. */
int opd_cpus_parse(const char *text, size_t len, uint8_t *mask, int n);

/* Reads the online list into a new mask of n entries (*mask freed with opd_free).
 * Returns the number of online CPUs below n, or -errno. */
int opd_cpus_online(uint8_t **mask, int n);

#endif
