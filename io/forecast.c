/* io forecast: CF-1.8 forecast files written one lead at a time. */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <math.h>
#include <netcdf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "io.h"

#define NVARS (IO_NUPPER + IO_NSURFACE)
#define QUEUE_MAX 64
/* States up to this size are copied into the queue, so the caller never
 * waits for their write (small grids, where a write costs as much as a
 * model call); larger ones are queued by reference, costing no memory. */
#define COPY_MAX_BYTES ((size_t)32 << 20)
#define COPIES_MAX 4

typedef struct {
    int step, member;
    const io_state *s;
    io_state *own; /* a copy owned by the job, or NULL */
} write_job;

struct io_forecast {
    int nc;
    char path[4096], tmp[4200];
    io_forecast_spec spec;
    int varid[NVARS];
    int mean_id[NVARS], spread_id[NVARS]; /* ensembles: mean and spread beside the members */
    int lev_index[IO_MAX_LEVELS]; /* filled on the first write: state level of each written level */
    int nlev_state;
    float *slab;
    /* Background writer (spec.background): all netCDF calls between create
     * and finish happen on this thread. The job at the head stays queued
     * while it is written, so io_forecast_wait sees it. */
    int threaded;
    thrd_t thread;
    mtx_t lock;
    cnd_t changed; /* a job queued or done, or stop */
    write_job queue[QUEUE_MAX];
    int head, count, stop, discard, copies;
    int nc_error; /* first netCDF error of a background write */
    double cpu_seconds;
};

static const struct {
    const char *long_name, *standard_name, *units;
} meta[NVARS] = {
    {"Geopotential", "geopotential", "m**2 s**-2"},
    {"Specific humidity", "specific_humidity", "kg kg**-1"},
    {"Temperature", "air_temperature", "K"},
    {"U component of wind", "eastward_wind", "m s**-1"},
    {"V component of wind", "northward_wind", "m s**-1"},
    {"Mean sea level pressure", "air_pressure_at_mean_sea_level", "Pa"},
    {"10 metre U wind component", "eastward_wind", "m s**-1"},
    {"10 metre V wind component", "northward_wind", "m s**-1"},
    {"2 metre temperature", "air_temperature", "K"},
};

static int writer_main(void *arg);

static int text(int nc, int varid, const char *name, const char *value) {
    return nc_put_att_text(nc, varid, name, strlen(value), value);
}

#define NC(call)                                                                                             \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        if (rc_ != NC_NOERR) {                                                                               \
            status = util_fail(UTIL_EIO, "%s: cannot write the forecast file (%s; disk full?)", path, nc_strerror(rc_)); \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)

/* Remove temporary files that killed runs left for this path. */
static void remove_stale(const char *path) {
    char pattern[4200];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.tmp.*", path);
    if (glob(pattern, 0, NULL, &g) != 0) return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *dot = strrchr(g.gl_pathv[i], '.');
        long pid = dot ? strtol(dot + 1, NULL, 10) : 0;
        if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0) unlink(g.gl_pathv[i]);
    }
    globfree(&g);
}

int io_forecast_create(io_forecast **out, const char *path, const io_forecast_spec *spec) {
    int status = UTIL_OK;
    remove_stale(path);
    *out = NULL;
    io_forecast *f = calloc(1, sizeof *f);
    if (!f) return util_fail(UTIL_ENOMEM, "out of memory");
    f->nc = -1;
    f->spec = *spec;
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%d", path, (int)getpid());
    f->slab = malloc(sizeof(float) * (size_t)spec->H * spec->W);
    if (!f->slab) {
        free(f);
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
    int nc, d_member = -1, d_step, d_lev, d_lat, d_lon, v_time, v_fp, v_ref, v_lev, v_lat, v_lon, v_member = -1;
    NC(nc_create(f->tmp, NC_CLOBBER | NC_NETCDF4, &nc));
    f->nc = nc;
    if (spec->members > 0) NC(nc_def_dim(nc, "member", (size_t)spec->members, &d_member));
    NC(nc_def_dim(nc, "step", (size_t)spec->nsteps, &d_step));
    NC(nc_def_dim(nc, "level", (size_t)spec->nlev, &d_lev));
    NC(nc_def_dim(nc, "latitude", (size_t)spec->H, &d_lat));
    NC(nc_def_dim(nc, "longitude", (size_t)spec->W, &d_lon));
    if (d_member >= 0) {
        NC(nc_def_var(nc, "member", NC_INT, 1, &d_member, &v_member));
        NC(text(nc, v_member, "long_name", "ensemble member (0: unperturbed control)"));
        NC(text(nc, v_member, "standard_name", "realization"));
    }
    NC(nc_def_var(nc, "time", NC_DOUBLE, 1, &d_step, &v_time));
    NC(text(nc, v_time, "standard_name", "time"));
    NC(text(nc, v_time, "long_name", "valid time"));
    NC(text(nc, v_time, "units", "hours since 1900-01-01 00:00:00"));
    NC(text(nc, v_time, "calendar", "proleptic_gregorian"));
    NC(text(nc, v_time, "axis", "T"));
    NC(nc_def_var(nc, "forecast_period", NC_DOUBLE, 1, &d_step, &v_fp));
    NC(text(nc, v_fp, "standard_name", "forecast_period"));
    NC(text(nc, v_fp, "long_name", "lead time"));
    NC(text(nc, v_fp, "units", "hours"));
    NC(nc_def_var(nc, "forecast_reference_time", NC_DOUBLE, 0, NULL, &v_ref));
    NC(text(nc, v_ref, "standard_name", "forecast_reference_time"));
    NC(text(nc, v_ref, "long_name", "initial time"));
    NC(text(nc, v_ref, "units", "hours since 1900-01-01 00:00:00"));
    NC(text(nc, v_ref, "calendar", "proleptic_gregorian"));
    NC(nc_def_var(nc, "level", NC_FLOAT, 1, &d_lev, &v_lev));
    NC(text(nc, v_lev, "standard_name", "air_pressure"));
    NC(text(nc, v_lev, "long_name", "pressure level"));
    NC(text(nc, v_lev, "units", "hPa"));
    NC(text(nc, v_lev, "positive", "down"));
    NC(text(nc, v_lev, "axis", "Z"));
    NC(nc_def_var(nc, "latitude", NC_DOUBLE, 1, &d_lat, &v_lat));
    NC(text(nc, v_lat, "standard_name", "latitude"));
    NC(text(nc, v_lat, "long_name", "latitude"));
    NC(text(nc, v_lat, "units", "degrees_north"));
    NC(text(nc, v_lat, "axis", "Y"));
    NC(nc_def_var(nc, "longitude", NC_DOUBLE, 1, &d_lon, &v_lon));
    NC(text(nc, v_lon, "standard_name", "longitude"));
    NC(text(nc, v_lon, "long_name", "longitude"));
    NC(text(nc, v_lon, "units", "degrees_east"));
    NC(text(nc, v_lon, "axis", "X"));
    int level = spec->deflate == 0 ? 1 : spec->deflate < 0 ? 0 : spec->deflate > 9 ? 9 : spec->deflate;
    for (int v = 0; v < NVARS; v++) {
        f->varid[v] = -1;
        if (!spec->write_var[v]) continue;
        int upper = v < IO_NUPPER, dims[5], n = 0;
        size_t chunk[5];
        if (d_member >= 0) dims[n] = d_member, chunk[n++] = 1;
        dims[n] = d_step, chunk[n++] = 1;
        if (upper) dims[n] = d_lev, chunk[n++] = 1;
        dims[n] = d_lat, chunk[n++] = (size_t)spec->H;
        dims[n] = d_lon, chunk[n++] = (size_t)spec->W;
        if (upper && spec->nlev == 0) continue;
        const char *name = upper ? io_upper_names[v] : io_surface_names[v - IO_NUPPER];
        NC(nc_def_var(nc, name, NC_FLOAT, n, dims, &f->varid[v]));
        NC(nc_def_var_chunking(nc, f->varid[v], NC_CHUNKED, chunk));
        if (level > 0) NC(nc_def_var_deflate(nc, f->varid[v], 1, 1, level));
        float fill = NC_FILL_FLOAT;
        NC(nc_def_var_fill(nc, f->varid[v], 0, &fill));
        NC(text(nc, f->varid[v], "long_name", meta[v].long_name));
        NC(text(nc, f->varid[v], "standard_name", meta[v].standard_name));
        NC(text(nc, f->varid[v], "units", meta[v].units));
        f->mean_id[v] = f->spread_id[v] = -1;
        if (d_member < 0) continue;
        for (int which = 0; which < 2; which++) {
            char vname[64], lname[160];
            snprintf(vname, sizeof vname, "%s_%s", name, which ? "spread" : "mean");
            snprintf(lname, sizeof lname, "%s, ensemble %s", meta[v].long_name,
                     which ? "spread (standard deviation over members, N - 1)" : "mean");
            int id;
            NC(nc_def_var(nc, vname, NC_FLOAT, n - 1, dims + 1, &id));
            NC(nc_def_var_chunking(nc, id, NC_CHUNKED, chunk + 1));
            if (level > 0) NC(nc_def_var_deflate(nc, id, 1, 1, level));
            NC(nc_def_var_fill(nc, id, 0, &fill));
            NC(text(nc, id, "long_name", lname));
            NC(text(nc, id, "units", meta[v].units));
            if (!which) NC(text(nc, id, "standard_name", meta[v].standard_name));
            *(which ? &f->spread_id[v] : &f->mean_id[v]) = id;
        }
    }
    NC(text(nc, NC_GLOBAL, "Conventions", "CF-1.8"));
    NC(text(nc, NC_GLOBAL, "title", "Pangu-Weather forecast"));
    NC(text(nc, NC_GLOBAL, "institution", "pangu-c"));
    NC(text(nc, NC_GLOBAL, "source", spec->source ? spec->source : "pangu-c"));
    if (spec->history) NC(text(nc, NC_GLOBAL, "history", spec->history));
    NC(text(nc, NC_GLOBAL, "complete", "no"));
    NC(nc_enddef(nc));
    /* No chunk cache: each slab is one whole chunk, so it is compressed and
     * written at once (on the writer thread) instead of piling up for
     * nc_close. Set in data mode, when the HDF5 datasets exist. */
    for (int v = 0; v < NVARS; v++)
        if (f->varid[v] >= 0) NC(nc_set_var_chunk_cache(nc, f->varid[v], 0, 0, 0.75f));
    if (v_member >= 0)
        for (int m = 0; m < spec->members; m++) {
            size_t i = (size_t)m;
            NC(nc_put_var1_int(nc, v_member, &i, &m));
        }
    for (int s = 0; s < spec->nsteps; s++) {
        size_t i = (size_t)s;
        double valid = (spec->init_time + spec->lead_hours[s] * 3600.0 - IO_EPOCH_1900) / 3600.0;
        NC(nc_put_var1_double(nc, v_time, &i, &valid));
        NC(nc_put_var1_double(nc, v_fp, &i, &spec->lead_hours[s]));
    }
    double ref = (spec->init_time - IO_EPOCH_1900) / 3600.0;
    NC(nc_put_var_double(nc, v_ref, &ref));
    NC(nc_put_var_float(nc, v_lev, spec->levels));
    NC(nc_put_var_double(nc, v_lat, spec->lat));
    NC(nc_put_var_double(nc, v_lon, spec->lon));
    if (spec->background) {
        /* Without a thread the writes are synchronous: slower, still right. */
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

/* The written fields of one state: netCDF calls only, so that the writer
 * thread can run it (util_fail is for the calling thread). */
static int put_state(io_forecast *f, const write_job *job) {
    const io_forecast_spec *sp = &f->spec;
    const io_state *s = job->s;
    size_t HW = (size_t)s->H * s->W;
    for (int v = 0; v < NVARS; v++) {
        if (f->varid[v] < 0) continue;
        int upper = v < IO_NUPPER;
        for (int k = 0; k < (upper ? sp->nlev : 1); k++) {
            size_t start[5], count[5];
            int n = 0;
            if (sp->members > 0) start[n] = (size_t)job->member, count[n++] = 1;
            start[n] = (size_t)job->step, count[n++] = 1;
            if (upper) start[n] = (size_t)k, count[n++] = 1;
            start[n] = 0, count[n++] = (size_t)s->H;
            start[n] = 0, count[n++] = (size_t)s->W;
            const float *src = upper ? s->upper + ((size_t)v * s->nlev + f->lev_index[k]) * HW
                                     : s->surface + (size_t)(v - IO_NUPPER) * HW;
            int rc = nc_put_vara_float(f->nc, f->varid[v], start, count, src);
            if (rc != NC_NOERR) return rc;
        }
    }
    return NC_NOERR;
}

static int writer_main(void *arg) {
    io_forecast *f = arg;
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    mtx_lock(&f->lock);
    for (;;) {
        while (f->count == 0 && !f->stop) cnd_wait(&f->changed, &f->lock);
        if (f->count == 0) break;
        write_job job = f->queue[f->head];
        int skip = f->nc_error || f->discard;
        mtx_unlock(&f->lock);
        int rc = skip ? NC_NOERR : put_state(f, &job);
        if (job.own) io_state_free(job.own), free(job.own);
        mtx_lock(&f->lock);
        if (job.own) f->copies--;
        if (rc != NC_NOERR && !f->nc_error) f->nc_error = rc;
        f->head = (f->head + 1) % QUEUE_MAX;
        f->count--;
        cnd_broadcast(&f->changed);
    }
    mtx_unlock(&f->lock);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    f->cpu_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return 0;
}

static int write_error(const io_forecast *f, int rc) {
    return util_fail(UTIL_EIO, "%s: cannot write the forecast file (%s; disk full?)", f->path, nc_strerror(rc));
}

/* Stop the writer thread after the queued jobs (or dropping them). Returns
 * the first netCDF error of a background write. */
static int stop_writer(io_forecast *f, int discard) {
    if (!f->threaded) return NC_NOERR;
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
    return f->nc_error;
}

int io_forecast_write(io_forecast *f, int step, int member, const io_state *s) {
    const char *path = f->path;
    const io_forecast_spec *sp = &f->spec;
    if (step < 0 || step >= sp->nsteps || (sp->members > 0 && (member < 0 || member >= sp->members)))
        return util_fail(UTIL_EINVAL, "%s: step %d / member %d outside the file", path, step, member);
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
    write_job job = {step, member, s, NULL};
    if (!f->threaded) {
        int rc = put_state(f, &job);
        return rc == NC_NOERR ? UTIL_OK : write_error(f, rc);
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
    while ((f->count == QUEUE_MAX || (job.own && f->copies >= COPIES_MAX)) && !f->nc_error)
        cnd_wait(&f->changed, &f->lock);
    int rc = f->nc_error;
    if (rc && job.own) io_state_free(job.own), free(job.own);
    if (!rc) {
        f->copies += job.own != NULL;
        f->queue[(f->head + f->count) % QUEUE_MAX] = job;
        f->count++;
        cnd_broadcast(&f->changed);
    }
    mtx_unlock(&f->lock);
    return rc == NC_NOERR ? UTIL_OK : write_error(f, rc);
}

int io_forecast_wait(io_forecast *f, const io_state *s) {
    if (!f || !f->threaded) return UTIL_OK;
    mtx_lock(&f->lock);
    for (;;) {
        int busy = 0;
        for (int i = 0; i < f->count && !busy; i++) busy = f->queue[(f->head + i) % QUEUE_MAX].s == s;
        if (!busy || f->nc_error) break;
        cnd_wait(&f->changed, &f->lock);
    }
    int rc = f->nc_error;
    mtx_unlock(&f->lock);
    return rc == NC_NOERR ? UTIL_OK : write_error(f, rc);
}

/* Ensemble mean and spread of every written field, read back member by
 * member from the file itself: memory of two slabs, whatever the size. */
static int write_ensemble_stats(io_forecast *f) {
    int status = UTIL_OK;
    const char *path = f->path;
    const io_forecast_spec *sp = &f->spec;
    size_t HW = (size_t)sp->H * sp->W;
    double *sum = malloc(sizeof(double) * HW), *sq = malloc(sizeof(double) * HW);
    float *out = malloc(sizeof(float) * HW);
    if (!sum || !sq || !out) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int v = 0; v < NVARS; v++) {
        if (f->varid[v] < 0) continue;
        int upper = v < IO_NUPPER;
        for (int s = 0; s < sp->nsteps; s++)
            for (int k = 0; k < (upper ? sp->nlev : 1); k++) {
                size_t start[5], count[5];
                int n = 0;
                start[n] = 0, count[n++] = 1;
                start[n] = (size_t)s, count[n++] = 1;
                if (upper) start[n] = (size_t)k, count[n++] = 1;
                start[n] = 0, count[n++] = (size_t)sp->H;
                start[n] = 0, count[n++] = (size_t)sp->W;
                for (size_t i = 0; i < HW; i++) sum[i] = sq[i] = 0;
                for (int m = 0; m < sp->members; m++) {
                    start[0] = (size_t)m;
                    NC(nc_get_vara_float(f->nc, f->varid[v], start, count, f->slab));
                    for (size_t i = 0; i < HW; i++) sum[i] += f->slab[i], sq[i] += (double)f->slab[i] * f->slab[i];
                }
                int M = sp->members;
                for (size_t i = 0; i < HW; i++) out[i] = (float)(sum[i] / M);
                NC(nc_put_vara_float(f->nc, f->mean_id[v], start + 1, count + 1, out));
                for (size_t i = 0; i < HW; i++) {
                    double var = M > 1 ? (sq[i] - sum[i] * sum[i] / M) / (M - 1) : 0;
                    out[i] = (float)sqrt(var > 0 ? var : 0);
                }
                NC(nc_put_vara_float(f->nc, f->spread_id[v], start + 1, count + 1, out));
            }
    }
done:
    free(sum);
    free(sq);
    free(out);
    return status;
}

int io_forecast_finish(io_forecast *f) {
    int status = UTIL_OK;
    const char *path = f->path;
    int rc = stop_writer(f, 0);
    if (rc != NC_NOERR) {
        status = write_error(f, rc);
        goto done;
    }
    if (f->spec.members > 0 && (status = write_ensemble_stats(f))) goto done;
    NC(nc_redef(f->nc));
    NC(text(f->nc, NC_GLOBAL, "complete", "yes"));
    NC(nc_enddef(f->nc));
    int nc = f->nc;
    f->nc = -1;
    NC(nc_close(nc));
    if (rename(f->tmp, f->path) != 0) status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place", path);
done:
    if (status) {
        io_forecast_abort(f);
        return status;
    }
    free(f->slab);
    free(f);
    return UTIL_OK;
}

void io_forecast_abort(io_forecast *f) {
    if (!f) return;
    stop_writer(f, 1);
    if (f->nc >= 0) nc_close(f->nc);
    unlink(f->tmp);
    free(f->slab);
    free(f);
}

int io_forecast_is_complete(const char *path) {
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
