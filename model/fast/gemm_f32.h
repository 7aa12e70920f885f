/* model fast/gemm_f32.h: the packed FP32 kernels' hooks of fast/gemm.h's
 * driver, the same for fast/avx512.c and fast/avx2.c, which define first
 *   GEMM_KERNEL   their MODEL_KERNEL_* (whose blocking is read)
 *   MR, NR        rows and columns of their micro-tile and panel
 *   abuf          MR * MODEL_KC_MAX floats per thread
 *   micro_kernel(c, ldc, a, lda, b, kc, mvalid, ncols, bias, load_c)
 * and get `linear_forward`. Blocking: model_blocking_get (model/cpu.c).
 * Whole tiles read the activations in place; only a last, partial tile is
 * copied to abuf and padded with zero rows (copying every block slowed
 * attention's p v, whose inputs are used by one panel only). */

typedef struct {
    int depth, kc_max, mc_max;
    const float *a;  /* the block's first activation, row r0 and input k0 */
    size_t lda;
    int full;        /* rows read in place; the tile at full comes from abuf */
    const float *bp; /* the panel's weights at k0 */
} f32_state;

GEMM_INLINE void f32_start(f32_state *s, const model_f32_matrix *w, int variant) {
    (void)variant;
    model_blocking bl;
    model_blocking_get(GEMM_KERNEL, &bl);
    s->depth = w->k;
    s->kc_max = bl.kc;
    s->mc_max = bl.mc / MR * MR;
    if (s->mc_max < MR) s->mc_max = MR;
}

GEMM_INLINE void f32_rows(f32_state *s, const float *in, size_t ldi, int r0, int k0, int kc, int mc, int mcp) {
    s->a = in + (size_t)r0 * ldi + k0;
    s->lda = ldi;
    s->full = mc / MR * MR;
    for (int i = s->full; i < mcp; i++) {
        float *dst = abuf + (size_t)(i - s->full) * s->kc_max;
        if (i < mc) memcpy(dst, s->a + (size_t)i * ldi, sizeof(float) * (size_t)kc);
        else memset(dst, 0, sizeof(float) * (size_t)kc);
    }
}

GEMM_INLINE void f32_panel(f32_state *s, const model_f32_matrix *w, int pn, int k0, int kc, const float *bias) {
    (void)kc, (void)bias;
    s->bp = w->data + ((size_t)pn * w->k + k0) * NR;
}

GEMM_INLINE void f32_tile(f32_state *s, float *c, size_t ldc, int i0, int kc, int mvalid, int nvalid,
                          const float *bias, int load_c, int variant) {
    (void)variant;
    int in_place = i0 < s->full;
    micro_kernel(c, ldc, in_place ? s->a + (size_t)i0 * s->lda : abuf, in_place ? s->lda : (size_t)s->kc_max, s->bp,
                 kc, mvalid, nvalid, bias, load_c);
}

GEMM_INLINE void f32_finish(f32_state *s, int variant) { (void)s, (void)variant; }

#define GEMM_DRIVER linear_forward
#define GEMM_DRIVER_ATTR GEMM_INLINE
#define GEMM_MATRIX model_f32_matrix
#define GEMM_MR MR
#define GEMM_HOOK(name) f32_##name
#include "gemm.h"
