/* model ops: the table of FP32 operations chosen once per kernel set
 * (ggml-style: the dispatch lives above the kernels, not in them). The
 * layers (model/kernels.c) take model_ops_for(model_kernel()) for their
 * elementwise steps, and a packed matrix runs the table of the kernel it
 * was packed for. BF16 has one kernel set (model/fast/bf16.c, which picks
 * AMX or AVX512_BF16 inside), called by the layers directly. */
#include "internal.h"

/* a matrix packed under the blas choice (tests, tune): the reference GEMM on its panels */
static void blas_linear(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w, const float *b,
                        int rows, int accumulate) {
    model_ref_matrix v = model_ref_f32(w);
    model_ref_gemm(out, ldo, in, ldi, &v, b, rows, accumulate);
}
static void blas_linear_gelu(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                             const float *b, int rows) {
    model_ref_matrix v = model_ref_f32(w);
    model_ref_gemm_gelu(out, ldo, in, ldi, &v, b, rows);
}
static void blas_linear_norm_add(float *x, float *y, const float *in, size_t ldi, const model_f32_matrix *w,
                                 const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok) {
    model_ref_matrix v = model_ref_f32(w);
    model_ref_gemm_norm_add(x, y, in, ldi, &v, b, norm_w, norm_b, rows, tok);
}
static void blas_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N, int C,
                           int heads, float *scores, float *packs) {
    (void)packs;
    model_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores);
}

static const model_ops ops_blas = {
    MODEL_KERNEL_BLAS, blas_linear, blas_linear_gelu, blas_linear_norm_add, blas_attention,
    model_gelu_forward, model_layernorm_forward, model_layernorm_add,
};
static const model_ops ops_avx2 = {
    MODEL_KERNEL_AVX2, model_avx2_linear_forward, model_avx2_linear_gelu_forward, model_avx2_linear_norm_add_forward,
    model_avx2_window_attention, model_gelu_forward_avx2, model_layernorm_forward_avx2, model_layernorm_add_avx2,
};
static const model_ops ops_avx512 = {
    MODEL_KERNEL_AVX512, model_avx512_linear_forward, model_avx512_linear_gelu_forward,
    model_avx512_linear_norm_add_forward, model_f32_window_attention, model_gelu_forward_avx512,
    model_layernorm_forward_avx512, model_layernorm_add_avx512,
};

const model_ops *model_ops_for(int kernel) {
    return kernel == MODEL_KERNEL_AVX512 ? &ops_avx512 : kernel == MODEL_KERNEL_AVX2 ? &ops_avx2 : &ops_blas;
}

/* The packed FP32 GEMMs, on the kernel the matrix was packed for. */
void model_f32_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                              const float *b, int rows, int accumulate) {
    model_ops_for(w->kernel)->linear(out, ldo, in, ldi, w, b, rows, accumulate);
}

void model_f32_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                   const float *b, int rows) {
    model_ops_for(w->kernel)->linear_gelu(out, ldo, in, ldi, w, b, rows);
}

void model_f32_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_f32_matrix *w,
                                       const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok) {
    model_ops_for(w->kernel)->linear_norm_add(x, y, in, ldi, w, b, norm_w, norm_b, rows, tok);
}
