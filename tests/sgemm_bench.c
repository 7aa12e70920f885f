/* OpenBLAS SGEMM rate on the shapes of the model's linear layers: the
 * reference rate that tests/bench.sh compares pangu's step GFLOP/s with; then
 * the same shapes in BF16: OpenBLAS's cblas_sbgemm when the library exports
 * it (Debian's 0.3.21 is built without BUILD_BFLOAT16: the header declares
 * it, the library has no such symbol), and pangu-c's own AVX512_BF16 kernel
 * (model_bf16_linear_forward, OpenMP over row blocks as in the model); and
 * pangu-c's packed FP32 AVX-512 kernel (model_f32_linear_forward, the same
 * way), which the FP32 step uses where the CPU has AVX-512.
 *
 *   sgemm-bench [THREADS] [SECONDS]     (defaults: 2 threads, 1 s per shape)
 *
 * C (M x N) = A (M x K) * B^T, B (N x K), all row-major: the layout of a
 * linear layer y = x W^T with x (tokens, in) and W (out, in), i.e.
 * cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ...).  M = 4320 rows
 * (30 windows of 2 x 6 x 12 tokens); (N, K) are qkv, proj, fc1 and fc2 at
 * C = 192 and at 2C = 384.  Each shape: one untimed warm-up call, then
 * repeated calls for at least SECONDS timed with clock_gettime(MONOTONIC);
 * the rate is the best of three such rounds.  Summary lines: "sgemm median
 * X GFLOP/s best Y GFLOP/s" (tests/bench.sh reads it) and, on CPUs with
 * AVX512_BF16, "bf16 median X GFLOP/s best Y GFLOP/s", and on CPUs with
 * AVX-512, "f32 median X GFLOP/s best Y GFLOP/s"; the BF16 rows also
 * print the largest difference from the FP32 result relative to sum |a b|.
 * On CPUs with AVX2 + FMA, pangu-c's AVX2 kernel (model/fast/avx2.c, the FP32
 * step's kernel where the CPU has no AVX-512) on the same panels:
 * "avx2 median X GFLOP/s best Y GFLOP/s". The first lines name the CPU, the
 * kernel the step chooses and the blockings in use. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/internal.h"
#include "util/util.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*sbgemm_fn)(int, int, int, int, int, int, float, const uint16_t *, int, const uint16_t *, int, float,
                          float *, int);

enum { M = 4320, NSHAPE = 8, ROUNDS = 3 };
static const struct { int n, k; const char *name; } shapes[NSHAPE] = {
    {576, 192, "qkv  C=192"},  {192, 192, "proj C=192"},
    {768, 192, "fc1  C=192"},  {192, 768, "fc2  C=192"},
    {1152, 384, "qkv  C=384"}, {384, 384, "proj C=384"},
    {1536, 384, "fc1  C=384"}, {384, 1536, "fc2  C=384"},
};

typedef struct {
    int kind; /* 0 sgemm, 1 OpenBLAS sbgemm, 2 pangu-c bf16 kernel, 3 pangu-c packed FP32 kernel */
    int N, K;
    const float *A, *B;
    const uint16_t *Ah, *Bh;
    const model_bf16_matrix *Bp;
    const model_f32_matrix *Bf;
    sbgemm_fn sbgemm;
    float *C;
} job;

static void run(const job *j) {
    if (j->kind == 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, j->N, j->K, 1.0f, j->A, j->K, j->B, j->K, 0.0f, j->C,
                    j->N);
    else if (j->kind == 1)
        j->sbgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, j->N, j->K, 1.0f, j->Ah, j->K, j->Bh, j->K, 0.0f, j->C,
                  j->N);
    else {
        /* rows split over the threads in blocks of 288 (two windows), as the model splits its work */
        enum { RB = 288 };
#pragma omp parallel for schedule(dynamic, 1)
        for (int r0 = 0; r0 < M; r0 += RB) {
            if (j->kind == 2)
                model_bf16_linear_forward(j->C + (size_t)r0 * j->N, (size_t)j->N, j->A + (size_t)r0 * j->K,
                                          (size_t)j->K, j->Bp, NULL, M - r0 < RB ? M - r0 : RB, 0);
            else
                model_f32_linear_forward(j->C + (size_t)r0 * j->N, (size_t)j->N, j->A + (size_t)r0 * j->K,
                                         (size_t)j->K, j->Bf, NULL, M - r0 < RB ? M - r0 : RB, 0);
        }
    }
}

static double rate_of(const job *j, double seconds) {
    run(j); /* warm-up */
    double best = 0;
    for (int r = 0; r < ROUNDS; r++) {
        long reps = 0;
        double t0 = now(), t;
        do {
            run(j);
            reps++;
        } while ((t = now() - t0) < seconds / ROUNDS);
        double gf = 2.0 * M * j->N * j->K * (double)reps / t / 1e9;
        if (gf > best) best = gf;
    }
    return best;
}

static double median_of(const double *rate, int n, double *best) {
    double sorted[NSHAPE];
    memcpy(sorted, rate, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_double);
    *best = sorted[n - 1];
    return 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

/* The packed FP32 kernel `kernel` on shape s: its rate into *rate and its
 * row ("f32  " or "avx2 " then the shape); 1 when B cannot be packed. */
static int measure_packed(double *rate, int kernel, const char *label, int s, float *A, const float *B, float *C,
                          const float *Cf, double sumab, double seconds) {
    int N = shapes[s].n, K = shapes[s].k;
    model_f32_matrix Bq;
    if (model_f32_pack_for(&Bq, kernel, B, N, K, (size_t)K, 1)) {
        fprintf(stderr, "sgemm-bench: %s\n", util_last_message());
        return 1;
    }
    job jf = {3, N, K, A, NULL, NULL, NULL, NULL, &Bq, NULL, C};
    *rate = rate_of(&jf, seconds);
    size_t at = (size_t)(M / 2) * (size_t)N + (size_t)(N / 2);
    printf("%s %s (pangu-c):   %7.1f GFLOP/s  (|diff from sgemm| / sum|ab| %.2g)\n", label, shapes[s].name, *rate,
           fabs((double)C[at] - Cf[at]) / sumab);
    model_f32_matrix_free(&Bq);
    return 0;
}

/* "NAME median X GFLOP/s best Y GFLOP/s (T threads)", or why NAME was not measured (n 0) */
static void print_median(const char *name, const double *rate, int n, int threads, const char *why_not) {
    if (n == 0) {
        printf("%s: %s: not measured\n", name, why_not);
        return;
    }
    double best, median = median_of(rate, n, &best);
    printf("%s median %.1f GFLOP/s best %.1f GFLOP/s (%d threads)\n", name, median, best, threads);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "usage: sgemm-bench [THREADS] [SECONDS]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    sbgemm_fn sbgemm = (sbgemm_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "cblas_sbgemm");
    /* SGEMM_ONLY=1: OpenBLAS SGEMM alone (tests/bench.sh, second OpenBLAS core) */
    int sgemm_only = getenv("SGEMM_ONLY") && strcmp(getenv("SGEMM_ONLY"), "1") == 0;
    int have_bf16 = !sgemm_only && model_bf16_available(), have_f32 = !sgemm_only && model_f32_available();
    int have_avx2 = 0;
    if (!sgemm_only && have_f32) { /* the AVX2 kernel runs wherever a packed kernel does (AVX-512 implies AVX2) */
        have_avx2 = model_kernel() >= MODEL_KERNEL_AVX2;
        have_f32 = model_kernel() == MODEL_KERNEL_AVX512;
    }
    if (!sgemm_only) {
        char cpu[128];
        model_cpu_name(cpu, sizeof cpu);
        model_blocking b5, b2;
        model_blocking_get(MODEL_KERNEL_AVX512, &b5);
        model_blocking_get(MODEL_KERNEL_AVX2, &b2);
        printf("cpu %s; L1d %ld KB, L2 %ld KB; step kernel %s; blocking avx512 mc %d kc %d, avx2 mc %d kc %d\n", cpu,
               model_cache_bytes(1) / 1024, model_cache_bytes(2) / 1024, model_kernel_name(model_kernel()), b5.mc, b5.kc,
               b2.mc, b2.kc);
    }
    if (sgemm_only) sbgemm = NULL;
    printf("OpenBLAS %s, core %s, %d threads; C = A B^T, row-major, M = %d\n",
           openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), M);
    double rate[NSHAPE], rate_sb[NSHAPE], rate_bf[NSHAPE], rate_f[NSHAPE], rate_a[NSHAPE];
    int nsb = 0, nbf = 0, nf = 0, na = 0;
    for (int s = 0; s < NSHAPE; s++) {
        int N = shapes[s].n, K = shapes[s].k;
        float *A = malloc(sizeof(float) * (size_t)M * (size_t)K);
        float *B = malloc(sizeof(float) * (size_t)N * (size_t)K);
        float *C = malloc(sizeof(float) * (size_t)M * (size_t)N);
        float *Cf = malloc(sizeof(float) * (size_t)M * (size_t)N);
        uint16_t *Ah = malloc(sizeof(uint16_t) * (size_t)M * (size_t)K);
        uint16_t *Bh = malloc(sizeof(uint16_t) * (size_t)N * (size_t)K);
        if (!A || !B || !C || !Cf || !Ah || !Bh) {
            fprintf(stderr, "sgemm-bench: out of memory\n");
            return 1;
        }
        /* values in [-0.5, 0.5): no denormals, no overflow */
        for (size_t i = 0; i < (size_t)M * (size_t)K; i++) A[i] = (float)((i * 7919u) % 1000u) / 1000.0f - 0.5f;
        for (size_t i = 0; i < (size_t)N * (size_t)K; i++) B[i] = (float)((i * 104729u) % 1000u) / 1000.0f - 0.5f;
        memset(C, 0, sizeof(float) * (size_t)M * (size_t)N);
        job j = {0, N, K, A, B, NULL, NULL, NULL, NULL, NULL, C};
        rate[s] = rate_of(&j, seconds);
        memcpy(Cf, C, sizeof(float) * (size_t)M * (size_t)N);
        printf("sgemm %s  M %d x N %4d x K %4d: %7.1f GFLOP/s  (check %.3g)\n", shapes[s].name, M, N, K,
               rate[s], (double)C[(size_t)(M / 2) * (size_t)N + (size_t)(N / 2)]);
        /* |C - C_fp32| / sum_k |a b| over a sample of rows: bf16 rounding gives about 2^-8 */
        double sumab = 0;
        for (int k = 0; k < K; k++) sumab += fabs((double)A[(size_t)(M / 2) * K + k] * B[(size_t)(N / 2) * K + k]);
        if (sbgemm) {
            for (size_t i = 0; i < (size_t)M * (size_t)K; i++) Ah[i] = model_bf16_round(A[i]);
            for (size_t i = 0; i < (size_t)N * (size_t)K; i++) Bh[i] = model_bf16_round(B[i]);
            job js = {1, N, K, NULL, NULL, Ah, Bh, NULL, NULL, sbgemm, C};
            rate_sb[nsb++] = rate_of(&js, seconds);
            size_t at = (size_t)(M / 2) * (size_t)N + (size_t)(N / 2);
            printf("sbgemm %s (OpenBLAS):  %7.1f GFLOP/s  (|diff from fp32| / sum|ab| %.2g)\n", shapes[s].name,
                   rate_sb[nsb - 1], fabs((double)C[at] - Cf[at]) / sumab);
        }
        if (have_bf16) {
            model_bf16_matrix Bp;
            if (model_bf16_pack(&Bp, B, N, K, (size_t)K, 1)) {
                fprintf(stderr, "sgemm-bench: %s\n", util_last_message());
                return 1;
            }
            job jb = {2, N, K, A, NULL, NULL, NULL, &Bp, NULL, NULL, C};
            rate_bf[nbf++] = rate_of(&jb, seconds);
            size_t at = (size_t)(M / 2) * (size_t)N + (size_t)(N / 2);
            printf("bf16  %s (pangu-c):   %7.1f GFLOP/s  (|diff from fp32| / sum|ab| %.2g)\n", shapes[s].name,
                   rate_bf[nbf - 1], fabs((double)C[at] - Cf[at]) / sumab);
            model_bf16_matrix_free(&Bp);
        }
        if (have_f32 && measure_packed(&rate_f[nf++], MODEL_KERNEL_AVX512, "f32  ", s, A, B, C, Cf, sumab, seconds)) return 1;
        if (have_avx2 && measure_packed(&rate_a[na++], MODEL_KERNEL_AVX2, "avx2 ", s, A, B, C, Cf, sumab, seconds)) return 1;
        free(A);
        free(B);
        free(C);
        free(Cf);
        free(Ah);
        free(Bh);
    }
    double best, median = median_of(rate, NSHAPE, &best);
    if (sgemm_only) {
        printf("sgemm median %.1f GFLOP/s best %.1f GFLOP/s (%d threads)\n", median, best, threads);
        return 0;
    }
    print_median("sbgemm", rate_sb, sbgemm ? nsb : 0, threads,
                 "cblas_sbgemm is not exported by this OpenBLAS (built without BUILD_BFLOAT16)");
    print_median("bf16", rate_bf, have_bf16 ? nbf : 0, threads, "this CPU has no AVX512_BF16");
    if (have_bf16)
        printf("bf16 kernel: %s (amx tile path: %s)\n", model_bf16_amx() == MODEL_AMX_ON ? "AMX tiles" : "AVX512_BF16",
               model_bf16_amx_status());
    print_median("f32", rate_f, have_f32 ? nf : 0, threads, "this CPU has no AVX-512");
    print_median("avx2", rate_a, have_avx2 ? na : 0, threads, "this CPU has no AVX2 + FMA (or PANGU_NO_AVX2 is set)");
    printf("sgemm median %.1f GFLOP/s best %.1f GFLOP/s (%d threads)\n", median, best, threads);
    return 0;
}
