/* model ops: the table of operations chosen once per precision and kernel
 * set (ggml-style: the dispatch lives above the kernels, not in them). The
 * layers (model/kernels.c) take model_ops_of(model) and call its entries on
 * model_weight handles; each table reads the copy of the weights its
 * precision packed (OpenBLAS: the float weights; packed FP32; BF16), so no
 * layer tests which copy exists. */
#define _DEFAULT_SOURCE
#include <cblas.h>

#include "internal.h"

/* ---- OpenBLAS on the float weights (a CPU without AVX2, or PANGU_NO_AVX2) ---- */
static void blas_linear(float *out, size_t ldo, const float *in, size_t ldi, const model_weight *w, const float *b,
                        int rows, int accumulate) {
    if (rows <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, w->plain_kn ? CblasNoTrans : CblasTrans, rows, w->n, w->k, 1.0f, in,
                (int)ldi, w->plain, w->plain_kn ? w->n : w->k, accumulate ? 1.0f : 0.0f, out, (int)ldo);
    if (b)
        for (int r = 0; r < rows; r++) {
            float *y = out + (size_t)r * ldo;
            for (int j = 0; j < w->n; j++) y[j] += b[j];
        }
}
static void blas_linear_gelu(float *out, size_t ldo, const float *in, size_t ldi, const model_weight *w,
                             const float *b, int rows) {
    blas_linear(out, ldo, in, ldi, w, b, rows, 0);
    for (int r = 0; r < rows; r++) model_gelu_forward(out + (size_t)r * ldo, out + (size_t)r * ldo, (size_t)w->n);
}
static void blas_linear_norm_add(float *x, float *y, const float *in, size_t ldi, const model_weight *w,
                                 const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok) {
    size_t n = (size_t)w->n;
    blas_linear(y, n, in, ldi, w, b, rows, 0);
    for (int r = 0; r < rows; r++)
        if (!tok || tok[r] >= 0)
            model_layernorm_add(x + (size_t)(tok ? tok[r] : r) * n, y + (size_t)r * n, norm_w, norm_b, (int)n);
}
static void blas_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N, int C,
                           int heads, float *scores, float *packs, int bf16_gemms) {
    (void)packs, (void)bf16_gemms;
    model_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores);
}

/* ---- the packed kernels: `copy` of the handle into the kernel's GEMMs ---- */
#define PACKED_GEMMS(tag, copy, LINEAR, LINEAR_GELU, LINEAR_NORM_ADD)                                              \
    static void tag##_linear(float *out, size_t ldo, const float *in, size_t ldi, const model_weight *w,           \
                             const float *b, int rows, int accumulate) {                                           \
        LINEAR(out, ldo, in, ldi, w->copy, b, rows, accumulate);                                                   \
    }                                                                                                              \
    static void tag##_linear_gelu(float *out, size_t ldo, const float *in, size_t ldi, const model_weight *w,      \
                                  const float *b, int rows) {                                                      \
        LINEAR_GELU(out, ldo, in, ldi, w->copy, b, rows);                                                          \
    }                                                                                                              \
    static void tag##_linear_norm_add(float *x, float *y, const float *in, size_t ldi, const model_weight *w,      \
                                      const float *b, const float *norm_w, const float *norm_b, int rows,          \
                                      const long *tok) {                                                           \
        LINEAR_NORM_ADD(x, y, in, ldi, w->copy, b, norm_w, norm_b, rows, tok);                                     \
    }
PACKED_GEMMS(avx512, f32, model_avx512_linear_forward, model_avx512_linear_gelu_forward,
             model_avx512_linear_norm_add_forward)
PACKED_GEMMS(avx2, f32, model_avx2_linear_forward, model_avx2_linear_gelu_forward, model_avx2_linear_norm_add_forward)
#define BF16_KERNEL(kind)                                                                                          \
    PACKED_GEMMS(kind, bf16, model_bf16_##kind##_linear_forward, model_bf16_##kind##_linear_gelu_forward,          \
                 model_bf16_##kind##_linear_norm_add_forward)                                                      \
    static void kind##_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW,     \
                                 int N, int C, int heads, float *scores, float *packs, int bf16_gemms) {           \
        model_bf16_##kind##_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, (uint32_t *)packs, \
                                             bf16_gemms);                                                          \
    }
BF16_KERNEL(dot)
BF16_KERNEL(tile)
BF16_KERNEL(emulated_tile)
#undef BF16_KERNEL
#undef PACKED_GEMMS

static void avx512_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                             int C, int heads, float *scores, float *packs, int bf16_gemms) {
    (void)bf16_gemms;
    model_f32_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, packs);
}
static void avx2_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                           int C, int heads, float *scores, float *packs, int bf16_gemms) {
    (void)bf16_gemms;
    model_avx2_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, packs);
}

static const model_ops ops_blas = {
    MODEL_FP32, MODEL_KERNEL_BLAS, blas_linear, blas_linear_gelu, blas_linear_norm_add, blas_attention,
    model_gelu_forward, model_layernorm_forward, model_layernorm_add,
};
static const model_ops ops_avx2 = {
    MODEL_FP32, MODEL_KERNEL_AVX2, avx2_linear, avx2_linear_gelu, avx2_linear_norm_add, avx2_attention,
    model_gelu_forward_avx2, model_layernorm_forward_avx2, model_layernorm_add_avx2,
};
static const model_ops ops_avx512 = {
    MODEL_FP32, MODEL_KERNEL_AVX512, avx512_linear, avx512_linear_gelu, avx512_linear_norm_add, avx512_attention,
    model_gelu_forward_avx512, model_layernorm_forward_avx512, model_layernorm_add_avx512,
};
/* BF16 needs AVX512_BF16, so its elementwise steps are AVX-512's; its GEMMs
 * on AVX512_BF16's dot products, the AMX tile unit or the tiles' emulation */
#define BF16_OPS(kind)                                                                                             \
    {MODEL_BF16, MODEL_KERNEL_AVX512, kind##_linear, kind##_linear_gelu, kind##_linear_norm_add, kind##_attention,  \
     model_gelu_forward_avx512, model_layernorm_forward_avx512, model_layernorm_add_avx512}
static const model_ops ops_bf16_dot = BF16_OPS(dot), ops_bf16_tile = BF16_OPS(tile),
                       ops_bf16_emulated_tile = BF16_OPS(emulated_tile);
#undef BF16_OPS

const model_ops *model_ops_for(int kernel) {
    return kernel == MODEL_KERNEL_AVX512 ? &ops_avx512 : kernel == MODEL_KERNEL_AVX2 ? &ops_avx2 : &ops_blas;
}

const model_ops *model_ops_of(const model *m) {
    if (m->precision == MODEL_BF16) { /* AMX or not: decided here, for the whole step */
        int amx = model_bf16_amx();
        return amx == MODEL_AMX_ON ? &ops_bf16_tile : amx == MODEL_AMX_EMULATED ? &ops_bf16_emulated_tile : &ops_bf16_dot;
    }
    /* FP32: the kernel the weights were packed for, OpenBLAS when none were */
    return model_ops_for(m->nf32 > 0 ? m->f32[0].kernel : MODEL_KERNEL_BLAS);
}

/* The packed FP32 GEMMs (tests, tune), on the kernel the matrix was packed for. */
void model_f32_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                              const float *b, int rows, int accumulate) {
    model_weight h = {.f32 = w, .n = w->n, .k = w->k};
    if (w->kernel == MODEL_KERNEL_BLAS) {
        model_ref_matrix v = model_ref_f32(w);
        model_ref_gemm(out, ldo, in, ldi, &v, b, rows, accumulate);
    } else model_ops_for(w->kernel)->linear(out, ldo, in, ldi, &h, b, rows, accumulate);
}

void model_f32_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                   const float *b, int rows) {
    model_weight h = {.f32 = w, .n = w->n, .k = w->k};
    if (w->kernel == MODEL_KERNEL_BLAS) {
        model_ref_matrix v = model_ref_f32(w);
        model_ref_gemm_gelu(out, ldo, in, ldi, &v, b, rows);
    } else model_ops_for(w->kernel)->linear_gelu(out, ldo, in, ldi, &h, b, rows);
}

void model_f32_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_f32_matrix *w,
                                       const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok) {
    model_weight h = {.f32 = w, .n = w->n, .k = w->k};
    if (w->kernel == MODEL_KERNEL_BLAS) {
        model_ref_matrix v = model_ref_f32(w);
        model_ref_gemm_norm_add(x, y, in, ldi, &v, b, norm_w, norm_b, rows, tok);
    } else model_ops_for(w->kernel)->linear_norm_add(x, y, in, ldi, &h, b, norm_w, norm_b, rows, tok);
}
