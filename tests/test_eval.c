/* Suite "eval": WeatherBench 2 weights, region masks and every metric on
 * small cases computed by hand; the forecast-file reader on a file written
 * by io/forecast.c. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "eval/eval.h"
#include "util/util.h"
#include "tests.h"

#define NEAR(a, b, tol) CU_ASSERT(fabs((double)(a) - (double)(b)) <= (tol))

/* The 4 x 3 grid of the hand computations: latitudes 90, 30, -30, -90 have
 * cell edges 90, 60, 0, -60, -90, so sin differences 1 - sin 60, sin 60,
 * sin 60, 1 - sin 60 (sum 2); normalised to mean 1: a = 2 - sqrt 3 at the
 * poles, b = sqrt 3 at +-30 (a + b = 2). */
static const double lat4[4] = {90, 30, -30, -90}, lon3[3] = {0, 120, 240};
#define WA (2 - sqrt(3.0))
#define WB (sqrt(3.0))

static void test_weights(void) {
    double w[4];
    eval_lat_weights(w, lat4, 4);
    NEAR(w[0], WA, 1e-12);
    NEAR(w[1], WB, 1e-12);
    NEAR(w[2], WB, 1e-12);
    NEAR(w[3], WA, 1e-12);
    NEAR(w[0] + w[1] + w[2] + w[3], 4, 1e-12);
    /* south to north gives the same weights per latitude */
    double rev[4] = {-90, -30, 30, 90}, w2[4];
    eval_lat_weights(w2, rev, 4);
    for (int i = 0; i < 4; i++) NEAR(w2[i], w[3 - i], 1e-12);
    /* no poles: latitudes 60, 0, -60 have edges 90, 30, -30, -90: 1 - 1/2, 1, 1/2 -> x 1.5 */
    double lat3[3] = {60, 0, -60}, w3[3];
    eval_lat_weights(w3, lat3, 3);
    NEAR(w3[0], 0.75, 1e-12);
    NEAR(w3[1], 1.5, 1e-12);
    NEAR(w3[2], 0.75, 1e-12);
    /* the 721-latitude ERA5 grid: the pole row is a half cell of width 0.125 degrees */
    double *lat = malloc(sizeof(double) * 721), *big = malloc(sizeof(double) * 721), sum = 0;
    for (int i = 0; i < 721; i++) lat[i] = 90 - 0.25 * i;
    eval_lat_weights(big, lat, 721);
    for (int i = 0; i < 721; i++) sum += big[i];
    NEAR(sum / 721, 1, 1e-12);
    double raw_pole = 1 - sin((90 - 0.125) * M_PI / 180), raw_eq = 2 * sin(0.125 * M_PI / 180);
    NEAR(big[0] / big[360], raw_pole / raw_eq, 1e-9);
    free(lat), free(big);
    double one = 45, w1;
    eval_lat_weights(&w1, &one, 1);
    NEAR(w1, 1, 0);
}

static void test_regions(void) {
    const eval_region *d = eval_default_regions;
    CU_ASSERT_STRING_EQUAL(d[0].name, "global");
    CU_ASSERT_STRING_EQUAL(d[1].name, "n_extratropics");
    CU_ASSERT_STRING_EQUAL(d[2].name, "tropics");
    CU_ASSERT_STRING_EQUAL(d[3].name, "s_extratropics");
    /* boundaries: 20 belongs to both n_extratropics and tropics, -20 to both tropics and s_extratropics */
    CU_ASSERT(eval_region_contains(&d[1], 20, 0) && eval_region_contains(&d[2], 20, 0) && !eval_region_contains(&d[1], 19.99, 0));
    CU_ASSERT(eval_region_contains(&d[3], -20, 0) && eval_region_contains(&d[2], -20, 0) && !eval_region_contains(&d[2], -20.01, 0));
    CU_ASSERT(eval_region_contains(&d[0], -90, 359) && eval_region_contains(&d[0], 90, 0));
    eval_region r;
    CU_ASSERT(eval_region_parse("tropics", &r) == 0 && r.lat_min == -20 && r.lat_max == 20);
    CU_ASSERT(eval_region_parse("europe=35:72:-12.5:42.5", &r) == 0 && !strcmp(r.name, "europe"));
    CU_ASSERT(eval_region_contains(&r, 50, 350) && eval_region_contains(&r, 50, -10) && eval_region_contains(&r, 50, 40));
    CU_ASSERT(!eval_region_contains(&r, 50, 45) && !eval_region_contains(&r, 30, 0) && !eval_region_contains(&r, 50, 180));
    CU_ASSERT(eval_region_parse("pacific=-30:30:150:270", &r) == 0 && eval_region_contains(&r, 0, 200) && !eval_region_contains(&r, 0, 100));
    CU_ASSERT(eval_region_parse("band=40:60", &r) == 0 && eval_region_contains(&r, 50, 123) && isnan(r.lon_min));
    CU_ASSERT(eval_region_parse("arctic", &r) != 0);
    CU_ASSERT(eval_region_parse("x=60:40", &r) != 0);
    CU_ASSERT(eval_region_parse("x=1:2:3", &r) != 0);
    CU_ASSERT(eval_region_parse("x=-95:0", &r) != 0);
    CU_ASSERT(eval_region_parse("a b=0:10", &r) != 0);
    /* masks on latitudes 90, 45, 0, -45, -90 */
    double lat5[5] = {90, 45, 0, -45, -90}, lon4[4] = {0, 90, 180, 270};
    eval_grid g;
    CU_ASSERT_FATAL(eval_grid_init(&g, lat5, lon4, 5, 4, d, 4) == 0);
    unsigned char want[4][5] = {{1, 1, 1, 1, 1}, {1, 1, 0, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 0, 1, 1}};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 5; i++) CU_ASSERT(g.row[k * 5 + i] == want[k][i]);
    eval_grid_free(&g);
    /* a region without grid points is an error */
    CU_ASSERT(eval_grid_init(&g, lat4, lon3, 4, 3, d, 4) != 0); /* tropics: no latitude in -20..20 */
    eval_region gap;
    CU_ASSERT(eval_region_parse("gap=0:80:10:100", &gap) == 0);
    CU_ASSERT(eval_grid_init(&g, lat4, lon3, 4, 3, &gap, 1) != 0); /* no longitude in 10..100 */
}

/* Errors e = f - o on the 4 x 3 grid, rows 90, 30, -30, -90:
 *   1  1  1 | 2  0 -2 | 0  0  3 | -1 -1 -1
 * sum w = 12; sum w e = 3a + 0 + 3b - 3a = 3b; sum w e^2 = 3a + 8b + 9b + 3a = 6a + 17b;
 * sum w |e| = 3a + 4b + 3b + 3a = 6a + 7b. */
static void test_rmse_bias_mae(void) {
    eval_region reg[4];
    CU_ASSERT_FATAL(eval_region_parse("global", &reg[0]) == 0 && eval_region_parse("n_extratropics", &reg[1]) == 0 &&
                    eval_region_parse("s_extratropics", &reg[2]) == 0 && eval_region_parse("east=-90:90:100:260", &reg[3]) == 0);
    eval_grid g;
    CU_ASSERT_FATAL(eval_grid_init(&g, lat4, lon3, 4, 3, reg, 4) == 0);
    float e[12] = {1, 1, 1, 2, 0, -2, 0, 0, 3, -1, -1, -1}, o[12], f[12];
    for (int i = 0; i < 12; i++) o[i] = 280 + 0.5f * i, f[i] = o[i] + e[i];
    eval_sums s[4];
    memset(s, 0, sizeof s);
    eval_field(&g, s, f, o, NULL, NULL, 0);
    double a = WA, b = WB;
    NEAR(s[0].w, 12, 1e-12);
    NEAR(s[0].e / s[0].w, 3 * b / 12, 1e-12);                 /* bias sqrt(3)/4 */
    NEAR(sqrt(s[0].se / s[0].w), sqrt((6 * a + 17 * b) / 12), 1e-12); /* rmse sqrt(1 + 11 sqrt(3) / 12) */
    NEAR(sqrt(s[0].se / s[0].w), 1.60863708, 1e-8);
    NEAR(s[0].ae / s[0].w, (6 * a + 7 * b) / 12, 1e-12);      /* mae 1 + sqrt(3) / 12 */
    /* regions: weights normalised over the region's points */
    NEAR(s[1].w, 3 * a + 3 * b, 1e-12);
    NEAR(s[1].e / s[1].w, a / 2, 1e-12);
    NEAR(s[1].se / s[1].w, (3 * a + 8 * b) / 6, 1e-12);
    NEAR(s[2].e / s[2].w, (b - a) / 2, 1e-12);
    NEAR(s[2].ae / s[2].w, 1, 1e-12);
    /* east: longitudes 120 and 240 only: e = 1 1 | 0 -2 | 0 3 | -1 -1, sum w = 8, sum w e = b */
    NEAR(s[3].w, 8, 1e-12);
    NEAR(s[3].e / s[3].w, b / 8, 1e-12);
    NEAR(s[3].se / s[3].w, (2 * a + 4 * b + 9 * b + 2 * a) / 8, 1e-12);
    /* a NaN in the truth drops the point */
    o[4] = NAN;
    memset(s, 0, sizeof s);
    eval_field(&g, s, f, o, NULL, NULL, 0);
    NEAR(s[0].w, 12 - b, 1e-12);
    NEAR(s[0].e, 3 * b, 1e-12);
    eval_grid_free(&g);
}

static void test_acc(void) {
    eval_region glob = eval_default_regions[0];
    eval_grid g;
    CU_ASSERT_FATAL(eval_grid_init(&g, lat4, lon3, 4, 3, &glob, 1) == 0);
    float c[12], o[12], f[12], neg[12];
    for (int i = 0; i < 12; i++) c[i] = 270 + i, o[i] = c[i] + (float)sin(i + 1.0) * 3, neg[i] = 2 * c[i] - o[i];
    eval_sums s;
    memset(&s, 0, sizeof s);
    eval_field(&g, &s, o, o, c, NULL, 0);
    NEAR(s.fo / sqrt(s.ff * s.oo), 1, 1e-12);
    memset(&s, 0, sizeof s);
    eval_field(&g, &s, neg, o, c, NULL, 0);
    NEAR(s.fo / sqrt(s.ff * s.oo), -1, 1e-12);
    /* by hand: o' = 1 on row 30 (3 points, weight b each), f' = 1 at (30, 0) and (-30, 0):
     * sum w f'o' = b, sum w f'^2 = 2b, sum w o'^2 = 3b: ACC = 1 / sqrt 6 */
    for (int i = 0; i < 12; i++) o[i] = c[i] + (i >= 3 && i < 6), f[i] = c[i] + (i == 3 || i == 6);
    memset(&s, 0, sizeof s);
    eval_field(&g, &s, f, o, c, NULL, 0);
    NEAR(s.fo, WB, 1e-9);
    NEAR(s.ff, 2 * WB, 1e-9);
    NEAR(s.oo, 3 * WB, 1e-9);
    NEAR(s.fo / sqrt(s.ff * s.oo), 1 / sqrt(6.0), 1e-9);
    /* uncentred: a forecast anomaly of +1 everywhere against o' = 1 everywhere is ACC 1 (centred it is undefined) */
    for (int i = 0; i < 12; i++) o[i] = f[i] = c[i] + 1;
    memset(&s, 0, sizeof s);
    eval_field(&g, &s, f, o, c, NULL, 0);
    NEAR(s.fo / sqrt(s.ff * s.oo), 1, 1e-12);
    eval_grid_free(&g);
}

static void test_crps_spread_wind(void) {
    /* members 0, 1, 3: sum_ij |x_i - x_j| = 2 (1 + 3 + 2) = 12, / (2 M (M - 1)) = 12 / 12 = 1 */
    float x[3] = {3, 0, 1};
    NEAR(eval_crps_fair(x, 3, 1), (1 + 0 + 2) / 3.0 - 1, 1e-12);     /* 0 */
    NEAR(eval_crps_fair(x, 3, 2), (2 + 1 + 1) / 3.0 - 1, 1e-12);     /* 1/3 */
    NEAR(eval_crps_fair(x, 3, 5), (5 + 4 + 2) / 3.0 - 1, 1e-12);     /* 8/3 */
    /* two members: |x1 - y|/2 + |x2 - y|/2 - |x1 - x2| / 2 */
    float two[2] = {1, 4};
    NEAR(eval_crps_fair(two, 2, 2), (1 + 2) / 2.0 - 3 / 2.0, 1e-12);
    /* against the double sum on 9 members */
    float m9[9];
    for (int i = 0; i < 9; i++) m9[i] = (float)(sin(3.7 * i) * 5);
    double a = 0, pairs = 0;
    for (int i = 0; i < 9; i++) {
        a += fabs(m9[i] - 0.3);
        for (int j = 0; j < 9; j++) pairs += fabs((double)m9[i] - m9[j]);
    }
    NEAR(eval_crps_fair(m9, 9, 0.3), a / 9 - pairs / (2.0 * 9 * 8), 1e-9);
    /* through eval_field on one point: members 0, 1, 3 against 5 */
    double lat1 = 0, lon1 = 0;
    eval_region glob = eval_default_regions[0];
    eval_grid g;
    CU_ASSERT_FATAL(eval_grid_init(&g, &lat1, &lon1, 1, 1, &glob, 1) == 0);
    float m0[1] = {0}, m1[1] = {1}, m2[1] = {3}, o[1] = {5}, mean[1] = {4.0f / 3};
    const float *ens[3] = {m0, m1, m2};
    eval_sums s;
    memset(&s, 0, sizeof s);
    eval_field(&g, &s, mean, o, NULL, ens, 3);
    NEAR(s.crps / s.w, 8.0 / 3, 1e-6);
    /* variance (N - 1) of 0, 1, 3: squares about 4/3 are 16/9 + 1/9 + 25/9 = 42/9, / 2 = 7/3 */
    NEAR(s.var / s.w, 7.0 / 3, 1e-6);
    eval_accum acc = {0};
    eval_accum_add(&acc, &s);
    double v;
    /* spread / skill: sqrt(7/3) / |4/3 - 5| */
    CU_ASSERT(eval_accum_value(&acc, EVAL_SPREAD_SKILL, 0, &v) && fabs(v - sqrt(7.0 / 3) / (11.0 / 3)) < 1e-6);
    CU_ASSERT(eval_accum_value(&acc, EVAL_CRPS, 0, &v) && fabs(v - 8.0 / 3) < 1e-6);
    /* vector wind error: (3, 4) against calm is 5 */
    float fu[1] = {3}, fv[1] = {4}, ou[1] = {0}, ov[1] = {0};
    memset(&s, 0, sizeof s);
    eval_wind(&g, &s, fu, fv, ou, ov);
    eval_accum wa = {0};
    eval_accum_add(&wa, &s);
    CU_ASSERT(eval_accum_value(&wa, EVAL_WIND_RMSE, 0, &v) && fabs(v - 5) < 1e-12);
    eval_grid_free(&g);
    /* on the 4 x 3 grid: vector errors (1, 1) on the pole rows and (0, 2) on the +-30 rows:
     * sum w |e|^2 = 6a * 2 + 6b * 4 = 12a + 24b over 12 */
    eval_grid g4;
    CU_ASSERT_FATAL(eval_grid_init(&g4, lat4, lon3, 4, 3, &glob, 1) == 0);
    float u[12], vv[12], zero[12] = {0};
    for (int i = 0; i < 12; i++) {
        int pole = i < 3 || i >= 9;
        u[i] = pole ? 1 : 0, vv[i] = pole ? 1 : 2;
    }
    memset(&s, 0, sizeof s);
    eval_wind(&g4, &s, u, vv, zero, zero);
    NEAR(sqrt(s.se / s.w), sqrt((12 * WA + 24 * WB) / 12), 1e-12);
    eval_grid_free(&g4);
}

static void test_over_times(void) {
    /* two times with MSE 1 and 9: RMSE sqrt(5) (WB2, ECMWF) or (1 + 3) / 2 = 2 (per-time mean) */
    eval_sums t1 = {.w = 2, .se = 2, .e = 2, .ae = 2, .fo = 1, .ff = 1, .oo = 1, .has_clim = 1};
    eval_sums t2 = {.w = 2, .se = 18, .e = -6, .ae = 6, .fo = -1, .ff = 1, .oo = 1, .has_clim = 1};
    eval_sums t3 = {.w = 2, .se = 2, .e = 0, .ae = 2, .fo = 0, .ff = 0, .oo = 1, .has_clim = 1}; /* ACC undefined */
    eval_sums none = {0};
    eval_accum a = {0};
    eval_accum_add(&a, &t1), eval_accum_add(&a, &t2), eval_accum_add(&a, &none);
    double v;
    CU_ASSERT(eval_accum_value(&a, EVAL_RMSE, 0, &v) && fabs(v - sqrt(5.0)) < 1e-12);
    CU_ASSERT(eval_accum_value(&a, EVAL_RMSE, 1, &v) && fabs(v - 2) < 1e-12);
    CU_ASSERT(eval_accum_value(&a, EVAL_BIAS, 0, &v) && fabs(v - (1 - 3) / 2.0) < 1e-12);
    CU_ASSERT(eval_accum_value(&a, EVAL_MAE, 0, &v) && fabs(v - (1 + 3) / 2.0) < 1e-12);
    CU_ASSERT(eval_accum_value(&a, EVAL_ACC, 0, &v) && fabs(v) < 1e-12);
    CU_ASSERT(!eval_accum_value(&a, EVAL_CRPS, 0, &v) && !eval_accum_value(&a, EVAL_SPREAD_SKILL, 0, &v));
    eval_accum_add(&a, &t3);
    CU_ASSERT(a.n == 3 && a.nacc == 2);
    eval_accum empty = {0};
    CU_ASSERT(!eval_accum_value(&empty, EVAL_RMSE, 0, &v));
}

static void test_names(void) {
    char s[128];
    eval_source_name("out/demo/fc_2020010100.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "fc");
    eval_source_name("iterated_1h_2019032000.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "iterated_1h");
    eval_source_name("a.b/ifs_202001011200.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "ifs");
    eval_source_name("gfs_20200101.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "gfs");
    eval_source_name("run_12.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "run_12");
    eval_source_name("2020010100.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "2020010100");
    eval_source_name("/x/pangu", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "pangu");
    /* one file per step: the step part after the initial time goes too */
    eval_source_name("fc/ifs_2026120100_f024.grib2", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "ifs");
    eval_source_name("gfs_2026120100_120h.grib2", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "gfs");
    eval_source_name("iterated_1h.nc", s, sizeof s); /* no initial time: 1h is not a step */
    CU_ASSERT_STRING_EQUAL(s, "iterated_1h");
    eval_source_name("run_f024.nc", s, sizeof s);
    CU_ASSERT_STRING_EQUAL(s, "run_f024");
}

/* A two-member forecast written by io/forecast.c read back field by field:
 * in the CF layout (one file per member, opened through the mean and
 * spread file) and in WeatherBench 2's (a realization dimension). */
static void test_forecast_reader(void) {
    int H = 4, W = 6;
    float levels[2] = {850, 500};
    io_state st;
    CU_ASSERT_FATAL(io_state_alloc(&st, H, W, levels, 2, NULL) == 0);
    for (int layout = IO_LAYOUT_CF; layout <= IO_LAYOUT_WB2; layout++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/pangu_test_eval_%d_%d.nc", (int)getpid(), layout);
        double leads[2] = {6, 12}, init;
        CU_ASSERT_FATAL(util_time_parse("2020-01-31T12", &init) == 0);
        io_forecast_spec spec = {.H = H, .W = W, .lat = st.lat, .lon = st.lon, .nlev = 2, .levels = {850, 500},
                                 .write_var = {1, 1, 1, 1, 1, 1, 1, 1, 1}, .nsteps = 2, .lead_hours = leads, .init_time = init,
                                 .members = 2, .source = "test", .layout = layout};
        io_forecast *f;
        CU_ASSERT_FATAL(io_forecast_create(&f, path, &spec) == 0);
        size_t HW = (size_t)H * W;
        for (int m = 0; m < 2; m++)
            for (int s = 0; s < 2; s++) {
                for (size_t i = 0; i < 5 * 2 * HW; i++) st.upper[i] = (float)(1000 * s + 100 * m + i);
                for (size_t i = 0; i < 4 * HW; i++) st.surface[i] = (float)(-1000 * s - 100 * m - (double)i);
                CU_ASSERT_FATAL(io_forecast_write(f, s, m, &st) == 0);
            }
        CU_ASSERT_FATAL(io_forecast_finish(f) == 0);
        eval_fc *e;
        const char *paths[1] = {path};
        CU_ASSERT_FATAL(eval_fc_open(&e, paths, 1, NAN) == 0);
        const eval_fc_info *in = eval_fc_describe(e);
        CU_ASSERT(in->native && in->members == 2 && in->nsteps == 2 && in->H == H && in->W == W && in->nlev == 2);
        CU_ASSERT(fabs(in->init - init) < 1e-3 && fabs(in->lead[1] - 12) < 1e-9 && fabs(in->valid[1] - init - 12 * 3600) < 1e-3);
        float *x = malloc(sizeof(float) * HW);
        double lat[4], lon[6];
        /* member 1, step 1, t at 500 hPa: upper index (2 * 2 + 1) * HW */
        CU_ASSERT(eval_fc_read(e, 1, 1, 2, 500, x, lat, lon) == 0);
        CU_ASSERT(x[0] == 1000 + 100 + 5 * HW && x[HW - 1] == 1000 + 100 + 6 * HW - 1);
        CU_ASSERT(lat[0] == 90 && lat[3] == -90 && lon[0] == 0);
        CU_ASSERT(eval_fc_read(e, 0, 0, 8, 0, x, NULL, NULL) == 0 && x[2] == -(double)(3 * HW + 2));
        CU_ASSERT(eval_fc_read(e, 0, 0, 0, 700, x, NULL, NULL) != 0); /* level not in the file */
        CU_ASSERT(eval_fc_read(e, 0, -1, 0, 500, x, NULL, NULL) != 0); /* ensemble: a member is needed */
        eval_fc_close(e);
        if (layout == IO_LAYOUT_CF) {
            /* A member file alone is a deterministic forecast, pointing at its ensemble. */
            char member[128];
            io_forecast_member_path(path, 1, 2, member, sizeof member);
            const char *mpaths[1] = {member};
            CU_ASSERT_FATAL(eval_fc_open(&e, mpaths, 1, NAN) == 0);
            in = eval_fc_describe(e);
            CU_ASSERT(in->members == 0 && in->member_file && !strcmp(in->ensemble_file, path));
            CU_ASSERT(eval_fc_read(e, 1, -1, 2, 500, x, NULL, NULL) == 0 && x[0] == 1000 + 100 + 5 * HW);
            eval_fc_close(e);
            for (int m = 0; m < 2; m++) io_forecast_member_path(path, m, 2, member, sizeof member), unlink(member);
        }
        free(x);
        unlink(path);
    }
    io_state_free(&st);
}

/* WeatherBench 2's climatology layout (scripts/compute_climatology.py: long
 * names, int64 hour and dayofyear coordinates), here with the dimensions in
 * the order (hour, dayofyear, level, longitude, latitude) and latitude
 * ascending; hourly, and daily without hour. Values encode their indices. */
static double wb2_value(int hour_i, int day_i, int lev_i, int lon_i, int lat_i) {
    return 10000.0 * hour_i + 100.0 * day_i + 10.0 * lev_i + lon_i + 0.01 * lat_i;
}

static int write_wb2_clim(const char *path, int hourly) {
    enum { NH = 4, ND = 366, NL = 2, NX = 4, NY = 3 };
    int nc, d[5], id, zid, tid, ok = nc_create(path, NC_NETCDF4 | NC_CLOBBER, &nc) == NC_NOERR;
    long long hours[NH] = {0, 6, 12, 18}, days[ND], levels[NL] = {500, 850};
    double lat[NY] = {-60, 0, 60}, lon[NX] = {0, 90, 180, 270};
    for (int i = 0; i < ND; i++) days[i] = i + 1;
    int k = 0;
    if (hourly) ok = ok && nc_def_dim(nc, "hour", NH, &d[k++]) == NC_NOERR;
    ok = ok && nc_def_dim(nc, "dayofyear", ND, &d[k++]) == NC_NOERR && nc_def_dim(nc, "level", NL, &d[k++]) == NC_NOERR &&
         nc_def_dim(nc, "longitude", NX, &d[k++]) == NC_NOERR && nc_def_dim(nc, "latitude", NY, &d[k++]) == NC_NOERR;
    int o = hourly ? 1 : 0;
    if (hourly) ok = ok && nc_def_var(nc, "hour", NC_INT64, 1, &d[0], &id) == NC_NOERR && nc_put_var_longlong(nc, id, hours) == NC_NOERR;
    ok = ok && nc_def_var(nc, "dayofyear", NC_INT64, 1, &d[o], &id) == NC_NOERR && nc_put_var_longlong(nc, id, days) == NC_NOERR;
    ok = ok && nc_def_var(nc, "level", NC_INT64, 1, &d[o + 1], &id) == NC_NOERR && nc_put_var_longlong(nc, id, levels) == NC_NOERR;
    ok = ok && nc_def_var(nc, "longitude", NC_DOUBLE, 1, &d[o + 2], &id) == NC_NOERR && nc_put_var_double(nc, id, lon) == NC_NOERR;
    ok = ok && nc_def_var(nc, "latitude", NC_DOUBLE, 1, &d[o + 3], &id) == NC_NOERR && nc_put_var_double(nc, id, lat) == NC_NOERR;
    int sd[4] = {d[0], d[1], d[o + 2], d[o + 3]}; /* surface: (hour,) dayofyear, longitude, latitude */
    if (!hourly) sd[1] = d[o + 2], sd[2] = d[o + 3];
    ok = ok && nc_def_var(nc, "geopotential", NC_FLOAT, 4 + o, d, &zid) == NC_NOERR &&
         nc_def_var(nc, "2m_temperature", NC_FLOAT, 3 + o, sd, &tid) == NC_NOERR;
    size_t n = (size_t)(hourly ? NH : 1) * ND * NL * NX * NY, m = (size_t)(hourly ? NH : 1) * ND * NX * NY, a = 0, b = 0;
    float *z = malloc(sizeof(float) * n), *t = malloc(sizeof(float) * m);
    for (int h = 0; ok && z && t && h < (hourly ? NH : 1); h++)
        for (int dd = 0; dd < ND; dd++) {
            for (int l = 0; l < NL; l++)
                for (int x = 0; x < NX; x++)
                    for (int y = 0; y < NY; y++) z[a++] = (float)wb2_value(h, dd, l, x, y);
            for (int x = 0; x < NX; x++)
                for (int y = 0; y < NY; y++) t[b++] = (float)-wb2_value(h, dd, 0, x, y);
        }
    ok = ok && z && t && nc_put_var_float(nc, zid, z) == NC_NOERR && nc_put_var_float(nc, tid, t) == NC_NOERR;
    free(z), free(t);
    return nc_close(nc) == NC_NOERR && ok;
}

static void test_climatology_wb2(void) {
    int H = 3, W = 4, need[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
    float levels[2] = {850, 500}, x[12];
    char path[64];
    double valid; /* day of year 60 of a leap year (29 February), 12 UTC: hour index 2, day index 59 */
    CU_ASSERT_FATAL(util_time_parse("2020-02-29T12", &valid) == 0);
    for (int hourly = 1; hourly >= 0; hourly--) {
        snprintf(path, sizeof path, "/tmp/pangu_test_wb2clim_%d_%d.nc", (int)getpid(), hourly);
        CU_ASSERT_FATAL(write_wb2_clim(path, hourly));
        eval_clim *c;
        CU_ASSERT_FATAL(eval_clim_open(&c, path, H, W, levels, 2, need) == 0);
        int hi = hourly ? 2 : 0, ok = 1;
        /* the reader's orientation: row 0 is the northernmost latitude (file index 2) */
        CU_ASSERT(eval_clim_read(c, valid, 0, 850, x) == 0);
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) ok &= x[i * W + j] == (float)wb2_value(hi, 59, 1, j, H - 1 - i);
        CU_ASSERT(ok);
        CU_ASSERT(eval_clim_read(c, valid, 8, 0, x) == 0 && x[0] == (float)-wb2_value(hi, 59, 0, 0, 2) &&
                  x[11] == (float)-wb2_value(hi, 59, 0, 3, 0));
        double other; /* 03 UTC: no such hour in an hourly climatology; a daily one has every hour */
        CU_ASSERT_FATAL(util_time_parse("2020-02-29T03", &other) == 0);
        int rc = eval_clim_read(c, other, 8, 0, x);
        CU_ASSERT(hourly ? rc != 0 && strstr(util_last_message(), "hours 0,6,12,18") : rc == 0 && x[0] == (float)-wb2_value(0, 59, 0, 0, 2));
        eval_clim_close(c);
        int need_q[9] = {0, 1, 0, 0, 0, 0, 0, 0, 0};
        CU_ASSERT(eval_clim_open(&c, path, H, W, levels, 2, need_q) != 0 && strstr(util_last_message(), "specific_humidity"));
        unlink(path);
    }
}

/* Relative quantile error by hand: truth 1..10, forecast 1..9 and 20 (in
 * scrambled order, one NaN point left out). With n = 10 and q >= 0.9 the
 * linear quantile interpolates between the two largest values at h = 9 q:
 * Qo = 9 + (h - 8) = 1 + 9 q, Qf = 9 + 11 (h - 8) = 99 q - 79. */
static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double full_sort_quantile(float *x, size_t n, double q) {
    qsort(x, n, sizeof(float), cmp_f);
    double h = (n - 1) * q;
    size_t i = (size_t)h;
    return i + 1 < n ? x[i] + (h - i) * ((double)x[i + 1] - x[i]) : x[i];
}

static void test_rqe(void) {
    CU_ASSERT(fabs(eval_rqe_quantile(0) - 0.9) < 1e-15 && fabs(eval_rqe_quantile(EVAL_RQE_NQ - 1) - 0.9999) < 1e-15);
    CU_ASSERT(fabs(eval_rqe_quantile(1) - (1 - pow(10, -1 - 3.0 / 49))) < 1e-15 && EVAL_RQE_NQ == 50);
    double lat[2] = {45, -45}, lon[6] = {0, 60, 120, 180, 240, 300};
    eval_grid g;
    eval_region reg[2] = {eval_default_regions[0], eval_default_regions[1]}; /* global, n_extratropics */
    CU_ASSERT_FATAL(eval_grid_init(&g, lat, lon, 2, 6, reg, 2) == 0);
    float o[12] = {3, 10, 1, 7, NAN, 5, 2, 9, 8, 4, 6, 11};
    float f[12] = {3, 20, 1, 7, 50, 5, 2, 9, 8, 4, 6, 0}; /* the last point: the truth 11 left out too */
    o[11] = NAN;
    float scratch[24];
    double rqe, want = 0;
    for (int i = 0; i < 50; i++) {
        double q = 1 - pow(10, -1 - 3.0 * i / 49);
        want += (99 * q - 79 - (1 + 9 * q)) / (1 + 9 * q) / 50;
    }
    CU_ASSERT(eval_rqe(&g, 0, f, o, scratch, &rqe) == 1 && fabs(rqe - want) < 1e-6);
    CU_ASSERT(fabs(want - 0.8705579070016571) < 1e-12); /* the same sum in Python */
    /* a smoother forecast: negative; itself: 0 */
    CU_ASSERT(eval_rqe(&g, 0, o, f, scratch, &rqe) == 1 && rqe < 0);
    CU_ASSERT(eval_rqe(&g, 0, o, o, scratch, &rqe) == 1 && rqe == 0);
    /* northern row only: truth 3 10 1 7 5, forecast 3 20 1 7 5; h = 4 q in [3.6, 4): Qo = 7 + 3 (h - 3),
     * Qf = 7 + 13 (h - 3) */
    want = 0;
    for (int i = 0; i < 50; i++) {
        double h = 4 * (1 - pow(10, -1 - 3.0 * i / 49)), qo = 7 + 3 * (h - 3), qf = 7 + 13 * (h - 3);
        want += (qf - qo) / qo / 50;
    }
    CU_ASSERT(eval_rqe(&g, 1, f, o, scratch, &rqe) == 1 && fabs(rqe - want) < 1e-6);
    eval_grid_free(&g);
    /* the partial selection against a full sort: 4000 values with ties */
    enum { N = 4000 };
    static float a[N], b[N], big_scratch[2 * N], sa[N], sb[N];
    double lat2[40], lon2[100];
    for (int i = 0; i < 40; i++) lat2[i] = 87.75 - 4.5 * i;
    for (int j = 0; j < 100; j++) lon2[j] = 3.6 * j;
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        a[i] = (float)((x >> 8) % 500) + 1, b[i] = a[i] * (1 + 0.1f * (float)(i % 7));
    }
    CU_ASSERT_FATAL(eval_grid_init(&g, lat2, lon2, 40, 100, reg, 1) == 0);
    want = 0;
    for (int i = 0; i < 50; i++) {
        memcpy(sa, a, sizeof a), memcpy(sb, b, sizeof b);
        double q = eval_rqe_quantile(i), qa = full_sort_quantile(sa, N, q), qb = full_sort_quantile(sb, N, q);
        want += (qb - qa) / qa / 50;
    }
    CU_ASSERT(eval_rqe(&g, 0, b, a, big_scratch, &rqe) == 1 && fabs(rqe - want) < 1e-9);
    eval_grid_free(&g);
    /* a field whose strided sample (every other point here) sees only its large half: the sample's
     * threshold lies above the 90% quantile, and every value is ordered instead */
    for (int i = 0; i < N; i++) a[i] = (float)(i % 2 ? i : 10000 + i), b[i] = (float)(i % 2 ? 2 * i : 10000 + i / 2);
    want = 0;
    for (int i = 0; i < 50; i++) {
        memcpy(sa, a, sizeof a), memcpy(sb, b, sizeof b);
        double q = eval_rqe_quantile(i), qa = full_sort_quantile(sa, N, q), qb = full_sort_quantile(sb, N, q);
        want += (qb - qa) / qa / 50;
    }
    double lat3[64], lon3[125];
    for (int i = 0; i < 64; i++) lat3[i] = 87.1875 - 2.8125 * i;
    for (int j = 0; j < 125; j++) lon3[j] = 2.88 * j;
    static float a3[64 * 125], b3[64 * 125], scratch3[2 * 64 * 125];
    for (int i = 0; i < 64 * 125; i++) a3[i] = i < N ? a[i] : NAN, b3[i] = i < N ? b[i] : NAN;
    CU_ASSERT_FATAL(eval_grid_init(&g, lat3, lon3, 64, 125, reg, 1) == 0);
    CU_ASSERT(eval_rqe(&g, 0, b3, a3, scratch3, &rqe) == 1 && fabs(rqe - want) < 1e-9);
    eval_grid_free(&g);
    /* over times: the mean of each time's RQE */
    eval_accum acc = {0};
    eval_sums s1 = {.w = 1, .rqe = 0.2, .has_rqe = 1}, s2 = {.w = 1, .rqe = -0.4, .has_rqe = 1}, s3 = {.w = 1};
    eval_accum_add(&acc, &s1), eval_accum_add(&acc, &s2), eval_accum_add(&acc, &s3);
    double v;
    CU_ASSERT(eval_accum_value(&acc, EVAL_RQE, 0, &v) == 1 && fabs(v + 0.1) < 1e-15);
    CU_ASSERT(!strcmp(eval_metric_names[EVAL_RQE], "rqe"));
}

int tests_register_eval(void) {
    CU_pSuite s = CU_add_suite("eval", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "WeatherBench 2 latitude weights by hand", test_weights) ||
        !CU_add_test(s, "regions and their masks", test_regions) ||
        !CU_add_test(s, "rmse, bias, mae on a 4 x 3 grid by hand, regions", test_rmse_bias_mae) ||
        !CU_add_test(s, "uncentred ACC: itself 1, negative -1, by hand", test_acc) ||
        !CU_add_test(s, "fair CRPS, spread-skill, vector wind error by hand", test_crps_spread_wind) ||
        !CU_add_test(s, "over initial times: sqrt(mean MSE) and mean RMSE, means", test_over_times) ||
        !CU_add_test(s, "relative quantile error by hand, regions, against a full sort", test_rqe) ||
        !CU_add_test(s, "source names from file names", test_names) ||
        !CU_add_test(s, "forecast reader on an ensemble file", test_forecast_reader) ||
        !CU_add_test(s, "climatology reader: WB2 layout, any dim order, hourly and daily", test_climatology_wb2))
        return -1;
    return 0;
}
