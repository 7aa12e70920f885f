/* model fast/gemm_entry.h: the three entry points of a packed GEMM (plain,
 * with GELU, with the post-norm residual add), one template for the three
 * kernel files. Defined first:
 *   GEMM_TARGET              the target attribute of the entry points
 *   GEMM_MATRIX              the packed matrix type
 *   GEMM_LINEAR, GEMM_LINEAR_GELU, GEMM_LINEAR_NORM_ADD  their names
 * and either linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, epi)
 * (fast/gemm.h's driver, or a wrapper choosing one), or, on a build without
 * x86-64, GEMM_REF(w) (model_ref_f32 or model_ref_bf16): the plain twins
 * (model/ref.c) stand in, never reached there (the CPU checks pick OpenBLAS)
 * but keeping the tables of model/ops.c whole.
 * Contracts: model_f32_linear_forward and its fused forms (model/internal.h).
 * The three names are undefined after each include. */

#ifndef GEMM_REF
GEMM_TARGET void GEMM_LINEAR(float *out, size_t ldo, const float *in, size_t ldi, const GEMM_MATRIX *w, const float *b,
                             int rows, int accumulate) {
    const epilogue none = {EPI_NONE, NULL, NULL, NULL, NULL};
    linear_forward(out, ldo, in, ldi, w, b, rows, accumulate, &none);
}

GEMM_TARGET void GEMM_LINEAR_GELU(float *out, size_t ldo, const float *in, size_t ldi, const GEMM_MATRIX *w,
                                  const float *b, int rows) {
    const epilogue gelu = {EPI_GELU, NULL, NULL, NULL, NULL};
    linear_forward(out, ldo, in, ldi, w, b, rows, 0, &gelu);
}

GEMM_TARGET void GEMM_LINEAR_NORM_ADD(float *x, float *y, const float *in, size_t ldi, const GEMM_MATRIX *w,
                                      const float *b, const float *norm_w, const float *norm_b, int rows,
                                      const long *tok) {
    const epilogue add = {EPI_NORM_ADD, x, norm_w, norm_b, tok};
    linear_forward(y, (size_t)w->n, in, ldi, w, b, rows, 0, &add);
}
#else
GEMM_TARGET void GEMM_LINEAR(float *out, size_t ldo, const float *in, size_t ldi, const GEMM_MATRIX *w, const float *b,
                             int rows, int accumulate) {
    model_ref_matrix v = GEMM_REF(w);
    model_ref_gemm(out, ldo, in, ldi, &v, b, rows, accumulate);
}

GEMM_TARGET void GEMM_LINEAR_GELU(float *out, size_t ldo, const float *in, size_t ldi, const GEMM_MATRIX *w,
                                  const float *b, int rows) {
    model_ref_matrix v = GEMM_REF(w);
    model_ref_gemm_gelu(out, ldo, in, ldi, &v, b, rows);
}

GEMM_TARGET void GEMM_LINEAR_NORM_ADD(float *x, float *y, const float *in, size_t ldi, const GEMM_MATRIX *w,
                                      const float *b, const float *norm_w, const float *norm_b, int rows,
                                      const long *tok) {
    model_ref_matrix v = GEMM_REF(w);
    model_ref_gemm_norm_add(x, y, in, ldi, &v, b, norm_w, norm_b, rows, tok);
}
#endif
#undef GEMM_LINEAR
#undef GEMM_LINEAR_GELU
#undef GEMM_LINEAR_NORM_ADD
