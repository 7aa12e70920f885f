/* eval metrics: latitude weights, regions, weighted sums of one field and
 * their accumulation over initial times. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "eval.h"

const eval_region eval_default_regions[EVAL_NDEFAULT_REGIONS] = {
    {"global", -90, 90, NAN, NAN},
    {"n_extratropics", 20, 90, NAN, NAN},
    {"tropics", -20, 20, NAN, NAN},
    {"s_extratropics", -90, -20, NAN, NAN},
};

const char *const eval_metric_names[EVAL_NMETRICS] = {"rmse", "bias", "mae", "acc", "crps", "spread_skill", "wind_rmse", "rqe"};

static int metric_named(const char *name, size_t len) {
    for (int m = 0; m < EVAL_NMETRICS; m++)
        if (strlen(eval_metric_names[m]) == len && !strncmp(eval_metric_names[m], name, len)) return m;
    return -1;
}

int eval_metrics_parse(const char *list, unsigned *mask) {
    char valid[160] = "";
    for (int m = 0; m < EVAL_NMETRICS; m++)
        snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s", m ? "," : "", eval_metric_names[m]);
    *mask = 0;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        int m = metric_named(p, len);
        if (m < 0 && !len) return util_fail(UTIL_EINVAL, "--metrics '%s': an empty name (expected a list of %s)", list, valid);
        if (m < 0)
            return util_fail(UTIL_EINVAL, "--metrics '%s': '%.*s' is not a metric (expected a list of %s)", list, (int)len, p, valid);
        *mask |= 1u << m;
        if (!p[len]) return UTIL_OK;
        p += len + 1;
    }
}

int eval_region_parse(const char *spec, eval_region *out) {
    memset(out, 0, sizeof *out);
    const char *eq = strchr(spec, '=');
    size_t n = eq ? (size_t)(eq - spec) : strlen(spec);
    if (n == 0 || n >= sizeof out->name)
        return util_fail(UTIL_EINVAL, "region '%s': expected a name of 1 to %zu characters", spec, sizeof out->name - 1);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)spec[i]) && spec[i] != '_' && spec[i] != '-')
            return util_fail(UTIL_EINVAL, "region '%s': names hold letters, digits, '_' and '-'", spec);
    if (!eq) {
        for (int r = 0; r < EVAL_NDEFAULT_REGIONS; r++)
            if (strlen(eval_default_regions[r].name) == n && !strncmp(eval_default_regions[r].name, spec, n)) {
                *out = eval_default_regions[r];
                return UTIL_OK;
            }
        return util_fail(UTIL_EINVAL, "region '%s': expected global, n_extratropics, tropics, s_extratropics or "
                                      "NAME=LAT_MIN:LAT_MAX[:LON_MIN:LON_MAX]", spec);
    }
    memcpy(out->name, spec, n);
    out->name[n] = 0;
    double x[4];
    int k = 0;
    const char *p = eq + 1;
    while (k < 4) {
        char *end;
        x[k] = strtod(p, &end);
        if (end == p || !isfinite(x[k])) break;
        k++;
        if (*end == ':') p = end + 1;
        else {
            p = end;
            break;
        }
    }
    if ((k != 2 && k != 4) || *p)
        return util_fail(UTIL_EINVAL, "region '%s': expected NAME=LAT_MIN:LAT_MAX[:LON_MIN:LON_MAX] in degrees", spec);
    if (!(x[0] >= -90 && x[1] <= 90 && x[0] <= x[1]))
        return util_fail(UTIL_EINVAL, "region '%s': latitudes should satisfy -90 <= LAT_MIN <= LAT_MAX <= 90", spec);
    out->lat_min = x[0], out->lat_max = x[1];
    out->lon_min = k == 4 ? x[2] : NAN, out->lon_max = k == 4 ? x[3] : NAN;
    if (k == 4 && (x[3] - x[2] >= 360 || x[2] - x[3] >= 360)) out->lon_min = out->lon_max = NAN;
    return UTIL_OK;
}

static double wrap360(double x) {
    double l = fmod(x, 360.0);
    return l < 0 ? l + 360.0 : l;
}

int eval_region_contains(const eval_region *r, double lat, double lon) {
    const double eps = 1e-9;
    if (lat < r->lat_min - eps || lat > r->lat_max + eps) return 0;
    if (isnan(r->lon_min) || isnan(r->lon_max)) return 1;
    double a = wrap360(r->lon_min), b = wrap360(r->lon_max), l = wrap360(lon);
    if (a <= b) return l >= a - eps && l <= b + eps;
    return l >= a - eps || l <= b + eps; /* crosses the 0 meridian */
}

void eval_lat_weights(double *w, const double *lat, int H) {
    if (H == 1) {
        w[0] = 1;
        return;
    }
    /* cell edges midway between latitudes sorted south to north, the outer
     * edges at the poles (WeatherBench 2's _latitude_cell_bounds) */
    int asc = lat[0] < lat[H - 1];
    double sum = 0;
    for (int i = 0; i < H; i++) {
        int s = asc ? i - 1 : i + 1, n = asc ? i + 1 : i - 1; /* southern and northern neighbours */
        double lo = (s >= 0 && s < H) ? (lat[i] + lat[s]) / 2 : -90;
        double hi = (n >= 0 && n < H) ? (lat[i] + lat[n]) / 2 : 90;
        w[i] = sin(hi * M_PI / 180) - sin(lo * M_PI / 180);
        sum += w[i];
    }
    for (int i = 0; i < H; i++) w[i] *= H / sum;
}

void eval_grid_free(eval_grid *g) {
    free(g->lat), free(g->lon), free(g->w), free(g->row), free(g->col);
    memset(g, 0, sizeof *g);
}

int eval_grid_init(eval_grid *g, const double *lat, const double *lon, int H, int W, const eval_region *reg, int nreg) {
    memset(g, 0, sizeof *g);
    if (nreg < 1 || nreg > EVAL_MAX_REGIONS) return util_fail(UTIL_EINVAL, "%d regions: expected 1 to %d", nreg, EVAL_MAX_REGIONS);
    g->H = H, g->W = W, g->nreg = nreg;
    g->lat = malloc(sizeof(double) * H), g->lon = malloc(sizeof(double) * W), g->w = malloc(sizeof(double) * H);
    g->row = calloc((size_t)nreg * H, 1), g->col = calloc((size_t)nreg * W, 1);
    if (!g->lat || !g->lon || !g->w || !g->row || !g->col) {
        eval_grid_free(g);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    memcpy(g->lat, lat, sizeof(double) * H), memcpy(g->lon, lon, sizeof(double) * W);
    eval_lat_weights(g->w, lat, H);
    for (int r = 0; r < nreg; r++) {
        g->reg[r] = reg[r];
        g->all_lon[r] = isnan(reg[r].lon_min) || isnan(reg[r].lon_max);
        int nrow = 0, ncol = 0;
        for (int i = 0; i < H; i++) {
            eval_region band = reg[r];
            band.lon_min = band.lon_max = NAN;
            g->row[(size_t)r * H + i] = (unsigned char)eval_region_contains(&band, lat[i], 0);
        }
        for (int i = 0; i < H; i++) nrow += g->row[(size_t)r * H + i];
        for (int j = 0; j < W; j++) {
            eval_region meridians = reg[r];
            meridians.lat_min = -90, meridians.lat_max = 90;
            ncol += g->col[(size_t)r * W + j] = (unsigned char)eval_region_contains(&meridians, 0, lon[j]);
        }
        if (!nrow || !ncol) {
            int status = util_fail(UTIL_EINVAL, "region '%s' holds no point of the %d x %d grid", reg[r].name, H, W);
            eval_grid_free(g);
            return status;
        }
    }
    return UTIL_OK;
}

double eval_crps_fair(const float *x, int M, double y) {
    /* sum_ij |x_i - x_j| = 2 sum_k (2k - M - 1) x_(k) over the sorted members (k = 1..M) */
    double sorted[64], *s = M <= 64 ? sorted : malloc(sizeof(double) * M), a = 0, pairs = 0;
    if (!s) return NAN;
    for (int i = 0; i < M; i++) {
        double v = x[i];
        a += fabs(v - y);
        int k = i;
        while (k > 0 && s[k - 1] > v) s[k] = s[k - 1], k--;
        s[k] = v;
    }
    for (int k = 0; k < M; k++) pairs += 2.0 * (2.0 * (k + 1) - M - 1) * s[k];
    if (s != sorted) free(s);
    return a / M - pairs / (2.0 * M * (M - 1));
}

/* Sums of one latitude row over the columns of a mask (NULL: all). */
typedef struct {
    double w, se, e, ae, fo, ff, oo, crps, var;
} row_sums;

static void row_add(eval_sums *s, double w, const row_sums *r) {
    s->w += w * r->w, s->se += w * r->se, s->e += w * r->e, s->ae += w * r->ae;
    s->fo += w * r->fo, s->ff += w * r->ff, s->oo += w * r->oo, s->crps += w * r->crps, s->var += w * r->var;
}

static void point(row_sums *r, const float *f, const float *o, const float *c, const float *const *ens, int M, size_t at) {
    double fv = f[at], ov = o[at], cv = c ? c[at] : 0;
    if (!isfinite(fv) || !isfinite(ov) || !isfinite(cv)) return;
    double crps = 0, var = 0;
    if (ens) {
        float x[256];
        double mean = 0;
        for (int m = 0; m < M; m++) {
            x[m] = ens[m][at];
            if (!isfinite(x[m])) return;
            mean += x[m];
        }
        mean /= M;
        for (int m = 0; m < M; m++) var += ((double)x[m] - mean) * ((double)x[m] - mean);
        var /= M - 1;
        crps = eval_crps_fair(x, M, ov);
    }
    double e = fv - ov;
    r->w += 1, r->se += e * e, r->e += e, r->ae += fabs(e);
    if (c) {
        double fa = fv - cv, oa = ov - cv;
        r->fo += fa * oa, r->ff += fa * fa, r->oo += oa * oa;
    }
    r->crps += crps, r->var += var;
}

void eval_field(const eval_grid *g, eval_sums *sums, const float *f, const float *o, const float *c,
                const float *const *ens, int M) {
    if (M < 2 || M > 256) ens = NULL;
    for (int r = 0; r < g->nreg; r++) sums[r].has_clim = c != NULL, sums[r].has_ens = ens != NULL;
    for (int i = 0; i < g->H; i++) {
        row_sums all = {0};
        for (int j = 0; j < g->W; j++) point(&all, f, o, c, ens, M, (size_t)i * g->W + j);
        for (int r = 0; r < g->nreg; r++) {
            if (!g->row[(size_t)r * g->H + i]) continue;
            if (g->all_lon[r]) {
                row_add(&sums[r], g->w[i], &all);
                continue;
            }
            row_sums part = {0};
            for (int j = 0; j < g->W; j++)
                if (g->col[(size_t)r * g->W + j]) point(&part, f, o, c, ens, M, (size_t)i * g->W + j);
            row_add(&sums[r], g->w[i], &part);
        }
    }
}

void eval_wind(const eval_grid *g, eval_sums *sums, const float *fu, const float *fv, const float *ou, const float *ov) {
    for (int r = 0; r < g->nreg; r++) sums[r].has_clim = sums[r].has_ens = 0;
    for (int i = 0; i < g->H; i++)
        for (int r = 0; r < g->nreg; r++) {
            if (!g->row[(size_t)r * g->H + i]) continue;
            double n = 0, se = 0;
            for (int j = 0; j < g->W; j++) {
                if (!g->all_lon[r] && !g->col[(size_t)r * g->W + j]) continue;
                size_t at = (size_t)i * g->W + j;
                double du = (double)fu[at] - ou[at], dv = (double)fv[at] - ov[at];
                if (!isfinite(du) || !isfinite(dv)) continue;
                n += 1, se += du * du + dv * dv;
            }
            sums[r].w += g->w[i] * n, sums[r].se += g->w[i] * se;
        }
}

void eval_accum_add(eval_accum *a, const eval_sums *s) {
    if (!(s->w > 0)) return;
    double mse = s->se / s->w;
    a->n += 1, a->mse += mse, a->rmse += sqrt(mse);
    a->bias += s->e / s->w, a->mae += s->ae / s->w;
    if (s->has_clim && s->ff > 0 && s->oo > 0) a->nacc += 1, a->acc += s->fo / sqrt(s->ff * s->oo);
    if (s->has_ens) a->nens += 1, a->crps += s->crps / s->w, a->var += s->var / s->w, a->ens_mse += mse;
    if (s->has_rqe) a->nrqe += 1, a->rqe += s->rqe;
}

int eval_accum_value(const eval_accum *a, int metric, int rmse_per_time, double *value) {
    *value = NAN;
    if (!(a->n > 0)) return 0;
    switch (metric) {
    case EVAL_RMSE:
    case EVAL_WIND_RMSE: *value = rmse_per_time ? a->rmse / a->n : sqrt(a->mse / a->n); return 1;
    case EVAL_BIAS: *value = a->bias / a->n; return 1;
    case EVAL_MAE: *value = a->mae / a->n; return 1;
    case EVAL_ACC:
        if (!(a->nacc > 0)) return 0;
        *value = a->acc / a->nacc;
        return 1;
    case EVAL_CRPS:
        if (!(a->nens > 0)) return 0;
        *value = a->crps / a->nens;
        return 1;
    case EVAL_SPREAD_SKILL:
        if (!(a->nens > 0) || !(a->ens_mse > 0)) return 0;
        *value = sqrt(a->var / a->nens) / sqrt(a->ens_mse / a->nens);
        return 1;
    case EVAL_RQE:
        if (!(a->nrqe > 0)) return 0;
        *value = a->rqe / a->nrqe;
        return 1;
    default: return 0;
    }
}

double eval_rqe_quantile(int i) { return 1 - pow(10.0, -1 - 3.0 * i / (EVAL_RQE_NQ - 1)); }

static void swapf(float *x, size_t a, size_t b) {
    float t = x[a];
    x[a] = x[b], x[b] = t;
}

/* Partially order x[0..n) so that x[k] is the k-th smallest and no
 * element after it is smaller (Hoare's selection, median of three). */
static void select_kth(float *x, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo]) swapf(x, mid, lo);
        if (x[hi] < x[lo]) swapf(x, hi, lo);
        if (x[hi] < x[mid]) swapf(x, hi, mid);
        float pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                swapf(x, i, j), i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* Place the order statistics k[0] < k[1] < ... (indices into x, within
 * [lo, hi)) where a full sort would: each selection splits the range for
 * the others, so the cost is that of a few passes, not of a sort. */
static void select_many(float *x, size_t lo, size_t hi, const size_t *k, int nk) {
    if (nk == 0 || hi - lo < 2) return;
    int mid = nk / 2;
    select_kth(x + lo, hi - lo, k[mid] - lo);
    select_many(x, lo, k[mid], k, mid);
    select_many(x, k[mid] + 1, hi, k + mid + 1, nk - mid - 1);
}

/* Order statistics below .. n - 1 of n values are in t[0 .. n - below) in
 * some order (all the others are smaller); put those the quantiles read
 * (floor h and the one above it) in place. */
static void order_tail(float *t, size_t below, size_t n) {
    size_t k[2 * EVAL_RQE_NQ];
    int nk = 0;
    for (int q = 0; q < EVAL_RQE_NQ; q++) {
        size_t i = (size_t)floor((double)(n - 1) * eval_rqe_quantile(q));
        for (size_t m = i; m <= i + 1 && m < n; m++)
            if (!nk || k[nk - 1] < m - below) k[nk++] = m - below;
    }
    size_t len = n - below;
    select_kth(t, len, k[0]); /* the rest is at or above it: the others are found there */
    select_many(t, k[0] + 1, len, k + 1, nk - 1);
}

/* numpy's default ("linear") quantile of the n values whose order
 * statistics from `below` up order_tail placed in t. */
static double tail_quantile(const float *t, size_t below, size_t n, double q) {
    double h = (double)(n - 1) * q, lo = floor(h);
    size_t i = (size_t)lo - below;
    return (size_t)lo + 1 < n ? t[i] + (h - lo) * ((double)t[i + 1] - t[i]) : t[i];
}

static int in_region(const eval_grid *g, int r, int i, int j) {
    return g->row[(size_t)r * g->H + i] && (g->all_lon[r] || g->col[(size_t)r * g->W + j]);
}

/* Thresholds below the 90% quantiles of f and o (at the 85% of a strided
 * sample of the region's points): only the values above them need
 * ordering. -inf when the region is small (every value kept). */
static void tail_thresholds(const eval_grid *g, int r, const float *f, const float *o, float *tf, float *to) {
    enum { NSAMPLE = 4096 };
    float sf[NSAMPLE], so[NSAMPLE];
    size_t cap = (size_t)g->H * g->W, stride = cap / NSAMPLE + 1, m = 0;
    *tf = *to = -INFINITY;
    for (size_t at = 0; at < cap && m < NSAMPLE; at += stride)
        if (in_region(g, r, (int)(at / g->W), (int)(at % g->W)) && isfinite(f[at]) && isfinite(o[at]))
            sf[m] = f[at], so[m] = o[at], m++;
    if (m < 256) return;
    size_t k = (size_t)(0.85 * (double)(m - 1));
    select_kth(sf, m, k), select_kth(so, m, k);
    *tf = sf[k], *to = so[k];
}

/* The region's values of f and o (both finite) at or above the thresholds
 * into fs and os: how many values there are, and how many of each fell below. */
static size_t gather_tails(const eval_grid *g, int r, const float *f, const float *o, float tf, float to, float *fs,
                           float *os, size_t *below_f, size_t *below_o) {
    size_t n = 0, nf = 0, no = 0;
    for (int i = 0; i < g->H; i++) {
        if (!g->row[(size_t)r * g->H + i]) continue;
        for (int j = 0; j < g->W; j++) {
            size_t at = (size_t)i * g->W + j;
            if ((!g->all_lon[r] && !g->col[(size_t)r * g->W + j]) || !isfinite(f[at]) || !isfinite(o[at])) continue;
            n++;
            if (f[at] >= tf) fs[nf++] = f[at];
            if (o[at] >= to) os[no++] = o[at];
        }
    }
    *below_f = n - nf, *below_o = n - no;
    return n;
}

int eval_rqe(const eval_grid *g, int r, const float *f, const float *o, float *scratch, double *out) {
    size_t cap = (size_t)g->H * g->W, bf, bo;
    float *fs = scratch, *os = scratch + cap, tf, to;
    *out = NAN;
    tail_thresholds(g, r, f, o, &tf, &to);
    size_t n = gather_tails(g, r, f, o, tf, to, fs, os, &bf, &bo);
    if (!n) return 0;
    size_t k0 = (size_t)floor((double)(n - 1) * eval_rqe_quantile(0));
    if (bf > k0 || bo > k0) /* a sample threshold above the 90% quantile: every value, then */
        n = gather_tails(g, r, f, o, -INFINITY, -INFINITY, fs, os, &bf, &bo);
    order_tail(fs, bf, n), order_tail(os, bo, n);
    double sum = 0;
    int used = 0;
    for (int q = 0; q < EVAL_RQE_NQ; q++) {
        double qf = tail_quantile(fs, bf, n, eval_rqe_quantile(q)), qo = tail_quantile(os, bo, n, eval_rqe_quantile(q));
        if (qo == 0) continue;
        sum += (qf - qo) / fabs(qo), used++;
    }
    if (!used) return 0;
    *out = sum / used;
    return 1;
}
