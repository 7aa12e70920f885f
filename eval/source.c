/* eval sources: forecast files (pangu's own layout and numerical forecasts
 * as users hold them) and the day-of-year climatology, read one field at a
 * time in the reader's orientation (north to south, longitudes ascending
 * from the first at or east of 0). */
#define _DEFAULT_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../io/grib.h"
#include "../util/util.h"
#include "eval.h"

#define NVARS (IO_NUPPER + IO_NSURFACE)

static const char *var_name(int v) { return v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER]; }

/* Length of name without a trailing _YYYYMMDD[HH[MM]] part (n when none). */
static size_t strip_init(const char *name, size_t n) {
    size_t d = 0;
    while (d < n && name[n - 1 - d] >= '0' && name[n - 1 - d] <= '9') d++;
    return (d == 8 || d == 10 || d == 12) && n > d + 1 && name[n - 1 - d] == '_' ? n - 1 - d : n;
}

void eval_source_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    snprintf(out, cap, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
    size_t n = strlen(out);
    /* a step part (_f024, _024h) after the initial time: one file per step */
    size_t k = n, cut = n;
    int hours = k > 0 && out[k - 1] == 'h';
    if (hours) k--;
    size_t dend = k;
    while (k > 0 && out[k - 1] >= '0' && out[k - 1] <= '9') k--;
    if (dend - k >= 1 && dend - k <= 4) {
        if (!hours && k >= 2 && out[k - 1] == 'f' && out[k - 2] == '_') cut = k - 2;
        else if (hours && k >= 1 && out[k - 1] == '_') cut = k - 1;
    }
    if (cut < n && strip_init(out, cut) < cut) n = cut;
    out[strip_init(out, n)] = 0;
}

static int find_var(int nc, const char *const *names, int *varid) {
    for (int i = 0; names[i]; i++)
        if (nc_inq_varid(nc, names[i], varid) == NC_NOERR) return 1;
    return 0;
}

static const char *const lat_names[] = {"latitude", "lat", NULL};
static const char *const lon_names[] = {"longitude", "lon", NULL};
static const char *const lev_names[] = {"level", "pressure_level", "plev", "isobaricInhPa", "lev", NULL};
static const char *const init_atts[] = {"forecast_reference_time", "init_time", "initial_time", "reference_time",
                                        "analysis_time", NULL};

/* A one-dimensional coordinate: values and dimension. */
static int read_coord(int nc, int varid, const char *path, const char *what, double **out, size_t *n, int *dim) {
    int ndims;
    if (nc_inq_varndims(nc, varid, &ndims) != NC_NOERR || ndims != 1 || nc_inq_vardimid(nc, varid, dim) != NC_NOERR ||
        nc_inq_dimlen(nc, *dim, n) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: the %s coordinate should be one-dimensional", path, what);
    *out = malloc(sizeof(double) * (*n ? *n : 1));
    if (!*out) return util_fail(UTIL_ENOMEM, "out of memory");
    int rc = nc_get_var_double(nc, varid, *out);
    if (rc != NC_NOERR) return util_fail(UTIL_EFORMAT, "%s: cannot read the %s coordinate (%s)", path, what, nc_strerror(rc));
    return UTIL_OK;
}

/* The reader's orientation: latitude north to south, longitudes ascending
 * from the first at or east of 0 (mod 360). */
typedef struct {
    int flip;
    size_t *perm;    /* (W) file column of each output column */
    double *lat, *lon; /* canonical */
} orient;

static int cmp_pair(const void *a, const void *b) {
    const double *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static int orient_init(orient *o, const double *lat, int H, const double *lon, int W, const char *path) {
    o->perm = malloc(sizeof(size_t) * W), o->lat = malloc(sizeof(double) * H), o->lon = malloc(sizeof(double) * W);
    double *key = malloc(sizeof(double) * 2 * W);
    if (!o->perm || !o->lat || !o->lon || !key) {
        free(key);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    o->flip = H > 1 && lat[0] < lat[H - 1];
    for (int i = 0; i < H; i++) o->lat[i] = o->flip ? lat[H - 1 - i] : lat[i];
    for (int j = 0; j < W; j++) {
        double l = fmod(lon[j], 360.0);
        key[2 * j] = l < 0 ? l + 360 : l, key[2 * j + 1] = j;
    }
    qsort(key, (size_t)W, 2 * sizeof(double), cmp_pair);
    int status = UTIL_OK;
    for (int j = 0; j < W; j++) {
        o->perm[j] = (size_t)key[2 * j + 1], o->lon[j] = key[2 * j];
        if (j && o->lon[j] == o->lon[j - 1]) status = util_fail(UTIL_EFORMAT, "%s: longitude %g appears twice", path, o->lon[j]);
    }
    free(key);
    return status;
}

static void orient_free(orient *o) { free(o->perm), free(o->lat), free(o->lon); }

static void orient_apply(const orient *o, const float *in, int H, int W, float *out) {
    for (int i = 0; i < H; i++) {
        const float *row = in + (size_t)(o->flip ? H - 1 - i : i) * W;
        for (int j = 0; j < W; j++) out[(size_t)i * W + j] = row[o->perm[j]];
    }
}

/* ---- forecast files ---- */

/* How the variables of one native file are laid out: per variable its
 * dimension count and the axes of member, step and level (-1: none). */
typedef struct {
    int nc;
    int varid[NVARS], ndims[NVARS], member_axis[NVARS], step_axis[NVARS], lev_axis[NVARS];
    int init_axis[NVARS], lat_axis[NVARS], lon_axis[NVARS];
} fc_vars;

struct eval_fc {
    char path[4096]; /* for messages: the first file (and how many others) */
    eval_fc_info info;
    int nc;
    /* pangu layouts */
    fc_vars main;
    int step_dim, member_dim, lev_dim, lat_dim, lon_dim;
    int init_dim;     /* WeatherBench 2's time(time) of initial times (-1: none) */
    long init_index;  /* the initial time read along it (-1: the file's only one) */
    double *file_lev; /* hPa, file order */
    size_t file_nlev;
    fc_vars *mem;     /* ensembles of one file per member: each member's file */
    int nmem;
    orient o;
    float *tmp;
    /* other layouts: the reader */
    io_series *series;
    int cur_step;
    io_state cur;
    int only;                         /* eval_fc_only: only these variables and levels */
    int only_var[NVARS], only_nlev;
    float only_lev[IO_MAX_LEVELS];
};

const eval_fc_info *eval_fc_describe(const eval_fc *f) { return &f->info; }

void eval_fc_close(eval_fc *f) {
    if (!f) return;
    if (f->nc >= 0) nc_close(f->nc);
    for (int m = 0; m < f->nmem; m++)
        if (f->mem[m].nc >= 0) nc_close(f->mem[m].nc);
    free(f->mem);
    io_series_close(f->series);
    io_state_free(&f->cur);
    orient_free(&f->o);
    free(f->file_lev), free(f->tmp), free(f->info.valid), free(f->info.lead);
    free(f);
}

/* Seconds since 1970 from a value in a variable's CF time units. */
static int to_seconds(int nc, int varid, const char *path, const char *what, double value, double *out) {
    char units[128];
    double unit, epoch;
    if (!io_text_att(nc, varid, "units", units, sizeof units))
        return util_fail(UTIL_EFORMAT, "%s: %s has no units (expected e.g. \"hours since 1900-01-01\")", path, what);
    if (util_time_units(units, &unit, &epoch)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", util_last_message());
        return util_fail(UTIL_EFORMAT, "%s: %s: %s", path, what, msg);
    }
    *out = epoch + value * unit;
    return UTIL_OK;
}

static int hours_per_unit(const char *units, double *h) {
    if (!units[0] || !strcasecmp(units, "hours") || !strcasecmp(units, "hour") || !strcasecmp(units, "h")) *h = 1;
    else if (!strcasecmp(units, "minutes") || !strcasecmp(units, "minute") || !strcasecmp(units, "min")) *h = 1.0 / 60;
    else if (!strcasecmp(units, "seconds") || !strcasecmp(units, "second") || !strcasecmp(units, "s")) *h = 1.0 / 3600;
    else if (!strcasecmp(units, "days") || !strcasecmp(units, "day")) *h = 24;
    else return 0;
    return 1;
}

/* The initial time: a scalar forecast_reference_time variable, an init-time
 * attribute (global or on the time variable), a scalar time variable next
 * to a valid_time axis (cfgrib), or the valid time minus a forecast_period
 * (by standard_name) along the time axis (as CDO writes leadtime). 1 when
 * found, 0 when not, -1 on error. */
static int find_init(int nc, const char *path, double *init) {
    int varid, ndims, status;
    double v;
    if (nc_inq_varid(nc, "forecast_reference_time", &varid) == NC_NOERR && nc_inq_varndims(nc, varid, &ndims) == NC_NOERR &&
        ndims == 0) {
        if (nc_get_var_double(nc, varid, &v) != NC_NOERR) {
            util_fail(UTIL_EFORMAT, "%s: cannot read forecast_reference_time", path);
            return -1;
        }
        return (status = to_seconds(nc, varid, path, "forecast_reference_time", v, init)) ? -1 : 1;
    }
    int tvar = -1;
    if (nc_inq_varid(nc, "time", &tvar) != NC_NOERR) tvar = -1;
    int where[2] = {NC_GLOBAL, tvar};
    for (int w = 0; w < 2; w++) {
        if (where[w] == -1 && w == 1) break;
        for (int a = 0; init_atts[a]; a++) {
            char text[128];
            nc_type type;
            size_t len;
            if (nc_inq_att(nc, where[w], init_atts[a], &type, &len) != NC_NOERR) continue;
            if (io_text_att(nc, where[w], init_atts[a], text, sizeof text)) {
                char *t = text;
                while (*t == ' ') t++;
                if (util_time_parse(t, init)) {
                    util_fail(UTIL_EFORMAT, "%s: attribute %s = \"%s\": expected a time like 2020-01-31T00:00:00", path,
                              init_atts[a], text);
                    return -1;
                }
                return 1;
            }
            if (len == 1 && type != NC_CHAR && type != NC_STRING && tvar >= 0 &&
                nc_get_att_double(nc, where[w], init_atts[a], &v) == NC_NOERR)
                return to_seconds(nc, tvar, path, init_atts[a], v, init) ? -1 : 1;
        }
    }
    int vt;
    if (tvar >= 0 && nc_inq_varid(nc, "valid_time", &vt) == NC_NOERR && nc_inq_varndims(nc, tvar, &ndims) == NC_NOERR &&
        ndims == 0 && nc_get_var_double(nc, tvar, &v) == NC_NOERR)
        return to_seconds(nc, tvar, path, "time", v, init) ? -1 : 1;
    int tdim, nvars = 0;
    if (tvar >= 0 && nc_inq_varndims(nc, tvar, &ndims) == NC_NOERR && ndims == 1 && nc_inq_vardimid(nc, tvar, &tdim) == NC_NOERR &&
        nc_inq_nvars(nc, &nvars) == NC_NOERR)
        for (int id = 0; id < nvars; id++) {
            char sn[64], units[64];
            int nd, d;
            double h, t0, fp0;
            size_t zero = 0;
            if (!io_text_att(nc, id, "standard_name", sn, sizeof sn) || strcmp(sn, "forecast_period") ||
                nc_inq_varndims(nc, id, &nd) != NC_NOERR || nd != 1 || nc_inq_vardimid(nc, id, &d) != NC_NOERR || d != tdim)
                continue;
            io_text_att(nc, id, "units", units, sizeof units);
            if (!hours_per_unit(units, &h) || nc_get_var1_double(nc, id, &zero, &fp0) != NC_NOERR ||
                nc_get_var1_double(nc, tvar, &zero, &t0) != NC_NOERR)
                continue;
            if (to_seconds(nc, tvar, path, "time", t0, init)) return -1;
            *init -= fp0 * h * 3600;
            return 1;
        }
    return 0;
}


/* WeatherBench 2's variable names, by model variable. */
static const char *const wb2_names[NVARS] = {"geopotential", "specific_humidity", "temperature", "u_component_of_wind",
                                             "v_component_of_wind", "mean_sea_level_pressure", "10m_u_component_of_wind",
                                             "10m_v_component_of_wind", "2m_temperature"};

static int dim_is(int nc, int dim, const char *name) {
    char dn[NC_MAX_NAME + 1];
    return nc_inq_dimname(nc, dim, dn) == NC_NOERR && !strcmp(dn, name);
}

/* Ensemble dimensions: pangu's and WB2's metrics.py (realization), WB2's
 * scripts/evaluate.py --ensemble_dim default and its IFS ENS datasets
 * (number, docs/source/data-guide.ipynb). */
static int is_member_dim(int nc, int dim) {
    return dim_is(nc, dim, "member") || dim_is(nc, dim, "realization") || dim_is(nc, dim, "number");
}

/* The axes of one variable by dimension, in any order: step, latitude,
 * longitude, level (upper-air), initial time (WB2's time), a member
 * dimension; any other of length 1. 1 when they fit. */
static int map_axes(eval_fc *f, int nc, fc_vars *fv, int v, const int *dims, int nd, int *member_dim) {
    int upper = v < IO_NUPPER;
    fv->member_axis[v] = fv->lev_axis[v] = fv->step_axis[v] = fv->init_axis[v] = fv->lat_axis[v] = fv->lon_axis[v] = -1;
    for (int k = 0; k < nd; k++) {
        int d = dims[k];
        size_t len = 0;
        nc_inq_dimlen(nc, d, &len);
        if (d == f->lat_dim) fv->lat_axis[v] = k;
        else if (d == f->lon_dim) fv->lon_axis[v] = k;
        else if (d == f->step_dim) fv->step_axis[v] = k;
        else if (upper && d == f->lev_dim) fv->lev_axis[v] = k;
        else if (f->init_dim >= 0 && d == f->init_dim) fv->init_axis[v] = k;
        else if (is_member_dim(nc, d)) {
            if (*member_dim < 0) *member_dim = d;
            if (d != *member_dim || fv->member_axis[v] >= 0) return 0;
            fv->member_axis[v] = k;
        } else if (len != 1)
            return 0;
    }
    return fv->lat_axis[v] >= 0 && fv->lon_axis[v] >= 0 && fv->step_axis[v] >= 0 && (!upper || fv->lev_axis[v] >= 0) &&
           (f->init_dim < 0 || fv->init_axis[v] >= 0);
}

/* The variables of a pangu or WB2 forecast file by short name (or WB2
 * name): dimensions as map_axes takes them. Dimension ids are the file's. */
static int scan_vars(eval_fc *f, int nc, const char *path, fc_vars *fv, int *has, int *member_dim) {
    fv->nc = nc;
    for (int v = 0; v < NVARS; v++) {
        fv->varid[v] = -1;
        int id, nd, dims[NC_MAX_VAR_DIMS];
        if ((nc_inq_varid(nc, var_name(v), &id) != NC_NOERR && nc_inq_varid(nc, wb2_names[v], &id) != NC_NOERR) ||
            nc_inq_varndims(nc, id, &nd) != NC_NOERR || nd > 6 || nc_inq_vardimid(nc, id, dims) != NC_NOERR)
            continue;
        if (!map_axes(f, nc, fv, v, dims, nd, member_dim))
            return util_fail(UTIL_EFORMAT, "%s: variable '%s' should be on %s[member or number,] step,%s latitude and longitude "
                                           "(in any order)", path, var_name(v), f->init_dim >= 0 ? "time, " : "",
                             v < IO_NUPPER ? " level," : "");
        fv->varid[v] = id, fv->ndims[v] = nd, has[v] = 1;
    }
    return UTIL_OK;
}

/* Ensembles written one file per member (the global attribute
 * ensemble_member_files of the mean and spread file): open every member,
 * checking it has this file's steps, grid and levels. */
static int open_members(eval_fc *f, const char *list) {
    eval_fc_info *in = &f->info;
    char *copy = strdup(list), *save = NULL;
    int status = UTIL_OK, cap = 0;
    if (!copy) return util_fail(UTIL_ENOMEM, "out of memory");
    const char *slash = strrchr(f->path, '/');
    int dirlen = slash ? (int)(slash - f->path + 1) : 0;
    for (char *name = strtok_r(copy, " ", &save); name && !status; name = strtok_r(NULL, " ", &save)) {
        if (f->nmem == cap) {
            fc_vars *g = realloc(f->mem, sizeof *g * (size_t)(cap = cap ? 2 * cap : 16));
            if (!g) {
                status = util_fail(UTIL_ENOMEM, "out of memory");
                break;
            }
            f->mem = g;
        }
        char p[8192];
        snprintf(p, sizeof p, "%.*s%s", dirlen, f->path, name);
        fc_vars *fv = &f->mem[f->nmem];
        fv->nc = -1;
        int rc = nc_open(p, NC_NOWRITE, &fv->nc);
        if (rc != NC_NOERR) {
            fv->nc = -1;
            status = util_fail(UTIL_EFORMAT, "%s: cannot open ensemble member file %s (%s)", f->path, p, nc_strerror(rc));
            break;
        }
        f->nmem++;
        /* The member's dimensions by name, checked against the index file's. */
        int dims[4] = {f->step_dim, f->lev_dim, f->lat_dim, f->lon_dim}, ids[4] = {-1, -1, -1, -1};
        for (int i = 0; i < 4 && !status; i++) {
            if (dims[i] < 0) continue;
            char dn[NC_MAX_NAME + 1];
            size_t a = 0, b = 0;
            nc_inq_dim(f->nc, dims[i], dn, &a);
            if (nc_inq_dimid(fv->nc, dn, &ids[i]) != NC_NOERR || nc_inq_dimlen(fv->nc, ids[i], &b) != NC_NOERR || a != b)
                status = util_fail(UTIL_EFORMAT, "%s: dimension '%s' differs from that of %s", p, dn, f->path);
        }
        if (status) break;
        int save_dims[5] = {f->step_dim, f->lev_dim, f->lat_dim, f->lon_dim, f->init_dim}, has[NVARS] = {0}, mdim = -1;
        f->step_dim = ids[0], f->lev_dim = ids[1], f->lat_dim = ids[2], f->lon_dim = ids[3], f->init_dim = -1;
        status = scan_vars(f, fv->nc, p, fv, has, &mdim);
        f->step_dim = save_dims[0], f->lev_dim = save_dims[1], f->lat_dim = save_dims[2], f->lon_dim = save_dims[3];
        f->init_dim = save_dims[4];
        if (!status && mdim >= 0) status = util_fail(UTIL_EFORMAT, "%s: an ensemble member file with a member dimension", p);
        for (int v = 0; v < NVARS && !status; v++) {
            if (f->nmem == 1) in->has[v] = has[v];
            else if (has[v] != in->has[v])
                status = util_fail(UTIL_EFORMAT, "%s: variable '%s' %s, unlike the first member's file", p, var_name(v),
                                   has[v] ? "present" : "missing");
        }
    }
    free(copy);
    if (!status && f->nmem < 1) status = util_fail(UTIL_EFORMAT, "%s: ensemble_member_files names no file", f->path);
    in->members = f->nmem;
    return status;
}

/* The grid (oriented north to south, longitudes from 0) and the pressure levels in hPa. */
static int read_grid(eval_fc *f, int nc, const char *path) {
    eval_fc_info *in = &f->info;
    int status = UTIL_OK, varid;
    double *lat = NULL, *lon = NULL;
    size_t H, W;
    if (!find_var(nc, lat_names, &varid)) return util_fail(UTIL_EFORMAT, "%s: no latitude coordinate", path);
    if ((status = read_coord(nc, varid, path, "latitude", &lat, &H, &f->lat_dim))) goto done;
    if (!find_var(nc, lon_names, &varid)) {
        status = util_fail(UTIL_EFORMAT, "%s: no longitude coordinate", path);
        goto done;
    }
    if ((status = read_coord(nc, varid, path, "longitude", &lon, &W, &f->lon_dim))) goto done;
    in->H = (int)H, in->W = (int)W;
    if ((status = orient_init(&f->o, lat, (int)H, lon, (int)W, path))) goto done;
    f->lev_dim = -1;
    if (find_var(nc, lev_names, &varid)) {
        if ((status = read_coord(nc, varid, path, "level", &f->file_lev, &f->file_nlev, &f->lev_dim))) goto done;
        char units[64];
        io_text_att(nc, varid, "units", units, sizeof units);
        double mx = 0;
        for (size_t i = 0; i < f->file_nlev; i++) mx = fmax(mx, f->file_lev[i]);
        /* levels in Pa, said or evident from their size */
        if (!strcmp(units, "Pa") || !strcmp(units, "pascal") || (!units[0] && mx > 2000))
            for (size_t i = 0; i < f->file_nlev; i++) f->file_lev[i] /= 100;
        if (f->file_nlev > IO_MAX_LEVELS) {
            status = util_fail(UTIL_EFORMAT, "%s: %zu levels, at most %d supported", path, f->file_nlev, IO_MAX_LEVELS);
            goto done;
        }
    }
done:
    free(lat), free(lon);
    return status;
}

/* The leads in hours from the lead coordinate fp_var, whatever its time unit. */
static int read_leads(eval_fc *f, int nc, const char *path, int fp_var, size_t nsteps) {
    eval_fc_info *in = &f->info;
    int status = UTIL_OK;
    double *fp = malloc(sizeof(double) * (nsteps ? nsteps : 1));
    in->valid = malloc(sizeof(double) * (nsteps ? nsteps : 1)), in->lead = malloc(sizeof(double) * (nsteps ? nsteps : 1));
    if (!fp || !in->valid || !in->lead) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    in->nsteps = (int)nsteps;
    char units[64];
    double hpu;
    io_text_att(nc, fp_var, "units", units, sizeof units);
    if (!hours_per_unit(units, &hpu)) {
        status = util_fail(UTIL_EFORMAT, "%s: lead units '%s': expected hours, minutes, seconds or days", path, units);
        goto done;
    }
    if (nc_get_var_double(nc, fp_var, fp) != NC_NOERR) {
        status = util_fail(UTIL_EFORMAT, "%s: cannot read the lead coordinate", path);
        goto done;
    }
    for (size_t s = 0; s < nsteps; s++) in->lead[s] = fp[s] * hpu;
done:
    free(fp);
    return status;
}

/* WeatherBench 2: initial times on time(time), many per file (data-guide:
 * forecasts on (time, prediction_timedelta, ...)); one is read. *found is set when one is. */
static int read_wb2_init(eval_fc *f, int nc, const char *path, int *found) {
    eval_fc_info *in = &f->info;
    int tv = -1, td, dim;
    size_t ninit = 0;
    if (*found || nc_inq_varid(nc, "time", &tv) != NC_NOERR || nc_inq_varndims(nc, tv, &td) != NC_NOERR || td != 1 ||
        nc_inq_vardimid(nc, tv, &dim) != NC_NOERR || nc_inq_dimlen(nc, dim, &ninit) != NC_NOERR || ninit < 1 ||
        dim == f->step_dim)
        return UTIL_OK;
    if (ninit > 1 && (f->init_index < 0 || (size_t)f->init_index >= ninit))
        return util_fail(UTIL_EFORMAT, "%s: %zu initial times on time(time): one of them is read at a time", path, ninit);
    size_t at = ninit > 1 ? (size_t)f->init_index : 0;
    double v;
    if (nc_get_var1_double(nc, tv, &at, &v) != NC_NOERR || to_seconds(nc, tv, path, "time", v, &in->init))
        return util_fail(UTIL_EFORMAT, "%s: cannot read the initial time (time)", path);
    if (ninit > 1) f->init_dim = dim;
    *found = 1;
    return UTIL_OK;
}

/* Valid times from valid_time(step) or time(step), checked against init + lead; or init + lead when the
 * file has none. found says whether the initial time is known yet. */
static int read_valid_times(eval_fc *f, int nc, const char *path, int found, size_t nsteps) {
    eval_fc_info *in = &f->info;
    int status = UTIL_OK, varid, td, dim, tv = -1;
    static const char *const valid_names[] = {"valid_time", "time", NULL};
    for (int i = 0; valid_names[i] && tv < 0; i++)
        if (nc_inq_varid(nc, valid_names[i], &varid) == NC_NOERR && nc_inq_varndims(nc, varid, &td) == NC_NOERR && td == 1 &&
            nc_inq_vardimid(nc, varid, &dim) == NC_NOERR && dim == f->step_dim)
            tv = varid;
    if (tv < 0) {
        if (!found)
            return util_fail(UTIL_EFORMAT, "%s: cannot tell the initial time: no forecast_reference_time and no valid_time "
                                           "(keep them when extracting variables, e.g. ncks -v z,valid_time,forecast_reference_time)",
                             path);
        for (size_t s = 0; s < nsteps; s++) in->valid[s] = in->init + in->lead[s] * 3600;
        return UTIL_OK;
    }
    if (nc_get_var_double(nc, tv, in->valid) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot read the valid times", path);
    for (size_t s = 0; s < nsteps && !status; s++) status = to_seconds(nc, tv, path, "the valid time", in->valid[s], &in->valid[s]);
    if (status) return status;
    if (!found && nsteps) in->init = in->valid[0] - in->lead[0] * 3600;
    for (size_t s = 0; s < nsteps; s++)
        if (fabs(in->valid[s] - (in->init + in->lead[s] * 3600)) > 1) {
            char a[64], b[64];
            util_time_format(in->valid[s], a, sizeof a), util_time_format(in->init, b, sizeof b);
            return util_fail(UTIL_EFORMAT, "%s: step %zu is valid at %s, but the initial time %s plus the lead "
                                           "%g h differs", path, s, a, b, in->lead[s]);
        }
    return UTIL_OK;
}

/* The variables and the members: a member dimension, or one file per member (this file may list them in
 * ensemble_member_files, or be one of them). */
static int read_members(eval_fc *f, int nc, const char *path) {
    eval_fc_info *in = &f->info;
    int status;
    f->member_dim = -1;
    if ((status = scan_vars(f, nc, path, &f->main, in->has, &f->member_dim))) return status;
    if (f->member_dim >= 0) {
        size_t m;
        nc_inq_dimlen(nc, f->member_dim, &m);
        in->members = (int)m;
        if (m < 1 || m > 256) return util_fail(UTIL_EFORMAT, "%s: %zu ensemble members, expected 1 to 256", path, m);
    }
    size_t len = 0;
    if (nc_inq_attlen(nc, NC_GLOBAL, "ensemble_member_files", &len) == NC_NOERR) {
        char *list = malloc(len + 1);
        if (!list || nc_get_att_text(nc, NC_GLOBAL, "ensemble_member_files", list) != NC_NOERR) {
            free(list);
            return util_fail(UTIL_EFORMAT, "%s: cannot read ensemble_member_files", path);
        }
        list[len] = 0;
        status = open_members(f, list);
        free(list);
        if (status) return status;
        if (in->members > 256)
            return util_fail(UTIL_EFORMAT, "%s: %d ensemble members, expected 1 to 256", path, in->members);
    }
    /* One member of an ensemble written one file per member. */
    if (nc_inq_att(nc, NC_GLOBAL, "ensemble_member", NULL, NULL) == NC_NOERR) {
        char name[1024];
        in->member_file = 1;
        if (io_text_att(nc, NC_GLOBAL, "ensemble_file", name, sizeof name)) {
            const char *slash = strrchr(path, '/');
            snprintf(in->ensemble_file, sizeof in->ensemble_file, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, name);
        }
    }
    return UTIL_OK;
}

/* pangu forecast layouts: the lead lead_var(step) (forecast_period, or step
 * as a CF duration, or WeatherBench 2's prediction_timedelta), variables on
 * ([member,] step, [level,] latitude, longitude); ensembles with a member
 * dimension or one file per member. */
static int open_native(eval_fc *f, int fp_var) {
    int nc = f->nc, status;
    eval_fc_info *in = &f->info;
    const char *path = f->path;
    size_t nsteps;
    char complete[16];
    if (io_text_att(nc, NC_GLOBAL, "complete", complete, sizeof complete) && strcmp(complete, "yes"))
        return util_fail(UTIL_EFORMAT, "%s: an unfinished forecast (complete = \"%s\"): rerun pangu forecast to finish it", path,
                         complete);
    if (nc_inq_vardimid(nc, fp_var, &f->step_dim) != NC_NOERR || nc_inq_dimlen(nc, f->step_dim, &nsteps) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot read the lead coordinate", path);
    if ((status = read_grid(f, nc, path))) return status;
    /* steps: leads from the lead coordinate, valid times from valid_time(step), time(step) or init + lead */
    if ((status = read_leads(f, nc, path, fp_var, nsteps))) return status;
    int found = find_init(nc, path, &in->init);
    if (found < 0) return UTIL_EFORMAT;
    if ((status = read_wb2_init(f, nc, path, &found)) || (status = read_valid_times(f, nc, path, found, nsteps)) ||
        (status = read_members(f, nc, path)))
        return status;
    int any = 0;
    for (int v = 0; v < NVARS; v++) any |= in->has[v];
    if (!any)
        return util_fail(UTIL_EFORMAT, "%s: none of z q t u v msl u10 v10 t2m on (step, [level,] latitude, longitude)", path);
    in->nlev = (int)f->file_nlev;
    for (size_t i = 0; i < f->file_nlev; i++) in->levels[i] = (float)f->file_lev[i];
    f->tmp = malloc(sizeof(float) * 2 * (size_t)in->H * (size_t)in->W);
    if (!f->tmp) return util_fail(UTIL_ENOMEM, "out of memory");
    return UTIL_OK;
}

static const char *const init_help =
    "give it with --init T (for --forecast) or NAME=FILES@T (for --baseline NAME=FILES)";

/* Numerical forecasts as users hold them: the reader's layouts, one series
 * over the files, valid times on the time axis (or GRIB's validity time),
 * the initial time from the files or as given. */
static int open_series(eval_fc *f, const char *const *paths, int npaths, double given) {
    eval_fc_info *in = &f->info;
    int status;
    double declared = NAN;
    const char *who = NULL;
    for (int i = 0; i < npaths; i++) {
        int nc, found = 0;
        double t;
        if (io_grib_detect(paths[i]) || nc_open(paths[i], NC_NOWRITE, &nc) != NC_NOERR) continue;
        found = find_init(nc, paths[i], &t);
        nc_close(nc);
        if (found < 0) return UTIL_EFORMAT;
        if (!found) continue;
        if (isnan(declared)) declared = t, who = paths[i];
        else if (fabs(t - declared) > 0.5) {
            char a[64], b[64];
            util_time_format(declared, a, sizeof a), util_time_format(t, b, sizeof b);
            return util_fail(UTIL_EFORMAT, "%s declares the initial time %s, %s %s: files of one forecast must share it", who, a,
                             paths[i], b);
        }
    }
    if ((status = io_series_open(&f->series, paths, npaths))) return status;
    double r0, r1;
    if (io_series_reference_time(f->series, &r0, &r1)) {
        char a[64], b[64];
        util_time_format(r0, a, sizeof a), util_time_format(r1, b, sizeof b);
        if (r1 - r0 > 0.5)
            return util_fail(UTIL_EFORMAT, "%s: GRIB messages from several initial times (dataDate/dataTime from %s to %s): a "
                                           "forecast is the files of one run", f->path, a, b);
        if (!isnan(declared) && fabs(r0 - declared) > 0.5) {
            util_time_format(declared, b, sizeof b);
            return util_fail(UTIL_EFORMAT, "%s: its GRIB files are of the run of %s, %s declares %s", f->path, a, who, b);
        }
        if (isnan(declared)) declared = r0, who = f->path;
    }
    if (isnan(declared) && isnan(given))
        return util_fail(UTIL_EFORMAT, "%s: cannot tell the initial time (no forecast_period(step) or forecast_reference_time "
                                       "variable, no init_time attribute, no GRIB dataDate/dataTime): %s", f->path, init_help);
    if (!isnan(declared) && !isnan(given) && fabs(declared - given) > 0.5) {
        char a[64], b[64];
        util_time_format(declared, a, sizeof a), util_time_format(given, b, sizeof b);
        return util_fail(UTIL_EFORMAT, "%s declares the initial time %s, but %s is given for it", who, a, b);
    }
    in->init = isnan(declared) ? given : declared;
    if ((status = io_series_describe(f->series, &in->H, &in->W, in->levels, &in->nlev))) return status;
    size_t n = io_series_ntimes(f->series);
    if (!n) return util_fail(UTIL_EFORMAT, "%s: no time axis: cannot tell the valid times of the forecast", f->path);
    in->nsteps = (int)n;
    in->valid = malloc(sizeof(double) * n), in->lead = malloc(sizeof(double) * n);
    if (!in->valid || !in->lead) return util_fail(UTIL_ENOMEM, "out of memory");
    for (size_t s = 0; s < n; s++) {
        in->valid[s] = io_series_time(f->series, s);
        in->lead[s] = (in->valid[s] - in->init) / 3600.0;
    }
    /* the reader reads states whole: the variables no file holds as NaN, never scored */
    io_series_allow_absent(f->series);
    for (int v = 0; v < NVARS; v++) in->has[v] = io_series_has(f->series, v);
    f->cur_step = -1;
    return UTIL_OK;
}

int eval_fc_member_of(const char *path, char *ensemble, size_t cap) {
    int nc, found = 0;
    char name[1024];
    ensemble[0] = 0;
    if (nc_open(path, NC_NOWRITE, &nc) != NC_NOERR) return 0;
    if (nc_inq_att(nc, NC_GLOBAL, "ensemble_member", NULL, NULL) == NC_NOERR &&
        io_text_att(nc, NC_GLOBAL, "ensemble_file", name, sizeof name)) {
        const char *slash = strrchr(path, '/');
        snprintf(ensemble, cap, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, name);
        found = 1;
    }
    nc_close(nc);
    return found;
}

/* A pangu forecast file? Then *fp is its lead variable and *nc open. pangu's
 * layouts by their lead coordinate: forecast_period(time) (CF's forecast
 * form, today's) or forecast_period(step) (before 2026-12), step as a CF
 * duration (2026-12), prediction_timedelta (WB2). */
static int is_native(const char *path, int *nc, int *fp) {
    *nc = -1;
    if (io_grib_detect(path) || nc_open(path, NC_NOWRITE, nc) != NC_NOERR) {
        *nc = -1;
        return 0;
    }
    static const char *const lead_names[] = {"forecast_period", "step", "prediction_timedelta", NULL};
    for (int i = 0; lead_names[i]; i++) {
        int nd, dim;
        char sn[64] = "", dn[NC_MAX_NAME + 1] = "";
        if (nc_inq_varid(*nc, lead_names[i], fp) != NC_NOERR || nc_inq_varndims(*nc, *fp, &nd) != NC_NOERR || nd != 1)
            continue;
        nc_inq_vardimid(*nc, *fp, &dim);
        nc_inq_dimname(*nc, dim, dn);
        io_text_att(*nc, *fp, "standard_name", sn, sizeof sn);
        if (i > 0 && strcmp(dn, lead_names[i])) continue; /* not a lead dimension */
        /* xarray writes WB2's prediction_timedelta without a standard_name; a step may be something else */
        if (i == 1 && strcmp(sn, "forecast_period")) continue;
        return 1;
    }
    return 0;
}

int eval_fc_open(eval_fc **out, const char *const *paths, int npaths, double init) {
    return eval_fc_open_at(out, paths, npaths, init, -1);
}

int eval_fc_open_at(eval_fc **out, const char *const *paths, int npaths, double init, long init_index) {
    *out = NULL;
    if (npaths < 1) return util_fail(UTIL_EINVAL, "no forecast files");
    eval_fc *f = calloc(1, sizeof *f);
    if (!f) return util_fail(UTIL_ENOMEM, "out of memory");
    if (npaths == 1) snprintf(f->path, sizeof f->path, "%s", paths[0]);
    else snprintf(f->path, sizeof f->path, "%.3000s (and %d other file%s of that forecast)", paths[0], npaths - 1, npaths > 2 ? "s" : "");
    f->nc = -1, f->cur_step = -1, f->init_dim = -1, f->init_index = init_index;
    int status = UTIL_OK, fp;
    for (int i = 0; i < npaths && !status; i++) {
        FILE *t = fopen(paths[i], "rb");
        if (!t) status = util_fail(UTIL_EIO, "%s: cannot read the forecast file", paths[i]);
        else fclose(t);
    }
    if (status) goto done;
    for (int i = 0; i < npaths; i++) {
        int nc;
        int native = is_native(paths[i], &nc, &fp);
        if (native && npaths == 1) {
            f->nc = nc;
            f->info.native = 1;
            status = open_native(f, fp);
            if (!status && !isnan(init) && fabs(f->info.init - init) > 0.5) {
                char a[64], b[64];
                util_time_format(f->info.init, a, sizeof a), util_time_format(init, b, sizeof b);
                status = util_fail(UTIL_EFORMAT, "%s declares the initial time %s, but %s is given for it", paths[0], a, b);
            }
            goto done;
        }
        if (nc >= 0) nc_close(nc);
        if (native) {
            status = util_fail(UTIL_EINVAL, "%s is a pangu forecast file, a forecast by itself: it cannot be read together with "
                                            "%s", paths[i], paths[i == 0 ? 1 : 0]);
            goto done;
        }
    }
    status = open_series(f, paths, npaths, init);
done:
    if (status) eval_fc_close(f);
    else *out = f;
    return status;
}

/* The initial times of a WB2 file holding several on time(time): their
 * count (0: not such a file, -1: error), *inits allocated. */
static int wb2_init_times(int nc, int fp, const char *path, double **inits) {
    int tv, td, dim, step_dim, status = UTIL_OK;
    size_t n = 0;
    if (find_init(nc, path, &(double){0}) != 0 || nc_inq_vardimid(nc, fp, &step_dim) != NC_NOERR ||
        nc_inq_varid(nc, "time", &tv) != NC_NOERR || nc_inq_varndims(nc, tv, &td) != NC_NOERR || td != 1 ||
        nc_inq_vardimid(nc, tv, &dim) != NC_NOERR || dim == step_dim || nc_inq_dimlen(nc, dim, &n) != NC_NOERR || n < 2)
        return 0;
    double *t = malloc(sizeof(double) * n);
    if (!t) return util_fail(UTIL_ENOMEM, "out of memory"), -1;
    if (nc_get_var_double(nc, tv, t) != NC_NOERR) status = util_fail(UTIL_EFORMAT, "%s: cannot read the initial times (time)", path);
    for (size_t i = 0; i < n && !status; i++) status = to_seconds(nc, tv, path, "time", t[i], &t[i]);
    if (status) {
        free(t);
        return -1;
    }
    *inits = t;
    return (int)n;
}

/* One initial time into a fresh *inits: 1, or -1 when out of memory. */
static int one_init(double t, double **inits) {
    if (!(*inits = malloc(sizeof(double)))) return util_fail(UTIL_ENOMEM, "out of memory"), -1;
    **inits = t;
    return 1;
}

int eval_fc_peek(const char *path, double **inits, int *native) {
    int nc, fp, n;
    double t;
    *native = 0, *inits = NULL;
    if (io_grib_detect(path)) return (n = io_grib_reference_time(path, &t)) <= 0 ? n : one_init(t, inits);
    if (is_native(path, &nc, &fp)) {
        n = wb2_init_times(nc, fp, path, inits);
        nc_close(nc);
        *native = 1;
        if (n != 0) return n;
        eval_fc *f;
        if (eval_fc_open(&f, &path, 1, NAN)) return -1;
        t = f->info.init;
        eval_fc_close(f);
        return one_init(t, inits);
    }
    if (nc < 0) {
        unsigned char magic[6] = {0};
        FILE *fh = fopen(path, "rb");
        if (!fh) {
            util_fail(UTIL_EIO, "%s: cannot read the forecast file", path);
            return -1;
        }
        size_t got = fread(magic, 1, 6, fh);
        fclose(fh);
        if (got == 6 && !memcmp(magic, "\x93NUMPY", 6)) return 0; /* .npy: no metadata */
        util_fail(UTIL_EFORMAT, "%s: not a forecast file (neither NetCDF, HDF5, GRIB nor .npy)", path);
        return -1;
    }
    int found = find_init(nc, path, &t);
    nc_close(nc);
    return found <= 0 ? found : one_init(t, inits);
}

int eval_fc_read(eval_fc *f, int step, int member, int v, float level, float *out, double *lat, double *lon) {
    eval_fc_info *in = &f->info;
    size_t HW = (size_t)in->H * in->W;
    if (step < 0 || step >= in->nsteps) return util_fail(UTIL_EINVAL, "%s: step %d of %d", f->path, step, in->nsteps);
    if (!in->has[v]) return util_fail(UTIL_EFORMAT, "%s: no variable '%s'", f->path, var_name(v));
    if (f->only && !f->only_var[v])
        return util_fail(UTIL_EINVAL, "%s: variable '%s' read, but not asked for (eval_fc_only)", f->path, var_name(v));
    if (!f->info.native) {
        if (member >= 0) return util_fail(UTIL_EFORMAT, "%s: not an ensemble file", f->path);
        if (f->cur_step != step) {
            f->cur_step = -1;
            float lev[IO_MAX_LEVELS];
            int nlev = in->nlev > 0 ? in->nlev : 1;
            if (in->nlev > 0) memcpy(lev, in->levels, sizeof(float) * in->nlev);
            else lev[0] = level > 0 ? level : 1000;
            if (f->only && f->only_nlev > 0) memcpy(lev, f->only_lev, sizeof(float) * (size_t)(nlev = f->only_nlev));
            /* Keep the buffers from step to step (see io_series_read_into). */
            if (f->cur.upper && (f->cur.nlev != nlev || memcmp(f->cur.levels, lev, sizeof(float) * nlev)))
                io_state_free(&f->cur);
            int status = f->cur.upper ? UTIL_OK : io_state_alloc(&f->cur, in->H, in->W, lev, nlev, NULL);
            if (!status) status = io_series_read_into(f->series, in->valid[step], &f->cur);
            if (status) return status;
            f->cur_step = step;
        }
        int k = 0;
        if (v < IO_NUPPER) {
            k = -1;
            for (int i = 0; i < f->cur.nlev; i++)
                if (fabsf(f->cur.levels[i] - level) < 1e-3f * level) k = i;
            if (k < 0) return util_fail(UTIL_EFORMAT, "%s: level %g hPa missing (variable '%s')", f->path, level, var_name(v));
        }
        const float *src = v < IO_NUPPER ? f->cur.upper + ((size_t)v * f->cur.nlev + k) * HW
                                         : f->cur.surface + (size_t)(v - IO_NUPPER) * HW;
        memcpy(out, src, sizeof(float) * HW);
        if (lat) memcpy(lat, f->cur.lat, sizeof(double) * in->H);
        if (lon) memcpy(lon, f->cur.lon, sizeof(double) * in->W);
        return UTIL_OK;
    }
    if ((member >= 0) != (in->members > 0) || member >= in->members)
        return util_fail(UTIL_EINVAL, "%s: member %d requested, the file has %d members", f->path, member, in->members);
    const fc_vars *fv = f->nmem ? &f->mem[member] : &f->main;
    int varid = fv->varid[v], nc = fv->nc;
    size_t start[6] = {0}, count[6] = {1, 1, 1, 1, 1, 1};
    int nd = fv->ndims[v];
    if (fv->member_axis[v] >= 0) start[fv->member_axis[v]] = (size_t)member;
    if (fv->init_axis[v] >= 0) start[fv->init_axis[v]] = (size_t)f->init_index;
    start[fv->step_axis[v]] = (size_t)step;
    if (v < IO_NUPPER) {
        int k = -1;
        for (size_t i = 0; i < f->file_nlev; i++)
            if (fabs(f->file_lev[i] - level) < 1e-3 * level) k = (int)i;
        if (k < 0) return util_fail(UTIL_EFORMAT, "%s: level %g hPa missing (variable '%s')", f->path, level, var_name(v));
        start[fv->lev_axis[v]] = (size_t)k;
    }
    for (int a = 0; a < nd; a++) count[a] = 1;
    count[fv->lat_axis[v]] = (size_t)in->H, count[fv->lon_axis[v]] = (size_t)in->W;
    float *raw = f->tmp + HW;
    int rc = nc_get_vara_float(nc, varid, start, count, raw);
    if (rc != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot read variable '%s' step %d (%s)", f->path, var_name(v), step, nc_strerror(rc));
    double scale = 1, offset = 0, fill = NC_FILL_FLOAT, missing = NAN;
    nc_get_att_double(nc, varid, "scale_factor", &scale);
    nc_get_att_double(nc, varid, "add_offset", &offset);
    nc_get_att_double(nc, varid, "_FillValue", &fill);
    nc_get_att_double(nc, varid, "missing_value", &missing);
    float ffill = (float)fill, fmiss = (float)missing;
    int transposed = fv->lon_axis[v] < fv->lat_axis[v]; /* (longitude, latitude) order */
    for (int i = 0; i < in->H; i++)
        for (int j = 0; j < in->W; j++) {
            float x = raw[transposed ? (size_t)j * in->H + i : (size_t)i * in->W + j];
            f->tmp[(size_t)i * in->W + j] = (x == ffill || x == fmiss) ? NAN : (float)(x * scale + offset);
        }
    orient_apply(&f->o, f->tmp, in->H, in->W, out);
    if (lat) memcpy(lat, f->o.lat, sizeof(double) * in->H);
    if (lon) memcpy(lon, f->o.lon, sizeof(double) * in->W);
    return UTIL_OK;
}

int eval_fc_only(eval_fc *f, const int *want, const float *level, const float *levels, int nlev) {
    if (nlev < 0 || nlev > IO_MAX_LEVELS) return util_fail(UTIL_EINVAL, "%s: %d levels asked for", f->path, nlev);
    for (int k = 0; k < nlev; k++) {
        int found = 0;
        for (int i = 0; i < f->info.nlev; i++) found |= fabsf(f->info.levels[i] - levels[k]) < 1e-3f * levels[k];
        if (!found) return util_fail(UTIL_EFORMAT, "%s: no level %g hPa", f->path, levels[k]);
    }
    f->only = 1, f->only_nlev = nlev, f->cur_step = -1;
    memcpy(f->only_var, want, sizeof f->only_var);
    memcpy(f->only_lev, levels, sizeof(float) * (size_t)nlev);
    if (f->series) io_series_only(f->series, want, level);
    return UTIL_OK;
}

/* ---- climatology ----
 * Two layouts, told apart by names only: pangu stats --climatology-hours
 * (short names on (dayofyear, hour, [level,] latitude, longitude)), and
 * WeatherBench 2's as xarray exports it to NetCDF (google-research/
 * weatherbench2 scripts/compute_climatology.py: long names on (hour,
 * dayofyear, [level,] latitude, longitude), dayofyear 1..366, no hour for
 * --frequency daily; evaluation.py falls back to VAR_mean names). Axes are
 * found by dimension name in any order and selected by coordinate value, as
 * WB2's metrics.py (ACC) selects: .sel(dayofyear=..., hour=... if hour is
 * a coordinate). */

typedef struct {
    int varid, nd;
    int doy_axis, hour_axis, lev_axis, lat_axis, lon_axis; /* -1: none */
    double scale, offset, fill, missing;
} clim_var;

struct eval_clim {
    char path[4096];
    int nc, H, W;
    clim_var var[NVARS];
    int doy_dim, hour_dim, lev_dim, lat_dim, lon_dim;
    int nhours, hours[24];  /* nhours 0: a daily climatology */
    size_t ndays;
    int *days;              /* (ndays) day of year of each index */
    double *lev;            /* hPa */
    size_t nlev;
    orient o;
    float *tmp;             /* (2, H, W) */
};

void eval_clim_close(eval_clim *c) {
    if (!c) return;
    if (c->nc >= 0) nc_close(c->nc);
    orient_free(&c->o);
    free(c->days), free(c->lev), free(c->tmp);
    free(c);
}

/* The climatology's name of variable v: pangu's short name, WB2's name, or
 * WB2's name with _mean (compute_climatology.py --statistics). */
static int clim_find_var(int nc, int v, int *id, char *name, size_t cap) {
    snprintf(name, cap, "%s", var_name(v));
    if (nc_inq_varid(nc, name, id) == NC_NOERR) return 1;
    snprintf(name, cap, "%s", wb2_names[v]);
    if (nc_inq_varid(nc, name, id) == NC_NOERR) return 1;
    snprintf(name, cap, "%s_mean", wb2_names[v]);
    return nc_inq_varid(nc, name, id) == NC_NOERR;
}

/* The axes of one climatology variable by dimension; others of length 1. */
static int clim_map_var(eval_clim *c, int v, int id, const char *name) {
    clim_var *cv = &c->var[v];
    int dims[NC_MAX_VAR_DIMS], upper = v < IO_NUPPER, ok;
    cv->varid = id;
    cv->doy_axis = cv->hour_axis = cv->lev_axis = cv->lat_axis = cv->lon_axis = -1;
    ok = nc_inq_varndims(c->nc, id, &cv->nd) == NC_NOERR && cv->nd <= 8 && nc_inq_vardimid(c->nc, id, dims) == NC_NOERR;
    for (int k = 0; ok && k < cv->nd; k++) {
        size_t len = 0;
        nc_inq_dimlen(c->nc, dims[k], &len);
        if (dims[k] == c->doy_dim) cv->doy_axis = k;
        else if (dims[k] == c->hour_dim) cv->hour_axis = k;
        else if (dims[k] == c->lat_dim) cv->lat_axis = k;
        else if (dims[k] == c->lon_dim) cv->lon_axis = k;
        else if (upper && dims[k] == c->lev_dim) cv->lev_axis = k;
        else ok = len == 1;
    }
    if (!ok || cv->doy_axis < 0 || cv->lat_axis < 0 || cv->lon_axis < 0 || (upper && cv->lev_axis < 0))
        return util_fail(UTIL_EFORMAT, "%s: climatology variable '%s' should be on dayofyear,%s%s latitude and longitude "
                                       "(in any order)", c->path, name, c->nhours ? " hour," : "", upper ? " level," : "");
    cv->scale = 1, cv->offset = 0, cv->fill = NC_FILL_FLOAT, cv->missing = NAN;
    nc_get_att_double(c->nc, id, "scale_factor", &cv->scale);
    nc_get_att_double(c->nc, id, "add_offset", &cv->offset);
    nc_get_att_double(c->nc, id, "_FillValue", &cv->fill);
    nc_get_att_double(c->nc, id, "missing_value", &cv->missing);
    return UTIL_OK;
}

/* dayofyear and (optional) hour coordinates. */
static int clim_time_coords(eval_clim *c) {
    int dv, hv, status = UTIL_OK;
    double *hours = NULL, *days = NULL;
    size_t nh = 0;
    c->hour_dim = -1;
    if (nc_inq_varid(c->nc, "dayofyear", &dv) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: not a climatology: no dayofyear coordinate (make one with pangu stats "
                                       "--climatology-hours 6, or export WeatherBench 2's with xarray)", c->path);
    if ((status = read_coord(c->nc, dv, c->path, "dayofyear", &days, &c->ndays, &c->doy_dim))) goto done;
    if (nc_inq_varid(c->nc, "hour", &hv) == NC_NOERR) {
        if ((status = read_coord(c->nc, hv, c->path, "hour", &hours, &nh, &c->hour_dim))) goto done;
        if (nh < 1 || nh > 24) {
            status = util_fail(UTIL_EFORMAT, "%s: %zu hours of day, expected 1 to 24", c->path, nh);
            goto done;
        }
        c->nhours = (int)nh;
        for (size_t i = 0; i < nh; i++) c->hours[i] = (int)lround(hours[i]);
    }
    c->days = malloc(sizeof(int) * (c->ndays ? c->ndays : 1));
    if (!c->days) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->ndays; i++) c->days[i] = (int)lround(days[i]);
done:
    free(hours), free(days);
    return status;
}

/* Latitude, longitude (the truth's grid, any orientation) and levels (hPa). */
static int clim_space_coords(eval_clim *c) {
    int varid, status = UTIL_OK;
    double *lat = NULL, *lon = NULL;
    size_t nlat = 0, nlon = 0;
    c->lev_dim = -1;
    if (!find_var(c->nc, lat_names, &varid) || (status = read_coord(c->nc, varid, c->path, "latitude", &lat, &nlat, &c->lat_dim)) ||
        !find_var(c->nc, lon_names, &varid) || (status = read_coord(c->nc, varid, c->path, "longitude", &lon, &nlon, &c->lon_dim))) {
        if (!status) status = util_fail(UTIL_EFORMAT, "%s: the climatology has no latitude or longitude coordinate", c->path);
        goto done;
    }
    if (nlat != (size_t)c->H || nlon != (size_t)c->W) {
        status = util_fail(UTIL_EFORMAT, "%s: the climatology's grid is %zu x %zu, the truth's %d x %d "
                                         "(make it from data on the truth's grid, or put it there with pangu regrid)",
                           c->path, nlat, nlon, c->H, c->W);
        goto done;
    }
    if ((status = orient_init(&c->o, lat, c->H, lon, c->W, c->path))) goto done;
    if (find_var(c->nc, lev_names, &varid)) {
        if ((status = read_coord(c->nc, varid, c->path, "level", &c->lev, &c->nlev, &c->lev_dim))) goto done;
        char units[64] = "";
        io_text_att(c->nc, varid, "units", units, sizeof units);
        if (!strcmp(units, "Pa") || !strcmp(units, "pascal"))
            for (size_t i = 0; i < c->nlev; i++) c->lev[i] /= 100;
    }
done:
    free(lat), free(lon);
    return status;
}

static long clim_level_index(const eval_clim *c, float level) {
    for (size_t i = 0; i < c->nlev; i++)
        if (fabs(c->lev[i] - level) < 1e-3 * level) return (long)i;
    return -1;
}

int eval_clim_open(eval_clim **out, const char *path, int H, int W, const float *levels, int nlev, const int *need) {
    *out = NULL;
    eval_clim *c = calloc(1, sizeof *c);
    if (!c) return util_fail(UTIL_ENOMEM, "out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    c->nc = -1, c->H = H, c->W = W;
    int status = UTIL_OK;
    int rc = nc_open(path, NC_NOWRITE, &c->nc);
    if (rc != NC_NOERR) {
        c->nc = -1;
        status = util_fail(UTIL_EIO, "%s: cannot open the climatology (%s)", path, nc_strerror(rc));
        goto done;
    }
    if ((status = clim_time_coords(c)) || (status = clim_space_coords(c))) goto done;
    for (int v = 0; v < NVARS && !status; v++) {
        c->var[v].varid = -1;
        if (!need[v]) continue;
        int id;
        char name[NC_MAX_NAME + 1];
        if (!clim_find_var(c->nc, v, &id, name, sizeof name)) {
            status = util_fail(UTIL_EFORMAT, "%s: the climatology lacks variable '%s' (looked for %s, %s and %s_mean; pangu stats "
                                             "--climatology-hours writes z q t u v msl u10 v10 t2m)",
                               path, var_name(v), var_name(v), wb2_names[v], wb2_names[v]);
            break;
        }
        if ((status = clim_map_var(c, v, id, name))) break;
        for (int k = 0; v < IO_NUPPER && k < nlev && !status; k++)
            if (clim_level_index(c, levels[k]) < 0)
                status = util_fail(UTIL_EFORMAT, "%s: the climatology lacks level %g hPa (variable '%s')", path, levels[k],
                                   var_name(v));
    }
    if (!status && !(c->tmp = malloc(sizeof(float) * 2 * (size_t)H * W))) status = util_fail(UTIL_ENOMEM, "out of memory");
done:
    if (status) eval_clim_close(c);
    else *out = c;
    return status;
}

/* The day-of-year and hour indices of valid time t (hour -1: daily). */
static int clim_time_index(const eval_clim *c, double t, long *di, int *hi) {
    int y, mo, d, h, mi, s, doy = util_day_of_year(t);
    char when[64];
    util_time_fields(t, &y, &mo, &d, &h, &mi, &s);
    util_time_format(t, when, sizeof when);
    *di = -1, *hi = -1;
    for (int i = 0; i < c->nhours; i++)
        if (c->hours[i] == h && mi == 0 && s == 0) *hi = i;
    if (c->nhours && *hi < 0) {
        char list[128] = "";
        for (int i = 0; i < c->nhours && strlen(list) < 100; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", c->hours[i]);
        return util_fail(UTIL_EFORMAT, "%s: the climatology has hours %s of the day, none for valid time %s", c->path, list, when);
    }
    for (size_t i = 0; i < c->ndays; i++)
        if (c->days[i] == doy) *di = (long)i;
    if (*di < 0) return util_fail(UTIL_EFORMAT, "%s: the climatology has no day of year %d (valid time %s)", c->path, doy, when);
    return UTIL_OK;
}

int eval_clim_read(eval_clim *c, double t, int v, float level, float *out) {
    const clim_var *cv = &c->var[v];
    long di, k = -1;
    int hi, status = clim_time_index(c, t, &di, &hi);
    if (status) return status;
    if (cv->varid < 0) return util_fail(UTIL_EINVAL, "%s: climatology variable '%s' was not opened", c->path, var_name(v));
    size_t start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS];
    for (int a = 0; a < cv->nd; a++) count[a] = 1;
    start[cv->doy_axis] = (size_t)di;
    if (cv->hour_axis >= 0) start[cv->hour_axis] = (size_t)hi;
    if (cv->lev_axis >= 0) {
        if ((k = clim_level_index(c, level)) < 0)
            return util_fail(UTIL_EFORMAT, "%s: the climatology lacks level %g hPa (variable '%s')", c->path, level, var_name(v));
        start[cv->lev_axis] = (size_t)k;
    }
    count[cv->lat_axis] = (size_t)c->H, count[cv->lon_axis] = (size_t)c->W;
    size_t HW = (size_t)c->H * c->W;
    float *raw = c->tmp + HW, *field = c->tmp;
    int rc = nc_get_vara_float(c->nc, cv->varid, start, count, raw);
    if (rc != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: cannot read climatology variable '%s' (%s)", c->path, var_name(v), nc_strerror(rc));
    int transposed = cv->lon_axis < cv->lat_axis; /* (longitude, latitude) order */
    float ffill = (float)cv->fill, fmiss = (float)cv->missing;
    for (int i = 0; i < c->H; i++)
        for (int j = 0; j < c->W; j++) {
            float x = raw[transposed ? (size_t)j * c->H + i : (size_t)i * c->W + j];
            if (!isfinite(x) || x == ffill || x == fmiss) {
                char when[64], hour[32] = "";
                util_time_format(t, when, sizeof when);
                if (hi >= 0) snprintf(hour, sizeof hour, ", hour %d", c->hours[hi]);
                return util_fail(UTIL_EFORMAT, "%s: the climatology of '%s' has no data for day of year %d%s (valid time %s): "
                                               "make it from a longer period or with --smoothing", c->path, var_name(v),
                                 c->days[di], hour, when);
            }
            field[(size_t)i * c->W + j] = (float)(x * cv->scale + cv->offset);
        }
    orient_apply(&c->o, field, c->H, c->W, out);
    return UTIL_OK;
}
