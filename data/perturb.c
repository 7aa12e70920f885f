/* data perturb: Perlin-noise initial perturbations of ensemble members
 * (Bi et al. 2023: 3 octaves, scale 0.2, 12 periods, persistence 0.5). */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>

#include "../util/util.h"
#include "data.h"

static double fade(double t) { return t * t * t * (t * (t * 6 - 15) + 10); }

int data_perlin(float *out, int H, int W, int octaves, int periods, double persistence, double scale,
                 uint64_t seed, uint64_t stream) {
    size_t HW = (size_t)H * W;
    for (size_t i = 0; i < HW; i++) out[i] = 0;
    double amp = 1;
    for (int o = 0; o < octaves; o++, amp *= persistence) {
        int P = periods << o;
        util_rng r;
        util_rng_seed(&r, seed ^ (stream * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)o << 56));
        double *gx = malloc(sizeof(double) * (size_t)P * P), *gy = malloc(sizeof(double) * (size_t)P * P);
        if (!gx || !gy) {
            free(gx), free(gy);
            return util_fail(UTIL_ENOMEM, "out of memory for Perlin noise");
        }
        /* A random lattice offset per octave, so that the zeros of gradient
         * noise at lattice points do not fall on grid points of coarse grids. */
        double ox = util_rng_uniform(&r) * P, oy = util_rng_uniform(&r) * P;
        for (int k = 0; k < P * P; k++) {
            double a = 2 * M_PI * util_rng_uniform(&r);
            gx[k] = cos(a), gy[k] = sin(a);
        }
        for (int y = 0; y < H; y++) {
            double v = fmod((double)y / H * P + oy, (double)P); /* latitude cells */
            int j0 = (int)v % P, j1 = (j0 + 1) % P;
            double fy = v - floor(v), sy = fade(fy);
            for (int x = 0; x < W; x++) {
                double u = fmod((double)x / W * P + ox, (double)P); /* longitude cells, periodic */
                int i0 = (int)u % P, i1 = (i0 + 1) % P;
                double fx = u - floor(u), sx = fade(fx);
                double n00 = gx[j0 * P + i0] * fx + gy[j0 * P + i0] * fy;
                double n10 = gx[j0 * P + i1] * (fx - 1) + gy[j0 * P + i1] * fy;
                double n01 = gx[j1 * P + i0] * fx + gy[j1 * P + i0] * (fy - 1);
                double n11 = gx[j1 * P + i1] * (fx - 1) + gy[j1 * P + i1] * (fy - 1);
                double nx0 = n00 + sx * (n10 - n00), nx1 = n01 + sx * (n11 - n01);
                out[(size_t)y * W + x] += (float)(scale * amp * (nx0 + sy * (nx1 - nx0)));
            }
        }
        free(gx), free(gy);
    }
    return UTIL_OK;
}

int data_perturb_perlin(float *upper, float *surface, int L, int H, int W, const float *upper_std,
                         const float *surface_std, double scale, uint64_t seed, int member) {
    size_t HW = (size_t)H * W;
    float *noise = malloc(sizeof(float) * HW);
    if (!noise) return util_fail(UTIL_ENOMEM, "out of memory for Perlin noise");
    int nfields = 5 * L + 4, status;
    for (int f = 0; f < nfields; f++) {
        if ((status = data_perlin(noise, H, W, 3, 12, 0.5, scale, seed, (uint64_t)member * 100003u + (uint64_t)f))) {
            free(noise);
            return status;
        }
        float sd = f < 5 * L ? upper_std[f] : surface_std[f - 5 * L];
        float *x = f < 5 * L ? upper + (size_t)f * HW : surface + (size_t)(f - 5 * L) * HW;
        for (size_t i = 0; i < HW; i++) x[i] += noise[i] * sd;
    }
    free(noise);
    return UTIL_OK;
}
