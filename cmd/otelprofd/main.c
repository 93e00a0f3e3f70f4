/* otelprofd: argv, signals and subcommands. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/component.h"
#include "collector/engine/selftelemetry.h"
#include "collector/engine/service.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "config/config.h"
#include "subcommands.h"

#ifndef OPD_VERSION
#define OPD_VERSION "0.0.0"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
/* How long exporters get to flush on SIGTERM/SIGINT. */
#define SHUTDOWN_DEADLINE_NS (10ull * 1000000000ull)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: otelprofd --config FILE [--config FILE ...]   run the pipelines\n"
            "       otelprofd validate --config FILE [...]      check the config, print every "
            "error\n"
            "       otelprofd print-config --config FILE [...]  print the effective config\n"
            "       otelprofd components                        list component types\n"
            "       otelprofd flamegraph --input FILE --output flame.svg|flame.html "
            "[--filter K=V ...]\n"
            "       otelprofd report --input DIR_OR_FILE --by team [--top N] "
            "[--format markdown|json]\n"
            "       otelprofd convert --input FILE|DIR --output DIR [--format pprof] "
            "[--filter K=V ...]\n"
            "       otelprofd --version\n");
}

struct cfg_args {
    const char **paths;
    size_t n;
};

/* Collects --config/-c values from argv; returns 0 or EXIT_USAGE. */
static int parse_config_args(int argc, char **argv, struct cfg_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    a->paths = opd_calloc((size_t)argc, sizeof(*a->paths));
    a->n = 0;
    if (!a->paths)
        return EXIT_USAGE;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            a->paths[a->n++] = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "otelprofd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (a->n == 0) {
        fprintf(stderr, "otelprofd: --config FILE is required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/* Loads and validates; prints every error. NULL when there were errors. */
static struct opd_config *load(const struct cfg_args *a)
{
    struct opd_cfg_errors errs;
    struct opd_config *cfg;

    opd_cfg_errors_init(&errs);
    cfg = opd_config_load_ex(a->paths, a->n, opd_registry_find, opd_registry_all, &errs);
    if (!cfg || opd_cfg_errors_count(&errs) > 0) {
        opd_cfg_errors_print(&errs, stderr);
        fprintf(stderr, "otelprofd: invalid configuration: %zu error(s)\n",
                opd_cfg_errors_count(&errs));
        opd_config_destroy(cfg);
        cfg = NULL;
    }
    opd_cfg_errors_fini(&errs);
    return cfg;
}

static int cmd_components(void)
{
    const struct opd_factory *const *all = opd_registry_all();

    for (enum opd_kind k = OPD_KIND_RECEIVER; k <= OPD_KIND_EXTENSION; k++) {
        printf("%ss:\n", opd_kind_name(k));
        for (size_t i = 0; all[i]; i++) {
            if (all[i]->kind != k)
                continue;
            printf("  %-18s %s%s%s%s\n", all[i]->type, all[i]->description ? all[i]->description : "",
                   all[i]->alias ? " (alias: " : "", all[i]->alias ? all[i]->alias : "",
                   all[i]->alias ? ")" : "");
        }
    }
    return 0;
}

static int cmd_validate(int argc, char **argv, bool print)
{
    struct cfg_args a;
    struct opd_config *cfg;
    int rc = parse_config_args(argc, argv, &a);

    if (rc)
        goto out;
    cfg = load(&a);
    if (!cfg) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (print)
        rc = opd_config_print(cfg, stdout) ? EXIT_RUNTIME : 0;
    else
        printf("configuration is valid\n");
    opd_config_destroy(cfg);
out:
    opd_free(a.paths);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    struct opd_telemetry *tel = NULL;
    struct opd_selftelemetry *selftel = NULL;
    struct opd_service *svc = NULL;
    struct opd_config *cfg = NULL;
    struct cfg_args a;
    sigset_t set;
    int rc, sig, lvl;

    rc = parse_config_args(argc, argv, &a);
    if (rc)
        goto out;
    cfg = load(&a);
    if (!cfg) {
        rc = EXIT_USAGE;
        goto out;
    }
    lvl = opd_log_level_parse(cfg->service.log_level ? cfg->service.log_level : "info");
    opd_log_set_level(lvl < 0 ? OPD_LOG_INFO : (enum opd_log_level)lvl);

    /* Block the stop signals in every thread; the main thread waits for them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* A shell starts background jobs with SIGINT ignored, and an ignored signal never
     * reaches sigwait(): restore the defaults, then block both for sigwait(). */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = EXIT_RUNTIME;
    tel = opd_telemetry_create();
    if (!tel)
        goto out;
    if (cfg->service.metrics_address && cfg->service.metrics_address[0] &&
        !(cfg->service.metrics_level && strcmp(cfg->service.metrics_level, "none") == 0)) {
        /* Profiling goes on without its self-metrics endpoint (e.g. port taken). */
        selftel = opd_selftelemetry_start(cfg->service.metrics_address, tel);
        if (!selftel)
            OPD_WARN("otelprofd", "self-metrics endpoint %s not served: %s",
                     cfg->service.metrics_address, strerror(errno));
    }
    svc = opd_service_create(cfg, tel);
    if (!svc)
        goto out;
    if (opd_service_start(svc))
        goto out;
    OPD_INFO("otelprofd", "version %s running; SIGTERM or SIGINT stops it", OPD_VERSION);
    if (sigwait(&set, &sig) == 0)
        OPD_INFO("otelprofd", "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = opd_service_shutdown(svc, opd_now_ns() + SHUTDOWN_DEADLINE_NS) ? EXIT_RUNTIME : 0;
out:
    opd_selftelemetry_stop(selftel);
    opd_service_destroy(svc);
    opd_telemetry_destroy(tel);
    opd_config_destroy(cfg);
    opd_free(a.paths);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("otelprofd %s\n", OPD_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "components") == 0)
        return cmd_components();
    if (strcmp(argv[1], "validate") == 0)
        return cmd_validate(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "print-config") == 0)
        return cmd_validate(argc - 1, argv + 1, true);
    for (size_t i = 0; opd_subcommands[i].name; i++)
        if (strcmp(argv[1], opd_subcommands[i].name) == 0)
            return opd_subcommands[i].run(argc - 1, argv + 1);
    if (argv[1][0] != '-') {
        fprintf(stderr, "otelprofd: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    return cmd_run(argc, argv);
}
