/* Suite "scorecard": the paired test of the report's scorecard on cases
 * computed by hand (Student's t in closed form for 1, 2 and 3 degrees of
 * freedom; the AR(1) effective sample size of Geer 2016, Tellus A 68,
 * 30229). */
#include <CUnit/CUnit.h>
#include <math.h>

#include "eval/eval.h"
#include "tests.h"

#define NEAR(a, b, tol) CU_ASSERT(fabs((double)(a) - (double)(b)) <= (tol))
#define PI 3.14159265358979323846

/* Two-sided p of Student's t: df 1: 1 - 2 atan(t) / pi; df 2: 1 - t / sqrt(2 + t^2);
 * df 3: 1 - 2 (atan(t / sqrt 3) + (t / sqrt 3) / (1 + t^2 / 3)) / pi. */
static void test_student(void) {
    NEAR(eval_student_p(1, 1), 0.5, 1e-12);
    NEAR(eval_student_p(2.5, 1), 1 - 2 * atan(2.5) / PI, 1e-12);
    NEAR(eval_student_p(1, 2), 1 - 1 / sqrt(3.0), 1e-12);
    NEAR(eval_student_p(-4, 2), 1 - 4 / sqrt(18.0), 1e-12);
    double u = 2; /* t = 2 sqrt 3 */
    NEAR(eval_student_p(2 * sqrt(3.0), 3), 1 - 2 * (atan(u) + u / (1 + u * u)) / PI, 1e-12);
    NEAR(eval_student_p(0, 7), 1, 1e-12);
    NEAR(eval_student_p(1.959963984540054, 1e7), 0.05, 1e-6); /* the normal limit */
    CU_ASSERT(isnan(eval_student_p(1, 0)));
}

/* d = 1 3 1 3: mean 2, sd sqrt(4/3), r1 = -3/4 (taken as 0, n_eff = 4),
 * t = 2 sqrt 3 on 3 df: p = 0.0405, significant at 95 %, not at 99.7 %. */
static void test_independent(void) {
    const double d[4] = {1, 3, 1, 3};
    eval_paired p;
    CU_ASSERT_EQUAL_FATAL(eval_paired_test(d, 4, &p), 1);
    CU_ASSERT_EQUAL(p.n, 4);
    NEAR(p.mean, 2, 1e-15);
    NEAR(p.sd, sqrt(4 / 3.0), 1e-15);
    NEAR(p.r1, -0.75, 1e-15);
    NEAR(p.n_eff, 4, 1e-15);
    NEAR(p.t, 2 * sqrt(3.0), 1e-12);
    NEAR(p.p, 1 - 2 * (atan(2.0) + 2 / 5.0) / PI, 1e-12);
    CU_ASSERT(p.p < 0.05 && p.p > 0.003);
}

/* d = 3 3 3 1 1 1: r1 = 3/6 = 0.5, n_eff = 6 (0.5 / 1.5) = 2, t = 2 /
 * sqrt(1.2 / 2) on 1 df: p = 0.235, not significant (without the
 * inflation t = 2 / sqrt(1.2 / 6) on 5 df would be, p = 0.0066). */
static void test_serial(void) {
    const double d[6] = {3, 3, 3, 1, 1, 1};
    eval_paired p;
    CU_ASSERT_EQUAL_FATAL(eval_paired_test(d, 6, &p), 1);
    NEAR(p.r1, 0.5, 1e-15);
    NEAR(p.n_eff, 2, 1e-12);
    NEAR(p.t, 2 / sqrt(0.6), 1e-12);
    NEAR(p.p, 1 - 2 * atan(2 / sqrt(0.6)) / PI, 1e-12);
    CU_ASSERT(p.p > 0.05);
    CU_ASSERT(eval_student_p(2 / sqrt(0.2), 5) < 0.01);
}

/* NaN (an initial time one source lacks) left out; too few or constant differences. */
static void test_edges(void) {
    const double d[6] = {1, NAN, 3, 1, NAN, 3};
    eval_paired p;
    CU_ASSERT_EQUAL(eval_paired_test(d, 6, &p), 1);
    CU_ASSERT_EQUAL(p.n, 4);
    NEAR(p.t, 2 * sqrt(3.0), 1e-12);
    const double one[2] = {1, NAN};
    CU_ASSERT_EQUAL(eval_paired_test(one, 2, &p), 0);
    CU_ASSERT(isnan(p.p));
    const double same[3] = {0.5, 0.5, 0.5}, zero[3] = {0, 0, 0};
    CU_ASSERT_EQUAL(eval_paired_test(same, 3, &p), 1);
    NEAR(p.p, 0, 0);
    CU_ASSERT_EQUAL(eval_paired_test(zero, 3, &p), 1);
    NEAR(p.p, 1, 0);
    const double trend[4] = {1, 2, 3, 4}; /* r1 = 0.25, n_eff = 2.4 */
    CU_ASSERT_EQUAL(eval_paired_test(trend, 4, &p), 1);
    NEAR(p.r1, 0.25, 1e-15);
    NEAR(p.n_eff, 2.4, 1e-12);
}

int tests_register_scorecard(void) {
    CU_pSuite s = CU_add_suite("scorecard", NULL, NULL);
    if (!s) return 1;
    return !CU_add_test(s, "student", test_student) || !CU_add_test(s, "independent", test_independent) ||
           !CU_add_test(s, "serial", test_serial) || !CU_add_test(s, "edges", test_edges);
}
