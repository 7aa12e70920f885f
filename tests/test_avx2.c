/* Suite "avx2": the AVX2 + FMA kernels (model/fast/avx2.c) against their plain
 * twins on odd shapes (rows not a multiple of the 6-row tile or of a block,
 * n not a multiple of the 16-column half panel or the 32-column panel,
 * accumulate, bias, fused GELU, fused LayerNorm add), the same bits as the
 * AVX-512 kernel where the CPU has both, results independent of the
 * blocking, the kernel choice (PANGU_NO_AVX512, PANGU_NO_AVX2), and the
 * whole step of every fixture model (formats 1 and 2, compact and full bias)
 * against the PyTorch reference under each kernel choice this CPU runs. On a
 * CPU without AVX2 the kernel tests print a note. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

static util_rng rng;

/* The environment of a kernel choice; restore() puts the caller's back. */
static char saved512[64], saved2[64];
static int had512, had2;
static void choose(int kernel) {
    const char *a = getenv("PANGU_NO_AVX512"), *b = getenv("PANGU_NO_AVX2");
    if ((had512 = a != NULL)) snprintf(saved512, sizeof saved512, "%s", a);
    if ((had2 = b != NULL)) snprintf(saved2, sizeof saved2, "%s", b);
    if (kernel == MODEL_KERNEL_AVX512) unsetenv("PANGU_NO_AVX512"), unsetenv("PANGU_NO_AVX2");
    else if (kernel == MODEL_KERNEL_AVX2) setenv("PANGU_NO_AVX512", "1", 1), unsetenv("PANGU_NO_AVX2");
    else setenv("PANGU_NO_AVX2", "1", 1);
}
static void restore(void) {
    if (had512) setenv("PANGU_NO_AVX512", saved512, 1);
    else unsetenv("PANGU_NO_AVX512");
    if (had2) setenv("PANGU_NO_AVX2", saved2, 1);
    else unsetenv("PANGU_NO_AVX2");
}

/* Whether this CPU runs `kernel` (asked with the environment cleared). */
static int cpu_runs(int kernel) {
    choose(MODEL_KERNEL_AVX512);
    int best = model_kernel();
    restore();
    return kernel == MODEL_KERNEL_BLAS || best >= kernel;
}

static int have_avx2(const char *test) {
    if (cpu_runs(MODEL_KERNEL_AVX2)) return 1;
    fprintf(stderr, "\n    note: %s skipped: this CPU has no AVX2 + FMA ", test);
    return 0;
}

static float *frand(size_t n, double sd) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)(sd * util_rng_normal(&rng));
    return p;
}

/* W packed for the AVX2 kernel. */
static void pack_avx2(model_f32_matrix *p, const float *w, int n, int k) {
    CU_ASSERT_FATAL(model_f32_pack_for(p, MODEL_KERNEL_AVX2, w, n, k, (size_t)k, 1) == 0);
    CU_ASSERT(p->kernel == MODEL_KERNEL_AVX2 && p->panels == (n + 15) / 16);
    /* the layout: panel p, input i, column j holds W[16p + j][i], zeros past n */
    int bad = 0;
    for (int pn = 0; pn < p->panels; pn++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < 16; j++) {
                int col = pn * 16 + j;
                float want = col < n ? w[(size_t)col * k + i] : 0.0f, got = p->data[((size_t)pn * k + i) * 16 + j];
                bad += memcmp(&want, &got, sizeof got) != 0;
            }
    CU_ASSERT(bad == 0);
}

/* out = [out] + [b] + x W^T against the reference GEMM and OpenBLAS, in units of
 * sum |x w|; the gaps between output rows untouched; the same bits through
 * model_f32_linear_forward, with another blocking, and (on AVX-512) from
 * the AVX-512 kernel. */
static void check_linear(int rows, int k, int n, int ldi_extra, int ldo_extra, int with_bias, int accumulate) {
    size_t ldi = (size_t)k + ldi_extra, ldo = (size_t)n + ldo_extra, len = (size_t)rows * ldo;
    float *x = frand((size_t)rows * ldi, 1.0), *w = frand((size_t)n * k, 0.05), *b = with_bias ? frand((size_t)n, 1.0) : NULL;
    float *y0 = frand(len, 1.0), *got = malloc(sizeof(float) * len), *want = malloc(sizeof(float) * len);
    float *again = malloc(sizeof(float) * len), *blas = malloc(sizeof(float) * (size_t)rows * n);
    memcpy(got, y0, sizeof(float) * len), memcpy(want, y0, sizeof(float) * len), memcpy(again, y0, sizeof(float) * len);
    model_f32_matrix p;
    pack_avx2(&p, w, n, k);
    model_avx2_linear_forward(got, ldo, x, ldi, &p, b, rows, accumulate);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 0);
    model_ref_gemm(want, ldo, x, ldi, &twin, b, rows, accumulate);
    if (!ldi_extra) model_linear_forward(blas, x, w, b, rows, k, n); /* contiguous rows only */
    double worst = 0, worst_blas = 0;
    int untouched = 1;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < (int)ldo; j++) {
            size_t at = (size_t)r * ldo + j;
            if (j >= n) {
                untouched &= memcmp(&got[at], &y0[at], sizeof(float)) == 0;
                continue;
            }
            double mag = (accumulate ? fabs(y0[at]) : 0) + (b ? fabs(b[j]) : 0);
            for (int i = 0; i < k; i++) mag += fabs((double)x[(size_t)r * ldi + i] * w[(size_t)j * k + i]);
            double e = isfinite(got[at]) ? fabs((double)got[at] - want[at]) / (mag + 1e-30) : INFINITY;
            worst = fmax(worst, e);
            if (!ldi_extra) {
                double bl = blas[(size_t)r * n + j] + (accumulate ? y0[at] : 0);
                worst_blas = fmax(worst_blas, fabs((double)got[at] - bl) / (mag + 1e-30));
            }
        }
    CU_ASSERT(untouched);
    CU_ASSERT(worst <= 2e-6);
    CU_ASSERT(worst_blas <= 2e-6);
    if (!(worst <= 2e-6) || !(worst_blas <= 2e-6) || !untouched)
        fprintf(stderr, "\n    rows %d k %d n %d bias %d acc %d: worst %.3g (OpenBLAS %.3g) of sum |x w|, gap %s", rows,
                k, n, with_bias, accumulate, worst, worst_blas, untouched ? "kept" : "WRITTEN");
    /* the dispatcher runs the AVX2 kernel for a matrix packed for it */
    model_f32_linear_forward(again, ldo, x, ldi, &p, b, rows, accumulate);
    CU_ASSERT(memcmp(again, got, sizeof(float) * len) == 0);
    /* another blocking (tiny blocks: many input and row blocks): the same bits */
    model_blocking old, tiny = {7, 40};
    model_blocking_get(MODEL_KERNEL_AVX2, &old);
    CU_ASSERT_FATAL(model_blocking_set(MODEL_KERNEL_AVX2, &tiny) == 0);
    memcpy(again, y0, sizeof(float) * len);
    model_avx2_linear_forward(again, ldo, x, ldi, &p, b, rows, accumulate);
    CU_ASSERT(memcmp(again, got, sizeof(float) * len) == 0);
    model_blocking_set(MODEL_KERNEL_AVX2, NULL);
    /* the AVX-512 kernel sums in the same order: the same bits */
    if (cpu_runs(MODEL_KERNEL_AVX512)) {
        model_f32_matrix q;
        CU_ASSERT_FATAL(model_f32_pack_for(&q, MODEL_KERNEL_AVX512, w, n, k, (size_t)k, 1) == 0);
        memcpy(again, y0, sizeof(float) * len);
        model_f32_linear_forward(again, ldo, x, ldi, &q, b, rows, accumulate);
        CU_ASSERT(memcmp(again, got, sizeof(float) * len) == 0);
        model_f32_matrix_free(&q);
    }
    model_f32_matrix_free(&p);
    free(x), free(w), free(b), free(y0), free(got), free(want), free(again), free(blas);
}

static void test_linear(void) {
    if (!have_avx2("AVX2 GEMM")) return;
    util_rng_seed(&rng, 21);
    /* the model's shapes, then edges: one row, rows past a 6-row tile and a
     * block, k past a block, n not a multiple of 8, 16 or 32 */
    check_linear(300, 192, 576, 0, 0, 1, 0);
    check_linear(131, 768, 192, 0, 0, 1, 0);
    check_linear(59, 1536, 384, 0, 0, 1, 0);
    check_linear(144, 32, 144, 0, 0, 0, 0);
    check_linear(1, 1, 1, 0, 0, 0, 0);
    check_linear(15, 7, 5, 3, 2, 1, 0);
    check_linear(113, 257, 33, 0, 0, 0, 0);
    check_linear(29, 513, 17, 5, 7, 1, 1);
    check_linear(7, 2, 48, 0, 0, 0, 1);
    check_linear(3, 777, 70, 1, 1, 1, 1);
    check_linear(13, 40, 24, 0, 3, 1, 1); /* n = 24: a full and a half-empty 16-column half */
    /* n mod 16 in 9..15: the second vector of a half partly stored */
    check_linear(19, 65, 45, 0, 0, 1, 0);
    check_linear(10, 300, 27, 2, 3, 1, 1);
    check_linear(6, 9, 9, 0, 1, 0, 1);
}

/* The scalar-reference GELU and LayerNorm against the AVX2 ones, with tails. */
static void test_elementwise(void) {
    if (!have_avx2("AVX2 GELU and LayerNorm")) return;
    util_rng_seed(&rng, 22);
    size_t lens[] = {1, 7, 8, 9, 100, 1537};
    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        size_t n = lens[t];
        float *x = frand(n + 1, 3.0), *want = malloc(sizeof(float) * (n + 1)), *got = malloc(sizeof(float) * (n + 1));
        got[n] = 12345.0f;
        model_gelu_forward(want, x, n);
        model_gelu_forward_avx2(got, x, n);
        double e = 0;
        for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i])));
        CU_ASSERT(e <= 1e-6);
        CU_ASSERT(got[n] == 12345.0f); /* nothing past n */
        if (!(e <= 1e-6)) fprintf(stderr, "\n    GELU n %zu: %.3g", n, e);
        if (cpu_runs(MODEL_KERNEL_AVX512)) {
            model_gelu_forward_avx512(want, x, n); /* the same polynomial, the same bits */
            CU_ASSERT(memcmp(want, got, sizeof(float) * n) == 0);
        }
        free(x), free(want), free(got);
    }
    const int widths[] = {1, 7, 8, 15, 192, 385, 1536};
    for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++) {
        int C = widths[t], rows = 5;
        float *x = frand((size_t)rows * C, 3.0), *w = frand((size_t)C, 1.0), *b = frand((size_t)C, 1.0);
        for (int i = 0; i < C; i++) x[i] += 1000.0f; /* a row far from zero mean */
        float *a = malloc(sizeof(float) * ((size_t)rows * C + 1)), *want = malloc(sizeof(float) * (size_t)rows * C);
        float *acc = frand((size_t)C + 1, 1.0), *acc2 = malloc(sizeof(float) * (size_t)C);
        memcpy(acc2, acc, sizeof(float) * (size_t)C);
        a[(size_t)rows * C] = 777.0f, acc[C] = 777.0f;
        model_layernorm_forward(want, x, w, b, rows, C);
        model_layernorm_forward_avx2(a, x, w, b, rows, C);
        double e = 0;
        for (size_t i = 0; i < (size_t)rows * C; i++) e = fmax(e, fabs((double)a[i] - want[i]) / (1.0 + fabs(want[i])));
        model_layernorm_add_avx2(acc, x + C, w, b, C);
        for (int i = 0; i < C; i++) e = fmax(e, fabs((double)acc[i] - (acc2[i] + want[C + i])) / (1.0 + fabs(acc2[i])));
        CU_ASSERT(e <= 1e-5);
        CU_ASSERT(a[(size_t)rows * C] == 777.0f && acc[C] == 777.0f);
        if (!(e <= 1e-5)) fprintf(stderr, "\n    LayerNorm C %d: worst %.3g", C, e);
        free(x), free(w), free(b), free(a), free(want), free(acc), free(acc2);
    }
}

/* Fused GELU and fused LayerNorm add: the same bits as the AVX2 GEMM then
 * the AVX2 elementwise function, close to the reference GEMM then the scalar one. */
static void check_fused(int rows, int k, int n) {
    size_t len = (size_t)rows * n;
    float *in = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.05), *b = frand((size_t)n, 1.0);
    float *nw = frand((size_t)n, 1.0), *nb = frand((size_t)n, 1.0), *x0 = frand(len, 1.0);
    float *fused = malloc(sizeof(float) * len), *split = malloc(sizeof(float) * len), *want = malloc(sizeof(float) * len);
    float *y = malloc(sizeof(float) * len), *yw = malloc(sizeof(float) * len);
    model_f32_matrix p;
    pack_avx2(&p, w, n, k);
    /* GELU */
    model_avx2_linear_gelu_forward(fused, (size_t)n, in, (size_t)k, &p, b, rows);
    model_avx2_linear_forward(split, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    model_gelu_forward_avx2(split, split, len);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 0);
    model_ref_gemm(want, (size_t)n, in, (size_t)k, &twin, b, rows, 0);
    model_gelu_forward(want, want, len);
    double worst = 0;
    for (size_t i = 0; i < len; i++) worst = fmax(worst, fabs((double)fused[i] - want[i]) / (1.0 + fabs(want[i])));
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    CU_ASSERT(worst <= 1e-5);
    if (!(worst <= 1e-5)) fprintf(stderr, "\n    rows %d k %d n %d: fused GELU off the twin by %.3g", rows, k, n, worst);
    model_f32_linear_gelu_forward(split, (size_t)n, in, (size_t)k, &p, b, rows); /* through the dispatcher */
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    /* LayerNorm add */
    memcpy(fused, x0, sizeof(float) * len), memcpy(split, x0, sizeof(float) * len);
    model_avx2_linear_norm_add_forward(fused, y, in, (size_t)k, &p, b, nw, nb, rows, NULL);
    model_avx2_linear_forward(yw, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    CU_ASSERT(memcmp(y, yw, sizeof(float) * len) == 0);
    for (int r = 0; r < rows; r++) model_layernorm_add_avx2(split + (size_t)r * n, yw + (size_t)r * n, nw, nb, n);
    model_ref_gemm(yw, (size_t)n, in, (size_t)k, &twin, b, rows, 0);
    model_layernorm_forward(yw, yw, nw, nb, rows, n);
    worst = 0;
    for (size_t i = 0; i < len; i++) {
        want[i] = x0[i] + yw[i];
        worst = fmax(worst, fabs((double)fused[i] - want[i]) / (1.0 + fabs(want[i])));
    }
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    CU_ASSERT(worst <= 1e-5);
    if (!(worst <= 1e-5)) fprintf(stderr, "\n    rows %d k %d n %d: fused norm-add off the twin by %.3g", rows, k, n, worst);
    memcpy(split, x0, sizeof(float) * len);
    model_f32_linear_norm_add_forward(split, yw, in, (size_t)k, &p, b, nw, nb, rows, NULL);
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    /* the attention projection's form: row r added to token tok[r], none where tok[r] < 0 */
    long *tok = malloc(sizeof(long) * (size_t)rows);
    for (int r = 0; r < rows; r++) tok[r] = r % 3 == 1 ? -1 : rows - 1 - r;
    memcpy(fused, x0, sizeof(float) * len), memcpy(split, x0, sizeof(float) * len);
    model_f32_linear_norm_add_forward(fused, y, in, (size_t)k, &p, b, nw, nb, rows, tok);
    model_avx2_linear_forward(yw, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    for (int r = 0; r < rows; r++)
        if (tok[r] >= 0) model_layernorm_add_avx2(split + (size_t)tok[r] * n, yw + (size_t)r * n, nw, nb, n);
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    free(tok);
    model_f32_matrix_free(&p);
    free(in), free(w), free(b), free(nw), free(nb), free(x0), free(fused), free(split), free(want), free(y), free(yw);
}

static void test_fused(void) {
    if (!have_avx2("AVX2 fused GEMMs")) return;
    util_rng_seed(&rng, 23);
    check_fused(300, 192, 768);
    check_fused(131, 768, 192); /* fc2: several input blocks, then the norm */
    check_fused(1, 5, 7);
    check_fused(17, 300, 40);
    check_fused(8, 33, 200);
    check_fused(11, 20, 45); /* n mod 16 = 13 */
}

/* model_avx2_window_attention against model_window_attention (OpenBLAS,
 * glibc's expf); outputs are averages of v (|v| ~ 1), errors absolute. */
static void check_attention(const int window[3], int C, int heads, int nW, int masked) {
    int N = window[0] * window[1] * window[2], d = C / heads, rows = nW * N;
    float *qkv = frand((size_t)rows * 3 * C, 1.0), *bias = frand((size_t)heads * N * N, 0.5);
    float *want = malloc(sizeof(float) * (size_t)rows * C), *got = malloc(sizeof(float) * (size_t)rows * C);
    float *sc = malloc(sizeof(float) * (size_t)N * N), *packs = malloc(sizeof(float) * model_f32_attention_floats(N, d));
    int *lab = malloc(sizeof(int) * (size_t)N);
    for (int i = 0; i < N; i++) lab[i] = (i * 7 / N) % 3; /* three regions */
    const int *labels = masked ? lab : NULL;
    model_window_attention(want, qkv, bias, labels, nW, N, C, heads, sc);
    model_avx2_window_attention(got, qkv, bias, labels, nW, N, C, heads, sc, packs);
    double e = 0;
    for (size_t i = 0; i < (size_t)rows * C; i++) e = fmax(e, isfinite(got[i]) ? fabs((double)got[i] - want[i]) : INFINITY);
    CU_ASSERT(e <= 1e-5);
    if (!(e <= 1e-5) || getenv("PANGU_TEST_VERBOSE"))
        fprintf(stderr, "\n    window %dx%dx%d C %d heads %d%s: |AVX2 - OpenBLAS| %.2g", window[0], window[1], window[2], C,
                heads, masked ? " masked" : "", e);
    free(qkv), free(bias), free(want), free(got), free(sc), free(packs), free(lab);
}

static void test_attention(void) {
    if (!have_avx2("AVX2 attention")) return;
    util_rng_seed(&rng, 24);
    check_attention((const int[3]){2, 6, 12}, 192, 6, 2, 0); /* the full model's window, heads of 32 */
    check_attention((const int[3]){2, 6, 12}, 384, 12, 1, 1);
    check_attention((const int[3]){2, 3, 6}, 16, 2, 3, 1); /* the tiny preset's */
    check_attention((const int[3]){1, 3, 5}, 15, 3, 2, 1); /* odd N = 15, d = 5 */
    check_attention((const int[3]){1, 1, 7}, 21, 1, 2, 1); /* N = 7 < one vector, d = 21 */
    check_attention((const int[3]){2, 4, 9}, 96, 1, 1, 0); /* d = 96: three value panels */
}

/* The choice: the environment variables step down avx512 -> avx2 -> blas;
 * BF16 goes with AVX-512; model_set_precision packs for the chosen kernel. */
static void test_choice(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.h5", tests_fixture_dir());
    model m;
    CU_ASSERT_FATAL(model_load(&m, path) == 0);
    choose(MODEL_KERNEL_BLAS);
    CU_ASSERT(model_kernel() == MODEL_KERNEL_BLAS && !model_f32_available() && !model_bf16_available());
    CU_ASSERT(model_set_precision(&m, MODEL_FP32) == 0 && m.f32 == NULL && m.blocks[0][0].qkv_f == NULL);
    restore();
    if (cpu_runs(MODEL_KERNEL_AVX2)) {
        choose(MODEL_KERNEL_AVX2);
        CU_ASSERT(model_kernel() == MODEL_KERNEL_AVX2 && model_f32_available() && !model_bf16_available());
        CU_ASSERT(model_set_precision(&m, MODEL_FP32) == 0);
        CU_ASSERT(m.f32 != NULL && m.blocks[0][0].qkv_f && m.blocks[0][0].qkv_f->kernel == MODEL_KERNEL_AVX2);
        CU_ASSERT(m.embed_f && m.embed_f->kernel == MODEL_KERNEL_AVX2 && m.rec_sf[1]->kernel == MODEL_KERNEL_AVX2);
        CU_ASSERT(model_set_precision(&m, MODEL_BF16) == UTIL_EINVAL); /* as a CPU without AVX-512 */
        restore();
    }
    if (cpu_runs(MODEL_KERNEL_AVX512)) {
        choose(MODEL_KERNEL_AVX512);
        CU_ASSERT(model_kernel() == MODEL_KERNEL_AVX512);
        CU_ASSERT(model_set_precision(&m, MODEL_FP32) == 0 && m.blocks[3][1].fc2_f->kernel == MODEL_KERNEL_AVX512);
        restore();
    }
    CU_ASSERT(strcmp(model_kernel_name(MODEL_KERNEL_AVX2), "avx2") == 0);
    CU_ASSERT(strcmp(model_kernel_name(MODEL_KERNEL_AVX512), "avx512") == 0);
    CU_ASSERT(strcmp(model_kernel_name(MODEL_KERNEL_BLAS), "blas") == 0);
    model_free(&m);
}

/* Largest |step - reference| in units of each variable's normalisation std. */
static double step_error(const char *name) {
    char mpath[512], ipath[512], opath[512];
    snprintf(mpath, sizeof mpath, "%s/%s.h5", tests_fixture_dir(), name);
    snprintf(ipath, sizeof ipath, "%s/%s_in.nc", tests_fixture_dir(), name);
    snprintf(opath, sizeof opath, "%s/%s_out.nc", tests_fixture_dir(), name);
    const char *ip = ipath, *op = opath;
    model m;
    io_state in, ref, out;
    CU_ASSERT_FATAL(model_load(&m, mpath) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_read(&ref, &op, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&out, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
    int kern = model_kernel();
    CU_ASSERT((m.f32 != NULL) == (kern != MODEL_KERNEL_BLAS));
    if (m.f32) CU_ASSERT(m.blocks[0][0].qkv_f->kernel == kern);
    CU_ASSERT_FATAL(model_step(&m, out.upper, out.surface, in.upper, in.surface) == 0);
    size_t HW = (size_t)c->H * c->W;
    double worst = 0, moved = 0;
    for (int s = 0; s < MODEL_NUPPER * c->nlev; s++)
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(out.upper[s * HW + i] - ref.upper[s * HW + i]) / m.upper_std[s];
            if (!(e <= worst)) worst = e; /* NaN wins */
        }
    for (int v = 0; v < MODEL_NSURFACE; v++)
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(out.surface[v * HW + i] - ref.surface[v * HW + i]) / m.surface_std[v];
            if (!(e <= worst)) worst = e;
        }
    for (size_t i = 0; i < HW; i++) moved += fabs(ref.surface[i] - in.surface[i]);
    CU_ASSERT(moved > 0); /* a step that copied its input would pass on the tolerance alone */
    io_state_free(&in), io_state_free(&ref), io_state_free(&out);
    model_free(&m);
    return worst;
}

/* format 1 (tiny, small, custom) and format 2, the released variant
 * (official: compact bias; official_full: the full (types, heads, N, N) bias) */
static void test_steps(void) {
    const char *names[] = {"tiny", "small", "custom", "official", "official_full"};
    const int kernels[] = {MODEL_KERNEL_AVX512, MODEL_KERNEL_AVX2, MODEL_KERNEL_BLAS};
    for (int k = 0; k < 3; k++) {
        if (!cpu_runs(kernels[k])) {
            fprintf(stderr, "\n    note: steps with %s skipped: not on this CPU ", model_kernel_name(kernels[k]));
            continue;
        }
        choose(kernels[k]);
        CU_ASSERT(model_kernel() == kernels[k]);
        for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
            double e = step_error(names[f]);
            CU_ASSERT(e <= 1e-4);
            if (!(e <= 1e-4) || getenv("PANGU_TEST_VERBOSE"))
                fprintf(stderr, "\n    %s (%s): max error %.3g std", names[f], model_kernel_name(kernels[k]), e);
        }
        restore();
    }
}

/* Two blockings of the whole step: the same values (within 1e-6 relative;
 * in fact the same bits, the sums' order does not depend on them). */
static void test_blocking_step(void) {
    if (!have_avx2("blocking of the step")) return;
    char mpath[512], ipath[512];
    snprintf(mpath, sizeof mpath, "%s/custom.h5", tests_fixture_dir());
    snprintf(ipath, sizeof ipath, "%s/custom_in.nc", tests_fixture_dir());
    const char *ip = ipath;
    model m;
    io_state in, a, b;
    CU_ASSERT_FATAL(model_load(&m, mpath) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&a, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&b, c->H, c->W, c->levels, c->nlev, &in) == 0);
    size_t n = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W;
    const int kernels[] = {MODEL_KERNEL_AVX512, MODEL_KERNEL_AVX2};
    for (int k = 0; k < 2; k++) {
        if (!cpu_runs(kernels[k])) continue;
        choose(kernels[k]);
        CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
        model_blocking one = {12, 32}, two = {600, 512};
        CU_ASSERT_FATAL(model_blocking_set(kernels[k], &one) == 0);
        CU_ASSERT_FATAL(model_step(&m, a.upper, a.surface, in.upper, in.surface) == 0);
        CU_ASSERT_FATAL(model_blocking_set(kernels[k], &two) == 0);
        CU_ASSERT_FATAL(model_step(&m, b.upper, b.surface, in.upper, in.surface) == 0);
        model_blocking_set(kernels[k], NULL);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double e = fabs((double)a.upper[i] - b.upper[i]) / (fabs((double)a.upper[i]) + 1e-30);
            if (!(e <= worst)) worst = e;
        }
        CU_ASSERT(worst <= 1e-6);
        if (!(worst <= 1e-6)) fprintf(stderr, "\n    %s: blockings differ by %.3g", model_kernel_name(kernels[k]), worst);
        restore();
    }
    model_blocking bad = {0, 64};
    CU_ASSERT(model_blocking_set(MODEL_KERNEL_AVX2, &bad) == UTIL_EINVAL);
    bad.mc = 64, bad.kc = MODEL_KC_MAX + 1;
    CU_ASSERT(model_blocking_set(MODEL_KERNEL_AVX2, &bad) == UTIL_EINVAL);
    io_state_free(&in), io_state_free(&a), io_state_free(&b);
    model_free(&m);
}

int tests_register_avx2(void) {
    CU_pSuite s = CU_add_suite("avx2", NULL, NULL);
    if (!s) return -1;
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"AVX2 GEMM against the reference GEMM and OpenBLAS, any blocking", test_linear},
        {"AVX2 GELU and LayerNorm against the scalar ones", test_elementwise},
        {"AVX2 GEMM with fused GELU and fused LayerNorm add", test_fused},
        {"AVX2 window attention against model_window_attention", test_attention},
        {"kernel choice: avx512, avx2 (PANGU_NO_AVX512), blas (PANGU_NO_AVX2)", test_choice},
        {"whole step of every fixture under each kernel choice", test_steps},
        {"whole step under two blockings", test_blocking_step},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
