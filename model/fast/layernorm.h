/* model fast/layernorm.h: LayerNorm and the post-norm residual add, written
 * once for both FP32 kernels (fast/avx512.c, fast/avx2.c). A template,
 * included after the file's row_moments(x, C, &mean, &rstd) with
 *   LN_TARGET, LN_V (the vector type), LN_LANES, LN_FORWARD and LN_ADD (the
 *   functions' names), LN_SET1, LN_SUB, LN_MUL, LN_ADD_PS, LN_FMADD,
 *   LN_LOADN(p, n) (lanes past n zero) and LN_STOREN(p, v, n) (lanes < n).
 * Twins: model_layernorm_forward, model_layernorm_add (model/ref.c). */

LN_TARGET void LN_FORWARD(float *out, const float *in, const float *w, const float *b, int rows, int C) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C, m, rs;
        row_moments(x, C, &m, &rs);
        LN_V vm = LN_SET1(m), vr = LN_SET1(rs);
        for (int i = 0; i < C; i += LN_LANES) {
            int n = C - i;
            LN_V t = LN_MUL(LN_SUB(LN_LOADN(x + i, n), vm), vr);
            LN_STOREN(y + i, LN_FMADD(t, LN_LOADN(w + i, n), LN_LOADN(b + i, n)), n);
        }
    }
}

LN_TARGET void LN_ADD(float *x, const float *y, const float *w, const float *b, int C) {
    float m, rs;
    row_moments(y, C, &m, &rs);
    LN_V vm = LN_SET1(m), vr = LN_SET1(rs);
    for (int i = 0; i < C; i += LN_LANES) {
        int n = C - i;
        LN_V t = LN_MUL(LN_SUB(LN_LOADN(y + i, n), vm), vr);
        t = LN_FMADD(t, LN_LOADN(w + i, n), LN_LOADN(b + i, n));
        LN_STOREN(x + i, LN_ADD_PS(LN_LOADN(x + i, n), t), n);
    }
}
