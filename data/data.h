/* data: the meaning of fields: ensemble perturbations (and, with the data
 * issue, statistics, climatology and constant masks). */
#ifndef PANGU_DATA_H
#define PANGU_DATA_H

#include <stddef.h>
#include <stdint.h>

/* Periodic 2D Perlin noise on an H x W latitude-longitude grid: `octaves`
 * octaves, the first with `periods` lattice cells along each axis, each
 * next with twice as many and `persistence` times the amplitude; out (H, W)
 * is scaled by `scale`. Deterministic for (seed, stream). Returns a status. */
int data_perlin(float *out, int H, int W, int octaves, int periods, double persistence, double scale,
                 uint64_t seed, uint64_t stream);

/* Perturb a physical state as the paper perturbs the normalised one: each
 * field (variable, level) gets Perlin noise (3 octaves, 12 periods,
 * persistence 0.5) times `scale` times its normalisation std.
 * upper (5, L, H, W), surface (4, H, W); std as in the model file. */
int data_perturb_perlin(float *upper, float *surface, int L, int H, int W, const float *upper_std,
                         const float *surface_std, double scale, uint64_t seed, int member);

#endif
