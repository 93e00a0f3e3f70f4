/* The pid namespace check of the profiling receiver's procfs root: which combinations of
 * the daemon's namespace and the procfs root's are refused, and what gather reads. */
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

static void test_check(void **state)
{
    struct opd_pidns_facts f = {.own_is_init = true, .root_is_own = true, .self_in_root = 7};
    char err[640] = "";

    (void)state;
    /* The host's namespace reading its own /proc: fine. */
    assert_int_equal(opd_pidns_check("/proc", &f, err, sizeof(err)), 0);
    /* A container reading the host's procfs: fine. */
    f.own_is_init = false;
    f.root_is_own = false;
    assert_int_equal(opd_pidns_check("/host/proc", &f, err, sizeof(err)), 0);
    /* A container reading its own /proc: refused, saying what to do. */
    f.root_is_own = true;
    f.own_ino = 4026532000ul;
    assert_int_equal(opd_pidns_check("/proc", &f, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "pid namespace other than the host's"));
    assert_non_null(strstr(err, "procfs_root"));
    assert_non_null(strstr(err, "4026532000"));
}

static void test_gather(void **state)
{
    struct opd_pidns_facts f;
    char dir[] = "/tmp/opd-pidns.XXXXXX";

    (void)state;
    assert_int_equal(opd_pidns_gather("/proc", &f), 0);
    assert_true(f.root_is_own);
    assert_int_equal(f.self_in_root, (long)getpid());
    /* Not a procfs: no "self". */
    assert_non_null(mkdtemp(dir));
    assert_int_equal(opd_pidns_gather(dir, &f), -ENOENT);
    assert_int_equal(f.self_in_root, -1);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_gather),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
