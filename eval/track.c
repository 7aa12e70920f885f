/* track: the cyclone centre finder (see track.h); the run over forecast
 * files is in track_run.c. */
#define _DEFAULT_SOURCE
#include "track.h"

#include <math.h>
#include <stdlib.h>

#include "../util/util.h"

#define EARTH_KM 6371.0
#define DEG (M_PI / 180.0)

void track_default_params(track_params *p) {
    *p = (track_params){445.0, 278.0, 5e-5, 8.0, 30.0, 0.5};
}

static double wrap360(double lon) {
    double x = fmod(lon, 360.0);
    if (x < 0) x += 360.0;
    return x >= 360.0 ? 0.0 : x;
}

/* b - a in (-180, 180] */
static double lon_diff(double a, double b) {
    double d = fmod(b - a, 360.0);
    if (d > 180) d -= 360;
    if (d <= -180) d += 360;
    return d;
}

double track_distance_km(double lat1, double lon1, double lat2, double lon2) {
    double p1 = lat1 * DEG, p2 = lat2 * DEG, dp = p2 - p1, dl = lon_diff(lon1, lon2) * DEG;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    return 2 * EARTH_KM * asin(sqrt(a < 1 ? a : 1));
}

void track_first_guess(const double *time, const double *lat, const double *lon, int n, double t, double *glat,
                       double *glon) {
    *glat = lat[n - 1], *glon = lon[n - 1];
    if (n < 2 || time[n - 1] - time[n - 2] <= 0) return;
    double f = (t - time[n - 1]) / (time[n - 1] - time[n - 2]);
    *glat = lat[n - 1] + f * (lat[n - 1] - lat[n - 2]);
    *glon = wrap360(lon[n - 1] + f * lon_diff(lon[n - 2], lon[n - 1]));
    if (*glat > 89) *glat = 89;
    if (*glat < -89) *glat = -89;
}

/* ---- the grid ---- */

typedef struct {
    const track_fields *f;
    double dlat, dlon; /* spacing, degrees (dlat > 0: rows north to south) */
    int global;        /* longitudes go round the globe */
} grid;

static void grid_init(grid *g, const track_fields *f) {
    g->f = f;
    g->dlat = f->H > 1 ? f->lat[0] - f->lat[1] : 1.0;
    g->dlon = f->W > 1 ? f->lon[1] - f->lon[0] : 1.0;
    g->global = fabs(f->W * g->dlon - 360.0) < 0.5 * g->dlon;
}

static int row_of(const grid *g, double lat) {
    long i = lround((g->f->lat[0] - lat) / g->dlat);
    return (int)(i < 0 ? 0 : i >= g->f->H ? g->f->H - 1 : i);
}

/* column index k (any integer) on the grid, -1 outside a regional grid */
static int col_wrap(const grid *g, long k) {
    if (g->global) return (int)(((k % g->f->W) + g->f->W) % g->f->W);
    return k < 0 || k >= g->f->W ? -1 : (int)k;
}

static long col_near(const grid *g, double lon) { return lround(wrap360(lon - g->f->lon[0]) / g->dlon); }

/* The box of rows and columns holding every point within r km of (lat, lon). */
typedef struct {
    int i0, i1;
    long c0, c1;
} box;

static box box_around(const grid *g, double lat, double lon, double r) {
    double dl = r / (EARTH_KM * DEG), coslat = cos((fabs(lat) + dl > 89.9 ? 89.9 : fabs(lat) + dl) * DEG);
    double dlon = dl / (coslat > 0.01 ? coslat : 0.01);
    if (dlon > 180) dlon = 180;
    long c = col_near(g, lon), n = (long)ceil(dlon / g->dlon);
    if (g->global && 2 * n + 1 >= g->f->W) return (box){row_of(g, lat + dl), row_of(g, lat - dl), 0, g->f->W - 1};
    return (box){row_of(g, lat + dl), row_of(g, lat - dl), c - n, c + n};
}

#define AT(x, i, j) ((double)(x)[(size_t)(i) * g->f->W + (j)])

/* Relative vorticity at an interior point: dv/dx - du/dy + u tan(lat) / R. */
static double vorticity(const grid *g, int i, int j) {
    const track_fields *f = g->f;
    int e = col_wrap(g, j + 1), w = col_wrap(g, j - 1);
    if (i <= 0 || i >= f->H - 1 || e < 0 || w < 0) return NAN;
    double phi = f->lat[i] * DEG, c = cos(phi), R = EARTH_KM * 1000.0;
    if (c < 1e-6) return NAN;
    double dx = R * c * 2 * g->dlon * DEG, dy = R * (f->lat[i - 1] - f->lat[i + 1]) * DEG;
    return (AT(f->v850, i, e) - AT(f->v850, i, w)) / dx - (AT(f->u850, i - 1, j) - AT(f->u850, i + 1, j)) / dy +
           AT(f->u850, i, j) * tan(phi) / R;
}

/* 1 when x[i, j] is not above any of its eight neighbours */
static int local_min(const grid *g, const float *x, int i, int j) {
    for (int di = -1; di <= 1; di++)
        for (int dj = -1; dj <= 1; dj++) {
            int a = i + di, b = col_wrap(g, j + dj);
            if ((!di && !dj) || a < 0 || a >= g->f->H || b < 0) continue;
            if (AT(x, a, b) < AT(x, i, j)) return 0;
        }
    return 1;
}

static int local_max(const grid *g, const float *x, int i, int j) {
    for (int di = -1; di <= 1; di++)
        for (int dj = -1; dj <= 1; dj++) {
            int a = i + di, b = col_wrap(g, j + dj);
            if ((!di && !dj) || a < 0 || a >= g->f->H || b < 0) continue;
            if (AT(x, a, b) > AT(x, i, j)) return 0;
        }
    return 1;
}

/* Vertex of the parabola through three equally spaced values, in grid lengths from the middle. */
static double vertex(double a, double b, double c) {
    double d = a - 2 * b + c;
    if (d <= 0) return 0;
    double x = 0.5 * (a - c) / d;
    return x > 0.5 ? 0.5 : x < -0.5 ? -0.5 : x;
}

/* ---- the tests around a candidate ---- */

typedef struct {
    double vort_extreme, wind_max;
    int thickness_max;
} around;

static void look_around(const grid *g, const track_params *p, int ci, int cj, int south, around *a) {
    const track_fields *f = g->f;
    a->vort_extreme = NAN, a->wind_max = NAN, a->thickness_max = 0;
    box b = box_around(g, f->lat[ci], f->lon[cj], p->check_km);
    for (int i = b.i0; i <= b.i1; i++)
        for (long k = b.c0; k <= b.c1; k++) {
            int j = col_wrap(g, k);
            if (j < 0 ||
                track_distance_km(f->lat[ci], f->lon[cj], f->lat[i], f->lon[j]) > p->check_km)
                continue;
            double z = vorticity(g, i, j);
            if (!isnan(z) && (isnan(a->vort_extreme) || (south ? z < a->vort_extreme : z > a->vort_extreme)))
                a->vort_extreme = z;
            if (f->u10 && f->v10) {
                double s = hypot(AT(f->u10, i, j), AT(f->v10, i, j));
                if (isnan(a->wind_max) || s > a->wind_max) a->wind_max = s;
            }
            if (f->thickness && !a->thickness_max && i > 0 && i < f->H - 1 && local_max(g, f->thickness, i, j))
                a->thickness_max = 1;
        }
}

/* 1 when the candidate at (i, j) passes; fills fix */
static int accept(const grid *g, const track_params *p, int i, int j, track_fix *fix) {
    const track_fields *f = g->f;
    int south = f->lat[i] < 0;
    around a;
    look_around(g, p, i, j, south, &a);
    fix->vorticity = a.vort_extreme, fix->wind10 = a.wind_max;
    fix->extratropical = fabs(f->lat[i]) > p->et_lat;
    fix->over_land = f->land && AT(f->land, i, j) >= p->land_fraction;
    if (isnan(a.vort_extreme) || (south ? a.vort_extreme >= -p->vorticity : a.vort_extreme <= p->vorticity)) return 0;
    if (fix->extratropical && !a.thickness_max) return 0;
    if (fix->over_land && !(a.wind_max > p->land_wind)) return 0;
    return 1;
}

static void refine(const grid *g, int i, int j, track_fix *fix) {
    const track_fields *f = g->f;
    double di = 0, dj = 0;
    int e = col_wrap(g, j + 1), w = col_wrap(g, j - 1);
    if (i > 0 && i < f->H - 1) di = vertex(AT(f->msl, i - 1, j), AT(f->msl, i, j), AT(f->msl, i + 1, j));
    if (e >= 0 && w >= 0) dj = vertex(AT(f->msl, i, w), AT(f->msl, i, j), AT(f->msl, i, e));
    fix->lat = f->lat[i] - di * g->dlat;
    fix->lon = wrap360(f->lon[j] + dj * g->dlon);
    fix->msl = AT(f->msl, i, j);
}

typedef struct {
    int i, j;
    double km;
} candidate;

static int cmp_candidate(const void *a, const void *b) {
    double x = ((const candidate *)a)->km, y = ((const candidate *)b)->km;
    return (x > y) - (x < y);
}

/* MSL minima within search_km of the guess, nearest first; count or -1. */
static int find_minima(const grid *g, const track_params *p, double glat, double glon, candidate **out) {
    const track_fields *f = g->f;
    box b = box_around(g, glat, glon, p->search_km);
    size_t cap = (size_t)(b.i1 - b.i0 + 1) * (size_t)(b.c1 - b.c0 + 1);
    candidate *c = malloc(sizeof *c * (cap ? cap : 1));
    if (!c) return util_fail(UTIL_ENOMEM, "out of memory"), -1;
    int n = 0;
    for (int i = b.i0; i <= b.i1; i++)
        for (long k = b.c0; k <= b.c1; k++) {
            int j = col_wrap(g, k);
            if (j < 0) continue;
            /* a minimum on the edge of the grid (the poles' rows, a regional grid's sides) may be
             * the slope of a low outside it, not a centre */
            if (i == 0 || i == f->H - 1 || (!g->global && (j == 0 || j == f->W - 1))) continue;
            double d = track_distance_km(glat, glon, f->lat[i], f->lon[j]);
            if (d <= p->search_km && isfinite(AT(f->msl, i, j)) && local_min(g, f->msl, i, j)) c[n++] = (candidate){i, j, d};
        }
    qsort(c, (size_t)n, sizeof *c, cmp_candidate);
    *out = c;
    return n;
}

int track_find_centre(const track_fields *f, const track_params *p, double glat, double glon, track_fix *fix) {
    grid g;
    grid_init(&g, f);
    candidate *c = NULL;
    int n = find_minima(&g, p, glat, glon, &c), found = 0;
    if (n < 0) return -1;
    for (int k = 0; k < n && !found; k++) {
        if (fabs(f->lat[c[k].i]) > p->et_lat && !f->thickness) {
            free(c);
            return util_fail(UTIL_EINVAL, "a storm poleward of %g degrees needs the 850-200 hPa thickness (z or t at 850 and "
                             "200 hPa) for the extratropical test", p->et_lat), -1;
        }
        if (accept(&g, p, c[k].i, c[k].j, fix)) {
            refine(&g, c[k].i, c[k].j, fix);
            found = 1;
        }
    }
    free(c);
    return found;
}
