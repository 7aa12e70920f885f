/* synth: a synthetic reanalysis with a plausible climate and learnable
 * dynamics, for tests, the demo and benchmarks, and synthetic numerical
 * forecasts of it as a baseline.
 *
 * Climate: a zonal-mean wind with seasons (subtropical/midlatitude jets
 * near 200-250 hPa, surface trades, midlatitude surface westerlies, weak
 * tropical easterlies, stratospheric winter westerlies and summer
 * easterlies); the zonal-mean geopotential in gradient-wind balance with
 * it, the temperature hypsometric from that geopotential (so thermal wind
 * holds), humidity from a relative-humidity profile. Dynamics: two
 * Rossby-Haurwitz waves (wavenumbers 4 and 6) at their analytic angular
 * velocities in the solid-body part of the flow they ride on, their
 * geopotential balanced and their temperature hypsometric; a diurnal cycle;
 * msl, 10 m winds and t2m from the 1000 hPa state; idealised continents
 * and mountains. Every field is an analytic function of latitude, pressure
 * and time, so a level's values do not depend on which levels are asked. */
#ifndef PANGU_SYNTH_H
#define PANGU_SYNTH_H

typedef struct {
    int H, W, nlev;
    float levels[64];  /* hPa */
    double noise;      /* std of seeded white noise added (in K or m s-1 scale units); 0 for none */
    unsigned long long seed;
    float *constants;  /* optional (3, H, W) from synth_constants, to skip recomputing them */
} synth_spec;

/* Constants (3, H, W): land-sea mask (0..1), soil type (0 sea, 1..7),
 * orography (m). */
void synth_constants(const synth_spec *s, float *constants);

/* Write files as the CDS delivers ERA5: format "legacy" (NetCDF-3, packed
 * shorts, hours since 1900) or "cds2024" (NetCDF-4, valid_time, compressed
 * floats); one pressure-level and one single-level file per month
 * (era5_pl_YYYYMM.nc, era5_sfc_YYYYMM.nc) plus invariant.nc. */
int synth_write(const synth_spec *s, const char *dir, const char *format, double start, long hours, int step_hours);
/* Write the numerical forecast from `init` (leads 0..hours every
 * step_hours) as DIR/nwp_YYYYMMDDHH.nc in the same layouts, pressure-level
 * and surface variables in one file, with a scalar forecast_reference_time
 * variable and an init_time attribute (what pangu eval reads). */
int synth_write_forecast(const synth_spec *s, const char *dir, const char *format, double init, long hours, int step_hours);

#endif
