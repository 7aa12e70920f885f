/* model fast/gemm.h: the one blocked GEMM driver of every packed kernel
 * (fast/avx512.c and fast/avx2.c through fast/gemm_f32.h, fast/bf16.c's
 * AVX512_BF16 dot products and AMX tiles) and the epilogue each runs.
 *
 * The driver's loops are the same for all: blocks of input depth, blocks of
 * output rows, panels of NR output columns, micro-tiles of GEMM_MR rows; a
 * tile's sums go on from what the tile stored at the block before, in input
 * order, so the blocking never changes the bits. What differs between
 * kernels is behind five hooks: how a block of activations is made ready
 * (read in place, or rounded to bf16 pairs into a buffer), how a panel's
 * block of weights is found, and the micro-tile itself.
 *
 * A template. A kernel file defines, once, before its first include:
 *   GEMM_INLINE              its always-inline target attribute
 *   GEMM_GELU(out, in, n)    its vectorised GELU
 *   GEMM_NORM_ADD(x, y, w, b, C)  its vectorised x += LayerNorm(y)
 * and, for each driver it wants (fast/bf16.c has three),
 *   GEMM_DRIVER              the driver's name
 *   GEMM_DRIVER_ATTR         its attributes (static, target, inlining)
 *   GEMM_MATRIX              the packed matrix type (n, panels, data)
 *   GEMM_MR                  rows per micro-tile
 *   GEMM_HOOK(name)          the hooks' names: name_state (a struct type with
 *                            depth, kc_max, mc_max), name_start, name_rows,
 *                            name_panel, name_tile, name_finish (signatures
 *                            at the driver below)
 *   GEMM_VARIANT             optional: an int constant handed to start
 * NR (the panel width) is the kernel file's. The driver's macros are
 * undefined after each include. */

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

#ifndef GEMM_EPILOGUE_ROWS
#define GEMM_EPILOGUE_ROWS /* once per kernel file */
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
#endif

#ifdef GEMM_DRIVER
#ifndef GEMM_VARIANT
#define GEMM_VARIANT 0
#endif
/* out = [out] + [b] + in W^T, then epi on each block of output rows once
 * complete. The hooks:
 *   start(s, w, variant)    s->depth (w's packed inputs: floats or bf16
 *                           pairs), s->kc_max (depth per block), s->mc_max
 *                           (rows per block, a multiple of GEMM_MR)
 *   rows(s, in, ldi, r0, k0, kc, mc, mcp)  activations of rows r0..r0+mc,
 *                           depth k0..k0+kc, ready for tiles up to mcp
 *   panel(s, w, pn, k0, kc, bias)  panel pn's weights at depth k0
 *   tile(s, c, ldc, i0, kc, mvalid, nvalid, bias, load_c, variant)  the
 *                           micro-tile at row i0 of the block: c = [c if load_c]
 *                           + [bias] + a . b
 *   finish(s, variant)
 * variant is GEMM_VARIANT, a constant where the hooks are inlined (AMX: the
 * hardware or its emulation), so a driver carries only its own branch. */
GEMM_DRIVER_ATTR void GEMM_DRIVER(float *out, size_t ldo, const float *in, size_t ldi, const GEMM_MATRIX *w,
                                  const float *b, int rows, int accumulate, const epilogue *epi) {
    GEMM_HOOK(state) s;
    GEMM_HOOK(start)(&s, w, GEMM_VARIANT);
    int n = w->n;
    for (int k0 = 0; k0 < s.depth; k0 += s.kc_max) {
        int kc = s.depth - k0 < s.kc_max ? s.depth - k0 : s.kc_max, first = k0 == 0;
        for (int r0 = 0; r0 < rows; r0 += s.mc_max) {
            int mc = rows - r0 < s.mc_max ? rows - r0 : s.mc_max, mcp = (mc + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
            GEMM_HOOK(rows)(&s, in, ldi, r0, k0, kc, mc, mcp);
            for (int pn = 0; pn < w->panels; pn++) {
                int n0 = pn * NR;
                const float *bias = first && b ? b + n0 : NULL;
                GEMM_HOOK(panel)(&s, w, pn, k0, kc, bias);
                for (int i0 = 0; i0 < mcp; i0 += GEMM_MR)
                    GEMM_HOOK(tile)(&s, out + (size_t)(r0 + i0) * ldo + n0, ldo, i0, kc, mc - i0, n - n0, bias,
                                    accumulate || !first, GEMM_VARIANT);
            }
            if (k0 + kc == s.depth) epilogue_rows(epi, out + (size_t)r0 * ldo, ldo, r0, mc, n);
        }
    }
    GEMM_HOOK(finish)(&s, GEMM_VARIANT);
}
#undef GEMM_DRIVER
#undef GEMM_DRIVER_ATTR
#undef GEMM_MATRIX
#undef GEMM_MR
#undef GEMM_HOOK
#undef GEMM_VARIANT
#endif
