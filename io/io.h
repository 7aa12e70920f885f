/* io: the files pangu reads and writes. Reads the model state (upper
 * (5, L, H, W) and surface (4, H, W), physical units, model level order,
 * latitude north to south) from NetCDF or GRIB series (read.c, grib.c) and
 * checks it is plausible (plausible.c); writes forecast files in NetCDF
 * (CF or WeatherBench 2) or GRIB 2 (forecast.c, grib_write.c) and CF state
 * files (state.c); reads NumPy arrays (npy.c). Beside this header: ncw.h,
 * the NetCDF writers' shared scaffolding; grib.h; fetch.h, downloading
 * inputs and the released models (fetch.c, fetch_models.c, http.c). */
#ifndef PANGU_IO_H
#define PANGU_IO_H

#include <stddef.h>

#define IO_MAX_LEVELS 64
#define IO_NUPPER 5
#define IO_NSURFACE 4

extern const char *const io_upper_names[IO_NUPPER];   /* z q t u v */
extern const char *const io_surface_names[IO_NSURFACE]; /* msl u10 v10 t2m */

#define IO_EPOCH_1900 (-2208988800.0) /* 1900-01-01 in seconds since 1970 */

typedef struct {
    int H, W, nlev;
    float levels[IO_MAX_LEVELS]; /* hPa */
    double *lat, *lon;           /* (H) north to south, (W) ascending from the first longitude >= 0 */
    double time;                 /* valid time, seconds since 1970-01-01 (NAN when unknown) */
    float *upper;                /* (5, L, H, W) z q t u v */
    float *surface;              /* (4, H, W) msl u10 v10 t2m */
    char source[IO_NUPPER + IO_NSURFACE][256]; /* the file each variable was read from ("" when made here) */
} io_state;

/* A classic NetCDF file (CDF-1, 2 or 5) open as ncid must be as long as
 * its header says: netCDF-C reads a truncated one's missing data as fill
 * values without an error. UTIL_EFORMAT naming the file when it is short. */
int io_nc_check_size(int ncid, const char *path);

/* ---- plausibility (io/plausible.c) ----
 * Inputs in wrong units or on broken grids would give errors of many
 * standard deviations with exit 0. Readers refuse coordinates that are not a
 * global latitude-longitude grid (latitudes in [-90, 90], strictly monotonic,
 * evenly spaced; longitudes evenly spaced round the globe), and
 * io_state_check_plausible refuses fields whose mean is far from what they
 * should be, saying the likely cause ("msl looks like hPa"). An expert
 * override (--no-plausibility-check) turns both off. */
void io_plausibility(int on);
int io_plausibility_on(void);
/* Against a model's normalisation statistics (mean and std per variable and
 * level, upper (5, nlev) in st's level order, surface (4)) when given (NULL:
 * fixed physical bounds instead). */
int io_state_check_plausible(const io_state *st, const float *upper_mean, const float *upper_std,
                             const float *surface_mean, const float *surface_std);

/* ---- reading (io/read.c) ----
 * A series is one or more files read as one time series: pressure-level and
 * single-level fields in separate files or in one, many times per file, many
 * files. Accepted: NetCDF-3 and NetCDF-4 (ERA5 as the CDS delivers it, legacy
 * and 2024 formats; CMIP names; any orientation; levels in hPa or Pa, any
 * order), HDF5 written by h5py with the same names, and the official
 * Pangu-Weather .npy inputs (input_upper.npy, input_surface.npy). */
typedef struct io_series io_series;

int io_series_open(io_series **out, const char *const *paths, int npaths);
void io_series_close(io_series *s);
/* Valid times present in the series (sorted, unique, seconds since 1970);
 * none when no file has a time axis. */
size_t io_series_ntimes(const io_series *s);
double io_series_time(const io_series *s, size_t i);
/* The earliest and latest reference (initial) time the GRIB files of the
 * series declare (dataDate/dataTime); how many GRIB files there are (0: the
 * series has no reference time). */
int io_series_reference_time(const io_series *s, double *first, double *last);
/* The state at valid time `time` (NAN: the only time, or a series without
 * times) on an H x W grid at `levels` (hPa, model order). Each variable is
 * taken from the first file that has it at that time; only the requested
 * time and levels are read. Fill values become NaN (see io_state_check_finite). */
int io_series_read(io_series *s, double time, int H, int W, const float *levels, int nlev, io_state *st);
/* The same into a state already allocated (io_state_alloc) on the grid and
 * levels wanted: no allocation, so a long run of reads (eval at 0.25
 * degrees) does not pay for fresh memory each time. On failure the state's
 * content is undefined. */
int io_series_read_into(io_series *s, double time, io_state *st);
/* 1 when a file of the series holds variable v (0..8: z q t u v msl u10 v10 t2m). */
int io_series_has(const io_series *s, int v);
/* From now on variables no file of the series holds are read as NaN
 * instead of failing: pangu eval scores what a forecast holds. */
void io_series_allow_absent(io_series *s);
/* From now on only the variables with want[v] (0..8) set are read, and
 * where level[v] > 0 (hPa) an upper-air variable only at that level; the
 * rest is NaN without a byte of it read: a caller needing a few fields of
 * large files (pangu track) does not pay for the others. */
void io_series_only(io_series *s, const int *want, const float *level);

/* The files the state at `time` (NAN: the only time) is read from, as
 * io_series_read chooses them: each once, at most cap, their number. */
int io_series_sources(const io_series *s, double time, const char **paths, int cap);
/* The series' grid and pressure levels (hPa, descending), taken from the
 * first file holding an upper-air variable (levels) and the first file. */
int io_series_describe(const io_series *s, int *H, int *W, float *levels, int *nlev);
/* Read a two-dimensional (latitude, longitude) field by variable name (GRIB:
 * shortName) from a NetCDF or GRIB file, north to south and longitude ascending from 0, e.g. the ERA5
 * invariants lsm, slt, z; time index 0 when the variable has a time axis. */
int io_read_field(const char *path, const char *name, int H, int W, float *out);

/* A text attribute of a netCDF variable (NC_GLOBAL for the file): NC_CHAR,
 * or a single NC_STRING as h5py writes; trailing blanks and NULs dropped.
 * 1 when found and it fits in cap. */
int io_text_att(int nc, int varid, const char *name, char *buf, size_t cap);

/* Convenience: open, read the time_index-th valid time, close. */
int io_state_read(io_state *s, const char *const *paths, int npaths, long time_index,
                  int H, int W, const float *levels, int nlev);

/* Allocate an empty state with the coordinates and time of `like` (may be NULL). */
int io_state_alloc(io_state *s, int H, int W, const float *levels, int nlev, const io_state *like);
void io_state_free(io_state *s);
/* UTIL_ENAN naming the first variable, level and point holding NaN or a
 * fill value, and how many there are; 0 when all finite. */
int io_state_check_finite(const io_state *s, const char *path);
/* Write a CF-1.8 state file (temporary file, then rename). `source` goes in
 * the global attribute of that name. Only the tests use it (states written
 * as inputs); the product writes states through io_forecast_*. */
int io_state_write(const char *path, const io_state *s, const char *source);
int io_time_add_hours(io_state *s, double hours);

/* ---- forecast files (io/forecast.c) ----
 * Layouts (spec.layout, spec.format):
 * - IO_LAYOUT_CF (default), CF-1.8 NetCDF-4 in CF's forecast form (CF
 *   conventions sections 4.4, 5, 5.7): z q t u v on (time, level,
 *   latitude, longitude), msl u10 v10 t2m on (time, latitude, longitude);
 *   time (unlimited) the valid time in "hours since <initial time>" (CDO
 *   reads dates, xarray datetime64), forecast_period(time) the lead in
 *   hours (xarray: timedelta64; CDO keeps it as its leadtime), the scalar
 *   forecast_reference_time the initial time, all named in each
 *   variable's coordinates attribute with the scalar height_2m /
 *   height_10m of t2m and u10, v10. An ensemble is one file per member (io_forecast_member_path:
 *   PATH with _mNN before the extension, scalar realization, CDI's
 *   realization / ensemble_members attributes so CDO reads the members) and
 *   PATH itself holding <var>_mean and <var>_spread (cell_methods
 *   "realization: mean" / "realization: standard_deviation") and the
 *   member files' names in the global attribute ensemble_member_files.
 * - IO_LAYOUT_WB2, WeatherBench 2's forecast layout: geopotential ...
 *   2m_temperature on (time, [realization,] prediction_timedelta, [level,]
 *   latitude, longitude), time (length 1) the initial time,
 *   prediction_timedelta the lead in hours; members in one file.
 * - IO_FORMAT_GRIB2: GRIB 2 through ecCodes (ECMWF's encodings: shortName
 *   z q t u v on isobaricInhPa, msl, 10u, 10v, 2t at their levels;
 *   dataDate/dataTime the initial time, step the lead in hours; members as
 *   type cf / pf with perturbationNumber), simple packing with
 *   spec.grib_bits[v] bits (default 16), on a regular latitude-longitude
 *   grid.
 * Shuffle + deflate (spec.deflate), one latitude-longitude slab per chunk.
 * Everything is written under temporary names; io_forecast_finish adds the
 * completion mark (NetCDF: global attribute complete = "yes"), moves the
 * member files and then PATH into place. */
enum { IO_LAYOUT_CF = 0, IO_LAYOUT_WB2 = 1 };
enum { IO_FORMAT_NETCDF = 0, IO_FORMAT_GRIB2 = 1 };

typedef struct {
    int H, W;
    const double *lat, *lon;          /* (H), (W) */
    int nlev;                          /* levels to write, a subset of the state's */
    float levels[IO_MAX_LEVELS];
    int write_var[IO_NUPPER + IO_NSURFACE]; /* 1 to write z q t u v msl u10 v10 t2m */
    int nsteps;
    const double *lead_hours;          /* (nsteps) */
    double init_time;                  /* seconds since 1970 */
    int members;                       /* 0: no members */
    const char *source, *history;      /* global attributes (NULL: source "pangu-c", no history) */
    /* 1: write on a background thread so writing overlaps the next model
     * call. io_forecast_write then only queues a reference to the state: call
     * io_forecast_wait(f, s) before changing or freeing s, and make no other
     * netCDF, HDF5 or ecCodes call until io_forecast_finish or
     * io_forecast_abort (the libraries are not thread-safe). States up to
     * 32 MB are copied into the queue instead (at most 4 at a time), so their
     * wait returns at once; 2 forces queueing by reference whatever the size
     * (tests). Members must be written in order (all of member 0, then 1...). */
    int background;
    double *writer_cpu_seconds; /* optional: the writer thread's CPU time is added here */
    /* deflate level after shuffle, 1 to 9; 0 means the default, 1; -1 writes
     * uncompressed (on model output level 1 saves ~30% of the size at ~7 ms
     * of CPU per 32 x 64 state: as much as a small model's call) */
    int deflate;
    int layout, format;                /* IO_LAYOUT_*, IO_FORMAT_* */
    int grib_bits[IO_NUPPER + IO_NSURFACE]; /* GRIB bits per value by variable, 0: 16 */
    /* GRIB MARS labels (io_grib_check_labels); NULL: ai-models' class ml,
     * stream oper (enfo for members), expver pguw (io/grib.h) */
    const char *grib_class, *grib_stream, *grib_expver;
    const char *institution;           /* NULL or "": no institution attribute */
    /* The licence of the model weights, for released models (a global
     * attribute licence; NULL or "": none). */
    const char *licence;
    /* What was asked for (models' SHA-256, leads, variables, levels,
     * members, precision, format...): a rerun takes a complete file as
     * done only when its recorded request is the same (NetCDF: the global
     * attribute pangu_request; GRIB: the file PATH.request beside it). */
    const char *request;
    /* Ensembles: the perturbation written as global attributes. */
    const char *perturbation;          /* e.g. "perlin"; NULL: not recorded */
    double perturbation_scale;
    unsigned long long seed;
    /* 1: the caller rewrites a complete file of another request (--overwrite);
     * 0: such a file found once the output is locked (another job finished it
     * meanwhile) is an error. */
    int overwrite;
} io_forecast_spec;

/* The file of ensemble member m (0-based, of `members`) of the CF layout:
 * PATH with _mNN (at least two digits) before its extension. */
void io_forecast_member_path(const char *path, int m, int members, char *out, size_t cap);

typedef struct io_forecast io_forecast;
int io_forecast_create(io_forecast **out, const char *path, const io_forecast_spec *spec);
/* Write the state for step index `step` (and member, when members > 0).
 * With spec.background, queue it (and report any earlier write's error). */
int io_forecast_write(io_forecast *f, int step, int member, const io_state *s);
/* Wait until no queued write reads s (at once without spec.background);
 * reports a background write's error. */
int io_forecast_wait(io_forecast *f, const io_state *s);
/* Mark complete, close and move into place. Frees f. */
int io_forecast_finish(io_forecast *f);
/* Close and delete the temporary file. Frees f. */
void io_forecast_abort(io_forecast *f);
/* 1 when path exists and carries the completion mark. */
int io_forecast_is_complete(const char *path);
/* 1 when path is a forecast file pangu-c wrote (NetCDF with the completion
 * attribute, complete or not; GRIB with PATH.request beside it): the only
 * kind of existing file a forecast output may replace (util_output_check). */
int io_forecast_is_forecast(const char *path);
/* The request recorded in a forecast file (see io_forecast_spec.request):
 * 1 and buf filled when there is one, 0 when none (an older file). */
int io_forecast_request(const char *path, char *buf, size_t cap);

/* ---- NumPy .npy (io/npy.c) ---- */
typedef struct {
    int rank;
    size_t shape[8];
    int word;          /* 4 (float32) or 8 (float64) */
    int big_endian;
    size_t data_offset; /* bytes from the file start */
} io_npy_header;
/* Parse a .npy header held in buf (n bytes). Only C-order little- or
 * big-endian float32/float64 arrays are accepted. */
int io_npy_parse(io_npy_header *h, const unsigned char *buf, size_t n, const char *path);

#endif
