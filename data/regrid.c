/* regrid: first-order conservative coarsening of regular latitude-longitude
 * grids (see regrid.h). Positions along each axis are handled in index
 * units: source cell i spans [i - 1/2, i + 1/2]; a target cell spans
 * [jK - K/2, jK + K/2] (every K-th point) or [jK - 1/2, jK + K - 1/2]
 * (blocks). These bounds are exact in binary, so cells whose edges
 * coincide meet exactly, without slivers; degrees (and sines) are taken
 * only when an overlap's area is computed. */
#include "regrid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

#define DEG2RAD (3.14159265358979323846 / 180.0)
/* Relative tolerance on the spacing of a regular axis (coordinates stored
 * as float are regular to about 1e-5 of the spacing; Gaussian latitudes
 * deviate by more than 1e-3 near the poles). */
#define REGRID_TOL 1e-3

/* A latitude axis lat(u) = lat0 + u * d, clipped to the poles. */
typedef struct {
    double lat0, d;
} lat_axis;

static double lat_at(const lat_axis *a, double u) {
    double v = a->lat0 + u * a->d;
    return v > 90.0 ? 90.0 : v < -90.0 ? -90.0 : v;
}

/* |sin(x) - sin(y)| for latitudes in degrees, accurate for close x, y. */
static double sin_diff(double x, double y) {
    return fabs(2.0 * cos(0.5 * (x + y) * DEG2RAD) * sin(0.5 * (x - y) * DEG2RAD));
}

static int axis_alloc(regrid_axis *ax, int n_in, int n_out, int max_links) {
    ax->n_in = n_in, ax->n_out = n_out;
    ax->start = calloc((size_t)n_out + 1, sizeof(int));
    ax->index = malloc(sizeof(int) * (size_t)(max_links > 0 ? max_links : 1));
    ax->overlap = malloc(sizeof(double) * (size_t)(max_links > 0 ? max_links : 1));
    if (!ax->start || !ax->index || !ax->overlap) return util_fail(UTIL_ENOMEM, "cannot allocate regridding weights");
    return UTIL_OK;
}

static void axis_free(regrid_axis *ax) {
    free(ax->start);
    free(ax->index);
    free(ax->overlap);
    memset(ax, 0, sizeof *ax);
}

/* Add `overlap` for source `index` to the links of the current target
 * (those from first to *n), merging a source met twice (a periodic target
 * as wide as the circle) and keeping the sources in ascending order. */
static void axis_add(regrid_axis *ax, int first, int *n, int index, double overlap) {
    for (int p = first; p < *n; p++)
        if (ax->index[p] == index) {
            ax->overlap[p] += overlap;
            return;
        }
    int p = *n;
    while (p > first && ax->index[p - 1] > index) {
        ax->index[p] = ax->index[p - 1];
        ax->overlap[p] = ax->overlap[p - 1];
        p--;
    }
    ax->index[p] = index;
    ax->overlap[p] = overlap;
    (*n)++;
}

/* Check that x (n values) is regular: spacing *step (nonzero) within
 * REGRID_TOL of it everywhere. */
static int check_regular(const double *x, int n, const char *what, double *step) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return util_fail(UTIL_EFORMAT, "%s %d is %g: expected finite coordinates", what, i, x[i]);
    double d = (x[n - 1] - x[0]) / (n - 1);
    if (!(fabs(d) > 0)) return util_fail(UTIL_EFORMAT, "%s: first and last values are equal (%g)", what, x[0]);
    for (int i = 0; i + 1 < n; i++) {
        double di = x[i + 1] - x[i];
        if (fabs(di - d) > REGRID_TOL * fabs(d))
            return util_fail(UTIL_EFORMAT,
                             "%s is not regularly spaced: step %g between %s %d (%g) and %d (%g), the mean step is %g "
                             "(Gaussian or irregular grids are not supported)",
                             what, di, what, i, x[i], i + 1, x[i + 1], d);
    }
    *step = d;
    return UTIL_OK;
}

static int build_lat(regrid_weights *w, const double *lat, int H, int K) {
    double d;
    int status;
    if (H < 2) return util_fail(UTIL_EFORMAT, "latitude has %d point(s): expected at least 2", H);
    if ((status = check_regular(lat, H, "latitude", &d))) return status;
    double tol = REGRID_TOL * fabs(d);
    for (int i = 0; i < H; i++)
        if (fabs(lat[i]) > 90.0 + tol)
            return util_fail(UTIL_EFORMAT, "latitude %d is %g: expected values within -90 .. 90", i, lat[i]);
    int pole0 = fabs(fabs(lat[0]) - 90.0) <= tol, pole1 = fabs(fabs(lat[H - 1]) - 90.0) <= tol;
    int both = pole0 && pole1 && lat[0] * lat[H - 1] < 0;
    lat_axis ax = {lat[0], d};
    if (both) { /* snap to the poles exactly */
        ax.lat0 = lat[0] > 0 ? 90.0 : -90.0;
        ax.d = -2.0 * ax.lat0 / (H - 1);
    }
    int Ho;
    if (both) {
        if ((H - 1) % K != 0)
            return util_fail(
                UTIL_EINVAL,
                "latitude: the %d latitudes run from pole to pole, so the coarse grid keeps every K-th one "
                "and the factor %d must divide %d (H - 1)",
                H, K, H - 1);
        w->lat_mode = REGRID_LAT_SUBSAMPLE;
        Ho = (H - 1) / K + 1;
    } else {
        if (H % K != 0)
            return util_fail(UTIL_EINVAL,
                             "latitude: the %d latitudes do not include both poles, so the coarse grid averages blocks "
                             "of K cells and the factor %d must divide %d",
                             H, K, H);
        w->lat_mode = REGRID_LAT_BLOCKS;
        Ho = H / K;
    }
    w->Ho = Ho;
    w->lat_out = malloc(sizeof(double) * Ho);
    w->lat_edges_out = malloc(sizeof(double) * (Ho + 1));
    w->lat_area_in = malloc(sizeof(double) * H);
    w->lat_area_out = malloc(sizeof(double) * Ho);
    if (!w->lat_out || !w->lat_edges_out || !w->lat_area_in || !w->lat_area_out)
        return util_fail(UTIL_ENOMEM, "cannot allocate regridding weights");
    if ((status = axis_alloc(&w->lat, H, Ho, Ho * (K + 2)))) return status;
    for (int i = 0; i < H; i++) w->lat_area_in[i] = sin_diff(lat_at(&ax, i - 0.5), lat_at(&ax, i + 0.5));
    int n = 0;
    for (int j = 0; j < Ho; j++) {
        double ua, ub; /* the target cell in index units */
        if (w->lat_mode == REGRID_LAT_SUBSAMPLE) {
            ua = (double)j * K - 0.5 * K, ub = (double)j * K + 0.5 * K;
            w->lat_out[j] = lat[j * K];
        } else {
            ua = (double)j * K - 0.5, ub = (double)j * K + K - 0.5;
            double s = 0;
            for (int i = j * K; i < (j + 1) * K; i++) s += lat[i];
            w->lat_out[j] = s / K;
        }
        w->lat_edges_out[j] = lat_at(&ax, ua);
        if (j == Ho - 1) w->lat_edges_out[Ho] = lat_at(&ax, ub);
        w->lat_area_out[j] = sin_diff(lat_at(&ax, ua), lat_at(&ax, ub));
        int first = n;
        for (int i = (int)floor(ua + 0.5); i <= (int)ceil(ub - 0.5); i++) {
            if (i < 0 || i >= H) continue;
            double lo = fmax(i - 0.5, ua), hi = fmin(i + 0.5, ub);
            if (!(hi > lo)) continue;
            double a = sin_diff(lat_at(&ax, lo), lat_at(&ax, hi));
            if (a > 0) axis_add(&w->lat, first, &n, i, a);
        }
        w->lat.start[j + 1] = n;
    }
    return UTIL_OK;
}

static int build_lon(regrid_weights *w, const double *lon, int W, int K) {
    double d;
    int status;
    if (W < 2) return util_fail(UTIL_EFORMAT, "longitude has %d point(s): expected at least 2", W);
    if ((status = check_regular(lon, W, "longitude", &d))) return status;
    if (d < 0)
        return util_fail(UTIL_EFORMAT, "longitude decreases (%g, %g, ...): expected increasing longitudes", lon[0],
                         lon[1]);
    double span = W * d, tol = REGRID_TOL * d;
    if (span > 360.0 + tol)
        return util_fail(UTIL_EFORMAT,
                         "longitude spans %g degrees with %d points (%g .. %g): more than the circle "
                         "(a repeated column such as 0 and 360? drop it first)",
                         span, W, lon[0], lon[W - 1]);
    w->periodic = fabs(span - 360.0) <= tol;
    if (w->periodic) d = 360.0 / W;
    if (W % K != 0) return util_fail(UTIL_EINVAL, "longitude: the factor %d does not divide the %d longitudes", K, W);
    int Wo = W / K;
    w->Wo = Wo;
    w->lon_out = malloc(sizeof(double) * Wo);
    w->lon_edges_out = malloc(sizeof(double) * (Wo + 1));
    w->lon_width_in = malloc(sizeof(double) * W);
    w->lon_width_out = malloc(sizeof(double) * Wo);
    if (!w->lon_out || !w->lon_edges_out || !w->lon_width_in || !w->lon_width_out)
        return util_fail(UTIL_ENOMEM, "cannot allocate regridding weights");
    if ((status = axis_alloc(&w->lon, W, Wo, Wo * (K + 2)))) return status;
    double rad = d * DEG2RAD;
    for (int l = 0; l < W; l++) w->lon_width_in[l] = rad;
    int n = 0;
    for (int k = 0; k < Wo; k++) {
        double ua = (double)k * K - 0.5 * K, ub = (double)k * K + 0.5 * K;
        w->lon_out[k] = lon[k * K];
        w->lon_edges_out[k] = lon[0] + ua * d;
        if (k == Wo - 1) w->lon_edges_out[Wo] = lon[0] + ub * d;
        w->lon_width_out[k] = K * rad;
        int first = n;
        for (int l = (int)floor(ua + 0.5); l <= (int)ceil(ub - 0.5); l++) {
            int src = l;
            if (w->periodic)
                src = ((l % W) + W) % W;
            else if (l < 0 || l >= W)
                continue;
            double lo = fmax(l - 0.5, ua), hi = fmin(l + 0.5, ub);
            if (hi > lo) axis_add(&w->lon, first, &n, src, (hi - lo) * rad);
        }
        w->lon.start[k + 1] = n;
    }
    return UTIL_OK;
}

int regrid_weights_build(regrid_weights *w, const double *lat, int H, const double *lon, int W, int K) {
    int status;
    memset(w, 0, sizeof *w);
    if (K < 2) return util_fail(UTIL_EINVAL, "factor %d: expected an integer of at least 2", K);
    w->H = H, w->W = W, w->K = K;
    if ((status = build_lat(w, lat, H, K)) || (status = build_lon(w, lon, W, K))) {
        regrid_weights_free(w);
        return status;
    }
    return UTIL_OK;
}

void regrid_weights_free(regrid_weights *w) {
    free(w->lat_out);
    free(w->lon_out);
    free(w->lat_edges_out);
    free(w->lon_edges_out);
    free(w->lat_area_in);
    free(w->lat_area_out);
    free(w->lon_width_in);
    free(w->lon_width_out);
    axis_free(&w->lat);
    axis_free(&w->lon);
    memset(w, 0, sizeof *w);
}

double regrid_area_in(const regrid_weights *w, int i, int l) { return w->lat_area_in[i] * w->lon_width_in[l]; }

double regrid_area_out(const regrid_weights *w, int j, int k) { return w->lat_area_out[j] * w->lon_width_out[k]; }

/* One target value: the valid-area-weighted mean of its sources. */
static double target_value(const regrid_weights *w, int j, int k, const double *ind, const float *inf) {
    const regrid_axis *la = &w->lat, *lo = &w->lon;
    double num = 0, den = 0;
    for (int p = la->start[j]; p < la->start[j + 1]; p++) {
        size_t row = (size_t)la->index[p] * (size_t)w->W;
        double rn = 0, rd = 0;
        for (int q = lo->start[k]; q < lo->start[k + 1]; q++) {
            double v = ind ? ind[row + (size_t)lo->index[q]] : (double)inf[row + (size_t)lo->index[q]];
            if (isnan(v)) continue;
            rn += lo->overlap[q] * v;
            rd += lo->overlap[q];
        }
        num += la->overlap[p] * rn;
        den += la->overlap[p] * rd;
    }
    return den > 0 ? num / den : NAN;
}

void regrid_apply(const regrid_weights *w, const double *in, double *out) {
    int Ho = w->Ho, Wo = w->Wo;
#pragma omp parallel for schedule(static) if ((size_t)Ho * Wo >= 4096)
    for (int j = 0; j < Ho; j++)
        for (int k = 0; k < Wo; k++) out[(size_t)j * Wo + k] = target_value(w, j, k, in, NULL);
}

void regrid_apply_float(const regrid_weights *w, const float *in, float *out) {
    int Ho = w->Ho, Wo = w->Wo;
#pragma omp parallel for schedule(static) if ((size_t)Ho * Wo >= 4096)
    for (int j = 0; j < Ho; j++)
        for (int k = 0; k < Wo; k++) out[(size_t)j * Wo + k] = (float)target_value(w, j, k, NULL, in);
}

int regrid_links(const regrid_weights *w, size_t *nlinks, int **dst, int **src, double **area) {
    const regrid_axis *la = &w->lat, *lo = &w->lon;
    size_t n = 0;
    for (int j = 0; j < w->Ho; j++)
        for (int k = 0; k < w->Wo; k++)
            n += (size_t)(la->start[j + 1] - la->start[j]) * (size_t)(lo->start[k + 1] - lo->start[k]);
    *nlinks = 0, *dst = NULL, *src = NULL, *area = NULL;
    int *d = malloc(sizeof(int) * (n ? n : 1)), *s = malloc(sizeof(int) * (n ? n : 1));
    double *a = malloc(sizeof(double) * (n ? n : 1));
    if (!d || !s || !a) {
        free(d), free(s), free(a);
        return util_fail(UTIL_ENOMEM, "cannot allocate %zu regridding links", n);
    }
    size_t m = 0;
    for (int j = 0; j < w->Ho; j++)
        for (int k = 0; k < w->Wo; k++)
            for (int p = la->start[j]; p < la->start[j + 1]; p++)
                for (int q = lo->start[k]; q < lo->start[k + 1]; q++) {
                    d[m] = j * w->Wo + k;
                    s[m] = la->index[p] * w->W + lo->index[q];
                    a[m] = la->overlap[p] * lo->overlap[q];
                    m++;
                }
    *nlinks = n, *dst = d, *src = s, *area = a;
    return UTIL_OK;
}
