/* io state: NetCDF reading and writing of one model state. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/util.h"
#include "io.h"

const char *const io_upper_names[IO_NUPPER] = {"z", "q", "t", "u", "v"};
const char *const io_surface_names[IO_NSURFACE] = {"msl", "u10", "v10", "t2m"};

static const char *const lat_names[] = {"latitude", "lat", NULL};
static const char *const lon_names[] = {"longitude", "lon", NULL};
static const char *const lev_names[] = {"level", "pressure_level", "plev", "isobaricInhPa", "lev", NULL};
static const char *const time_names[] = {"time", "valid_time", NULL};

#define NC(call, ...)                                                                                        \
    do {                                                                                                     \
        int nc_rc_ = (call);                                                                                 \
        if (nc_rc_ != NC_NOERR) {                                                                            \
            status = util_fail(UTIL_EFORMAT, __VA_ARGS__);                                                   \
            snprintf(ncerr, sizeof ncerr, "%s", nc_strerror(nc_rc_));                                        \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)

static int find_var(int nc, const char *const *names, int *varid) {
    for (int i = 0; names[i]; i++)
        if (nc_inq_varid(nc, names[i], varid) == NC_NOERR) return 1;
    return 0;
}

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
    snprintf(s->time_units, sizeof s->time_units, "%s", like ? like->time_units : "hours since 1900-01-01 00:00:00");
    snprintf(s->calendar, sizeof s->calendar, "%s", like ? like->calendar : "gregorian");
    s->time = like ? like->time : 0;
    return UTIL_OK;
}

typedef struct {
    int nc;
    const char *path;
} ncfile;

/* Coordinates of one file's grid: latitude flipped to north-to-south. */
typedef struct {
    int lat_dim, lon_dim, lev_dim, time_dim;
    size_t nlat, nlon, nlev, ntime;
    int flip_lat;
    int lev_index[IO_MAX_LEVELS]; /* file level index of each model level */
} grid_map;

static int read_coord(int nc, const char *path, const char *const *names, const char *what, double **out, size_t *n,
                      int *dimid) {
    int status = UTIL_OK, varid, ndims, dims[NC_MAX_VAR_DIMS];
    char ncerr[128] = "";
    *out = NULL;
    if (!find_var(nc, names, &varid)) return util_fail(UTIL_EFORMAT, "%s: no %s coordinate variable", path, what);
    NC(nc_inq_varndims(nc, varid, &ndims), "%s: cannot inspect the %s coordinate", path, what);
    if (ndims != 1) return util_fail(UTIL_EFORMAT, "%s: %s coordinate should be one-dimensional", path, what);
    NC(nc_inq_vardimid(nc, varid, dims), "%s: cannot inspect the %s coordinate", path, what);
    NC(nc_inq_dimlen(nc, dims[0], n), "%s: cannot inspect the %s coordinate", path, what);
    *dimid = dims[0];
    *out = malloc(sizeof(double) * (*n ? *n : 1));
    if (!*out) return util_fail(UTIL_ENOMEM, "out of memory");
    NC(nc_get_var_double(nc, varid, *out), "%s: cannot read the %s coordinate", path, what);
done:
    if (status && ncerr[0]) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s (%s)", util_last_message(), ncerr);
        util_fail(status, "%s", msg);
    }
    if (status) free(*out), *out = NULL;
    return status;
}

/* Pressure in hPa from a level coordinate whose units may be Pa. */
static double level_hpa(int nc, int varid, double v) {
    char units[64] = "";
    size_t len = 0;
    if (nc_inq_attlen(nc, varid, "units", &len) == NC_NOERR && len < sizeof units &&
        nc_get_att_text(nc, varid, "units", units) == NC_NOERR) {
        units[len] = 0;
        if (strcmp(units, "Pa") == 0 || strcmp(units, "pascal") == 0) return v / 100.0;
    }
    return v;
}

static int map_grid(ncfile *f, io_state *s, grid_map *g, int H, int W, const float *levels, int nlev, int first) {
    int status = UTIL_OK, varid;
    double *lat = NULL, *lon = NULL, *lev = NULL;
    char ncerr[128] = "";
    memset(g, 0, sizeof *g);
    g->lev_dim = g->time_dim = -1;
    if ((status = read_coord(f->nc, f->path, lat_names, "latitude", &lat, &g->nlat, &g->lat_dim))) goto done;
    if ((status = read_coord(f->nc, f->path, lon_names, "longitude", &lon, &g->nlon, &g->lon_dim))) goto done;
    if (g->nlat != (size_t)H || g->nlon != (size_t)W) {
        status = util_fail(UTIL_EFORMAT, "%s: grid is %zu x %zu (latitude x longitude), the model expects %d x %d",
                           f->path, g->nlat, g->nlon, H, W);
        goto done;
    }
    g->flip_lat = H > 1 && lat[0] < lat[H - 1];
    if (first) {
        for (int i = 0; i < H; i++) s->lat[i] = g->flip_lat ? lat[H - 1 - i] : lat[i];
        for (int i = 0; i < W; i++) s->lon[i] = lon[i];
    }
    if (find_var(f->nc, lev_names, &varid)) {
        size_t n = 0;
        int dimid;
        free(lev);
        if ((status = read_coord(f->nc, f->path, lev_names, "level", &lev, &n, &dimid))) goto done;
        g->lev_dim = dimid, g->nlev = n;
        for (int k = 0; k < nlev; k++) {
            g->lev_index[k] = -1;
            for (size_t i = 0; i < n; i++)
                if (fabs(level_hpa(f->nc, varid, lev[i]) - levels[k]) < 1e-3 * levels[k]) g->lev_index[k] = (int)i;
        }
    }
    int tvar;
    if (find_var(f->nc, time_names, &tvar)) {
        int nd, dims[NC_MAX_VAR_DIMS];
        NC(nc_inq_varndims(f->nc, tvar, &nd), "%s: cannot inspect time", f->path);
        if (nd == 1) {
            NC(nc_inq_vardimid(f->nc, tvar, dims), "%s: cannot inspect time", f->path);
            g->time_dim = dims[0];
            NC(nc_inq_dimlen(f->nc, dims[0], &g->ntime), "%s: cannot inspect time", f->path);
        }
    }
done:
    if (status && ncerr[0]) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s (%s)", util_last_message(), ncerr);
        util_fail(status, "%s", msg);
    }
    free(lat);
    free(lon);
    free(lev);
    return status;
}

static int read_time(ncfile *f, io_state *s, long t) {
    int varid, status = UTIL_OK;
    char ncerr[128] = "";
    size_t len, idx = (size_t)t;
    if (!find_var(f->nc, time_names, &varid)) return UTIL_OK; /* no time: stays at 0 */
    NC(nc_get_var1_double(f->nc, varid, &idx, &s->time), "%s: cannot read time index %ld", f->path, t);
    if (nc_inq_attlen(f->nc, varid, "units", &len) == NC_NOERR && len < sizeof s->time_units) {
        NC(nc_get_att_text(f->nc, varid, "units", s->time_units), "%s: cannot read time units", f->path);
        s->time_units[len] = 0;
    }
    if (nc_inq_attlen(f->nc, varid, "calendar", &len) == NC_NOERR && len < sizeof s->calendar) {
        NC(nc_get_att_text(f->nc, varid, "calendar", s->calendar), "%s: cannot read the calendar", f->path);
        s->calendar[len] = 0;
    }
done:
    return status;
}

/* Read one field (H, W) at time t and file level index lev (or -1) into
 * out, north to south, unpacked, fill values as NaN. */
static int read_field(ncfile *f, const grid_map *g, const char *name, long t, int lev, float *out, int H, int W) {
    int status = UTIL_OK, varid, ndims, dims[NC_MAX_VAR_DIMS];
    char ncerr[128] = "";
    size_t start[NC_MAX_VAR_DIMS], count[NC_MAX_VAR_DIMS];
    NC(nc_inq_varid(f->nc, name, &varid), "%s: no variable '%s'", f->path, name);
    NC(nc_inq_varndims(f->nc, varid, &ndims), "%s: cannot inspect '%s'", f->path, name);
    NC(nc_inq_vardimid(f->nc, varid, dims), "%s: cannot inspect '%s'", f->path, name);
    int saw_lat = 0, saw_lon = 0, saw_lev = 0;
    for (int i = 0; i < ndims; i++) {
        size_t len;
        NC(nc_inq_dimlen(f->nc, dims[i], &len), "%s: cannot inspect '%s'", f->path, name);
        count[i] = 1, start[i] = 0;
        if (dims[i] == g->lat_dim) count[i] = len, saw_lat = 1;
        else if (dims[i] == g->lon_dim) count[i] = len, saw_lon = 1;
        else if (dims[i] == g->lev_dim) start[i] = (size_t)lev, saw_lev = 1;
        else if (dims[i] == g->time_dim) {
            if ((size_t)t >= len) {
                status = util_fail(UTIL_EFORMAT, "%s: variable '%s' has %zu times, time index %ld requested", f->path,
                                   name, len, t);
                goto done;
            }
            start[i] = (size_t)t;
        } else if (len != 1) {
            char dn[NC_MAX_NAME + 1];
            nc_inq_dimname(f->nc, dims[i], dn);
            status = util_fail(UTIL_EFORMAT, "%s: variable '%s' has an unexpected dimension '%s' of length %zu",
                               f->path, name, dn, len);
            goto done;
        }
    }
    if (!saw_lat || !saw_lon || (lev >= 0) != saw_lev) {
        status = util_fail(UTIL_EFORMAT, "%s: variable '%s' should have %s latitude and longitude dimensions", f->path,
                           name, lev >= 0 ? "level," : "");
        goto done;
    }
    NC(nc_get_vara_float(f->nc, varid, start, count, out), "%s: cannot read '%s'", f->path, name);
    /* Dimension order: latitude before longitude is expected. */
    int lat_pos = -1, lon_pos = -1;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] == g->lat_dim) lat_pos = i;
        if (dims[i] == g->lon_dim) lon_pos = i;
    }
    if (lat_pos > lon_pos) {
        status = util_fail(UTIL_EFORMAT, "%s: variable '%s' stores longitude before latitude (expected (..., latitude, longitude))",
                           f->path, name);
        goto done;
    }
    double scale = 1, offset = 0, fill = NAN, missing = NAN;
    nc_get_att_double(f->nc, varid, "scale_factor", &scale);
    nc_get_att_double(f->nc, varid, "add_offset", &offset);
    nc_type xtype;
    NC(nc_inq_vartype(f->nc, varid, &xtype), "%s: cannot inspect '%s'", f->path, name);
    if (nc_get_att_double(f->nc, varid, "_FillValue", &fill) != NC_NOERR) {
        /* netCDF default fill values for each type mark unwritten data. */
        switch (xtype) {
        case NC_SHORT: fill = NC_FILL_SHORT; break;
        case NC_INT: fill = NC_FILL_INT; break;
        case NC_FLOAT: fill = NC_FILL_FLOAT; break;
        case NC_DOUBLE: fill = NC_FILL_DOUBLE; break;
        default: break;
        }
    }
    nc_get_att_double(f->nc, varid, "missing_value", &missing);
    if (xtype == NC_FLOAT) fill = (float)fill, missing = (float)missing;
    size_t n = (size_t)H * W;
    for (size_t i = 0; i < n; i++) {
        double v = out[i];
        if (v == fill || v == missing) out[i] = NAN;
        else if (scale != 1 || offset != 0) out[i] = (float)(v * scale + offset);
    }
    if (g->flip_lat)
        for (int i = 0; i < H / 2; i++)
            for (int j = 0; j < W; j++) {
                float tmp = out[(size_t)i * W + j];
                out[(size_t)i * W + j] = out[(size_t)(H - 1 - i) * W + j];
                out[(size_t)(H - 1 - i) * W + j] = tmp;
            }
done:
    if (status && ncerr[0]) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s (%s)", util_last_message(), ncerr);
        util_fail(status, "%s", msg);
    }
    return status;
}

int io_state_read(io_state *s, const char *const *paths, int npaths, long time_index, int H, int W,
                  const float *levels, int nlev) {
    int status = UTIL_OK;
    ncfile files[16];
    grid_map maps[16];
    int nopen = 0;
    if (npaths < 1 || npaths > 16) return util_fail(UTIL_EINVAL, "%d input files: expected 1 to 16", npaths);
    if ((status = io_state_alloc(s, H, W, levels, nlev, NULL))) return status;
    for (int i = 0; i < npaths; i++) {
        int rc = nc_open(paths[i], NC_NOWRITE, &files[i].nc);
        if (rc != NC_NOERR) {
            status = util_fail(access(paths[i], R_OK) ? UTIL_EIO : UTIL_EFORMAT, "%s: cannot open as NetCDF (%s)",
                               paths[i], nc_strerror(rc));
            goto done;
        }
        files[i].path = paths[i];
        nopen++;
        if ((status = map_grid(&files[i], s, &maps[i], H, W, levels, nlev, i == 0))) goto done;
    }
    if ((status = read_time(&files[0], s, time_index))) goto done;
    size_t HW = (size_t)H * W;
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        const char *name = upper ? io_upper_names[v] : io_surface_names[v - IO_NUPPER];
        int which = -1, varid;
        for (int i = 0; i < npaths && which < 0; i++)
            if (nc_inq_varid(files[i].nc, name, &varid) == NC_NOERR) which = i;
        if (which < 0) {
            status = util_fail(UTIL_EFORMAT, "%s%s: no variable '%s'", paths[0], npaths > 1 ? " (and the other inputs)" : "", name);
            goto done;
        }
        if (upper) {
            if (maps[which].lev_dim < 0) {
                status = util_fail(UTIL_EFORMAT, "%s: variable '%s' needs a level coordinate", paths[which], name);
                goto done;
            }
            for (int k = 0; k < nlev; k++) {
                if (maps[which].lev_index[k] < 0) {
                    status = util_fail(UTIL_EFORMAT, "%s: level %g hPa missing (variable '%s')", paths[which], levels[k], name);
                    goto done;
                }
                float *dst = s->upper + ((size_t)v * nlev + k) * HW;
                if ((status = read_field(&files[which], &maps[which], name, time_index, maps[which].lev_index[k], dst, H, W)))
                    goto done;
            }
        } else {
            float *dst = s->surface + (size_t)(v - IO_NUPPER) * HW;
            if ((status = read_field(&files[which], &maps[which], name, time_index, -1, dst, H, W))) goto done;
        }
    }
done:
    for (int i = 0; i < nopen; i++) nc_close(files[i].nc);
    if (status) io_state_free(s);
    return status;
}

int io_state_check_finite(const io_state *s, const char *path) {
    size_t HW = (size_t)s->H * s->W;
    for (int v = 0; v < IO_NUPPER; v++)
        for (int k = 0; k < s->nlev; k++)
            for (size_t i = 0; i < HW; i++)
                if (!isfinite(s->upper[((size_t)v * s->nlev + k) * HW + i]))
                    return util_fail(UTIL_ENAN, "%s: variable '%s' at %g hPa holds NaN or a fill value at latitude %g, longitude %g",
                                     path, io_upper_names[v], s->levels[k], s->lat[i / s->W], s->lon[i % s->W]);
    for (int v = 0; v < IO_NSURFACE; v++)
        for (size_t i = 0; i < HW; i++)
            if (!isfinite(s->surface[(size_t)v * HW + i]))
                return util_fail(UTIL_ENAN, "%s: variable '%s' holds NaN or a fill value at latitude %g, longitude %g", path,
                                 io_surface_names[v], s->lat[i / s->W], s->lon[i % s->W]);
    return UTIL_OK;
}

int io_time_add_hours(io_state *s, double hours) {
    static const struct { const char *unit; double per_hour; } units[] = {
        {"hours", 1}, {"hour", 1}, {"h", 1}, {"seconds", 3600}, {"second", 3600}, {"s", 3600},
        {"minutes", 60}, {"minute", 60}, {"days", 1.0 / 24}, {"day", 1.0 / 24}, {"d", 1.0 / 24}};
    char first[32] = "";
    sscanf(s->time_units, "%31s", first);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(first, units[i].unit) == 0) {
            s->time += hours * units[i].per_hour;
            return UTIL_OK;
        }
    return util_fail(UTIL_EFORMAT, "time units '%s': expected hours, minutes, seconds or days since a date", s->time_units);
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

static int put_text(int nc, int varid, const char *name, const char *value) {
    return nc_put_att_text(nc, varid, name, strlen(value), value);
}

int io_state_write(const char *path, const io_state *s, const char *source) {
    int status = UTIL_OK, nc = -1, open = 0;
    char ncerr[128] = "", tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int d_time, d_lev, d_lat, d_lon, v_time, v_lev, v_lat, v_lon, vars[IO_NUPPER + IO_NSURFACE];
    {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        if (access(slash ? (dir[0] ? dir : "/") : ".", W_OK) != 0)
            return util_fail(UTIL_EIO, "%s: cannot create the output file: directory '%s' missing or not writable",
                             path, slash ? dir : ".");
    }
    NC(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc), "%s: cannot create the output file", path);
    open = 1;
    NC(nc_def_dim(nc, "time", NC_UNLIMITED, &d_time), "%s: cannot define dimensions", path);
    NC(nc_def_dim(nc, "level", (size_t)s->nlev, &d_lev), "%s: cannot define dimensions", path);
    NC(nc_def_dim(nc, "latitude", (size_t)s->H, &d_lat), "%s: cannot define dimensions", path);
    NC(nc_def_dim(nc, "longitude", (size_t)s->W, &d_lon), "%s: cannot define dimensions", path);
    NC(nc_def_var(nc, "time", NC_DOUBLE, 1, &d_time, &v_time), "%s: cannot define time", path);
    NC(put_text(nc, v_time, "standard_name", "time") || put_text(nc, v_time, "long_name", "time") ||
           put_text(nc, v_time, "units", s->time_units) || put_text(nc, v_time, "calendar", s->calendar) ||
           put_text(nc, v_time, "axis", "T"),
       "%s: cannot write time attributes", path);
    NC(nc_def_var(nc, "level", NC_FLOAT, 1, &d_lev, &v_lev), "%s: cannot define level", path);
    NC(put_text(nc, v_lev, "standard_name", "air_pressure") || put_text(nc, v_lev, "long_name", "pressure level") ||
           put_text(nc, v_lev, "units", "hPa") || put_text(nc, v_lev, "positive", "down") || put_text(nc, v_lev, "axis", "Z"),
       "%s: cannot write level attributes", path);
    NC(nc_def_var(nc, "latitude", NC_DOUBLE, 1, &d_lat, &v_lat), "%s: cannot define latitude", path);
    NC(put_text(nc, v_lat, "standard_name", "latitude") || put_text(nc, v_lat, "long_name", "latitude") ||
           put_text(nc, v_lat, "units", "degrees_north") || put_text(nc, v_lat, "axis", "Y"),
       "%s: cannot write latitude attributes", path);
    NC(nc_def_var(nc, "longitude", NC_DOUBLE, 1, &d_lon, &v_lon), "%s: cannot define longitude", path);
    NC(put_text(nc, v_lon, "standard_name", "longitude") || put_text(nc, v_lon, "long_name", "longitude") ||
           put_text(nc, v_lon, "units", "degrees_east") || put_text(nc, v_lon, "axis", "X"),
       "%s: cannot write longitude attributes", path);
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        int dims4[4] = {d_time, d_lev, d_lat, d_lon}, dims3[3] = {d_time, d_lat, d_lon};
        size_t chunks4[4] = {1, 1, (size_t)s->H, (size_t)s->W}, chunks3[3] = {1, (size_t)s->H, (size_t)s->W};
        NC(nc_def_var(nc, var_meta[v].name, NC_FLOAT, upper ? 4 : 3, upper ? dims4 : dims3, &vars[v]),
           "%s: cannot define '%s'", path, var_meta[v].name);
        NC(nc_def_var_chunking(nc, vars[v], NC_CHUNKED, upper ? chunks4 : chunks3), "%s: cannot chunk '%s'", path,
           var_meta[v].name);
        float fill = NC_FILL_FLOAT;
        NC(nc_def_var_fill(nc, vars[v], 0, &fill), "%s: cannot set the fill value of '%s'", path, var_meta[v].name);
        NC(put_text(nc, vars[v], "long_name", var_meta[v].long_name) ||
               put_text(nc, vars[v], "standard_name", var_meta[v].standard_name) ||
               put_text(nc, vars[v], "units", var_meta[v].units),
           "%s: cannot write attributes of '%s'", path, var_meta[v].name);
    }
    NC(put_text(nc, NC_GLOBAL, "Conventions", "CF-1.8") || put_text(nc, NC_GLOBAL, "source", source ? source : "pangu-c") ||
           put_text(nc, NC_GLOBAL, "institution", "pangu-c"),
       "%s: cannot write global attributes", path);
    NC(nc_enddef(nc), "%s: cannot finish the header", path);
    size_t zero = 0;
    NC(nc_put_var1_double(nc, v_time, &zero, &s->time), "%s: cannot write time", path);
    NC(nc_put_var_float(nc, v_lev, s->levels), "%s: cannot write levels", path);
    NC(nc_put_var_double(nc, v_lat, s->lat), "%s: cannot write latitudes", path);
    NC(nc_put_var_double(nc, v_lon, s->lon), "%s: cannot write longitudes", path);
    size_t HW = (size_t)s->H * s->W;
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        size_t start[4] = {0, 0, 0, 0};
        size_t count4[4] = {1, (size_t)s->nlev, (size_t)s->H, (size_t)s->W}, count3[3] = {1, (size_t)s->H, (size_t)s->W};
        const float *src = upper ? s->upper + (size_t)v * s->nlev * HW : s->surface + (size_t)(v - IO_NUPPER) * HW;
        NC(nc_put_vara_float(nc, vars[v], start, upper ? count4 : count3, src), "%s: cannot write '%s' (disk full?)",
           path, var_meta[v].name);
    }
    open = 0;
    NC(nc_close(nc), "%s: cannot finish writing (disk full?)", path);
    if (rename(tmp, path) != 0) status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place", path);
done:
    if (status && ncerr[0]) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s (%s)", util_last_message(), ncerr);
        util_fail(status, "%s", msg);
    }
    if (open) nc_close(nc);
    if (status) unlink(tmp);
    return status;
}
