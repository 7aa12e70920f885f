/* model fast/simd_math.h: erf and exp, written once for every vector width.
 * A template: included by fast/simd.h (AVX-512: erf512, exp512) and
 * fast/avx2.c (AVX2: erf256, exp256) after defining
 *   SIMD_INLINE, SIMD_V (the vector type), SIMD_FN(name) (the function's name),
 *   SIMD_SET1, SIMD_ADD, SIMD_MUL, SIMD_DIV, SIMD_MIN, SIMD_MAX, SIMD_FMADD,
 *   SIMD_FNMADD, SIMD_ROUND (to nearest) and SIMD_SCALE2(y, n) (y 2^n, exact);
 * both run the same operations in the same order, lane for lane, so the two
 * kernels' GELU and softmax give the same bits. Twins: erff and expf, in
 * model_gelu_forward and model_window_attention (model/ref.c). */

/* erf(x) to about 1e-7 (a rational approximation on [-4, 4], odd numerator
 * of degree 13, even denominator of degree 8; erf(4) = 1 - 1.5e-8). */
SIMD_INLINE SIMD_V SIMD_FN(erf)(SIMD_V x) {
    x = SIMD_MAX(SIMD_SET1(-4.0f), SIMD_MIN(SIMD_SET1(4.0f), x));
    SIMD_V x2 = SIMD_MUL(x, x);
    SIMD_V p = SIMD_SET1(simd_erf_p[0]);
    _Pragma("GCC unroll 8") for (int i = 1; i < SIMD_ERF_NP; i++) p = SIMD_FMADD(p, x2, SIMD_SET1(simd_erf_p[i]));
    p = SIMD_MUL(p, x);
    SIMD_V q = SIMD_SET1(simd_erf_q[0]);
    _Pragma("GCC unroll 8") for (int i = 1; i < SIMD_ERF_NQ; i++) q = SIMD_FMADD(q, x2, SIMD_SET1(simd_erf_q[i]));
    return SIMD_DIV(p, q);
}

/* exp(x) for x <= 88 to about 1 ulp (Cephes' expf polynomial, ln 2 split in
 * two); below -87 it returns exp(-87) ~ 1.6e-38 instead of a denormal. */
SIMD_INLINE SIMD_V SIMD_FN(exp)(SIMD_V x) {
    x = SIMD_MAX(SIMD_SET1(-87.0f), SIMD_MIN(SIMD_SET1(88.0f), x));
    SIMD_V n = SIMD_ROUND(SIMD_MUL(x, SIMD_SET1(SIMD_LOG2E)));
    SIMD_V r = SIMD_FNMADD(n, SIMD_SET1(SIMD_LN2_HI), x);
    r = SIMD_FNMADD(n, SIMD_SET1(SIMD_LN2_LO), r);
    SIMD_V p = SIMD_SET1(simd_exp_p[0]);
    _Pragma("GCC unroll 8") for (int i = 1; i < SIMD_EXP_NP; i++) p = SIMD_FMADD(p, r, SIMD_SET1(simd_exp_p[i]));
    SIMD_V y = SIMD_FMADD(p, SIMD_MUL(r, r), SIMD_ADD(r, SIMD_SET1(1.0f)));
    return SIMD_SCALE2(y, n);
}

#undef SIMD_INLINE
#undef SIMD_V
#undef SIMD_FN
#undef SIMD_SET1
#undef SIMD_ADD
#undef SIMD_MUL
#undef SIMD_DIV
#undef SIMD_MIN
#undef SIMD_MAX
#undef SIMD_FMADD
#undef SIMD_FNMADD
#undef SIMD_ROUND
#undef SIMD_SCALE2
