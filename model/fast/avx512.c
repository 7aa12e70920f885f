/* model fast/avx512: the FP32 GEMMs of the step on packed weights, AVX-512.
 *
 * Why not OpenBLAS for these: which OpenBLAS kernel runs depends on its CPU
 * detection and on OPENBLAS_CORETYPE, which environments set (some pin the
 * AVX2 "Haswell" kernel on AVX-512 CPUs). This kernel always uses the CPU it
 * runs on, packs each weight once where OpenBLAS repacks it on every call,
 * and adds the bias in the accumulators (measurements: docs/speed.md,
 * "Kernel design measurements").
 * OpenBLAS SGEMM stays the plain twin and the path for CPUs without AVX2
 * (model_linear_forward); CPUs with AVX2 + FMA but no AVX-512 run
 * model/fast/avx2.c on the same panels. model_kernel() makes the choice.
 *
 * Layout: W (n, k) of y = x W^T is packed into panels of 32 output columns;
 * panel p holds, for each input i, the 32 floats W[32p + j][i] (zeros past n).
 * Activations are read in place, in blocks of MC rows by KC inputs; a last
 * tile of fewer than MR rows is copied and padded with zero rows, so the
 * micro-kernel never reads outside them. The micro-kernel
 * keeps a 12 x 32 tile in 24 zmm registers and per input loads two weight
 * vectors and broadcasts one activation per row (12 rows, not the BF16
 * kernel's 14: attention's 144-row windows are 12 whole tiles, and the
 * addressing of 12 rows spills fewer registers; the same bits either way).
 * Sums run in input order with FMA, so results
 * differ from SGEMM's by rounding only (a few 1e-7 relative). */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/util.h"
#include "../internal.h"
#include "simd.h"

enum {
    NR = MODEL_F32_PANEL, /* output columns per panel: two zmm vectors */
    MR = 12,              /* rows per micro-tile: 24 accumulators */
    /* rows (MC) and inputs (KC) per block: model_blocking_get (model/cpu.c) */
};



#if MODEL_X86

/* c (MR x 32 tile, rows < mvalid, columns < ncols) = [c if load_c] + [bias]
 * + a (MR rows of kc inputs, lda apart) . panel (kc inputs x 32). */
AVX512_INLINE void micro_kernel(float *c, size_t ldc, const float *a, size_t lda, const float *b, int kc, int mvalid,
                                int ncols, const float *bias, int load_c) {
    __mmask16 m0 = mask16(ncols), m1 = mask16(ncols - 16);
    __m512 c0[MR], c1[MR];
    tile_start(c0, c1, MR, c, ldc, mvalid, m0, m1, bias, load_c);
    for (int q = 0; q < kc; q++) {
        __m512 b0 = _mm512_load_ps(b + (size_t)q * NR), b1 = _mm512_load_ps(b + (size_t)q * NR + 16);
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[(size_t)i * lda + q]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
    }
    tile_store(c, ldc, c0, c1, MR, mvalid, m0, m1);
}

/* The last, partial tile of a block: one per thread, so the kernel needs no allocation. */
static _Thread_local float abuf[MR * MODEL_KC_MAX] __attribute__((aligned(64)));

AVX512_TARGET void model_gelu_forward_avx512(float *out, const float *in, size_t n) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), rs2 = _mm512_set1_ps((float)M_SQRT1_2);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 m = mask16(n - j > 16 ? 16 : (int)(n - j));
        __m512 x = _mm512_maskz_loadu_ps(m, in + j);
        __m512 y = _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, erf512(_mm512_mul_ps(x, rs2))));
        _mm512_mask_storeu_ps(out + j, m, y);
    }
}

#define GEMM_INLINE AVX512_INLINE
#define GEMM_GELU model_gelu_forward_avx512
#define GEMM_NORM_ADD model_layernorm_add_avx512
#define GEMM_KERNEL MODEL_KERNEL_AVX512
#include "gemm_f32.h"

#define GEMM_TARGET AVX512_TARGET
#define GEMM_MATRIX model_f32_matrix
#define GEMM_LINEAR model_avx512_linear_forward
#define GEMM_LINEAR_GELU model_avx512_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_avx512_linear_norm_add_forward
#include "gemm_entry.h"


/* mean and 1 / sqrt(var + 1e-5) of one row, two passes in FP32 lanes; the
 * first sums x - x[0] so a large common offset costs no precision. */
AVX512_INLINE void row_moments(const float *x, int C, float *mean, float *rstd) {
    __m512 s = _mm512_setzero_ps(), x0 = _mm512_set1_ps(x[0]);
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = mask16(C - i);
        s = _mm512_add_ps(s, _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), x0));
    }
    float m = x[0] + _mm512_reduce_add_ps(s) / (float)C;
    __m512 vm = _mm512_set1_ps(m), v = _mm512_setzero_ps();
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = mask16(C - i);
        __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), vm);
        v = _mm512_fmadd_ps(d, d, v);
    }
    *mean = m;
    *rstd = 1.0f / sqrtf(_mm512_reduce_add_ps(v) / (float)C + 1e-5f);
}

#define LN_TARGET AVX512_TARGET
#define LN_V __m512
#define LN_LANES 16
#define LN_FORWARD model_layernorm_forward_avx512
#define LN_ADD model_layernorm_add_avx512
#define LN_SET1 _mm512_set1_ps
#define LN_SUB _mm512_sub_ps
#define LN_MUL _mm512_mul_ps
#define LN_ADD_PS _mm512_add_ps
#define LN_FMADD _mm512_fmadd_ps
#define LN_LOADN(p, n) _mm512_maskz_loadu_ps(mask16(n), p)
#define LN_STOREN(p, v, n) _mm512_mask_storeu_ps(p, mask16(n), v)
#include "layernorm.h"


/* o[0, d) *= inv */
AVX512_INLINE void scale_row(float *o, int d, float inv) {
    __m512 vi = _mm512_set1_ps(inv);
    for (int c = 0; c < d; c += 16) {
        __mmask16 m = mask16(d - c);
        _mm512_mask_storeu_ps(o + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, o + c), vi));
    }
}

#define ATT_TARGET AVX512_TARGET
#define ATT_NAME model_f32_window_attention
#define ATT_LINEAR model_avx512_linear_forward
#define ATT_SOFTMAX softmax_row_unscaled
#define ATT_SCALE_ROW scale_row
#include "attention.h"

#else /* no x86-64: model_kernel() is blas and these are never reached; the twins stand in */
#define GEMM_TARGET
#define GEMM_MATRIX model_f32_matrix
#define GEMM_REF model_ref_f32
#define GEMM_LINEAR model_avx512_linear_forward
#define GEMM_LINEAR_GELU model_avx512_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_avx512_linear_norm_add_forward
#include "gemm_entry.h"
void model_gelu_forward_avx512(float *out, const float *in, size_t n) { model_gelu_forward(out, in, n); }
void model_layernorm_forward_avx512(float *out, const float *in, const float *w, const float *b, int rows, int C) {
    model_layernorm_forward(out, in, w, b, rows, C);
}
void model_layernorm_add_avx512(float *x, const float *y, const float *w, const float *b, int C) {
    model_layernorm_add(x, y, w, b, C);
}
void model_f32_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                int C, int heads, float *scores, float *packs) {
    (void)packs;
    model_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores);
}
#endif
