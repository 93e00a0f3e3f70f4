/* Fuzz target: bytes → YAML → node tree → the whole config load (binding through the fake
 * factory table, graph rules). A config that loads must also print, and the printed form
 * must load again and print identically. The same bytes also go straight through the
 * ${env:VAR:-default} expander (which the load only reaches inside YAML scalars), which
 * must either succeed or fail with a message. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "config/config.h"
#include "config/env.h"
#include "config/errors.h"
#include "tests/unit/test_config_fake.h"

static char *print_config(const struct opd_config *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    if (!f)
        abort();
    if (opd_config_print(c, f) != 0)
        abort();
    fclose(f);
    return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Variables for ${env:...} references in inputs to expand to: plain text, text that looks
 * like YAML or like another reference, and an empty value (so defaults apply). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("A", "localhost:4317", 1);
    setenv("B", "[a, {b: c}]", 1);
    setenv("C", "${env:A}$$", 1);
    setenv("D", "", 1);
    setenv("E", "5s", 1);
    return 0;
}

static void expand_direct(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1), *out = NULL, err[256] = "";
    int rc;

    if (!in)
        return;
    memcpy(in, data, size);
    in[size] = '\0';
    rc = opd_env_expand(in, &out, err, sizeof(err));
    if (rc == -EINVAL && !err[0])
        abort(); /* a syntax error always says why */
    opd_free(out);
    free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_cfg_errors errs;
    struct opd_config *c, *again;
    char *a, *b;
    size_t alen = 0, blen = 0;

    expand_direct(data, size);
    opd_cfg_errors_init(&errs);
    c = opd_config_load_buffer_ex("fuzz.yaml", (const char *)data, size, fake_lookup, fake_list,
                                  &errs);
    if (!c) {
        /* Every failure must have said why. */
        if (opd_cfg_errors_count(&errs) == 0)
            abort();
        opd_cfg_errors_fini(&errs);
        return 0;
    }
    a = print_config(c, &alen);
    again = opd_config_load_buffer_ex("printed.yaml", a, alen, fake_lookup, fake_list, &errs);
    if (!again) {
        opd_cfg_errors_print(&errs, stderr);
        fprintf(stderr, "printed config does not load:\n%s\n", a);
        abort();
    }
    b = print_config(again, &blen);
    if (alen != blen || memcmp(a, b, alen) != 0) {
        fprintf(stderr, "print is not stable:\n%s\n----\n%s\n", a, b);
        abort();
    }
    free(a);
    free(b);
    opd_config_destroy(again);
    opd_config_destroy(c);
    opd_cfg_errors_fini(&errs);
    return 0;
}
