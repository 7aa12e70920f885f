/* Suite "bf16": the reduced-precision path (model/fast/bf16.c).
 * The AVX512_BF16 kernels against their plain scalar twins (rounding
 * bit for bit; GEMMs to FP32 summation-order differences), the packed layout
 * against its definition, and whole BF16 steps on the committed PyTorch
 * fixtures to 1e-2 of each variable's standard deviation (RMS over each
 * field; 4e-2 at any single point). On a CPU without
 * AVX512_BF16 the kernel tests print a note and check only the scalar twins
 * and the refusal of `bf16`. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

static util_rng rng;

static int have_bf16(const char *test) {
    if (model_bf16_available()) return 1;
    fprintf(stderr, "\n    note: %s skipped: this CPU has no AVX512_BF16 ", test);
    return 0;
}

static float bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static float *frand(size_t n, double sd) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = (float)(sd * util_rng_normal(&rng));
    return p;
}

/* ---- rounding ---- */

static void test_round_scalar(void) {
    static const struct { uint32_t in; uint16_t out; } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* tie, even below */
        {0x3f818000u, 0x3f82}, /* tie, odd below: up */
        {0x3f808001u, 0x3f81}, /* above the tie */
        {0x3f807fffu, 0x3f80}, /* below the tie */
        {0xbf818000u, 0xbf82}, /* negative tie */
        {0x7f7fffffu, 0x7f80}, /* largest float: rounds to infinity */
        {0x7f800000u, 0x7f80}, /* +inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x7fc00001u, 0x7fc0}, /* quiet NaN */
        {0x7f800001u, 0x7fc0}, /* signalling NaN: quieted, not rounded to inf */
        {0xff800001u, 0xffc0},
        {0x00000001u, 0x0000}, /* denormals: signed zero */
        {0x807fffffu, 0x8000},
        {0x00800000u, 0x0080}, /* smallest normal */
        {0x00000000u, 0x0000},
        {0x80000000u, 0x8000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = model_bf16_round(bits(cases[i].in));
        CU_ASSERT(got == cases[i].out);
        if (got != cases[i].out) fprintf(stderr, "\n    %08x -> %04x, want %04x", cases[i].in, got, cases[i].out);
    }
    CU_ASSERT(model_bf16_float(0x3f80) == 1.0f);
    CU_ASSERT(model_bf16_float(0xc040) == -3.0f);
    /* every bf16 value survives a round trip */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        uint16_t x = (uint16_t)h;
        float f = model_bf16_float(x);
        if ((x & 0x7f80) == 0 || (x & 0x7fff) > 0x7f80) continue; /* denormals and NaN: by the rules above */
        bad += model_bf16_round(f) != x;
    }
    CU_ASSERT(bad == 0);
}

static void test_convert_vector(void) {
    if (!have_bf16("vector conversion")) return;
    size_t n = 1000;
    float *x = frand(n, 3.0);
    uint16_t *a = malloc(sizeof(uint16_t) * (n + 1)), *b = malloc(sizeof(uint16_t) * (n + 1));
    static const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00001u,
                                       0x7f800001u, 0x00000001u, 0x807fffffu, 0x00800000u, 0x80000000u, 0x3f807fffu};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) x[3 * i + 1] = bits(special[i]);
    /* every length up to 70 (full vectors, tails, odd counts) and a long one; the element past the end untouched */
    for (size_t len = 0; len <= n; len = len < 70 ? len + 1 : n) {
        memset(a, 0xab, sizeof(uint16_t) * (n + 1));
        model_bf16_convert(a, x, len);
        model_bf16_convert_ref(b, x, len);
        CU_ASSERT(memcmp(a, b, sizeof(uint16_t) * len) == 0);
        CU_ASSERT(a[len] == 0xabab);
        if (len == n) break;
    }
    free(x), free(a), free(b);
}

/* ---- packing ---- */

static void test_pack_layout(void) {
    int n = 37, k = 7; /* a partial panel and an odd input count */
    float *w = frand((size_t)n * k, 1.0);
    model_bf16_matrix p, q;
    CU_ASSERT_FATAL(model_bf16_pack(&p, w, n, k, (size_t)k, 1) == 0);
    CU_ASSERT(p.n == n && p.k == k && p.kp == 4 && p.panels == 2);
    int bad = 0;
    for (int pn = 0; pn < p.panels; pn++)
        for (int qq = 0; qq < p.kp; qq++)
            for (int j = 0; j < MODEL_BF16_PANEL; j++) {
                uint32_t word = p.data[((size_t)pn * p.kp + qq) * MODEL_BF16_PANEL + j];
                int col = pn * MODEL_BF16_PANEL + j;
                uint16_t lo = col < n ? model_bf16_round(w[(size_t)col * k + 2 * qq]) : 0;
                uint16_t hi = col < n && 2 * qq + 1 < k ? model_bf16_round(w[(size_t)col * k + 2 * qq + 1]) : 0;
                bad += word != ((uint32_t)lo | (uint32_t)hi << 16);
            }
    CU_ASSERT(bad == 0);
    /* the transposed source (element (j, i) at w[i * n + j]) packs to the same words */
    float *wt = malloc(sizeof(float) * (size_t)n * k);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < k; i++) wt[(size_t)i * n + j] = w[(size_t)j * k + i];
    CU_ASSERT_FATAL(model_bf16_pack(&q, wt, n, k, 1, (size_t)n) == 0);
    CU_ASSERT(memcmp(p.data, q.data, sizeof(uint32_t) * model_bf16_packed_words(n, k)) == 0);
    model_bf16_matrix_free(&p);
    model_bf16_matrix_free(&q);
    CU_ASSERT(p.data == NULL);
    free(w), free(wt);
}

/* ---- the GEMM ---- */

/* The twin against exact products of the rounded values (double): a check of
 * the twin itself, then kernel against twin to FP32 summation-order error. */
static void test_linear_twin(void) {
    int rows = 5, k = 33, n = 9;
    float *x = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.1), *b = frand((size_t)n, 1.0);
    float *y = malloc(sizeof(float) * (size_t)rows * n);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 1);
    model_ref_gemm(y, (size_t)n, x, (size_t)k, &twin, b, rows, 0);
    double worst = 0, worst_fp32 = 0;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) {
            double exact = b[j], fp32 = b[j], mag = fabs(b[j]);
            for (int i = 0; i < k; i++) {
                exact += (double)model_bf16_float(model_bf16_round(x[r * k + i])) *
                         model_bf16_float(model_bf16_round(w[j * k + i]));
                fp32 += (double)x[r * k + i] * w[j * k + i];
                mag += fabs((double)x[r * k + i] * w[j * k + i]);
            }
            worst = fmax(worst, fabs(y[r * n + j] - exact) / mag);
            worst_fp32 = fmax(worst_fp32, fabs(y[r * n + j] - fp32) / mag);
        }
    CU_ASSERT(worst <= 1e-6);          /* float summation of exact products */
    CU_ASSERT(worst_fp32 <= 1.0 / 128); /* two bf16 roundings per product: at most 2^-8 relative each */
    CU_ASSERT(worst_fp32 > 1e-6);       /* and the rounding does happen */
    free(x), free(w), free(b), free(y);
}

static int exact_twin; /* the AMX path: the twin's bits, not only its value */

static void check_linear(int rows, int k, int n, int ldi_extra, int ldo_extra, int with_bias, int accumulate) {
    size_t ldi = (size_t)k + ldi_extra, ldo = (size_t)n + ldo_extra;
    float *x = frand((size_t)rows * ldi, 1.0), *w = frand((size_t)n * k, 0.05), *b = with_bias ? frand((size_t)n, 1.0) : NULL;
    float *y0 = frand((size_t)rows * ldo, 1.0), *got = malloc(sizeof(float) * (size_t)rows * ldo);
    float *want = malloc(sizeof(float) * (size_t)rows * ldo);
    memcpy(got, y0, sizeof(float) * (size_t)rows * ldo);
    memcpy(want, y0, sizeof(float) * (size_t)rows * ldo);
    model_bf16_matrix p;
    CU_ASSERT_FATAL(model_bf16_pack(&p, w, n, k, (size_t)k, 1) == 0);
    model_bf16_linear_forward(got, ldo, x, ldi, &p, b, rows, accumulate);
    model_ref_matrix twin = model_ref_plain(w, n, k, (size_t)k, 1, 1);
    model_ref_gemm(want, ldo, x, ldi, &twin, b, rows, accumulate);
    double worst = 0;
    int untouched = 1;
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < (int)ldo; j++) {
            size_t at = (size_t)r * ldo + j;
            if (j >= n) { /* the gap between rows stays as it was */
                untouched &= memcmp(&got[at], &y0[at], sizeof(float)) == 0;
                continue;
            }
            double mag = (accumulate ? fabs(y0[at]) : 0) + (b ? fabs(b[j]) : 0);
            for (int i = 0; i < k; i++) mag += fabs((double)x[(size_t)r * ldi + i] * w[(size_t)j * k + i]);
            double e = isfinite(got[at]) ? fabs((double)got[at] - want[at]) / (mag + 1e-30) : INFINITY;
            if (e > worst) worst = e;
        }
    }
    CU_ASSERT(untouched);
    CU_ASSERT(worst <= 1e-5);
    if (exact_twin) CU_ASSERT(worst == 0);
    if (!(worst <= 1e-5) || !untouched || (exact_twin && worst != 0))
        fprintf(stderr, "\n    rows %d k %d n %d bias %d acc %d: worst %.3g relative to sum |x w|, gap %s", rows, k, n,
                with_bias, accumulate, worst, untouched ? "kept" : "WRITTEN");
    model_bf16_matrix_free(&p);
    free(x), free(w), free(b), free(y0), free(got), free(want);
}

static void linear_shapes(void) {
    /* the model's shapes, then edges: one row, rows past a 14-row tile and a
     * 112-row block, odd k, k past a 384-input block, n not a multiple of 16 or 32 */
    check_linear(300, 192, 576, 0, 0, 1, 0);
    check_linear(130, 768, 192, 0, 0, 1, 0);
    check_linear(57, 1536, 384, 0, 0, 1, 0);
    check_linear(96, 160, 192, 0, 0, 1, 0);
    check_linear(1, 1, 1, 0, 0, 0, 0);
    check_linear(15, 7, 5, 3, 2, 1, 0);
    check_linear(113, 385, 33, 0, 0, 0, 0);
    check_linear(29, 400, 17, 5, 7, 1, 1);
    check_linear(14, 2, 48, 0, 0, 0, 1);
    check_linear(3, 777, 70, 1, 1, 1, 1);
}

static void test_linear_kernel(void) {
    if (!have_bf16("kernel vs twin")) return;
    util_rng_seed(&rng, 7);
    linear_shapes();
}

/* The MLP's layers with GELU and with the post-norm residual add fused give
 * the unfused path's bits (GEMM, then the AVX-512 GELU or LayerNorm-add). */
static void check_fused(int rows, int k, int n) {
    float *in = frand((size_t)rows * k, 1.0), *w = frand((size_t)n * k, 0.05), *b = frand((size_t)n, 1.0);
    float *nw = frand((size_t)n, 1.0), *nb = frand((size_t)n, 1.0), *x0 = frand((size_t)rows * n, 1.0);
    size_t len = (size_t)rows * n;
    float *g1 = malloc(sizeof(float) * len), *g2 = malloc(sizeof(float) * len);
    float *x1 = malloc(sizeof(float) * len), *x2 = malloc(sizeof(float) * len), *y = malloc(sizeof(float) * len);
    model_bf16_matrix p;
    CU_ASSERT_FATAL(model_bf16_pack(&p, w, n, k, (size_t)k, 1) == 0);
    model_bf16_linear_gelu_forward(g1, (size_t)n, in, (size_t)k, &p, b, rows);
    model_bf16_linear_forward(g2, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    model_gelu_forward_avx512(g2, g2, len);
    memcpy(x1, x0, sizeof(float) * len), memcpy(x2, x0, sizeof(float) * len);
    model_bf16_linear_norm_add_forward(x1, y, in, (size_t)k, &p, b, nw, nb, rows, NULL);
    model_bf16_linear_forward(y, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    for (int r = 0; r < rows; r++) model_layernorm_add_avx512(x2 + (size_t)r * n, y + (size_t)r * n, nw, nb, n);
    int gelu_same = memcmp(g1, g2, sizeof(float) * len) == 0, add_same = memcmp(x1, x2, sizeof(float) * len) == 0;
    CU_ASSERT(gelu_same);
    CU_ASSERT(add_same);
    if (!gelu_same || !add_same)
        fprintf(stderr, "\n    rows %d k %d n %d: fused GELU %s, fused LayerNorm-add %s", rows, k, n,
                gelu_same ? "same" : "DIFFERS", add_same ? "same" : "DIFFERS");
    /* the attention projection's form: row r added to token tok[r], none where tok[r] < 0 */
    long *tok = malloc(sizeof(long) * (size_t)rows);
    for (int r = 0; r < rows; r++) tok[r] = r % 3 == 1 ? -1 : rows - 1 - r;
    memcpy(x1, x0, sizeof(float) * len), memcpy(x2, x0, sizeof(float) * len);
    model_bf16_linear_norm_add_forward(x1, g1, in, (size_t)k, &p, b, nw, nb, rows, tok);
    model_bf16_linear_forward(y, (size_t)n, in, (size_t)k, &p, b, rows, 0);
    for (int r = 0; r < rows; r++)
        if (tok[r] >= 0) model_layernorm_add_avx512(x2 + (size_t)tok[r] * n, y + (size_t)r * n, nw, nb, n);
    CU_ASSERT(memcmp(x1, x2, sizeof(float) * len) == 0);
    free(tok);
    model_bf16_matrix_free(&p);
    free(in), free(w), free(b), free(nw), free(nb), free(x0), free(g1), free(g2), free(x1), free(x2), free(y);
}

static void test_fused(void) {
    if (!have_bf16("fused GELU and LayerNorm-add")) return;
    util_rng_seed(&rng, 11);
    check_fused(300, 192, 768);  /* fc1's shape at C = 192, rows past a block and a tile */
    check_fused(130, 768, 192);  /* fc2's: two input blocks, the epilogue after the second */
    check_fused(57, 1536, 384);
    check_fused(1, 5, 16);
    check_fused(15, 401, 40);
}

/* ---- FP32 elementwise kernels of the BF16 path ---- */

static void test_gelu_vector(void) {
    if (!have_bf16("vector GELU")) return;
    size_t n = 20001;
    float *x = malloc(sizeof(float) * n), *a = malloc(sizeof(float) * (n + 1)), *b = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1); /* through 0, past the clamp at 4 sqrt 2 */
    x[7] = 0.0f, x[8] = -0.0f, x[9] = 1e-30f, x[10] = 80.0f, x[11] = -80.0f;
    a[n] = 12345.0f;
    model_gelu_forward_avx512(a, x, n);
    model_gelu_forward(b, x, n);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = isfinite(a[i]) ? fabs((double)a[i] - b[i]) / (1e-6 + fabs(x[i])) : INFINITY;
        if (e > worst) worst = e;
    }
    CU_ASSERT(worst <= 5e-7); /* erf to about 1e-7, then float rounding: GELU to a few 1e-7 |x| */
    CU_ASSERT(a[n] == 12345.0f);
    if (!(worst <= 5e-7)) fprintf(stderr, "\n    GELU: worst %.3g relative to |x|", worst);
    /* in place, and lengths that are not multiples of 16 */
    memcpy(a, x, sizeof(float) * 37);
    model_gelu_forward_avx512(a, a, 37);
    for (int i = 0; i < 37; i++) CU_ASSERT(fabs(a[i] - b[i]) <= 5e-7 * (1e-6 + fabs(x[i])));
    free(x), free(a), free(b);
}

/* model_bf16_window_attention against model_window_attention (FP32 GEMMs:
 * the vector softmax only) and against its scalar twin (BF16 GEMMs). */
static void check_attention(const int window[3], int C, int heads, int nW, int masked) {
    int N = window[0] * window[1] * window[2], d = C / heads, rows = nW * N;
    float *qkv = frand((size_t)rows * 3 * C, 1.0), *bias = frand((size_t)heads * N * N, 0.5);
    float *fp32 = malloc(sizeof(float) * (size_t)rows * C), *got = malloc(sizeof(float) * (size_t)rows * C);
    float *twin = malloc(sizeof(float) * (size_t)rows * C), *sc = malloc(sizeof(float) * (size_t)N * N);
    uint32_t *packs = malloc(sizeof(uint32_t) * model_bf16_attention_words(N, d));
    int *lab = malloc(sizeof(int) * (size_t)N);
    for (int i = 0; i < N; i++) lab[i] = (i * 7 / N) % 3; /* three regions */
    const int *labels = masked ? lab : NULL;
    model_window_attention(fp32, qkv, bias, labels, nW, N, C, heads, sc);
    model_bf16_window_attention(got, qkv, bias, labels, nW, N, C, heads, sc, packs, 0);
    double e_soft = 0, e_twin = 0, e_fp32 = 0;
    for (size_t i = 0; i < (size_t)rows * C; i++) e_soft = fmax(e_soft, fabs((double)got[i] - fp32[i]));
    model_bf16_window_attention(got, qkv, bias, labels, nW, N, C, heads, sc, packs, 1);
    model_bf16_window_attention_ref(twin, qkv, bias, labels, nW, N, C, heads, sc);
    /* outputs are averages of v (|v| ~ 1): errors in absolute terms */
    for (size_t i = 0; i < (size_t)rows * C; i++) {
        double a = isfinite(got[i]) ? got[i] : INFINITY;
        e_twin = fmax(e_twin, fabs(a - twin[i]));
        e_fp32 = fmax(e_fp32, fabs(a - fp32[i]));
    }
    int ok = e_soft <= 1e-5 && e_twin <= 1e-2 && e_fp32 <= 5e-2 && e_twin < e_fp32;
    CU_ASSERT(e_soft <= 1e-5); /* FP32 GEMMs: the softmax's exp to about 1 ulp */
    CU_ASSERT(e_twin <= 1e-2); /* a softmax weight may round to the neighbouring bf16: 2^-8 of it */
    CU_ASSERT(e_fp32 <= 5e-2); /* bf16 rounding of q, k, p, v */
    CU_ASSERT(e_twin < e_fp32);
    if (!ok || getenv("PANGU_TEST_VERBOSE"))
        fprintf(stderr, "\n    window %dx%dx%d C %d heads %d%s: |softmax - fp32| %.2g, |bf16 - twin| %.2g, |bf16 - fp32| %.2g",
                window[0], window[1], window[2], C, heads, masked ? " masked" : "", e_soft, e_twin, e_fp32);
    free(qkv), free(bias), free(fp32), free(got), free(twin), free(sc), free(packs), free(lab);
}

static void test_attention(void) {
    if (!have_bf16("BF16 attention")) return;
    util_rng_seed(&rng, 11);
    check_attention((const int[3]){2, 6, 12}, 192, 6, 2, 0); /* the full model's window, heads of 32 */
    check_attention((const int[3]){2, 6, 12}, 384, 12, 1, 1);
    check_attention((const int[3]){2, 3, 6}, 16, 2, 3, 1);   /* the tiny preset's */
    check_attention((const int[3]){1, 3, 5}, 15, 3, 2, 1);   /* odd N = 15 and odd d = 5 */
    check_attention((const int[3]){2, 4, 9}, 96, 1, 1, 0);   /* d = 96: three key panels of channel pairs */
}

/* ---- the AMX tile path, its tile instructions emulated in C ---- */

/* The GEMM on the tile path gives the scalar twin's bits on every shape
 * above (TDPBF16PS adds each pair's two exact products in input order, as
 * the twin does), the fused epilogues and attention as on AVX512_BF16. */
static void test_amx_kernels(void) {
    if (!have_bf16("AMX tile path (emulated)")) return;
    /* this machine's own mode, and ON refused where the CPU or kernel lacks it */
    const char *status = model_bf16_amx_status();
    CU_ASSERT(strncmp(status, "on:", 3) == 0 || strncmp(status, "no:", 3) == 0 || strncmp(status, "off:", 4) == 0 ||
              strncmp(status, "emulated:", 9) == 0);
    if (model_bf16_amx() != MODEL_AMX_ON) {
        CU_ASSERT(model_bf16_amx_select(MODEL_AMX_ON) == UTIL_EINVAL);
        CU_ASSERT(strstr(util_last_message(), "AMX tile path: not available") != NULL);
    }
    if (strncmp(status, "no:", 3) == 0) CU_ASSERT(isinf(model_bf16_amx_check(0))); /* no tile instruction without AMX */
    CU_ASSERT(model_bf16_amx_select(7) == UTIL_EINVAL);
    CU_ASSERT(model_bf16_amx_check(1) == 0); /* the first-use check, on the emulated tiles */
    CU_ASSERT_FATAL(model_bf16_amx_select(MODEL_AMX_EMULATED) == 0);
    CU_ASSERT(model_bf16_amx() == MODEL_AMX_EMULATED);
    util_rng_seed(&rng, 7);
    exact_twin = 1;
    linear_shapes();
    check_linear(33, 64, 64, 0, 0, 1, 0); /* whole 32 x 32 micro-tiles, bias from its rows, then the edge row */
    check_linear(64, 32, 96, 0, 0, 0, 1);  /* whole tiles, accumulated, no bias */
    check_linear(32, 34, 32, 0, 3, 1, 1);  /* bias and accumulation together: through the buffer */
    exact_twin = 0;
    util_rng_seed(&rng, 11);
    check_fused(300, 192, 768);
    check_fused(130, 768, 192);
    check_fused(15, 401, 40);
    check_attention((const int[3]){2, 6, 12}, 192, 6, 2, 0);
    check_attention((const int[3]){1, 3, 5}, 15, 3, 2, 1);
    CU_ASSERT(model_bf16_amx_select(-1) == 0);
    CU_ASSERT(model_bf16_amx() != MODEL_AMX_EMULATED || getenv("PANGU_AMX_EMULATE"));
}

/* The table of operations picks the BF16 GEMM once: a table taken with the
 * dot products keeps them after the AMX state changes, and the table taken
 * afterwards runs the (emulated) tiles; each gives the bits of the per-call
 * entry model_bf16_linear_forward in its mode. FP32 without packed weights:
 * OpenBLAS's table. */
static void test_ops_table(void) {
    model m = {0};
    CU_ASSERT(model_ops_of(&m)->precision == MODEL_FP32 && model_ops_of(&m)->kernel == MODEL_KERNEL_BLAS);
    if (!have_bf16("the BF16 table of operations")) return;
    enum { ROWS = 40, N = 64, K = 256 };
    util_rng_seed(&rng, 5);
    float *x = frand((size_t)ROWS * K, 1), *w = frand((size_t)N * K, 0.1), *b = frand(N, 0.1);
    float dot[ROWS * N], tile[ROWS * N], want[ROWS * N];
    model_bf16_matrix p;
    CU_ASSERT_FATAL(model_bf16_pack(&p, w, N, K, K, 1) == 0);
    model_weight h = {.n = N, .k = K, .bf16 = &p};
    m.precision = MODEL_BF16;
    CU_ASSERT_FATAL(model_bf16_amx_select(MODEL_AMX_OFF) == 0);
    const model_ops *dot_ops = model_ops_of(&m);
    CU_ASSERT(dot_ops->precision == MODEL_BF16);
    model_bf16_linear_forward(want, N, x, K, &p, b, ROWS, 0);
    CU_ASSERT_FATAL(model_bf16_amx_select(MODEL_AMX_EMULATED) == 0);
    dot_ops->linear(dot, N, x, K, &h, b, ROWS, 0);
    CU_ASSERT(memcmp(dot, want, sizeof dot) == 0); /* still the dot products */
    model_ops_of(&m)->linear(tile, N, x, K, &h, b, ROWS, 0);
    model_bf16_linear_forward(want, N, x, K, &p, b, ROWS, 0);
    CU_ASSERT(memcmp(tile, want, sizeof tile) == 0);
    CU_ASSERT(memcmp(tile, dot, sizeof tile) != 0); /* the two GEMMs' summation orders differ here */
    CU_ASSERT(model_bf16_amx_select(-1) == 0);
    model_bf16_matrix_free(&p);
    free(x), free(w), free(b);
}

/* ---- whole steps ---- */

/* |a - b| in units of each variable's (and level's) normalisation std:
 * the largest RMS over the fields (one variable at one level) and the
 * largest single value. */
static void state_diff(const model *m, const io_state *a, const io_state *b, double *rms, double *max) {
    const model_config *c = &m->cfg;
    size_t HW = (size_t)c->H * c->W;
    *rms = 0, *max = 0;
    for (int s = 0; s < (MODEL_NUPPER * c->nlev + MODEL_NSURFACE); s++) {
        int up = s < MODEL_NUPPER * c->nlev, v = up ? s : s - MODEL_NUPPER * c->nlev;
        const float *x = up ? a->upper + v * HW : a->surface + v * HW, *y = up ? b->upper + v * HW : b->surface + v * HW;
        double sd = up ? m->upper_std[v] : m->surface_std[v], sum = 0;
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(x[i] - y[i]) / sd;
            sum += e * e;
            if (!(e <= *max)) *max = e; /* NaN wins */
        }
        double r = sqrt(sum / HW);
        if (!(r <= *rms)) *rms = r;
    }
}

static void step_bf16(const char *name) {
    char mpath[512], ipath[512], opath[512];
    snprintf(mpath, sizeof mpath, "%s/%s.h5", tests_fixture_dir(), name);
    snprintf(ipath, sizeof ipath, "%s/%s_in.nc", tests_fixture_dir(), name);
    snprintf(opath, sizeof opath, "%s/%s_out.nc", tests_fixture_dir(), name);
    const char *ip = ipath, *op = opath;
    model m;
    io_state in, ref, fp32, bf16, bf16_1;
    CU_ASSERT_FATAL(model_load(&m, mpath) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_read(&ref, &op, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&fp32, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&bf16, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&bf16_1, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0); /* FP32 as pangu runs it (packed on AVX-512) */
    CU_ASSERT_FATAL(model_step(&m, fp32.upper, fp32.surface, in.upper, in.surface) == 0);
    CU_ASSERT_FATAL(model_set_precision(&m, MODEL_BF16) == 0);
    CU_ASSERT(m.f32 == NULL && m.blocks[0][0].qkv_f == NULL);
    CU_ASSERT(m.precision == MODEL_BF16);
    CU_ASSERT_FATAL(model_step(&m, bf16.upper, bf16.surface, in.upper, in.surface) == 0);
    /* independent of the thread count, as the FP32 step */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    CU_ASSERT_FATAL(model_step(&m, bf16_1.upper, bf16_1.surface, in.upper, in.surface) == 0);
    omp_set_num_threads(nt);
    size_t nu = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W, ns = (size_t)MODEL_NSURFACE * c->H * c->W;
    CU_ASSERT(memcmp(bf16.upper, bf16_1.upper, nu * sizeof(float)) == 0);
    CU_ASSERT(memcmp(bf16.surface, bf16_1.surface, ns * sizeof(float)) == 0);
    /* Within 1e-2 std as an RMS over each field; single values to 4e-2: BF16
     * keeps 8 significant bits, so each rounding costs up to 2^-9 relative, and
     * 16 post-norm blocks add up to about 2e-2 at the worst point of these
     * random-weight models (the same as of the trained demo models). */
    double r_ref, m_ref, r_fp32, m_fp32, r_base, m_base;
    state_diff(&m, &bf16, &ref, &r_ref, &m_ref);
    state_diff(&m, &bf16, &fp32, &r_fp32, &m_fp32);
    state_diff(&m, &fp32, &ref, &r_base, &m_base);
    CU_ASSERT(r_ref <= 1e-2 && m_ref <= 4e-2);
    CU_ASSERT(r_fp32 <= 1e-2 && m_fp32 <= 4e-2);
    CU_ASSERT(m_ref > 10 * m_base); /* BF16 did run: it is further from the reference than FP32 */
    if (!(r_ref <= 1e-2 && m_ref <= 4e-2 && r_fp32 <= 1e-2 && m_fp32 <= 4e-2) || getenv("PANGU_TEST_VERBOSE"))
        fprintf(stderr, "\n    %s: bf16 - reference: worst field RMS %.2g std, max %.2g std; bf16 - fp32: %.2g, %.2g "
                        "(fp32 - reference %.2g, %.2g) ",
                name, r_ref, m_ref, r_fp32, m_fp32, r_base, m_base);
    /* back to FP32: the same output as before */
    CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
    CU_ASSERT(m.bf16 == NULL && m.blocks[0][0].qkv_h == NULL);
    CU_ASSERT_FATAL(model_step(&m, bf16_1.upper, bf16_1.surface, in.upper, in.surface) == 0);
    CU_ASSERT(memcmp(fp32.upper, bf16_1.upper, nu * sizeof(float)) == 0);
    io_state_free(&in), io_state_free(&ref), io_state_free(&fp32), io_state_free(&bf16), io_state_free(&bf16_1);
    model_free(&m);
}

static void test_step_tiny(void) {
    if (have_bf16("BF16 step, tiny")) step_bf16("tiny");
}
static void test_step_small(void) {
    if (have_bf16("BF16 step, small")) step_bf16("small");
}
static void test_step_custom(void) {
    if (have_bf16("BF16 step, custom")) step_bf16("custom");
}
/* A whole BF16 step with every GEMM on the (emulated) tile path */
static void test_step_amx(void) {
    if (!have_bf16("BF16 step on the AMX tile path")) return;
    CU_ASSERT_FATAL(model_bf16_amx_select(MODEL_AMX_EMULATED) == 0);
    step_bf16("tiny");
    step_bf16("custom");
    CU_ASSERT(model_bf16_amx_select(-1) == 0);
}

/* Without AVX512_BF16 (PANGU_NO_BF16 stands in for such a CPU) bf16 is refused
 * with a clear message and the model stays FP32; training refuses BF16. */
static void test_refusal(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.h5", tests_fixture_dir());
    model m;
    CU_ASSERT_FATAL(model_load(&m, path) == 0);
    int p = -1;
    CU_ASSERT(model_precision_parse("bf16", &p) == 0 && p == MODEL_BF16);
    CU_ASSERT(model_precision_parse("fp32", &p) == 0 && p == MODEL_FP32);
    CU_ASSERT(model_precision_parse("fp16", &p) == UTIL_EINVAL);
    CU_ASSERT(strstr(util_last_message(), "expected fp32 or bf16") != NULL);
    const char *old = getenv("PANGU_NO_BF16");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("PANGU_NO_BF16", "1", 1);
    CU_ASSERT(model_bf16_available() == 0);
    CU_ASSERT(model_set_precision(&m, MODEL_BF16) == UTIL_EINVAL);
    CU_ASSERT(strstr(util_last_message(), "AVX512_BF16") != NULL);
    CU_ASSERT(m.precision == MODEL_FP32 && m.bf16 == NULL);
    if (old) setenv("PANGU_NO_BF16", saved, 1);
    else unsetenv("PANGU_NO_BF16");
    if (model_bf16_available()) {
        CU_ASSERT_FATAL(model_set_precision(&m, MODEL_BF16) == 0);
        float *g = calloc(m.nparams, sizeof(float));
        double loss;
        size_t nu = (size_t)MODEL_NUPPER * m.cfg.nlev * m.cfg.H * m.cfg.W, ns = (size_t)MODEL_NSURFACE * m.cfg.H * m.cfg.W;
        float *u = calloc(nu, sizeof(float)), *s = calloc(ns, sizeof(float));
        CU_ASSERT(model_grad(&m, g, &loss, u, s, u, s, NULL, 0.25f) == UTIL_EINVAL);
        free(g), free(u), free(s);
    }
    model_free(&m);
}

int tests_register_bf16(void) {
    CU_pSuite s = CU_add_suite("bf16", NULL, NULL);
    if (!s) return -1;
    util_rng_seed(&rng, 1);
    struct { const char *name; void (*fn)(void); } tests[] = {
        {"bf16 rounding: nearest even, denormals, NaN, infinity", test_round_scalar},
        {"vector conversion equals the scalar twin", test_convert_vector},
        {"packed weight layout", test_pack_layout},
        {"scalar GEMM twin against exact products", test_linear_twin},
        {"AVX512_BF16 GEMM against its scalar twin", test_linear_kernel},
        {"AVX512_BF16 GEMM with fused GELU and LayerNorm-add", test_fused},
        {"vector GELU against the scalar GELU", test_gelu_vector},
        {"BF16 window attention against its twins", test_attention},
        {"BF16 step within 1e-2 std (RMS) of reference: tiny preset", test_step_tiny},
        {"BF16 step within 1e-2 std (RMS) of reference: small preset", test_step_small},
        {"BF16 step within 1e-2 std (RMS) of reference: custom configuration", test_step_custom},
        {"AMX tile path (tile instructions emulated) against the twins", test_amx_kernels},
        {"the table of operations picks the BF16 GEMM once", test_ops_table},
        {"BF16 step on the AMX tile path (emulated) within 1e-2 std (RMS) of reference", test_step_amx},
        {"bf16 refused without AVX512_BF16, and by training", test_refusal},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
