/* Offline subcommands (flamegraph, report, …) that work on recorded files. Each lives in
 * its own file in cmd/otelprofd/ and adds one row to the table in subcommands.c. */
#ifndef OPD_SUBCOMMANDS_H
#define OPD_SUBCOMMANDS_H

struct opd_subcommand {
    const char *name;
    /* argv[0] is the subcommand's name. Returns the process exit code. */
    int (*run)(int argc, char **argv);
};

extern const struct opd_subcommand opd_subcommands[];

#endif
