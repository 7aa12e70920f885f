/* Suite "f32": the packed FP32 AVX-512 kernels (model/fast/avx512.c) against their
 * plain twins: the GEMM against the one reference GEMM (its bits) and OpenBLAS, the
 * packed layout against its definition, window attention against
 * model_window_attention, LayerNorm and GELU against the scalar ones, and the
 * switch between packed and OpenBLAS FP32 (PANGU_NO_AVX2 stands in for a
 * CPU without AVX2 or AVX-512; the AVX2 kernels: the avx2 suite). Whole packed steps against the PyTorch fixtures are
 * in the "model" suite. On a CPU without AVX-512 the kernel tests print a
 * note and only the fallback is checked. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

static util_rng rng;

static int have_avx512(const char *test) {
    if (model_kernel() == MODEL_KERNEL_AVX512) return 1;
    fprintf(stderr, "\n    note: %s skipped: this CPU has no AVX-512 ", test);
    return 0;
}

static float *frand(size_t n, double sd) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)(sd * util_rng_normal(&rng));
    return p;
}

/* The packed layout, element by element: panel p, input i, column j holds
 * W[32p + j][i], zeros past n; strides (sn, sk) as documented. */
static void test_pack_layout(void) {
    util_rng_seed(&rng, 3);
    int n = 37, k = 5;
    float *w = frand((size_t)n * k, 1.0), *wt = malloc(sizeof(float) * (size_t)n * k);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < k; i++) wt[(size_t)i * n + j] = w[(size_t)j * k + i];
    model_f32_matrix p, q;
    CU_ASSERT_FATAL(model_f32_pack_for(&p, MODEL_KERNEL_AVX512, w, n, k, (size_t)k, 1) == 0);
    CU_ASSERT_FATAL(model_f32_pack_for(&q, MODEL_KERNEL_AVX512, wt, n, k, 1, (size_t)n) == 0); /* the transpose, read with swapped strides */
    CU_ASSERT(p.n == n && p.k == k && p.panels == 2);
    CU_ASSERT(model_f32_packed_floats(n, k) == 2 * 32 * (size_t)k);
    CU_ASSERT(((uintptr_t)p.data & 63) == 0);
    int bad = 0;
    for (int pn = 0; pn < 2; pn++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < 32; j++) {
                int col = pn * 32 + j;
                float want = col < n ? w[(size_t)col * k + i] : 0.0f, got = p.data[((size_t)pn * k + i) * 32 + j];
                bad += memcmp(&want, &got, sizeof got) != 0;
                bad += memcmp(&got, &q.data[((size_t)pn * k + i) * 32 + j], sizeof got) != 0;
            }
    CU_ASSERT(bad == 0);
    CU_ASSERT(model_f32_pack(&q, w, 0, k, (size_t)k, 1) == UTIL_EINVAL);
    model_f32_matrix_free(&p);
    free(w), free(wt);
}

/* out = [out] + [b] + x W^T against the reference GEMM (and OpenBLAS for plain
 * shapes), in units of sum |x w|; the gaps between output rows untouched. */
static void check_linear(int rows, int k, int n, int ldi_extra, int ldo_extra, int with_bias, int accumulate) {
    size_t ldi = (size_t)k + ldi_extra, ldo = (size_t)n + ldo_extra;
    float *x = frand((size_t)rows * ldi, 1.0), *w = frand((size_t)n * k, 0.05), *b = with_bias ? frand((size_t)n, 1.0) : NULL;
    float *y0 = frand((size_t)rows * ldo, 1.0), *got = malloc(sizeof(float) * (size_t)rows * ldo);
    float *want = malloc(sizeof(float) * (size_t)rows * ldo), *blas = malloc(sizeof(float) * (size_t)rows * n);
    memcpy(got, y0, sizeof(float) * (size_t)rows * ldo);
    memcpy(want, y0, sizeof(float) * (size_t)rows * ldo);
    model_f32_matrix p;
    CU_ASSERT_FATAL(model_f32_pack(&p, w, n, k, (size_t)k, 1) == 0);
    model_f32_linear_forward(got, ldo, x, ldi, &p, b, rows, accumulate);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 0);
    model_ref_gemm(want, ldo, x, ldi, &twin, b, rows, accumulate);
    int plain = !ldi_extra && !ldo_extra && !accumulate;
    if (plain) model_linear_forward(blas, x, w, b, rows, k, n);
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
            if (plain) worst_blas = fmax(worst_blas, fabs((double)got[at] - blas[(size_t)r * n + j]) / (mag + 1e-30));
        }
    /* float sums of k products: a few ulp of sum |x w| (1e-6 at k = 1536) */
    CU_ASSERT(untouched);
    CU_ASSERT(worst <= 2e-6);
    CU_ASSERT(worst_blas <= 2e-6);
    if (!(worst <= 2e-6) || !(worst_blas <= 2e-6) || !untouched)
        fprintf(stderr, "\n    rows %d k %d n %d bias %d acc %d: worst %.3g (OpenBLAS %.3g) of sum |x w|, gap %s", rows,
                k, n, with_bias, accumulate, worst, worst_blas, untouched ? "kept" : "WRITTEN");
    model_f32_matrix_free(&p);
    free(x), free(w), free(b), free(y0), free(got), free(want), free(blas);
}

static void test_linear_kernel(void) {
    if (!have_avx512("FP32 kernel vs twin")) return;
    util_rng_seed(&rng, 5);
    /* the model's shapes, then edges: one row, rows past a 12-row (and the
     * BF16 kernel's 14-row) tile and a 112-row block, k past a 256-input
     * block, n not a multiple of 16 or 32 */
    check_linear(300, 192, 576, 0, 0, 1, 0);
    check_linear(130, 768, 192, 0, 0, 1, 0);
    check_linear(57, 1536, 384, 0, 0, 1, 0);
    check_linear(144, 32, 144, 0, 0, 0, 0);
    check_linear(1, 1, 1, 0, 0, 0, 0);
    check_linear(15, 7, 5, 3, 2, 1, 0);
    check_linear(113, 257, 33, 0, 0, 0, 0);
    check_linear(29, 513, 17, 5, 7, 1, 1);
    check_linear(14, 2, 48, 0, 0, 0, 1);
    check_linear(25, 40, 64, 0, 0, 1, 0);
    check_linear(3, 777, 70, 1, 1, 1, 1);
}

/* The MLP's first layer with GELU fused: the same bits as the GEMM then the
 * AVX-512 GELU, and close to the double GEMM twin then the scalar GELU. */
static void check_linear_gelu(int rows, int k, int n) {
    float *x = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.1), *b = frand((size_t)n, 1.0);
    size_t len = (size_t)rows * n;
    float *fused = malloc(sizeof(float) * len), *split = malloc(sizeof(float) * len), *want = malloc(sizeof(float) * len);
    model_f32_matrix p;
    CU_ASSERT_FATAL(model_f32_pack(&p, w, n, k, (size_t)k, 1) == 0);
    model_f32_linear_gelu_forward(fused, (size_t)n, x, (size_t)k, &p, b, rows);
    model_f32_linear_forward(split, (size_t)n, x, (size_t)k, &p, b, rows, 0);
    model_gelu_forward_avx512(split, split, len);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 0);
    model_ref_gemm(want, (size_t)n, x, (size_t)k, &twin, b, rows, 0);
    model_gelu_forward(want, want, len);
    double worst = 0;
    for (size_t i = 0; i < len; i++) worst = fmax(worst, fabs((double)fused[i] - want[i]) / (1.0 + fabs(want[i])));
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    CU_ASSERT(worst <= 1e-5);
    if (!(worst <= 1e-5)) fprintf(stderr, "\n    rows %d k %d n %d: fused GELU off the twin by %.3g", rows, k, n, worst);
    model_f32_matrix_free(&p);
    free(x), free(w), free(b), free(fused), free(split), free(want);
}

static void test_linear_gelu(void) {
    if (!have_avx512("fused GELU")) return;
    util_rng_seed(&rng, 9);
    check_linear_gelu(300, 192, 768); /* the 1C layers' fc1, rows past a 112-row block and a tile */
    check_linear_gelu(130, 384, 1536); /* 2C: two input blocks, GELU after the second */
    check_linear_gelu(1, 5, 7);
    check_linear_gelu(15, 300, 40);
}

/* The MLP's second layer with the post-norm residual add fused: x gets the
 * same bits as the GEMM then model_layernorm_add_avx512 row by row, and
 * stays close to the reference GEMM then the scalar LayerNorm. */
static void check_linear_norm_add(int rows, int k, int n) {
    float *in = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.05), *b = frand((size_t)n, 1.0);
    float *nw = frand((size_t)n, 1.0), *nb = frand((size_t)n, 1.0), *x0 = frand((size_t)rows * n, 1.0);
    size_t len = (size_t)rows * n;
    float *fused = malloc(sizeof(float) * len), *split = malloc(sizeof(float) * len), *want = malloc(sizeof(float) * len);
    float *y = malloc(sizeof(float) * len), *yw = malloc(sizeof(float) * len);
    memcpy(fused, x0, sizeof(float) * len), memcpy(split, x0, sizeof(float) * len);
    model_f32_matrix p;
    CU_ASSERT_FATAL(model_f32_pack(&p, w, n, k, (size_t)k, 1) == 0);
    model_f32_linear_norm_add_forward(fused, y, in, (size_t)k, &p, b, nw, nb, rows, NULL);
    model_f32_linear_forward(yw, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    for (int r = 0; r < rows; r++) model_layernorm_add_avx512(split + (size_t)r * n, yw + (size_t)r * n, nw, nb, n);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 0);
    model_ref_gemm(yw, (size_t)n, in, (size_t)k, &twin, b, rows, 0);
    model_layernorm_forward(yw, yw, nw, nb, rows, n);
    double worst = 0;
    for (size_t i = 0; i < len; i++) {
        want[i] = x0[i] + yw[i];
        worst = fmax(worst, fabs((double)fused[i] - want[i]) / (1.0 + fabs(want[i])));
    }
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    CU_ASSERT(worst <= 1e-5);
    if (!(worst <= 1e-5)) fprintf(stderr, "\n    rows %d k %d n %d: fused norm-add off the twin by %.3g", rows, k, n, worst);
    /* the attention projection's form: row r added to token tok[r], none where tok[r] < 0 */
    long *tok = malloc(sizeof(long) * (size_t)rows);
    for (int r = 0; r < rows; r++) tok[r] = r % 3 == 1 ? -1 : rows - 1 - r;
    memcpy(fused, x0, sizeof(float) * len), memcpy(split, x0, sizeof(float) * len);
    model_f32_linear_norm_add_forward(fused, y, in, (size_t)k, &p, b, nw, nb, rows, tok);
    model_f32_linear_forward(yw, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    for (int r = 0; r < rows; r++)
        if (tok[r] >= 0) model_layernorm_add_avx512(split + (size_t)tok[r] * n, yw + (size_t)r * n, nw, nb, n);
    CU_ASSERT(memcmp(fused, split, sizeof(float) * len) == 0);
    free(tok);
    model_f32_matrix_free(&p);
    free(in), free(w), free(b), free(nw), free(nb), free(x0), free(fused), free(split), free(want), free(y), free(yw);
}

static void test_linear_norm_add(void) {
    if (!have_avx512("fused LayerNorm add")) return;
    util_rng_seed(&rng, 10);
    check_linear_norm_add(300, 768, 192);  /* the 1C layers' fc2: three input blocks, rows past a block */
    check_linear_norm_add(130, 1536, 384); /* 2C */
    check_linear_norm_add(1, 5, 16);
    check_linear_norm_add(15, 300, 40);
}

/* model_f32_window_attention against model_window_attention (OpenBLAS and
 * glibc's expf): outputs are averages of v (|v| ~ 1), errors absolute. */
/* A matrix packed under the blas choice (any CPU): the fused norm-add runs
 * the scalar loop and model_layernorm_add, with no scratch of its own; x
 * gets the same bits as model_layernorm_forward then the add, y the GEMM. */
static void test_linear_norm_add_plain(void) {
    util_rng_seed(&rng, 12);
    int rows = 7, k = 33, n = 40;
    size_t len = (size_t)rows * n;
    float *in = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.05), *b = frand((size_t)n, 1.0);
    float *nw = frand((size_t)n, 1.0), *nb = frand((size_t)n, 1.0), *x = frand(len, 1.0);
    float *want = malloc(sizeof(float) * len), *y = malloc(sizeof(float) * len), *yw = malloc(sizeof(float) * len);
    float *t = malloc(sizeof(float) * (size_t)n);
    memcpy(want, x, sizeof(float) * len);
    model_f32_matrix p;
    CU_ASSERT_FATAL(model_f32_pack_for(&p, MODEL_KERNEL_BLAS, w, n, k, (size_t)k, 1) == 0);
    model_f32_linear_norm_add_forward(x, y, in, (size_t)k, &p, b, nw, nb, rows, NULL);
    model_f32_linear_forward(yw, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    CU_ASSERT(memcmp(y, yw, sizeof(float) * len) == 0);
    for (int r = 0; r < rows; r++) {
        model_layernorm_forward(t, yw + (size_t)r * n, nw, nb, 1, n);
        for (int i = 0; i < n; i++) want[(size_t)r * n + i] += t[i];
    }
    CU_ASSERT(memcmp(x, want, sizeof(float) * len) == 0);
    model_f32_matrix_free(&p);
    free(in), free(w), free(b), free(nw), free(nb), free(x), free(want), free(y), free(yw), free(t);
}

static void check_attention(const int window[3], int C, int heads, int nW, int masked) {
    int N = window[0] * window[1] * window[2], d = C / heads, rows = nW * N;
    float *qkv = frand((size_t)rows * 3 * C, 1.0), *bias = frand((size_t)heads * N * N, 0.5);
    float *want = malloc(sizeof(float) * (size_t)rows * C), *got = malloc(sizeof(float) * (size_t)rows * C);
    float *sc = malloc(sizeof(float) * (size_t)N * N), *packs = malloc(sizeof(float) * model_f32_attention_floats(N, d));
    int *lab = malloc(sizeof(int) * (size_t)N);
    for (int i = 0; i < N; i++) lab[i] = (i * 7 / N) % 3; /* three regions */
    const int *labels = masked ? lab : NULL;
    model_window_attention(want, qkv, bias, labels, nW, N, C, heads, sc);
    model_f32_window_attention(got, qkv, bias, labels, nW, N, C, heads, sc, packs);
    double e = 0;
    for (size_t i = 0; i < (size_t)rows * C; i++) e = fmax(e, isfinite(got[i]) ? fabs((double)got[i] - want[i]) : INFINITY);
    CU_ASSERT(e <= 1e-5);
    if (!(e <= 1e-5) || getenv("PANGU_TEST_VERBOSE"))
        fprintf(stderr, "\n    window %dx%dx%d C %d heads %d%s: |packed - OpenBLAS| %.2g", window[0], window[1], window[2],
                C, heads, masked ? " masked" : "", e);
    free(qkv), free(bias), free(want), free(got), free(sc), free(packs), free(lab);
}

static void test_attention(void) {
    if (!have_avx512("FP32 attention")) return;
    util_rng_seed(&rng, 13);
    check_attention((const int[3]){2, 6, 12}, 192, 6, 2, 0); /* the full model's window, heads of 32 */
    check_attention((const int[3]){2, 6, 12}, 384, 12, 1, 1);
    check_attention((const int[3]){2, 3, 6}, 16, 2, 3, 1);   /* the tiny preset's */
    check_attention((const int[3]){1, 3, 5}, 15, 3, 2, 1);   /* odd N = 15 and odd d = 5 */
    check_attention((const int[3]){2, 4, 9}, 96, 1, 1, 0);   /* d = 96: three value panels */
}

static void test_layernorm(void) {
    if (!have_avx512("AVX-512 LayerNorm")) return;
    util_rng_seed(&rng, 17);
    const int widths[] = {1, 15, 16, 24, 192, 385, 1536};
    for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++) {
        int C = widths[t], rows = 7;
        float *x = frand((size_t)rows * C, 3.0), *w = frand((size_t)C, 1.0), *b = frand((size_t)C, 1.0);
        for (int i = 0; i < C; i++) x[i] += 1000.0f; /* a row far from zero mean */
        float *a = malloc(sizeof(float) * (size_t)rows * C), *want = malloc(sizeof(float) * (size_t)rows * C);
        float *acc = frand((size_t)C, 1.0), *acc2 = malloc(sizeof(float) * (size_t)C);
        memcpy(acc2, acc, sizeof(float) * (size_t)C);
        model_layernorm_forward(want, x, w, b, rows, C);
        model_layernorm_forward_avx512(a, x, w, b, rows, C);
        double e = 0;
        for (size_t i = 0; i < (size_t)rows * C; i++)
            e = fmax(e, fabs((double)a[i] - want[i]) / (1.0 + fabs(want[i])));
        /* x += LN(y) for one row */
        model_layernorm_add_avx512(acc, x + C, w, b, C);
        for (int i = 0; i < C; i++) e = fmax(e, fabs((double)acc[i] - (acc2[i] + want[C + i])) / (1.0 + fabs(acc2[i])));
        /* in place */
        model_layernorm_forward_avx512(x, x, w, b, rows, C);
        for (size_t i = 0; i < (size_t)rows * C; i++) e = fmax(e, fabs((double)x[i] - a[i]));
        /* single-precision sums against double ones: 1e-6 of the normalised
         * value at 1e3 +- 3 (mean removed in the second pass) */
        CU_ASSERT(e <= 1e-5);
        if (!(e <= 1e-5)) fprintf(stderr, "\n    LayerNorm C %d: worst %.3g", C, e);
        free(x), free(w), free(b), free(a), free(want), free(acc), free(acc2);
    }
}

/* PANGU_NO_AVX2 (the blas choice): nothing is packed, FP32 runs on
 * OpenBLAS; without it (on AVX-512) every linear layer is packed; bf16 and
 * back drops them. PANGU_NO_AVX512 alone: the avx2 suite. */
static void test_switch(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.h5", tests_fixture_dir());
    model m;
    CU_ASSERT_FATAL(model_load(&m, path) == 0);
    CU_ASSERT(m.f32 == NULL && m.precision == MODEL_FP32); /* as loaded: nothing packed */
    const char *old = getenv("PANGU_NO_AVX2");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("PANGU_NO_AVX2", "1", 1);
    CU_ASSERT(model_f32_available() == 0);
    CU_ASSERT(model_set_precision(&m, MODEL_FP32) == 0);
    CU_ASSERT(m.f32 == NULL && m.blocks[0][0].qkv_f == NULL && m.embed_f == NULL);
    if (old) setenv("PANGU_NO_AVX2", saved, 1);
    else unsetenv("PANGU_NO_AVX2");
    if (model_f32_available()) {
        CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
        int blocks = 0;
        for (int l = 0; l < 4; l++) blocks += m.cfg.depths[l];
        CU_ASSERT(m.nf32 == 4 * blocks + 9);
        int all = m.embed_f && m.embed_sf && m.down_f && m.up1_f && m.up2_f && m.rec_f[0] && m.rec_f[1] && m.rec_sf[0] &&
                  m.rec_sf[1];
        for (int l = 0; l < 4; l++)
            for (int d = 0; d < m.cfg.depths[l]; d++) {
                const model_block *k = &m.blocks[l][d];
                all &= k->qkv_f && k->proj_f && k->fc1_f && k->fc2_f && !k->qkv_h;
            }
        CU_ASSERT(all);
        CU_ASSERT(m.blocks[0][0].qkv_f->n == 3 * m.cfg.dim && m.blocks[0][0].qkv_f->k == m.cfg.dim);
        if (model_bf16_available()) {
            CU_ASSERT_FATAL(model_set_precision(&m, MODEL_BF16) == 0);
            CU_ASSERT(m.f32 == NULL && m.nf32 == 0 && m.embed_f == NULL && m.blocks[1][0].fc2_f == NULL);
        }
    }
    model_free(&m);
}

/* The one reference GEMM (model_ref_gemm) sums in the packed kernels' order:
 * the AVX-512 and AVX2 kernels give its bits exactly (bias, accumulation,
 * two input blocks, edge tiles), and it reads W alike plain, transposed or
 * packed (FP32 panels of either width; BF16 pairs against bf16 operands). */
static void test_reference_gemm(void) {
    util_rng_seed(&rng, 11);
    int rows = 29, k = 301, n = 45;
    size_t len = (size_t)rows * n;
    float *x = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.05), *b = frand((size_t)n, 1.0);
    float *y0 = frand(len, 1.0), *want = malloc(sizeof(float) * len), *got = malloc(sizeof(float) * len);
    float *wt = malloc(sizeof(float) * (size_t)n * k);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < k; i++) wt[(size_t)i * n + j] = w[(size_t)j * k + i];
    model_ref_matrix plain = model_ref_plain(w, n, k, (size_t)k, 1, 0), trans = model_ref_plain(wt, n, k, 1, (size_t)n, 0);
    const int kernels[] = {MODEL_KERNEL_AVX512, MODEL_KERNEL_AVX2};
    for (int acc = 0; acc < 2; acc++) {
        memcpy(want, y0, sizeof(float) * len), memcpy(got, y0, sizeof(float) * len);
        model_ref_gemm(want, (size_t)n, x, (size_t)k, &plain, b, rows, acc);
        model_ref_gemm(got, (size_t)n, x, (size_t)k, &trans, b, rows, acc);
        CU_ASSERT(memcmp(got, want, sizeof(float) * len) == 0);
        for (int i = 0; i < 2; i++) {
            model_f32_matrix p;
            CU_ASSERT_FATAL(model_f32_pack_for(&p, kernels[i], w, n, k, (size_t)k, 1) == 0);
            model_ref_matrix packed = model_ref_f32(&p);
            memcpy(got, y0, sizeof(float) * len);
            model_ref_gemm(got, (size_t)n, x, (size_t)k, &packed, b, rows, acc);
            CU_ASSERT(memcmp(got, want, sizeof(float) * len) == 0);
            if (model_kernel() >= kernels[i]) { /* the kernel itself, through the table */
                model_weight handle = {.n = n, .k = k, .f32 = &p};
                memcpy(got, y0, sizeof(float) * len);
                model_ops_for(kernels[i])->linear(got, (size_t)n, x, (size_t)k, &handle, b, rows, acc);
                CU_ASSERT(memcmp(got, want, sizeof(float) * len) == 0);
            }
            model_f32_matrix_free(&p);
        }
        model_bf16_matrix h;
        CU_ASSERT_FATAL(model_bf16_pack(&h, w, n, k, (size_t)k, 1) == 0);
        model_ref_matrix rounded = model_ref_plain(w, n, k, (size_t)k, 1, 1), pairs = model_ref_bf16(&h);
        memcpy(want, y0, sizeof(float) * len), memcpy(got, y0, sizeof(float) * len);
        model_ref_gemm(want, (size_t)n, x, (size_t)k, &rounded, b, rows, acc);
        model_ref_gemm(got, (size_t)n, x, (size_t)k, &pairs, b, rows, acc);
        CU_ASSERT(memcmp(got, want, sizeof(float) * len) == 0);
        model_bf16_matrix_free(&h);
    }
    free(x), free(w), free(b), free(y0), free(want), free(got), free(wt);
}

int tests_register_f32(void) {
    CU_pSuite s = CU_add_suite("f32", NULL, NULL);
    if (!s) return -1;
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"packed FP32 layout", test_pack_layout},
        {"one reference GEMM: the packed kernels' bits, any layout of W", test_reference_gemm},
        {"packed FP32 GEMM against the reference GEMM and OpenBLAS", test_linear_kernel},
        {"packed FP32 GEMM with fused GELU", test_linear_gelu},
        {"packed FP32 GEMM with fused LayerNorm and residual add", test_linear_norm_add},
        {"fused LayerNorm add on the blas-packed path, no scratch", test_linear_norm_add_plain},
        {"packed FP32 window attention against model_window_attention", test_attention},
        {"AVX-512 LayerNorm against the scalar LayerNorm", test_layernorm},
        {"packed or OpenBLAS FP32 by CPU, dropped for bf16", test_switch},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
