/* pangu.h: the public C API of libpangu (pangu-c, Pangu-Weather in C).
 *
 * The one header a program using the library includes; the library's
 * modules (model/, io/, util/ ...) are internal and not installed. Build:
 *     cc prog.c $(pkg-config --cflags --libs pangu)
 * Every name starts with pangu_ (PANGU_ for macros). Functions returning
 * int return a status: PANGU_OK (0) or one of the error codes below, with a
 * one-line message naming the file or option (pangu_last_error, per
 * thread). Every pointer argument is checked (NULL where the function does
 * not allow it: PANGU_EINVAL; functions returning a value say what they
 * return then). Arrays are float32 in physical units and the model's variable
 * and level order, C order, latitude north to south:
 *     upper-air (5, L, H, W): z (m2 s-2) q (kg kg-1) t (K) u v (m s-1)
 *     surface   (4, H, W):    msl (Pa) u10 v10 (m s-1) t2m (K)
 * Strings returned: pangu_version, pangu_strerror, pangu_variable_name and
 * pangu_model_licence are constants (never freed, valid for the process);
 * pangu_last_error is the calling thread's buffer, valid until that
 * thread's next failing call (copy it to keep it).
 * Stability: functions and enum values are only ever added; the options
 * struct of pangu_forecast only grows at its end (pangu_forecast_options_init
 * records the layout the program was compiled with). The soname's major
 * number changes if that promise is ever broken.
 *
 * Threads: the library computes with OpenMP (pangu_set_threads). A model
 * may be stepped from one thread at a time; the underlying NetCDF and HDF5
 * libraries are not thread-safe, so open, read and forecast from one thread.
 * On first use the library turns off HDF5's automatic error printing (errors
 * come back as statuses and pangu_last_error). */
#ifndef PANGU_H
#define PANGU_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PANGU_API __attribute__((visibility("default")))
#else
#define PANGU_API
#endif

#define PANGU_VERSION_MAJOR 1
#define PANGU_VERSION_MINOR 1
#define PANGU_NUPPER 5   /* z q t u v */
#define PANGU_NSURFACE 4 /* msl u10 v10 t2m */
#define PANGU_MAX_LEVELS 64
/* The version as one number, MAJOR * 10000 + MINOR * 100 (ecCodes'
 * convention): the header's; pangu_version_number() is the library's. */
#define PANGU_VERSION_NUMBER (PANGU_VERSION_MAJOR * 10000 + PANGU_VERSION_MINOR * 100)

/* "1.1": the library's version (the same as `pangu --version`). */
PANGU_API const char *pangu_version(void);
/* The running library's PANGU_VERSION_NUMBER, e.g. 10100 for 1.1: a program
 * compiled against a newer header can check the library it runs with
 * (since 1.1). */
PANGU_API int pangu_version_number(void);

/* ---- errors ---- */
enum {
    PANGU_OK = 0,
    PANGU_EINVAL = 1,  /* bad argument, option or configuration */
    PANGU_EFORMAT = 2, /* file content not what was expected */
    PANGU_EIO = 3,     /* cannot open, read or write */
    PANGU_ENOMEM = 4,  /* out of memory */
    PANGU_ENAN = 5,    /* NaN or infinity where a number was expected */
};
/* A short description of a status ("invalid argument", ...). */
PANGU_API const char *pangu_strerror(int status);
/* The message of the last failure in the calling thread, e.g.
 * "x.h5: cannot read the model file: No such file or directory"; "" if none. */
PANGU_API const char *pangu_last_error(void);

/* ---- settings ---- */
/* OpenMP threads of the library's work (steps, forecast jobs) called from
 * this thread: n >= 1, or 0 for the CPUs the process may use (its
 * affinity, as a batch system sets it). OpenMP keeps this per thread
 * (omp_set_num_threads): another thread of the program keeps its own
 * (OMP_NUM_THREADS, else all CPUs) until it calls this too. */
PANGU_API int pangu_set_threads(int n);
PANGU_API int pangu_threads(void); /* this thread's */
/* Plausibility checks of inputs (units, grids), process-wide: on (1, the
 * default unless PANGU_NO_PLAUSIBILITY_CHECK=1 is set) or off (0, expert
 * override). */
PANGU_API void pangu_set_plausibility_check(int on);

/* ---- models ---- */
typedef struct pangu_model pangu_model;
enum { PANGU_FP32 = 0, PANGU_BF16 = 1 }; /* GEMM precision */

/* Open a model: a pangu-c HDF5 model file (format 1 or 2), or a released
 * Pangu-Weather ONNX file (a name ending in .onnx, imported in memory).
 * lead_hours: 0 to take the model's own (ONNX: from pangu_weather_N.onnx),
 * or the lead it must have. *out is NULL on failure. */
PANGU_API int pangu_model_open(pangu_model **out, const char *path, int lead_hours);
PANGU_API void pangu_model_close(pangu_model *m); /* NULL is ignored */
/* Grid H x W and levels L (any of the three may be NULL). A NULL model:
 * PANGU_EINVAL, and 0 in each. (Returned void before 1.1.) */
PANGU_API int pangu_model_shape(const pangu_model *m, int *H, int *W, int *nlev);
/* The pressure levels (hPa, model order) into levels[0..cap); returns L
 * (levels NULL with cap 0: only L). A NULL model, levels NULL with cap > 0
 * or cap < 0: -PANGU_EINVAL (negative), nothing written. */
PANGU_API int pangu_model_levels(const pangu_model *m, float *levels, int cap);
/* The lead in hours; -PANGU_EINVAL for a NULL model. */
PANGU_API int pangu_model_lead_hours(const pangu_model *m);
/* 1: the original layout; 2: the released models' variant; -PANGU_EINVAL
 * for a NULL model. */
PANGU_API int pangu_model_format(const pangu_model *m);
/* Floats of one upper-air array (5 L H W) and one surface array (4 H W);
 * 0 for a NULL model (pangu_last_error says so). */
PANGU_API size_t pangu_model_upper_size(const pangu_model *m);
PANGU_API size_t pangu_model_surface_size(const pangu_model *m);
/* The licence of the weights for released models (CC BY-NC-SA 4.0), else
 * NULL (for a NULL model too, pangu_last_error saying so). */
PANGU_API const char *pangu_model_licence(const pangu_model *m);
/* Variable i in array order: 0..4 z q t u v, 5..8 msl u10 v10 t2m; NULL past. */
PANGU_API const char *pangu_variable_name(int i);
/* PANGU_FP32 (default) or PANGU_BF16 (needs AVX512_BF16; PANGU_EINVAL
 * saying so otherwise). */
PANGU_API int pangu_model_set_precision(pangu_model *m, int precision);

/* Read a model's input state from NetCDF, GRIB or .npy files (ERA5 as the
 * CDS delivers it, pressure-level and single-level files together...) at
 * valid time `time` ("2020-01-01T00"; NULL: the files' only time) onto
 * the model's grid and levels: upper (pangu_model_upper_size floats),
 * surface (pangu_model_surface_size); *valid_time (may be NULL) gets the
 * time in seconds since 1970. Checks as `pangu step` does: no NaN or fill
 * value, plausible units. paths: npaths >= 1 file names, none NULL or
 * empty. The array lengths are not checked: see pangu_read_input_sized. */
PANGU_API int pangu_read_input(const pangu_model *m, const char *const *paths, int npaths, const char *time,
                               float *upper, float *surface, double *valid_time);
/* pangu_read_input with the arrays' lengths in floats, checked against the
 * model's (PANGU_EINVAL naming the array and the length needed) before
 * anything is read (since 1.1). */
PANGU_API int pangu_read_input_sized(const pangu_model *m, const char *const *paths, int npaths, const char *time,
                                     float *upper, size_t upper_len, float *surface, size_t surface_len,
                                     double *valid_time);

/* One model step on caller arrays: the state lead hours later. Inputs and
 * outputs in physical units (normalised with the model's statistics
 * inside, as `pangu step`); the outputs may not alias the inputs. Inputs
 * with NaN or infinity are refused (PANGU_ENAN), implausible ones too
 * (PANGU_EFORMAT, naming the likely cause) unless the checks are off.
 * The work arena (about 1 GB at 0.25 degrees) is kept between calls and
 * shared by all open models, so repeated steps skip the fresh pages' cost
 * (2% to 8% of a step there, by machine); it is freed when the last model is
 * closed. A call made while another thread steps gets its own arena for
 * that call. pangu_forecast keeps one arena for all of a job's steps.
 * UNCHECKED lengths: each array must hold pangu_model_upper_size or
 * pangu_model_surface_size floats of this model; arrays of another grid
 * are read and written past their end. pangu_step_sized checks them. */
PANGU_API int pangu_step(const pangu_model *m, float *upper_out, float *surface_out, const float *upper_in,
                         const float *surface_in);
/* pangu_step with each array's length in floats, checked against the
 * model's grid before any work: PANGU_EINVAL naming the array and the
 * length it needs (since 1.1). */
PANGU_API int pangu_step_sized(const pangu_model *m, float *upper_out, size_t upper_out_len, float *surface_out,
                               size_t surface_out_len, const float *upper_in, size_t upper_in_len,
                               const float *surface_in, size_t surface_in_len);

/* ---- forecast jobs: what `pangu forecast` does ----
 * For each initial time, each lead through the hierarchy of the models
 * (as many of the longest as fit, shared prefixes computed once), written
 * as a file per initial time (temporary name, then rename). A complete file
 * whose recorded request equals this one is skipped; one of another request
 * is an error unless overwrite. Strings are the configuration keys' values
 * of `pangu forecast --help`; NULL takes the default shown. For a model
 * below 2 GFLOP a step the job computes on one thread (the writer needs the
 * other core); the calling thread's OpenMP thread count (pangu_set_threads)
 * is restored before it returns, on every path. */
#define PANGU_FORECAST_OPTIONS_VERSION 2
typedef struct {
    int version;                      /* set by pangu_forecast_options_init */
    int nmodels;                      /* models: model_files[i] is the model of model_leads[i] hours */
    const char *const *model_files;
    const int *model_leads;
    int ninputs;                      /* initial-condition files (no glob expansion) */
    const char *const *input_files;
    const char *init;                 /* required: "2020-01-01T00,2020-01-01T12" or START/END/STEP_HOURS */
    const char *leads;                /* "6-168/6": lists and ranges START-END/STEP */
    const char *output;               /* "fc_{init:%Y%m%d%H}.nc": {init:FORMAT} takes %Y %m %d %H %M */
    const char *variables;            /* "all", or some of "z q t u v msl u10 v10 t2m" */
    const char *levels;               /* "all", or model levels in hPa */
    const char *format;               /* "netcdf" or "grib2" */
    const char *layout;               /* "cf" (CF-1.8) or "wb2" (WeatherBench 2) */
    const char *grib_bits;            /* "16": N and/or VAR=N */
    int deflate;                      /* 0 (uncompressed) .. 9; default 1 */
    const char *institution;          /* NULL: no institution attribute */
    int members;                      /* ensemble members; 0 (default): deterministic */
    const char *perturb;              /* "none" or "perlin" (needed with members > 1) */
    double perturb_scale;             /* 0.2 (of each field's std) */
    unsigned long long seed;          /* 0 */
    int precision;                    /* PANGU_FP32 or PANGU_BF16 */
    int overwrite;                    /* 1: rewrite complete files of another request */
    int dry_run;                      /* 1: print the plan (files, calls, time, memory) to `plan` only */
    const char *history;              /* the files' history attribute; NULL: the time and "pangu_forecast" */
    FILE *log;                        /* progress lines; NULL: none */
    FILE *plan;                       /* the dry run's lines; NULL: stdout */
    int rank, nranks;                 /* this process's share of the initial times (i % nranks == rank); 0, 1 */
    /* version 2: GRIB MARS labels, for format "grib2" only; NULL: as
     * ai-models labels Pangu-Weather, class "ml", stream "oper" ("enfo" for
     * members), expver "pguw" */
    const char *grib_class, *grib_stream, *grib_expver;
} pangu_forecast_options;
PANGU_API void pangu_forecast_options_init(pangu_forecast_options *o); /* NULL is ignored */
PANGU_API int pangu_forecast(const pangu_forecast_options *o);

#ifdef __cplusplus
}
#endif
#endif
