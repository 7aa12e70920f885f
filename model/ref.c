/* model ref: the plain twins, one of each operation: the scalar (or
 * OpenBLAS) definitions the vectorised kernels of model/fast/ are tested
 * against, and the blas path of the step on CPUs without AVX2. They call
 * nothing else in model/.
 *
 * One reference GEMM, model_ref_gemm: every output summed in input order
 * with fmaf from [bias] + [out], the order of every packed kernel of
 * model/fast/ (so the FP32 kernels give its bits exactly), on FP32 or
 * bf16-rounded operands (bf16 products are exact in FP32, so fmaf adds them
 * as the BF16 kernels do), reading W plain (row-major, any strides) or as
 * packed (model_ref_matrix). The tests, the blas table's packed entries,
 * the non-x86 stand-ins and the AMX first-use check all use it.
 *
 * The generic step itself (model_kernel() blas: no AVX2) does not: its
 * GEMMs are OpenBLAS SGEMM (model_linear_forward, model_window_attention),
 * whose summation order is OpenBLAS's own; the outputs of that path have
 * always been OpenBLAS's, and a scalar loop would be both slower and
 * different in the last bits. */
#define _DEFAULT_SOURCE
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "internal.h"

/* mean and 1 / sqrt(var + 1e-5) of one row, summed in double */
static void layernorm_moments(const float *x, int C, float *mean, float *rstd) {
    double m = 0, var = 0;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) var += (x[i] - m) * (x[i] - m);
    var /= C;
    *mean = (float)m, *rstd = (float)(1.0 / sqrt(var + 1e-5));
}

void model_layernorm_forward(float *out, const float *in, const float *w, const float *b, int rows, int C) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C, m, rstd;
        layernorm_moments(x, C, &m, &rstd);
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * rstd * w[i] + b[i];
    }
}

void model_layernorm_add(float *x, const float *y, const float *w, const float *b, int C) {
    float m, rstd;
    layernorm_moments(y, C, &m, &rstd);
    for (int i = 0; i < C; i++) x[i] += (y[i] - m) * rstd * w[i] + b[i];
}

void model_gelu_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * (float)M_SQRT1_2));
}

void model_linear_forward(float *out, const float *in, const float *w, const float *b,
                          int rows, int in_dim, int out_dim) {
    if (rows <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out_dim, in_dim, 1.0f, in, in_dim, w, in_dim,
                0.0f, out, out_dim);
    if (b)
        for (int r = 0; r < rows; r++) {
            float *y = out + (size_t)r * out_dim;
            for (int j = 0; j < out_dim; j++) y[j] += b[j];
        }
}

/* s (query i's N scores, scaled) = softmax(s + bias row bt (- 100 where the
 * key's label differs from the query's)) */
static void softmax_row(float *s, const float *bt, const int *labels, int i, int N) {
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j < N; j++) {
        s[j] += bt[j];
        if (labels && labels[i] != labels[j]) s[j] += -100.0f;
        if (s[j] > mx) mx = s[j];
    }
    for (int j = 0; j < N; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < N; j++) s[j] *= inv;
}

/* W's element (j, i) as the view reads it (model_ref_matrix in internal.h) */
static float ref_weight(const model_ref_matrix *w, size_t at, int i) {
    if (!w->words) return w->f[at + (size_t)i * w->step];
    uint32_t word = w->words[at + (size_t)(i / 2) * w->step];
    return model_bf16_float((uint16_t)(i % 2 ? word >> 16 : word & 0xffffu));
}

void model_ref_gemm(float *out, size_t ldo, const float *in, size_t ldi, const model_ref_matrix *w, const float *b,
                    int rows, int accumulate) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < w->n; j++) {
            size_t at = (size_t)(j / w->nr) * w->panel + (size_t)(j % w->nr) * w->col;
            float acc = b ? b[j] : 0.0f; /* the kernels' order: bias, then the output added */
            if (accumulate) acc += out[(size_t)r * ldo + j];
            for (int i = 0; i < w->k; i++) {
                float x = in[(size_t)r * ldi + i], v = ref_weight(w, at, i);
                if (w->bf16) x = model_bf16_float(model_bf16_round(x)), v = model_bf16_float(model_bf16_round(v));
                acc = fmaf(x, v, acc);
            }
            out[(size_t)r * ldo + j] = acc;
        }
}

void model_ref_gemm_gelu(float *out, size_t ldo, const float *in, size_t ldi, const model_ref_matrix *w, const float *b,
                         int rows) {
    model_ref_gemm(out, ldo, in, ldi, w, b, rows, 0);
    for (int r = 0; r < rows; r++) model_gelu_forward(out + (size_t)r * ldo, out + (size_t)r * ldo, (size_t)w->n);
}

/* x (tok[r] or r) += LayerNorm(y) after y = the GEMM: the fused norm-add's
 * twin, with no scratch. */
void model_ref_gemm_norm_add(float *x, float *y, const float *in, size_t ldi, const model_ref_matrix *w, const float *b,
                             const float *norm_w, const float *norm_b, int rows, const long *tok) {
    int n = w->n;
    model_ref_gemm(y, (size_t)n, in, ldi, w, b, rows, 0);
    for (int r = 0; r < rows; r++) {
        long xr = tok ? tok[r] : r;
        if (xr >= 0) model_layernorm_add(x + (size_t)xr * n, y + (size_t)r * n, norm_w, norm_b, n);
    }
}

/* ---- window attention: FP32 (OpenBLAS) and bf16 ---- */

/* One window and head: scores (N, N) = softmax((q * scale) k^T + bias), then
 * o (N, d; row stride C) = scores v. FP32: OpenBLAS. bf16: the twin of
 * model_bf16_window_attention with bf16_gemms: q, k, the softmax weights p
 * and v rounded to bf16, sums in FP32 (model_ref_gemm's order). */
static void head_attention(float *o, const float *q, const float *k, const float *v, int ld, const float *bt,
                           const int *labels, int N, int d, int C, float scale, float *scores, int bf16) {
    if (bf16) {
        /* q k^T: keys as W (n = key, k = channel); p v: values as W (n = channel, k = key) */
        model_ref_matrix keys = model_ref_plain(k, N, d, (size_t)ld, 1, 1);
        model_ref_gemm(scores, (size_t)N, q, (size_t)ld, &keys, NULL, N, 0);
        for (size_t i = 0; i < (size_t)N * N; i++) scores[i] *= scale;
    } else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, scale, q, ld, k, ld, 0.0f, scores, N);
    for (int i = 0; i < N; i++) softmax_row(scores + (size_t)i * N, bt + (size_t)i * N, labels, i, N);
    if (bf16) {
        model_ref_matrix values = model_ref_plain(v, d, N, 1, (size_t)ld, 1);
        model_ref_gemm(o, (size_t)C, scores, (size_t)N, &values, NULL, N, 0);
    } else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, 1.0f, scores, N, v, ld, 0.0f, o, C);
}

static void windows_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                              int C, int heads, float *scores, int bf16) {
    int d = C / heads, ld = 3 * C;
    float scale = (float)(1.0 / sqrt((double)d));
    for (int w = 0; w < nW; w++) {
        const float *base = qkv + (size_t)w * N * ld;
        for (int h = 0; h < heads; h++)
            head_attention(out + (size_t)w * N * C + h * d, base + h * d, base + C + h * d, base + 2 * C + h * d, ld,
                           bias_t + (size_t)h * N * N, labels, N, d, C, scale, scores, bf16);
    }
}

void model_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels,
                            int nW, int N, int C, int heads, float *scores) {
    windows_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, 0);
}

void model_bf16_window_attention_ref(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                     int C, int heads, float *scores) {
    windows_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, 1);
}

/* ---- bf16 rounding ---- */

void model_bf16_convert_ref(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = model_bf16_round(src[i]);
}
