/* The pid namespace of the profiling receiver's procfs root: which combinations of the
 * daemon's namespace and the procfs root's need the sampled ids translated, and what
 * gather reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/receivers/profiling/pidns.h"

static void test_translation(void **state)
{
    struct opd_pidns_facts f = {.own_is_init = true, .root_is_own = true, .self_in_root = 7,
                                .own_ino = 0xEFFFFFFCul, .own_dev = 4};

    (void)state;
    /* The host's namespace reading its own /proc: host ids. */
    assert_false(opd_pidns_needs_translation(&f));
    /* A container reading the host's procfs: host ids. */
    f.own_is_init = false;
    f.own_ino = 4026532000ul;
    f.root_is_own = false;
    assert_false(opd_pidns_needs_translation(&f));
    /* A container reading its own /proc: the namespace's ids. */
    f.root_is_own = true;
    assert_true(opd_pidns_needs_translation(&f));
    /* Without the namespace's inode there is nothing to translate by. */
    f.own_ino = 0;
    assert_false(opd_pidns_needs_translation(&f));
}

static void test_gather(void **state)
{
    struct opd_pidns_facts f;
    char dir[] = "/tmp/opd-pidns.XXXXXX";

    (void)state;
    assert_int_equal(opd_pidns_gather("/proc", &f), 0);
    assert_true(f.root_is_own);
    assert_int_equal(f.self_in_root, (long)getpid());
    assert_true(f.own_ino != 0);
    /* Not a procfs: no "self". */
    assert_non_null(mkdtemp(dir));
    assert_int_equal(opd_pidns_gather(dir, &f), -ENOENT);
    assert_int_equal(f.self_in_root, -1);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation),
        cmocka_unit_test(test_gather),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
