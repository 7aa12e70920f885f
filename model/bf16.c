/* model bf16: reduced-precision inference (`--precision bf16`).
 *
 * The GEMMs take bfloat16 weights and activations and accumulate in FP32 with
 * AVX512_BF16's VDPBF16PS; everything else (LayerNorm, GELU, softmax, the
 * residual stream) stays FP32. Debian's OpenBLAS 0.3.21 is built without
 * BUILD_BFLOAT16: cblas.h declares cblas_sbgemm but libopenblas.so exports no
 * such symbol, so the kernel is ours.
 *
 * Layouts. A linear layer y = x W^T + b with W (n, k) is packed once, when the
 * precision is set, into panels of 32 output columns: panel p holds, for each
 * pair of inputs (2q, 2q+1), 32 32-bit words whose low half is bf16(W[j][2q])
 * and high half bf16(W[j][2q+1]) (zeros past n and k). Activations are
 * rounded to bf16 row by row as they enter the kernel, in blocks of MC rows by
 * KC pairs, so each element is converted once per GEMM. The micro-kernel keeps
 * a 14 x 32 FP32 tile in 28 zmm registers; per pair of inputs it loads the two
 * weight vectors and broadcasts one 32-bit activation pair per row.
 *
 * In attention, q k^T and p v run through the same kernel: per window and
 * head the keys and values are packed as its weights (vectorised), q and the
 * softmax weights are the activations. The softmax and GELU of the BF16 path
 * are FP32 but vectorised (AVX-512 exp and erf) instead of glibc's scalar
 * expf and erff, which took a third of the step once the GEMMs ran in BF16.
 *
 * Only the functions marked BF16_TARGET use AVX-512 instructions: the rest of
 * the build stays portable, and model_bf16_available() checks the CPU at run
 * time. Rounding is round-to-nearest-even with denormal inputs flushed to
 * signed zero and NaN kept quiet: what VCVTNE2PS2BF16 does, so the scalar
 * twins (model_bf16_round, model_bf16_linear_ref) give the same bf16 values. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "../util/util.h"
#include "model.h"

#include "avx512.h"
#if MODEL_X86
#define BF16_X86 1
#define BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))
#define BF16_INLINE static inline __attribute__((always_inline)) BF16_TARGET
#else
#define BF16_X86 0
#endif

enum {
    NR = MODEL_BF16_PANEL, /* output columns per panel: two zmm vectors */
    MR = 14,               /* rows per micro-tile: 28 accumulators */
    MC = 8 * MR,           /* rows converted per block */
    KCP = 192,             /* input pairs per block: 384 inputs, a 24 KB weight panel */
};

/* ---- scalar conversions (the twins) ---- */

uint16_t model_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN, quiet */
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);      /* zero, denormal: signed zero */
    u += 0x7fffu + ((u >> 16) & 1u);                                          /* nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float model_bf16_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void model_bf16_convert_ref(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = model_bf16_round(src[i]);
}

int model_bf16_available(void) {
    const char *off = getenv("PANGU_NO_BF16"); /* tests: act as a CPU without AVX512_BF16 */
    if (off && *off && strcmp(off, "0") != 0) return 0;
#if BF16_X86
    /* PANGU_NO_AVX512 / PANGU_NO_AVX2 act as a CPU without AVX-512: no BF16 either */
    return model_kernel() == MODEL_KERNEL_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

/* ---- packing ---- */

size_t model_bf16_packed_words(int n, int k) {
    size_t kp = ((size_t)k + 1) / 2, panels = ((size_t)n + NR - 1) / NR;
    return panels * kp * NR;
}

void model_bf16_pack_into(uint32_t *dst, const float *w, int n, int k, size_t sn, size_t sk) {
    int kp = (k + 1) / 2, panels = (n + NR - 1) / NR;
    for (int pn = 0; pn < panels; pn++)
        for (int q = 0; q < kp; q++) {
            uint32_t *o = dst + ((size_t)pn * kp + q) * NR;
            for (int j = 0; j < NR; j++) {
                int col = pn * NR + j, k0 = 2 * q, k1 = 2 * q + 1;
                uint32_t lo = 0, hi = 0;
                if (col < n) {
                    lo = model_bf16_round(w[(size_t)col * sn + (size_t)k0 * sk]);
                    if (k1 < k) hi = model_bf16_round(w[(size_t)col * sn + (size_t)k1 * sk]);
                }
                o[j] = lo | hi << 16;
            }
        }
}

int model_bf16_pack(model_bf16_matrix *p, const float *w, int n, int k, size_t sn, size_t sk) {
    memset(p, 0, sizeof *p);
    if (n < 1 || k < 1) return util_fail(UTIL_EINVAL, "bf16 pack: empty %d x %d matrix", n, k);
    p->data = util_aligned_alloc(sizeof(uint32_t) * model_bf16_packed_words(n, k));
    if (!p->data) return util_fail(UTIL_ENOMEM, "out of memory for bf16 weights");
    p->n = n, p->k = k, p->kp = (k + 1) / 2, p->panels = (n + NR - 1) / NR;
    model_bf16_pack_into(p->data, w, n, k, sn, sk);
    return UTIL_OK;
}

void model_bf16_matrix_free(model_bf16_matrix *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

/* ---- the scalar twin of the GEMM ---- */

void model_bf16_linear_ref(float *out, size_t ldo, const float *in, size_t ldi, const float *w, size_t sn, size_t sk,
                           const float *b, int rows, int k, int n, int accumulate) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) {
            float acc = accumulate ? out[(size_t)r * ldo + j] : 0.0f;
            if (b) acc += b[j];
            for (int i = 0; i < k; i++)
                acc += model_bf16_float(model_bf16_round(in[(size_t)r * ldi + i])) *
                       model_bf16_float(model_bf16_round(w[(size_t)j * sn + (size_t)i * sk]));
            out[(size_t)r * ldo + j] = acc;
        }
}

/* The twin of model_bf16_window_attention with bf16_gemms: q, k, the
 * softmax weights p and v rounded to bf16, sums in FP32, softmax as
 * model_window_attention's. */
void model_bf16_window_attention_ref(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                     int C, int heads, float *scores) {
    int d = C / heads, ld = 3 * C;
    float scale = (float)(1.0 / sqrt((double)d));
#define BF(x) model_bf16_float(model_bf16_round(x))
    for (int w = 0; w < nW; w++) {
        const float *base = qkv + (size_t)w * N * ld;
        for (int h = 0; h < heads; h++) {
            const float *q = base + h * d, *k = base + C + h * d, *v = base + 2 * C + h * d;
            const float *bt = bias_t + (size_t)h * N * N;
            for (int i = 0; i < N; i++) {
                float *s = scores + (size_t)i * N, mx = -INFINITY, sum = 0;
                for (int j = 0; j < N; j++) {
                    float acc = 0;
                    for (int c = 0; c < d; c++) acc += BF(q[(size_t)i * ld + c]) * BF(k[(size_t)j * ld + c]);
                    s[j] = acc * scale + bt[i * N + j];
                    if (labels && labels[i] != labels[j]) s[j] += -100.0f;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < N; j++) sum += s[j] = expf(s[j] - mx);
                for (int j = 0; j < N; j++) s[j] *= 1.0f / sum;
            }
            for (int i = 0; i < N; i++)
                for (int c = 0; c < d; c++) {
                    float acc = 0;
                    for (int j = 0; j < N; j++) acc += BF(scores[(size_t)i * N + j]) * BF(v[(size_t)j * ld + c]);
                    out[((size_t)w * N + i) * C + h * d + c] = acc;
                }
        }
    }
#undef BF
}

#if BF16_X86
/* ---- AVX512_BF16 ---- */

/* dst[0, total) = bf16(src[0, valid)) followed by zeros; total even. */
BF16_INLINE void convert_row(uint16_t *dst, const float *src, int valid, int total) {
    for (int j = 0; j < total; j += 32) {
        int v = valid - j;
        __m512 lo = _mm512_maskz_loadu_ps(mask16(v), src + j);
        __m512 hi = _mm512_maskz_loadu_ps(mask16(v - 16), src + j + 16);
        __m512i h = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        _mm512_mask_storeu_epi16(dst + j, mask32(total - j), h);
    }
}

BF16_TARGET void model_bf16_convert(uint16_t *dst, const float *src, size_t n) {
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512i h = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + j + 16), _mm512_loadu_ps(src + j));
        _mm512_storeu_si512(dst + j, h);
    }
    if (j < n) {
        int v = (int)(n - j);
        __m512 lo = _mm512_maskz_loadu_ps(mask16(v), src + j);
        __m512 hi = _mm512_maskz_loadu_ps(mask16(v - 16), src + j + 16);
        _mm512_mask_storeu_epi16(dst + j, mask32(v), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
}

/* c (MR x 32 tile, rows < mvalid, columns by masks) = [c if load_c] + [bias]
 * + a (MR rows of kc pairs, lda words apart) . panel (kc pairs x 32). */
BF16_INLINE void micro_kernel(float *c, size_t ldc, const uint32_t *a, size_t lda, const uint32_t *b, int kc,
                              int mvalid, __mmask16 m0, __mmask16 m1, const float *bias, int load_c) {
    __m512 c0[MR], c1[MR];
    __m512 i0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 i1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {
        c0[i] = i0, c1[i] = i1;
        if (load_c && i < mvalid) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c + (size_t)i * ldc));
            c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + (size_t)i * ldc + 16));
        }
    }
    for (int q = 0; q < kc; q++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b + (size_t)q * NR);
        __m512bh b1 = (__m512bh)_mm512_load_si512(b + (size_t)q * NR + 16);
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[(size_t)i * lda + q]);
            c0[i] = _mm512_dpbf16_ps(c0[i], ai, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], ai, b1);
        }
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)
        if (i < mvalid) {
            _mm512_mask_storeu_ps(c + (size_t)i * ldc, m0, c0[i]);
            _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16, m1, c1[i]);
        }
}

/* Activation blocks: one per thread, so the kernel needs no allocation. */
static _Thread_local uint32_t abuf[MC * KCP] __attribute__((aligned(64)));

/* out = [out] + [b] + bf16(in) bf16(W)^T, then epi on each block of MC output rows once complete (avx512.h) */
BF16_INLINE void linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                                const float *b, int rows, int accumulate, const epilogue *epi) {
    int k = w->k, n = w->n;
    for (int q0 = 0; q0 < w->kp; q0 += KCP) {
        int kc = w->kp - q0 < KCP ? w->kp - q0 : KCP, first = q0 == 0;
        int kvalid = k - 2 * q0 < 2 * kc ? k - 2 * q0 : 2 * kc;
        for (int r0 = 0; r0 < rows; r0 += MC) {
            int mc = rows - r0 < MC ? rows - r0 : MC, mcp = (mc + MR - 1) / MR * MR;
            for (int i = 0; i < mcp; i++)
                convert_row((uint16_t *)(abuf + (size_t)i * KCP), in + (size_t)(r0 + i) * ldi + 2 * q0,
                            i < mc ? kvalid : 0, 2 * kc);
            for (int pn = 0; pn < w->panels; pn++) {
                int n0 = pn * NR;
                __mmask16 m0 = mask16(n - n0), m1 = mask16(n - n0 - 16);
                const uint32_t *bp = w->data + ((size_t)pn * w->kp + q0) * NR;
                for (int i0 = 0; i0 < mcp; i0 += MR)
                    micro_kernel(out + (size_t)(r0 + i0) * ldo + n0, ldo, abuf + (size_t)i0 * KCP, KCP, bp, kc,
                                 mc - i0, m0, m1, first && b ? b + n0 : NULL, accumulate || !first);
            }
            if (q0 + kc == w->kp) epilogue_rows(epi, out + (size_t)r0 * ldo, ldo, r0, mc, n);
        }
    }
}

BF16_TARGET void model_bf16_linear_forward(float *out, size_t ldo, const float *in, size_t ldi,
                                           const model_bf16_matrix *w, const float *b, int rows, int accumulate) {
    const epilogue none = {EPI_NONE, NULL, NULL, NULL};
    linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, &none);
}

BF16_TARGET void model_bf16_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi,
                                                const model_bf16_matrix *w, const float *b, int rows) {
    const epilogue gelu = {EPI_GELU, NULL, NULL, NULL};
    linear_forward(out, ldo, in, ldi, w, b, rows, 0, &gelu);
}

BF16_TARGET void model_bf16_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi,
                                                    const model_bf16_matrix *w, const float *b, const float *norm_w,
                                                    const float *norm_b, int rows, const long *tok) {
    const epilogue add = {EPI_NORM_ADD, x, norm_w, norm_b, tok};
    linear_forward(y, (size_t)w->n, in, ldi, w, b, rows, 0, &add);
}


/* Keys as the weight of q k^T: W (n = key, k = channel); each key's channel
 * pairs are one vector, scattered to the 32 keys of its panel. */
BF16_INLINE void pack_keys(uint32_t *dst, const float *k, size_t ld, int N, int d) {
    int kp = (d + 1) / 2, panels = (N + NR - 1) / NR;
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32(NR));
    for (int key = 0; key < panels * NR; key++) {
        uint32_t *base = dst + (size_t)(key / NR) * kp * NR + key % NR;
        for (int c0 = 0; c0 < d; c0 += 32) {
            int v = key < N ? d - c0 : 0;
            __m512 lo = _mm512_maskz_loadu_ps(mask16(v), k + (size_t)key * ld + c0);
            __m512 hi = _mm512_maskz_loadu_ps(mask16(v - 16), k + (size_t)key * ld + c0 + 16);
            __m512i w = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            _mm512_mask_i32scatter_epi32(base + (size_t)(c0 / 2) * NR, mask16(kp - c0 / 2), idx, w, 4);
        }
    }
}

/* Values as the weight of p v: W (n = channel, k = key); key pairs
 * interleaved, 16 channels at a time. */
BF16_INLINE void pack_values(uint32_t *dst, const float *v, size_t ld, int N, int d) {
    int kp = (N + 1) / 2, panels = (d + NR - 1) / NR;
    for (int pn = 0; pn < panels; pn++)
        for (int q = 0; q < kp; q++)
            for (int j = 0; j < NR; j += 16) {
                int c0 = pn * NR + j;
                __mmask16 m = mask16(d - c0);
                __m512 a = _mm512_maskz_loadu_ps(m, v + (size_t)(2 * q) * ld + c0);
                __m512 b = 2 * q + 1 < N ? _mm512_maskz_loadu_ps(m, v + (size_t)(2 * q + 1) * ld + c0) : _mm512_setzero_ps();
                __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(a));
                __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(b));
                _mm512_store_si512(dst + ((size_t)pn * kp + q) * NR + j, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
            }
}

size_t model_bf16_attention_words(int N, int d) {
    return model_bf16_packed_words(N, d) + model_bf16_packed_words(d, N) + 16;
}

BF16_TARGET void model_bf16_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels,
                                             int nW, int N, int C, int heads, float *scores, uint32_t *packs,
                                             int bf16_gemms) {
    int d = C / heads, ld = 3 * C;
    float scale = (float)(1.0 / sqrt((double)d));
    uint32_t *kbuf = (uint32_t *)(((uintptr_t)packs + 63) & ~(uintptr_t)63);
    model_bf16_matrix kw = {N, d, (d + 1) / 2, (N + NR - 1) / NR, kbuf};
    model_bf16_matrix vw = {d, N, (N + 1) / 2, (d + NR - 1) / NR, kbuf + model_bf16_packed_words(N, d)};
    for (int w = 0; w < nW; w++) {
        const float *base = qkv + (size_t)w * N * ld;
        for (int h = 0; h < heads; h++) {
            const float *q = base + h * d, *k = base + C + h * d, *v = base + 2 * C + h * d;
            const float *bt = bias_t + (size_t)h * N * N;
            float *o = out + (size_t)w * N * C + h * d;
            prefetch_next_head(base, w, nW, h, heads, N, C);
            if (bf16_gemms) {
                pack_keys(kw.data, k, (size_t)ld, N, d);
                model_bf16_linear_forward(scores, (size_t)N, q, (size_t)ld, &kw, NULL, N, 0);
            } else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, 1.0f, q, ld, k, ld, 0.0f, scores, N);
            for (int i = 0; i < N; i++)
                softmax_row(scores + (size_t)i * N, bt + (size_t)i * N, labels, labels ? labels[i] : 0, N, scale);
            if (bf16_gemms) {
                pack_values(vw.data, v, (size_t)ld, N, d);
                model_bf16_linear_forward(o, (size_t)C, scores, (size_t)N, &vw, NULL, N, 0);
            } else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, 1.0f, scores, N, v, ld, 0.0f, o, C);
        }
    }
}

#else /* no x86-64: model_bf16_available() is 0 and these are never reached */
void model_bf16_convert(uint16_t *dst, const float *src, size_t n) { model_bf16_convert_ref(dst, src, n); }
void model_bf16_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                               const float *b, int rows, int accumulate) {
    (void)out, (void)ldo, (void)in, (void)ldi, (void)w, (void)b, (void)rows, (void)accumulate;
    abort();
}
void model_bf16_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                                    const float *b, int rows) {
    (void)out, (void)ldo, (void)in, (void)ldi, (void)w, (void)b, (void)rows;
    abort();
}
void model_bf16_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_bf16_matrix *w,
                                        const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok) {
    (void)x, (void)y, (void)in, (void)ldi, (void)w, (void)b, (void)norm_w, (void)norm_b, (void)rows, (void)tok;
    abort();
}
size_t model_bf16_attention_words(int N, int d) { return model_bf16_packed_words(N, d) + model_bf16_packed_words(d, N) + 16; }
void model_bf16_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                 int C, int heads, float *scores, uint32_t *packs, int bf16_gemms) {
    (void)packs, (void)bf16_gemms;
    model_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores);
}
#endif

/* ---- the model's packed weights ---- */

int model_precision_parse(const char *text, int *precision) {
    if (text && strcmp(text, "fp32") == 0) *precision = MODEL_FP32;
    else if (text && strcmp(text, "bf16") == 0) *precision = MODEL_BF16;
    else return util_fail(UTIL_EINVAL, "precision '%s': expected fp32 or bf16", text ? text : "");
    return UTIL_OK;
}

const char *model_precision_name(int precision) { return precision == MODEL_BF16 ? "bf16" : "fp32"; }

int model_precision_check(int precision) {
    if (precision == MODEL_FP32) return UTIL_OK;
    if (precision != MODEL_BF16) return util_fail(UTIL_EINVAL, "precision %d: expected fp32 or bf16", precision);
    if (!model_bf16_available())
        return util_fail(UTIL_EINVAL, "precision bf16 needs a CPU with AVX512_BF16 (vdpbf16ps), which this one "
                                      "lacks: use precision fp32");
    return UTIL_OK;
}

static void release(model *m) {
    for (int i = 0; i < m->nbf16; i++) model_bf16_matrix_free(&m->bf16[i]);
    free(m->bf16);
    m->bf16 = NULL, m->nbf16 = 0;
    for (int i = 0; i < m->nf32; i++) model_f32_matrix_free(&m->f32[i]);
    free(m->f32);
    m->f32 = NULL, m->nf32 = 0;
    for (int l = 0; l < 4; l++)
        for (int d = 0; m->blocks[l] && d < m->cfg.depths[l]; d++) {
            model_block *k = &m->blocks[l][d];
            k->qkv_h = k->proj_h = k->fc1_h = k->fc2_h = NULL;
            k->qkv_f = k->proj_f = k->fc1_f = k->fc2_f = NULL;
            k->bf16_attention = 0;
        }
    m->embed_h = m->embed_sh = m->down_h = m->up1_h = m->up2_h = NULL;
    m->embed_f = m->embed_sf = m->down_f = m->up1_f = m->up2_f = NULL;
    for (int i = 0; i < 2; i++) m->rec_h[i] = m->rec_sh[i] = NULL, m->rec_f[i] = m->rec_sf[i] = NULL;
    m->precision = MODEL_FP32;
}

void model_bf16_release(model *m) { release(m); }

/* Pack one linear layer's W (n, k), element (j, i) at w[j * sn + i * sk],
 * for `precision` into the model's next slot and point *h or *f at it. */
static int pack_one(model *m, int precision, const model_bf16_matrix **h, const model_f32_matrix **f, const float *w,
                    int n, int k, size_t sn, size_t sk) {
    int status;
    if (precision == MODEL_BF16) {
        if (!(status = model_bf16_pack(&m->bf16[m->nbf16], w, n, k, sn, sk))) *h = &m->bf16[m->nbf16++];
    } else if (!(status = model_f32_pack(&m->f32[m->nf32], w, n, k, sn, sk)))
        *f = &m->f32[m->nf32++];
    return status;
}

/* Every linear layer of the step. */
static int pack_all(model *m, int precision) {
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = model_upper_channels(c) * pz * ph * pw, Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw;
    int Kr = MODEL_NSURFACE * ph * pw, Ku = MODEL_NUPPER * pz * ph * pw; /* recovery: the 5 variables only */
    int status = UTIL_OK;
/* PACK(m->embed_, ...) packs into m->embed_h or m->embed_f */
#define PACK(field, w, n, k, sn, sk) \
    if (!status) status = pack_one(m, precision, &field##h, &field##f, w, n, k, sn, sk)
    for (int l = 0; l < 4 && !status; l++) {
        int Cl = (l == 1 || l == 2) ? 2 * C : C;
        for (int d = 0; d < c->depths[l] && !status; d++) {
            model_block *k = &m->blocks[l][d];
            PACK(k->qkv_, k->qkv_w, 3 * Cl, Cl, Cl, 1);
            PACK(k->proj_, k->proj_w, Cl, Cl, Cl, 1);
            PACK(k->fc1_, k->fc1_w, 4 * Cl, Cl, Cl, 1);
            PACK(k->fc2_, k->fc2_w, Cl, 4 * Cl, 4 * Cl, 1);
        }
    }
    PACK(m->embed_, m->embed_w, C, K, K, 1);
    PACK(m->embed_s, m->embed_sw, C, Ks, Ks, 1);
    PACK(m->down_, m->down_w, 2 * C, 4 * C, 4 * C, 1);
    PACK(m->up1_, m->up_w1, 4 * C, 2 * C, 2 * C, 1);
    PACK(m->up2_, m->up_w2, C, C, C, 1);
    /* patch recovery: y = [skip, x] @ w with w (2C, k): W = w^T, the skip's C inputs apart */
    if (!status) status = pack_one(m, precision, &m->rec_h[0], &m->rec_f[0], m->rec_w, Ku, C, 1, Ku);
    if (!status) status = pack_one(m, precision, &m->rec_h[1], &m->rec_f[1], m->rec_w + (size_t)C * Ku, Ku, C, 1, Ku);
    if (!status) status = pack_one(m, precision, &m->rec_sh[0], &m->rec_sf[0], m->rec_sw, Kr, C, 1, Kr);
    if (!status) status = pack_one(m, precision, &m->rec_sh[1], &m->rec_sf[1], m->rec_sw + (size_t)C * Kr, Kr, C, 1, Kr);
#undef PACK
    return status;
}

int model_set_precision(model *m, int precision) {
    release(m);
    int status = model_precision_check(precision);
    if (status) return status;
    if (precision == MODEL_FP32 && !model_f32_available()) return UTIL_OK; /* OpenBLAS on the float weights */
    const model_config *c = &m->cfg;
    int total = 9;
    for (int l = 0; l < 4; l++) total += 4 * c->depths[l];
    if (precision == MODEL_BF16) {
        if (!(m->bf16 = calloc((size_t)total, sizeof(model_bf16_matrix))))
            return util_fail(UTIL_ENOMEM, "out of memory for bf16 weights");
        status = pack_all(m, MODEL_BF16);
        for (int l = 0; l < 4 && !status; l++)
            for (int d = 0; d < c->depths[l]; d++)
                m->blocks[l][d].bf16_attention = 1; /* measured: 13% less CPU time, the same accuracy (see the README) */
    } else {
        if (!(m->f32 = calloc((size_t)total, sizeof(model_f32_matrix))))
            return util_fail(UTIL_ENOMEM, "out of memory for packed FP32 weights");
        status = pack_all(m, MODEL_FP32);
    }
    if (status) {
        release(m);
        return status;
    }
    m->precision = precision;
    return UTIL_OK;
}
