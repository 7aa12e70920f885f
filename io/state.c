/* io state: NetCDF reading and writing of one model state. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/util.h"
#include "io.h"
#include "ncw.h"

const char *const io_upper_names[IO_NUPPER] = {"z", "q", "t", "u", "v"};
const char *const io_surface_names[IO_NSURFACE] = {"msl", "u10", "v10", "t2m"};

void io_state_free(io_state *s) {
    free(s->lat);
    free(s->lon);
    free(s->upper);
    free(s->surface);
    memset(s, 0, sizeof *s);
}

int io_state_alloc(io_state *s, int H, int W, const float *levels, int nlev, const io_state *like) {
    memset(s, 0, sizeof *s);
    if (nlev < 1 || nlev > IO_MAX_LEVELS) return util_fail(UTIL_EINVAL, "%d levels: expected 1 to %d", nlev, IO_MAX_LEVELS);
    if (H < 1 || W < 1) return util_fail(UTIL_EINVAL, "grid %d x %d: expected positive sizes", H, W);
    s->H = H, s->W = W, s->nlev = nlev;
    memcpy(s->levels, levels, sizeof(float) * nlev);
    s->lat = malloc(sizeof(double) * H);
    s->lon = malloc(sizeof(double) * W);
    s->upper = util_aligned_alloc(sizeof(float) * IO_NUPPER * nlev * (size_t)H * W);
    s->surface = util_aligned_alloc(sizeof(float) * IO_NSURFACE * (size_t)H * W);
    if (!s->lat || !s->lon || !s->upper || !s->surface) {
        io_state_free(s);
        return util_fail(UTIL_ENOMEM, "cannot allocate a %d x %d state", H, W);
    }
    for (int i = 0; i < H; i++) s->lat[i] = like ? like->lat[i] : (H > 1 ? 90.0 - 180.0 * i / (H - 1) : 0.0);
    for (int i = 0; i < W; i++) s->lon[i] = like ? like->lon[i] : 360.0 * i / W;
    s->time = like ? like->time : NAN;
    return UTIL_OK;
}

int io_state_check_finite(const io_state *s, const char *path) {
    size_t HW = (size_t)s->H * s->W;
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        for (int k = 0; k < (upper ? s->nlev : 1); k++) {
            const float *f = upper ? s->upper + ((size_t)v * s->nlev + k) * HW : s->surface + (size_t)(v - IO_NUPPER) * HW;
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < HW; i++)
                if (!isfinite(f[i]) && bad++ == 0) first = i;
            if (!bad) continue;
            char level[32] = "";
            if (upper) snprintf(level, sizeof level, " at %g hPa", s->levels[k]);
            return util_fail(UTIL_ENAN,
                             "%s: variable '%s'%s holds %zu NaN or fill values of %zu, the first at latitude %g, "
                             "longitude %g; the model needs complete fields",
                             s->source[v][0] ? s->source[v] : path, upper ? io_upper_names[v] : io_surface_names[v - IO_NUPPER], level, bad, HW,
                             s->lat[first / s->W], s->lon[first % s->W]);
        }
    }
    return UTIL_OK;
}

int io_time_add_hours(io_state *s, double hours) {
    s->time += hours * 3600.0;
    return UTIL_OK;
}

static const struct {
    const char *name, *long_name, *standard_name, *units;
} var_meta[IO_NUPPER + IO_NSURFACE] = {
    {"z", "Geopotential", "geopotential", "m**2 s**-2"},
    {"q", "Specific humidity", "specific_humidity", "kg kg**-1"},
    {"t", "Temperature", "air_temperature", "K"},
    {"u", "U component of wind", "eastward_wind", "m s**-1"},
    {"v", "V component of wind", "northward_wind", "m s**-1"},
    {"msl", "Mean sea level pressure", "air_pressure_at_mean_sea_level", "Pa"},
    {"u10", "10 metre U wind component", "eastward_wind", "m s**-1"},
    {"v10", "10 metre V wind component", "northward_wind", "m s**-1"},
    {"t2m", "2 metre temperature", "air_temperature", "K"},
};

int io_state_write(const char *path, const io_state *s, const char *source) {
    int status = UTIL_OK;
    ncw_file out = {.nc = -1};
    int d_time, d_lev, d_lat, d_lon, v_time, v_lev, v_lat, v_lon, vars[IO_NUPPER + IO_NSURFACE];
    {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        if (access(slash ? (dir[0] ? dir : "/") : ".", W_OK) != 0)
            return util_fail(UTIL_EIO, "%s: cannot create the output file in '%s': %s", path, slash ? dir : ".",
                             strerror(errno));
    }
    if ((status = ncw_begin(&out, path)) || (status = ncw_create(&out, NC_NETCDF4))) goto done;
    int nc = out.nc;
    NCW_CHECK(nc_def_dim(nc, "time", NC_UNLIMITED, &d_time), "%s: cannot define dimensions", path);
    NCW_CHECK(nc_def_dim(nc, "level", (size_t)s->nlev, &d_lev), "%s: cannot define dimensions", path);
    NCW_CHECK(nc_def_dim(nc, "latitude", (size_t)s->H, &d_lat), "%s: cannot define dimensions", path);
    NCW_CHECK(nc_def_dim(nc, "longitude", (size_t)s->W, &d_lon), "%s: cannot define dimensions", path);
    NCW_CHECK(
        ncw_coord(nc, "time", NC_DOUBLE, 1, &d_time, "time", "time", "hours since 1900-01-01 00:00:00", NULL, &v_time),
        "%s: cannot define time", path);
    NCW_CHECK(ncw_text(nc, v_time, "calendar", "proleptic_gregorian") || ncw_text(nc, v_time, "axis", "T"),
              "%s: cannot write time attributes", path);
    NCW_CHECK(ncw_coord(nc, "level", NC_FLOAT, 1, &d_lev, "air_pressure", "pressure level", "hPa", NULL, &v_lev),
              "%s: cannot define level", path);
    NCW_CHECK(ncw_text(nc, v_lev, "positive", "down") || ncw_text(nc, v_lev, "axis", "Z"),
              "%s: cannot write level attributes", path);
    NCW_CHECK(ncw_coord(nc, "latitude", NC_DOUBLE, 1, &d_lat, "latitude", "latitude", "degrees_north", "Y", &v_lat),
              "%s: cannot define latitude", path);
    NCW_CHECK(ncw_coord(nc, "longitude", NC_DOUBLE, 1, &d_lon, "longitude", "longitude", "degrees_east", "X", &v_lon),
              "%s: cannot define longitude", path);
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        int dims4[4] = {d_time, d_lev, d_lat, d_lon}, dims3[3] = {d_time, d_lat, d_lon};
        size_t chunks4[4] = {1, 1, (size_t)s->H, (size_t)s->W}, chunks3[3] = {1, (size_t)s->H, (size_t)s->W};
        const char *name = var_meta[v].name;
        NCW_CHECK(nc_def_var(nc, name, NC_FLOAT, upper ? 4 : 3, upper ? dims4 : dims3, &vars[v]),
                  "%s: cannot define '%s'", path, name);
        NCW_CHECK(nc_def_var_chunking(nc, vars[v], NC_CHUNKED, upper ? chunks4 : chunks3), "%s: cannot chunk '%s'",
                  path, name);
        float fill = NC_FILL_FLOAT;
        NCW_CHECK(nc_def_var_fill(nc, vars[v], 0, &fill), "%s: cannot set the fill value of '%s'", path, name);
        NCW_CHECK(ncw_text(nc, vars[v], "long_name", var_meta[v].long_name) ||
                      ncw_text(nc, vars[v], "standard_name", var_meta[v].standard_name) ||
                      ncw_text(nc, vars[v], "units", var_meta[v].units),
                  "%s: cannot write attributes of '%s'", path, name);
    }
    NCW_CHECK(ncw_text(nc, NC_GLOBAL, "Conventions", "CF-1.8") ||
                  ncw_text(nc, NC_GLOBAL, "source", source ? source : "pangu-c") ||
                  ncw_text(nc, NC_GLOBAL, "institution", "pangu-c"),
              "%s: cannot write global attributes", path);
    NCW_CHECK(nc_enddef(nc), "%s: cannot finish the header", path);
    size_t zero = 0;
    double hours = (s->time - IO_EPOCH_1900) / 3600.0;
    NCW_CHECK(nc_put_var1_double(nc, v_time, &zero, &hours), "%s: cannot write time", path);
    NCW_CHECK(nc_put_var_float(nc, v_lev, s->levels), "%s: cannot write levels", path);
    NCW_CHECK(nc_put_var_double(nc, v_lat, s->lat), "%s: cannot write latitudes", path);
    NCW_CHECK(nc_put_var_double(nc, v_lon, s->lon), "%s: cannot write longitudes", path);
    size_t HW = (size_t)s->H * s->W;
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        size_t start[4] = {0, 0, 0, 0};
        size_t count4[4] = {1, (size_t)s->nlev, (size_t)s->H, (size_t)s->W}, count3[3] = {1, (size_t)s->H, (size_t)s->W};
        const float *src = upper ? s->upper + (size_t)v * s->nlev * HW : s->surface + (size_t)(v - IO_NUPPER) * HW;
        NCW_CHECK(nc_put_vara_float(nc, vars[v], start, upper ? count4 : count3, src),
                  "%s: cannot write '%s' (disk full?)", path, var_meta[v].name);
    }
    status = ncw_commit(&out);
done:
    ncw_discard(&out);
    return status;
}
