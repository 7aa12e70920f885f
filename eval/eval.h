/* eval: verification scores as WeatherBench 2 and ECMWF compute them.
 *
 * Latitude weights are WeatherBench 2's: the cell of each latitude spans
 * from midway to its southern neighbour to midway to its northern one, the
 * outermost edges at the poles (a pole row is a half cell), the weight is
 * sin(upper edge) - sin(lower edge), normalised to mean 1 over the grid.
 * Regional scores are weighted means over the region's points (the weights
 * normalised over those points). Scores of one field at one time are formed
 * from weighted sums (eval_sums); over initial times they are accumulated
 * (eval_accum): RMSE = sqrt(time-mean MSE) (or the mean of per-time RMSEs),
 * bias, MAE and ACC are means over times.
 *
 * eval_run makes one pass over forecast files, streaming one (initial time,
 * lead) at a time against a truth series read by io_series_*: memory does
 * not depend on the number of initial times. */
#ifndef PANGU_EVAL_H
#define PANGU_EVAL_H

#include <stddef.h>

#include "../io/io.h"

/* ---- regions (eval/metrics.c) ---- */
#define EVAL_MAX_REGIONS 16
#define EVAL_NDEFAULT_REGIONS 4

typedef struct {
    char name[32];
    double lat_min, lat_max; /* degrees north, inclusive */
    double lon_min, lon_max; /* degrees east, inclusive; lon_min > lon_max (mod 360) crosses 0; NAN: every longitude */
} eval_region;

/* global; n_extratropics lat >= 20; tropics -20 <= lat <= 20; s_extratropics lat <= -20 */
extern const eval_region eval_default_regions[EVAL_NDEFAULT_REGIONS];
/* "global", "tropics", ... or "NAME=LAT_MIN:LAT_MAX[:LON_MIN:LON_MAX]". */
int eval_region_parse(const char *spec, eval_region *out);
int eval_region_contains(const eval_region *r, double lat, double lon);

/* w (H): WeatherBench 2 cell-area weights of latitudes lat (H, any order),
 * normalised to mean 1 over the H latitudes. */
void eval_lat_weights(double *w, const double *lat, int H);

/* A grid with its weights and region masks. */
typedef struct {
    int H, W, nreg;
    double *lat, *lon;        /* (H), (W) */
    double *w;                /* (H) latitude weights */
    eval_region reg[EVAL_MAX_REGIONS];
    unsigned char *row, *col; /* (nreg, H), (nreg, W): 1 inside region r */
    int all_lon[EVAL_MAX_REGIONS];
} eval_grid;

/* Fails (naming the region) when a region holds no grid point. */
int eval_grid_init(eval_grid *g, const double *lat, const double *lon, int H, int W, const eval_region *reg, int nreg);
void eval_grid_free(eval_grid *g);

/* ---- one field at one time (eval/metrics.c) ---- */
typedef struct {
    double w;           /* sum of weights of the points scored */
    double se, e, ae;   /* sums of w e^2, w e, w |e| with e = f - o */
    double fo, ff, oo;  /* sums of w f'o', w f'^2, w o'^2, anomalies from the climatology */
    double crps, var;   /* sums of w fair CRPS and w ensemble variance (N - 1) */
    double rqe;         /* relative quantile error of the field (eval_rqe), when has_rqe */
    int has_clim, has_ens, has_rqe;
} eval_sums;

/* Weighted sums of forecast f against truth o (H, W) into sums[g->nreg]:
 * climatology c (may be NULL) for the anomaly correlation, ensemble members
 * ens[M] (may be NULL, M >= 2 to be used; f is then the ensemble mean).
 * Points where any input is NaN are skipped. */
void eval_field(const eval_grid *g, eval_sums *sums, const float *f, const float *o, const float *c,
                const float *const *ens, int M);
/* Vector wind error: se = sum of w ((fu - ou)^2 + (fv - ov)^2). */
void eval_wind(const eval_grid *g, eval_sums *sums, const float *fu, const float *fv, const float *ou, const float *ov);
/* Fair CRPS of members x[M] (M >= 2) against y:
 * mean |x_i - y| - sum_ij |x_i - x_j| / (2 M (M - 1)). */
double eval_crps_fair(const float *x, int M, double y);

/* Relative quantile error (Pangu-Weather paper, Methods): over the
 * EVAL_RQE_NQ quantiles q_i = 1 - 10^(-1 - 3 i / 49), i = 0..49 (the
 * exceedance probability 1 - q log-spaced from 10% to 0.01%, so q runs
 * from 90% to 99.99%), the mean of (Qf(q_i) - Qo(q_i)) / |Qo(q_i)|, where
 * Qf and Qo are the quantiles of the forecast's and the truth's values at
 * the region's grid points (each point one sample, not area-weighted;
 * points where either is NaN left out), interpolated linearly between
 * order statistics (numpy's default: h = (n - 1) q, x_(floor h) + (h -
 * floor h) (x_(floor h + 1) - x_(floor h)), x sorted ascending from 0).
 * Quantiles where Qo is 0 are left out of the mean. Negative: the forecast
 * underestimates the extremes. */
#define EVAL_RQE_NQ 50
double eval_rqe_quantile(int i);
/* RQE of f against o over region r of g; scratch holds 2 H W floats.
 * 1 when defined (a scored point and a quantile with Qo != 0). */
int eval_rqe(const eval_grid *g, int r, const float *f, const float *o, float *scratch, double *out);

/* ---- over initial times (eval/metrics.c) ---- */
enum { EVAL_RMSE, EVAL_BIAS, EVAL_MAE, EVAL_ACC, EVAL_CRPS, EVAL_SPREAD_SKILL, EVAL_WIND_RMSE, EVAL_RQE, EVAL_NMETRICS };
extern const char *const eval_metric_names[EVAL_NMETRICS];
/* The metrics to compute, a bit (1u << EVAL_*) each; 0 stands for all. */
#define EVAL_ALL_METRICS ((1u << EVAL_NMETRICS) - 1)
/* "rmse,acc,rqe" (the CSV's names) into *mask; an unknown name fails with
 * one line listing the valid ones. */
int eval_metrics_parse(const char *list, unsigned *mask);

typedef struct {
    double n;           /* times added */
    double mse, rmse;   /* sums over times of MSE and of RMSE */
    double bias, mae;   /* sums over times */
    double nacc, acc;   /* times with a defined ACC and the sum of their ACC */
    double nens, crps, var, ens_mse; /* ensemble times: sums of CRPS, of mean variance, of MSE of the mean */
    double nrqe, rqe;   /* times with a defined RQE and the sum of their RQE */
} eval_accum;

/* Add one time's sums of one region (ignored when no point was scored). */
void eval_accum_add(eval_accum *a, const eval_sums *s);
/* The score over times; 1 when defined. rmse_per_time: mean of per-time
 * RMSEs (Pangu-Weather paper) instead of sqrt(mean MSE) (WB2, ECMWF); for
 * EVAL_WIND_RMSE as for EVAL_RMSE. spread_skill = sqrt(mean variance) /
 * sqrt(mean MSE of the ensemble mean); rqe the mean over times of each
 * time's RQE. */
int eval_accum_value(const eval_accum *a, int metric, int rmse_per_time, double *value);

/* ---- forecast files (eval/source.c) ----
 * Two layouts. pangu forecast files (docs/forecast-files.md), told by their
 * lead coordinate: today's CF forecast form, the record axis time(time) the
 * valid time ("hours since" the initial time), the lead forecast_period(time)
 * an auxiliary coordinate and the initial time a scalar
 * forecast_reference_time; the files written before 2026-12 with the lead as
 * forecast_period(step) or as step(step) with standard_name forecast_period
 * (valid times in valid_time(step) or time(step)); WeatherBench 2's
 * prediction_timedelta, its files holding many initial times on time(time),
 * each one forecast. Short or WeatherBench 2 variable names on ([member,]
 * record, [level,] latitude, longitude) in any order, any orientation; a
 * member, realization or number dimension makes an ensemble, and so does
 * the mean and spread file of an ensemble written one file per member
 * (PATH_mNN.nc, scalar realization), which names the member files in its
 * attribute ensemble_member_files. And files as users hold numerical
 * forecasts: anything io_series_* reads (valid times on a time axis, or
 * GRIB messages), one file or several read as one series (pressure levels
 * and single levels apart, one file per step), with the initial time from a
 * scalar forecast_reference_time variable, an init-time attribute
 * (forecast_reference_time, init_time, initial_time, reference_time,
 * analysis_time: global or on the time variable, ISO text or a number in
 * the time units), a scalar time next to valid_time (cfgrib), the valid time
 * minus a forecast_period on the time axis (CDO's leadtime), GRIB's
 * dataDate/dataTime (every message of the files the same), or, for files
 * that carry none, the time given (--init, NAME=FILES@T). Fields come out
 * north to south, longitudes ascending from the first at or east of 0, as
 * the reader gives the truth. */
typedef struct eval_fc eval_fc;

typedef struct {
    double init;           /* seconds since 1970 */
    int nsteps;            /* records: leads of the forecast */
    double *valid, *lead;  /* (nsteps) valid times in seconds since 1970, leads in hours */
    int members;           /* 0: deterministic */
    int H, W, nlev;
    float levels[IO_MAX_LEVELS]; /* hPa */
    int has[IO_NUPPER + IO_NSURFACE];
    int native;            /* 1: a pangu (any of its layouts) or WeatherBench 2 forecast file */
    /* 1: one member of an ensemble written one file per member, whose
     * mean and spread file (ensemble_file, "" when not recorded) opens the
     * whole ensemble */
    int member_file;
    char ensemble_file[4096];
} eval_fc_info;

/* One forecast from npaths files (a pangu file is one by itself); init is
 * the initial time for files that declare none (NAN: none given); files
 * declaring another one are an error. */
int eval_fc_open(eval_fc **out, const char *const *paths, int npaths, double init);
/* The same for the init_index-th initial time of a WeatherBench 2 file
 * holding several on time(time) (-1: a file holding one). */
int eval_fc_open_at(eval_fc **out, const char *const *paths, int npaths, double init, long init_index);
/* The initial times a file declares, without reading its fields: how many
 * (in *inits, to be freed; several only in WeatherBench 2 files, in the
 * order of their time axis), 0 when none, -1 on error; *native = 1 for a
 * pangu or WeatherBench 2 forecast file. */
int eval_fc_peek(const char *path, double **inits, int *native);
/* 1 when path is one member of an ensemble written one file per member;
 * ensemble receives the path of the ensemble's mean and spread file. */
int eval_fc_member_of(const char *path, char *ensemble, size_t cap);
const eval_fc_info *eval_fc_describe(const eval_fc *f);
/* One field (variable v: 0..8 as z q t u v msl u10 v10 t2m; level in hPa
 * for upper-air variables) of step `step` (the index on the record axis:
 * time in the CF forecast form, step or prediction_timedelta before) into
 * out (H, W); member -1 for a
 * deterministic file. lat/lon (may be NULL) receive the canonical coordinates. */
int eval_fc_read(eval_fc *f, int step, int member, int v, float level, float *out, double *lat, double *lon);
/* From now on read only the variables with want[v] set, at these levels
 * (hPa, nlev of them; where level[v] > 0 at that one alone): forecasts on
 * a valid-time axis (GRIB, split files) are otherwise read a whole state
 * per step; pangu's layouts are read a field at a time anyway. Reading
 * another variable is then an error. */
int eval_fc_only(eval_fc *f, const int *want, const float *level, const float *levels, int nlev);
void eval_fc_close(eval_fc *f);

/* Source name of a forecast file: the file name without directories,
 * extension and a trailing _YYYYMMDDHH[MM] initial-time part (and a step
 * part after it: _fNNN or _NNNh, as in ifs_2026120100_f024.grib2). */
void eval_source_name(const char *path, char *out, size_t cap);

/* ---- climatology (eval/source.c) ----
 * pangu stats --climatology-hours: z q t u v (dayofyear, hour, level,
 * latitude, longitude) and msl u10 v10 t2m (dayofyear, hour, latitude,
 * longitude). */
typedef struct eval_clim eval_clim;
/* need[v] != 0: variable v must be there (at every level of `levels`). */
int eval_clim_open(eval_clim **out, const char *path, int H, int W, const float *levels, int nlev, const int *need);
/* The climatology of variable v at `level` for valid time t (its day of
 * year and hour of day) into out (H, W). */
int eval_clim_read(eval_clim *c, double t, int v, float level, float *out);
void eval_clim_close(eval_clim *c);

/* ---- the verification run (eval/run.c) ---- */
#define EVAL_MAX_SOURCES 64

/* One --forecast option or one --baseline NAME=FILES: files of it that
 * share an initial time are one forecast. Forecast options are named by
 * their files (eval_source_name; a forecast split over files takes the
 * common part of their names) unless name is set (--name), and options
 * giving one name are one source; a baseline is one source by itself. */
typedef struct {
    char name[128];           /* "": from the file names */
    const char *const *files;
    int nfiles;
    double init;              /* initial time of files that carry none (NAN: none given) */
    int baseline;             /* 1: --baseline NAME=FILES */
} eval_source;

typedef struct {
    const eval_source *sources;   /* --forecast options, then --baseline NAME=FILES */
    int nsources;
    const char *const *truth;     /* truth series files */
    int ntruth;
    const char *climatology;      /* may be NULL */
    int persistence, climatology_baseline;
    const float *levels;          /* levels to score (hPa); nlev 0: those of the first forecast */
    int nlev;
    const eval_region *regions;   /* nregions 0: the four default regions */
    int nregions;
    int rmse_per_time;
    unsigned metrics;             /* 1u << EVAL_* per metric computed and written (0: all) */
    const char *output;           /* scores CSV */
    const char *scorecard;        /* source the report's scorecard compares against (NULL: the first baseline) */
    const char *report;           /* report directory, may be NULL */
    const double *map_leads;      /* nmap 0: the first and last lead */
    int nmap;
    double cache_mb;              /* truth states kept for reuse (0: 1024 MB) */
    int quiet;
    int truth_nan_error;          /* 1: a NaN in the truth at a scored point is an error (else counted, warned) */
} eval_config;

/* Scores every forecast of every source (and the baselines) and writes the
 * CSV `source,variable,level,lead_hours,region,metric,value` (temporary
 * file, then rename); then the report when asked. Truth points that are NaN
 * are left out of the scores, counted per source, field, lead and region
 * (CSV rows with metric truth_nan_points, only where there are some) and
 * warned about on stderr, or refused (truth_nan_error). */
int eval_run(const eval_config *cfg);

/* ---- report (eval/report.c) ---- */
typedef struct {
    char field[16];       /* "z500" or "t2m" */
    double lead;          /* hours */
    float *forecast, *truth; /* (H, W) */
} eval_map;

/* Per-initial-time MSE of the first region of every source, field and
 * lead, for the scorecard's paired test over initial times. */
typedef struct {
    int nsrc, nleads, nfield, ninit;
    const char (*names)[128];  /* (nsrc) source names as in the CSV */
    const double *leads;       /* (nleads) hours */
    const char *const *var;    /* (nfield) variable short names */
    const float *level;        /* (nfield) hPa, 0 for surface fields */
    const double *mse;         /* (nsrc, nleads, nfield, ninit), NAN where not scored; initial times ascending */
    int reference;             /* the source compared against (-1: none) */
    const unsigned char *baseline; /* (nsrc) 1: a baseline (gets no scorecard of its own) */
    const char *region;        /* the region scored (the run's first) */
} eval_init_scores;

/* Paired test of score differences d[n] (in order of initial time; NaN
 * entries left out): Student's t on their mean with the variance inflated
 * for serial correlation by an AR(1) model (n_eff = n (1 - r1) / (1 + r1),
 * r1 the lag-1 autocorrelation, taken as 0 when negative), df = n_eff - 1,
 * two-sided p. Geer (2016), Tellus A 68, 30229. Returns 1 when defined
 * (n >= 2, n_eff > 1 and a non-zero spread, or all differences zero: p = 1). */
typedef struct {
    int n;
    double mean, sd, r1, n_eff, t, p;
} eval_paired;
int eval_paired_test(const double *d, int n, eval_paired *out);
/* Two-sided p-value of Student's t with df (> 0, not necessarily whole) degrees of freedom. */
double eval_student_p(double t, double df);

typedef struct {
    const char *dir, *csv;
    const char *notes;    /* markdown paragraph about the run (may be NULL) */
    const char *map_source, *map_init;
    const eval_map *maps;
    int nmaps, H, W;
    const double *lat, *lon;
    const char *csv_data; /* where the CSV is read from while not yet at csv (its temporary), or NULL */
    const eval_init_scores *by_init; /* for the scorecard's significance (may be NULL: no scorecard) */
} eval_report_spec;

/* report.md and report.html in dir: headline tables (z500, t850, t2m,
 * u10, msl RMSE and ACC at 24, 72, 120, 168 h) from the scores CSV and
 * gnuplot figures (RMSE and ACC against lead, maps); without gnuplot the
 * report says so and has no figures. */
int eval_report(const eval_report_spec *spec);

#endif
