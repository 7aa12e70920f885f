/* Suite "regrid": conservative coarsening (data/regrid.c) against its
 * defining properties and against an independent brute-force remapper
 * (every source cell against every target cell, edges as midpoints clipped
 * at the poles, longitudes shifted by multiples of 360 degrees), and weights
 * computed by hand for a 5 x 8 grid. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/regrid.h"
#include "tests.h"
#include "util/util.h"

#define PI 3.14159265358979323846
#define D2R (PI / 180.0)

/* A regular grid: H latitudes from lat0 to lat1 (inclusive), W longitudes
 * from lon0 every 360 / W degrees. */
typedef struct {
    int H, W;
    double *lat, *lon;
} grid;

static grid make_grid(int H, int W, double lat0, double lat1, double lon0) {
    grid g = {H, W, malloc(sizeof(double) * H), malloc(sizeof(double) * W)};
    for (int i = 0; i < H; i++) g.lat[i] = lat0 + (lat1 - lat0) * i / (H - 1);
    for (int l = 0; l < W; l++) g.lon[l] = lon0 + 360.0 * l / W;
    return g;
}

static void free_grid(grid *g) {
    free(g->lat);
    free(g->lon);
}

static double *random_field(size_t n, uint64_t seed) {
    util_rng r;
    util_rng_seed(&r, seed);
    double *f = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) f[i] = 200.0 + 100.0 * util_rng_uniform(&r);
    return f;
}

/* Latitude edges of n centres c: midpoints, the ends half a step out,
 * clipped to +-90. */
static void lat_edges(const double *c, int n, double *e) {
    double d = (c[n - 1] - c[0]) / (n - 1);
    e[0] = c[0] - d / 2, e[n] = c[n - 1] + d / 2;
    for (int i = 1; i < n; i++) e[i] = (c[i - 1] + c[i]) / 2;
    for (int i = 0; i <= n; i++) e[i] = fmax(-90.0, fmin(90.0, e[i]));
}

/* Overlap in radians of longitude intervals [a0, a1] and [b0, b1] on the circle. */
static double lon_overlap(double a0, double a1, double b0, double b1) {
    double s = 0;
    for (int m = -2; m <= 2; m++) {
        double lo = fmax(a0, b0 + 360.0 * m), hi = fmin(a1, b1 + 360.0 * m);
        if (hi > lo) s += (hi - lo) * D2R;
    }
    return s;
}

/* The brute-force remapper on target centres (lat_out, lon_out): FRACAREA
 * mean of the non-NaN sources. */
static void brute_force(const grid *src, const double *f, const double *lat_out, int Ho, const double *lon_out, int Wo,
                        double *out) {
    double *es = malloc(sizeof(double) * (src->H + 1)), *et = malloc(sizeof(double) * (Ho + 1));
    lat_edges(src->lat, src->H, es);
    lat_edges(lat_out, Ho, et);
    double dls = 360.0 / src->W, dlt = 360.0 / Wo;
    for (int j = 0; j < Ho; j++)
        for (int k = 0; k < Wo; k++) {
            double num = 0, den = 0, tn = fmax(et[j], et[j + 1]), ts = fmin(et[j], et[j + 1]);
            for (int i = 0; i < src->H; i++) {
                double sn = fmax(es[i], es[i + 1]), ss = fmin(es[i], es[i + 1]);
                double hi = fmin(tn, sn), lo = fmax(ts, ss);
                if (!(hi > lo)) continue;
                double a = sin(hi * D2R) - sin(lo * D2R);
                for (int l = 0; l < src->W; l++) {
                    double v = f[(size_t)i * src->W + l];
                    if (isnan(v)) continue;
                    double b = lon_overlap(lon_out[k] - dlt / 2, lon_out[k] + dlt / 2, src->lon[l] - dls / 2,
                                           src->lon[l] + dls / 2);
                    num += a * b * v, den += a * b;
                }
            }
            out[(size_t)j * Wo + k] = den > 0 ? num / den : NAN;
        }
    free(es);
    free(et);
}

static double max_rel_diff(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            if (isnan(a[i]) != isnan(b[i])) return INFINITY;
            continue;
        }
        m = fmax(m, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-300));
    }
    return m;
}

/* Grids used throughout: pole to pole (every K-th latitude), offset (blocks),
 * south to north, longitudes from -180. */
static const struct {
    int H, W, K;
    double lat0, lat1, lon0;
    int mode, Ho, Wo;
} cases[] = {
    {721, 1440, 4, 90, -90, 0, REGRID_LAT_SUBSAMPLE, 181, 360}, /* ERA5 0.25 -> 1 degree */
    {721, 1440, 6, 90, -90, 0, REGRID_LAT_SUBSAMPLE, 121, 240}, /* ERA5 0.25 -> 1.5 degrees */
    {33, 64, 4, 90, -90, 0, REGRID_LAT_SUBSAMPLE, 9, 16},
    {33, 64, 2, -90, 90, -180, REGRID_LAT_SUBSAMPLE, 17, 32},
    {37, 72, 3, 90, -90, 0, REGRID_LAT_SUBSAMPLE, 13, 24},
    {32, 64, 4, 87.1875, -87.1875, 0, REGRID_LAT_BLOCKS, 8, 16}, /* 5.625 -> 22.5 degrees */
    {180, 360, 2, -89.5, 89.5, 0.5, REGRID_LAT_BLOCKS, 90, 180},
    {24, 48, 6, 86.25, -86.25, 0, REGRID_LAT_BLOCKS, 4, 8},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void test_sizes_and_constant(void) {
    for (int c = 0; c < NCASES; c++) {
        grid g = make_grid(cases[c].H, cases[c].W, cases[c].lat0, cases[c].lat1, cases[c].lon0);
        regrid_weights w;
        CU_ASSERT_FATAL(regrid_weights_build(&w, g.lat, g.H, g.lon, g.W, cases[c].K) == 0);
        CU_ASSERT(w.Ho == cases[c].Ho && w.Wo == cases[c].Wo && w.lat_mode == cases[c].mode && w.periodic);
        size_t n = (size_t)g.H * g.W, no = (size_t)w.Ho * w.Wo;
        double *f = malloc(sizeof(double) * n), *out = malloc(sizeof(double) * no);
        for (size_t i = 0; i < n; i++) f[i] = 273.15;
        regrid_apply(&w, f, out);
        double worst = 0;
        for (size_t i = 0; i < no; i++) worst = fmax(worst, fabs(out[i] - 273.15) / 273.15);
        CU_ASSERT(worst < 1e-14);
        /* Coordinates: every K-th longitude; every K-th latitude or block means. */
        for (int k = 0; k < w.Wo; k++) CU_ASSERT(w.lon_out[k] == g.lon[k * cases[c].K]);
        for (int j = 0; j < w.Ho; j++) {
            double want = 0;
            if (w.lat_mode == REGRID_LAT_SUBSAMPLE)
                want = g.lat[j * cases[c].K];
            else
                for (int i = 0; i < cases[c].K; i++) want += g.lat[j * cases[c].K + i] / cases[c].K;
            CU_ASSERT(fabs(w.lat_out[j] - want) < 1e-12);
        }
        free(f);
        free(out);
        regrid_weights_free(&w);
        free_grid(&g);
    }
}

/* sum(area_out * out) equals sum(area_in * in) over the sphere. */
static void test_global_mean_conserved(void) {
    for (int c = 0; c < NCASES; c++) {
        grid g = make_grid(cases[c].H, cases[c].W, cases[c].lat0, cases[c].lat1, cases[c].lon0);
        regrid_weights w;
        CU_ASSERT_FATAL(regrid_weights_build(&w, g.lat, g.H, g.lon, g.W, cases[c].K) == 0);
        size_t n = (size_t)g.H * g.W, no = (size_t)w.Ho * w.Wo;
        double *f = random_field(n, 100 + c), *out = malloc(sizeof(double) * no);
        float *ff = malloc(sizeof(float) * n), *outf = malloc(sizeof(float) * no);
        for (size_t i = 0; i < n; i++) ff[i] = (float)f[i];
        regrid_apply(&w, f, out);
        regrid_apply_float(&w, ff, outf);
        double sin_ = 0, ain = 0, sout = 0, aout = 0, soutf = 0;
        for (int i = 0; i < g.H; i++)
            for (int l = 0; l < g.W; l++) {
                double a = regrid_area_in(&w, i, l);
                sin_ += a * f[(size_t)i * g.W + l], ain += a;
            }
        for (int j = 0; j < w.Ho; j++)
            for (int k = 0; k < w.Wo; k++) {
                double a = regrid_area_out(&w, j, k);
                sout += a * out[(size_t)j * w.Wo + k], aout += a;
                soutf += a * outf[(size_t)j * w.Wo + k];
            }
        CU_ASSERT(fabs(ain - 4 * PI) < 1e-9);
        CU_ASSERT(fabs(aout - 4 * PI) < 1e-9);
        CU_ASSERT(fabs(sout - sin_) <= 1e-6 * fabs(sin_));
        CU_ASSERT(fabs(sout - sin_) <= 1e-12 * fabs(sin_));
        CU_ASSERT(fabs(soutf - sin_) <= 1e-6 * fabs(sin_));
        free(f), free(out), free(ff), free(outf);
        regrid_weights_free(&w);
        free_grid(&g);
    }
}

/* Source values that are cell means of a + b sin(latitude) give the target
 * cells' means exactly wherever target cells are unions of whole source
 * cells: blocks, and every K-th latitude for odd K. */
static void test_linear_in_sin_latitude(void) {
    const double a = 3.0, b = -2.0;
    for (int c = 0; c < NCASES; c++) {
        if (cases[c].mode == REGRID_LAT_SUBSAMPLE && cases[c].K % 2 == 0) continue;
        grid g = make_grid(cases[c].H, cases[c].W, cases[c].lat0, cases[c].lat1, cases[c].lon0);
        regrid_weights w;
        CU_ASSERT_FATAL(regrid_weights_build(&w, g.lat, g.H, g.lon, g.W, cases[c].K) == 0);
        double *es = malloc(sizeof(double) * (g.H + 1)), *et = malloc(sizeof(double) * (w.Ho + 1));
        lat_edges(g.lat, g.H, es);
        lat_edges(w.lat_out, w.Ho, et);
        size_t n = (size_t)g.H * g.W, no = (size_t)w.Ho * w.Wo;
        double *f = malloc(sizeof(double) * n), *out = malloc(sizeof(double) * no);
        for (int i = 0; i < g.H; i++)
            for (int l = 0; l < g.W; l++)
                f[(size_t)i * g.W + l] = a + b * (sin(es[i] * D2R) + sin(es[i + 1] * D2R)) / 2;
        regrid_apply(&w, f, out);
        double worst = 0;
        for (int j = 0; j < w.Ho; j++) {
            double want = a + b * (sin(et[j] * D2R) + sin(et[j + 1] * D2R)) / 2;
            for (int k = 0; k < w.Wo; k++) worst = fmax(worst, fabs(out[(size_t)j * w.Wo + k] - want));
        }
        CU_ASSERT(worst < 1e-12);
        if (worst >= 1e-12) fprintf(stderr, "\n  case %d: linear in sin(lat) off by %g\n", c, worst);
        free(es), free(et), free(f), free(out);
        regrid_weights_free(&w);
        free_grid(&g);
    }
}

/* Every small case against the brute-force remapper, with NaN sources: a
 * single NaN cell is left out with the weights renormalised, and a target
 * whose sources are all NaN is NaN. */
static void test_brute_force_and_nan(void) {
    for (int c = 2; c < NCASES; c++) {
        if (cases[c].H * cases[c].W > 20000) continue;
        grid g = make_grid(cases[c].H, cases[c].W, cases[c].lat0, cases[c].lat1, cases[c].lon0);
        regrid_weights w;
        CU_ASSERT_FATAL(regrid_weights_build(&w, g.lat, g.H, g.lon, g.W, cases[c].K) == 0);
        size_t n = (size_t)g.H * g.W, no = (size_t)w.Ho * w.Wo;
        double *f = random_field(n, 7 + c), *out = malloc(sizeof(double) * no), *ref = malloc(sizeof(double) * no);
        double *clean = malloc(sizeof(double) * no);
        regrid_apply(&w, f, clean);
        brute_force(&g, f, w.lat_out, w.Ho, w.lon_out, w.Wo, ref);
        CU_ASSERT(max_rel_diff(clean, ref, no) < 1e-12);
        /* One NaN source cell (row 5, column 9). */
        int i0 = 5, l0 = 9;
        f[(size_t)i0 * g.W + l0] = NAN;
        regrid_apply(&w, f, out);
        brute_force(&g, f, w.lat_out, w.Ho, w.lon_out, w.Wo, ref);
        CU_ASSERT(max_rel_diff(out, ref, no) < 1e-12);
        int changed = 0, nan_out = 0;
        for (size_t t = 0; t < no; t++) changed += out[t] != clean[t], nan_out += isnan(out[t]);
        CU_ASSERT(changed >= 1 && changed <= 4 && nan_out == 0);
        /* A whole target cell's sources NaN: target (1, 2) is NaN, its
         * neighbours are renormalised means of what is left. */
        for (int i = 0; i < g.H; i++)
            for (int l = 0; l < g.W; l++)
                if (fabs(i - (double)(w.lat_mode == REGRID_LAT_SUBSAMPLE ? cases[c].K
                                                                         : cases[c].K + (cases[c].K - 1) / 2.0)) <=
                        cases[c].K / 2.0 + 0.01 &&
                    fabs(l - 2.0 * cases[c].K) <= cases[c].K / 2.0 + 0.01)
                    f[(size_t)i * g.W + l] = NAN;
        regrid_apply(&w, f, out);
        brute_force(&g, f, w.lat_out, w.Ho, w.lon_out, w.Wo, ref);
        CU_ASSERT(isnan(out[(size_t)1 * w.Wo + 2]));
        CU_ASSERT(max_rel_diff(out, ref, no) < 1e-12);
        free(f), free(out), free(ref), free(clean);
        regrid_weights_free(&w);
        free_grid(&g);
    }
}

/* North-to-south and south-to-north inputs of the same field give the same
 * output, mirrored (and the latitudes reversed). */
static void test_mirrored(void) {
    const int sizes[][3] = {{33, 64, 4}, {32, 64, 4}, {37, 72, 3}, {721, 1440, 4}};
    for (int c = 0; c < 4; c++) {
        int H = sizes[c][0], W = sizes[c][1], K = sizes[c][2];
        double top = H % 2 ? 90.0 : 90.0 - 90.0 / H;
        grid ns = make_grid(H, W, top, -top, 0), sn = make_grid(H, W, -top, top, 0);
        regrid_weights a, b;
        CU_ASSERT_FATAL(regrid_weights_build(&a, ns.lat, H, ns.lon, W, K) == 0);
        CU_ASSERT_FATAL(regrid_weights_build(&b, sn.lat, H, sn.lon, W, K) == 0);
        CU_ASSERT_FATAL(a.Ho == b.Ho && a.Wo == b.Wo);
        size_t n = (size_t)H * W, no = (size_t)a.Ho * a.Wo;
        double *f = random_field(n, 40 + c), *g = malloc(sizeof(double) * n);
        double *oa = malloc(sizeof(double) * no), *ob = malloc(sizeof(double) * no);
        for (int i = 0; i < H; i++) memcpy(g + (size_t)(H - 1 - i) * W, f + (size_t)i * W, sizeof(double) * W);
        regrid_apply(&a, f, oa);
        regrid_apply(&b, g, ob);
        double worst = 0;
        for (int j = 0; j < a.Ho; j++) {
            CU_ASSERT(fabs(a.lat_out[j] - b.lat_out[a.Ho - 1 - j]) < 1e-12);
            for (int k = 0; k < a.Wo; k++)
                worst = fmax(worst, fabs(oa[(size_t)j * a.Wo + k] - ob[(size_t)(a.Ho - 1 - j) * a.Wo + k]));
        }
        CU_ASSERT(worst < 1e-10);
        free(f), free(g), free(oa), free(ob);
        regrid_weights_free(&a);
        regrid_weights_free(&b);
        free_grid(&ns);
        free_grid(&sn);
    }
}

/* 5 x 8 grid (45 degrees, poles included), K = 2 -> 3 x 4, by hand.
 * Target latitudes 90, 0, -90 with edges 90, 45, -45, -90; source edges
 * 90, 67.5, 22.5, -22.5, -67.5, -90. Target longitude k spans
 * [90k - 45, 90k + 45]: source 2k whole (pi/4), 2k - 1 and 2k + 1 half
 * (pi/8), modulo 8. */
static void test_hand_weights(void) {
    const double lat[5] = {90, 45, 0, -45, -90}, lon[8] = {0, 45, 90, 135, 180, 225, 270, 315};
    const double s675 = sin(67.5 * D2R), s45 = sin(45 * D2R), s225 = sin(22.5 * D2R);
    const struct {
        int j, i;
        double a;
    } lat_links[7] = {{0, 0, 1 - s675},   {0, 1, s675 - s45}, {1, 1, s45 - s225}, {1, 2, 2 * s225},
                      {1, 3, s45 - s225}, {2, 3, s675 - s45}, {2, 4, 1 - s675}};
    regrid_weights w;
    CU_ASSERT_FATAL(regrid_weights_build(&w, lat, 5, lon, 8, 2) == 0);
    CU_ASSERT_FATAL(w.Ho == 3 && w.Wo == 4);
    CU_ASSERT(w.lat_mode == REGRID_LAT_SUBSAMPLE);
    CU_ASSERT(w.lat_out[0] == 90 && w.lat_out[1] == 0 && w.lat_out[2] == -90);
    CU_ASSERT(w.lon_out[0] == 0 && w.lon_out[1] == 90 && w.lon_out[2] == 180 && w.lon_out[3] == 270);
    const double eo[4] = {90, 45, -45, -90};
    for (int j = 0; j <= 3; j++) CU_ASSERT(fabs(w.lat_edges_out[j] - eo[j]) < 1e-12);
    for (int k = 0; k <= 4; k++) CU_ASSERT(fabs(w.lon_edges_out[k] - (90.0 * k - 45)) < 1e-12);
    size_t n;
    int *dst, *src;
    double *area;
    CU_ASSERT_FATAL(regrid_links(&w, &n, &dst, &src, &area) == 0);
    CU_ASSERT_FATAL(n == 7 * 4 * 3);
    size_t m = 0;
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            for (int p = 0; p < 7; p++) {
                if (lat_links[p].j != j) continue;
                /* sources of column k in ascending order */
                int ls[3] = {2 * k - 1, 2 * k, 2 * k + 1};
                double lw[3] = {PI / 8, PI / 4, PI / 8};
                for (int q = 0; q < 3; q++) ls[q] = (ls[q] + 8) % 8;
                for (int q = 0; q < 3; q++)
                    for (int r = q + 1; r < 3; r++)
                        if (ls[r] < ls[q]) {
                            int t = ls[q];
                            double u = lw[q];
                            ls[q] = ls[r], lw[q] = lw[r], ls[r] = t, lw[r] = u;
                        }
                for (int q = 0; q < 3; q++, m++) {
                    CU_ASSERT(dst[m] == j * 4 + k);
                    CU_ASSERT(src[m] == lat_links[p].i * 8 + ls[q]);
                    CU_ASSERT(fabs(area[m] - lat_links[p].a * lw[q]) < 1e-15);
                }
            }
    CU_ASSERT(m == n);
    /* Applied to f = 10 * row + column: target (0, 0) by hand. */
    double f[40], out[12];
    for (int i = 0; i < 5; i++)
        for (int l = 0; l < 8; l++) f[i * 8 + l] = 10 * i + l;
    regrid_apply(&w, f, out);
    double a0 = 1 - s675, a1 = s675 - s45;
    double col = (PI / 8 * 7 + PI / 4 * 0 + PI / 8 * 1) / (PI / 2); /* columns 7, 0, 1 */
    double want = (a0 * (0 + col) + a1 * (10 + col)) / (a0 + a1);
    CU_ASSERT(fabs(out[0] - want) < 1e-12);
    /* Target (1, 1): rows 1, 2, 3 and columns 1, 2, 3 (mean column 2). */
    double b1 = s45 - s225, b2 = 2 * s225;
    CU_ASSERT(fabs(out[4 + 1] - ((b1 * 10 + b2 * 20 + b1 * 30) / (2 * b1 + b2) + 2)) < 1e-12);
    free(dst), free(src), free(area);
    regrid_weights_free(&w);
}

static void test_errors(void) {
    regrid_weights w;
    grid g = make_grid(33, 64, 90, -90, 0);
    CU_ASSERT(regrid_weights_build(&w, g.lat, 33, g.lon, 64, 1) == UTIL_EINVAL);
    CU_ASSERT(strstr(util_last_message(), "at least 2") != NULL);
    CU_ASSERT(regrid_weights_build(&w, g.lat, 33, g.lon, 64, 3) == UTIL_EINVAL); /* 3 divides neither 32 nor 64 */
    CU_ASSERT(strstr(util_last_message(), "latitude") != NULL);
    grid h = make_grid(37, 72, 90, -90, 0);
    CU_ASSERT(regrid_weights_build(&w, h.lat, 37, h.lon, 72, 4) == 0); /* 36 % 4 == 0, 72 % 4 == 0 */
    regrid_weights_free(&w);
    CU_ASSERT(regrid_weights_build(&w, h.lat, 37, h.lon, 72, 5) == UTIL_EINVAL); /* 5 does not divide 36 */
    CU_ASSERT(strstr(util_last_message(), "must divide 36") != NULL);
    grid q = make_grid(37, 90, 90, -90, 0);
    CU_ASSERT(regrid_weights_build(&w, q.lat, 37, q.lon, 90, 4) == UTIL_EINVAL); /* divides 36, not 90 */
    CU_ASSERT(strstr(util_last_message(), "does not divide the 90 longitudes") != NULL);
    free_grid(&q);
    g.lat[10] += 0.5; /* irregular */
    CU_ASSERT(regrid_weights_build(&w, g.lat, 33, g.lon, 64, 4) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "not regularly spaced") != NULL);
    g.lat[10] -= 0.5;
    CU_ASSERT(regrid_weights_build(&w, g.lat, 33, g.lon, 64, 4) == 0);
    regrid_weights_free(&w);
    double lon[65];
    for (int l = 0; l <= 64; l++) lon[l] = 360.0 * l / 64; /* 0 .. 360 inclusive */
    CU_ASSERT(regrid_weights_build(&w, g.lat, 33, lon, 65, 4) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "more than the circle") != NULL);
    CU_ASSERT(regrid_weights_build(&w, g.lat, 33, g.lon, 64, 16) == UTIL_OK);
    regrid_weights_free(&w);
    grid r = make_grid(32, 64, 87.1875, -87.1875, 0);
    CU_ASSERT(regrid_weights_build(&w, r.lat, 32, r.lon, 64, 3) == UTIL_EINVAL); /* 3 does not divide 32 */
    CU_ASSERT(w.lat_out == NULL && w.lat.start == NULL);
    free_grid(&g);
    free_grid(&h);
    free_grid(&r);
}

int tests_register_regrid(void) {
    CU_pSuite s = CU_add_suite("regrid", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "coarse grid sizes, coordinates; a constant stays constant", test_sizes_and_constant) ||
        !CU_add_test(s, "area-weighted global mean conserved for random fields", test_global_mean_conserved) ||
        !CU_add_test(s, "cell means linear in sin(latitude) preserved", test_linear_in_sin_latitude) ||
        !CU_add_test(s, "brute-force remapper agrees; NaN sources left out", test_brute_force_and_nan) ||
        !CU_add_test(s, "north-to-south and south-to-north give mirrored outputs", test_mirrored) ||
        !CU_add_test(s, "hand-computed weights on a 5 x 8 grid, K = 2", test_hand_weights) ||
        !CU_add_test(s, "bad factors and coordinates are refused", test_errors))
        return -1;
    return 0;
}
