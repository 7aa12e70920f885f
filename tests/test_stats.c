/* Suite "stats": pangu stats (data/stats.c): the mean and standard deviation
 * of every field over grid points and times against a two-pass computation
 * by hand, read back with data_stats_read; its climatology read by eval's
 * reader at a valid time's day of year and hour. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "eval/eval.h"
#include "tests.h"
#include "util/util.h"

/* Three states of a 3 x 4 grid, two levels; value i of field f at time t is
 * (f + 1) * (i + 1) * (t + 1) + offset, so every field has its own mean and
 * spread, and the sample standard deviation (n - 1) is computed here in two
 * passes over all 36 values. */
static void test_mean_std(void) {
    enum { H = 3, W = 4, L = 2, HW = H * W, NT = 3, NF = 5 * L + 4 };
    float levels[L] = {850, 500}, upper[5 * L * HW], surface[4 * HW];
    data_stats st;
    CU_ASSERT_FATAL(data_stats_init(&st, H, W, levels, L, 0) == 0);
    double sum[NF] = {0}, sq[NF] = {0};
    for (int t = 0; t < NT; t++) {
        for (int f = 0; f < NF; f++)
            for (int i = 0; i < HW; i++) {
                float v = (float)((f + 1) * (i + 1) * (t + 1) + (f < 5 * L ? 0 : 1000));
                if (f < 5 * L) upper[f * HW + i] = v;
                else surface[(f - 5 * L) * HW + i] = v;
                sum[f] += v;
            }
        CU_ASSERT_FATAL(data_stats_add(&st, upper, surface, NAN) == 0);
    }
    double mean[NF], sd[NF], n = (double)NT * HW;
    for (int f = 0; f < NF; f++) mean[f] = sum[f] / n;
    for (int t = 0; t < NT; t++)
        for (int f = 0; f < NF; f++)
            for (int i = 0; i < HW; i++) {
                double d = (f + 1) * (i + 1) * (t + 1) + (f < 5 * L ? 0 : 1000) - mean[f];
                sq[f] += d * d;
            }
    for (int f = 0; f < NF; f++) sd[f] = sqrt(sq[f] / (n - 1));
    char path[64];
    snprintf(path, sizeof path, "/tmp/pangu_test_stats_%d.nc", (int)getpid());
    CU_ASSERT_FATAL(data_stats_write(&st, path, 0, "test") == 0);
    data_stats_free(&st);
    float um[5 * L], us[5 * L], sm[4], ss[4];
    CU_ASSERT_FATAL(data_stats_read(path, levels, L, um, us, sm, ss) == 0);
    int ok = 1;
    for (int f = 0; f < 5 * L; f++)
        ok &= fabs(um[f] - mean[f]) <= 1e-5 * fabs(mean[f]) && fabs(us[f] - sd[f]) <= 1e-5 * sd[f];
    for (int f = 0; f < 4; f++)
        ok &= fabs(sm[f] - mean[5 * L + f]) <= 1e-5 * fabs(mean[5 * L + f]) && fabs(ss[f] - sd[5 * L + f]) <= 1e-5 * sd[5 * L + f];
    CU_ASSERT(ok);
    float other[1] = {700};
    CU_ASSERT(data_stats_read(path, other, 1, um, us, sm, ss) != 0 && strstr(util_last_message(), "level 700 hPa missing"));
    unlink(path);
}

/* A climatology written by pangu stats' writer, read back at a valid time's day of year and hour. */
static void test_climatology_reader(void) {
    int H = 3, W = 4;
    float levels[2] = {850, 500};
    data_stats st;
    CU_ASSERT_FATAL(data_stats_init(&st, H, W, levels, 2, 6) == 0);
    size_t HW = (size_t)H * W;
    float upper[5 * 2 * 12], surface[4 * 12];
    double t;
    CU_ASSERT_FATAL(util_time_parse("2020-01-02T18", &t) == 0);
    for (size_t i = 0; i < 5 * 2 * HW; i++) upper[i] = (float)i;
    for (size_t i = 0; i < 4 * HW; i++) surface[i] = 1000.0f + (float)i;
    CU_ASSERT_FATAL(data_stats_add(&st, upper, surface, t) == 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/pangu_test_clim_%d.nc", (int)getpid());
    CU_ASSERT_FATAL(data_stats_write(&st, path, 0, "test") == 0);
    data_stats_free(&st);
    int need[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    eval_clim *c;
    CU_ASSERT_FATAL(eval_clim_open(&c, path, H, W, levels, 2, need) == 0);
    float x[12];
    double valid; /* day 2, 18 UTC of another year */
    CU_ASSERT_FATAL(util_time_parse("2023-01-02T18", &valid) == 0);
    CU_ASSERT(eval_clim_read(c, valid, 2, 500, x) == 0 && x[0] == (float)((2 * 2 + 1) * HW) && x[11] == (float)((2 * 2 + 2) * HW - 1));
    CU_ASSERT(eval_clim_read(c, valid, 8, 0, x) == 0 && x[5] == 1000.0f + 3 * HW + 5);
    CU_ASSERT_FATAL(util_time_parse("2023-01-02T12", &valid) == 0);
    CU_ASSERT(eval_clim_read(c, valid, 8, 0, x) != 0 && strstr(util_last_message(), "no data for day of year 2, hour 12"));
    CU_ASSERT_FATAL(util_time_parse("2023-01-02T03", &valid) == 0);
    CU_ASSERT(eval_clim_read(c, valid, 8, 0, x) != 0 && strstr(util_last_message(), "hours 0,6,12,18"));
    eval_clim_close(c);
    float other[1] = {700};
    CU_ASSERT(eval_clim_open(&c, path, H, W, other, 1, need) != 0 && strstr(util_last_message(), "lacks level 700 hPa"));
    CU_ASSERT(eval_clim_open(&c, path, H + 1, W, levels, 2, need) != 0 && strstr(util_last_message(), "grid"));
    unlink(path);
}

int tests_register_stats(void) {
    CU_pSuite s = CU_add_suite("stats", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "mean and sample std over points and times, read back", test_mean_std) ||
        !CU_add_test(s, "climatology reader: day of year and hour, bad requests", test_climatology_reader))
        return -1;
    return 0;
}
