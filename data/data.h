/* data: what the fields mean: ensemble perturbations (perturb.c),
 * normalisation statistics and climatology (stats.c), constant masks
 * (masks.c). Beside this header: synth.h, the synthetic data sets;
 * regrid.h, conservative coarsening. */
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

/* ---- statistics (data/stats.c) ----
 * Per variable and level mean and standard deviation over every grid point
 * and time (Chan/Welford merging in double precision: one pass, any
 * length), and optionally a climatology by day of year and hour of day
 * (WeatherBench 2 style) for anomaly correlation. */
#define DATA_MAX_FIELDS (5 * 64 + 4)

typedef struct {
    int H, W, nlev;
    float levels[64];
    int nfields;                   /* 5 * nlev + 4: z q t u v per level, then msl u10 v10 t2m */
    double count[DATA_MAX_FIELDS]; /* values merged per field */
    double mean[DATA_MAX_FIELDS], m2[DATA_MAX_FIELDS];
    long ntimes;
    double first_time, last_time;
    /* climatology: hours per slot (24 / slots per day), sums (366, slots, nfields, H, W) */
    int clim_hours, clim_slots;
    float *clim_sum;
    int *clim_count;               /* (366, slots) */
} data_stats;

int data_stats_init(data_stats *st, int H, int W, const float *levels, int nlev, int clim_hours);
/* Merge one state: upper (5, L, H, W), surface (4, H, W) valid at `time`. */
int data_stats_add(data_stats *st, const float *upper, const float *surface, double time);
/* Write stats (and climatology) as NetCDF; smoothing_days 0 or an odd
 * window (61 in WeatherBench 2) of the periodic day-of-year average. */
int data_stats_write(const data_stats *st, const char *path, int smoothing_days, const char *source);
void data_stats_free(data_stats *st);
/* Read the mean and std of a stats file into model order: upper (5, nlev)
 * for `levels`, surface (4). */
int data_stats_read(const char *path, const float *levels, int nlev, float *upper_mean, float *upper_std,
                    float *surface_mean, float *surface_std);

/* ---- constant masks (data/masks.c) ----
 * land_sea_mask, soil_type, orography (m) from an ERA5 invariant file (lsm,
 * slt, z / 9.80665), each normalised by its own mean and std over the
 * grid, into out (3, H, W). */
int data_constants_read(const char *path, int H, int W, float *out);

#endif
