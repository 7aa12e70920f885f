/* OpenBLAS SGEMM rate on the shapes of the model's linear layers, with all
 * threads (the reference rate the step's GFLOP/s is compared with). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    openblas_set_num_threads(threads);
    /* rows x (out, in): qkv, proj, fc1, fc2 at C = 192 and 2C = 384 */
    int shapes[][3] = {{8192, 576, 192}, {8192, 192, 192}, {8192, 768, 192}, {8192, 192, 768},
                       {8192, 1152, 384}, {8192, 384, 384}, {8192, 1536, 384}, {8192, 384, 1536}};
    int n = (int)(sizeof shapes / sizeof shapes[0]);
    double best = 0, sum = 0;
    for (int s = 0; s < n; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C = malloc(sizeof(float) * M * N);
        if (!A || !B || !C) return 1;
        for (long i = 0; i < (long)M * K; i++) A[i] = (float)((i * 7919) % 1000) / 1000.0f;
        for (long i = 0; i < (long)N * K; i++) B[i] = (float)((i * 104729) % 1000) / 1000.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, B, K, 0, C, N); /* warm up */
        int reps = 0;
        double t0 = now(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, B, K, 0, C, N);
            reps++;
        } while ((t = now() - t0) < 0.5);
        double gf = 2.0 * M * N * K * reps / t / 1e9;
        printf("sgemm %5d x %4d x %4d: %6.1f GFLOP/s\n", M, N, K, gf);
        best = gf > best ? gf : best, sum += gf;
        free(A), free(B), free(C);
    }
    printf("sgemm mean %.1f GFLOP/s, best %.1f GFLOP/s (%d threads)\n", sum / n, best, threads);
    return 0;
}
