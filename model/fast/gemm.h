/* model fast/gemm.h: the one blocked GEMM driver of the packed FP32
 * kernels (fast/avx512.c, fast/avx2.c) and the epilogue every packed GEMM
 * runs (those two and fast/bf16.c's). A template: a kernel file includes
 * it once, inside its x86-64 section, after defining
 *   GEMM_INLINE              its always-inline target attribute
 *   GEMM_GELU(out, in, n)    its vectorised GELU
 *   GEMM_NORM_ADD(x, y, w, b, C)  its vectorised x += LayerNorm(y)
 * and, with GEMM_DRIVER defined (the FP32 kernels), also
 *   GEMM_KERNEL              its MODEL_KERNEL_* (whose blocking it reads)
 *   MR, NR                   rows and columns of its micro-tile and panel
 *   abuf                     MR * MODEL_KC_MAX floats per thread (the last,
 *                            partial tile of a block; no allocation)
 *   micro_kernel(c, ldc, a, lda, b, kc, mvalid, ncols, bias, load_c)
 *
 * Sums run in input order from [out] + [bias] whatever the blocking, so
 * the two FP32 kernels give the same bits as each other. */

#ifndef PANGU_MODEL_FAST_GEMM_H
#define PANGU_MODEL_FAST_GEMM_H
/* What a GEMM does with each block of output rows right after the block's
 * last input block, while it is in L1/L2 (a separate pass would read the
 * whole output back from L3 or memory): nothing, GELU in place (the MLP's
 * first layer), or x += LayerNorm(out) (its second layer with the block's
 * post-norm residual add). */
typedef struct {
    enum { EPI_NONE, EPI_GELU, EPI_NORM_ADD } kind;
    float *x;                     /* EPI_NORM_ADD: (rows, n), row stride n */
    const float *norm_w, *norm_b; /* (n) */
    const long *tok;              /* EPI_NORM_ADD: x's row for each GEMM row (< 0: none), or NULL for the same row */
} epilogue;
#endif

/* out: the block's first row (rows of n, ldo apart), row r0 of the GEMM. */
GEMM_INLINE void epilogue_rows(const epilogue *e, float *out, size_t ldo, int r0, int rows, int n) {
    if (e->kind == EPI_GELU) {
        if ((size_t)n == ldo) GEMM_GELU(out, out, (size_t)rows * (size_t)n);
        else
            for (int r = 0; r < rows; r++) GEMM_GELU(out + (size_t)r * ldo, out + (size_t)r * ldo, (size_t)n);
    } else if (e->kind == EPI_NORM_ADD)
        for (int r = 0; r < rows; r++) {
            long xr = e->tok ? e->tok[r0 + r] : r0 + r;
            if (xr >= 0) GEMM_NORM_ADD(e->x + (size_t)xr * n, out + (size_t)r * ldo, e->norm_w, e->norm_b, n);
        }
}

#ifdef GEMM_DRIVER
/* out = [out] + [b] + in W^T, then epi on each block of MC output rows once
 * complete; blocking from model_blocking_get (model/cpu.c). */
GEMM_INLINE void linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                const float *b, int rows, int accumulate, const epilogue *epi) {
    int k = w->k, n = w->n;
    model_blocking bl;
    model_blocking_get(GEMM_KERNEL, &bl);
    int KC = bl.kc, MC = bl.mc / MR * MR;
    if (MC < MR) MC = MR;
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k - k0 < KC ? k - k0 : KC, first = k0 == 0;
        for (int r0 = 0; r0 < rows; r0 += MC) {
            int mc = rows - r0 < MC ? rows - r0 : MC, mcp = (mc + MR - 1) / MR * MR, full = mc / MR * MR;
            /* Whole tiles read the activations in place; only a last, partial
             * tile is copied and padded with zero rows (copying every block
             * slowed attention's p v, whose inputs are used by one panel only). */
            for (int i = full; i < mcp; i++) {
                float *dst = abuf + (size_t)(i - full) * KC;
                if (i < mc) memcpy(dst, in + (size_t)(r0 + i) * ldi + k0, sizeof(float) * (size_t)kc);
                else memset(dst, 0, sizeof(float) * (size_t)kc);
            }
            for (int pn = 0; pn < w->panels; pn++) {
                int n0 = pn * NR;
                const float *bp = w->data + ((size_t)pn * k + k0) * NR;
                for (int i0 = 0; i0 < mcp; i0 += MR) {
                    const float *a = i0 < full ? in + (size_t)(r0 + i0) * ldi + k0 : abuf;
                    size_t lda = i0 < full ? ldi : (size_t)KC;
                    micro_kernel(out + (size_t)(r0 + i0) * ldo + n0, ldo, a, lda, bp, kc, mc - i0, n - n0,
                                 first && b ? b + n0 : NULL, accumulate || !first);
                }
            }
            if (k0 + kc == k) epilogue_rows(epi, out + (size_t)r0 * ldo, ldo, r0, mc, n);
        }
    }
}
#endif
