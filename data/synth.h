/* synth: a synthetic reanalysis with a plausible climate and learnable
 * dynamics, for tests, the demo and benchmarks. Zonal-mean temperature,
 * humidity and jets with a seasonal cycle; two Rossby-Haurwitz waves
 * (wavenumbers 4 and 6) moving at their analytic angular velocities,
 * consistent across z, u, v and t; a diurnal cycle in t2m; msl from the
 * 1000 hPa geopotential; idealised continents and mountains. */
#ifndef PANGU_SYNTH_H
#define PANGU_SYNTH_H

typedef struct {
    int H, W, nlev;
    float levels[64];  /* hPa */
    double noise;      /* std of seeded white noise added (in K or m s-1 scale units); 0 for none */
    unsigned long long seed;
    float *constants;  /* optional (3, H, W) from synth_constants, to skip recomputing them */
} synth_spec;

/* The state at `time` (seconds since 1970): upper (5, L, H, W) z q t u v,
 * surface (4, H, W) msl u10 v10 t2m, on latitudes 90..-90 and longitudes
 * 0..360-360/W (W <= 4096). Pure and fast. */
void synth_state(const synth_spec *s, double time, float *upper, float *surface);
/* Constants (3, H, W): land-sea mask (0..1), soil type (0 sea, 1..7),
 * orography (m). */
void synth_constants(const synth_spec *s, float *constants);

/* Write files as the CDS delivers ERA5: format "legacy" (NetCDF-3, packed
 * shorts, hours since 1900) or "cds2024" (NetCDF-4, valid_time, compressed
 * floats); one pressure-level and one single-level file per month
 * (era5_pl_YYYYMM.nc, era5_sfc_YYYYMM.nc) plus invariant.nc. */
int synth_write(const synth_spec *s, const char *dir, const char *format, double start, long hours, int step_hours);

#endif
