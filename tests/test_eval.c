/* Suite "eval": weights, regions and every metric on hand-computed cases. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <string.h>

#include "eval/eval.h"
#include "tests.h"

static void test_weights(void) {
    /* latitudes 90, 30, -30, -90: edges 90, 60, 0, -60, -90 */
    double lat[4] = {90, 30, -30, -90}, w[4];
    eval_lat_weights(w, lat, 4);
    double s60 = sin(M_PI / 3), raw[4] = {1 - s60, s60, s60, 1 - s60}, sum = 2;
    for (int i = 0; i < 4; i++) CU_ASSERT(fabs(w[i] - raw[i] * 4 / sum) < 1e-12);
    double rev[4] = {-90, -30, 30, 90}, w2[4];
    eval_lat_weights(w2, rev, 4);
    for (int i = 0; i < 4; i++) CU_ASSERT(fabs(w2[i] - w[3 - i]) < 1e-12);
    CU_ASSERT(eval_in_region(20, EVAL_NEXTRA) && eval_in_region(20, EVAL_TROPICS) && !eval_in_region(19.9, EVAL_NEXTRA));
    CU_ASSERT(eval_in_region(-20, EVAL_SEXTRA) && !eval_in_region(-20.1, EVAL_TROPICS) && eval_in_region(0, EVAL_GLOBAL));
}

static void test_metrics(void) {
    /* 2 latitudes (30, -30: equal weights 1), 2 longitudes */
    double lat[2] = {30, -30}, w[2];
    eval_lat_weights(w, lat, 2);
    CU_ASSERT(fabs(w[0] - 1) < 1e-12 && fabs(w[1] - 1) < 1e-12);
    float f[4] = {1, 2, 3, 4}, o[4] = {0, 2, 5, 4}, c[4] = {1, 1, 4, 4};
    eval_sums s[EVAL_NREGIONS];
    memset(s, 0, sizeof s);
    eval_field(s, f, o, c, NULL, 0, lat, w, 2, 2);
    /* errors 1, 0, -2, 0: mse 5/4, bias -1/4, mae 3/4 */
    CU_ASSERT(fabs(s[EVAL_GLOBAL].se / s[EVAL_GLOBAL].w - 1.25) < 1e-12);
    CU_ASSERT(fabs(s[EVAL_GLOBAL].e / s[EVAL_GLOBAL].w + 0.25) < 1e-12);
    CU_ASSERT(fabs(s[EVAL_GLOBAL].ae / s[EVAL_GLOBAL].w - 0.75) < 1e-12);
    /* anomalies f' = 0, 1, -1, 0; o' = -1, 1, 1, 0: sum f'o' = 0, f'^2 = 2, o'^2 = 3 */
    CU_ASSERT(fabs(s[EVAL_GLOBAL].fa) < 1e-12 && fabs(s[EVAL_GLOBAL].ff - 2) < 1e-12 && fabs(s[EVAL_GLOBAL].oo - 3) < 1e-12);
    /* regions: the northern row is n_extratropics only */
    CU_ASSERT(fabs(s[EVAL_NEXTRA].se / s[EVAL_NEXTRA].w - 0.5) < 1e-12);
    CU_ASSERT(fabs(s[EVAL_SEXTRA].se / s[EVAL_SEXTRA].w - 2.0) < 1e-12);
    CU_ASSERT(s[EVAL_TROPICS].w == 0);
    /* ACC of a field with itself is 1, with its negative anomaly -1 */
    float neg[4];
    for (int i = 0; i < 4; i++) neg[i] = 2 * c[i] - o[i];
    memset(s, 0, sizeof s);
    eval_field(s, o, o, c, NULL, 0, lat, w, 2, 2);
    CU_ASSERT(fabs(s[0].fa / sqrt(s[0].ff * s[0].oo) - 1) < 1e-12);
    memset(s, 0, sizeof s);
    eval_field(s, neg, o, c, NULL, 0, lat, w, 2, 2);
    CU_ASSERT(fabs(s[0].fa / sqrt(s[0].ff * s[0].oo) + 1) < 1e-12);
}

static void test_crps_and_wind(void) {
    double lat[1] = {0}, w[1];
    eval_lat_weights(w, lat, 1);
    /* members 0, 1, 3 at one point, observation 1:
     * mean |X - y| = (1 + 0 + 2) / 3 = 1; pairs |0-1| + |0-3| + |1-3| = 6, sum over i != j = 12,
     * fair CRPS = 1 - 12 / (2 * 3 * 2) = 0 */
    float m0[1] = {0}, m1[1] = {1}, m2[1] = {3}, o[1] = {1}, mean[1] = {4.0f / 3};
    const float *ens[3] = {m0, m1, m2};
    eval_sums s[EVAL_NREGIONS];
    memset(s, 0, sizeof s);
    eval_field(s, mean, o, NULL, ens, 3, lat, w, 1, 1);
    CU_ASSERT(fabs(s[0].crps / s[0].w) < 1e-6);
    /* unbiased variance of 0, 1, 3: mean 4/3, squares 16/9 + 1/9 + 25/9 = 42/9, / 2 = 7/3 */
    CU_ASSERT(fabs(s[0].spread2 / s[0].w - 7.0 / 3) < 1e-6);
    o[0] = 5; /* observation outside: 1/3 (5 + 4 + 2) - 1 = 8/3 */
    memset(s, 0, sizeof s);
    eval_field(s, mean, o, NULL, ens, 3, lat, w, 1, 1);
    CU_ASSERT(fabs(s[0].crps / s[0].w - 8.0 / 3) < 1e-6);
    float fu[1] = {3}, fv[1] = {4}, ou[1] = {0}, ov[1] = {0};
    memset(s, 0, sizeof s);
    eval_wind(s, fu, fv, ou, ov, lat, w, 1, 1);
    CU_ASSERT(fabs(sqrt(s[0].se / s[0].w) - 5) < 1e-12);
}

int tests_register_eval(void) {
    CU_pSuite s = CU_add_suite("eval", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "WeatherBench 2 latitude weights and regions", test_weights) ||
        !CU_add_test(s, "rmse, bias, mae, acc by hand", test_metrics) ||
        !CU_add_test(s, "fair CRPS, spread and vector wind error by hand", test_crps_and_wind))
        return -1;
    return 0;
}
