/* model fast/gemm_entry.h: the three entry points of a packed GEMM (plain,
 * with GELU, with the post-norm residual add), one template for the three
 * kernel files. Included after the file's linear_forward(out, ldo, in, ldi,
 * w, b, rows, accumulate, epi) (fast/gemm.h's, or fast/bf16.c's own) with
 *   GEMM_TARGET              the target attribute of the entry points
 *   GEMM_MATRIX              the packed matrix type
 *   GEMM_LINEAR, GEMM_LINEAR_GELU, GEMM_LINEAR_NORM_ADD  their names
 * Contracts: model_f32_linear_forward and its fused forms (model/internal.h). */

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
