/* util threads: the OpenMP wait policy and OpenBLAS's threads (issue 17:
 * threads that do not fight). */
#define _GNU_SOURCE /* execv of /proc/self/exe */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "threads.h"

void util_threads_passive(char **argv) {
    /* The user's own choice (or the re-executed copy: the variable is set). */
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    /* Under valgrind an exec would leave the tool (without
     * --trace-children=yes): run on with the default policy. */
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload")) return;
    /* Why not earlier and in-process: libgomp reads the variable in its own
     * constructor, before the program's constructors; a .preinit_array
     * function runs earlier but glibc's start-up then resets environ to the
     * original array, so only a new image sees it. */
    int blas = !getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS");
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    /* pangu never runs OpenBLAS's own threads (util_blas_serial): without
     * them the pthread build starts no idle thread that spins at start-up. */
    if (blas) setenv("OPENBLAS_NUM_THREADS", "1", 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* No /proc: go on as we are; the variables would only mislead children. */
    unsetenv("OMP_WAIT_POLICY");
    if (blas) unsetenv("OPENBLAS_NUM_THREADS");
}

void util_blas_serial(void) {
    if (openblas_get_parallel() == 1) openblas_set_num_threads(1);
}
