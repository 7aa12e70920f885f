/* pangu regrid: conservative coarsening of every latitude-longitude field of
 * a NetCDF file by an integer factor (data/regrid.h has the grid and the
 * weights). Variables whose last two dimensions are (latitude, longitude)
 * are coarsened slab by slab (one latitude-longitude field in memory at a
 * time) with any leading dimensions; the latitude and longitude
 * coordinates (and their CF bounds) are replaced by the coarse grid's;
 * every other variable, dimension and attribute is copied unchanged.
 * Packed integers (scale_factor, add_offset) are unpacked and written as
 * float; double stays double; _FillValue, missing_value and NaN are
 * missing. Output: NetCDF-4, shuffle + deflate, written to a temporary file
 * and renamed when complete; the global history gets one more line. */
#define _DEFAULT_SOURCE
#include <float.h>
#include <math.h>
#include <netcdf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../data/regrid.h"
#include "../io/io.h"
#include "../io/ncw.h"
#include "../util/util.h"
#include "cli.h"

enum { KIND_COPY, KIND_LAT, KIND_LON, KIND_LAT_BOUNDS, KIND_LON_BOUNDS, KIND_REGRID };

#define MAX_FILLS 8
#define COPY_BYTES ((size_t)16 << 20) /* copied variables move in pieces of at most this size */

typedef struct {
    char name[NC_MAX_NAME + 1];
    int kind, nd, out_id;
    nc_type type, otype;
    int dims[NC_MAX_VAR_DIMS];
    /* KIND_REGRID */
    int is_unsigned, has_fill_att, has_missing_att;
    double scale, offset;
    int nfill;
    double fill[MAX_FILLS]; /* raw (packed) values meaning missing */
    double out_fill;        /* written where no source is valid when the input declared missing values */
} var_info;

typedef struct {
    const char *in, *out;
    ncw_file file; /* the output */
    int nc, in_open;
    int lat_var, lon_var, lat_dim, lon_dim;
    int nvars;
    var_info *v;
    double *lat, *lon;
    regrid_weights w;
} job;

/* Text attribute into buf ("" when absent or not text). */
static void text_att(int nc, int varid, const char *name, char *buf, size_t cap) {
    nc_type t;
    size_t len;
    buf[0] = 0;
    if (nc_inq_att(nc, varid, name, &t, &len) != NC_NOERR || t != NC_CHAR || len >= cap) return;
    if (nc_get_att_text(nc, varid, name, buf) != NC_NOERR) len = 0;
    buf[len] = 0;
    while (len > 0 && buf[len - 1] == 0) len--; /* some writers count the terminator */
}

static int has_att(int nc, int varid, const char *name) { return nc_inq_attid(nc, varid, name, NULL) == NC_NOERR; }

static int in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

/* 1 when variable id is a one-dimensional latitude (axis 0) or longitude
 * (axis 1) coordinate: by name, units or standard_name; 2 when it is also
 * a coordinate variable (named as its dimension). */
static int coord_score(int nc, int id, int axis) {
    static const char *const lat_names[] = {"latitude", "lat", NULL}, *const lon_names[] = {"longitude", "lon", NULL};
    static const char *const lat_units[] = {"degrees_north", "degree_north", "degree_N", "degrees_N",
                                            "degreeN",       "degreesN",     NULL};
    static const char *const lon_units[] = {"degrees_east", "degree_east", "degree_E", "degrees_E",
                                            "degreeE",      "degreesE",    NULL};
    char name[NC_MAX_NAME + 1], dname[NC_MAX_NAME + 1], units[64], sn[64];
    int nd, dim;
    nc_type t;
    if (nc_inq_var(nc, id, name, &t, &nd, NULL, NULL) != NC_NOERR || nd != 1 || t == NC_CHAR || t >= NC_STRING)
        return 0;
    if (nc_inq_vardimid(nc, id, &dim) != NC_NOERR || nc_inq_dimname(nc, dim, dname) != NC_NOERR) return 0;
    text_att(nc, id, "units", units, sizeof units);
    text_att(nc, id, "standard_name", sn, sizeof sn);
    int hit = axis == 0 ? in_list(name, lat_names) || in_list(units, lat_units) || !strcmp(sn, "latitude")
                        : in_list(name, lon_names) || in_list(units, lon_units) || !strcmp(sn, "longitude");
    return hit ? 1 + !strcmp(name, dname) : 0;
}

static int find_coord(job *jb, int axis, int *var, int *dim) {
    int best = 0;
    *var = -1;
    for (int id = 0; id < jb->nvars; id++) {
        int s = coord_score(jb->nc, id, axis);
        if (s > best) best = s, *var = id;
    }
    if (*var < 0)
        return util_fail(UTIL_EFORMAT,
                         "%s: no %s coordinate (a one-dimensional variable named %s, or with units %s or "
                         "standard_name %s)",
                         jb->in, axis ? "longitude" : "latitude", axis ? "longitude or lon" : "latitude or lat",
                         axis ? "degrees_east" : "degrees_north", axis ? "longitude" : "latitude");
    return nc_inq_vardimid(jb->nc, *var, dim) == NC_NOERR
               ? UTIL_OK
               : util_fail(UTIL_EFORMAT, "%s: cannot read its coordinates", jb->in);
}

static int read_coord(job *jb, int var, double **out, size_t *n) {
    int dim;
    char name[NC_MAX_NAME + 1] = "";
    nc_inq_varname(jb->nc, var, name);
    if (nc_inq_vardimid(jb->nc, var, &dim) != NC_NOERR || nc_inq_dimlen(jb->nc, dim, n) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot read coordinate '%s'", jb->in, name);
    if (*n < 2 || *n > 10000000)
        return util_fail(UTIL_EFORMAT, "%s: coordinate '%s' has %zu values: expected at least 2", jb->in, name, *n);
    if (!(*out = malloc(sizeof(double) * *n))) return util_fail(UTIL_ENOMEM, "cannot allocate %zu coordinates", *n);
    int rc = nc_get_var_double(jb->nc, var, *out);
    if (rc != NC_NOERR)
        return util_fail(UTIL_EIO, "%s: cannot read coordinate '%s' (%s)", jb->in, name, nc_strerror(rc));
    return UTIL_OK;
}

/* What to add to a negative value of a signed type read as unsigned. */
static double unsigned_wrap(nc_type t) { return t == NC_BYTE ? 256.0 : t == NC_SHORT ? 65536.0 : 4294967296.0; }

static int is_integer_type(nc_type t) {
    return t == NC_BYTE || t == NC_SHORT || t == NC_INT || t == NC_UBYTE || t == NC_USHORT || t == NC_UINT ||
           t == NC_INT64 || t == NC_UINT64;
}

/* Packing, missing values and output type of a variable to be coarsened. */
static int describe_regrid_var(job *jb, var_info *vi, int id) {
    int nc = jb->nc;
    char text[16];
    if (vi->type == NC_CHAR || vi->type >= NC_STRING)
        return util_fail(UTIL_EFORMAT,
                         "%s: variable '%s' on the latitude-longitude grid is not numeric: cannot regrid it", jb->in,
                         vi->name);
    text_att(nc, id, "_Unsigned", text, sizeof text);
    vi->is_unsigned = !strcmp(text, "true") && (vi->type == NC_BYTE || vi->type == NC_SHORT || vi->type == NC_INT);
    vi->scale = 1, vi->offset = 0;
    int packed = has_att(nc, id, "scale_factor") || has_att(nc, id, "add_offset");
    if ((has_att(nc, id, "scale_factor") && nc_get_att_double(nc, id, "scale_factor", &vi->scale) != NC_NOERR) ||
        (has_att(nc, id, "add_offset") && nc_get_att_double(nc, id, "add_offset", &vi->offset) != NC_NOERR))
        return util_fail(UTIL_EFORMAT, "%s: variable '%s': scale_factor or add_offset is not a number", jb->in,
                         vi->name);
    vi->otype = vi->type == NC_DOUBLE ? NC_DOUBLE : NC_FLOAT;
    vi->nfill = 0;
    size_t len = 0;
    nc_type t;
    vi->has_fill_att =
        nc_inq_att(nc, id, "_FillValue", &t, &len) == NC_NOERR && len == 1 && t != NC_CHAR && t < NC_STRING;
    if (vi->has_fill_att && nc_get_att_double(nc, id, "_FillValue", &vi->fill[vi->nfill]) == NC_NOERR) vi->nfill++;
    vi->has_missing_att = nc_inq_att(nc, id, "missing_value", &t, &len) == NC_NOERR && len >= 1 &&
                          len <= MAX_FILLS - 1 && t != NC_CHAR && t < NC_STRING;
    if (vi->has_missing_att && nc_get_att_double(nc, id, "missing_value", &vi->fill[vi->nfill]) == NC_NOERR)
        vi->nfill += (int)len;
    for (int i = 0; i < vi->nfill && vi->is_unsigned; i++)
        if (vi->fill[i] < 0) vi->fill[i] += unsigned_wrap(vi->type);
    /* The value for target cells without any valid source: the input's own
     * fill value when unpacked and representable, else netCDF's default. */
    double dflt = vi->otype == NC_DOUBLE ? NC_FILL_DOUBLE : NC_FILL_FLOAT;
    vi->out_fill = dflt;
    if (!packed && vi->nfill > 0) {
        double f = vi->fill[0];
        if (isnan(f) || vi->otype == NC_DOUBLE || fabs(f) <= FLT_MAX) vi->out_fill = f;
    }
    if (packed && !is_integer_type(vi->type) && vi->nfill > 0) vi->out_fill = vi->fill[0] * vi->scale + vi->offset;
    return UTIL_OK;
}

/* Sort every variable into what happens to it. */
static int classify(job *jb) {
    int nc = jb->nc, status;
    char lat_bounds[NC_MAX_NAME + 1], lon_bounds[NC_MAX_NAME + 1];
    text_att(nc, jb->lat_var, "bounds", lat_bounds, sizeof lat_bounds);
    text_att(nc, jb->lon_var, "bounds", lon_bounds, sizeof lon_bounds);
    for (int id = 0; id < jb->nvars; id++) {
        var_info *vi = &jb->v[id];
        if (nc_inq_var(nc, id, vi->name, &vi->type, &vi->nd, vi->dims, NULL) != NC_NOERR)
            return util_fail(UTIL_EFORMAT, "%s: cannot inquire variable %d", jb->in, id);
        vi->otype = vi->type;
        if (vi->type > NC_STRING)
            return util_fail(UTIL_EFORMAT, "%s: variable '%s' has a user-defined type: not supported", jb->in,
                             vi->name);
        int uses_lat = 0, uses_lon = 0;
        for (int d = 0; d < vi->nd; d++) uses_lat += vi->dims[d] == jb->lat_dim, uses_lon += vi->dims[d] == jb->lon_dim;
        size_t len2 = 0;
        if (id == jb->lat_var)
            vi->kind = KIND_LAT;
        else if (id == jb->lon_var)
            vi->kind = KIND_LON;
        else if ((lat_bounds[0] && !strcmp(vi->name, lat_bounds)) || (lon_bounds[0] && !strcmp(vi->name, lon_bounds))) {
            int lat = lat_bounds[0] && !strcmp(vi->name, lat_bounds);
            if (vi->nd != 2 || vi->dims[0] != (lat ? jb->lat_dim : jb->lon_dim) ||
                nc_inq_dimlen(nc, vi->dims[1], &len2) != NC_NOERR || len2 != 2 || vi->type == NC_CHAR ||
                vi->type >= NC_STRING)
                return util_fail(UTIL_EFORMAT, "%s: bounds variable '%s' is not (%s, 2) numbers", jb->in, vi->name,
                                 lat ? "latitude" : "longitude");
            vi->kind = lat ? KIND_LAT_BOUNDS : KIND_LON_BOUNDS;
        } else if (!uses_lat && !uses_lon)
            vi->kind = KIND_COPY;
        else if (vi->nd >= 2 && uses_lat == 1 && uses_lon == 1 && vi->dims[vi->nd - 2] == jb->lat_dim &&
                 vi->dims[vi->nd - 1] == jb->lon_dim) {
            vi->kind = KIND_REGRID;
            if ((status = describe_regrid_var(jb, vi, id))) return status;
        } else
            return util_fail(UTIL_EFORMAT,
                             "%s: variable '%s' uses the latitude or longitude dimension but does not end with "
                             "(latitude, longitude): cannot regrid it",
                             jb->in, vi->name);
    }
    return UTIL_OK;
}

/* The history line: "<UTC time>: pangu regrid <arguments>". */
static void history_line(char *buf, size_t cap, int argc, char **argv) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(buf, cap, "%a %b %d %H:%M:%S %Y: pangu", &tm);
    for (int i = 0; i < argc && n + 2 < cap; i++) n += (size_t)snprintf(buf + n, cap - n, " %s", argv[i]);
    if (n >= cap) buf[cap - 1] = 0;
}

/* Global attributes with the history appended. */
static int copy_global_atts(job *jb, int argc, char **argv) {
    int status = UTIL_OK, natts = 0;
    char *old = NULL, *joined = NULL, line[2048];
    NCW_CHECK(nc_inq_varnatts(jb->nc, NC_GLOBAL, &natts), "%s: cannot read global attributes", jb->in);
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        NCW_CHECK(nc_inq_attname(jb->nc, NC_GLOBAL, a, name), "%s: cannot read global attributes", jb->in);
        if (!strcmp(name, "history")) {
            nc_type t;
            size_t len;
            NCW_CHECK(nc_inq_att(jb->nc, NC_GLOBAL, name, &t, &len), "%s: cannot read the history", jb->in);
            if (t == NC_CHAR) {
                if (!(old = calloc(len + 1, 1))) {
                    status = util_fail(UTIL_ENOMEM, "cannot allocate the history");
                    goto done;
                }
                NCW_CHECK(nc_get_att_text(jb->nc, NC_GLOBAL, name, old), "%s: cannot read the history", jb->in);
            } else if (t == NC_STRING && len >= 1) {
                char **s = calloc(len, sizeof *s);
                if (!s) {
                    status = util_fail(UTIL_ENOMEM, "cannot allocate the history");
                    goto done;
                }
                int rc = nc_get_att_string(jb->nc, NC_GLOBAL, name, s);
                if (rc == NC_NOERR && s[0]) old = strdup(s[0]);
                if (rc == NC_NOERR) nc_free_string(len, s);
                free(s);
            }
            continue;
        }
        NCW_CHECK(nc_copy_att(jb->nc, NC_GLOBAL, name, jb->file.nc, NC_GLOBAL), "%s: cannot copy global attribute '%s'",
                  jb->out, name);
    }
    history_line(line, sizeof line, argc, argv);
    size_t n = (old ? strlen(old) : 0) + strlen(line) + 2;
    if (!(joined = malloc(n))) {
        status = util_fail(UTIL_ENOMEM, "cannot allocate the history");
        goto done;
    }
    snprintf(joined, n, "%s%s%s", old && old[0] ? old : "", old && old[0] ? "\n" : "", line);
    NCW_CHECK(nc_put_att_text(jb->file.nc, NC_GLOBAL, "history", strlen(joined), joined),
              "%s: cannot write the history", jb->out);
done:
    free(old);
    free(joined);
    return status;
}

/* Attributes of a coarsened variable: packing dropped, missing values and
 * valid ranges converted to the output type and unpacked. */
static int copy_regrid_atts(job *jb, const var_info *vi, int id) {
    int status = UTIL_OK, natts = 0, oid = vi->out_id;
    NCW_CHECK(nc_inq_varnatts(jb->nc, id, &natts), "%s: cannot read the attributes of '%s'", jb->in, vi->name);
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        NCW_CHECK(nc_inq_attname(jb->nc, id, a, name), "%s: cannot read the attributes of '%s'", jb->in, vi->name);
        if (!strcmp(name, "scale_factor") || !strcmp(name, "add_offset") || !strcmp(name, "_Unsigned")) continue;
        if (!strcmp(name, "_FillValue") || !strcmp(name, "missing_value")) {
            if ((!strcmp(name, "_FillValue") && vi->has_fill_att) ||
                (!strcmp(name, "missing_value") && vi->has_missing_att))
                NCW_CHECK(nc_put_att_double(jb->file.nc, oid, name, vi->otype, 1, &vi->out_fill),
                          "%s: cannot write %s of '%s'", jb->out, name, vi->name);
            continue;
        }
        if (!strcmp(name, "valid_min") || !strcmp(name, "valid_max") || !strcmp(name, "valid_range")) {
            nc_type t;
            size_t len;
            double v[2];
            if (nc_inq_att(jb->nc, id, name, &t, &len) == NC_NOERR && len >= 1 && len <= 2 && t != NC_CHAR &&
                t < NC_STRING && nc_get_att_double(jb->nc, id, name, v) == NC_NOERR) {
                for (size_t i = 0; i < len; i++) {
                    if (vi->is_unsigned && v[i] < 0) v[i] += unsigned_wrap(vi->type);
                    v[i] = v[i] * vi->scale + vi->offset;
                }
                NCW_CHECK(nc_put_att_double(jb->file.nc, oid, name, vi->otype, len, v), "%s: cannot write %s of '%s'",
                          jb->out, name, vi->name);
            }
            continue;
        }
        NCW_CHECK(nc_copy_att(jb->nc, id, name, jb->file.nc, oid), "%s: cannot copy attribute '%s' of '%s'", jb->out,
                  name, vi->name);
    }
done:
    return status;
}

/* Dimensions, variables and attributes of the output. */
static int define_output(job *jb, int argc, char **argv) {
    int status = UTIL_OK, ndims = 0, nunlim = 0, *dimids = NULL, *unlim = NULL, *dmap = NULL, maxdim = -1;
    NCW_CHECK(nc_inq_dimids(jb->nc, &ndims, NULL, 0), "%s: cannot read the dimensions", jb->in);
    NCW_CHECK(nc_inq_unlimdims(jb->nc, &nunlim, NULL), "%s: cannot read the dimensions", jb->in);
    dimids = malloc(sizeof(int) * (ndims + 1));
    unlim = malloc(sizeof(int) * (nunlim + 1));
    if (!dimids || !unlim) {
        status = util_fail(UTIL_ENOMEM, "cannot allocate dimensions");
        goto done;
    }
    NCW_CHECK(nc_inq_dimids(jb->nc, &ndims, dimids, 0), "%s: cannot read the dimensions", jb->in);
    NCW_CHECK(nc_inq_unlimdims(jb->nc, &nunlim, unlim), "%s: cannot read the dimensions", jb->in);
    for (int d = 0; d < ndims; d++) maxdim = dimids[d] > maxdim ? dimids[d] : maxdim;
    if (!(dmap = malloc(sizeof(int) * (maxdim + 2)))) {
        status = util_fail(UTIL_ENOMEM, "cannot allocate dimensions");
        goto done;
    }
    for (int d = 0; d < ndims; d++) {
        char name[NC_MAX_NAME + 1];
        size_t len;
        NCW_CHECK(nc_inq_dim(jb->nc, dimids[d], name, &len), "%s: cannot read the dimensions", jb->in);
        int is_unlim = 0;
        for (int u = 0; u < nunlim; u++) is_unlim |= unlim[u] == dimids[d];
        if (dimids[d] == jb->lat_dim)
            len = (size_t)jb->w.Ho;
        else if (dimids[d] == jb->lon_dim)
            len = (size_t)jb->w.Wo;
        else if (is_unlim)
            len = NC_UNLIMITED;
        NCW_CHECK(nc_def_dim(jb->file.nc, name, len, &dmap[dimids[d]]), "%s: cannot define dimension '%s'", jb->out,
                  name);
    }
    for (int id = 0; id < jb->nvars; id++) {
        var_info *vi = &jb->v[id];
        int odims[NC_MAX_VAR_DIMS];
        for (int d = 0; d < vi->nd; d++) odims[d] = dmap[vi->dims[d]];
        NCW_CHECK(nc_def_var(jb->file.nc, vi->name, vi->otype, vi->nd, odims, &vi->out_id),
                  "%s: cannot define variable '%s'", jb->out, vi->name);
        if (vi->kind == KIND_REGRID) {
            size_t chunk[NC_MAX_VAR_DIMS];
            for (int d = 0; d < vi->nd; d++) chunk[d] = 1;
            chunk[vi->nd - 2] = (size_t)jb->w.Ho, chunk[vi->nd - 1] = (size_t)jb->w.Wo;
            NCW_CHECK(nc_def_var_chunking(jb->file.nc, vi->out_id, NC_CHUNKED, chunk), "%s: cannot chunk '%s'", jb->out,
                      vi->name);
            NCW_CHECK(nc_def_var_deflate(jb->file.nc, vi->out_id, 1, 1, 1), "%s: cannot compress '%s'", jb->out,
                      vi->name);
            if ((status = copy_regrid_atts(jb, vi, id))) goto done;
            continue;
        }
        if (vi->nd > 0 && vi->type != NC_STRING)
            NCW_CHECK(nc_def_var_deflate(jb->file.nc, vi->out_id, 1, 1, 1), "%s: cannot compress '%s'", jb->out,
                      vi->name);
        int natts = 0;
        NCW_CHECK(nc_inq_varnatts(jb->nc, id, &natts), "%s: cannot read the attributes of '%s'", jb->in, vi->name);
        for (int a = 0; a < natts; a++) {
            char name[NC_MAX_NAME + 1];
            NCW_CHECK(nc_inq_attname(jb->nc, id, a, name), "%s: cannot read the attributes of '%s'", jb->in, vi->name);
            NCW_CHECK(nc_copy_att(jb->nc, id, name, jb->file.nc, vi->out_id), "%s: cannot copy attribute '%s' of '%s'",
                      jb->out, name, vi->name);
        }
    }
    if ((status = copy_global_atts(jb, argc, argv))) goto done;
    NCW_CHECK(nc_enddef(jb->file.nc), "%s: cannot define the output", jb->out);
done:
    free(dimids);
    free(unlim);
    free(dmap);
    return status;
}

/* Copy a variable unchanged, in pieces of at most COPY_BYTES. */
static int copy_var(job *jb, const var_info *vi, int id) {
    int status = UTIL_OK;
    size_t len[NC_MAX_VAR_DIMS], start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS], esize = 0;
    void *buf = NULL;
    NCW_CHECK(nc_inq_type(jb->nc, vi->type, NULL, &esize), "%s: cannot read '%s'", jb->in, vi->name);
    size_t inner = 1, outer = 1;
    int p = vi->nd; /* dimensions p.. are read whole */
    for (int d = 0; d < vi->nd; d++)
        NCW_CHECK(nc_inq_dimlen(jb->nc, vi->dims[d], &len[d]), "%s: cannot read '%s'", jb->in, vi->name);
    while (p > 0 && inner * len[p - 1] * esize <= COPY_BYTES) inner *= len[--p];
    for (int d = 0; d < p; d++) outer *= len[d];
    if (inner == 0 || outer == 0) return UTIL_OK;
    if (!(buf = malloc(inner * esize)))
        return util_fail(UTIL_ENOMEM, "cannot allocate %zu bytes to copy '%s'", inner * esize, vi->name);
    for (int d = 0; d < vi->nd; d++) count[d] = d < p ? 1 : len[d];
    for (size_t o = 0; o < outer; o++) {
        size_t r = o;
        for (int d = p - 1; d >= 0; d--) start[d] = r % len[d], r /= len[d];
        NCW_CHECK(nc_get_vara(jb->nc, id, start, count, buf), "%s: cannot read variable '%s'", jb->in, vi->name);
        int rc = nc_put_vara(jb->file.nc, vi->out_id, start, count, buf);
        if (vi->type == NC_STRING) nc_free_string(inner, buf);
        NCW_CHECK(rc, "%s: cannot write variable '%s'", jb->out, vi->name);
    }
done:
    free(buf);
    return status;
}

/* Coarsen a variable slab by slab. */
static int regrid_var(job *jb, const var_info *vi, int id) {
    int status = UTIL_OK, nd = vi->nd;
    size_t len[NC_MAX_VAR_DIMS], start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS], ostart[NC_MAX_VAR_DIMS] = {0},
                                 ocount[NC_MAX_VAR_DIMS];
    size_t HW = (size_t)jb->w.H * jb->w.W, HWo = (size_t)jb->w.Ho * jb->w.Wo, nslab = 1;
    double *in = malloc(sizeof(double) * HW), *out = malloc(sizeof(double) * HWo);
    double wrap = unsigned_wrap(vi->type);
    int declared = vi->has_fill_att || vi->has_missing_att;
    if (!in || !out) {
        status = util_fail(UTIL_ENOMEM, "cannot allocate a %d x %d slab", jb->w.H, jb->w.W);
        goto done;
    }
    for (int d = 0; d < nd - 2; d++) {
        NCW_CHECK(nc_inq_dimlen(jb->nc, vi->dims[d], &len[d]), "%s: cannot read '%s'", jb->in, vi->name);
        nslab *= len[d];
        count[d] = ocount[d] = 1;
    }
    count[nd - 2] = (size_t)jb->w.H, count[nd - 1] = (size_t)jb->w.W;
    ocount[nd - 2] = (size_t)jb->w.Ho, ocount[nd - 1] = (size_t)jb->w.Wo;
    for (size_t s = 0; s < nslab; s++) {
        size_t r = s;
        for (int d = nd - 3; d >= 0; d--) start[d] = ostart[d] = r % len[d], r /= len[d];
        NCW_CHECK(nc_get_vara_double(jb->nc, id, start, count, in), "%s: cannot read variable '%s'", jb->in, vi->name);
        for (size_t i = 0; i < HW; i++) {
            double x = in[i];
            if (vi->is_unsigned && x < 0) x += wrap;
            for (int f = 0; f < vi->nfill; f++)
                if (x == vi->fill[f]) x = NAN;
            in[i] = x * vi->scale + vi->offset;
        }
        regrid_apply(&jb->w, in, out);
        if (declared)
            for (size_t i = 0; i < HWo; i++)
                if (isnan(out[i])) out[i] = vi->out_fill;
        NCW_CHECK(nc_put_vara_double(jb->file.nc, vi->out_id, ostart, ocount, out), "%s: cannot write variable '%s'",
                  jb->out, vi->name);
    }
done:
    free(in);
    free(out);
    return status;
}

static int write_data(job *jb) {
    int status = UTIL_OK;
    regrid_weights *w = &jb->w;
    for (int id = 0; id < jb->nvars && !status; id++) {
        var_info *vi = &jb->v[id];
        switch (vi->kind) {
        case KIND_LAT:
            NCW_CHECK(nc_put_var_double(jb->file.nc, vi->out_id, w->lat_out), "%s: cannot write '%s'", jb->out,
                      vi->name);
            break;
        case KIND_LON:
            NCW_CHECK(nc_put_var_double(jb->file.nc, vi->out_id, w->lon_out), "%s: cannot write '%s'", jb->out,
                      vi->name);
            break;
        case KIND_LAT_BOUNDS:
        case KIND_LON_BOUNDS: {
            int n = vi->kind == KIND_LAT_BOUNDS ? w->Ho : w->Wo;
            const double *e = vi->kind == KIND_LAT_BOUNDS ? w->lat_edges_out : w->lon_edges_out;
            double *b = malloc(sizeof(double) * 2 * n);
            if (!b) return util_fail(UTIL_ENOMEM, "cannot allocate bounds");
            for (int j = 0; j < n; j++) b[2 * j] = e[j], b[2 * j + 1] = e[j + 1];
            int rc = nc_put_var_double(jb->file.nc, vi->out_id, b);
            free(b);
            NCW_CHECK(rc, "%s: cannot write '%s'", jb->out, vi->name);
            break;
        }
        case KIND_COPY:
            status = copy_var(jb, vi, id);
            break;
        case KIND_REGRID:
            status = regrid_var(jb, vi, id);
            break;
        }
    }
done:
    return status;
}

/* Fail early, with a clear message, when the output's directory is missing
 * or not writable. */
static int check_output_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0; /* "/name" */
    else if (slash)
        *slash = 0;
    const char *d = slash ? dir : ".";
    if (access(d, W_OK) != 0)
        return util_fail(UTIL_EIO, "%s: cannot create the output file in '%s': %s", path, d, strerror(errno));
    return UTIL_OK;
}

static int run(job *jb, int K, int argc, char **argv) {
    int status = UTIL_OK, ngrps = 0, rc;
    size_t H = 0, W = 0;
    if ((rc = nc_open(jb->in, NC_NOWRITE, &jb->nc)) != NC_NOERR) {
        if (access(jb->in, R_OK) != 0)
            return util_fail(UTIL_EIO, "%s: cannot read the file (missing or not readable)", jb->in);
        return util_fail(UTIL_EFORMAT, "%s: not a NetCDF file, or truncated (%s)", jb->in, nc_strerror(rc));
    }
    jb->in_open = 1;
    if ((status = io_nc_check_size(jb->nc, jb->in))) return status;
    if (nc_inq_grps(jb->nc, &ngrps, NULL) == NC_NOERR && ngrps > 0)
        return util_fail(UTIL_EFORMAT, "%s: has %d groups: only files without groups are supported", jb->in, ngrps);
    if (nc_inq_nvars(jb->nc, &jb->nvars) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot list the variables", jb->in);
    if (!(jb->v = calloc((size_t)jb->nvars + 1, sizeof *jb->v)))
        return util_fail(UTIL_ENOMEM, "cannot allocate variables");
    if ((status = find_coord(jb, 0, &jb->lat_var, &jb->lat_dim)) ||
        (status = find_coord(jb, 1, &jb->lon_var, &jb->lon_dim)))
        return status;
    if (jb->lat_dim == jb->lon_dim)
        return util_fail(UTIL_EFORMAT,
                         "%s: latitude and longitude share one dimension (an unstructured grid?): expected a "
                         "regular latitude-longitude grid",
                         jb->in);
    if ((status = read_coord(jb, jb->lat_var, &jb->lat, &H)) || (status = read_coord(jb, jb->lon_var, &jb->lon, &W)))
        return status;
    if ((status = regrid_weights_build(&jb->w, jb->lat, (int)H, jb->lon, (int)W, K))) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", util_last_message());
        return util_fail(status, "%s: %s", jb->in, msg);
    }
    if ((status = classify(jb)) || (status = check_output_dir(jb->out))) return status;
    if ((status = ncw_begin(&jb->file, jb->out)) || (status = ncw_create(&jb->file, NC_NETCDF4))) return status;
    if ((status = define_output(jb, argc, argv)) || (status = write_data(jb))) return status;
    return ncw_commit(&jb->file);
}

static const cfg_key regrid_keys[] = {
    {"regrid", "factor", NULL, "K: every K-th longitude from the first (K divides W); every K-th latitude when the grid "
                              "runs from pole to pole (K divides H - 1), else blocks of K latitudes (K divides H)",
     CFG_INT, 2, 1000000},
    {"regrid", "input", NULL, "the NetCDF file to coarsen"},
    {"regrid", "output", NULL, "the coarsened NetCDF file (never the input)"},
};

int cli_regrid(int argc, char **argv) {
    job jb = {.lat_var = -1, .lon_var = -1, .file.nc = -1};
    cfg opt;
    int rc = CLI_ARGS(&opt, regrid_keys, argc, argv, "regrid", "--factor K --input IN.nc --output OUT.nc",
                      "Conservative (area-weighted, as cdo remapcon) coarsening of every (..., latitude, longitude) "
                      "variable by K.");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"factor", "input", "output"};
    if (cli_require(&opt, "regrid", need, 3)) return 2;
    jb.in = cfg_get(&opt, "input"), jb.out = cfg_get(&opt, "output");
    long K = (long)cfg_get_int(&opt, "factor");
    if (util_check_output(jb.out, &jb.in, 1)) return cli_error("regrid", UTIL_EINVAL);
    int status = run(&jb, (int)K, argc, argv);
    ncw_discard(&jb.file);
    if (jb.in_open) nc_close(jb.nc);
    int H = jb.w.H, W = jb.w.W, Ho = jb.w.Ho, Wo = jb.w.Wo, nreg = 0;
    for (int i = 0; i < jb.nvars && jb.v; i++) nreg += jb.v[i].kind == KIND_REGRID;
    const char *mode = jb.w.lat_mode == REGRID_LAT_SUBSAMPLE ? "every K-th latitude" : "blocks of K latitudes";
    regrid_weights_free(&jb.w);
    free(jb.v);
    free(jb.lat);
    free(jb.lon);
    if (status) return cli_error("regrid", status);
    fprintf(stderr, "pangu regrid: wrote %s (%d x %d -> %d x %d, factor %ld, %s; %d variables coarsened, %d copied)\n",
            jb.out, H, W, Ho, Wo, K, mode, nreg, jb.nvars - nreg);
    return 0;
}
