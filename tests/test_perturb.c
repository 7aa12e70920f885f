/* Suite "perturb": the Perlin perturbations of ensemble members
 * (data/perturb.c; Bi et al. 2023: 3 octaves, 12 periods, persistence 0.5,
 * scale 0.2 of each field's standard deviation): the same for a seed and
 * member, different for another, about zero mean, amplitude in proportion to
 * scale and to the field's std, smooth (neighbours close), periodic in longitude. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "tests.h"
#include "util/util.h"

enum { H = 72, W = 144, HW = H * W };

static double mean_of(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

static double rms_of(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

static void test_noise(void) {
    float *a = malloc(sizeof(float) * HW), *b = malloc(sizeof(float) * HW), *c = malloc(sizeof(float) * HW);
    CU_ASSERT_FATAL(a && b && c);
    CU_ASSERT_FATAL(data_perlin(a, H, W, 3, 12, 0.5, 0.2, 42, 7) == 0);
    CU_ASSERT_FATAL(data_perlin(b, H, W, 3, 12, 0.5, 0.2, 42, 7) == 0);
    CU_ASSERT(memcmp(a, b, sizeof(float) * HW) == 0);
    CU_ASSERT_FATAL(data_perlin(c, H, W, 3, 12, 0.5, 0.2, 43, 7) == 0);
    CU_ASSERT(memcmp(a, c, sizeof(float) * HW) != 0);
    CU_ASSERT_FATAL(data_perlin(c, H, W, 3, 12, 0.5, 0.2, 42, 8) == 0);
    CU_ASSERT(memcmp(a, c, sizeof(float) * HW) != 0);
    double rms = rms_of(a, HW);
    /* the rms a fraction of scale, the mean near zero */
    CU_ASSERT(rms > 0.01 && rms < 0.2);
    CU_ASSERT(fabs(mean_of(a, HW)) < 0.25 * rms);
    /* each octave's gradient noise lies within +-amplitude; neighbours (across
     * the date line too) are close: white noise of this rms would give a mean
     * absolute difference of about 1.13 rms */
    int bounded = 1;
    double diff = 0, max_diff = 0;
    for (int i = 0; i < HW; i++) bounded &= fabsf(a[i]) <= 0.2f * 1.75f;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double d = fabsf(a[y * W + x] - a[y * W + (x + 1) % W]);
            diff += d / HW, max_diff = fmax(max_diff, d);
        }
    CU_ASSERT(bounded);
    CU_ASSERT(diff < 0.5 * rms && max_diff < 2 * rms);
    /* scale: linear */
    CU_ASSERT_FATAL(data_perlin(c, H, W, 3, 12, 0.5, 0.4, 42, 7) == 0);
    int twice = 1;
    for (int i = 0; i < HW; i++) twice &= fabsf(c[i] - 2 * a[i]) <= 1e-6f;
    CU_ASSERT(twice);
    free(a), free(b), free(c);
}

/* Each field gets noise times its std; member 0 and another member differ;
 * the same member is the same again. */
static void test_perturb_state(void) {
    enum { L = 2, NF = 5 * L + 4 };
    float *u = calloc((size_t)5 * L * HW, sizeof(float)), *s = calloc((size_t)4 * HW, sizeof(float));
    float *u2 = calloc((size_t)5 * L * HW, sizeof(float)), *s2 = calloc((size_t)4 * HW, sizeof(float));
    CU_ASSERT_FATAL(u && s && u2 && s2);
    float ustd[5 * L], sstd[4];
    for (int f = 0; f < 5 * L; f++) ustd[f] = (float)(f + 1);
    for (int f = 0; f < 4; f++) sstd[f] = 100.0f * (f + 1);
    CU_ASSERT_FATAL(data_perturb_perlin(u, s, L, H, W, ustd, sstd, 0.2, 5, 1) == 0);
    CU_ASSERT_FATAL(data_perturb_perlin(u2, s2, L, H, W, ustd, sstd, 0.2, 5, 1) == 0);
    CU_ASSERT(memcmp(u, u2, sizeof(float) * 5 * L * HW) == 0 && memcmp(s, s2, sizeof(float) * 4 * HW) == 0);
    double r0 = rms_of(u, HW);
    int in_proportion = 1;
    for (int f = 0; f < NF; f++) {
        const float *x = f < 5 * L ? u + (size_t)f * HW : s + (size_t)(f - 5 * L) * HW;
        double sd = f < 5 * L ? ustd[f] : sstd[f - 5 * L], r = rms_of(x, HW) / sd;
        in_proportion &= r > 0.3 * r0 && r < 3 * r0 && fabs(mean_of(x, HW)) < 0.3 * r * sd;
    }
    CU_ASSERT(in_proportion);
    /* fields get independent noise: the first two differ beyond their std ratio */
    int independent = 0;
    for (int i = 0; i < HW; i++) independent |= fabsf(u[HW + i] - 2 * u[i]) > 1e-3f;
    CU_ASSERT(independent);
    memset(u2, 0, sizeof(float) * 5 * L * HW);
    CU_ASSERT_FATAL(data_perturb_perlin(u2, s2, L, H, W, ustd, sstd, 0.2, 5, 2) == 0);
    CU_ASSERT(memcmp(u, u2, sizeof(float) * HW) != 0);
    free(u), free(s), free(u2), free(s2);
}

int tests_register_perturb(void) {
    CU_pSuite s = CU_add_suite("perturb", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "Perlin noise: per seed and stream, about zero mean, bounded, smooth, linear in scale", test_noise) ||
        !CU_add_test(s, "perturbed state: noise times each field's std, per member", test_perturb_state))
        return -1;
    return 0;
}
