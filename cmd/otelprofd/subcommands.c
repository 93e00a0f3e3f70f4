#include "subcommands.h"

#include <stddef.h>

/* Offline views and conversions of recorded OTLP files (flamegraph.c, report.c,
 * convert.c). */
int opd_cmd_flamegraph(int argc, char **argv);
int opd_cmd_report(int argc, char **argv);
int opd_cmd_convert(int argc, char **argv);

const struct opd_subcommand opd_subcommands[] = {
    {"flamegraph", opd_cmd_flamegraph},
    {"report", opd_cmd_report},
    {"convert", opd_cmd_convert},
    {NULL, NULL},
};
