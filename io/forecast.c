/* io forecast: forecast files written one lead at a time (layouts in io.h). */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <math.h>
#include <netcdf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "grib.h"
#include "io.h"
#include "ncw.h"

#define NVARS (IO_NUPPER + IO_NSURFACE)
#define QUEUE_MAX 64
/* States up to this size are copied into the queue, so the caller never
 * waits for their write (small grids, where a write costs as much as a
 * model call); larger ones are queued by reference, costing no memory. */
#define COPY_MAX_BYTES ((size_t)32 << 20)
#define COPIES_MAX 4
/* Ensemble statistics are accumulated for this many bytes of slabs at a
 * time, reading the member files once per batch. */
#define STATS_BUDGET ((size_t)256 << 20)

typedef struct {
    int step, member;
    const io_state *s;
    io_state *own; /* a copy owned by the job, or NULL */
} write_job;

/* The kinds of netCDF file a forecast writes. */
enum { FILE_SINGLE, FILE_MEMBER, FILE_INDEX };

struct io_forecast {
    char path[4096], tmp[4200], part[4300]; /* part: GRIB messages as written, before sorting */
    io_forecast_spec spec;
    int locked;          /* this job holds the output's lock (util_lock_output) */
    int per_member;      /* CF ensemble: one file per member, PATH the index */
    int nc, nc_member;   /* the netCDF file being written (and its member), -1: none */
    int varid[NVARS];
    int index_nc;        /* per_member: PATH's file, mean and spread */
    int mean_id[NVARS], spread_id[NVARS];
    int members_done;    /* per_member: member files written and closed */
    int last_member;     /* the last member given to io_forecast_write (the caller's thread) */
    FILE *gfp;           /* GRIB output */
    io_grib_writer *grib;
    int lev_index[IO_MAX_LEVELS]; /* filled on the first write: state level of each written level */
    int nlev_state;
    float *slab;
    /* Background writer (spec.background): all library calls between create
     * and finish happen on this thread. The job at the head stays queued
     * while it is written, so io_forecast_wait sees it. */
    int threaded;
    thrd_t thread;
    mtx_t lock;
    cnd_t changed; /* a job queued or done, or stop */
    write_job queue[QUEUE_MAX];
    int head, count, stop, discard, copies;
    int werror;      /* a write failed: werr says why */
    char werr[512];
    double cpu_seconds;
    /* The spec's arrays and texts, owned: member files are created on the
     * writer thread, when the caller may have freed its own. */
    double *own_lat, *own_lon, *own_leads;
    char *own_text[7];
};

static const struct {
    const char *long_name, *standard_name, *units, *wb2_name, *height;
} meta[NVARS] = {
    {"Geopotential", "geopotential", "m**2 s**-2", "geopotential", NULL},
    {"Specific humidity", "specific_humidity", "kg kg**-1", "specific_humidity", NULL},
    {"Temperature", "air_temperature", "K", "temperature", NULL},
    {"U component of wind", "eastward_wind", "m s**-1", "u_component_of_wind", NULL},
    {"V component of wind", "northward_wind", "m s**-1", "v_component_of_wind", NULL},
    {"Mean sea level pressure", "air_pressure_at_mean_sea_level", "Pa", "mean_sea_level_pressure", NULL},
    {"10 metre U wind component", "eastward_wind", "m s**-1", "10m_u_component_of_wind", "height_10m"},
    {"10 metre V wind component", "northward_wind", "m s**-1", "10m_v_component_of_wind", "height_10m"},
    {"2 metre temperature", "air_temperature", "K", "2m_temperature", "height_2m"},
};

static const char *short_name(int v) { return v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER]; }

static int writer_main(void *arg);

/* NetCDF calls of the caller's thread: the message names the file. */
#define NC(call) NCW_CHECK(call, "%s: cannot write the forecast file; disk full?", path)

void io_forecast_member_path(const char *path, int m, int members, char *out, size_t cap) {
    int width = 2;
    for (int n = members - 1; n >= 100; n /= 10) width++;
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path)) dot = path + strlen(path);
    snprintf(out, cap, "%.*s_m%0*d%s", (int)(dot - path), path, width, m, dot);
}

static void member_tmp(const io_forecast *f, int m, char *out, size_t cap) {
    char p[4096];
    io_forecast_member_path(f->path, m, f->spec.members, p, sizeof p);
    snprintf(out, cap, "%s.tmp.%d", p, (int)getpid());
}

/* Provenance and ensemble settings as global attributes. */
static int global_atts(int nc, const io_forecast_spec *sp, int kind, int member, const char *path) {
    int rc;
    NCW_RC(ncw_text(nc, NC_GLOBAL, "Conventions", "CF-1.8"));
    NCW_RC(ncw_text(nc, NC_GLOBAL, "title",
                    kind == FILE_INDEX    ? "Pangu-Weather ensemble forecast: mean and spread"
                    : kind == FILE_MEMBER ? "Pangu-Weather ensemble forecast: one member"
                                          : "Pangu-Weather forecast"));
    if (sp->institution && sp->institution[0]) NCW_RC(ncw_text(nc, NC_GLOBAL, "institution", sp->institution));
    NCW_RC(ncw_text(nc, NC_GLOBAL, "source", sp->source ? sp->source : "pangu-c " PANGU_VERSION));
    if (sp->history) NCW_RC(ncw_text(nc, NC_GLOBAL, "history", sp->history));
    if (sp->licence && sp->licence[0]) NCW_RC(ncw_text(nc, NC_GLOBAL, "licence", sp->licence));
    if (sp->request && sp->request[0] && kind != FILE_MEMBER)
        NCW_RC(ncw_text(nc, NC_GLOBAL, "pangu_request", sp->request));
    if (sp->request && sp->request[0] && kind == FILE_MEMBER) { /* the ensemble's request and this file's member */
        size_t cap = strlen(sp->request) + 32;
        char *own = malloc(cap);
        if (!own) return NC_ENOMEM;
        snprintf(own, cap, "%s; member: %d", sp->request, member);
        rc = ncw_text(nc, NC_GLOBAL, "pangu_request", own);
        free(own);
        if (rc != NC_NOERR) goto fail;
    }
    if (sp->members > 0) {
        int m = sp->members;
        NCW_RC(nc_put_att_int(nc, NC_GLOBAL, "ensemble_members", NC_INT, 1, &m));
        if (sp->perturbation) {
            NCW_RC(ncw_text(nc, NC_GLOBAL, "ensemble_perturbation", sp->perturbation));
            NCW_RC(
                nc_put_att_double(nc, NC_GLOBAL, "ensemble_perturbation_scale", NC_DOUBLE, 1, &sp->perturbation_scale));
            char seed[32];
            snprintf(seed, sizeof seed, "%llu", sp->seed);
            NCW_RC(ncw_text(nc, NC_GLOBAL, "ensemble_seed", seed));
        }
        if (kind == FILE_MEMBER) {
            /* the file of the whole ensemble (mean, spread, the members' names) */
            const char *b = strrchr(path, '/');
            NCW_RC(nc_put_att_int(nc, NC_GLOBAL, "ensemble_member", NC_INT, 1, &member));
            NCW_RC(ncw_text(nc, NC_GLOBAL, "ensemble_file", b ? b + 1 : path));
        }
    }
    NCW_RC(ncw_text(nc, NC_GLOBAL, "complete", "no"));
    return NC_NOERR;
fail:
    return rc;
}

/* The dimension and coordinate ids of one file being created, shared by the
 * steps of create_file (-1: not in this layout). */
typedef struct {
    int d_time, d_real, d_step, d_lev, d_lat, d_lon;
    int v_time, v_real, v_step, v_valid, v_ref, v_lev, v_lat, v_lon, v_h2, v_h10;
} file_ids;

/* WB2 keeps the lead as a fixed dimension under its initial time (and
 * members); CF keeps it unlimited so one-lead files can be joined. */
static int define_dims(int nc, const io_forecast_spec *sp, int wb2, file_ids *id) {
    int rc;
    if (wb2) {
        NCW_RC(nc_def_dim(nc, "time", 1, &id->d_time));
        if (sp->members > 0) NCW_RC(nc_def_dim(nc, "realization", (size_t)sp->members, &id->d_real));
        NCW_RC(nc_def_dim(nc, "prediction_timedelta", (size_t)sp->nsteps, &id->d_step));
    } else
        /* The valid time is the record axis (CF 1.x section 4.4, and CF's
         * forecast form: time the valid time, forecast_period and
         * forecast_reference_time beside it), so CDO reads dates and NCO's
         * ncrcat joins one-lead files (pangu step) into series. */
        NCW_RC(nc_def_dim(nc, "time", NC_UNLIMITED, &id->d_step));
    if (sp->nlev > 0) NCW_RC(nc_def_dim(nc, "level", (size_t)sp->nlev, &id->d_lev));
    NCW_RC(nc_def_dim(nc, "latitude", (size_t)sp->H, &id->d_lat));
    NCW_RC(nc_def_dim(nc, "longitude", (size_t)sp->W, &id->d_lon));
    return NC_NOERR;
fail:
    return rc;
}

/* WB2's time coordinates: what WeatherBench 2 reads (initial time, members,
 * lead), nothing more. */
static int define_wb2_time(int nc, file_ids *id) {
    int rc;
    NCW_RC(ncw_coord(nc, "time", NC_DOUBLE, 1, &id->d_time, "forecast_reference_time", "initial time",
                     "hours since 1900-01-01 00:00:00", NULL, &id->v_time));
    NCW_RC(ncw_text(nc, id->v_time, "calendar", "proleptic_gregorian"));
    if (id->d_real >= 0)
        NCW_RC(ncw_coord(nc, "realization", NC_INT, 1, &id->d_real, "realization",
                         "ensemble member (0: unperturbed control)", NULL, NULL, &id->v_real));
    NCW_RC(ncw_coord(nc, "prediction_timedelta", NC_DOUBLE, 1, &id->d_step, "forecast_period", "lead time", "hours",
                     NULL, &id->v_step));
    return NC_NOERR;
fail:
    return rc;
}

/* CF's forecast form of the time coordinates (CF conventions 1.x, section
 * 4.4 "Time coordinate", and the standard names forecast_period and
 * forecast_reference_time of CF's standard name table): time(time) the
 * valid time in "hours since <initial time>", which CDO reads as dates and
 * xarray as datetime64; forecast_period(time) the lead in hours, an
 * auxiliary coordinate (section 5) that CDO keeps as its lead time and
 * xarray decodes to timedelta64; forecast_reference_time a scalar
 * coordinate variable (section 5.7). */
static int define_cf_time(int nc, int kind, const io_forecast_spec *sp, file_ids *id) {
    int rc;
    char units[64], when[32];
    util_time_format(sp->init_time, when, sizeof when);
    if (when[10] == 'T') when[10] = ' '; /* "2020-02-01 00:00:00": the form of UDUNITS' and CF's examples */
    snprintf(units, sizeof units, "hours since %s", when);
    NCW_RC(ncw_coord(nc, "time", NC_DOUBLE, 1, &id->d_step, "time", "valid time", units, "T", &id->v_valid));
    NCW_RC(ncw_text(nc, id->v_valid, "calendar", "proleptic_gregorian"));
    NCW_RC(ncw_coord(nc, "forecast_period", NC_DOUBLE, 1, &id->d_step, "forecast_period", "lead time", "hours", NULL,
                     &id->v_step));
    NCW_RC(ncw_coord(nc, "forecast_reference_time", NC_DOUBLE, 0, NULL, "forecast_reference_time", "initial time",
                     "hours since 1900-01-01 00:00:00", NULL, &id->v_ref));
    NCW_RC(ncw_text(nc, id->v_ref, "calendar", "proleptic_gregorian"));
    if (kind == FILE_MEMBER)
        NCW_RC(ncw_coord(nc, "realization", NC_INT, 0, NULL, "realization", "ensemble member (0: unperturbed control)",
                         NULL, NULL, &id->v_real));
    return NC_NOERR;
fail:
    return rc;
}

/* Level, latitude, longitude, and in CF the scalar heights: the coordinates
 * both layouts share, apart from the heights WB2 does not know. */
static int define_space(int nc, const io_forecast_spec *sp, int wb2, file_ids *id) {
    int rc;
    if (id->d_lev >= 0) {
        NCW_RC(ncw_coord(nc, "level", NC_FLOAT, 1, &id->d_lev, "air_pressure", "pressure level", "hPa", "Z",
                         &id->v_lev));
        NCW_RC(ncw_text(nc, id->v_lev, "positive", "down"));
    }
    NCW_RC(ncw_coord(nc, "latitude", NC_DOUBLE, 1, &id->d_lat, "latitude", "latitude", "degrees_north", "Y",
                     &id->v_lat));
    NCW_RC(ncw_coord(nc, "longitude", NC_DOUBLE, 1, &id->d_lon, "longitude", "longitude", "degrees_east", "X",
                     &id->v_lon));
    if (!wb2) {
        /* Scalar heights tell t2m from t and u10 from u (CF 5.7). */
        if (sp->write_var[8]) {
            NCW_RC(ncw_coord(nc, "height_2m", NC_DOUBLE, 0, NULL, "height", "height above the surface", "m", NULL,
                             &id->v_h2));
            NCW_RC(ncw_text(nc, id->v_h2, "positive", "up"));
        }
        if (sp->write_var[6] || sp->write_var[7]) {
            NCW_RC(ncw_coord(nc, "height_10m", NC_DOUBLE, 0, NULL, "height", "height above the surface", "m", NULL,
                             &id->v_h10));
            NCW_RC(ncw_text(nc, id->v_h10, "positive", "up"));
        }
    }
    return NC_NOERR;
fail:
    return rc;
}

/* The attributes of one field: the index file names its statistic (so CF
 * tools know mean from spread), a member file carries CDI's ensemble
 * attributes (so CDO knows the member). */
static int field_atts(int nc, int id, const io_forecast_spec *sp, int v, int kind, int which, int member) {
    int rc, wb2 = sp->layout == IO_LAYOUT_WB2;
    char lname[160];
    snprintf(lname, sizeof lname, "%s%s", meta[v].long_name,
             kind != FILE_INDEX ? "" : which ? ", ensemble spread (standard deviation over members, N - 1)"
                                             : ", ensemble mean");
    NCW_RC(ncw_text(nc, id, "long_name", lname));
    NCW_RC(ncw_text(nc, id, "standard_name", meta[v].standard_name));
    NCW_RC(ncw_text(nc, id, "units", meta[v].units));
    if (kind == FILE_INDEX)
        NCW_RC(ncw_text(nc, id, "cell_methods", which ? "realization: standard_deviation" : "realization: mean"));
    if (!wb2) {
        /* Every auxiliary and scalar coordinate named on each variable (CF
         * section 5, 5.7): NCO's ncks -v z keeps them, xarray attaches them. */
        char coords[128];
        snprintf(coords, sizeof coords, "forecast_period forecast_reference_time%s%s%s",
                 kind == FILE_MEMBER ? " realization" : "", meta[v].height ? " " : "", meta[v].height ? meta[v].height : "");
        NCW_RC(ncw_text(nc, id, "coordinates", coords));
    }
    if (kind == FILE_MEMBER) {
        /* CDI's ensemble attributes: CDO reads the member's number. */
        int type = member == 0 ? 0 : 3; /* GRIB 2 table 4.6: unperturbed control, positively perturbed */
        NCW_RC(nc_put_att_int(nc, id, "realization", NC_INT, 1, &member));
        NCW_RC(nc_put_att_int(nc, id, "ensemble_members", NC_INT, 1, &sp->members));
        NCW_RC(nc_put_att_int(nc, id, "forecast_init_type", NC_INT, 1, &type));
    }
    return NC_NOERR;
fail:
    return rc;
}

/* One field (two in the index file: mean and spread), chunked one level of
 * one lead at a time so each slab the writer hands over is a whole chunk. */
static int define_field(io_forecast *f, int nc, int v, int kind, int member, const file_ids *id) {
    const io_forecast_spec *sp = &f->spec;
    int rc, wb2 = sp->layout == IO_LAYOUT_WB2, upper = v < IO_NUPPER, dims[6], n = 0;
    int level = sp->deflate == 0 ? 1 : sp->deflate < 0 ? 0 : sp->deflate > 9 ? 9 : sp->deflate;
    float fill = NC_FILL_FLOAT;
    int *ids = kind == FILE_INDEX ? f->mean_id : f->varid;
    size_t chunk[6];
    if (wb2) dims[n] = id->d_time, chunk[n++] = 1;
    if (id->d_real >= 0) dims[n] = id->d_real, chunk[n++] = 1;
    dims[n] = id->d_step, chunk[n++] = 1;
    if (upper) dims[n] = id->d_lev, chunk[n++] = 1;
    dims[n] = id->d_lat, chunk[n++] = (size_t)sp->H;
    dims[n] = id->d_lon, chunk[n++] = (size_t)sp->W;
    for (int which = 0; which < (kind == FILE_INDEX ? 2 : 1); which++) {
        char name[64];
        int var;
        if (kind == FILE_INDEX) snprintf(name, sizeof name, "%s_%s", short_name(v), which ? "spread" : "mean");
        else snprintf(name, sizeof name, "%s", wb2 ? meta[v].wb2_name : short_name(v));
        NCW_RC(nc_def_var(nc, name, NC_FLOAT, n, dims, &var));
        NCW_RC(nc_def_var_chunking(nc, var, NC_CHUNKED, chunk));
        if (level > 0) NCW_RC(nc_def_var_deflate(nc, var, 1, 1, level));
        NCW_RC(nc_def_var_fill(nc, var, 0, &fill));
        NCW_RC(field_atts(nc, var, sp, v, kind, which, member));
        (which ? f->spread_id : ids)[v] = var;
    }
    return NC_NOERR;
fail:
    return rc;
}

/* Every field asked for; ids of fields not written stay -1, which is how
 * the writer and set_chunk_caches know to skip them. */
static int define_fields(io_forecast *f, int nc, int kind, int member, const file_ids *id) {
    int rc;
    for (int v = 0; v < NVARS; v++) {
        if (kind == FILE_INDEX) f->mean_id[v] = f->spread_id[v] = -1;
        else f->varid[v] = -1;
        if (!f->spec.write_var[v] || (v < IO_NUPPER && id->d_lev < 0)) continue;
        NCW_RC(define_field(f, nc, v, kind, member, id));
    }
    return NC_NOERR;
fail:
    return rc;
}

/* The index file lists its members' files (names only, as they sit beside
 * it) so a reader finds them without guessing the naming. */
static int member_files_att(const io_forecast *f, int nc) {
    const io_forecast_spec *sp = &f->spec;
    size_t cap = (size_t)sp->members * 64 + 1, o = 0;
    char *list = malloc(cap);
    if (!list) return NC_ENOMEM;
    for (int m = 0; m < sp->members; m++) {
        char p[4096];
        io_forecast_member_path(f->path, m, sp->members, p, sizeof p);
        const char *b = strrchr(p, '/');
        o += (size_t)snprintf(list + o, cap - o, "%s%s", m ? " " : "", b ? b + 1 : p);
        if (o >= cap) o = cap - 1;
    }
    int rc = ncw_text(nc, NC_GLOBAL, "ensemble_member_files", list);
    free(list);
    return rc;
}

/* No chunk cache: each slab is one whole chunk, so it is compressed and
 * written at once (on the writer thread) instead of piling up for
 * nc_close. Set in data mode, when the HDF5 datasets exist. */
static int set_chunk_caches(const io_forecast *f, int nc, int kind) {
    int rc;
    for (int v = 0; v < NVARS; v++) {
        if (kind != FILE_INDEX && f->varid[v] >= 0) NCW_RC(nc_set_var_chunk_cache(nc, f->varid[v], 0, 0, 0.75f));
        if (kind == FILE_INDEX && f->mean_id[v] >= 0) {
            NCW_RC(nc_set_var_chunk_cache(nc, f->mean_id[v], 0, 0, 0.75f));
            NCW_RC(nc_set_var_chunk_cache(nc, f->spread_id[v], 0, 0, 0.75f));
        }
    }
    return NC_NOERR;
fail:
    return rc;
}

/* The coordinate values, known before any lead is computed, so a file cut
 * short still says what it was meant to hold. */
static int put_coords(int nc, const io_forecast_spec *sp, int member, const file_ids *id) {
    int rc;
    size_t zero = 0, ns = (size_t)sp->nsteps;
    NCW_RC(nc_put_vara_double(nc, id->v_step, &zero, &ns, sp->lead_hours));
    double ref = (sp->init_time - IO_EPOCH_1900) / 3600.0;
    if (sp->layout == IO_LAYOUT_WB2) {
        NCW_RC(nc_put_var_double(nc, id->v_time, &ref));
        if (id->v_real >= 0)
            for (int m = 0; m < sp->members; m++) {
                size_t i = (size_t)m;
                NCW_RC(nc_put_var1_int(nc, id->v_real, &i, &m));
            }
    } else {
        /* valid times in hours since the initial time: the leads themselves */
        NCW_RC(nc_put_vara_double(nc, id->v_valid, &zero, &ns, sp->lead_hours));
        NCW_RC(nc_put_var_double(nc, id->v_ref, &ref));
        if (id->v_real >= 0) NCW_RC(nc_put_var_int(nc, id->v_real, &member));
        double h2 = 2, h10 = 10;
        if (id->v_h2 >= 0) NCW_RC(nc_put_var_double(nc, id->v_h2, &h2));
        if (id->v_h10 >= 0) NCW_RC(nc_put_var_double(nc, id->v_h10, &h10));
    }
    if (id->v_lev >= 0) NCW_RC(nc_put_var_float(nc, id->v_lev, sp->levels));
    NCW_RC(nc_put_var_double(nc, id->v_lat, sp->lat));
    NCW_RC(nc_put_var_double(nc, id->v_lon, sp->lon));
    return NC_NOERR;
fail:
    return rc;
}

/* Create and fill the header and coordinates of one netCDF file of the
 * forecast (kind FILE_*, member for FILE_MEMBER): library calls only, so the
 * writer thread can create member files. A failed file is removed: no
 * half-written output is left behind. */
static int create_file(io_forecast *f, const char *tmp, int kind, int member, int *out_nc) {
    const io_forecast_spec *sp = &f->spec;
    int rc, nc = -1, wb2 = sp->layout == IO_LAYOUT_WB2;
    file_ids id = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
    *out_nc = -1;
    NCW_RC(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc));
    NCW_RC(define_dims(nc, sp, wb2, &id));
    NCW_RC(wb2 ? define_wb2_time(nc, &id) : define_cf_time(nc, kind, sp, &id));
    NCW_RC(define_space(nc, sp, wb2, &id));
    NCW_RC(define_fields(f, nc, kind, member, &id));
    NCW_RC(global_atts(nc, sp, kind, member, f->path));
    if (kind == FILE_INDEX) NCW_RC(member_files_att(f, nc));
    NCW_RC(nc_enddef(nc));
    NCW_RC(set_chunk_caches(f, nc, kind));
    NCW_RC(put_coords(nc, sp, member, &id));
    *out_nc = nc;
    return NC_NOERR;
fail:
    if (nc >= 0) nc_close(nc);
    unlink(tmp);
    return rc;
}

/* Mark a netCDF file complete and close it. */
static int close_complete(int nc) {
    int rc = nc_redef(nc);
    if (rc == NC_NOERR) rc = ncw_text(nc, NC_GLOBAL, "complete", "yes");
    if (rc == NC_NOERR) rc = nc_enddef(nc);
    int rc2 = nc_close(nc);
    return rc != NC_NOERR ? rc : rc2;
}

static void stop_writer_thread(io_forecast *f, int discard);

static void free_forecast(io_forecast *f) {
    /* the temporaries are gone (renamed or removed): the signal handler forgets them, the lock is released */
    util_temp_unregister(f->tmp), util_temp_unregister(f->part);
    for (int m = 0; f->per_member && m < f->spec.members; m++) {
        char tmp[4200];
        member_tmp(f, m, tmp, sizeof tmp);
        util_temp_unregister(tmp);
    }
    if (f->locked) util_unlock_output(f->path);
    io_grib_writer_close(f->grib);
    free(f->slab);
    free(f->own_lat), free(f->own_lon), free(f->own_leads);
    for (int i = 0; i < 7; i++) free(f->own_text[i]);
    free(f);
}

int io_forecast_create(io_forecast **out, const char *path, const io_forecast_spec *spec) {
    int status = UTIL_OK;
    *out = NULL;
    if (spec->format == IO_FORMAT_GRIB2 && spec->layout != IO_LAYOUT_CF)
        return util_fail(UTIL_EINVAL, "%s: the WeatherBench 2 layout is NetCDF; GRIB has its own", path);
    if (spec->nsteps < 1) return util_fail(UTIL_EINVAL, "%s: a forecast needs at least one lead", path);
    io_forecast *f = calloc(1, sizeof *f);
    if (!f) return util_fail(UTIL_ENOMEM, "out of memory");
    f->nc = f->index_nc = -1, f->nc_member = -1, f->last_member = -1;
    for (int v = 0; v < NVARS; v++) f->varid[v] = f->mean_id[v] = f->spread_id[v] = -1;
    f->spec = *spec;
    f->own_lat = malloc(sizeof(double) * (size_t)spec->H), f->own_lon = malloc(sizeof(double) * (size_t)spec->W);
    f->own_leads = malloc(sizeof(double) * (size_t)spec->nsteps);
    const char **texts[7] = {&f->spec.source, &f->spec.history, &f->spec.institution, &f->spec.licence,
                             &f->spec.perturbation, &f->spec.request, NULL};
    int short_of_memory = !f->own_lat || !f->own_lon || !f->own_leads;
    for (int i = 0; texts[i]; i++)
        if (*texts[i] && !(*texts[i] = f->own_text[i] = strdup(*texts[i]))) short_of_memory = 1;
    if (short_of_memory) {
        free(f->own_lat), free(f->own_lon), free(f->own_leads);
        for (int i = 0; i < 7; i++) free(f->own_text[i]);
        free(f);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    memcpy(f->own_lat, spec->lat, sizeof(double) * (size_t)spec->H);
    memcpy(f->own_lon, spec->lon, sizeof(double) * (size_t)spec->W);
    memcpy(f->own_leads, spec->lead_hours, sizeof(double) * (size_t)spec->nsteps);
    f->spec.lat = f->own_lat, f->spec.lon = f->own_lon, f->spec.lead_hours = f->own_leads;
    f->per_member = spec->members > 0 && spec->layout == IO_LAYOUT_CF && spec->format == IO_FORMAT_NETCDF;
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%d", path, (int)getpid());
    snprintf(f->part, sizeof f->part, "%s.part.tmp.%d", path, (int)getpid());
    /* One job at a time writes this forecast: a second fails at once, naming
     * the first's pid (never a mix of two jobs' files). */
    if ((status = util_lock_output(path))) goto done;
    f->locked = 1;
    if (!spec->overwrite && io_forecast_is_complete(path)) {
        /* room for the same request and a byte more: a longer one differs */
        size_t cap = spec->request ? strlen(spec->request) + 2 : 1;
        char *had = malloc(cap);
        int same = had && spec->request && io_forecast_request(path, had, cap) && !strcmp(had, spec->request);
        free(had);
        if (!same) {
            status = util_fail(UTIL_EINVAL, "%s: completed meanwhile by another job%s: --overwrite rewrites it, or choose "
                                            "another output", path, spec->request ? " for another request" : "");
            goto done;
        }
    }
    /* after the lock, temporaries of killed runs of this job: PATH.tmp.PID of a process that is gone */
    util_remove_stale_temps(path);
    util_temp_register(f->tmp);
    if (spec->format == IO_FORMAT_GRIB2) {
        char part[4200];
        snprintf(part, sizeof part, "%s.part", path);
        util_remove_stale_temps(part);
        util_temp_register(f->part);
    }
    for (int m = 0; f->per_member && m < spec->members; m++) {
        char p[4096], tmp[4200];
        io_forecast_member_path(path, m, spec->members, p, sizeof p);
        util_remove_stale_temps(p);
        member_tmp(f, m, tmp, sizeof tmp);
        util_temp_register(tmp);
    }
    f->slab = malloc(sizeof(float) * (size_t)spec->H * spec->W);
    if (!f->slab) {
        io_forecast_abort(f);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    if (access(slash ? (dir[0] ? dir : "/") : ".", W_OK) != 0) {
        status = util_fail(UTIL_EIO, "%s: cannot create the forecast file: directory '%s' missing or not writable", path,
                           slash ? dir : ".");
        goto done;
    }
    if (spec->format == IO_FORMAT_GRIB2) {
        if ((status = io_grib_writer_open(&f->grib, path, spec))) goto done;
        if (!(f->gfp = fopen(f->part, "wb"))) {
            status = util_fail(UTIL_EIO, "%s: cannot create the forecast file", path);
            goto done;
        }
    } else {
        int nc;
        NC(create_file(f, f->tmp, f->per_member ? FILE_INDEX : FILE_SINGLE, -1, &nc));
        *(f->per_member ? &f->index_nc : &f->nc) = nc;
    }
    if (spec->background) {
        /* Without a thread the writes are synchronous: slower, still right.
         * The writer keeps the default priority: on small grids its deflate
         * is the job's critical path (the demo: 1.2 s of writing beside
         * 0.6 s of model calls), and nice +5 or +19 on it made the demo's
         * forecast slower, not faster (tests/bench_threads.sh). What keeps
         * it a core is that idle OpenMP threads sleep (util_threads_passive). */
        if (mtx_init(&f->lock, mtx_plain) == thrd_success) {
            if (cnd_init(&f->changed) == thrd_success) {
                if (thrd_create(&f->thread, writer_main, f) == thrd_success)
                    f->threaded = 1;
                else
                    cnd_destroy(&f->changed);
            }
            if (!f->threaded) mtx_destroy(&f->lock);
        }
    }
done:
    if (status) {
        io_forecast_abort(f);
        return status;
    }
    *out = f;
    return UTIL_OK;
}

/* The written fields of one state: library calls only, so that the writer
 * thread can run it (util_fail is for the calling thread); 0, or an error
 * described in err. */
static int put_state(io_forecast *f, const write_job *job, char *err, size_t cap) {
    const io_forecast_spec *sp = &f->spec;
    const io_state *s = job->s;
    size_t HW = (size_t)s->H * s->W;
    int rc = NC_NOERR;
    if (f->grib) return io_grib_writer_put(f->grib, f->gfp, job->step, sp->members > 0 ? job->member : -1, s, f->lev_index, err, cap);
    if (f->per_member && job->member != f->nc_member) {
        /* Members come in order: the last one's file is complete. */
        if (f->nc >= 0) {
            int nc = f->nc;
            f->nc = -1;
            NCW_RC(close_complete(nc));
            f->members_done++;
        }
        char tmp[4200];
        member_tmp(f, job->member, tmp, sizeof tmp);
        NCW_RC(create_file(f, tmp, FILE_MEMBER, job->member, &f->nc));
        f->nc_member = job->member;
    }
    int wb2 = sp->layout == IO_LAYOUT_WB2;
    for (int v = 0; v < NVARS; v++) {
        if (f->varid[v] < 0) continue;
        int upper = v < IO_NUPPER;
        for (int k = 0; k < (upper ? sp->nlev : 1); k++) {
            size_t start[6], count[6];
            int n = 0;
            if (wb2) start[n] = 0, count[n++] = 1;
            if (wb2 && sp->members > 0) start[n] = (size_t)job->member, count[n++] = 1;
            start[n] = (size_t)job->step, count[n++] = 1;
            if (upper) start[n] = (size_t)k, count[n++] = 1;
            start[n] = 0, count[n++] = (size_t)s->H;
            start[n] = 0, count[n++] = (size_t)s->W;
            const float *src = upper ? s->upper + ((size_t)v * s->nlev + f->lev_index[k]) * HW
                                     : s->surface + (size_t)(v - IO_NUPPER) * HW;
            NCW_RC(nc_put_vara_float(f->nc, f->varid[v], start, count, src));
        }
    }
    return 0;
fail:
    snprintf(err, cap, "cannot write the forecast file (%s; disk full?)", nc_strerror(rc));
    return 1;
}

static void record_error(io_forecast *f, const char *err) {
    if (f->werror) return;
    f->werror = 1;
    snprintf(f->werr, sizeof f->werr, "%s", err);
}

static int writer_main(void *arg) {
    io_forecast *f = arg;
    /* HDF5's error stack is per thread: one line per error here too */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    mtx_lock(&f->lock);
    for (;;) {
        while (f->count == 0 && !f->stop) cnd_wait(&f->changed, &f->lock);
        if (f->count == 0) break;
        write_job job = f->queue[f->head];
        int skip = f->werror || f->discard;
        mtx_unlock(&f->lock);
        char err[512] = "";
        int rc = skip ? 0 : put_state(f, &job, err, sizeof err);
        if (job.own) io_state_free(job.own), free(job.own);
        mtx_lock(&f->lock);
        if (job.own) f->copies--;
        if (rc) record_error(f, err);
        f->head = (f->head + 1) % QUEUE_MAX;
        f->count--;
        cnd_broadcast(&f->changed);
    }
    mtx_unlock(&f->lock);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    f->cpu_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return 0;
}

static int write_error(const io_forecast *f) { return util_fail(UTIL_EIO, "%s: %s", f->path, f->werr); }

/* Stop the writer thread after the queued jobs (or dropping them). */
static void stop_writer_thread(io_forecast *f, int discard) {
    if (!f->threaded) return;
    mtx_lock(&f->lock);
    f->stop = 1;
    f->discard |= discard;
    cnd_broadcast(&f->changed);
    mtx_unlock(&f->lock);
    thrd_join(f->thread, NULL);
    f->threaded = 0;
    mtx_destroy(&f->lock);
    cnd_destroy(&f->changed);
    if (f->spec.writer_cpu_seconds) *f->spec.writer_cpu_seconds += f->cpu_seconds;
}

int io_forecast_write(io_forecast *f, int step, int member, const io_state *s) {
    const char *path = f->path;
    const io_forecast_spec *sp = &f->spec;
    if (step < 0 || step >= sp->nsteps || (sp->members > 0 && (member < 0 || member >= sp->members)))
        return util_fail(UTIL_EINVAL, "%s: step %d / member %d outside the file", path, step, member);
    if (f->per_member && member < f->last_member)
        return util_fail(UTIL_EINVAL, "%s: member %d written after member %d: members go in order", path, member, f->last_member);
    if (s->H != sp->H || s->W != sp->W) return util_fail(UTIL_EINVAL, "%s: state grid differs from the file's", path);
    int lev_index[IO_MAX_LEVELS];
    for (int k = 0; k < sp->nlev; k++) {
        lev_index[k] = -1;
        for (int j = 0; j < s->nlev; j++)
            if (s->levels[j] == sp->levels[k]) lev_index[k] = j;
        if (lev_index[k] < 0) return util_fail(UTIL_EINVAL, "%s: level %g hPa not in the state", path, sp->levels[k]);
    }
    /* The writer thread reads lev_index: set it once, then only compare. */
    if (f->nlev_state == 0) {
        memcpy(f->lev_index, lev_index, sizeof lev_index);
        f->nlev_state = s->nlev;
    } else if (f->nlev_state != s->nlev || memcmp(f->lev_index, lev_index, sizeof(int) * (size_t)sp->nlev))
        return util_fail(UTIL_EINVAL, "%s: the state's levels differ from the earlier writes'", path);
    f->last_member = member;
    write_job job = {step, member, s, NULL};
    if (!f->threaded) {
        char err[512] = "";
        if (f->werror) return write_error(f);
        if (put_state(f, &job, err, sizeof err)) record_error(f, err);
        return f->werror ? write_error(f) : UTIL_OK;
    }
    size_t nu = (size_t)IO_NUPPER * s->nlev * s->H * s->W, ns = (size_t)IO_NSURFACE * s->H * s->W;
    if (f->spec.background != 2 && (nu + ns) * sizeof(float) <= COPY_MAX_BYTES) {
        io_state *c = calloc(1, sizeof *c);
        if (c) {
            *c = *s;
            c->lat = c->lon = NULL;
            c->upper = malloc(sizeof(float) * nu), c->surface = malloc(sizeof(float) * ns);
            if (c->upper && c->surface) {
                memcpy(c->upper, s->upper, sizeof(float) * nu);
                memcpy(c->surface, s->surface, sizeof(float) * ns);
                job.s = job.own = c;
            } else
                io_state_free(c), free(c); /* no memory for a copy: by reference */
        }
    }
    mtx_lock(&f->lock);
    while ((f->count == QUEUE_MAX || (job.own && f->copies >= COPIES_MAX)) && !f->werror) cnd_wait(&f->changed, &f->lock);
    int failed = f->werror;
    if (failed && job.own) io_state_free(job.own), free(job.own);
    if (!failed) {
        f->copies += job.own != NULL;
        f->queue[(f->head + f->count) % QUEUE_MAX] = job;
        f->count++;
        cnd_broadcast(&f->changed);
    }
    mtx_unlock(&f->lock);
    return failed ? write_error(f) : UTIL_OK;
}

int io_forecast_wait(io_forecast *f, const io_state *s) {
    if (!f || !f->threaded) return UTIL_OK;
    mtx_lock(&f->lock);
    for (;;) {
        int busy = 0;
        for (int i = 0; i < f->count && !busy; i++) busy = f->queue[(f->head + i) % QUEUE_MAX].s == s;
        if (!busy || f->werror) break;
        cnd_wait(&f->changed, &f->lock);
    }
    int failed = f->werror;
    mtx_unlock(&f->lock);
    return failed ? write_error(f) : UTIL_OK;
}

/* Ensemble mean and spread of every written field into the index file,
 * read back from the member files: batches of slabs within STATS_BUDGET,
 * each member file opened once per batch. */
static int write_ensemble_stats(io_forecast *f) {
    int status = UTIL_OK, nc = -1;
    const char *path = f->path;
    const io_forecast_spec *sp = &f->spec;
    size_t HW = (size_t)sp->H * sp->W;
    int nslab = 0, slab_v[NVARS * IO_MAX_LEVELS], slab_k[NVARS * IO_MAX_LEVELS];
    for (int v = 0; v < NVARS; v++)
        if (f->mean_id[v] >= 0)
            for (int k = 0; k < (v < IO_NUPPER ? sp->nlev : 1); k++) slab_v[nslab] = v, slab_k[nslab++] = k;
    size_t per = 2 * sizeof(double) * HW, total = (size_t)nslab * sp->nsteps;
    size_t batch = STATS_BUDGET / per > 0 ? STATS_BUDGET / per : 1;
    if (batch > total) batch = total;
    double *sum = malloc(sizeof(double) * HW * (batch ? batch : 1)), *sq = malloc(sizeof(double) * HW * (batch ? batch : 1));
    float *out = malloc(sizeof(float) * HW);
    if (!sum || !sq || !out) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    int M = sp->members;
    for (size_t b0 = 0; b0 < total; b0 += batch) {
        size_t nb = total - b0 < batch ? total - b0 : batch;
        memset(sum, 0, sizeof(double) * HW * nb), memset(sq, 0, sizeof(double) * HW * nb);
        for (int m = 0; m < M; m++) {
            char tmp[4200];
            member_tmp(f, m, tmp, sizeof tmp);
            NC(nc_open(tmp, NC_NOWRITE, &nc));
            for (size_t j = 0; j < nb; j++) {
                size_t q = b0 + j;
                int v = slab_v[q % (size_t)nslab], k = slab_k[q % (size_t)nslab], id, upper = v < IO_NUPPER;
                size_t start[4] = {q / (size_t)nslab, 0, 0, 0}, count[4] = {1, 1, 1, 1}, n = 1;
                if (upper) start[n] = (size_t)k, count[n++] = 1;
                count[n++] = (size_t)sp->H, count[n++] = (size_t)sp->W;
                NC(nc_inq_varid(nc, short_name(v), &id));
                NC(nc_get_vara_float(nc, id, start, count, f->slab));
                double *s1 = sum + j * HW, *s2 = sq + j * HW;
                for (size_t i = 0; i < HW; i++) s1[i] += f->slab[i], s2[i] += (double)f->slab[i] * f->slab[i];
            }
            int c = nc;
            nc = -1;
            NC(nc_close(c));
        }
        for (size_t j = 0; j < nb; j++) {
            size_t q = b0 + j;
            int v = slab_v[q % (size_t)nslab], k = slab_k[q % (size_t)nslab], upper = v < IO_NUPPER;
            size_t start[4] = {q / (size_t)nslab, 0, 0, 0}, count[4] = {1, 1, 1, 1}, n = 1;
            if (upper) start[n] = (size_t)k, count[n++] = 1;
            count[n++] = (size_t)sp->H, count[n++] = (size_t)sp->W;
            const double *s1 = sum + j * HW, *s2 = sq + j * HW;
            for (size_t i = 0; i < HW; i++) out[i] = (float)(s1[i] / M);
            NC(nc_put_vara_float(f->index_nc, f->mean_id[v], start, count, out));
            for (size_t i = 0; i < HW; i++) {
                double var = M > 1 ? (s2[i] - s1[i] * s1[i] / M) / (M - 1) : 0;
                out[i] = (float)sqrt(var > 0 ? var : 0);
            }
            NC(nc_put_vara_float(f->index_nc, f->spread_id[v], start, count, out));
        }
    }
done:
    if (nc >= 0) nc_close(nc);
    free(sum);
    free(sq);
    free(out);
    return status;
}

int io_forecast_finish(io_forecast *f) {
    int status = UTIL_OK;
    const char *path = f->path;
    stop_writer_thread(f, 0);
    if (f->werror) {
        status = write_error(f);
        goto done;
    }
    if (f->grib) {
        FILE *fp = f->gfp;
        f->gfp = NULL;
        int bad = fflush(fp) != 0 || ferror(fp);
        if (fclose(fp) != 0 || bad) {
            status = util_fail(UTIL_EIO, "%s: cannot write the forecast file (disk full?)", path);
            goto done;
        }
        char err[512];
        if (io_grib_writer_sort(f->grib, f->part, f->tmp, err, sizeof err)) {
            status = util_fail(UTIL_EIO, "%s: %s", path, err);
            goto done;
        }
        unlink(f->part);
        if (f->spec.request && f->spec.request[0]) { /* GRIB has no place for it: a file beside */
            char req[4200], tmp[4300];
            snprintf(req, sizeof req, "%s.request", path);
            if ((status = util_output_begin(req, tmp, sizeof tmp))) goto done;
            FILE *rq = fopen(tmp, "w");
            int bad = !rq || fputs(f->spec.request, rq) < 0;
            if (rq && fclose(rq) != 0) bad = 1;
            if (bad) {
                util_output_abort(req, tmp);
                status = util_fail(UTIL_EIO, "%s: cannot write the request record (disk full?)", req);
                goto done;
            }
            if ((status = util_output_commit(req, tmp))) goto done;
        }
    } else if (f->per_member) {
        if (f->nc >= 0) {
            int nc = f->nc;
            f->nc = -1;
            NC(close_complete(nc));
            f->members_done++;
        }
        if (f->members_done != f->spec.members) {
            status = util_fail(UTIL_EINVAL, "%s: %d of %d ensemble members written", path, f->members_done, f->spec.members);
            goto done;
        }
        if ((status = write_ensemble_stats(f))) goto done;
        int nc = f->index_nc;
        f->index_nc = -1;
        NC(close_complete(nc));
        for (int m = 0; m < f->spec.members; m++) {
            char tmp[4200], final[4096];
            member_tmp(f, m, tmp, sizeof tmp);
            io_forecast_member_path(path, m, f->spec.members, final, sizeof final);
            if (rename(tmp, final) != 0) {
                status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place", final);
                goto done;
            }
        }
    } else {
        int nc = f->nc;
        f->nc = -1;
        NC(close_complete(nc));
    }
    if (rename(f->tmp, f->path) != 0) status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place", path);
done:
    if (status) {
        io_forecast_abort(f);
        return status;
    }
    free_forecast(f);
    return UTIL_OK;
}

void io_forecast_abort(io_forecast *f) {
    if (!f) return;
    stop_writer_thread(f, 1);
    if (f->nc >= 0) nc_close(f->nc);
    if (f->index_nc >= 0) nc_close(f->index_nc);
    if (f->gfp) fclose(f->gfp);
    unlink(f->tmp);
    if (f->grib) unlink(f->part);
    for (int m = 0; f->per_member && m < f->spec.members; m++) {
        char tmp[4200];
        member_tmp(f, m, tmp, sizeof tmp);
        unlink(tmp);
    }
    free_forecast(f);
}

int io_forecast_request(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    if (io_grib_detect(path)) {
        char req[4200];
        snprintf(req, sizeof req, "%s.request", path);
        FILE *fp = fopen(req, "r");
        if (!fp) return 0;
        size_t n = fread(buf, 1, cap - 1, fp);
        fclose(fp);
        buf[n] = 0;
        return 1;
    }
    int nc;
    size_t len = 0;
    if (nc_open(path, NC_NOWRITE, &nc) != NC_NOERR) return 0;
    int ok = nc_inq_attlen(nc, NC_GLOBAL, "pangu_request", &len) == NC_NOERR && len < cap &&
             nc_get_att_text(nc, NC_GLOBAL, "pangu_request", buf) == NC_NOERR;
    nc_close(nc);
    buf[ok ? len : 0] = 0;
    return ok;
}

int io_forecast_is_forecast(const char *path) {
    if (io_grib_detect(path)) { /* a GRIB forecast has its request beside it */
        char req[4200];
        struct stat st;
        return snprintf(req, sizeof req, "%s.request", path) < (int)sizeof req && stat(req, &st) == 0 && S_ISREG(st.st_mode);
    }
    int nc;
    size_t len = 0;
    if (nc_open(path, NC_NOWRITE, &nc) != NC_NOERR) return 0;
    int ok = nc_inq_attlen(nc, NC_GLOBAL, "complete", &len) == NC_NOERR;
    nc_close(nc);
    return ok;
}

int io_forecast_is_complete(const char *path) {
    if (io_grib_detect(path)) {
        /* Renamed into place only when finished; a whole last message ends in 7777. */
        FILE *fp = fopen(path, "rb");
        char end[4] = "";
        int ok = fp && fseek(fp, -4, SEEK_END) == 0 && fread(end, 1, 4, fp) == 4 && memcmp(end, "7777", 4) == 0;
        if (fp) fclose(fp);
        return ok;
    }
    int nc;
    char buf[8] = "";
    size_t len = 0;
    if (nc_open(path, NC_NOWRITE, &nc) != NC_NOERR) return 0;
    int ok = nc_inq_attlen(nc, NC_GLOBAL, "complete", &len) == NC_NOERR && len < sizeof buf &&
             nc_get_att_text(nc, NC_GLOBAL, "complete", buf) == NC_NOERR;
    nc_close(nc);
    buf[len < sizeof buf ? len : 0] = 0;
    return ok && strcmp(buf, "yes") == 0;
}
