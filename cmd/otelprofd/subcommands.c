#include "subcommands.h"

#include <stddef.h>

/* Offline views of recorded OTLP/JSON files (flamegraph.c, report.c). */
int opd_cmd_flamegraph(int argc, char **argv);
int opd_cmd_report(int argc, char **argv);

const struct opd_subcommand opd_subcommands[] = {
    {"flamegraph", opd_cmd_flamegraph},
    {"report", opd_cmd_report},
    {NULL, NULL},
};
