/* model fast/simd.h: AVX-512F helpers shared by the packed FP32 kernels
 * (fast/avx512.c, fast/avx2.c) and the BF16 ones (fast/bf16.c). Internal to model/.
 *
 * Only functions carrying AVX512_TARGET (or a superset) use AVX-512: the rest
 * of the build stays portable, and model_f32_available() /
 * model_bf16_available() check the CPU at run time. */
#ifndef PANGU_MODEL_AVX512_H
#define PANGU_MODEL_AVX512_H

/* PANGU_PORTABLE: build as for a CPU other than x86-64 (make portable-check) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(PANGU_PORTABLE)
#define MODEL_X86 1
#include <immintrin.h>
#include <math.h>

#include "../internal.h"
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define AVX512_INLINE static inline __attribute__((always_inline)) AVX512_TARGET

/* The coefficients of the erf and exp approximations, one table for the
 * AVX-512 (erf512, exp512 below) and AVX2 (fast/avx2.c: erf256, exp256)
 * versions, which run the same operations in the same order lane for lane. */
enum { SIMD_ERF_NP = 7, SIMD_ERF_NQ = 5, SIMD_EXP_NP = 6 };
static const float simd_erf_p[SIMD_ERF_NP] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                                             -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                                             -1.60960333262415e-02f};
static const float simd_erf_q[SIMD_ERF_NQ] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                                             -7.37332916720468e-03f, -1.42647390514189e-02f};
static const float simd_exp_p[SIMD_EXP_NP] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                             4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
#define SIMD_LOG2E 1.44269504088896341f
#define SIMD_LN2_HI 0.693359375f
#define SIMD_LN2_LO (-2.12194440e-4f)

static inline __mmask16 mask16(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }
static inline __mmask32 mask32(int n) { return n >= 32 ? (__mmask32)0xffffffffu : n <= 0 ? 0 : (__mmask32)((1u << n) - 1); }


/* ---- FP32 elementwise math, vectorised ----
 * AVX-512 versions of glibc's scalar erff and expf, which dominate the
 * elementwise time when scalar (docs/speed.md): erf512, exp512. */
#define SIMD_INLINE AVX512_INLINE
#define SIMD_V __m512
#define SIMD_FN(name) name##512
#define SIMD_SET1 _mm512_set1_ps
#define SIMD_ADD _mm512_add_ps
#define SIMD_MUL _mm512_mul_ps
#define SIMD_DIV _mm512_div_ps
#define SIMD_MIN _mm512_min_ps
#define SIMD_MAX _mm512_max_ps
#define SIMD_FMADD _mm512_fmadd_ps
#define SIMD_FNMADD _mm512_fnmadd_ps
#define SIMD_ROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define SIMD_SCALE2 _mm512_scalef_ps
#include "simd_math.h"

/* ---- the accumulators of a micro-tile of 32 columns (two zmm per row),
 * for the FP32 (fast/avx512.c) and BF16 (fast/bf16.c) micro-kernels ---- */

/* c0[i], c1[i] (i < mr) = [bias] + [c's row i if load_c and i < mvalid], the
 * columns past the masks zero. */
AVX512_INLINE void tile_start(__m512 *c0, __m512 *c1, int mr, const float *c, size_t ldc, int mvalid, __mmask16 m0,
                              __mmask16 m1, const float *bias, int load_c) {
    __m512 i0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 i1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
        c0[i] = i0, c1[i] = i1;
        if (load_c && i < mvalid) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c + (size_t)i * ldc));
            c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + (size_t)i * ldc + 16));
        }
    }
}

/* c's rows i < mvalid (columns by the masks) = c0[i], c1[i] */
AVX512_INLINE void tile_store(float *c, size_t ldc, const __m512 *c0, const __m512 *c1, int mr, int mvalid,
                              __mmask16 m0, __mmask16 m1) {
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
        if (i < mvalid) {
            _mm512_mask_storeu_ps(c + (size_t)i * ldc, m0, c0[i]);
            _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16, m1, c1[i]);
        }
}

/* One row of scores, unnormalised: s = exp(v - max v) with v = s * scale +
 * bias (- 100 where the key's label differs from the query's `li`), as
 * model_window_attention's loop; returns 1 / sum s. */
AVX512_INLINE float softmax_row_unscaled(float *s, const float *bt, const int *labels, int li, int N, float scale) {
    const __m512 sc = _mm512_set1_ps(scale), pen = _mm512_set1_ps(-100.0f);
    __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
    for (int j = 0; j < N; j += 16) {
        __mmask16 m = mask16(N - j);
        __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, s + j), sc, _mm512_maskz_loadu_ps(m, bt + j));
        if (labels) {
            __mmask16 diff = _mm512_mask_cmpneq_epi32_mask(m, _mm512_maskz_loadu_epi32(m, labels + j), _mm512_set1_epi32(li));
            v = _mm512_mask_add_ps(v, diff, v, pen);
        }
        _mm512_mask_storeu_ps(s + j, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    for (int j = 0; j < N; j += 16) {
        __mmask16 m = mask16(N - j);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vmax));
        _mm512_mask_storeu_ps(s + j, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    return 1.0f / _mm512_reduce_add_ps(sum);
}

/* One row of scores: s = softmax(s * scale + bias (- 100 where the key's
 * label differs from the query's `li`)), as model_window_attention's loop. */
AVX512_INLINE void softmax_row(float *s, const float *bt, const int *labels, int li, int N, float scale) {
    __m512 inv = _mm512_set1_ps(softmax_row_unscaled(s, bt, labels, li, N, scale));
    for (int j = 0; j < N; j += 16) {
        __mmask16 m = mask16(N - j);
        _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
    }
}

/* Window attention, head h of window w (base: the window's first qkv row,
 * rows 3C floats apart): prefetch the next head's q, k and v rows (the next
 * window's first head after the last). A window type's qkv is megabytes, so
 * they come from L3; fetched while this head computes, the strided loads of
 * the key and value packing no longer stall. SSE only: the AVX2 kernel
 * uses it too. */
static inline __attribute__((always_inline)) void prefetch_next_head(const float *base, int w, int nW, int h, int heads, int N, int C) {
    if (w == nW - 1 && h == heads - 1) return;
    int d = C / heads;
    size_t ld = 3 * (size_t)C;
    const float *next = h + 1 < heads ? base + (size_t)(h + 1) * d : base + (size_t)N * ld;
    for (int i = 0; i < N; i++)
        for (int part = 0; part < 3; part++)
            for (int c = 0; c < d; c += 16)
                _mm_prefetch((const char *)(next + (size_t)i * ld + (size_t)part * C + c), _MM_HINT_T0);
}

#else
#define MODEL_X86 0
#endif

#endif
