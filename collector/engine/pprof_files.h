/* pprof files in a directory, one per pprof profile of a batch (opd_pprof_encode): shared
 * by the file exporter (format: pprof) and `otelprofd convert`. */
#ifndef OPD_PPROF_FILES_H
#define OPD_PPROF_FILES_H

#include <stddef.h>

struct opd_pprof;

/* Writes pp into directory dir (which must exist) as
 * "<process>-<pid>.<type>.<YYYYmmddTHHMMSS.mmm>Z.pb.gz": the process's executable (else
 * service) name and pid from its resource, what it measures (opd_pprof.name), the UTC start
 * of its interval; bytes other than letters, digits, '.', '_' and '-' become '_'. A name
 * already taken gets "-1", "-2" … before ".pb.gz": nothing is overwritten. The file is
 * written under a hidden temporary name and then linked, so a reader never sees a partial
 * file. Returns 0 or -errno. */
int opd_pprof_file_write(const char *dir, const struct opd_pprof *pp);

#endif
