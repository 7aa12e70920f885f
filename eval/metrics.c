/* eval metrics: weighted sums of one field; scores are formed from them. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

const char *const eval_region_names[EVAL_NREGIONS] = {"global", "n_extratropics", "tropics", "s_extratropics"};

void eval_lat_weights(double *w, const double *lat, int H) {
    double sum = 0;
    for (int i = 0; i < H; i++) {
        /* edges midway to the neighbours, clipped to the poles */
        double up = i > 0 ? (lat[i] + lat[i - 1]) / 2 : NAN, dn = i + 1 < H ? (lat[i] + lat[i + 1]) / 2 : NAN;
        double hi, lo;
        if (H == 1) hi = 90, lo = -90;
        else {
            double a = i > 0 ? up : lat[i] - (dn - lat[i]), b = i + 1 < H ? dn : lat[i] - (up - lat[i]);
            hi = fmax(a, b), lo = fmin(a, b);
        }
        hi = fmin(hi, 90), lo = fmax(lo, -90);
        w[i] = sin(hi * M_PI / 180) - sin(lo * M_PI / 180);
        if (w[i] < 0) w[i] = 0;
        sum += w[i];
    }
    for (int i = 0; i < H; i++) w[i] *= H / sum;
}

int eval_in_region(double lat, int r) {
    switch (r) {
    case EVAL_GLOBAL: return 1;
    case EVAL_NEXTRA: return lat >= 20;
    case EVAL_TROPICS: return lat >= -20 && lat <= 20;
    case EVAL_SEXTRA: return lat <= -20;
    default: return 0;
    }
}

void eval_field(eval_sums *sums, const float *f, const float *o, const float *c, const float *const *ens, int M,
                const double *lat, const double *w, int H, int W) {
    for (int i = 0; i < H; i++) {
        double ww = w[i], se = 0, e1 = 0, ae = 0, fa = 0, ff = 0, oo = 0, crps = 0, sp = 0;
        for (int j = 0; j < W; j++) {
            size_t at = (size_t)i * W + j;
            double e = (double)f[at] - o[at];
            se += e * e, e1 += e, ae += fabs(e);
            if (c) {
                double fp = (double)f[at] - c[at], op = (double)o[at] - c[at];
                fa += fp * op, ff += fp * fp, oo += op * op;
            }
            if (ens && M > 1) {
                /* fair CRPS: mean |X_i - y| - sum_ij |X_i - X_j| / (2 M (M - 1)) */
                double a = 0, b = 0, mean = 0, var = 0;
                for (int m = 0; m < M; m++) {
                    a += fabs((double)ens[m][at] - o[at]);
                    mean += ens[m][at];
                    for (int n = m + 1; n < M; n++) b += 2 * fabs((double)ens[m][at] - ens[n][at]);
                }
                mean /= M;
                for (int m = 0; m < M; m++) var += ((double)ens[m][at] - mean) * ((double)ens[m][at] - mean);
                crps += a / M - b / (2.0 * M * (M - 1));
                sp += var / (M - 1);
            }
        }
        for (int r = 0; r < EVAL_NREGIONS; r++) {
            if (!eval_in_region(lat[i], r)) continue;
            eval_sums *s = &sums[r];
            s->w += ww * W, s->se += ww * se, s->e += ww * e1, s->ae += ww * ae;
            s->fa += ww * fa, s->ff += ww * ff, s->oo += ww * oo;
            s->crps += ww * crps, s->spread2 += ww * sp;
        }
    }
}

void eval_wind(eval_sums *sums, const float *fu, const float *fv, const float *ou, const float *ov, const double *lat,
               const double *w, int H, int W) {
    for (int i = 0; i < H; i++) {
        double se = 0;
        for (int j = 0; j < W; j++) {
            size_t at = (size_t)i * W + j;
            double du = (double)fu[at] - ou[at], dv = (double)fv[at] - ov[at];
            se += du * du + dv * dv;
        }
        for (int r = 0; r < EVAL_NREGIONS; r++)
            if (eval_in_region(lat[i], r)) sums[r].w += w[i] * W, sums[r].se += w[i] * se;
    }
}
