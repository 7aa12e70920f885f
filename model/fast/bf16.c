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
 * expf and erff, which dominated the step once the GEMMs ran in BF16.
 *
 * Only the functions marked BF16_TARGET use AVX-512 instructions: the rest of
 * the build stays portable, and model_bf16_available() checks the CPU at run
 * time. Rounding is round-to-nearest-even with denormal inputs flushed to
 * signed zero and NaN kept quiet: what VCVTNE2PS2BF16 does, so the scalar
 * twins (model_bf16_round, model_ref_gemm with bf16) give the same bf16 values. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cblas.h>

#include "../../util/util.h"
#include "../internal.h"

#include "simd.h"
#if MODEL_X86
#define BF16_X86 1
#define BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))
#define BF16_INLINE static inline __attribute__((always_inline)) BF16_TARGET
#define GEMM_INLINE AVX512_INLINE
#define GEMM_GELU model_gelu_forward_avx512
#define GEMM_NORM_ADD model_layernorm_add_avx512
#include "gemm.h"
#else
#define BF16_X86 0
#endif

enum {
    NR = MODEL_BF16_PANEL, /* output columns per panel: two zmm vectors */
    MR = 14,               /* rows per micro-tile: 28 accumulators */
    MC = 8 * MR,           /* rows converted per block */
    KCP = 192,             /* input pairs per block: 384 inputs, a 24 KB weight panel */
};

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
    tile_start(c0, c1, MR, c, ldc, mvalid, m0, m1, bias, load_c);
    for (int q = 0; q < kc; q++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b + (size_t)q * NR);
        __m512bh b1 = (__m512bh)_mm512_load_si512(b + (size_t)q * NR + 16);
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[(size_t)i * lda + q]);
            c0[i] = _mm512_dpbf16_ps(c0[i], ai, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], ai, b1);
        }
    }
    tile_store(c, ldc, c0, c1, MR, mvalid, m0, m1);
}

/* Activation blocks: one per thread, so the kernel needs no allocation. */
static _Thread_local uint32_t abuf[MC * KCP] __attribute__((aligned(64)));

/* ---- Intel AMX (AMX-TILE + AMX-BF16) ----
 *
 * The same GEMM on the tile unit, where the CPU has it and Linux grants the
 * tile state (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16 or later). The
 * packed weights need no second layout: a panel's words for 16 consecutive
 * input pairs and 16 of its columns are a B tile as TDPBF16PS reads it (16
 * rows of 16 bf16 pairs, the panel's 128-byte rows apart), and a block of
 * activations rounded to bf16 is an A tile (16 rows of 32 bf16). A 32 x 32
 * micro-tile keeps its sums in four C tiles over the block's inputs: per 16
 * input pairs two A and two B tile loads and four TDPBF16PS. Blocks of
 * activations are padded with zeros to 32 rows and 16 pairs; the last partial
 * 16 pairs of weights are copied to a zeroed tile, so nothing past the
 * packed matrix is read. Edge micro-tiles (rows or columns past the end) and
 * a bias added to accumulated output go through a 32 x 32 buffer.
 *
 * Emulation. No machine this was written on has AMX, so every tile
 * instruction also exists as a plain C function on a per-thread tile file
 * (amx_emu_*): the same kernel runs with `emulate` set on any AVX512_BF16 CPU
 * and the emulation gives the scalar twin's bits (TDPBF16PS, as documented,
 * adds the two exact products of each pair in turn, in input order, as
 * model_ref_gemm does). The hardware also flushes denormal inputs
 * and outputs to zero and its rounding is not observable here, so on a CPU
 * with AMX the tile path is used only after it has matched the twin to
 * 1e-5 of sum |x w| on a test GEMM at first use; otherwise pangu warns
 * once and keeps the AVX512_BF16 kernel. */
enum {
    AMX_MR = 32,            /* rows per micro-tile: two A tiles */
    AMX_MC = 4 * AMX_MR,    /* rows converted per block */
    AMX_KT = 16,            /* input pairs per tile step */
};

static _Thread_local uint32_t amx_abuf[AMX_MC * KCP] __attribute__((aligned(64)));

typedef union {
    uint32_t u[16][16];
    float f[16][16];
} amx_emu_tile;
static _Thread_local amx_emu_tile amx_emu[8];

/* tile t = 16 rows of 64 bytes, `stride` bytes apart */
static void amx_emu_load(int t, const void *base, size_t stride) {
    for (int r = 0; r < 16; r++) memcpy(amx_emu[t].u[r], (const char *)base + (size_t)r * stride, 64);
}
static void amx_emu_store(int t, void *base, size_t stride) {
    for (int r = 0; r < 16; r++) memcpy((char *)base + (size_t)r * stride, amx_emu[t].u[r], 64);
}
static void amx_emu_zero(int t) { memset(&amx_emu[t], 0, sizeof amx_emu[t]); }
/* TDPBF16PS c, a, b: c[m][n] += a[m][2k] b[k][2n] + a[m][2k+1] b[k][2n+1] over k, pair by pair */
static void amx_emu_dp(int c, int a, int b) {
    for (int m = 0; m < 16; m++)
        for (int k = 0; k < 16; k++) {
            uint32_t aw = amx_emu[a].u[m][k];
            float a0 = model_bf16_float((uint16_t)aw), a1 = model_bf16_float((uint16_t)(aw >> 16));
            for (int n = 0; n < 16; n++) {
                uint32_t bw = amx_emu[b].u[k][n];
                float s = amx_emu[c].f[m][n];
                s += a0 * model_bf16_float((uint16_t)bw);
                s += a1 * model_bf16_float((uint16_t)(bw >> 16));
                amx_emu[c].f[m][n] = s;
            }
        }
}

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))
#define AMX_INLINE static inline __attribute__((always_inline)) AMX_TARGET
/* tile registers are immediates: t, a, b, c below are literal 0-7 */
/* GCC's _tile_loadd is an asm statement that does not say it reads memory: the
 * barrier makes the stores to the buffers it loads happen before it */
#define AMX_LOAD(t, p, s) \
    do { \
        if (emulate) amx_emu_load(t, p, s); \
        else { \
            __asm__ volatile("" ::"r"(p) : "memory"); \
            _tile_loadd(t, p, (long)(s)); \
        } \
    } while (0)
#define AMX_STORE(t, p, s) do { if (emulate) amx_emu_store(t, p, s); else _tile_stored(t, p, (long)(s)); } while (0)
#define AMX_ZERO(t) do { if (emulate) amx_emu_zero(t); else _tile_zero(t); } while (0)
#define AMX_DP(c, a, b) do { if (emulate) amx_emu_dp(c, a, b); else _tile_dpbf16ps(c, a, b); } while (0)

/* c (32 x 32, rows < mvalid, columns < nvalid) = [c if load_c] + [bias] +
 * a (32 rows of steps * 16 pairs, lda words apart) . b (16-pair steps of the
 * panel, NR words per pair; the last step from `tail` when not NULL). */
AMX_INLINE void amx_micro(float *c, size_t ldc, const uint32_t *a, size_t lda, const uint32_t *b, const uint32_t *tail,
                          int steps, int mvalid, int nvalid, const float *bias, const float *bias_rows, int load_c,
                          int emulate) {
    float cbuf[AMX_MR][NR] __attribute__((aligned(64)));
    int full = mvalid >= AMX_MR && nvalid >= NR;
    const size_t ldb = (size_t)ldc * sizeof(float), row = NR * sizeof(float);
    if (full && load_c && !bias) {
        AMX_LOAD(0, c, ldb); AMX_LOAD(1, c + 16, ldb);
        AMX_LOAD(2, c + 16 * ldc, ldb); AMX_LOAD(3, c + 16 * ldc + 16, ldb);
    } else if (full && bias && !load_c) {
        AMX_LOAD(0, bias_rows, row); AMX_LOAD(1, bias_rows + 16, row);
        AMX_LOAD(2, bias_rows, row); AMX_LOAD(3, bias_rows + 16, row);
    } else if (full && !load_c) {
        AMX_ZERO(0); AMX_ZERO(1); AMX_ZERO(2); AMX_ZERO(3);
    } else {
        for (int i = 0; i < AMX_MR; i++)
            for (int j = 0; j < NR; j++) {
                float v = 0;
                if (i < mvalid && j < nvalid) {
                    if (load_c) v = c[(size_t)i * ldc + j];
                    if (bias) v += bias[j];
                }
                cbuf[i][j] = v;
            }
        AMX_LOAD(0, &cbuf[0][0], row); AMX_LOAD(1, &cbuf[0][16], row);
        AMX_LOAD(2, &cbuf[16][0], row); AMX_LOAD(3, &cbuf[16][16], row);
    }
    const size_t lab = lda * sizeof(uint32_t);
    for (int s = 0; s < steps; s++) {
        const uint32_t *bs = tail && s == steps - 1 ? tail : b + (size_t)s * AMX_KT * NR;
        AMX_LOAD(4, a + (size_t)s * AMX_KT, lab);
        AMX_LOAD(5, a + 16 * lda + (size_t)s * AMX_KT, lab);
        AMX_LOAD(6, bs, row);
        AMX_LOAD(7, bs + 16, row);
        AMX_DP(0, 4, 6);
        AMX_DP(1, 4, 7);
        AMX_DP(2, 5, 6);
        AMX_DP(3, 5, 7);
    }
    if (full) {
        AMX_STORE(0, c, ldb); AMX_STORE(1, c + 16, ldb);
        AMX_STORE(2, c + 16 * ldc, ldb); AMX_STORE(3, c + 16 * ldc + 16, ldb);
    } else {
        AMX_STORE(0, &cbuf[0][0], row); AMX_STORE(1, &cbuf[0][16], row);
        AMX_STORE(2, &cbuf[16][0], row); AMX_STORE(3, &cbuf[16][16], row);
        for (int i = 0; i < mvalid && i < AMX_MR; i++)
            memcpy(c + (size_t)i * ldc, cbuf[i], sizeof(float) * (size_t)(nvalid < NR ? nvalid : NR));
    }
}

/* gemm.h's hooks on the tile unit (emulate: the C tile file). A block's
 * rows are rounded to bf16 pairs in amx_abuf, padded with zeros to 32 rows
 * and to whole 16-pair steps; a panel's last partial step of weights is
 * copied to a zeroed tile, its bias to 16 rows a tile load can read. */
typedef struct {
    int depth, kc_max, mc_max;
    int k;
    int steps, part;        /* 16-pair steps of the block; pairs in a last partial step (0: none) */
    const uint32_t *bp;     /* the panel's weights at the block's depth */
    uint32_t tail[AMX_KT][NR] __attribute__((aligned(64)));
    float bias_rows[16][NR] __attribute__((aligned(64)));
} amx_state;

AMX_INLINE void amx_start(amx_state *s, const model_bf16_matrix *w, int emulate) {
    s->depth = w->kp, s->kc_max = KCP, s->mc_max = AMX_MC, s->k = w->k;
    /* palette 1; tiles 0-7 all 16 rows of 64 bytes */
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg __attribute__((aligned(64)));
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    /* not _tile_loadconfig: its asm says it reads 8 bytes, so the compiler could drop the stores to the rest */
    if (!emulate) __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
}

AMX_INLINE void amx_rows(amx_state *s, const float *in, size_t ldi, int r0, int q0, int kc, int mc, int mcp) {
    int kvalid = s->k - 2 * q0 < 2 * kc ? s->k - 2 * q0 : 2 * kc;
    s->steps = (kc + AMX_KT - 1) / AMX_KT, s->part = kc % AMX_KT; /* KCP is a multiple of AMX_KT */
    for (int i = 0; i < mcp; i++)
        convert_row((uint16_t *)(amx_abuf + (size_t)i * KCP), in + (size_t)(r0 + i) * ldi + 2 * q0,
                    i < mc ? kvalid : 0, 2 * s->steps * AMX_KT);
}

AMX_INLINE void amx_panel(amx_state *s, const model_bf16_matrix *w, int pn, int q0, int kc, const float *bias) {
    (void)kc;
    int n0 = pn * NR;
    s->bp = w->data + ((size_t)pn * w->kp + q0) * NR;
    if (s->part) {
        memset(s->tail, 0, sizeof s->tail);
        memcpy(s->tail, s->bp + (size_t)(s->steps - 1) * AMX_KT * NR, sizeof(uint32_t) * (size_t)s->part * NR);
    }
    if (bias)
        for (int r = 0; r < 16; r++)
            for (int j = 0; j < NR; j++) s->bias_rows[r][j] = n0 + j < w->n ? bias[j] : 0.0f;
}

AMX_INLINE void amx_tile(amx_state *s, float *c, size_t ldc, int i0, int kc, int mvalid, int nvalid,
                         const float *bias, int load_c, int emulate) {
    (void)kc;
    amx_micro(c, ldc, amx_abuf + (size_t)i0 * KCP, KCP, s->bp, s->part ? &s->tail[0][0] : NULL, s->steps, mvalid,
              nvalid, bias, &s->bias_rows[0][0], load_c, emulate);
}

AMX_INLINE void amx_finish(amx_state *s, int emulate) {
    (void)s;
    if (!emulate) _tile_release();
}

/* Two drivers, so the hardware's has no emulation branches; not inlined:
 * their callers lack the AMX target. */
#define GEMM_DRIVER amx_linear_forward
#define GEMM_DRIVER_ATTR static __attribute__((noinline)) AMX_TARGET
#define GEMM_MATRIX model_bf16_matrix
#define GEMM_MR AMX_MR
#define GEMM_HOOK(name) amx_##name
#include "gemm.h"
#define GEMM_DRIVER amx_emulated_linear_forward
#define GEMM_DRIVER_ATTR static __attribute__((noinline)) AMX_TARGET
#define GEMM_MATRIX model_bf16_matrix
#define GEMM_MR AMX_MR
#define GEMM_HOOK(name) amx_##name
#define GEMM_VARIANT 1
#include "gemm.h"

/* AMX state: decided once (first BF16 GEMM or model_bf16_amx()), or set by model_bf16_amx_select */
static int amx_forced = -1, amx_detected = MODEL_AMX_OFF, amx_permitted;
static char amx_reason[200] = "not checked yet";
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static int amx_cpu(void) {
    /* CPUID leaf 7, subleaf 0: EDX bit 22 AMX-BF16, bit 24 AMX-TILE */
    unsigned a, bx, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(bx), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 7) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(bx), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return ((d >> 22) & 1) && ((d >> 24) & 1);
}

/* The tile path against the twin on one GEMM with every edge (partial
 * micro-tiles, a partial pair step, two input blocks, bias, accumulation):
 * the largest difference relative to sum |x w|. */
static double amx_check(int emulate) {
    enum { R = 45, K = 2 * KCP + 37, N = 40 };
    float *x = malloc(sizeof(float) * R * K), *wt = malloc(sizeof(float) * N * K), *bias = malloc(sizeof(float) * N);
    float *got = malloc(sizeof(float) * R * N), *want = malloc(sizeof(float) * R * N);
    double worst = INFINITY;
    model_bf16_matrix p = {0};
    uint32_t seed = 12345;
#define NEXT(scale) (seed = seed * 1664525u + 1013904223u, (float)((int)(seed >> 8) % 2001 - 1000) / (scale))
    if (x && wt && bias && got && want) {
        for (int i = 0; i < R * K; i++) x[i] = NEXT(500.0f);
        for (int i = 0; i < N * K; i++) wt[i] = NEXT(5000.0f);
        for (int i = 0; i < N; i++) bias[i] = NEXT(300.0f);
    }
#undef NEXT
    if (x && wt && bias && got && want && !model_bf16_pack(&p, wt, N, K, K, 1)) {
        const epilogue none = {EPI_NONE, NULL, NULL, NULL, NULL};
        worst = 0;
        for (int acc = 0; acc < 2; acc++) {
            for (int i = 0; i < R * N; i++) got[i] = want[i] = (float)(i % 13) - 6.0f;
            if (emulate) amx_emulated_linear_forward(got, N, x, K, &p, bias, R, acc, &none);
            else amx_linear_forward(got, N, x, K, &p, bias, R, acc, &none);
            model_ref_matrix twin = model_ref_plain(wt, N, K, K, 1, 1);
            model_ref_gemm(want, N, x, K, &twin, bias, R, acc);
            for (int r = 0; r < R; r++)
                for (int j = 0; j < N; j++) {
                    double scale = 1e-30 + (acc ? fabs(want[r * N + j]) : 0);
                    for (int i = 0; i < K; i++) scale += fabs((double)x[r * K + i] * wt[j * K + i]);
                    double e = fabs((double)got[r * N + j] - want[r * N + j]) / scale;
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                }
        }
    }
    model_bf16_matrix_free(&p);
    free(x), free(wt), free(bias), free(got), free(want);
    return worst;
}

static void amx_detect(void) {
    const char *off = getenv("PANGU_NO_AMX");
    if (off && *off && strcmp(off, "0") != 0) {
        snprintf(amx_reason, sizeof amx_reason, "off: PANGU_NO_AMX is set");
        return;
    }
    const char *emu = getenv("PANGU_AMX_EMULATE"); /* tests: the tile path on the C tile file, on any AVX512_BF16 CPU */
    if (emu && *emu && strcmp(emu, "0") != 0 && model_bf16_available()) {
        amx_detected = MODEL_AMX_EMULATED;
        snprintf(amx_reason, sizeof amx_reason, "emulated: PANGU_AMX_EMULATE is set (the tile path in plain C: for tests, slow)");
        return;
    }
    if (!model_bf16_available() || !amx_cpu()) {
        snprintf(amx_reason, sizeof amx_reason, "no: this CPU has no %s", model_bf16_available() ? "AMX-TILE and AMX-BF16" : "AVX512_BF16");
        return;
    }
    /* Linux 5.16+: a process asks for the tile data state before its first tile instruction */
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) != 0) {
        snprintf(amx_reason, sizeof amx_reason, "no: the kernel refused the AMX tile state (arch_prctl: %s; Linux 5.16 or later grants it)",
                 strerror(errno));
        return;
    }
    amx_permitted = 1;
    double e = amx_check(0);
    if (!(e <= 1e-5)) { /* as the AVX512_BF16 kernel against the twin (tests): FP32 summation order */
        snprintf(amx_reason, sizeof amx_reason, "off: the tile path differed from the scalar twin (%.3g of sum |x w|) on its first-use check", e);
        util_warn("AMX %s; using the AVX512_BF16 kernel", amx_reason);
        return;
    }
    amx_detected = MODEL_AMX_ON;
    snprintf(amx_reason, sizeof amx_reason, "on: the BF16 GEMMs run on the tile unit (checked against the scalar twin: %.2g)", e);
}

static int amx_mode(void) {
    if (amx_forced >= 0) return amx_forced;
    pthread_once(&amx_once, amx_detect);
    return amx_detected;
}

int model_bf16_amx(void) { return amx_mode(); }

double model_bf16_amx_check(int emulate) {
    if (!model_bf16_available()) return INFINITY;
    if (!emulate) { /* the hardware only once Linux has granted the tile state: else SIGILL */
        pthread_once(&amx_once, amx_detect);
        if (!amx_permitted) return INFINITY;
    }
    return amx_check(emulate);
}

const char *model_bf16_amx_status(void) {
    pthread_once(&amx_once, amx_detect);
    if (amx_forced == MODEL_AMX_OFF) return "off: model_bf16_amx_select";
    if (amx_forced == MODEL_AMX_EMULATED) return "emulated: model_bf16_amx_select (the tile path in plain C: for tests, slow)";
    return amx_reason;
}

int model_bf16_amx_select(int mode) {
    pthread_once(&amx_once, amx_detect);
    if (mode == MODEL_AMX_ON && amx_detected != MODEL_AMX_ON)
        return util_fail(UTIL_EINVAL, "AMX tile path: not available (%s)", amx_reason);
    if (mode == MODEL_AMX_EMULATED && !model_bf16_available())
        return util_fail(UTIL_EINVAL, "AMX emulation needs AVX512_BF16, which this CPU lacks");
    if (mode != -1 && mode != MODEL_AMX_OFF && mode != MODEL_AMX_ON && mode != MODEL_AMX_EMULATED)
        return util_fail(UTIL_EINVAL, "AMX mode %d: expected -1, MODEL_AMX_OFF, MODEL_AMX_ON or MODEL_AMX_EMULATED", mode);
    amx_forced = mode;
    return UTIL_OK;
}


/* gemm.h's hooks for AVX512_BF16's dot products: every row of a block is
 * rounded to bf16 pairs in abuf, so each element once per GEMM. */
typedef struct {
    int depth, kc_max, mc_max;
    int k;
    const uint32_t *bp; /* the panel's weights at the block's depth */
    __mmask16 m0, m1;   /* the panel's columns */
} dot_state;

BF16_INLINE void dot_start(dot_state *s, const model_bf16_matrix *w, int variant) {
    (void)variant;
    s->depth = w->kp, s->kc_max = KCP, s->mc_max = MC, s->k = w->k;
}

BF16_INLINE void dot_rows(dot_state *s, const float *in, size_t ldi, int r0, int q0, int kc, int mc, int mcp) {
    int kvalid = s->k - 2 * q0 < 2 * kc ? s->k - 2 * q0 : 2 * kc;
    for (int i = 0; i < mcp; i++)
        convert_row((uint16_t *)(abuf + (size_t)i * KCP), in + (size_t)(r0 + i) * ldi + 2 * q0, i < mc ? kvalid : 0,
                    2 * kc);
}

BF16_INLINE void dot_panel(dot_state *s, const model_bf16_matrix *w, int pn, int q0, int kc, const float *bias) {
    (void)kc, (void)bias;
    int n0 = pn * NR;
    s->m0 = mask16(w->n - n0), s->m1 = mask16(w->n - n0 - 16);
    s->bp = w->data + ((size_t)pn * w->kp + q0) * NR;
}

BF16_INLINE void dot_tile(dot_state *s, float *c, size_t ldc, int i0, int kc, int mvalid, int nvalid,
                          const float *bias, int load_c, int variant) {
    (void)nvalid, (void)variant;
    micro_kernel(c, ldc, abuf + (size_t)i0 * KCP, KCP, s->bp, kc, mvalid, s->m0, s->m1, bias, load_c);
}

BF16_INLINE void dot_finish(dot_state *s, int variant) { (void)s, (void)variant; }

#define GEMM_DRIVER dot_linear_forward
#define GEMM_DRIVER_ATTR BF16_INLINE
#define GEMM_MATRIX model_bf16_matrix
#define GEMM_MR MR
#define GEMM_HOOK(name) dot_##name
#include "gemm.h"

/* The same on the tile unit, and on its C emulation */
BF16_INLINE void tile_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                                     const float *b, int rows, int accumulate, const epilogue *epi) {
    amx_linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, epi);
}
BF16_INLINE void emulated_tile_linear_forward(float *out, size_t ldo, const float *in, size_t ldi,
                                              const model_bf16_matrix *w, const float *b, int rows, int accumulate,
                                              const epilogue *epi) {
    amx_emulated_linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, epi);
}
/* Either, as the AMX state says at each call (the entries for tests and tune) */
BF16_INLINE void any_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                                    const float *b, int rows, int accumulate, const epilogue *epi) {
    int amx = amx_mode();
    if (amx == MODEL_AMX_EMULATED) amx_emulated_linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, epi);
    else if (amx == MODEL_AMX_ON) amx_linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, epi);
    else dot_linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, epi);
}

/* gemm_entry.h's three entry points once per GEMM above */
#define GEMM_TARGET BF16_TARGET
#define GEMM_MATRIX model_bf16_matrix
#define linear_forward any_linear_forward
#define GEMM_LINEAR model_bf16_linear_forward
#define GEMM_LINEAR_GELU model_bf16_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_linear_norm_add_forward
#include "gemm_entry.h"
#undef linear_forward
#define linear_forward dot_linear_forward
#define GEMM_LINEAR model_bf16_dot_linear_forward
#define GEMM_LINEAR_GELU model_bf16_dot_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_dot_linear_norm_add_forward
#include "gemm_entry.h"
#undef linear_forward
#define linear_forward tile_linear_forward
#define GEMM_LINEAR model_bf16_tile_linear_forward
#define GEMM_LINEAR_GELU model_bf16_tile_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_tile_linear_norm_add_forward
#include "gemm_entry.h"
#undef linear_forward
#define linear_forward emulated_tile_linear_forward
#define GEMM_LINEAR model_bf16_emulated_tile_linear_forward
#define GEMM_LINEAR_GELU model_bf16_emulated_tile_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_emulated_tile_linear_norm_add_forward
#include "gemm_entry.h"
#undef linear_forward


/* Keys as the weight of q k^T: W (n = key, k = channel); each key's channel
 * pairs are one vector, scattered to the 32 keys of its panel. The same
 * words as model_bf16_pack_into (model/pack.c), which the FP32 attention's
 * packing shares with the weights; here vectorised because the scalar
 * rounding of every key and value cost the BF16 attention about 40% more
 * time (docs/speed.md). */
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


typedef void bf16_gemm(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                       const float *b, int rows, int accumulate);
/* the window attention with q k^T and p v on `gemm` (one of the GEMMs above) */
BF16_INLINE void window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                  int C, int heads, float *scores, uint32_t *packs, int bf16_gemms, bf16_gemm *gemm) {
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
                gemm(scores, (size_t)N, q, (size_t)ld, &kw, NULL, N, 0);
            } else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, 1.0f, q, ld, k, ld, 0.0f, scores, N);
            for (int i = 0; i < N; i++)
                softmax_row(scores + (size_t)i * N, bt + (size_t)i * N, labels, labels ? labels[i] : 0, N, scale);
            if (bf16_gemms) {
                pack_values(vw.data, v, (size_t)ld, N, d);
                gemm(o, (size_t)C, scores, (size_t)N, &vw, NULL, N, 0);
            } else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, 1.0f, scores, N, v, ld, 0.0f, o, C);
        }
    }
}

#define WINDOW_ATTENTION(name, gemm)                                                                               \
    BF16_TARGET void name(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N, int C, \
                          int heads, float *scores, uint32_t *packs, int bf16_gemms) {                             \
        window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, packs, bf16_gemms, gemm);              \
    }
WINDOW_ATTENTION(model_bf16_window_attention, model_bf16_linear_forward)
WINDOW_ATTENTION(model_bf16_dot_window_attention, model_bf16_dot_linear_forward)
WINDOW_ATTENTION(model_bf16_tile_window_attention, model_bf16_tile_linear_forward)
WINDOW_ATTENTION(model_bf16_emulated_tile_window_attention, model_bf16_emulated_tile_linear_forward)
#undef WINDOW_ATTENTION

#else /* no x86-64: model_bf16_available() is 0 and these are never reached; the twins stand in */
int model_bf16_amx(void) { return MODEL_AMX_OFF; }
const char *model_bf16_amx_status(void) { return "no: not an x86-64 build"; }
int model_bf16_amx_select(int mode) {
    return mode == MODEL_AMX_OFF || mode == -1 ? UTIL_OK : util_fail(UTIL_EINVAL, "AMX tile path: not an x86-64 build");
}
double model_bf16_amx_check(int emulate) {
    (void)emulate;
    return INFINITY;
}
void model_bf16_convert(uint16_t *dst, const float *src, size_t n) { model_bf16_convert_ref(dst, src, n); }
#define GEMM_TARGET
#define GEMM_MATRIX model_bf16_matrix
#define GEMM_REF model_ref_bf16
#define GEMM_LINEAR model_bf16_linear_forward
#define GEMM_LINEAR_GELU model_bf16_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_linear_norm_add_forward
#include "gemm_entry.h"
void model_bf16_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                 int C, int heads, float *scores, uint32_t *packs, int bf16_gemms) {
    (void)packs;
    if (bf16_gemms) model_bf16_window_attention_ref(out, qkv, bias_t, labels, nW, N, C, heads, scores);
    else model_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores);
}
/* the kernel-specific names of the table (model/ops.c): the same twins */
#define SAME_AS_TWINS(kind)                                                                                         \
    void model_bf16_##kind##_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, \
                                              int nW, int N, int C, int heads, float *scores, uint32_t *packs,      \
                                              int bf16_gemms) {                                                     \
        model_bf16_window_attention(out, qkv, bias_t, labels, nW, N, C, heads, scores, packs, bf16_gemms);          \
    }
SAME_AS_TWINS(dot)
SAME_AS_TWINS(tile)
SAME_AS_TWINS(emulated_tile)
#undef SAME_AS_TWINS
#define GEMM_LINEAR model_bf16_dot_linear_forward
#define GEMM_LINEAR_GELU model_bf16_dot_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_dot_linear_norm_add_forward
#include "gemm_entry.h"
#define GEMM_LINEAR model_bf16_tile_linear_forward
#define GEMM_LINEAR_GELU model_bf16_tile_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_tile_linear_norm_add_forward
#include "gemm_entry.h"
#define GEMM_LINEAR model_bf16_emulated_tile_linear_forward
#define GEMM_LINEAR_GELU model_bf16_emulated_tile_linear_gelu_forward
#define GEMM_LINEAR_NORM_ADD model_bf16_emulated_tile_linear_norm_add_forward
#include "gemm_entry.h"
#endif

