/* io grib: GRIB 1 and GRIB 2 state files through ecCodes (ERA5 from the
 * CDS or MARS, IFS, GFS), for the series reader (io/read.c).
 *
 * A file may hold many messages: several variables, levels and times. The
 * file is indexed once when opened; reading a field seeks to its message and
 * decodes just that one. Messages are selected as ai-models does, by
 * shortName and level:
 *   upper air, typeOfLevel isobaricInhPa (or isobaricInPa, level in Pa):
 *     z (or gh, geopotential height in gpm, times 9.80665), q, t, u, v;
 *   surface: msl (or prmsl, as GFS names it), 10u, 10v, 2t.
 * Other messages are ignored. The valid time is validityDate/validityTime
 * (dataDate/dataTime + step, or forecastTime in GRIB 2); the reference time
 * dataDate/dataTime is the initial time of a forecast. The messages used must share one regular_ll
 * grid; points missing in a bitmap read as NaN. */
#ifndef PANGU_IO_GRIB_H
#define PANGU_IO_GRIB_H

#include <stddef.h>

#include "io.h"

#define IO_GRIB_NVARS (IO_NUPPER + IO_NSURFACE)

typedef struct io_grib_msg io_grib_msg;

typedef struct {
    const char *path;
    /* The grid in the file's own order: lat (nlat = Nj), lon (nlon = Ni);
     * values are (nlat, nlon) row-major as stored. */
    size_t nlat, nlon;
    double *lat, *lon;
    size_t nlev, ntime;
    double *lev;   /* union of the upper-air variables' pressure levels, hPa, descending */
    double *times; /* union of the valid times, seconds since 1970, ascending */
    double ref_first, ref_last; /* earliest and latest reference (initial) time, dataDate/dataTime, of the messages used */
    int has[IO_GRIB_NVARS];         /* z q t u v msl u10 v10 t2m */
    char name[IO_GRIB_NVARS][32];   /* the shortName that provides it, e.g. "gh" */
    /* internal */
    void *fp;
    io_grib_msg *msgs;
    size_t nmsg;
} io_grib;

/* 1 when the file starts with the GRIB magic. */
int io_grib_detect(const char *path);
/* Index the file (one pass over its messages). On failure *out is NULL. */
int io_grib_open(io_grib **out, const char *path);
void io_grib_close(io_grib *g);
/* The reference (initial) time, dataDate/dataTime, of the file's first
 * message of a model variable, without indexing the file: 1 when found, 0
 * when the file holds none, -1 on error (message set). */
int io_grib_reference_time(const char *path, double *t);
/* The shortNames by which model variable v is found, e.g. "z or gh". */
const char *io_grib_shortnames(int v);
/* Decode model variable v (index in z q t u v msl u10 v10 t2m) at `level`
 * (hPa; ignored for surface variables) valid at `time` (seconds since 1970)
 * into out (nlat * nlon, the file's order), in model units, missing points
 * as NaN. */
int io_grib_read(io_grib *g, int v, double level, double time, float *out);

/* The first message with this shortName (e.g. the ERA5 invariants lsm, slt,
 * z) as an (H, W) field north to south, longitudes ascending from 0, in the
 * file's units; missing points as NaN. */
int io_grib_read_named(const char *path, const char *short_name, int H, int W, float *out);

/* ---- writing (io/grib_write.c): GRIB 2 forecasts for io/forecast.c ----
 * One template message per variable on the state's regular grid (north to
 * south, longitudes ascending), ECMWF's local definition 1 carrying the
 * MARS keys as ai-models labels Pangu-Weather's output: class ml, stream
 * oper (enfo for members), type fc (members cf / pf), expver pguw,
 * generatingProcessIdentifier 1 (ai-models' model version); class, stream
 * and expver may be replaced (io_forecast_spec.grib_class ...).
 * io_grib_writer_put may run on the forecast writer thread: it reports
 * errors in err, not through util_fail. */
#define IO_GRIB_CLASS "ml"
#define IO_GRIB_EXPVER "pguw"
/* Site labels (each NULL: the default): expver 4 lowercase letters or
 * digits, class 2 and stream 4 of them, named in ECMWF's MARS tables (the
 * installed ecCodes', and for class also the codes added since ecCodes
 * 2.28, such as ml). Fails (util_fail) naming the key. */
int io_grib_check_labels(const char *cls, const char *stream, const char *expver);
typedef struct io_grib_writer io_grib_writer;
/* Fails (util_fail) naming the file when the grid is not a regular
 * latitude-longitude grid or a bit count is outside 1..32. */
int io_grib_writer_open(io_grib_writer **out, const char *path, const io_forecast_spec *spec);
/* Append the written fields of state s (file level k is state level
 * lev_index[k]) as step `step` of member `member` (-1: deterministic) to fp. */
int io_grib_writer_put(io_grib_writer *w, void *fp, int step, int member, const io_state *s, const int *lev_index,
                       char *err, size_t cap);
/* Copy the messages of in_path to out_path ordered by step, then member,
 * then as written (CDO takes time steps in file order). */
int io_grib_writer_sort(io_grib_writer *w, const char *in_path, const char *out_path, char *err, size_t cap);
void io_grib_writer_close(io_grib_writer *w);

#endif
