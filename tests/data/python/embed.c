/* Fixture: a native program that loads CPython late (embedding through dlopen), so that
 * its first samples show no interpreter. It burns CPU natively for argv[3] seconds, then
 * dlopens the libpython argv[1], initializes it and runs the script argv[2] as __main__
 * with the arguments argv[4..] (tests/data/python/chain.py: seconds to spin, seconds to
 * linger). Only dlsym'd entry points are used, so no Python headers are needed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void burn_native(double secs)
{
    double end = now() + secs;

    while (now() < end)
        for (int i = 0; i < 100000; i++)
            sink = sink * 6364136223846793005ul + 1;
}

int main(int argc, char **argv)
{
    void (*init)(int);
    int (*run)(const char *);
    int (*fini)(void);
    char code[4096];
    void *h;
    int rc;

    if (argc < 6) {
        fprintf(stderr, "usage: %s LIBPYTHON SCRIPT NATIVE_SECS SPIN_SECS LINGER_SECS\n", argv[0]);
        return 2;
    }
    burn_native(atof(argv[3]));
    h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "embed: %s\n", dlerror());
        return 1;
    }
    init = (void (*)(int))dlsym(h, "Py_InitializeEx");
    run = (int (*)(const char *))dlsym(h, "PyRun_SimpleString");
    fini = (int (*)(void))dlsym(h, "Py_FinalizeEx");
    if (!init || !run || !fini) {
        fprintf(stderr, "embed: %s lacks the embedding API\n", argv[1]);
        return 1;
    }
    if ((size_t)snprintf(code, sizeof(code),
                         "import runpy, sys\n"
                         "sys.argv = ['%s', '%s', '%s']\n"
                         "runpy.run_path(sys.argv[0], run_name='__main__')\n",
                         argv[2], argv[4], argv[5]) >= sizeof(code))
        return 2;
    init(0);
    rc = run(code);
    if (fini() < 0)
        rc = 1;
    return rc ? 1 : 0;
}
