/* OpenBLAS SGEMM rate on the shapes of the model's linear layers: the
 * reference rate that tests/bench.sh compares pangu's step GFLOP/s with.
 *
 *   sgemm-bench [THREADS] [SECONDS]     (defaults: 2 threads, 1 s per shape)
 *
 * C (M x N) = A (M x K) * B^T, B (N x K), all row-major: the layout of a
 * linear layer y = x W^T with x (tokens, in) and W (out, in), i.e.
 * cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ...).  M = 4320 rows
 * (30 windows of 2 x 6 x 12 tokens); (N, K) are qkv, proj, fc1 and fc2 at
 * C = 192 and at 2C = 384.  Each shape: one untimed warm-up call, then
 * repeated calls for at least SECONDS timed with clock_gettime(MONOTONIC);
 * the rate is the best of three such rounds.  Last line: median and best
 * over the shapes (tests/bench.sh reads it). */
#define _GNU_SOURCE
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "usage: sgemm-bench [THREADS] [SECONDS]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    enum { M = 4320, NSHAPE = 8, ROUNDS = 3 };
    static const struct { int n, k; const char *name; } shapes[NSHAPE] = {
        {576, 192, "qkv  C=192"},  {192, 192, "proj C=192"},
        {768, 192, "fc1  C=192"},  {192, 768, "fc2  C=192"},
        {1152, 384, "qkv  C=384"}, {384, 384, "proj C=384"},
        {1536, 384, "fc1  C=384"}, {384, 1536, "fc2  C=384"},
    };
    printf("OpenBLAS %s, core %s, %d threads; C = A B^T, row-major, M = %d\n",
           openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), M);
    double rate[NSHAPE];
    for (int s = 0; s < NSHAPE; s++) {
        int N = shapes[s].n, K = shapes[s].k;
        float *A = malloc(sizeof(float) * (size_t)M * (size_t)K);
        float *B = malloc(sizeof(float) * (size_t)N * (size_t)K);
        float *C = malloc(sizeof(float) * (size_t)M * (size_t)N);
        if (!A || !B || !C) {
            fprintf(stderr, "sgemm-bench: out of memory\n");
            return 1;
        }
        /* values in [-0.5, 0.5): no denormals, no overflow */
        for (size_t i = 0; i < (size_t)M * (size_t)K; i++) A[i] = (float)((i * 7919u) % 1000u) / 1000.0f - 0.5f;
        for (size_t i = 0; i < (size_t)N * (size_t)K; i++) B[i] = (float)((i * 104729u) % 1000u) / 1000.0f - 0.5f;
        memset(C, 0, sizeof(float) * (size_t)M * (size_t)N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N); /* warm-up */
        double best = 0;
        for (int r = 0; r < ROUNDS; r++) {
            long reps = 0;
            double t0 = now(), t;
            do {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
                reps++;
            } while ((t = now() - t0) < seconds / ROUNDS);
            double gf = 2.0 * M * N * K * (double)reps / t / 1e9;
            if (gf > best) best = gf;
        }
        rate[s] = best;
        printf("sgemm %s  M %d x N %4d x K %4d: %7.1f GFLOP/s  (check %.3g)\n", shapes[s].name, M, N, K,
               best, (double)C[(size_t)(M / 2) * (size_t)N + (size_t)(N / 2)]);
        free(A);
        free(B);
        free(C);
    }
    double sorted[NSHAPE];
    memcpy(sorted, rate, sizeof sorted);
    qsort(sorted, NSHAPE, sizeof sorted[0], cmp_double);
    double median = 0.5 * (sorted[NSHAPE / 2 - 1] + sorted[NSHAPE / 2]);
    printf("sgemm median %.1f GFLOP/s best %.1f GFLOP/s (%d threads)\n", median, sorted[NSHAPE - 1], threads);
    return 0;
}
