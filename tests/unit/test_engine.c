/* Pipeline engine: graph shape (shared receivers and exporters, per-pipeline processors,
 * fanouts), start/shutdown order, and the fanout's ownership rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/engine/fanout.h"
#include "collector/engine/service.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "config/config.h"
#include "otlp/profiles.h"

/* ---- recording components ------------------------------------------------------------ */

#define MAX_EVENTS 64

static char events[MAX_EVENTS][96];
static int n_events;

static void event(const char *what, const char *id)
{
    if (n_events < MAX_EVENTS)
        snprintf(events[n_events++], sizeof(events[0]), "%s %s", what, id);
}

static int event_index(const char *text)
{
    for (int i = 0; i < n_events; i++)
        if (strcmp(events[i], text) == 0)
            return i;
    return -1;
}

struct rec {
    struct opd_component base;
    struct opd_component *next;
    struct opd_batch *got[8];
    bool readonly_at_consume[8];
    int n_got;
    char id[64];
};

static struct rec *recs[32];
static int n_recs;

static struct rec *rec_by_id(const char *id, int nth)
{
    for (int i = 0; i < n_recs; i++)
        if (strcmp(recs[i]->id, id) == 0 && nth-- == 0)
            return recs[i];
    return NULL;
}

static int rec_start(struct opd_component *self, struct opd_host *host)
{
    event("start", self->logname);
    return 0;
}

static int rec_shutdown(struct opd_component *self, uint64_t deadline)
{
    event("shutdown", self->logname);
    return 0;
}

static int rec_consume(struct opd_component *self, struct opd_batch *b)
{
    struct rec *r = (struct rec *)self;

    if (r->next) /* a processor: tag the batch and pass it on */
        return opd_component_consume(r->next, b);
    if (r->n_got < 8) {
        r->readonly_at_consume[r->n_got] = b->readonly;
        r->got[r->n_got++] = b;
    } else {
        opd_batch_unref(b);
    }
    return 0;
}

static void rec_destroy(struct opd_component *self)
{
    struct rec *r = (struct rec *)self;

    for (int i = 0; i < r->n_got; i++)
        opd_batch_unref(r->got[i]);
    opd_free(r);
}

static const struct opd_component_ops rec_ops = {
    .start = rec_start,
    .consume = rec_consume,
    .shutdown = rec_shutdown,
    .destroy = rec_destroy,
};

static struct opd_component *rec_create(const struct opd_create_params *p, const void *cfg)
{
    struct rec *r = opd_calloc(1, sizeof(*r));

    r->base.ops = &rec_ops;
    r->next = p->next;
    snprintf(r->id, sizeof(r->id), "%s", p->id);
    recs[n_recs++] = r;
    return &r->base;
}

struct empty_cfg {
    int64_t unused;
};

static const struct opd_config_map empty_map[] = {OPD_CFG_MAP_END};

static const struct opd_factory f_recv = {.type = "rr", .kind = OPD_KIND_RECEIVER,
    .config_map = empty_map, .config_size = sizeof(struct empty_cfg), .create = rec_create};
static const struct opd_factory f_proc = {.type = "pp", .kind = OPD_KIND_PROCESSOR,
    .config_map = empty_map, .config_size = sizeof(struct empty_cfg), .mutates_data = true,
    .create = rec_create};
static const struct opd_factory f_exp = {.type = "ee", .kind = OPD_KIND_EXPORTER,
    .config_map = empty_map, .config_size = sizeof(struct empty_cfg), .create = rec_create};

static const struct opd_factory *lookup(enum opd_kind kind, const char *type)
{
    static const struct opd_factory *all[] = {&f_recv, &f_proc, &f_exp};

    for (size_t i = 0; i < 3; i++)
        if (all[i]->kind == kind && strcmp(all[i]->type, type) == 0)
            return all[i];
    return NULL;
}

static void reset(void)
{
    n_events = 0;
    n_recs = 0;
}

/* Two pipelines share receiver rr/a and exporter ee/shared; each has its own pp. */
static const char two_pipelines[] = "receivers:\n"
                                    "  rr/a:\n"
                                    "  rr/b:\n"
                                    "processors:\n"
                                    "  pp:\n"
                                    "exporters:\n"
                                    "  ee/shared:\n"
                                    "  ee/only1:\n"
                                    "service:\n"
                                    "  pipelines:\n"
                                    "    profiles/one:\n"
                                    "      receivers: [rr/a, rr/b]\n"
                                    "      processors: [pp]\n"
                                    "      exporters: [ee/shared, ee/only1]\n"
                                    "    profiles/two:\n"
                                    "      receivers: [rr/a]\n"
                                    "      processors: [pp]\n"
                                    "      exporters: [ee/shared]\n";

static struct opd_config *load(const char *text)
{
    struct opd_cfg_errors errs;
    struct opd_config *c;

    opd_cfg_errors_init(&errs);
    c = opd_config_load_buffer("graph.yaml", text, strlen(text), lookup, &errs);
    if (!c)
        opd_cfg_errors_print(&errs, stderr);
    opd_cfg_errors_fini(&errs);
    return c;
}

static void test_graph_shape_and_order(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    struct opd_service *svc;

    reset();
    cfg = load(two_pipelines);
    assert_non_null(cfg);
    svc = opd_service_create(cfg, tel);
    assert_non_null(svc);

    /* Receivers and exporters once per id; the processor once per pipeline. */
    assert_non_null(rec_by_id("rr/a", 0));
    assert_null(rec_by_id("rr/a", 1));
    assert_non_null(rec_by_id("ee/shared", 0));
    assert_null(rec_by_id("ee/shared", 1));
    assert_non_null(rec_by_id("pp", 1));
    assert_null(rec_by_id("pp", 2));

    assert_int_equal(opd_service_start(svc), 0);
    /* Exporters start before processors, processors before receivers. */
    assert_true(event_index("start exporter/ee/shared") < event_index("start processor/pp"));
    assert_true(event_index("start processor/pp") < event_index("start receiver/rr/a"));

    /* rr/a feeds both pipelines: one batch reaches ee/shared twice (once per pipeline),
     * ee/only1 once; each pipeline's mutating processor got its own copy. */
    {
        struct rec *ra = rec_by_id("rr/a", 0);
        struct rec *shared = rec_by_id("ee/shared", 0);
        struct rec *only1 = rec_by_id("ee/only1", 0);
        struct opd_batch *b = opd_batch_create();

        assert_non_null(b);
        assert_int_equal(opd_component_consume(ra->next, b), 0);
        assert_int_equal(shared->n_got, 2);
        assert_int_equal(only1->n_got, 1);
        assert_ptr_not_equal(shared->got[0], shared->got[1]);
    }

    assert_int_equal(opd_service_shutdown(svc, opd_now_ns() + 1000000000ull), 0);
    /* Shutdown runs the other way: receivers first, exporters last. */
    assert_true(event_index("shutdown receiver/rr/a") < event_index("shutdown processor/pp"));
    assert_true(event_index("shutdown processor/pp") < event_index("shutdown exporter/ee/shared"));
    /* Idempotent. */
    assert_int_equal(opd_service_shutdown(svc, opd_now_ns()), 0);
    opd_service_destroy(svc);
    opd_config_destroy(cfg);
    opd_telemetry_destroy(tel);
}

/* ---- fanout ---------------------------------------------------------------------------- */

static struct rec *plain_rec(const char *id)
{
    struct opd_create_params p = {.id = id, .logname = id};
    struct opd_component *c = rec_create(&p, NULL);

    opd_component_init_base(c, &f_exp, id);
    return (struct rec *)c;
}

static void test_fanout_shares_readonly(void **state)
{
    struct rec *a, *b;
    struct opd_component *next[2], *f;
    bool mut[2] = {false, false};
    struct opd_batch *batch = opd_batch_create();

    reset();
    a = plain_rec("a");
    b = plain_rec("b");
    next[0] = &a->base;
    next[1] = &b->base;
    f = opd_fanout_create("fanout/test", next, mut, 2);
    assert_non_null(f);
    assert_int_equal(opd_component_consume(f, batch), 0);
    /* Both read-only consumers hold the same batch, marked read-only, one ref each. */
    assert_ptr_equal(a->got[0], batch);
    assert_ptr_equal(b->got[0], batch);
    assert_true(a->readonly_at_consume[0]);
    assert_int_equal(atomic_load(&batch->refs), 2);
    opd_component_destroy(f);
    opd_component_destroy(&a->base);
    opd_component_destroy(&b->base);
}

static void test_fanout_clones_for_mutating(void **state)
{
    struct rec *a, *b, *c;
    struct opd_component *next[3], *f;
    bool mut[3] = {true, true, false};
    struct opd_batch *batch = opd_batch_create();

    reset();
    a = plain_rec("a");
    b = plain_rec("b");
    c = plain_rec("c");
    next[0] = &a->base;
    next[1] = &b->base;
    next[2] = &c->base;
    f = opd_fanout_create("fanout/test", next, mut, 3);
    assert_int_equal(opd_component_consume(f, batch), 0);
    /* Mutating consumers get private copies; the read-only one shares the original. */
    assert_ptr_not_equal(a->got[0], batch);
    assert_ptr_not_equal(b->got[0], batch);
    assert_ptr_not_equal(a->got[0], b->got[0]);
    assert_false(a->readonly_at_consume[0]);
    assert_ptr_equal(c->got[0], batch);
    assert_int_equal(atomic_load(&batch->refs), 1);
    opd_component_destroy(f);
    opd_component_destroy(&a->base);
    opd_component_destroy(&b->base);
    opd_component_destroy(&c->base);
}

static void test_fanout_last_mutating_gets_original(void **state)
{
    struct rec *a, *b;
    struct opd_component *next[2], *f;
    bool mut[2] = {true, true};
    struct opd_batch *batch = opd_batch_create();

    reset();
    a = plain_rec("a");
    b = plain_rec("b");
    next[0] = &a->base;
    next[1] = &b->base;
    f = opd_fanout_create("fanout/test", next, mut, 2);
    assert_int_equal(opd_component_consume(f, batch), 0);
    assert_ptr_not_equal(a->got[0], batch);
    assert_ptr_equal(b->got[0], batch);
    assert_false(b->readonly_at_consume[0]);
    opd_component_destroy(f);
    opd_component_destroy(&a->base);
    opd_component_destroy(&b->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_shape_and_order),
        cmocka_unit_test(test_fanout_shares_readonly),
        cmocka_unit_test(test_fanout_clones_for_mutating),
        cmocka_unit_test(test_fanout_last_mutating_gets_original),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
