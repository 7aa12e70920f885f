/* io read: the model state from the files users really have. One series of
 * NetCDF (3 or 4), h5py-style HDF5 (through netCDF-C), GRIB 1 and 2
 * (through ecCodes, io/grib.c) and .npy files; only the requested time and
 * levels are read. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/util.h"
#include "grib.h"
#include "io.h"

#define NVARS (IO_NUPPER + IO_NSURFACE)
#define GRAVITY 9.80665

enum { KIND_NC, KIND_NPY, KIND_GRIB };

/* How one model variable is stored in one file. */
typedef struct {
    int varid;                 /* NetCDF variable, or npy index along the first axis */
    char name[NC_MAX_NAME + 1];
    int rank, time_axis, lev_axis, expver_axis;
    size_t len[NC_MAX_VAR_DIMS];
    double scale, offset;      /* packing */
    double fill, missing;      /* raw values meaning "no data" (NAN: none) */
    double mul, add;           /* unit conversion after unpacking */
    int check_height;          /* z without units: refuse geopotential height */
} var_handle;

typedef struct {
    int kind;
    const char *path;
    int nc;
    FILE *fp;
    io_npy_header npy;
    io_grib *grib;
    size_t nlat, nlon, nlev, ntime;
    double *lat, *lon, *lev; /* lev in hPa */
    double *times;           /* seconds since 1970, NULL without a time axis */
    int lat_dim, lon_dim, lev_dim, time_dim;
    int has[NVARS];
    var_handle var[NVARS];
} io_file;

struct io_series {
    io_file *files;
    int nfiles;
    double *times;
    size_t ntimes;
    int absent_as_nan; /* io_series_allow_absent */
    int skip[NVARS];   /* io_series_only: variables not read, */
    float only_level[NVARS]; /* and the only level read (> 0) */
};

/* Names by which each model variable is found, in order of preference:
 * ERA5 short name, ERA5 (CDS API) long name, CMIP name, others. Names
 * marked height hold geopotential height in metres. */
static const struct {
    const char *names[6];
    const char *height_names[4];
    const char *standard_name, *height_standard_name;
} lookup[NVARS] = {
    {{"z", "geopotential", "Z", NULL}, {"gh", "zg", "geopotential_height", NULL}, "geopotential", "geopotential_height"},
    {{"q", "specific_humidity", "hus", "Q", NULL}, {NULL}, "specific_humidity", NULL},
    {{"t", "temperature", "ta", "T", NULL}, {NULL}, "air_temperature", NULL},
    {{"u", "u_component_of_wind", "ua", "U", NULL}, {NULL}, "eastward_wind", NULL},
    {{"v", "v_component_of_wind", "va", "V", NULL}, {NULL}, "northward_wind", NULL},
    {{"msl", "mean_sea_level_pressure", "psl", "prmsl", "MSL", NULL}, {NULL}, "air_pressure_at_mean_sea_level", NULL},
    {{"u10", "10m_u_component_of_wind", "uas", "U10", "10u", NULL}, {NULL}, "eastward_wind", NULL}, /* 10u: CDO from GRIB */
    {{"v10", "10m_v_component_of_wind", "vas", "V10", "10v", NULL}, {NULL}, "northward_wind", NULL},
    {{"t2m", "2m_temperature", "tas", "T2M", "2t", NULL}, {NULL}, "air_temperature", NULL},
};

static const char *const lat_names[] = {"latitude", "lat", "nav_lat", "y", NULL};
static const char *const lon_names[] = {"longitude", "lon", "nav_lon", "x", NULL};
static const char *const lev_names[] = {"level", "pressure_level", "plev", "isobaricInhPa", "lev", "pressure", NULL};
static const char *const time_names[] = {"valid_time", "time", "t", NULL};

static const char *var_label(int v) { return v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER]; }

int io_text_att(int nc, int varid, const char *name, char *buf, size_t cap) {
    size_t len;
    nc_type type;
    buf[0] = 0;
    if (nc_inq_att(nc, varid, name, &type, &len) != NC_NOERR) return 0;
    if (type == NC_STRING && len == 1) {
        char *str = NULL;
        if (nc_get_att_string(nc, varid, name, &str) != NC_NOERR) return 0;
        int ok = str && strlen(str) < cap;
        if (ok) strcpy(buf, str);
        nc_free_string(1, &str);
        return ok;
    }
    if (type != NC_CHAR || len >= cap || nc_get_att_text(nc, varid, name, buf) != NC_NOERR) return 0;
    buf[len] = 0;
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == 0)) buf[--len] = 0; /* padded or NUL-terminated */
    return 1;
}

static int find_var(int nc, const char *const *names, int *varid) {
    for (int i = 0; names[i]; i++)
        if (nc_inq_varid(nc, names[i], varid) == NC_NOERR) return 1;
    return 0;
}

/* A one-dimensional coordinate variable: its values and dimension. */
static int read_coord(io_file *f, int varid, const char *what, double **out, size_t *n, int *dimid) {
    int ndims, dims[NC_MAX_VAR_DIMS], rc;
    if ((rc = nc_inq_varndims(f->nc, varid, &ndims)) != NC_NOERR || ndims != 1 ||
        (rc = nc_inq_vardimid(f->nc, varid, dims)) != NC_NOERR || (rc = nc_inq_dimlen(f->nc, dims[0], n)) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: the %s coordinate should be one-dimensional", f->path, what);
    *dimid = dims[0];
    *out = malloc(sizeof(double) * (*n ? *n : 1));
    if (!*out) return util_fail(UTIL_ENOMEM, "out of memory");
    if ((rc = nc_get_var_double(f->nc, varid, *out)) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot read the %s coordinate (%s)", f->path, what, nc_strerror(rc));
    return UTIL_OK;
}

static int read_times(io_file *f) {
    int varid, dimid, status;
    char units[128], cal[64];
    int found = 0, nd = 0;
    for (int i = 0; time_names[i] && !found; i++)
        /* "t" is a time only when one-dimensional: otherwise temperature */
        found = nc_inq_varid(f->nc, time_names[i], &varid) == NC_NOERR &&
                (strcmp(time_names[i], "t") || (nc_inq_varndims(f->nc, varid, &nd) == NC_NOERR && nd == 1));
    if (!found) {
        /* A forecast's lead without its valid times (e.g. ncks -v z of a
         * pangu forecast): say what is missing rather than fail later. */
        char sn[64];
        if (nc_inq_varid(f->nc, "step", &varid) == NC_NOERR && io_text_att(f->nc, varid, "standard_name", sn, sizeof sn) &&
            !strcmp(sn, "forecast_period"))
            return util_fail(UTIL_EFORMAT, "%s: a forecast with leads (step) but no valid_time: keep valid_time when "
                                           "extracting variables (e.g. ncks -v z,valid_time)", f->path);
        return UTIL_OK;
    }
    if ((status = read_coord(f, varid, "time", &f->times, &f->ntime, &dimid))) return status;
    f->time_dim = dimid;
    if (!io_text_att(f->nc, varid, "units", units, sizeof units))
        return util_fail(UTIL_EFORMAT, "%s: the time coordinate has no units", f->path);
    if (io_text_att(f->nc, varid, "calendar", cal, sizeof cal) && strcasecmp(cal, "gregorian") &&
        strcasecmp(cal, "standard") && strcasecmp(cal, "proleptic_gregorian"))
        return util_fail(UTIL_EFORMAT, "%s: calendar '%s' is not supported (expected gregorian or proleptic_gregorian)",
                         f->path, cal);
    double unit, epoch;
    if ((status = util_time_units(units, &unit, &epoch))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", util_last_message());
        return util_fail(UTIL_EFORMAT, "%s: %s", f->path, msg);
    }
    for (size_t i = 0; i < f->ntime; i++) f->times[i] = epoch + f->times[i] * unit;
    return UTIL_OK;
}

/* Unit conversions into the model's units, from a units attribute. */
static int convert_units(io_file *f, int v, const char *units, int is_height, var_handle *h) {
    h->mul = 1, h->add = 0;
    if (v == 0) {
        if (is_height || !strcmp(units, "m") || !strcmp(units, "gpm") || !strcmp(units, "metre") ||
            !strcmp(units, "meter") || !strcmp(units, "m of geopotential height"))
            h->mul = GRAVITY;
        else if (!units[0]) h->check_height = 1;
    } else if (v == 1) {
        if (!strcmp(units, "g/kg") || !strcmp(units, "g kg-1") || !strcmp(units, "g kg**-1")) h->mul = 1e-3;
    } else if (v == 2 || v == 8) {
        if (!strcmp(units, "degC") || !strcmp(units, "C") || !strcmp(units, "celsius") || !strcmp(units, "deg_C"))
            h->add = 273.15;
    } else if (v == 5) {
        if (!strcmp(units, "hPa") || !strcmp(units, "mbar") || !strcmp(units, "millibars") || !strcmp(units, "mb"))
            h->mul = 100;
    }
    (void)f;
    return UTIL_OK;
}

/* Does NetCDF variable varid fit model variable v in this file? Fills h. */
static int fit_var(io_file *f, int v, int varid, int is_height, var_handle *h) {
    int ndims, dims[NC_MAX_VAR_DIMS];
    nc_type type;
    memset(h, 0, sizeof *h);
    if (nc_inq_var(f->nc, varid, h->name, &type, &ndims, dims, NULL) != NC_NOERR || ndims < 2) return 0;
    if (type != NC_FLOAT && type != NC_DOUBLE && type != NC_SHORT && type != NC_INT && type != NC_BYTE &&
        type != NC_USHORT)
        return 0;
    int upper = v < IO_NUPPER;
    h->varid = varid, h->rank = ndims, h->time_axis = h->lev_axis = h->expver_axis = -1;
    for (int i = 0; i < ndims; i++) nc_inq_dimlen(f->nc, dims[i], &h->len[i]);
    /* (..., [level], latitude, longitude) by position, checked by length. */
    if (h->len[ndims - 1] != f->nlon || h->len[ndims - 2] != f->nlat) return 0;
    int lead = ndims - 2;
    if (upper) {
        if (ndims < 3 || f->lev_dim < 0) return 0;
        /* The level axis is the level coordinate's dimension, or, in files
         * without dimension scales (h5py), an unnamed one of that length;
         * never a named time axis. */
        char dn[NC_MAX_NAME + 1] = "";
        nc_inq_dimname(f->nc, dims[ndims - 3], dn);
        int phony = !strncmp(dn, "phony_dim", 9);
        if (dims[ndims - 3] != f->lev_dim && !(phony && h->len[ndims - 3] == f->nlev)) return 0;
        if (dims[ndims - 3] == f->time_dim && !phony) return 0;
        h->lev_axis = ndims - 3;
        lead = ndims - 3;
    }
    for (int i = 0; i < lead; i++) {
        char dn[NC_MAX_NAME + 1] = "";
        nc_inq_dimname(f->nc, dims[i], dn);
        int phony = !strncmp(dn, "phony_dim", 9);
        /* Time first: with phony dimensions, time may share its dimension
         * with the levels (or latitudes) when the lengths agree. */
        if (f->time_dim >= 0 && h->time_axis < 0 &&
            (dims[i] == f->time_dim || (phony && h->len[i] == f->ntime && f->ntime > 1)))
            h->time_axis = i;
        else if (!upper && f->lev_dim >= 0 && dims[i] == f->lev_dim && h->len[i] > 1) return 0; /* has levels */
        else if (!strcmp(dn, "expver")) h->expver_axis = i;
        else if (h->len[i] != 1) return 0;
    }
    char units[128];
    io_text_att(f->nc, varid, "units", units, sizeof units);
    convert_units(f, v, units, is_height, h);
    h->scale = 1, h->offset = 0, h->fill = NAN, h->missing = NAN;
    nc_type st = NC_NAT, ot = NC_NAT;
    size_t len;
    int has_scale = nc_inq_att(f->nc, varid, "scale_factor", &st, &len) == NC_NOERR;
    int has_offset = nc_inq_att(f->nc, varid, "add_offset", &ot, &len) == NC_NOERR;
    if (has_scale) nc_get_att_double(f->nc, varid, "scale_factor", &h->scale);
    if (has_offset) nc_get_att_double(f->nc, varid, "add_offset", &h->offset);
    if (!isfinite(h->scale) || h->scale == 0 || !isfinite(h->offset) || (has_scale && has_offset && st != ot) ||
        ((has_scale || has_offset) && (type == NC_FLOAT || type == NC_DOUBLE) && (st == NC_FLOAT || ot == NC_FLOAT) &&
         type == NC_DOUBLE)) {
        h->scale = NAN; /* reported when the variable is read */
    }
    if (nc_get_att_double(f->nc, varid, "_FillValue", &h->fill) != NC_NOERR) {
        switch (type) { /* netCDF's default fill values mark unwritten data */
        case NC_SHORT: h->fill = NC_FILL_SHORT; break;
        case NC_INT: h->fill = NC_FILL_INT; break;
        case NC_FLOAT: h->fill = NC_FILL_FLOAT; break;
        case NC_DOUBLE: h->fill = NC_FILL_DOUBLE; break;
        default: break;
        }
    }
    nc_get_att_double(f->nc, varid, "missing_value", &h->missing);
    if (type == NC_FLOAT) h->fill = (float)h->fill, h->missing = (float)h->missing;
    return 1;
}

static void resolve_nc_vars(io_file *f) {
    int nvars = 0, varid;
    nc_inq_nvars(f->nc, &nvars);
    for (int v = 0; v < NVARS; v++) {
        for (int i = 0; lookup[v].names[i] && !f->has[v]; i++)
            if (nc_inq_varid(f->nc, lookup[v].names[i], &varid) == NC_NOERR && fit_var(f, v, varid, 0, &f->var[v]))
                f->has[v] = 1;
        for (int i = 0; lookup[v].height_names[i] && !f->has[v]; i++)
            if (nc_inq_varid(f->nc, lookup[v].height_names[i], &varid) == NC_NOERR && fit_var(f, v, varid, 1, &f->var[v]))
                f->has[v] = 1;
        /* CF standard_name, with or without a level dimension as the variable needs. */
        for (int id = 0; id < nvars && !f->has[v]; id++) {
            char sn[128];
            if (!io_text_att(f->nc, id, "standard_name", sn, sizeof sn)) continue;
            if (!strcmp(sn, lookup[v].standard_name) && fit_var(f, v, id, 0, &f->var[v])) f->has[v] = 1;
            else if (lookup[v].height_standard_name && !strcmp(sn, lookup[v].height_standard_name) &&
                     fit_var(f, v, id, 1, &f->var[v]))
                f->has[v] = 1;
        }
    }
}

/* Bytes of an attribute list in a classic header (CDF-1/2/5 layout). */
static double classic_atts(int nc, int varid, int natts, int wide) {
    double n = 8; /* tag and count, or ABSENT */
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        nc_type t;
        size_t len = 0, size = 1;
        if (nc_inq_attname(nc, varid, a, name) != NC_NOERR || nc_inq_att(nc, varid, name, &t, &len) != NC_NOERR) continue;
        nc_inq_type(nc, t, NULL, &size);
        n += 4 + (strlen(name) + 3) / 4 * 4 + 4 + (wide ? 8 : 4) + (len * size + 3) / 4 * 4;
    }
    return n;
}

/* netCDF-C reads zeros past the end of a truncated NetCDF-3 file: compare
 * the file's size with its header plus the data the header describes. */
static int check_classic_size(io_file *f) { return io_nc_check_size(f->nc, f->path); }

int io_nc_check_size(int ncid, const char *path) {
    struct {
        int nc;
        const char *path;
    } file = {ncid, path}, *f = &file;
    int format, nvars, ndims, natts, unlimited = -1;
    if (nc_inq_format(f->nc, &format) != NC_NOERR || (format != NC_FORMAT_CLASSIC && format != NC_FORMAT_64BIT_OFFSET &&
                                                      format != NC_FORMAT_CDF5))
        return UTIL_OK;
    if (nc_inq(f->nc, &ndims, &nvars, &natts, &unlimited) != NC_NOERR) return UTIL_OK;
    int wide = format == NC_FORMAT_CDF5, off8 = format != NC_FORMAT_CLASSIC;
    double header = 4 + (wide ? 8 : 4) + 8, nonrec = 0, recsize = 0, numrecs = 0;
    size_t len;
    char name[NC_MAX_NAME + 1];
    for (int d = 0; d < ndims; d++)
        if (nc_inq_dim(f->nc, d, name, &len) == NC_NOERR) header += 4 + (strlen(name) + 3) / 4 * 4 + (wide ? 8 : 4);
    if (unlimited >= 0 && nc_inq_dimlen(f->nc, unlimited, &len) == NC_NOERR) numrecs = (double)len;
    header += classic_atts(f->nc, NC_GLOBAL, natts, wide) + 8;
    int nrecvars = 0;
    for (int v = 0; v < nvars; v++) {
        int nd, dims[NC_MAX_VAR_DIMS], na;
        nc_type t;
        size_t size;
        if (nc_inq_var(f->nc, v, name, &t, &nd, dims, &na) != NC_NOERR || nc_inq_type(f->nc, t, NULL, &size) != NC_NOERR)
            continue;
        header += 4 + (strlen(name) + 3) / 4 * 4 + (wide ? 8 : 4) + (double)nd * (wide ? 8 : 4) +
                  classic_atts(f->nc, v, na, wide) + 4 + (wide ? 8 : 4) + (off8 ? 8 : 4);
        double n = (double)size;
        int rec = nd > 0 && dims[0] == unlimited;
        for (int i = rec; i < nd; i++) n *= nc_inq_dimlen(f->nc, dims[i], &len) == NC_NOERR ? (double)len : 1;
        if (rec) recsize += ceil(n / 4) * 4, nrecvars++;
        else nonrec += ceil(n / 4) * 4;
    }
    double need = header + nonrec + recsize * numrecs - 3; /* a lone record variable is not padded */
    FILE *fp = fopen(f->path, "rb");
    if (!fp) return UTIL_OK;
    fseek(fp, 0, SEEK_END);
    long have = ftell(fp);
    fclose(fp);
    (void)nrecvars;
    if ((double)have < need)
        return util_fail(UTIL_EFORMAT, "%s: truncated: %ld bytes, its header describes at least %.0f", f->path, have, need);
    return UTIL_OK;
}

static int open_nc(io_file *f) {
    int status, varid, rc = nc_open(f->path, NC_NOWRITE, &f->nc);
    if (rc != NC_NOERR) {
        f->nc = -1;
        if (access(f->path, R_OK) != 0) return util_fail(UTIL_EIO, "%s: cannot read the file", f->path);
        return util_fail(UTIL_EFORMAT, "%s: not a NetCDF, HDF5 or .npy file, or truncated (%s)", f->path, nc_strerror(rc));
    }
    if ((status = check_classic_size(f))) return status;
    if (!find_var(f->nc, lat_names, &varid))
        return util_fail(UTIL_EFORMAT, "%s: no latitude coordinate (looked for latitude, lat)", f->path);
    if ((status = read_coord(f, varid, "latitude", &f->lat, &f->nlat, &f->lat_dim))) return status;
    if (!find_var(f->nc, lon_names, &varid))
        return util_fail(UTIL_EFORMAT, "%s: no longitude coordinate (looked for longitude, lon)", f->path);
    if ((status = read_coord(f, varid, "longitude", &f->lon, &f->nlon, &f->lon_dim))) return status;
    if (find_var(f->nc, lev_names, &varid)) {
        char units[64];
        if ((status = read_coord(f, varid, "level", &f->lev, &f->nlev, &f->lev_dim))) return status;
        io_text_att(f->nc, varid, "units", units, sizeof units);
        double mx = 0;
        for (size_t i = 0; i < f->nlev; i++) mx = fmax(mx, f->lev[i]);
        int pascal = !strcmp(units, "Pa") || !strcmp(units, "pascal") || (!units[0] && mx > 2000);
        if (pascal)
            for (size_t i = 0; i < f->nlev; i++) f->lev[i] /= 100.0;
    }
    if ((status = read_times(f))) return status;
    resolve_nc_vars(f);
    return UTIL_OK;
}

static const float pangu_levels[13] = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50};

/* The official Pangu-Weather inputs: input_upper.npy (5, 13, H, W) and
 * input_surface.npy (4, H, W), on a global grid from 90N and 0E. */
static int open_npy(io_file *f) {
    unsigned char buf[4096];
    f->fp = fopen(f->path, "rb");
    if (!f->fp) return util_fail(UTIL_EIO, "%s: cannot read the file", f->path);
    size_t n = fread(buf, 1, sizeof buf, f->fp);
    int status = io_npy_parse(&f->npy, buf, n, f->path);
    if (status) return status;
    io_npy_header *h = &f->npy;
    int upper = h->rank == 4;
    if (!(upper && h->shape[0] == IO_NUPPER) && !(h->rank == 3 && h->shape[0] == IO_NSURFACE))
        return util_fail(UTIL_EFORMAT, "%s: .npy shape should be (5, 13, H, W) (upper air) or (4, H, W) (surface)", f->path);
    if (upper && h->shape[1] != 13)
        return util_fail(UTIL_EFORMAT, "%s: .npy upper-air input has %zu levels, expected the 13 of Pangu-Weather", f->path,
                         h->shape[1]);
    f->nlat = h->shape[h->rank - 2], f->nlon = h->shape[h->rank - 1];
    size_t total = (size_t)h->word;
    for (int i = 0; i < h->rank; i++) total *= h->shape[i];
    if (fseek(f->fp, 0, SEEK_END) != 0 || (size_t)ftell(f->fp) < h->data_offset + total)
        return util_fail(UTIL_EFORMAT, "%s: truncated .npy file (expected %zu bytes of data)", f->path, total);
    f->lat = malloc(sizeof(double) * f->nlat);
    f->lon = malloc(sizeof(double) * f->nlon);
    if (!f->lat || !f->lon) return util_fail(UTIL_ENOMEM, "out of memory");
    for (size_t i = 0; i < f->nlat; i++) f->lat[i] = f->nlat > 1 ? 90.0 - 180.0 * i / (f->nlat - 1) : 0;
    for (size_t i = 0; i < f->nlon; i++) f->lon[i] = 360.0 * i / f->nlon;
    if (upper) {
        f->nlev = 13;
        f->lev = malloc(sizeof(double) * 13);
        if (!f->lev) return util_fail(UTIL_ENOMEM, "out of memory");
        for (int i = 0; i < 13; i++) f->lev[i] = pangu_levels[i];
    }
    for (int v = 0; v < NVARS; v++)
        if ((v < IO_NUPPER) == upper) {
            f->has[v] = 1;
            f->var[v].varid = upper ? v : v - IO_NUPPER;
            f->var[v].scale = 1, f->var[v].mul = 1;
            f->var[v].fill = f->var[v].missing = NAN;
            snprintf(f->var[v].name, sizeof f->var[v].name, "%s[%d]", upper ? "input_upper" : "input_surface", f->var[v].varid);
        }
    return UTIL_OK;
}

static int is_npy(const char *path) { return util_file_starts_with(path, "\x93NUMPY", 6); }

/* GRIB (io/grib.c indexes the file): the coordinates and variables found. */
static int open_grib(io_file *f) {
    int status = io_grib_open(&f->grib, f->path);
    if (status) return status;
    const io_grib *g = f->grib;
    f->nlat = g->nlat, f->nlon = g->nlon, f->nlev = g->nlev, f->ntime = g->ntime;
    f->lat = malloc(sizeof(double) * f->nlat), f->lon = malloc(sizeof(double) * f->nlon);
    f->lev = malloc(sizeof(double) * (f->nlev ? f->nlev : 1)), f->times = malloc(sizeof(double) * (f->ntime ? f->ntime : 1));
    if (!f->lat || !f->lon || !f->lev || !f->times) return util_fail(UTIL_ENOMEM, "out of memory");
    memcpy(f->lat, g->lat, sizeof(double) * f->nlat), memcpy(f->lon, g->lon, sizeof(double) * f->nlon);
    memcpy(f->lev, g->lev, sizeof(double) * f->nlev), memcpy(f->times, g->times, sizeof(double) * f->ntime);
    for (int v = 0; v < NVARS; v++) {
        f->has[v] = g->has[v];
        snprintf(f->var[v].name, sizeof f->var[v].name, "%s", g->name[v]);
        f->var[v].scale = 1, f->var[v].mul = 1, f->var[v].fill = f->var[v].missing = NAN;
    }
    return UTIL_OK;
}

static void close_file(io_file *f) {
    io_grib_close(f->grib);
    if (f->kind == KIND_NC && f->nc >= 0) nc_close(f->nc);
    if (f->fp) fclose(f->fp);
    free(f->lat);
    free(f->lon);
    free(f->lev);
    free(f->times);
}

void io_series_close(io_series *s) {
    if (!s) return;
    for (int i = 0; i < s->nfiles; i++) close_file(&s->files[i]);
    free(s->files);
    free(s->times);
    free(s);
}

static long file_time_index(const io_file *f, double t);

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The coordinate values of a file, sorted (latitudes) or sorted from 0
 * degrees east (longitudes): what two files of one grid have in common
 * whatever their orientation. */
static double *sorted_coords(const double *v, size_t n, int lon) {
    double *c = malloc(sizeof(double) * (n ? n : 1));
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) {
        c[i] = lon ? fmod(v[i], 360.0) : v[i];
        if (lon && c[i] < 0) c[i] += 360.0;
    }
    qsort(c, n, sizeof(double), cmp_double);
    return c;
}

/* One grid for every input of a series: an input of another grid would
 * otherwise be left unread (the first file holding a variable is read) or
 * read for some times only. */
static int check_one_grid(const io_series *s) {
    const io_file *a = &s->files[0];
    for (int i = 1; i < s->nfiles; i++) {
        const io_file *b = &s->files[i];
        if (a->nlat != b->nlat || a->nlon != b->nlon)
            return util_fail(UTIL_EFORMAT, "%s is on a %zu x %zu grid (latitude x longitude), %s on %zu x %zu: the inputs "
                                           "of one command share one grid (pangu regrid converts one)",
                             b->path, b->nlat, b->nlon, a->path, a->nlat, a->nlon);
        for (int lon = 0; lon < 2; lon++) {
            size_t n = lon ? a->nlon : a->nlat;
            double *ca = sorted_coords(lon ? a->lon : a->lat, n, lon), *cb = sorted_coords(lon ? b->lon : b->lat, n, lon);
            size_t k = 0;
            while (ca && cb && k < n && fabs(ca[k] - cb[k]) <= 1e-3) k++;
            double x = ca && cb && k < n ? ca[k] : 0, y = ca && cb && k < n ? cb[k] : 0;
            int short_of_memory = !ca || !cb;
            free(ca), free(cb);
            if (short_of_memory) return util_fail(UTIL_ENOMEM, "out of memory");
            if (k < n)
                return util_fail(UTIL_EFORMAT, "%s and %s: both %zu x %zu, but their %s differ (%g against %g): the inputs "
                                               "of one command share one grid", b->path, a->path, a->nlat, a->nlon,
                                 lon ? "longitudes" : "latitudes", y, x);
        }
    }
    return UTIL_OK;
}

int io_series_sources(const io_series *s, double time, const char **paths, int cap) {
    int n = 0;
    if (isnan(time) && s->ntimes == 1) time = s->times[0];
    for (int v = 0; v < NVARS; v++)
        for (int i = 0; i < s->nfiles; i++) {
            const io_file *f = &s->files[i];
            if (!f->has[v] || (!isnan(time) && file_time_index(f, time) == -2)) continue;
            int seen = 0;
            for (int k = 0; k < n && !seen; k++) seen = paths[k] == f->path;
            if (!seen && n < cap) paths[n++] = f->path;
            break;
        }
    return n;
}

int io_series_open(io_series **out, const char *const *paths, int npaths) {
    int status = UTIL_OK;
    io_series *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->files = calloc((size_t)(npaths > 0 ? npaths : 1), sizeof(io_file)))) {
        free(s);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    if (npaths < 1) {
        free(s->files);
        free(s);
        return util_fail(UTIL_EINVAL, "no input files");
    }
    size_t total = 0;
    int skipped = -1; /* the first input without state variables */
    for (int i = 0; i < npaths; i++) {
        if (!paths[i] || !*paths[i]) { /* would reach open() */
            status = util_fail(UTIL_EINVAL, "input file %d of %d: %s name", i + 1, npaths, paths[i] ? "an empty" : "no (NULL)");
            goto done;
        }
        io_file *f = &s->files[s->nfiles];
        memset(f, 0, sizeof *f);
        f->path = paths[i];
        f->nc = -1;
        f->lat_dim = f->lon_dim = f->lev_dim = f->time_dim = -1;
        s->nfiles++;
        f->kind = is_npy(paths[i]) ? KIND_NPY : io_grib_detect(paths[i]) ? KIND_GRIB : KIND_NC;
        if ((status = f->kind == KIND_NPY ? open_npy(f) : f->kind == KIND_GRIB ? open_grib(f) : open_nc(f))) goto done;
        int any = 0;
        for (int v = 0; v < NVARS; v++) any |= f->has[v];
        if (!any) {
            /* an invariant-fields file or the like in a directory's glob:
             * left out, with a warning; an error if no input has any */
            if (skipped < 0) skipped = i;
            close_file(f);
            s->nfiles--;
            continue;
        }
        total += f->ntime;
    }
    if (s->nfiles == 0) {
        status = util_fail(UTIL_EFORMAT, "%s%s: none of z q t u v msl u10 v10 t2m (or their ERA5, CMIP or CF names) "
                                         "on its latitude x longitude grid", paths[0], npaths > 1 ? " and the other inputs" : "");
        goto done;
    }
    if ((status = check_one_grid(s))) goto done;
    for (int i = 0; i < npaths && skipped >= 0; i++) {
        int kept = 0;
        for (int k = 0; k < s->nfiles && !kept; k++) kept = s->files[k].path == paths[i];
        if (!kept)
            util_warn("%s: none of z q t u v msl u10 v10 t2m on its latitude x longitude grid: not used as an input", paths[i]);
    }
    s->times = malloc(sizeof(double) * (total ? total : 1));
    if (!s->times) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < s->nfiles; i++)
        for (size_t k = 0; k < s->files[i].ntime; k++) s->times[s->ntimes++] = s->files[i].times[k];
    qsort(s->times, s->ntimes, sizeof(double), cmp_double);
    size_t u = 0;
    for (size_t k = 0; k < s->ntimes; k++)
        if (u == 0 || s->times[k] != s->times[u - 1]) s->times[u++] = s->times[k];
    s->ntimes = u;
done:
    if (status) io_series_close(s);
    else *out = s;
    return status;
}

size_t io_series_ntimes(const io_series *s) { return s->ntimes; }

int io_series_reference_time(const io_series *s, double *first, double *last) {
    int n = 0;
    for (int i = 0; i < s->nfiles; i++) {
        const io_file *f = &s->files[i];
        if (f->kind != KIND_GRIB) continue;
        if (!n || f->grib->ref_first < *first) *first = f->grib->ref_first;
        if (!n || f->grib->ref_last > *last) *last = f->grib->ref_last;
        n++;
    }
    return n;
}
double io_series_time(const io_series *s, size_t i) { return i < s->ntimes ? s->times[i] : NAN; }

static long file_time_index(const io_file *f, double t) {
    if (!f->times) return -1;
    for (size_t i = 0; i < f->ntime; i++)
        if (fabs(f->times[i] - t) < 0.5) return (long)i;
    return -2;
}

static int read_npy_field(io_file *f, const var_handle *h, int lev, float *out) {
    const io_npy_header *n = &f->npy;
    size_t HW = f->nlat * f->nlon, index = (size_t)h->varid * (n->rank == 4 ? n->shape[1] : 1) + (lev > 0 ? lev : 0);
    if (fseek(f->fp, (long)(n->data_offset + index * HW * n->word), SEEK_SET) != 0)
        return util_fail(UTIL_EIO, "%s: cannot seek", f->path);
    unsigned char *raw = (unsigned char *)out;
    double *wide = NULL;
    if (n->word == 8) {
        wide = malloc(HW * sizeof(double));
        if (!wide) return util_fail(UTIL_ENOMEM, "out of memory");
        raw = (unsigned char *)wide;
    }
    if (fread(raw, (size_t)n->word, HW, f->fp) != HW) {
        free(wide);
        return util_fail(UTIL_EFORMAT, "%s: truncated .npy data", f->path);
    }
    if (n->big_endian)
        for (size_t i = 0; i < HW; i++) {
            unsigned char *p = raw + i * n->word;
            for (int a = 0, b = n->word - 1; a < b; a++, b--) {
                unsigned char t = p[a];
                p[a] = p[b], p[b] = t;
            }
        }
    if (wide)
        for (size_t i = 0; i < HW; i++) out[i] = (float)wide[i];
    free(wide);
    return UTIL_OK;
}

/* One (latitude, longitude) field in the file's own orientation, unpacked,
 * converted to model units, no-data as NaN. */
static int read_nc_field(io_file *f, const var_handle *h, long t, int lev, float *out, float *tmp) {
    size_t start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS];
    size_t HW = f->nlat * f->nlon;
    for (int i = 0; i < h->rank; i++) count[i] = 1;
    count[h->rank - 1] = f->nlon, count[h->rank - 2] = f->nlat;
    if (h->time_axis >= 0) start[h->time_axis] = (size_t)(t > 0 ? t : 0);
    if (h->lev_axis >= 0) start[h->lev_axis] = (size_t)lev;
    if (isnan(h->scale))
        return util_fail(UTIL_EFORMAT, "%s: variable '%s' has inconsistent packing attributes (scale_factor, add_offset)",
                         f->path, h->name);
    int nexp = h->expver_axis >= 0 ? (int)h->len[h->expver_axis] : 1;
    for (size_t i = 0; i < HW; i++) out[i] = NAN;
    /* ERA5 mixed with ERA5T: each time lives in one of the expver slices. */
    for (int e = 0; e < nexp; e++) {
        if (h->expver_axis >= 0) start[h->expver_axis] = (size_t)e;
        int rc = nc_get_vara_float(f->nc, h->varid, start, count, tmp);
        if (rc != NC_NOERR)
            return util_fail(UTIL_EFORMAT, "%s: cannot read variable '%s' (%s)", f->path, h->name, nc_strerror(rc));
        for (size_t i = 0; i < HW; i++) {
            double v = tmp[i];
            if (!isnan(out[i]) || v == h->fill || v == h->missing || isnan(v)) continue;
            out[i] = (float)((v * h->scale + h->offset) * h->mul + h->add);
        }
    }
    return UTIL_OK;
}

/* Height (m) of pressure p (hPa) in the International Standard Atmosphere. */
static double isa_height(double p) {
    if (p >= 226.32) return 288.15 / 0.0065 * (1 - pow(p / 1013.25, 287.053 * 0.0065 / GRAVITY));
    return 11000 + 287.053 * 216.65 / GRAVITY * log(226.32 / p);
}

/* A geopotential variable without units that holds geopotential height in
 * metres instead: global means near the standard atmosphere's heights at
 * the upper levels, and layer thicknesses of a height (scale height 4-10 km),
 * not of a geopotential (ten times more). */
static int check_not_height(const char *path, const char *name, const io_state *st) {
    size_t HW = (size_t)st->H * st->W;
    double mean[IO_MAX_LEVELS];
    int lo = -1, hi = -1, near_isa = 1, any_upper = 0;
    for (int k = 0; k < st->nlev; k++) {
        double sum = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < HW; i++)
            if (isfinite(st->upper[(size_t)k * HW + i])) sum += st->upper[(size_t)k * HW + i], cnt++;
        mean[k] = cnt ? sum / cnt : NAN;
        if (lo < 0 || st->levels[k] > st->levels[lo]) lo = k;
        if (hi < 0 || st->levels[k] < st->levels[hi]) hi = k;
        if (st->levels[k] <= 500) {
            any_upper = 1;
            if (!(fabs(mean[k] / isa_height(st->levels[k]) - 1) < 0.2)) near_isa = 0;
        }
    }
    if (st->nlev < 2 || st->levels[lo] == st->levels[hi]) return UTIL_OK;
    double scale = (mean[hi] - mean[lo]) / log(st->levels[lo] / st->levels[hi]);
    if (!(any_upper && near_isa && scale > 4000 && scale < 10000)) return UTIL_OK;
    return util_fail(UTIL_EFORMAT,
                     "%s: variable '%s' (no units) looks like geopotential height in metres (%.0f at %g hPa); "
                     "expected geopotential in m2 s-2 (about %.0f): add units \"m\" to have it converted",
                     path, name, mean[hi], st->levels[hi], mean[hi] * GRAVITY);
}

/* The file's grid must be a global latitude-longitude grid: latitudes in
 * [-90, 90], strictly monotonic and evenly spaced; longitudes (sorted)
 * evenly spaced round the whole globe, as the model's periodic longitude
 * windows assume. */
static int check_grid(const io_file *f, const double *lon_sorted) {
    if (!io_plausibility_on()) return UTIL_OK;
    size_t H = f->nlat, W = f->nlon;
    for (size_t i = 0; i < H; i++)
        if (!(fabs(f->lat[i]) <= 90.0 + 1e-3)) /* float coordinates: -90.00001 is the pole */
            return util_fail(UTIL_EFORMAT, "%s: latitude %g is outside [-90, 90] (a shifted or mislabelled grid?)",
                             f->path, f->lat[i]);
    if (H > 1) {
        double d = (f->lat[H - 1] - f->lat[0]) / (double)(H - 1);
        if (!(fabs(d) > 0))
            return util_fail(UTIL_EFORMAT, "%s: the latitudes are not monotonic (%g to %g)", f->path, f->lat[0], f->lat[H - 1]);
        for (size_t i = 1; i < H; i++)
            if (!(fabs(f->lat[i] - f->lat[i - 1] - d) <= 0.01 * fabs(d) + 1e-3))
                return util_fail(UTIL_EFORMAT, "%s: latitudes not evenly spaced or not monotonic (%g, %g after %g, spacing "
                                               "%g expected)", f->path, f->lat[i - 1], f->lat[i], f->lat[i > 1 ? i - 2 : 0], d);
    }
    if (W > 1) {
        double d = 360.0 / (double)W;
        for (size_t i = 1; i < W; i++)
            if (!(fabs(lon_sorted[i] - lon_sorted[i - 1] - d) <= 0.01 * d + 1e-3))
                return util_fail(UTIL_EFORMAT, "%s: %zu longitudes are not evenly spaced round the globe (%g then %g; "
                                               "spacing %g expected): the model needs a global grid", f->path, W,
                                 lon_sorted[i - 1], lon_sorted[i], d);
    }
    return UTIL_OK;
}

/* Reorder longitudes to ascending from the first at or east of 0 degrees. */
static int lon_order(const io_file *f, size_t *perm, double *lon_out) {
    size_t W = f->nlon;
    double *key = malloc(sizeof(double) * W * 2);
    if (!key) return util_fail(UTIL_ENOMEM, "out of memory");
    for (size_t i = 0; i < W; i++) {
        double l = fmod(f->lon[i], 360.0);
        if (l < 0) l += 360.0;
        key[2 * i] = l, key[2 * i + 1] = (double)i;
    }
    qsort(key, W, 2 * sizeof(double), cmp_double);
    for (size_t i = 0; i < W; i++) {
        perm[i] = (size_t)key[2 * i + 1];
        lon_out[i] = key[2 * i];
        if (i && lon_out[i] == lon_out[i - 1]) {
            free(key);
            return util_fail(UTIL_EFORMAT, "%s: longitude %g appears twice", f->path, lon_out[i]);
        }
    }
    free(key);
    return UTIL_OK;
}

int io_series_read(io_series *s, double time, int H, int W, const float *levels, int nlev, io_state *st) {
    int status = io_state_alloc(st, H, W, levels, nlev, NULL);
    if (status) return status;
    if ((status = io_series_read_into(s, time, st))) io_state_free(st);
    return status;
}

/* What the steps of io_series_read_into share: the request, the state being
 * filled and the buffers reused for every field. */
typedef struct {
    io_series *s;
    double time;
    const char *when; /* the time as printed in messages ("" when none) */
    io_state *st;
    size_t *perm; /* longitude order of the current source */
    float *field, *tmp;
    int grid_set; /* st->lat, st->lon hold the first source's grid */
} read_ctx;

/* The first input holding variable v at this time. When none does, say
 * whether the variable or only the time is missing: the fixes differ. */
static int find_source(const read_ctx *c, int v, io_file **out, long *out_t) {
    const io_series *s = c->s;
    const char *others = s->nfiles > 1 ? " and the other inputs" : "";
    int seen = 0, grib = 0;
    for (int i = 0; i < s->nfiles; i++) {
        if (!s->files[i].has[v]) continue;
        seen = 1;
        long k = isnan(c->time) ? -1 : file_time_index(&s->files[i], c->time);
        if (k == -2) continue;
        *out = &s->files[i], *out_t = k;
        return UTIL_OK;
    }
    if (seen) {
        char a[64] = "", b[64] = "";
        if (s->ntimes) {
            util_time_format(s->times[0], a, sizeof a);
            util_time_format(s->times[s->ntimes - 1], b, sizeof b);
        }
        return util_fail(UTIL_EFORMAT, "%s%s: no time %s for variable '%s' (the inputs cover %s to %s)",
                         s->files[0].path, others, c->when, var_label(v), a, b);
    }
    for (int i = 0; i < s->nfiles; i++) grib |= s->files[i].kind == KIND_GRIB;
    return util_fail(UTIL_EFORMAT, "%s%s: no variable '%s' (looked for %s, %s and CF standard_name %s%s%s)",
                     s->files[0].path, others, var_label(v), lookup[v].names[0], lookup[v].names[1],
                     lookup[v].standard_name, grib ? "; GRIB shortName " : "", grib ? io_grib_shortnames(v) : "");
}

/* The model's grid runs north to south with longitudes ascending from 0
 * whatever the file's order (c->perm, *flip), and every input must share
 * it: fields of two grids would be mixed silently. */
static int check_source_grid(read_ctx *c, io_file *f, int *flip) {
    io_state *st = c->st;
    int H = st->H, W = st->W, status;
    if (f->nlat != (size_t)H || f->nlon != (size_t)W)
        return util_fail(UTIL_EFORMAT,
                         "%s: grid is %zu x %zu (latitude x longitude), the model expects %d x %d "
                         "(coarsen with pangu regrid)",
                         f->path, f->nlat, f->nlon, H, W);
    *flip = H > 1 && f->lat[0] < f->lat[H - 1];
    double *lon_sorted = malloc(sizeof(double) * W);
    if (!lon_sorted) return util_fail(UTIL_ENOMEM, "out of memory");
    status = lon_order(f, c->perm, lon_sorted);
    if (!status) status = check_grid(f, lon_sorted);
    if (!status && !c->grid_set) {
        for (int i = 0; i < H; i++) st->lat[i] = *flip ? f->lat[H - 1 - i] : f->lat[i];
        memcpy(st->lon, lon_sorted, sizeof(double) * W);
        c->grid_set = 1;
    } else if (!status) {
        for (int i = 0; i < H && !status; i++)
            if (fabs(st->lat[i] - (*flip ? f->lat[H - 1 - i] : f->lat[i])) > 1e-3)
                status = util_fail(UTIL_EFORMAT, "%s: latitudes differ from those of the other inputs", f->path);
        for (int i = 0; i < W && !status; i++)
            if (fabs(st->lon[i] - lon_sorted[i]) > 1e-3)
                status = util_fail(UTIL_EFORMAT, "%s: longitudes differ from those of the other inputs", f->path);
    }
    free(lon_sorted);
    return status;
}

/* Another record of this variable at this time (in a later file, or again
 * in this file's time axis) must hold the same data: find the first. */
static io_file *find_duplicate(const read_ctx *c, io_file *f, long t, int v, long *dup_t) {
    io_series *s = c->s;
    if (isnan(c->time)) return NULL;
    for (size_t q = (size_t)t + 1; f->times && q < f->ntime; q++)
        if (fabs(f->times[q] - c->time) < 0.5) {
            *dup_t = (long)q;
            return f;
        }
    for (int i = (int)(f - s->files) + 1; i < s->nfiles; i++) {
        long k = s->files[i].has[v] ? file_time_index(&s->files[i], c->time) : -2;
        if (k != -2 && s->files[i].nlat == f->nlat && s->files[i].nlon == f->nlon) {
            *dup_t = k;
            return &s->files[i];
        }
    }
    return NULL;
}

/* Level indices by value, within a relative 1e-3: files store levels as
 * floats or doubles, in any order. -1 when absent. */
static int level_index(const io_file *f, float level) {
    int lev = -1;
    for (size_t i = 0; i < f->nlev; i++)
        if (fabs(f->lev[i] - level) < 1e-3 * level) lev = (int)i;
    return lev;
}

/* One field, whatever the file kind; GRIB finds its level by value itself
 * (levels[k] is read only there: surface-only states may have no levels). */
static int read_field(const read_ctx *c, io_file *f, int v, long t, int lev, int k) {
    return f->kind == KIND_NPY    ? read_npy_field(f, &f->var[v], lev, c->field)
           : f->kind == KIND_GRIB ? io_grib_read(f->grib, v, c->st->levels[k], c->time, c->field)
                                  : read_nc_field(f, &f->var[v], t, lev, c->field, c->tmp);
}

/* Two records that differ beyond rounding are an ambiguity for the user
 * to resolve, not one to pick from silently. */
static int compare_duplicate(const read_ctx *c, const io_file *f, const io_file *dup, const size_t *dperm, int dflip,
                             int v, const float *dst) {
    const io_state *st = c->st;
    int H = st->H, W = st->W;
    for (int i = 0; i < H; i++) {
        const float *row = c->field + (size_t)(dflip ? H - 1 - i : i) * W;
        for (int j = 0; j < W; j++) {
            float a = dst[(size_t)i * W + j], b = row[dperm[j]];
            if (a != b && !(isnan(a) && isnan(b)) && !(fabsf(a - b) <= 1e-5f * fabsf(a)))
                return util_fail(UTIL_EFORMAT, "%s and %s: two records of '%s'%s at %s with different data "
                                               "(%g against %g at latitude %g, longitude %g): which one is meant?",
                                 f->path, dup->path, f->var[v].name, v < IO_NUPPER ? " (an upper-air level)" : "",
                                 c->when, a, b, st->lat[i], st->lon[j]);
        }
    }
    return UTIL_OK;
}

/* One variable, every level asked for, into the state in the model's order
 * and orientation, each level checked against a second record of it. */
static int read_variable(read_ctx *c, int v) {
    io_state *st = c->st;
    int H = st->H, W = st->W, upper = v < IO_NUPPER, flip = 0, dflip = 0, status;
    size_t HW = (size_t)H * W, *dperm = NULL;
    io_file *f = NULL, *dup;
    long t = -1, dup_t = -1;
    if ((status = find_source(c, v, &f, &t))) return status;
    if ((status = check_source_grid(c, f, &flip))) return status;
    snprintf(st->source[v], sizeof st->source[v], "%s", f->path);
    if ((dup = find_duplicate(c, f, t, v, &dup_t))) {
        double *dl = malloc(sizeof(double) * W);
        if (!(dperm = malloc(sizeof(size_t) * W)) || !dl) status = util_fail(UTIL_ENOMEM, "out of memory");
        else status = lon_order(dup, dperm, dl);
        free(dl);
        dflip = H > 1 && dup->lat[0] < dup->lat[H - 1];
        if (status) goto done;
    }
    for (int k = 0; k < (upper ? st->nlev : 1); k++) {
        int lev = -1;
        float *dst = upper ? st->upper + ((size_t)v * st->nlev + k) * HW : st->surface + (size_t)(v - IO_NUPPER) * HW;
        float only = c->s->only_level[v];
        if (upper && only > 0 && fabsf(st->levels[k] - only) > 1e-3f * only) { /* io_series_only: not wanted */
            for (size_t i = 0; i < HW; i++) dst[i] = NAN;
            continue;
        }
        if (upper && f->kind != KIND_GRIB) { /* GRIB: io_grib_read names what is missing */
            if ((lev = level_index(f, st->levels[k])) < 0) {
                status = util_fail(UTIL_EFORMAT, "%s: level %g hPa missing (variable '%s')", f->path, st->levels[k],
                                   f->var[v].name);
                goto done;
            }
        }
        if ((status = read_field(c, f, v, t, lev, k))) goto done;
        for (int i = 0; i < H; i++) {
            const float *row = c->field + (size_t)(flip ? H - 1 - i : i) * W;
            for (int j = 0; j < W; j++) dst[(size_t)i * W + j] = row[c->perm[j]];
        }
        if (!dup) continue;
        int dlev = upper && dup->kind != KIND_GRIB ? level_index(dup, st->levels[k]) : -1;
        if (upper && dup->kind != KIND_GRIB && dlev < 0) continue; /* the other file lacks this level */
        if ((status = read_field(c, dup, v, dup_t, dlev, k))) goto done;
        if ((status = compare_duplicate(c, f, dup, dperm, dflip, v, dst))) goto done;
    }
done:
    free(dperm);
    return status;
}

int io_series_has(const io_series *s, int v) {
    for (int i = 0; i < s->nfiles; i++)
        if (s->files[i].has[v]) return 1;
    return 0;
}

void io_series_allow_absent(io_series *s) { s->absent_as_nan = 1; }

void io_series_only(io_series *s, const int *want, const float *level) {
    for (int v = 0; v < NVARS; v++) s->skip[v] = !want[v], s->only_level[v] = level ? level[v] : 0;
}

int io_series_read_into(io_series *s, double time, io_state *st) {
    int status = UTIL_OK;
    char when[64] = "";
    if (isnan(time) && s->ntimes > 1)
        return util_fail(UTIL_EINVAL, "%s: the inputs hold %zu times: choose one (--time)", s->files[0].path, s->ntimes);
    if (isnan(time) && s->ntimes == 1) time = s->times[0];
    if (!isnan(time)) util_time_format(time, when, sizeof when);
    st->time = time;
    size_t HW = (size_t)st->H * st->W;
    read_ctx c = {.s = s, .time = time, .when = when, .st = st};
    c.perm = malloc(sizeof(size_t) * st->W);
    c.field = malloc(sizeof(float) * HW);
    c.tmp = malloc(sizeof(float) * HW);
    if (!c.perm || !c.field || !c.tmp) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int v = 0; v < NVARS; v++) {
        if (s->skip[v] || (s->absent_as_nan && !io_series_has(s, v))) {
            size_t n = v < IO_NUPPER ? (size_t)st->nlev * HW : HW;
            float *dst = v < IO_NUPPER ? st->upper + (size_t)v * st->nlev * HW : st->surface + (size_t)(v - IO_NUPPER) * HW;
            for (size_t i = 0; i < n; i++) dst[i] = NAN;
            st->source[v][0] = 0;
            continue;
        }
        if ((status = read_variable(&c, v))) goto done;
    }
    /* z without units may be geopotential height: the first file holding
     * such a z decides, once the whole state is read. */
    for (int i = 0; i < s->nfiles; i++)
        if (!s->skip[0] && s->files[i].has[0] && s->files[i].var[0].check_height) {
            status = check_not_height(s->files[i].path, s->files[i].var[0].name, st);
            break;
        }
done:
    free(c.perm);
    free(c.field);
    free(c.tmp);
    return status;
}

int io_state_read(io_state *s, const char *const *paths, int npaths, long time_index, int H, int W,
                  const float *levels, int nlev) {
    io_series *series;
    int status = io_series_open(&series, paths, npaths);
    if (status) return status;
    double t = NAN;
    if (series->ntimes) {
        if (time_index < 0 || (size_t)time_index >= series->ntimes) {
            status = util_fail(UTIL_EFORMAT, "%s: time index %ld requested, the inputs hold %zu times", paths[0],
                               time_index, series->ntimes);
            io_series_close(series);
            return status;
        }
        t = series->times[time_index];
    }
    status = io_series_read(series, t, H, W, levels, nlev, s);
    io_series_close(series);
    return status;
}

int io_series_describe(const io_series *s, int *H, int *W, float *levels, int *nlev) {
    const io_file *f = &s->files[0];
    *H = (int)f->nlat, *W = (int)f->nlon, *nlev = 0;
    for (int i = 0; i < s->nfiles; i++)
        if (s->files[i].nlev && s->files[i].has[0]) {
            const io_file *g = &s->files[i];
            if (g->nlev > IO_MAX_LEVELS)
                return util_fail(UTIL_EFORMAT, "%s: %zu levels, at most %d supported", g->path, g->nlev, IO_MAX_LEVELS);
            for (size_t k = 0; k < g->nlev; k++) levels[k] = (float)g->lev[k];
            *nlev = (int)g->nlev;
            break;
        }
    for (int a = 0; a < *nlev; a++) /* descending pressure: surface first, as the model orders levels */
        for (int b = a + 1; b < *nlev; b++)
            if (levels[b] > levels[a]) {
                float t = levels[a];
                levels[a] = levels[b], levels[b] = t;
            }
    return UTIL_OK;
}

int io_read_field(const char *path, const char *name, int H, int W, float *out) {
    if (io_grib_detect(path)) return io_grib_read_named(path, name, H, W, out);
    io_file f;
    int status, varid;
    memset(&f, 0, sizeof f);
    f.path = path, f.nc = -1, f.kind = KIND_NC;
    f.lat_dim = f.lon_dim = f.lev_dim = f.time_dim = -1;
    size_t HW = (size_t)H * W, *perm = NULL;
    float *field = NULL, *tmp = NULL;
    double *lon = NULL;
    if ((status = open_nc(&f))) goto done;
    if (f.nlat != (size_t)H || f.nlon != (size_t)W) {
        status = util_fail(UTIL_EFORMAT, "%s: grid is %zu x %zu, expected %d x %d (coarsen with pangu regrid)", path, f.nlat,
                           f.nlon, H, W);
        goto done;
    }
    if (nc_inq_varid(f.nc, name, &varid) != NC_NOERR) {
        status = util_fail(UTIL_EFORMAT, "%s: no variable '%s'", path, name);
        goto done;
    }
    var_handle h;
    /* Fit as a surface field (index of msl: no level dimension allowed). */
    if (!fit_var(&f, IO_NUPPER, varid, 0, &h)) {
        status = util_fail(UTIL_EFORMAT, "%s: variable '%s' is not a (time,) latitude, longitude field", path, name);
        goto done;
    }
    h.mul = 1, h.add = 0; /* no unit conversion: the caller knows the field */
    perm = malloc(sizeof(size_t) * W), lon = malloc(sizeof(double) * W);
    field = malloc(sizeof(float) * HW), tmp = malloc(sizeof(float) * HW);
    if (!perm || !lon || !field || !tmp) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    if ((status = read_nc_field(&f, &h, 0, -1, field, tmp)) || (status = lon_order(&f, perm, lon))) goto done;
    int flip = H > 1 && f.lat[0] < f.lat[H - 1];
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) out[(size_t)i * W + j] = field[(size_t)(flip ? H - 1 - i : i) * W + perm[j]];
done:
    close_file(&f);
    free(perm), free(lon), free(field), free(tmp);
    return status;
}
