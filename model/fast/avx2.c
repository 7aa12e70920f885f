/* model avx2: the FP32 step's kernels for CPUs with AVX2 and FMA but no
 * AVX-512 (Haswell to Ice Lake client parts, Xeons of those generations,
 * AMD Zen 1-3 EPYCs): the packed GEMM, GELU, LayerNorm and the window
 * attention's softmax in ymm registers.
 *
 * Why not OpenBLAS on these CPUs: which OpenBLAS kernel runs depends on its
 * CPU detection and OPENBLAS_CORETYPE; OpenBLAS repacks each weight on every
 * call; and the bias, GELU and the post-norm residual add are separate passes
 * over outputs that have left the caches. The kernel below packs each weight
 * once and fuses them, as model/fast/avx512.c does on AVX-512.
 *
 * Layout: panels of MODEL_AVX2_PANEL = 16 output columns (model/fast/avx512.c's
 * with 16 instead of 32: per input the 16 floats of its columns, zeros past
 * n). The micro-kernel keeps a 6 x 16 tile in 12 ymm accumulators and per
 * input loads the two weight vectors and broadcasts one activation per row
 * (15 of 16 registers: the classic Haswell shape). A panel's slice of KC
 * inputs (KC x 64 B, contiguous) stays in L1 while the block's MC rows of
 * activations (L2) stream past. (On the AVX-512 kernel's 32-column panels
 * run as two halves, the slice's 64-byte lines were 128 bytes apart and only
 * half of L1's sets held it: docs/speed.md, "Kernel design measurements".)
 * Sums run in input order with FMA from [out] + [bias], as the AVX-512
 * kernel: the two give the same bits, and neither depends on the blocking.
 *
 * Only the functions marked AVX2_TARGET use AVX2 instructions; model_kernel()
 * (model/cpu.c) checks the CPU at run time. Twins: model_ref_gemm,
 * model_gelu_forward, model_layernorm_forward, model_window_attention. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/util.h"
#include "../internal.h"
#include "simd.h"

#if MODEL_X86

#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline)) AVX2_TARGET

enum {
    NR = MODEL_AVX2_PANEL, /* columns per panel and micro-tile: two ymm vectors */
    MR = 6,               /* rows per micro-tile: 12 accumulators */
};

/* lanes < n set */
AVX2_INLINE __m256i mask8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
AVX2_INLINE __m256 loadn(const float *p, int n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask8(n));
}
AVX2_INLINE void storen(float *p, __m256 v, int n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else if (n > 0) _mm256_maskstore_ps(p, mask8(n), v);
}
AVX2_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AVX2_INLINE float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* erf256 and exp256: fast/simd_math.h at 8 lanes (erf512 and exp512's bits). 2^n
 * is built in the exponent field (n in [-126, 127] after the clamp): y * 2^n
 * is exact, as AVX-512's scalef. */
AVX2_INLINE __m256 scale2_256(__m256 y, __m256 n) {
    return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)));
}
#define SIMD_INLINE AVX2_INLINE
#define SIMD_V __m256
#define SIMD_FN(name) name##256
#define SIMD_SET1 _mm256_set1_ps
#define SIMD_ADD _mm256_add_ps
#define SIMD_MUL _mm256_mul_ps
#define SIMD_DIV _mm256_div_ps
#define SIMD_MIN _mm256_min_ps
#define SIMD_MAX _mm256_max_ps
#define SIMD_FMADD _mm256_fmadd_ps
#define SIMD_FNMADD _mm256_fnmadd_ps
#define SIMD_ROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define SIMD_SCALE2 scale2_256
#include "simd_math.h"

AVX2_TARGET void model_gelu_forward_avx2(float *out, const float *in, size_t n) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), rs2 = _mm256_set1_ps((float)M_SQRT1_2);
    for (size_t j = 0; j < n; j += 8) {
        int m = n - j > 8 ? 8 : (int)(n - j);
        __m256 x = loadn(in + j, m);
        storen(out + j, _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, erf256(_mm256_mul_ps(x, rs2)))), m);
    }
}

/* mean and 1 / sqrt(var + 1e-5) of one row, two passes in FP32 lanes; the
 * first sums x - x[0] so a large common offset costs no precision (masked
 * lanes load 0 and subtract nothing: the blend keeps them 0). */
AVX2_INLINE void row_moments(const float *x, int C, float *mean, float *rstd) {
    __m256 s = _mm256_setzero_ps(), x0 = _mm256_set1_ps(x[0]);
    int i = 0;
    for (; i + 8 <= C; i += 8) s = _mm256_add_ps(s, _mm256_sub_ps(_mm256_loadu_ps(x + i), x0));
    if (i < C) {
        __m256i k = mask8(C - i);
        s = _mm256_add_ps(s, _mm256_and_ps(_mm256_castsi256_ps(k), _mm256_sub_ps(_mm256_maskload_ps(x + i, k), x0)));
    }
    float m = x[0] + hsum8(s) / (float)C;
    __m256 vm = _mm256_set1_ps(m), v = _mm256_setzero_ps();
    for (i = 0; i + 8 <= C; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        v = _mm256_fmadd_ps(d, d, v);
    }
    if (i < C) {
        __m256i k = mask8(C - i);
        __m256 d = _mm256_and_ps(_mm256_castsi256_ps(k), _mm256_sub_ps(_mm256_maskload_ps(x + i, k), vm));
        v = _mm256_fmadd_ps(d, d, v);
    }
    *mean = m;
    *rstd = 1.0f / sqrtf(hsum8(v) / (float)C + 1e-5f);
}

#define LN_TARGET AVX2_TARGET
#define LN_V __m256
#define LN_LANES 8
#define LN_FORWARD model_layernorm_forward_avx2
#define LN_ADD model_layernorm_add_avx2
#define LN_SET1 _mm256_set1_ps
#define LN_SUB _mm256_sub_ps
#define LN_MUL _mm256_mul_ps
#define LN_ADD_PS _mm256_add_ps
#define LN_FMADD _mm256_fmadd_ps
#define LN_LOADN loadn
#define LN_STOREN storen
#include "layernorm.h"

/* c (MR x 16 tile: rows < mvalid, columns < ncols) = [c if load_c] + [bias]
 * + a (MR rows of kc inputs, lda apart) . b (kc inputs, NR floats apart). */
AVX2_INLINE void micro_kernel(float *c, size_t ldc, const float *a, size_t lda, const float *b, int kc, int mvalid,
                              int ncols, const float *bias, int load_c) {
    __m256 c0[MR], c1[MR];
    __m256 i0 = bias ? loadn(bias, ncols) : _mm256_setzero_ps();
    __m256 i1 = bias ? loadn(bias + 8, ncols - 8) : _mm256_setzero_ps();
    if (ncols < 8) i1 = _mm256_setzero_ps();
    _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {
        c0[i] = i0, c1[i] = i1;
        if (load_c && i < mvalid) {
            c0[i] = _mm256_add_ps(c0[i], loadn(c + (size_t)i * ldc, ncols));
            if (ncols > 8) c1[i] = _mm256_add_ps(c1[i], loadn(c + (size_t)i * ldc + 8, ncols - 8));
        }
    }
    for (int q = 0; q < kc; q++) {
        __m256 b0 = _mm256_load_ps(b + (size_t)q * NR), b1 = _mm256_load_ps(b + (size_t)q * NR + 8);
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + (size_t)i * lda + q);
            c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
        }
    }
    if (ncols >= NR) {
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) if (i < mvalid) {
            _mm256_storeu_ps(c + (size_t)i * ldc, c0[i]);
            _mm256_storeu_ps(c + (size_t)i * ldc + 8, c1[i]);
        }
    } else {
        /* unrolled too: a loop indexing the arrays would keep them in memory */
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) if (i < mvalid) {
            storen(c + (size_t)i * ldc, c0[i], ncols);
            storen(c + (size_t)i * ldc + 8, c1[i], ncols - 8);
        }
    }
}

/* The last, partial tile of a block: one per thread, so the kernel needs no allocation. */
static _Thread_local float abuf[MR * MODEL_KC_MAX] __attribute__((aligned(64)));

#define GEMM_INLINE AVX2_INLINE
#define GEMM_GELU model_gelu_forward_avx2
#define GEMM_NORM_ADD model_layernorm_add_avx2
#define GEMM_KERNEL MODEL_KERNEL_AVX2
#include "gemm_f32.h"

#define GEMM_TARGET AVX2_TARGET
#define GEMM_MATRIX model_f32_matrix
#define GEMM_LINEAR model_avx2_linear_forward
#define GEMM_LINEAR_GELU model_avx2_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_avx2_linear_norm_add_forward
#include "gemm_entry.h"

/* r[i] (8 floats each) becomes column i: r[j][i] <- r[i][j]. */
AVX2_INLINE void transpose8(__m256 r[8]) {
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

/* The attention's keys and values packed as the weights of q k^T and p v,
 * for both FP32 kernels (AVX2 runs on every AVX-512 CPU): the panels of
 * model_f32_pack_into_width (model/pack.c), which a scalar loop wrote about
 * half as fast again as the whole attention (docs/speed.md).
 * Keys: W (n = key, k = channel), panel p holds per channel the nr keys
 * nr p.. nr p + nr - 1, a transpose 8 x 8 at a time (nr a multiple of 8). */
AVX2_TARGET void model_f32_pack_keys(float *dst, int nr, const float *k, size_t ld, int N, int d) {
    int panels = (N + nr - 1) / nr;
    for (int kb = 0; kb < panels * nr; kb += 8) {
        int pn = kb / nr, jo = kb % nr;
        for (int c0 = 0; c0 < d; c0 += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = kb + i < N ? loadn(k + (size_t)(kb + i) * ld + c0, d - c0) : _mm256_setzero_ps();
            transpose8(r);
            for (int i = 0; i < 8 && c0 + i < d; i++) _mm256_store_ps(dst + ((size_t)pn * d + c0 + i) * nr + jo, r[i]);
        }
    }
}

/* Values: W (n = channel, k = key), per key the nr channels of the panel. */
AVX2_TARGET void model_f32_pack_values(float *dst, int nr, const float *v, size_t ld, int N, int d) {
    int panels = (d + nr - 1) / nr;
    for (int pn = 0; pn < panels; pn++)
        for (int key = 0; key < N; key++)
            for (int j = 0; j < nr; j += 8) {
                int c0 = pn * nr + j;
                _mm256_store_ps(dst + ((size_t)pn * N + key) * nr + j,
                                c0 < d ? loadn(v + (size_t)key * ld + c0, d - c0) : _mm256_setzero_ps());
            }
}

/* softmax_row_unscaled of avx512.h: s = exp(v - max v), v = s * scale + bias
 * (- 100 where the key's label differs from `li`); returns 1 / sum s. */
AVX2_INLINE float softmax_row8(float *s, const float *bt, const int *labels, int li, int N, float scale) {
    const __m256 sc = _mm256_set1_ps(scale), pen = _mm256_set1_ps(-100.0f), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i vli = _mm256_set1_epi32(li);
    __m256 mx = ninf, sum = _mm256_setzero_ps();
    for (int j = 0; j < N; j += 8) {
        int m = N - j;
        __m256 v = _mm256_fmadd_ps(loadn(s + j, m), sc, loadn(bt + j, m));
        if (labels) {
            __m256i lj = m >= 8 ? _mm256_loadu_si256((const __m256i *)(labels + j))
                                : _mm256_maskload_epi32(labels + j, mask8(m));
            __m256 diff = _mm256_castsi256_ps(_mm256_cmpeq_epi32(lj, vli));
            v = _mm256_add_ps(v, _mm256_andnot_ps(diff, pen));
        }
        storen(s + j, v, m);
        if (m < 8) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(mask8(m)));
        mx = _mm256_max_ps(mx, v);
    }
    __m256 vmax = _mm256_set1_ps(hmax8(mx));
    for (int j = 0; j < N; j += 8) {
        int m = N - j;
        __m256 e = exp256(_mm256_sub_ps(loadn(s + j, m), vmax));
        storen(s + j, e, m);
        if (m < 8) e = _mm256_and_ps(e, _mm256_castsi256_ps(mask8(m)));
        sum = _mm256_add_ps(sum, e);
    }
    return 1.0f / hsum8(sum);
}

/* o[0, d) *= inv */
AVX2_INLINE void scale_row(float *o, int d, float inv) {
    __m256 vi = _mm256_set1_ps(inv);
    for (int c = 0; c < d; c += 8) storen(o + c, _mm256_mul_ps(loadn(o + c, d - c), vi), d - c);
}

#define ATT_TARGET AVX2_TARGET
#define ATT_NAME model_avx2_window_attention
#define ATT_LINEAR model_avx2_linear_forward
#define ATT_SOFTMAX softmax_row8
#define ATT_SCALE_ROW scale_row
#include "attention.h"

#else /* no x86-64: model_kernel() never chooses AVX2 and these are never reached; the twins stand in */
void model_f32_pack_keys(float *dst, int nr, const float *k, size_t ld, int N, int d) {
    model_f32_pack_into_width(dst, nr, k, N, d, ld, 1);
}
void model_f32_pack_values(float *dst, int nr, const float *v, size_t ld, int N, int d) {
    model_f32_pack_into_width(dst, nr, v, d, N, 1, ld);
}
void model_gelu_forward_avx2(float *out, const float *in, size_t n) { model_gelu_forward(out, in, n); }
void model_layernorm_forward_avx2(float *out, const float *in, const float *w, const float *b, int rows, int C) {
    model_layernorm_forward(out, in, w, b, rows, C);
}
void model_layernorm_add_avx2(float *x, const float *y, const float *w, const float *b, int C) {
    model_layernorm_add(x, y, w, b, C);
}
#define GEMM_TARGET
#define GEMM_MATRIX model_f32_matrix
#define GEMM_REF model_ref_f32
#define GEMM_LINEAR model_avx2_linear_forward
#define GEMM_LINEAR_GELU model_avx2_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_avx2_linear_norm_add_forward
#include "gemm_entry.h"
void model_avx2_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                 int C, int heads, float *scores, float *packs) {
    (void)packs;
    model_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores);
}
#endif
