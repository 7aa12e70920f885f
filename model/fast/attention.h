/* model fast/attention.h: the FP32 window attention of both packed kernels
 * (fast/avx512.c, fast/avx2.c), written once. A template: the kernel file
 * includes it after fast/gemm.h (whose GEMM_KERNEL and NR it uses), with
 *   ATT_TARGET             the target attribute
 *   ATT_NAME               the function's name (contract: model_f32_window_attention)
 *   ATT_LINEAR             the file's packed GEMM
 *   ATT_SOFTMAX(s, bt, labels, li, N, scale)  one row of scores, unnormalised:
 *                          returns 1 / its sum (softmax_row_unscaled's contract)
 *   ATT_SCALE_ROW(o, d, inv)   o[0, d) *= inv
 * Per window and head: q k^T through the packed GEMM with the keys packed as
 * its weights, the softmax, p v with the values packed likewise, and each
 * output row scaled by 1 / sum afterwards (d multiplications, not N). */

ATT_TARGET void ATT_NAME(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N, int C,
                         int heads, float *scores, float *packs) {
    int d = C / heads, ld = 3 * C;
    float scale = (float)(1.0 / sqrt((double)d));
    float *kbuf = (float *)(((uintptr_t)packs + 63) & ~(uintptr_t)63);
    model_f32_matrix kw = {N, d, (N + NR - 1) / NR, kbuf, GEMM_KERNEL};
    model_f32_matrix vw = {d, N, (d + NR - 1) / NR, kbuf + model_f32_packed_floats(N, d), GEMM_KERNEL};
    for (int w = 0; w < nW; w++) {
        const float *base = qkv + (size_t)w * N * ld;
        for (int h = 0; h < heads; h++) {
            const float *q = base + h * d, *k = base + C + h * d, *v = base + 2 * C + h * d;
            const float *bt = bias_t + (size_t)h * N * N;
            prefetch_next_head(base, w, nW, h, heads, N, C);
            model_f32_pack_keys(kw.data, NR, k, (size_t)ld, N, d);
            ATT_LINEAR(scores, (size_t)N, q, (size_t)ld, &kw, NULL, N, 0);
            float inv[N > 0 ? N : 1]; /* 1 / sum of each row: applied to p v's d outputs, not N weights */
            for (int i = 0; i < N; i++)
                inv[i] = ATT_SOFTMAX(scores + (size_t)i * N, bt + (size_t)i * N, labels, labels ? labels[i] : 0, N, scale);
            model_f32_pack_values(vw.data, NR, v, (size_t)ld, N, d);
            float *o = out + (size_t)w * N * C + h * d;
            ATT_LINEAR(o, (size_t)C, scores, (size_t)N, &vw, NULL, N, 0);
            for (int i = 0; i < N; i++) ATT_SCALE_ROW(o + (size_t)i * C, d, inv[i]);
        }
    }
}
