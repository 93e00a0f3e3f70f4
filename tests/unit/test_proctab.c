/* Process table: maps parser, cgroup naming of every runtime, and this process's real /proc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/telemetry.h"

static void test_maps_parse(void **state)
{
    static const char text[] =
        "55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234   /usr/bin/cat\n"
        "55d0c0a02000-55d0c0a07000 r-xp 00002000 fd:01 1234   /usr/bin/cat\n"
        "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
        "7f0000001000-7f0000002000 r-xs 00001000 103:02 99 /path with spaces/lib.so\n"
        "garbage line\n"
        "7fff00000000-7ffe00000000 r-xp 00000000 00:00 0   [bad range]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n"
        "7f0000009000-7f000000a000 r-xp 00000000 00:00 0 [trunc";
    struct opd_proc_mapping *m;
    int n;

    (void)state;
    n = opd_procmaps_parse(text, strlen(text), OPD_MAP_EXEC, &m);
    assert_int_equal(n, 4);
    assert_int_equal(m[0].start, 0x55d0c0a02000ull);
    assert_int_equal(m[0].end, 0x55d0c0a07000ull);
    assert_int_equal(m[0].offset, 0x2000);
    assert_int_equal(m[0].inode, 1234);
    assert_int_equal(m[0].dev, makedev(0xfd, 1));
    assert_int_equal(m[0].prot, OPD_MAP_READ | OPD_MAP_EXEC | OPD_MAP_PRIVATE);
    assert_string_equal(m[0].path, "/usr/bin/cat");
    assert_string_equal(m[1].path, "");
    assert_int_equal(m[1].inode, 0);
    assert_string_equal(m[2].path, "/path with spaces/lib.so");
    assert_int_equal(m[2].prot & OPD_MAP_PRIVATE, 0);
    assert_int_equal(m[2].dev, makedev(0x103, 2));
    assert_string_equal(m[3].path, "[vsyscall]");
    assert_int_equal(m[3].prot, OPD_MAP_EXEC | OPD_MAP_PRIVATE);
    opd_procmaps_free(m, (size_t)n);

    n = opd_procmaps_parse(text, strlen(text), 0, &m);
    assert_int_equal(n, 5);
    opd_procmaps_free(m, (size_t)n);

    n = opd_procmaps_parse("", 0, 0, &m);
    assert_int_equal(n, 0);
    opd_procmaps_free(m, 0);
}

static void test_maps_parse_nomem(void **state)
{
    static const char text[] = "1000-2000 r-xp 00000000 00:00 0 /a\n"
                               "3000-4000 r-xp 00000000 00:00 0 /b\n";
    struct opd_proc_mapping *m;
    long i;
    int n;

    (void)state;
    for (i = 0; i < 8; i++) {
        opd_mem_fail_countdown = i;
        n = opd_procmaps_parse(text, strlen(text), 0, &m);
        opd_mem_fail_countdown = -1;
        if (n >= 0) {
            assert_int_equal(n, 2);
            opd_procmaps_free(m, (size_t)n);
            break;
        }
        assert_int_equal(n, -ENOMEM);
        assert_null(m);
    }
    assert_true(i < 8);
}

struct cg_case {
    const char *path;
    const char *id;
    const char *pod;
};

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID  "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
#define UIDU "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9"

static void test_cgroup_parse(void **state)
{
    static const struct cg_case cases[] = {
        /* containerd with the systemd cgroup driver */
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU
         ".slice/cri-containerd-" ID64 ".scope",
         ID64, UID},
        /* guaranteed QoS: no qos slice */
        {"/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" ID64 ".scope", ID64, UID},
        /* CRI-O */
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU
         ".slice/crio-" ID64 ".scope",
         ID64, UID},
        /* cgroupfs driver */
        {"/kubepods/burstable/pod" UID "/" ID64, ID64, UID},
        {"/kubepods/pod" UID "/" ID64, ID64, UID},
        /* docker */
        {"/system.slice/docker-" ID64 ".scope", ID64, ""},
        {"/docker/" ID64, ID64, ""},
        /* podman */
        {"/machine.slice/libpod-" ID64 ".scope/container", ID64, ""},
        /* nested cgroup inside a container keeps the id */
        {"/system.slice/docker-" ID64 ".scope/init.scope", ID64, ""},
        /* no container */
        {"/user.slice/user-1000.slice/session-2.scope", "", ""},
        {"/", "", ""},
        {"", "", ""},
        /* too short, not hex, wrong separator */
        {"/docker/0123456789abcdef", "", ""},
        {"/docker/"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
         "", ""},
        {"/x" ID64, "", ""},
        {"/kubepods/burstable/podnot-a-uid/", "", ""},
    };
    size_t i;
    char id[65], pod[37];

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(opd_cgroup_parse(cases[i].path, id, pod), 0);
        if (strcmp(id, cases[i].id) != 0 || strcmp(pod, cases[i].pod) != 0)
            fail_msg("case %zu (%s): got id '%s' pod '%s'", i, cases[i].path, id, pod);
    }
    assert_int_equal(opd_cgroup_parse(NULL, id, pod), -EINVAL);
}

static void test_cgroup_pick(void **state)
{
    static const char v2[] = "0::/system.slice/docker-" ID64 ".scope\n";
    static const char v1[] = "12:pids:/docker/" ID64 "\n"
                             "11:cpu,cpuacct:/docker/" ID64 "\n"
                             "1:name=systemd:/docker/" ID64 "\n";
    static const char hybrid[] = "12:pids:/user.slice\n"
                                 "3:memory:/docker/" ID64 "\n"
                                 "0::/\n";
    static const char plain[] = "0::/user.slice/user-0.slice/session-1.scope\n";
    char out[256];

    (void)state;
    assert_int_equal(opd_cgroup_pick(v2, strlen(v2), out, sizeof(out)), 0);
    assert_string_equal(out, "/system.slice/docker-" ID64 ".scope");
    assert_int_equal(opd_cgroup_pick(v1, strlen(v1), out, sizeof(out)), 0);
    assert_string_equal(out, "/docker/" ID64);
    assert_int_equal(opd_cgroup_pick(hybrid, strlen(hybrid), out, sizeof(out)), 0);
    assert_string_equal(out, "/docker/" ID64);
    assert_int_equal(opd_cgroup_pick(plain, strlen(plain), out, sizeof(out)), 0);
    assert_string_equal(out, "/user.slice/user-0.slice/session-1.scope");
    assert_int_equal(opd_cgroup_pick("garbage", 7, out, sizeof(out)), -ENOENT);
    assert_int_equal(opd_cgroup_pick(v2, strlen(v2), out, 8), 0);
    assert_int_equal(strlen(out), 7);
}

static void test_self(void **state)
{
    struct opd_proctab_config cfg = {.procfs_root = "/proc", .read_env = true};
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_proctab *t;
    const struct opd_proc *p, *p2;
    const struct opd_proc_mapping *m;
    char exe[PATH_MAX], name[32], cgroup[4096];
    ssize_t r;
    FILE *f;
    size_t i;
    int found_exe = 0;

    (void)state;
    setenv("OTEL_SERVICE_NAME", "unit-svc", 1);
    assert_non_null(tel);
    t = opd_proctab_create(&cfg, tel, "receiver/profiling");
    assert_non_null(t);
    /* environ is read from /proc: what the kernel saw at exec, not setenv. */
    p = opd_proctab_get(t, getpid(), 1000);
    assert_non_null(p);
    assert_int_equal(p->pid, getpid());
    assert_int_equal(p->nspid, getpid());
    assert_false(p->exited);
    assert_true(p->start_time > 0);
    assert_string_equal(p->comm, "test_proctab");
    r = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(r > 0);
    exe[r] = '\0';
    assert_string_equal(p->exe_path, exe);
    f = fopen("/proc/self/cgroup", "r");
    assert_non_null(f);
    i = fread(cgroup, 1, sizeof(cgroup) - 1, f);
    fclose(f);
    cgroup[i] = '\0';
    assert_non_null(strstr(cgroup, p->cgroup));
    assert_true(p->n_maps > 0);
    for (i = 0; i < p->n_maps; i++) {
        assert_true(p->maps[i].prot & OPD_MAP_EXEC);
        if (i)
            assert_true(p->maps[i - 1].start < p->maps[i].start);
        if (strcmp(p->maps[i].path, exe) == 0)
            found_exe = 1;
    }
    assert_true(found_exe);
    m = opd_proctab_find_mapping(t, getpid(), (uint64_t)(uintptr_t)&test_self, 1000, &p2);
    assert_non_null(m);
    assert_ptr_equal(p2, p);
    assert_string_equal(m->path, exe);
    assert_null(opd_proctab_find_mapping(t, getpid(), 16, 1000, NULL));
    assert_int_equal(errno, ENOENT);
    /* The unknown address spent this interval's maps reread; p stays valid until sweep. */
    assert_int_equal(p->pid, getpid());
    assert_int_equal(opd_proctab_thread_name(t, getpid(), getpid(), name, sizeof(name), 1000), 0);
    assert_string_equal(name, "test_proctab");
    assert_int_equal(opd_proctab_thread_name(t, getpid(), 0x7ffffff0, name, sizeof(name), 1000),
                     -ESRCH);
    /* A rename shows after the interval ends; until then the cached name is kept. */
    assert_int_equal(pthread_setname_np(pthread_self(), "renamed"), 0);
    assert_int_equal(opd_proctab_thread_name(t, getpid(), getpid(), name, sizeof(name), 1000), 0);
    assert_string_equal(name, "test_proctab");
    opd_proctab_sweep(t, 1500);
    assert_non_null(opd_proctab_get(t, getpid(), 1500));
    assert_int_equal(opd_proctab_thread_name(t, getpid(), getpid(), name, sizeof(name), 1500), 0);
    assert_string_equal(name, "renamed");
    assert_int_equal(pthread_setname_np(pthread_self(), "test_proctab"), 0);
    p = opd_proctab_get(t, getpid(), 1500);
    assert_int_equal(
        opd_metric_get(opd_telemetry_find(t ? tel : NULL, "otelprofd_profiling_processes_tracked",
                                          "receiver=\"profiling\"")),
        1);
    opd_proctab_sweep(t, 2000);
    p = opd_proctab_get(t, getpid(), 2000);
    assert_non_null(p);
    assert_false(p->exited);
    opd_proctab_destroy(t);
    opd_telemetry_destroy(tel);
    opd_proctab_destroy(NULL);
}

/* A child whose environment carries the OTEL_* variables, then exits: its metadata is kept
 * for the grace period and dropped after it. */
static void test_env_and_exit(void **state)
{
    struct opd_proctab_config cfg = {.read_env = true, .grace_ns = 5000};
    struct opd_proctab *t = opd_proctab_create(&cfg, NULL, NULL);
    const struct opd_proc *p;
    int pipefd[2], status;
    pid_t pid;
    char c;

    (void)state;
    assert_non_null(t);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {"sleep", "30", NULL};
        char *envp[] = {"OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod, service.name="
                        "my%20svc,team=a",
                        NULL};

        close(pipefd[0]);
        if (write(pipefd[1], "x", 1) != 1)
            _exit(2);
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    close(pipefd[1]);
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    /* Wait until the child has exec'd. */
    for (int i = 0; i < 200; i++) {
        char path[64], link[PATH_MAX];
        ssize_t r;

        snprintf(path, sizeof(path), "/proc/%d/exe", pid);
        r = readlink(path, link, sizeof(link) - 1);
        if (r > 0 && (link[r] = '\0', strstr(link, "sleep")))
            break;
        usleep(10000);
    }
    p = opd_proctab_get(t, pid, 100);
    assert_non_null(p);
    assert_string_equal(p->comm, "sleep");
    assert_string_equal(p->service_name, "my svc");
    assert_string_equal(p->resource_attributes,
                        "deployment.environment=prod, service.name=my%20svc,team=a");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    opd_proctab_sweep(t, 200); /* notices the exit */
    p = opd_proctab_get(t, pid, 300);
    assert_non_null(p);
    assert_true(p->exited);
    assert_int_equal(p->exited_at, 200);
    assert_string_equal(p->comm, "sleep");
    assert_string_equal(p->service_name, "my svc");
    opd_proctab_sweep(t, 3000); /* within grace */
    assert_int_equal(opd_proctab_count(t), 1);
    opd_proctab_sweep(t, 5200); /* grace over */
    assert_int_equal(opd_proctab_count(t), 0);
    assert_null(opd_proctab_get(t, pid, 5300));
    assert_int_equal(errno, ESRCH);
    opd_proctab_destroy(t);
}

/* A fake procfs root: bounded table, eviction counter, pid reuse, truncated files. */
static char fake_root[] = "/tmp/opd_proctab_XXXXXX";

static void write_file(const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void fake_proc(int pid, unsigned long long start, const char *comm, const char *maps)
{
    char dir[PATH_MAX], stat[512];

    snprintf(dir, sizeof(dir), "%s/%d", fake_root, pid);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%d/stat", pid);
    snprintf(stat, sizeof(stat),
             "%d (%s) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %llu 1000 10 18446744\n", pid,
             comm, start);
    write_file(dir, stat);
    snprintf(dir, sizeof(dir), "%d/maps", pid);
    write_file(dir, maps);
    snprintf(dir, sizeof(dir), "%d/cgroup", pid);
    write_file(dir, "0::/kubepods/burstable/pod" UID "/" ID64 "\n");
}

static void rm_proc(int pid)
{
    char cmd[PATH_MAX + 32];

    snprintf(cmd, sizeof(cmd), "rm -rf %s/%d", fake_root, pid);
    assert_int_equal(system(cmd), 0);
}

static void test_fake_root(void **state)
{
    struct opd_proctab_config cfg = {.procfs_root = fake_root, .max_procs = 2, .grace_ns = 10};
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_proctab *t;
    const struct opd_proc *p, *a;
    const struct opd_proc_mapping *m;
    char cmd[PATH_MAX + 32];

    (void)state;
    assert_non_null(mkdtemp(fake_root));
    fake_proc(100, 5, "a (weird) name", "1000-2000 r-xp 00000000 08:01 7 /bin/a\n");
    fake_proc(101, 6, "b", "1000-2000 r-xp 00000000 08:01 8 /bin/b\n3000-4000 r-xp 0 08");
    fake_proc(102, 7, "c", "");
    t = opd_proctab_create(&cfg, tel, "receiver/profiling/x");
    assert_non_null(t);

    a = opd_proctab_get(t, 100, 1);
    assert_non_null(a);
    assert_string_equal(a->comm, "a (weird) name");
    assert_int_equal(a->start_time, 5);
    assert_string_equal(a->container_id, ID64);
    assert_string_equal(a->pod_uid, UID);
    assert_string_equal(a->exe_path, "");
    assert_string_equal(a->service_name, "");
    p = opd_proctab_get(t, 101, 1);
    assert_non_null(p);
    assert_int_equal(p->n_maps, 1); /* truncated last line ignored */
    p = opd_proctab_get(t, 102, 1);
    assert_non_null(p);
    assert_int_equal(opd_proctab_count(t), 2);
    assert_int_equal(opd_metric_get(opd_telemetry_find(tel, "otelprofd_profiling_process_evictions",
                                                       "receiver=\"profiling/x\"")),
                     1);
    /* Evicted entry's pointer is still readable until the sweep. */
    assert_string_equal(a->comm, "a (weird) name");

    /* pid reuse: 102 exits and a new process takes the pid. */
    opd_proctab_sweep(t, 2);
    rm_proc(102);
    fake_proc(102, 99, "c2", "5000-6000 r-xp 00000000 08:01 9 /bin/c2\n");
    opd_proctab_sweep(t, 3); /* start time changed: marked exited */
    p = opd_proctab_get(t, 102, 4);
    assert_non_null(p);
    assert_false(p->exited);
    assert_string_equal(p->comm, "c2");
    assert_int_equal(p->start_time, 99);
    m = opd_proctab_find_mapping(t, 102, 0x5800, 4, NULL);
    assert_non_null(m);
    assert_string_equal(m->path, "/bin/c2");

    /* A mapping that appears later is found through one maps reread per interval. */
    snprintf(cmd, sizeof(cmd), "102/maps");
    write_file(cmd, "5000-6000 r-xp 00000000 08:01 9 /bin/c2\n"
                    "7000-8000 r-xp 00001000 08:01 10 /lib/new.so\n");
    m = opd_proctab_find_mapping(t, 102, 0x7100, 4, &p);
    assert_non_null(m);
    assert_string_equal(m->path, "/lib/new.so");
    assert_int_equal(m->offset, 0x1000);
    write_file(cmd, "5000-6000 r-xp 00000000 08:01 9 /bin/c2\n"
                    "7000-8000 r-xp 00001000 08:01 10 /lib/new.so\n"
                    "9000-a000 r-xp 00000000 08:01 11 /lib/newer.so\n");
    assert_null(opd_proctab_find_mapping(t, 102, 0x9100, 4, NULL));
    opd_proctab_sweep(t, 5);
    assert_non_null(opd_proctab_find_mapping(t, 102, 0x9100, 6, NULL));

    /* exec: same pid and start time, new image. Invalidation makes the next lookup reread. */
    fake_proc(102, 99, "c3", "b000-c000 r-xp 00000000 08:01 12 /bin/c3\n");
    p = opd_proctab_get(t, 102, 6);
    assert_string_equal(p->comm, "c2"); /* cached until told */
    opd_proctab_invalidate(t, 102);
    opd_proctab_invalidate(t, 4242); /* unknown: no-op */
    p = opd_proctab_get(t, 102, 6);
    assert_non_null(p);
    assert_string_equal(p->comm, "c3");
    assert_int_equal(p->n_maps, 1);
    assert_string_equal(p->maps[0].path, "/bin/c3");

    /* Garbage stat: the process is reported gone rather than half read. */
    fake_proc(103, 1, "d", "");
    write_file("103/stat", "103 (d");
    assert_null(opd_proctab_get(t, 103, 7));
    assert_int_equal(errno, ESRCH);
    assert_null(opd_proctab_get(t, 0, 7));
    assert_int_equal(errno, EINVAL);

    opd_proctab_destroy(t);
    opd_telemetry_destroy(tel);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fake_root);
    assert_int_equal(system(cmd), 0);
}

static void test_create_nomem(void **state)
{
    struct opd_proctab_config cfg = {0};
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_proctab *t = NULL;
    long i;

    (void)state;
    for (i = 0; i < 32; i++) {
        opd_mem_fail_countdown = i;
        t = opd_proctab_create(&cfg, tel, NULL);
        opd_mem_fail_countdown = -1;
        if (t)
            break;
        assert_int_equal(errno, ENOMEM);
    }
    assert_non_null(t);
    /* Reads fail cleanly under memory pressure too. */
    for (i = 0; i < 32; i++) {
        const struct opd_proc *p;

        opd_mem_fail_countdown = i;
        p = opd_proctab_get(t, getpid(), 1);
        opd_mem_fail_countdown = -1;
        if (p)
            break;
        assert_int_equal(errno, ENOMEM);
    }
    assert_true(i < 32);
    opd_proctab_destroy(t);
    opd_telemetry_destroy(tel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maps_parse),   cmocka_unit_test(test_maps_parse_nomem),
        cmocka_unit_test(test_cgroup_parse), cmocka_unit_test(test_cgroup_pick),
        cmocka_unit_test(test_self),         cmocka_unit_test(test_env_and_exit),
        cmocka_unit_test(test_fake_root),    cmocka_unit_test(test_create_nomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
