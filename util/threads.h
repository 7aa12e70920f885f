/* util threads: how pangu's threads share the cores with each other and with
 * other processes (OpenMP's wait policy, OpenBLAS's threads). */
#ifndef PANGU_UTIL_THREADS_H
#define PANGU_UTIL_THREADS_H

/* For the program's main only, before any work: when more than one OpenMP
 * thread will compute and the user has set neither OMP_WAIT_POLICY nor
 * GOMP_SPINCOUNT, re-executes the program (/proc/self/exe, the same argv)
 * with OMP_WAIT_POLICY=passive (and OPENBLAS_NUM_THREADS=1 unless set), so
 * that idle OpenMP threads sleep instead of spinning for the CPU that the
 * forecast's writer thread or another process needs.  libgomp reads these
 * variables once, when it is loaded, so setting them later has no effect.
 * Returns only when it does not re-execute (or exec failed: the run goes on
 * with libgomp's spinning, slower but the same result). */
void util_threads_passive(char **argv);

/* OpenBLAS single-threaded inside our OpenMP loops (each thread calls it on
 * its own rows).  For the pthread build only: in the OpenMP build
 * openblas_set_num_threads(n) is omp_set_num_threads(n), which would cut
 * every later OpenMP loop to one thread; that build is serial inside a
 * parallel region already. */
void util_blas_serial(void);

#endif
