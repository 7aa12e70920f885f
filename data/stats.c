/* data stats: normalisation statistics and climatology, streamed. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../io/io.h"
#include "../io/ncw.h"
#include "../util/util.h"
#include "data.h"

int data_stats_init(data_stats *st, int H, int W, const float *levels, int nlev, int clim_hours) {
    memset(st, 0, sizeof *st);
    if (nlev < 1 || nlev > 64) return util_fail(UTIL_EINVAL, "%d levels: expected 1 to 64", nlev);
    st->H = H, st->W = W, st->nlev = nlev, st->nfields = 5 * nlev + 4;
    memcpy(st->levels, levels, sizeof(float) * nlev);
    st->first_time = st->last_time = NAN;
    if (clim_hours > 0) {
        if (24 % clim_hours) return util_fail(UTIL_EINVAL, "climatology every %d h: must divide 24", clim_hours);
        st->clim_hours = clim_hours, st->clim_slots = 24 / clim_hours;
        size_t n = (size_t)366 * st->clim_slots * st->nfields * H * W;
        st->clim_sum = calloc(n, sizeof(float));
        st->clim_count = calloc((size_t)366 * st->clim_slots, sizeof(int));
        if (!st->clim_sum || !st->clim_count) {
            data_stats_free(st);
            return util_fail(UTIL_ENOMEM, "a climatology of %d x %d x %d fields needs %.1f GB: use a coarser grid "
                                          "(pangu regrid) or fewer hours per day",
                             H, W, 5 * nlev + 4, n * 4.0 / 1e9);
        }
    }
    return UTIL_OK;
}

void data_stats_free(data_stats *st) {
    free(st->clim_sum);
    free(st->clim_count);
    st->clim_sum = NULL, st->clim_count = NULL;
}

int data_stats_add(data_stats *st, const float *upper, const float *surface, double time) {
    size_t HW = (size_t)st->H * st->W;
    int slot = -1, doy = 0;
    if (st->clim_sum && !isnan(time)) {
        int y, mo, d, h, mi, s;
        util_time_fields(time, &y, &mo, &d, &h, &mi, &s);
        if (mi == 0 && s == 0 && h % st->clim_hours == 0) slot = h / st->clim_hours, doy = util_day_of_year(time) - 1;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int f = 0; f < st->nfields; f++) {
        const float *x = f < 5 * st->nlev ? upper + (size_t)f * HW : surface + (size_t)(f - 5 * st->nlev) * HW;
        /* Two-pass mean and M2 of this field, then Chan's merge. */
        double m = 0, m2 = 0;
        for (size_t i = 0; i < HW; i++) m += x[i];
        m /= (double)HW;
        for (size_t i = 0; i < HW; i++) m2 += (x[i] - m) * (x[i] - m);
        double n = st->count[f], nb = (double)HW, delta = m - st->mean[f];
        st->mean[f] += delta * nb / (n + nb);
        st->m2[f] += m2 + delta * delta * n * nb / (n + nb);
        st->count[f] = n + nb;
        if (slot >= 0) {
            float *c = st->clim_sum + (((size_t)doy * st->clim_slots + slot) * st->nfields + f) * HW;
            for (size_t i = 0; i < HW; i++) c[i] += x[i];
        }
    }
    if (slot >= 0) st->clim_count[doy * st->clim_slots + slot]++;
    st->ntimes++;
    if (!isnan(time)) {
        if (isnan(st->first_time) || time < st->first_time) st->first_time = time;
        if (isnan(st->last_time) || time > st->last_time) st->last_time = time;
    }
    return UTIL_OK;
}

static const char *field_var(int f, int nlev) {
    return f < 5 * nlev ? io_upper_names[f / nlev] : io_surface_names[f - 5 * nlev];
}

#define NC(call) NCW_CHECK(call, "%s: cannot write statistics", path)

/* Units, CF standard names and heights of z q t u v msl u10 v10 t2m. */
static const struct {
    const char *long_name, *standard_name, *units, *height;
} meta[9] = {
    {"geopotential", "geopotential", "m**2 s**-2", NULL},
    {"specific humidity", "specific_humidity", "kg kg**-1", NULL},
    {"temperature", "air_temperature", "K", NULL},
    {"U component of wind", "eastward_wind", "m s**-1", NULL},
    {"V component of wind", "northward_wind", "m s**-1", NULL},
    {"mean sea level pressure", "air_pressure_at_mean_sea_level", "Pa", NULL},
    {"10 metre U wind component", "eastward_wind", "m s**-1", "height_10m"},
    {"10 metre V wind component", "northward_wind", "m s**-1", "height_10m"},
    {"2 metre temperature", "air_temperature", "K", "height_2m"},
};

static int define_height(int nc, const char *name, int *id) {
    int rc = ncw_coord(nc, name, NC_DOUBLE, 0, NULL, "height", "height above the surface", "m", NULL, id);
    if (!rc) rc = ncw_text(nc, *id, "positive", "up");
    return rc;
}

/* NAME_SUFFIX: the mean or standard deviation over all grid points and times
 * of variable v (per level when ndims is 1). NetCDF's status. */
static int define_moment(int nc, const char *name, int v, int ndims, const int *d_lev, const char *suffix,
                         const char *what, int *id) {
    char vname[64], lname[160], methods[120];
    snprintf(vname, sizeof vname, "%s_%s", name, suffix);
    snprintf(lname, sizeof lname, "%s, %s over all grid points and times", meta[v].long_name, what);
    /* over grid points, unweighted: the normalisation the model uses */
    snprintf(methods, sizeof methods, "area: time: %s (comment: unweighted over grid points)",
             strcmp(suffix, "std") ? what : "standard_deviation");
    int rc = ncw_def(nc, vname, NC_DOUBLE, ndims, d_lev, id, "long_name", lname, "standard_name", meta[v].standard_name,
                     "units", meta[v].units, "cell_methods", methods, NULL);
    if (rc == NC_NOERR && meta[v].height) rc = ncw_text(nc, *id, "coordinates", meta[v].height);
    return rc;
}

/* The NetCDF ids of a statistics file being written. */
typedef struct {
    int d_lev, d_doy, d_hour, d_lat, d_lon, v_lev, v_doy, v_hour, v_lat, v_lon, v_h2, v_h10;
    int mean_id[9], std_id[9], clim_id[9];
} stats_ids;

/* Level and height coordinates always; the climatology's day, hour and grid only when there is one. */
static int define_coordinates(const data_stats *st, const char *path, int nc, stats_ids *id) {
    int status = UTIL_OK;
    NC(nc_def_dim(nc, "level", (size_t)st->nlev, &id->d_lev));
    NC(ncw_def(nc, "level", NC_FLOAT, 1, &id->d_lev, &id->v_lev, "units", "hPa", "standard_name", "air_pressure",
               "long_name", "pressure level", "positive", "down", "axis", "Z", NULL));
    NC(define_height(nc, "height_2m", &id->v_h2));
    NC(define_height(nc, "height_10m", &id->v_h10));
    if (st->clim_sum) {
        NC(nc_def_dim(nc, "dayofyear", 366, &id->d_doy));
        NC(nc_def_dim(nc, "hour", (size_t)st->clim_slots, &id->d_hour));
        NC(nc_def_dim(nc, "latitude", (size_t)st->H, &id->d_lat));
        NC(nc_def_dim(nc, "longitude", (size_t)st->W, &id->d_lon));
        NC(ncw_def(nc, "dayofyear", NC_INT, 1, &id->d_doy, &id->v_doy, "long_name", "day of year (1 = 1 January)",
                   NULL));
        NC(ncw_def(nc, "hour", NC_INT, 1, &id->d_hour, &id->v_hour, "long_name", "hour of day (UTC)", NULL));
        NC(ncw_def(nc, "latitude", NC_DOUBLE, 1, &id->d_lat, &id->v_lat, "units", "degrees_north", "standard_name",
                   "latitude", "long_name", "latitude", NULL));
        NC(ncw_def(nc, "longitude", NC_DOUBLE, 1, &id->d_lon, &id->v_lon, "units", "degrees_east", "standard_name",
                   "longitude", "long_name", "longitude", NULL));
    }
done:
    return status;
}

/* Variable v's climatology: one grid per day of year, hour and level, chunked so a reader takes one grid. */
static int define_climatology(const data_stats *st, const char *path, int nc, int v, const char *name,
                              int smoothing_days, stats_ids *id) {
    int status = UTIL_OK, upper = v < 5;
    int dims[5] = {id->d_doy, id->d_hour, id->d_lev, id->d_lat, id->d_lon};
    int dims3[4] = {id->d_doy, id->d_hour, id->d_lat, id->d_lon};
    size_t chunk[5] = {1, 1, 1, (size_t)st->H, (size_t)st->W}, chunk3[4] = {1, 1, (size_t)st->H, (size_t)st->W};
    char lname[160], methods[200];
    NC(nc_def_var(nc, name, NC_FLOAT, upper ? 5 : 4, upper ? dims : dims3, &id->clim_id[v]));
    NC(nc_def_var_chunking(nc, id->clim_id[v], NC_CHUNKED, upper ? chunk : chunk3));
    NC(nc_def_var_deflate(nc, id->clim_id[v], 1, 1, 1));
    float fill = NC_FILL_FLOAT;
    NC(nc_def_var_fill(nc, id->clim_id[v], 0, &fill));
    snprintf(lname, sizeof lname, "%s, climatology by day of year and hour of day", meta[v].long_name);
    NC(ncw_text(nc, id->clim_id[v], "long_name", lname));
    NC(ncw_text(nc, id->clim_id[v], "standard_name", meta[v].standard_name));
    NC(ncw_text(nc, id->clim_id[v], "units", meta[v].units));
    snprintf(methods, sizeof methods,
             "time: mean (comment: over the times of this day of year and hour of day in the period%s)",
             smoothing_days > 1 ? ", in a window of days around it" : "");
    NC(ncw_text(nc, id->clim_id[v], "cell_methods", methods));
    if (meta[v].height) NC(ncw_text(nc, id->clim_id[v], "coordinates", meta[v].height));
done:
    return status;
}

/* Per variable: its mean and standard deviation, and its climatology when there is one. */
static int define_variables(const data_stats *st, const char *path, int nc, int smoothing_days, stats_ids *id) {
    int status = UTIL_OK;
    for (int v = 0; v < 9; v++) {
        int upper = v < 5;
        const char *name = upper ? io_upper_names[v] : io_surface_names[v - 5];
        NC(define_moment(nc, name, v, upper ? 1 : 0, &id->d_lev, "mean", "mean", &id->mean_id[v]));
        NC(define_moment(nc, name, v, upper ? 1 : 0, &id->d_lev, "std", "standard deviation", &id->std_id[v]));
        id->clim_id[v] = -1;
        if (st->clim_sum && (status = define_climatology(st, path, nc, v, name, smoothing_days, id))) goto done;
    }
done:
    return status;
}

/* What the file is, the period it summarises and the smoothing window, for provenance. */
static int put_global_attributes(const data_stats *st, const char *path, int nc, int smoothing_days,
                                 const char *source) {
    int status = UTIL_OK;
    NC(ncw_texts(nc, NC_GLOBAL, "Conventions", "CF-1.8", "title", "pangu-c statistics", "source",
                 source ? source : "pangu stats", NULL));
    char period[160] = "unknown", a[64], b[64];
    if (!isnan(st->first_time)) {
        util_time_format(st->first_time, a, sizeof a);
        util_time_format(st->last_time, b, sizeof b);
        snprintf(period, sizeof period, "%s to %s, %ld times", a, b, st->ntimes);
    }
    NC(ncw_text(nc, NC_GLOBAL, "period", period));
    NC(nc_put_att_int(nc, NC_GLOBAL, "smoothing_days", NC_INT, 1, &smoothing_days));
done:
    return status;
}

/* Levels, heights and each field's mean and (sample) standard deviation. */
static int put_moments(const data_stats *st, const char *path, int nc, const stats_ids *id) {
    int status = UTIL_OK;
    NC(nc_put_var_float(nc, id->v_lev, st->levels));
    double h2 = 2, h10 = 10;
    NC(nc_put_var_double(nc, id->v_h2, &h2));
    NC(nc_put_var_double(nc, id->v_h10, &h10));
    for (int f = 0; f < st->nfields; f++) {
        int v = f < 5 * st->nlev ? f / st->nlev : 5 + f - 5 * st->nlev;
        size_t k = f < 5 * st->nlev ? (size_t)(f % st->nlev) : 0;
        double mean = st->mean[f], sd = st->count[f] > 1 ? sqrt(st->m2[f] / (st->count[f] - 1)) : NAN;
        if (v < 5) {
            NC(nc_put_var1_double(nc, id->mean_id[v], &k, &mean));
            NC(nc_put_var1_double(nc, id->std_id[v], &k, &sd));
        } else {
            NC(nc_put_var_double(nc, id->mean_id[v], &mean));
            NC(nc_put_var_double(nc, id->std_id[v], &sd));
        }
    }
done:
    return status;
}

/* The climatology's coordinate values: days 1..366, the hours of its slots, the regular grid. */
static int put_climatology_coordinates(const data_stats *st, const char *path, int nc, const stats_ids *id) {
    int status = UTIL_OK;
    int *days = malloc(sizeof(int) * 366), *hours = malloc(sizeof(int) * st->clim_slots);
    double *lat = malloc(sizeof(double) * st->H), *lon = malloc(sizeof(double) * st->W);
    if (!days || !hours || !lat || !lon) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < 366; i++) days[i] = i + 1;
    for (int i = 0; i < st->clim_slots; i++) hours[i] = i * st->clim_hours;
    for (int i = 0; i < st->H; i++) lat[i] = st->H > 1 ? 90.0 - 180.0 * i / (st->H - 1) : 0;
    for (int i = 0; i < st->W; i++) lon[i] = 360.0 * i / st->W;
    NC(nc_put_var_int(nc, id->v_doy, days));
    NC(nc_put_var_int(nc, id->v_hour, hours));
    NC(nc_put_var_double(nc, id->v_lat, lat));
    NC(nc_put_var_double(nc, id->v_lon, lon));
done:
    free(days), free(hours), free(lat), free(lon);
    return status;
}

/* Field f's climatology at day of year d and slot h into slab: the mean over the days of the smoothing
 * window that have data (periodic in the year), the fill value where none has. */
static void smoothed_slab(const data_stats *st, int half, int d, int h, int f, double *acc, float *slab) {
    size_t HW = (size_t)st->H * st->W;
    long n = 0;
    for (size_t i = 0; i < HW; i++) acc[i] = 0;
    for (int o = -half; o <= half; o++) {
        int dd = ((d + o) % 366 + 366) % 366, c = st->clim_count[dd * st->clim_slots + h];
        if (!c) continue;
        const float *src = st->clim_sum + (((size_t)dd * st->clim_slots + h) * st->nfields + f) * HW;
        for (size_t i = 0; i < HW; i++) acc[i] += src[i];
        n += c;
    }
    for (size_t i = 0; i < HW; i++) slab[i] = n ? (float)(acc[i] / n) : NC_FILL_FLOAT;
}

/* Every grid of the climatology, one slab at a time so memory stays one grid. */
static int put_climatology(const data_stats *st, const char *path, int nc, int smoothing_days, const stats_ids *id) {
    int status = UTIL_OK;
    size_t HW = (size_t)st->H * st->W;
    float *slab = malloc(sizeof(float) * HW);
    double *acc = malloc(sizeof(double) * HW);
    if (!slab || !acc) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int d = 0; d < 366; d++)
        for (int h = 0; h < st->clim_slots; h++)
            for (int f = 0; f < st->nfields; f++) {
                smoothed_slab(st, smoothing_days / 2, d, h, f, acc, slab);
                int v = f < 5 * st->nlev ? f / st->nlev : 5 + f - 5 * st->nlev;
                size_t start[5] = {(size_t)d, (size_t)h, 0, 0, 0}, count[5] = {1, 1, 1, (size_t)st->H, (size_t)st->W};
                size_t start3[4] = {(size_t)d, (size_t)h, 0, 0}, count3[4] = {1, 1, (size_t)st->H, (size_t)st->W};
                if (v < 5) start[2] = (size_t)(f % st->nlev);
                int r = v < 5 ? nc_put_vara_float(nc, id->clim_id[v], start, count, slab)
                              : nc_put_vara_float(nc, id->clim_id[v], start3, count3, slab);
                if (r != NC_NOERR) {
                    status = util_fail(UTIL_EIO, "%s: cannot write the climatology of '%s' (%s)", path,
                                       field_var(f, st->nlev), nc_strerror(r));
                    goto done;
                }
            }
done:
    free(slab), free(acc);
    return status;
}

int data_stats_write(const data_stats *st, const char *path, int smoothing_days, const char *source) {
    int status = UTIL_OK, nc = -1;
    ncw_file out = {.nc = -1};
    if (smoothing_days < 0 || (smoothing_days > 0 && smoothing_days % 2 == 0) || smoothing_days > 365)
        return util_fail(UTIL_EINVAL, "smoothing window %d days: expected 0 or an odd number up to 365", smoothing_days);
    if ((status = ncw_begin(&out, path))) return status;
    stats_ids id = {.d_doy = -1, .d_hour = -1, .d_lat = -1, .d_lon = -1};
    if ((status = ncw_create(&out, NC_NETCDF4))) goto done;
    nc = out.nc;
    if ((status = define_coordinates(st, path, nc, &id)) ||
        (status = define_variables(st, path, nc, smoothing_days, &id)) ||
        (status = put_global_attributes(st, path, nc, smoothing_days, source)))
        goto done;
    NC(nc_enddef(nc));
    if ((status = put_moments(st, path, nc, &id))) goto done;
    if (st->clim_sum && ((status = put_climatology_coordinates(st, path, nc, &id)) ||
                         (status = put_climatology(st, path, nc, smoothing_days, &id))))
        goto done;
    status = ncw_commit(&out);
done:
    ncw_discard(&out);
    return status;
}

int data_stats_read(const char *path, const float *levels, int nlev, float *upper_mean, float *upper_std,
                    float *surface_mean, float *surface_std) {
    int nc, status = UTIL_OK, rc, varid, dimid;
    size_t n;
    float file_levels[256];
    if ((rc = nc_open(path, NC_NOWRITE, &nc)) != NC_NOERR)
        return util_fail(UTIL_EIO, "%s: cannot open the statistics file (%s)", path, nc_strerror(rc));
    if (nc_inq_varid(nc, "level", &varid) != NC_NOERR || nc_inq_dimid(nc, "level", &dimid) != NC_NOERR ||
        nc_inq_dimlen(nc, dimid, &n) != NC_NOERR || n > 256 || nc_get_var_float(nc, varid, file_levels) != NC_NOERR) {
        status = util_fail(UTIL_EFORMAT, "%s: no level coordinate (is this a pangu stats file?)", path);
        goto done;
    }
    for (int v = 0; v < 9; v++) {
        int upper = v < 5;
        const char *name = upper ? io_upper_names[v] : io_surface_names[v - 5];
        for (int which = 0; which < 2; which++) {
            char vname[64];
            snprintf(vname, sizeof vname, "%s_%s", name, which ? "std" : "mean");
            if (nc_inq_varid(nc, vname, &varid) != NC_NOERR) {
                status = util_fail(UTIL_EFORMAT, "%s: variable '%s' missing", path, vname);
                goto done;
            }
            for (int k = 0; k < (upper ? nlev : 1); k++) {
                size_t idx = 0;
                if (upper) {
                    int found = -1;
                    for (size_t i = 0; i < n; i++)
                        if (fabsf(file_levels[i] - levels[k]) < 1e-3f * levels[k]) found = (int)i;
                    if (found < 0) {
                        status = util_fail(UTIL_EFORMAT, "%s: level %g hPa missing", path, levels[k]);
                        goto done;
                    }
                    idx = (size_t)found;
                }
                double val;
                if (nc_get_var1_double(nc, varid, upper ? &idx : NULL, &val) != NC_NOERR || !isfinite(val) ||
                    (which && !(val > 0))) {
                    status = util_fail(UTIL_EFORMAT, "%s: '%s' unreadable or not a valid value", path, vname);
                    goto done;
                }
                float *dst = upper ? (which ? upper_std : upper_mean) + v * nlev + k
                                   : (which ? surface_std : surface_mean) + (v - 5);
                *dst = (float)val;
            }
        }
    }
done:
    nc_close(nc);
    return status;
}
