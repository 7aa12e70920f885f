/* eval run: one pass over the forecast files in order of initial time,
 * each (initial time, lead) scored against the truth at its valid time as
 * it is read; truth states (and their climatology) are kept in a small
 * least-recently-used cache, so memory depends on the grid, the levels and
 * the cache size, never on the number of initial times. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <omp.h>

#include "../util/util.h"
#include "eval.h"

#define NVARS (IO_NUPPER + IO_NSURFACE)
#define EVAL_MAX_FIELDS (IO_NUPPER * IO_MAX_LEVELS + IO_NSURFACE)

/* One forecast: the files of one option that share an initial time (a
 * pangu forecast file alone). */
typedef struct {
    int src, opt, native;
    double init;
    const char **files;
    int nfiles;
    long init_index; /* of a WeatherBench 2 file with several initial times (-1: none) */
} job;

/* One forecast file at one of its initial times. */
typedef struct {
    const char *path;
    double init;
    long init_index;
    int native, opt;
} entry;

typedef struct {
    double time;
    int used, clim_ok;
    unsigned long stamp;
    io_state st;
    float *clim; /* (nf, H, W) */
    long *nan;   /* (nf, nreg + 1): truth NaN points per field in each region and in any region */
} slot;

typedef struct {
    const eval_config *cfg;
    io_series *truth;
    eval_clim *clim;
    int H, W, nlev, nf, ntask, nreg, nfc, nsrc, nleads;
    size_t HW;
    float levels[IO_MAX_LEVELS];
    double *leads;
    int has[EVAL_MAX_SOURCES + 2][NVARS]; /* variables scored per source */
    int members[EVAL_MAX_SOURCES];
    char names[EVAL_MAX_SOURCES + 2][128];
    const char *first_file[EVAL_MAX_SOURCES]; /* of each source, for messages */
    int *tasks[EVAL_MAX_SOURCES + 2], ntasks[EVAL_MAX_SOURCES + 2], nfield_tasks[EVAL_MAX_SOURCES + 2];
    eval_region regions[EVAL_MAX_REGIONS];
    eval_grid grid;
    int grid_ready;
    eval_accum *acc;
    long *nan_acc; /* (nsrc, nleads, nf, nreg + 1): truth NaN points of the pairs scored, summed */
    slot *cache;
    int ncache;
    unsigned long clock;
    size_t ntimes;
    double *times; /* truth valid times */
    long pairs, skipped, skipped_persistence, files_done;
    /* report maps */
    eval_map maps[16];
    int nmaps;
    char map_init[64];
    /* eval_run's forecasts and scoring buffers */
    job *jobs;
    int njobs;
    const char **pool;
    io_state fc;
    float *mbuf;         /* ensemble members of a chunk of fields */
    int chunk;
    float *rqe_scratch;  /* 2 H W floats per OpenMP thread (eval_rqe) */
    int nthreads;
    unsigned char *bl;   /* by lead: the leads the baselines score at this initial time (score_file marks them) */
    float truth_levels[IO_MAX_LEVELS];
    int truth_nlev;
    double fc_first, fc_last; /* the span of the forecasts' valid times */
    double tstart;
    /* the report's scorecard: per-initial-time MSE of the first region (src, lead, field, init) */
    double *init_mse;
    int ninit, cur_init, reference;
    unsigned char is_baseline[EVAL_MAX_SOURCES + 2];
} run;

static const char *var_name(int v) { return v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER]; }

/* field f: z q t u v at level k as v * nlev + k, then msl u10 v10 t2m */
static int field_var(const run *R, int f) { return f < IO_NUPPER * R->nlev ? f / R->nlev : IO_NUPPER + f - IO_NUPPER * R->nlev; }
static float field_level(const run *R, int f) { return f < IO_NUPPER * R->nlev ? R->levels[f % R->nlev] : 0; }
static float *field_ptr(const run *R, const io_state *s, int f) {
    return f < IO_NUPPER * R->nlev ? s->upper + (size_t)f * R->HW : s->surface + (size_t)(f - IO_NUPPER * R->nlev) * R->HW;
}
static int field_index(const run *R, int v, int k) { return v < IO_NUPPER ? v * R->nlev + k : IO_NUPPER * R->nlev + v - IO_NUPPER; }

/* Metric m asked for (--metrics; all by default). */
static int wanted(const run *R, int m) { return !R->cfg->metrics || (R->cfg->metrics >> m & 1u); }

static long *nan_at(const run *R, int src, int li, int f) {
    return &R->nan_acc[(((size_t)src * R->nleads + li) * R->nf + f) * (R->nreg + 1)];
}

static eval_accum *acc_at(const run *R, int src, int li, int task, int r) {
    return &R->acc[(((size_t)src * R->nleads + li) * R->ntask + task) * R->nreg + r];
}

static int lead_index(const run *R, double lead) {
    int lo = 0, hi = R->nleads - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (fabs(R->leads[mid] - lead) < 1e-6) return mid;
        if (R->leads[mid] < lead) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static int truth_has(const run *R, double t) {
    size_t lo = 0, hi = R->ntimes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (fabs(R->times[mid] - t) < 0.5) return 1;
        if (R->times[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* Re-issue the last message with a prefix. */
static int wrap(int status, const char *prefix) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", util_last_message());
    return util_fail(status, "%s%s", prefix, msg);
}

/* NaN points of a truth state per field and region, for the fields scored. */
static int count_truth_nan(run *R, slot *s) {
    const eval_grid *g = &R->grid;
    int nr = R->nreg + 1;
    memset(s->nan, 0, sizeof(long) * (size_t)R->nf * nr);
    for (int f = 0; f < R->nf; f++) {
        int v = field_var(R, f), scored = 0;
        for (int q = 0; q < R->nsrc; q++) scored |= R->has[q][v];
        const float *o = field_ptr(R, &s->st, f);
        size_t bad = 0;
        for (size_t i = 0; scored && i < R->HW; i++) bad += !isfinite(o[i]);
        if (!bad) continue;
        long *n = s->nan + (size_t)f * nr;
        for (int i = 0; i < R->H; i++)
            for (int j = 0; j < R->W; j++) {
                if (isfinite(o[(size_t)i * R->W + j])) continue;
                int any = 0;
                for (int r = 0; r < R->nreg; r++)
                    if (g->row[(size_t)r * R->H + i] && (g->all_lon[r] || g->col[(size_t)r * R->W + j])) n[r]++, any = 1;
                n[R->nreg] += any;
            }
    }
    return UTIL_OK;
}

/* --truth-nan error: the truth at a valid time scored for source src must
 * have no NaN inside the regions in the fields src scores. */
static int refuse_truth_nan(const run *R, const slot *s, int src) {
    for (int f = 0; f < R->nf && R->cfg->truth_nan_error; f++) {
        int v = field_var(R, f);
        const long *n = s->nan + (size_t)f * (R->nreg + 1);
        if (R->has[src][v] && n[R->nreg]) {
            char when[64], lev[32] = "";
            util_time_format(s->time, when, sizeof when);
            if (v < IO_NUPPER) snprintf(lev, sizeof lev, " at %g hPa", field_level(R, f));
            return util_fail(UTIL_EFORMAT, "truth: %s: variable '%s'%s, valid time %s: NaN at %ld scored point%s (--truth-nan "
                                           "error refuses them; without it they are left out and counted)",
                             s->st.source[v][0] ? s->st.source[v] : R->cfg->truth[0], var_name(v), lev, when, n[R->nreg],
                             n[R->nreg] > 1 ? "s" : "");
        }
    }
    return UTIL_OK;
}

/* The truth at valid time t, from the cache or read. */
static int truth_at(run *R, double t, slot **out) {
    slot *s = NULL;
    for (int i = 0; i < R->ncache; i++)
        if (R->cache[i].used && fabs(R->cache[i].time - t) < 0.5) s = &R->cache[i];
    if (!s) {
        for (int i = 0; i < R->ncache; i++)
            if (!s || !R->cache[i].used || (s->used && R->cache[i].stamp < s->stamp)) s = &R->cache[i];
        s->used = s->clim_ok = 0;
        /* Slots keep their buffers: at 0.25 degrees a fresh state costs more
         * in page faults than reading it. */
        int status = s->st.upper ? UTIL_OK : io_state_alloc(&s->st, R->H, R->W, R->levels, R->nlev, NULL);
        if (!status) status = io_series_read_into(R->truth, t, &s->st);
        if (!status) status = io_state_check_plausible(&s->st, NULL, NULL, NULL, NULL);
        if (status) return wrap(status, "truth: ");
        s->time = t, s->used = 1;
        if (!R->grid_ready) {
            const eval_region *reg = R->cfg->nregions ? R->cfg->regions : eval_default_regions;
            if ((status = eval_grid_init(&R->grid, s->st.lat, s->st.lon, R->H, R->W, reg, R->nreg))) return status;
            R->grid_ready = 1;
        }
        if ((status = count_truth_nan(R, s))) return status;
    }
    s->stamp = ++R->clock;
    *out = s;
    return UTIL_OK;
}

/* The climatology at the slot's valid time, for every variable scored. */
static int clim_of(run *R, slot *s) {
    if (s->clim_ok) return UTIL_OK;
    for (int f = 0; f < R->nf; f++) {
        int v = field_var(R, f), any = 0;
        for (int q = 0; q < R->nsrc; q++) any |= R->has[q][v];
        if (!any) continue;
        int status = eval_clim_read(R->clim, s->time, v, field_level(R, f), s->clim + (size_t)f * R->HW);
        if (status) return status;
    }
    s->clim_ok = 1;
    return UTIL_OK;
}

typedef struct {
    const io_state *fc, *truth;
    const float *clim; /* (nf, HW) or NULL */
    const float *mem;  /* (ntasks, M, HW) members by task position, or NULL */
    int M;
    const long *nan;   /* the truth's NaN counts (slot.nan) */
} score_in;

/* Score tasks (fields, then vector winds) of one source at one lead; the
 * tasks write disjoint accumulators, so they run in parallel. */
static void score_tasks(run *R, int src, int li, const score_in *in, const int *tasks, int ntasks) {
    /* threads only pay off on grids larger than the demo's 32 x 64 */
    int big = R->HW * (in->mem ? (size_t)in->M : 1) >= 16384 && ntasks > 1;
#pragma omp parallel for schedule(dynamic, 1) if (big)
    for (int q = 0; q < ntasks; q++) {
        int t = tasks[q];
        eval_sums sums[EVAL_MAX_REGIONS];
        memset(sums, 0, sizeof sums);
        if (t < R->nf) {
            const float *ens[256];
            int M = in->mem ? in->M : 0;
            for (int m = 0; m < M; m++) ens[m] = in->mem + ((size_t)q * M + m) * R->HW;
            eval_field(&R->grid, sums, field_ptr(R, in->fc, t), field_ptr(R, in->truth, t),
                       in->clim ? in->clim + (size_t)t * R->HW : NULL, M > 1 ? ens : NULL, M);
            int th = omp_get_thread_num();
            float *scratch = R->rqe_scratch + (size_t)(th < R->nthreads ? th : 0) * 2 * R->HW;
            for (int r = 0; r < R->nreg && wanted(R, EVAL_RQE); r++) /* the costliest score: only when asked */
                sums[r].has_rqe = eval_rqe(&R->grid, r, field_ptr(R, in->fc, t), field_ptr(R, in->truth, t), scratch, &sums[r].rqe);
        } else {
            int k = t - R->nf, surface = k == R->nlev;
            int fu = surface ? field_index(R, 6, 0) : field_index(R, 3, k), fv = surface ? field_index(R, 7, 0) : field_index(R, 4, k);
            eval_wind(&R->grid, sums, field_ptr(R, in->fc, fu), field_ptr(R, in->fc, fv), field_ptr(R, in->truth, fu),
                      field_ptr(R, in->truth, fv));
        }
        for (int r = 0; r < R->nreg; r++) eval_accum_add(acc_at(R, src, li, t, r), &sums[r]);
        if (R->init_mse && t < R->nf && sums[0].w > 0)
            R->init_mse[(((size_t)src * R->nleads + li) * R->nf + t) * R->ninit + R->cur_init] = sums[0].se / sums[0].w;
    }
    for (int q = 0; q < ntasks; q++) /* the truth's NaN points these pairs left out */
        if (tasks[q] < R->nf)
            for (int r = 0; r <= R->nreg; r++) nan_at(R, src, li, tasks[q])[r] += in->nan[(size_t)tasks[q] * (R->nreg + 1) + r];
}

/* Tasks of a source: its fields, then u/v per level and u10/v10. */
static int make_tasks(run *R, int src) {
    int *t = malloc(sizeof(int) * (size_t)R->ntask), n = 0;
    if (!t) return util_fail(UTIL_ENOMEM, "out of memory");
    for (int f = 0; f < R->nf; f++)
        if (R->has[src][field_var(R, f)]) t[n++] = f;
    R->nfield_tasks[src] = n;
    if (R->has[src][3] && R->has[src][4] && wanted(R, EVAL_WIND_RMSE))
        for (int k = 0; k < R->nlev; k++) t[n++] = R->nf + k;
    if (R->has[src][6] && R->has[src][7] && wanted(R, EVAL_WIND_RMSE)) t[n++] = R->nf + R->nlev;
    R->tasks[src] = t, R->ntasks[src] = n;
    return UTIL_OK;
}

static int check_grid(const run *R, const char *path, const double *lat, const double *lon) {
    for (int i = 0; i < R->H; i++)
        if (fabs(lat[i] - R->grid.lat[i]) > 1e-3)
            return util_fail(UTIL_EFORMAT, "%s: latitude %d is %g, the truth's %g: put forecast and truth on one grid "
                                           "(pangu regrid, or cdo remapcon meanwhile)", path, i, lat[i], R->grid.lat[i]);
    for (int j = 0; j < R->W; j++)
        if (fabs(lon[j] - R->grid.lon[j]) > 1e-3)
            return util_fail(UTIL_EFORMAT, "%s: longitude %d is %g, the truth's %g: put forecast and truth on one grid "
                                           "(pangu regrid, or cdo remapcon meanwhile)", path, j, lon[j], R->grid.lon[j]);
    return UTIL_OK;
}

static void keep_map(run *R, const char *field, double lead, const float *f, const float *o) {
    if (R->nmaps >= 16) return;
    eval_map *m = &R->maps[R->nmaps];
    m->forecast = malloc(sizeof(float) * R->HW), m->truth = malloc(sizeof(float) * R->HW);
    if (!m->forecast || !m->truth) {
        free(m->forecast), free(m->truth);
        return;
    }
    memcpy(m->forecast, f, sizeof(float) * R->HW), memcpy(m->truth, o, sizeof(float) * R->HW);
    snprintf(m->field, sizeof m->field, "%s", field);
    m->lead = lead;
    R->nmaps++;
}

/* Score every step of one forecast file; baseline leads are marked in bl. */
static int score_file(run *R, const job *jb, int map_job, unsigned char *bl, io_state *fc, float *mbuf, int chunk) {
    const char *path = jb->files[0];
    eval_fc *f = NULL;
    int status = eval_fc_open_at(&f, jb->files, jb->nfiles, jb->init, jb->init_index);
    if (status) return status;
    const eval_fc_info *in = eval_fc_describe(f);
    int M = in->members, checked = 0;
    double *lat = malloc(sizeof(double) * R->H), *lon = malloc(sizeof(double) * R->W);
    if (!lat || !lon) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    const int *tasks = R->tasks[jb->src];
    int nft = R->nfield_tasks[jb->src], nt = R->ntasks[jb->src];
    double first = NAN, last = NAN;
    for (int s = 0; s < in->nsteps; s++)
        if (in->lead[s] > 1e-9) {
            if (isnan(first)) first = in->lead[s];
            last = in->lead[s];
        }
    for (int s = 0; s < in->nsteps && !status; s++) {
        if (in->lead[s] < -1e-9) continue;
        int li = lead_index(R, in->lead[s]);
        if (li < 0) continue;
        if (!truth_has(R, in->valid[s])) {
            R->skipped++;
            continue;
        }
        slot *tr;
        if ((status = truth_at(R, in->valid[s], &tr)) || (status = refuse_truth_nan(R, tr, jb->src))) break;
        if (R->clim && (status = clim_of(R, tr))) break;
        score_in sc = {fc, &tr->st, R->clim ? tr->clim : NULL, NULL, 0, tr->nan};
        if (M > 0) {
            /* members in chunks of fields; the ensemble mean into fc */
            for (int q0 = 0; q0 < nft && !status; q0 += chunk) {
                int q1 = q0 + chunk < nft ? q0 + chunk : nft;
                for (int q = q0; q < q1 && !status; q++) {
                    int fi = tasks[q];
                    float *mean = field_ptr(R, fc, fi);
                    for (size_t i = 0; i < R->HW; i++) mean[i] = 0;
                    for (int m = 0; m < M && !status; m++) {
                        float *x = mbuf + ((size_t)(q - q0) * M + m) * R->HW;
                        status = eval_fc_read(f, s, m, field_var(R, fi), field_level(R, fi), x, checked ? NULL : lat,
                                              checked ? NULL : lon);
                        if (!status && !checked) status = check_grid(R, path, lat, lon), checked = 1;
                        for (size_t i = 0; i < R->HW && !status; i++) mean[i] += x[i] / M;
                    }
                }
                if (status) break;
                sc.mem = mbuf, sc.M = M;
                score_tasks(R, jb->src, li, &sc, tasks + q0, q1 - q0);
            }
            if (status) break;
            sc.mem = NULL, sc.M = 0;
            score_tasks(R, jb->src, li, &sc, tasks + nft, nt - nft);
        } else {
            for (int q = 0; q < nft && !status; q++) {
                int fi = tasks[q];
                status = eval_fc_read(f, s, -1, field_var(R, fi), field_level(R, fi), field_ptr(R, fc, fi),
                                      checked ? NULL : lat, checked ? NULL : lon);
                if (!status && !checked) status = check_grid(R, path, lat, lon), checked = 1;
            }
            if (status) break;
            score_tasks(R, jb->src, li, &sc, tasks, nt);
        }
        bl[li] = 1;
        R->pairs++;
        if (map_job && R->cfg->report) {
            int want = 0;
            if (R->cfg->nmap) {
                for (int q = 0; q < R->cfg->nmap; q++) want |= fabs(R->cfg->map_leads[q] - in->lead[s]) < 1e-6;
            } else
                want = fabs(in->lead[s] - first) < 1e-9 || fabs(in->lead[s] - last) < 1e-9;
            if (want) {
                int k500 = -1;
                for (int k = 0; k < R->nlev; k++)
                    if (R->levels[k] == 500) k500 = k;
                if (k500 >= 0 && R->has[jb->src][0])
                    keep_map(R, "z500", in->lead[s], field_ptr(R, fc, field_index(R, 0, k500)),
                             field_ptr(R, &tr->st, field_index(R, 0, k500)));
                if (R->has[jb->src][8])
                    keep_map(R, "t2m", in->lead[s], field_ptr(R, fc, field_index(R, 8, 0)), field_ptr(R, &tr->st, field_index(R, 8, 0)));
                util_time_format(jb->init, R->map_init, sizeof R->map_init);
            }
        }
    }
done:
    free(lat), free(lon);
    eval_fc_close(f);
    return status;
}

/* Persistence and climatology at the leads marked for one initial time. */
static int score_baselines(run *R, double init, const unsigned char *bl, io_state *fc) {
    int status = UTIL_OK, have_init = R->cfg->persistence && truth_has(R, init);
    for (int li = 0; li < R->nleads && !status; li++) {
        if (!bl[li]) continue;
        double valid = init + R->leads[li] * 3600;
        slot *tr, *t0;
        int src = R->nfc;
        if (R->cfg->persistence) {
            if (!have_init) R->skipped_persistence++;
            else {
                if ((status = truth_at(R, init, &t0)) || (status = truth_at(R, valid, &tr)) ||
                    (status = refuse_truth_nan(R, tr, src)))
                    break;
                if (R->clim && (status = clim_of(R, tr))) break;
                score_in sc = {&t0->st, &tr->st, R->clim ? tr->clim : NULL, NULL, 0, tr->nan};
                score_tasks(R, src, li, &sc, R->tasks[src], R->ntasks[src]);
            }
            src++;
        }
        if (R->cfg->climatology_baseline) {
            if ((status = truth_at(R, valid, &tr)) || (status = refuse_truth_nan(R, tr, src)) || (status = clim_of(R, tr))) break;
            for (int q = 0; q < R->nfield_tasks[src]; q++) {
                int fi = R->tasks[src][q];
                memcpy(field_ptr(R, fc, fi), tr->clim + (size_t)fi * R->HW, sizeof(float) * R->HW);
            }
            score_in sc = {fc, &tr->st, tr->clim, NULL, 0, tr->nan};
            score_tasks(R, src, li, &sc, R->tasks[src], R->ntasks[src]);
        }
    }
    return status;
}

/* One warning line per source, field and lead whose truth had NaN at scored
 * points (the first 20; then how many more). */
static void warn_truth_nan(const run *R) {
    long lines = 0;
    for (int src = 0; src < R->nsrc; src++)
        for (int f = 0; f < R->nf; f++)
            for (int li = 0; li < R->nleads; li++) {
                long n = nan_at(R, src, li, f)[R->nreg];
                if (!n || ++lines > 20) continue;
                int v = field_var(R, f);
                char lev[32] = "";
                if (v < IO_NUPPER) snprintf(lev, sizeof lev, " %g hPa", field_level(R, f));
                fprintf(stderr, "pangu eval: warning: source %s, %s%s, lead %g h: the truth is NaN at %ld scored point%s, left out "
                                "(rows truth_nan_points in the CSV; --truth-nan error refuses them)\n",
                        R->names[src], var_name(v), lev, R->leads[li], n, n > 1 ? "s" : "");
            }
    if (lines > 20) fprintf(stderr, "pangu eval: warning: and %ld more (source, variable, lead) with NaN in the truth\n", lines - 20);
}

static int cmp_job(const void *a, const void *b) {
    const job *x = a, *y = b;
    if (x->init != y->init) return x->init < y->init ? -1 : 1;
    if (x->src != y->src) return x->src - y->src;
    return x->files < y->files ? -1 : x->files > y->files;
}

/* The name files share: their common beginning without trailing separators
 * (ifs_pl and ifs_sfc: ifs), else the first one's. */
static void common_name(char names[][128], int n, char *out, size_t cap) {
    size_t k = strlen(names[0]);
    for (int i = 1; i < n; i++) {
        size_t j = 0;
        while (j < k && names[i][j] == names[0][j]) j++;
        k = j;
    }
    while (k > 0 && (names[0][k - 1] == '_' || names[0][k - 1] == '-' || names[0][k - 1] == '.')) k--;
    if (!k) k = strlen(names[0]);
    snprintf(out, cap, "%.*s", (int)k, names[0]);
}

/* Every file of every option at each initial time it holds (WeatherBench 2
 * files hold several; files that declare none take the option's). */
static int list_entries(const eval_config *cfg, entry **out, int *nout) {
    int n = 0, cap = 0, status = UTIL_OK;
    entry *e = NULL;
    for (int o = 0; o < cfg->nsources && !status; o++) {
        const eval_source *src = &cfg->sources[o];
        for (int i = 0; i < src->nfiles && !status; i++) {
            const char *path = src->files[i];
            double *inits = NULL;
            int native = 0, found = eval_fc_peek(path, &inits, &native);
            if (found < 0) status = UTIL_EFORMAT;
            else if (!found && isnan(src->init))
                status = util_fail(UTIL_EFORMAT, "%s: cannot tell the initial time (no forecast_period(step) or "
                                                 "forecast_reference_time variable, no init_time attribute, no GRIB "
                                                 "dataDate/dataTime): give it with --init T (for --forecast) or NAME=FILES@T "
                                                 "(for --baseline NAME=FILES)", path);
            else if (found > 1 && !isnan(src->init))
                status = util_fail(UTIL_EINVAL, "%s holds %d initial times on its time axis: --init (or @T) is for files that "
                                                "declare none", path, found);
            else if (found == 1 && !isnan(src->init) && fabs(inits[0] - src->init) > 0.5) {
                char a[64], b[64];
                util_time_format(inits[0], a, sizeof a), util_time_format(src->init, b, sizeof b);
                status = util_fail(UTIL_EFORMAT, "%s declares the initial time %s, but %s is given for it", path, a, b);
            }
            for (int k = 0; k < (found ? found : 1) && !status; k++) {
                if (n == cap) {
                    entry *g = realloc(e, sizeof *e * (size_t)(cap = cap ? 2 * cap : 64));
                    if (!g) {
                        status = util_fail(UTIL_ENOMEM, "out of memory");
                        break;
                    }
                    e = g;
                }
                e[n++] = (entry){path, found ? inits[k] : src->init, found > 1 ? k : -1, native, o};
            }
            free(inits);
        }
    }
    if (status) free(e);
    else *out = e, *nout = n;
    return status;
}

/* Forecasts into sources: forecast options by name, each baseline by
 * itself; two forecasts of one source from one initial time are an error. */
static int assign_sources(run *R, job *jobs, int nj, char (*tmp)[128], const int *fill) {
    const eval_config *cfg = R->cfg;
    int status = UTIL_OK;
    R->nfc = 0;
    int src_opt[EVAL_MAX_SOURCES];
    for (int q = 0; q < nj && !status; q++) {
        const eval_source *src = &cfg->sources[jobs[q].opt];
        char name[128];
        if (src->name[0]) snprintf(name, sizeof name, "%s", src->name);
        else common_name(tmp + fill[q], jobs[q].nfiles, name, sizeof name);
        int s = -1;
        for (int k = 0; k < R->nfc && s < 0; k++)
            if (!strcmp(R->names[k], name)) {
                int other = src_opt[k];
                if (!src->baseline && !cfg->sources[other].baseline) s = k;
                else if (other != jobs[q].opt)
                    status = util_fail(UTIL_EINVAL, "two sources named '%s' (a --baseline and %s): choose another name", name,
                                       src->baseline && cfg->sources[other].baseline ? "another --baseline" : "--forecast files");
                else s = k;
            }
        if (status) break;
        if (s < 0) {
            if (R->nfc == EVAL_MAX_SOURCES) {
                status = util_fail(UTIL_EINVAL, "more than %d sources", EVAL_MAX_SOURCES);
                break;
            }
            s = R->nfc++;
            snprintf(R->names[s], sizeof R->names[s], "%s", name);
            src_opt[s] = jobs[q].opt;
            R->first_file[s] = jobs[q].files[0];
            if ((cfg->persistence && !strcmp(name, "persistence")) || (cfg->climatology_baseline && !strcmp(name, "climatology")))
                status = util_fail(UTIL_EINVAL, "source '%s' has the name of a baseline: choose another (--name)", name);
        }
        jobs[q].src = s;
        for (int r = 0; r < q && !status; r++)
            if (jobs[r].src == s && fabs(jobs[r].init - jobs[q].init) < 0.5) {
                char when[64];
                util_time_format(jobs[q].init, when, sizeof when);
                status = util_fail(UTIL_EINVAL, "%s and %s: two forecasts of source '%s' from %s%s", jobs[r].files[0],
                                   jobs[q].files[0], name, when,
                                   jobs[r].opt == jobs[q].opt ? " (pangu forecast files are one forecast each)"
                                                              : " (files of one forecast go in one option: a list or a glob)");
            }
    }
    return status;
}

/* Options into forecasts (files of one option sharing an initial time) and
 * forecasts into sources; *pool holds every job's file list. */
static int build_jobs(run *R, job **out, int *nout, const char ***pool) {
    const eval_config *cfg = R->cfg;
    int total = 0, status = UTIL_OK, nj = 0;
    entry *ent = NULL;
    *out = NULL, *nout = 0, *pool = NULL;
    if ((status = list_entries(cfg, &ent, &total))) return status;
    if (!total) {
        free(ent);
        return util_fail(UTIL_EINVAL, "no forecast files");
    }
    job *jobs = calloc((size_t)total, sizeof(job));
    int *jof = malloc(sizeof(int) * total), *fill = calloc((size_t)total, sizeof(int));
    char (*stem)[128] = malloc(sizeof *stem * total), (*tmp)[128] = malloc(sizeof *tmp * total);
    const char **files = malloc(sizeof(char *) * total);
    if (!jobs || !jof || !fill || !stem || !tmp || !files) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < total; i++) {
        const entry *en = &ent[i];
        eval_source_name(en->path, stem[i], sizeof stem[0]);
        int j = -1;
        for (int q = 0; q < nj && j < 0 && !en->native; q++)
            if (jobs[q].opt == en->opt && !jobs[q].native && fabs(jobs[q].init - en->init) < 0.5) j = q;
        if (j < 0) {
            j = nj++;
            jobs[j] = (job){-1, en->opt, en->native, en->init, NULL, 0, en->init_index};
        }
        jof[i] = j, jobs[j].nfiles++;
        files[i] = en->path;
    }
    /* file lists in option order */
    int at = 0;
    for (int q = 0; q < nj; q++) fill[q] = at, at += jobs[q].nfiles;
    const char **p = malloc(sizeof(char *) * total);
    if (!p) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    *pool = p;
    for (int q = 0; q < nj; q++) jobs[q].files = p + fill[q], jobs[q].nfiles = 0;
    for (int i = 0; i < total; i++) {
        job *jb = &jobs[jof[i]];
        jb->files[jb->nfiles] = files[i];
        snprintf(tmp[fill[jof[i]] + jb->nfiles], sizeof tmp[0], "%s", stem[i]);
        jb->nfiles++;
    }
    status = assign_sources(R, jobs, nj, tmp, fill);
done:
    free(ent), free(jof), free(fill), free(stem), free(tmp), free(files);
    if (status) {
        free(jobs), free(*pool);
        *pool = NULL;
        return status;
    }
    *out = jobs, *nout = nj;
    return UTIL_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The scores into tmp (PATH.tmp.PID, PATH locked): the caller commits it
 * (util_output_commit) once the report is complete too, or aborts. */
static int write_csv(run *R, const char *path, char *tmp, size_t cap) {
    int status = util_output_begin(path, tmp, cap);
    if (status) {
        char msg[1024];
        size_t n = strlen(path);
        snprintf(msg, sizeof msg, "%s", util_last_message());
        return util_fail(status, "%s: cannot write the scores (%s)", path, strncmp(msg, path, n) ? msg : msg + n + 2);
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "%s: cannot write the scores (directory missing or not writable?)", path);
    }
    fprintf(f, "source,variable,level,lead_hours,region,metric,value\n");
    /* variables in the order z q t u v msl u10 v10 t2m, then wind (u, v) and wind10 (u10, v10) */
    for (int src = 0; src < R->nsrc; src++)
        for (int v = 0; v < NVARS + 2; v++)
            for (int k = 0; k < (v < IO_NUPPER || v == NVARS ? R->nlev : 1); k++) {
                int task = v < NVARS ? field_index(R, v, k) : v == NVARS ? R->nf + k : R->nf + R->nlev;
                const char *vn = v < NVARS ? var_name(v) : v == NVARS ? "wind" : "wind10";
                char lev[32] = "";
                if (v < IO_NUPPER || v == NVARS) snprintf(lev, sizeof lev, "%g", R->levels[k]);
                for (int li = 0; li < R->nleads; li++)
                    for (int r = 0; r < R->nreg; r++) {
                        const eval_accum *a = acc_at(R, src, li, task, r);
                        for (int m = 0; m < EVAL_NMETRICS; m++) {
                            double value;
                            if ((v < NVARS) == (m == EVAL_WIND_RMSE) || !wanted(R, m)) continue;
                            if (!eval_accum_value(a, m, R->cfg->rmse_per_time, &value)) continue;
                            fprintf(f, "%s,%s,%s,%g,%s,%s,%.9g\n", R->names[src], vn, lev, R->leads[li], R->grid.reg[r].name,
                                    eval_metric_names[m], value);
                        }
                        long nan = v < NVARS ? nan_at(R, src, li, task)[r] : 0;
                        if (nan)
                            fprintf(f, "%s,%s,%s,%g,%s,truth_nan_points,%ld\n", R->names[src], vn, lev, R->leads[li],
                                    R->grid.reg[r].name, nan);
                    }
            }
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "%s: cannot finish the scores (disk full?)", path);
    }
    return UTIL_OK;
}

/* The configuration's counts, before anything is read. */
static int check_config(const eval_config *cfg) {
    if (cfg->nsources < 1 || cfg->nsources > EVAL_MAX_SOURCES)
        return util_fail(UTIL_EINVAL, "%d forecast sources: expected 1 to %d", cfg->nsources, EVAL_MAX_SOURCES);
    if (cfg->ntruth < 1) return util_fail(UTIL_EINVAL, "no truth files (--truth)");
    if (cfg->climatology_baseline && !cfg->climatology)
        return util_fail(UTIL_EINVAL, "the climatology baseline needs --climatology FILE");
    int nreg = cfg->nregions ? cfg->nregions : EVAL_NDEFAULT_REGIONS;
    if (nreg > EVAL_MAX_REGIONS) return util_fail(UTIL_EINVAL, "%d regions: at most %d", nreg, EVAL_MAX_REGIONS);
    return UTIL_OK;
}

/* The forecasts by source, the baselines after them. */
static int list_sources(run *R) {
    const eval_config *cfg = R->cfg;
    int status = build_jobs(R, &R->jobs, &R->njobs, &R->pool);
    if (status) return status;
    R->nsrc = R->nfc + (cfg->persistence != 0) + (cfg->climatology_baseline != 0);
    if (cfg->persistence) snprintf(R->names[R->nfc], sizeof R->names[0], "persistence");
    if (cfg->climatology_baseline) snprintf(R->names[R->nsrc - 1], sizeof R->names[0], "climatology");
    return UTIL_OK;
}

/* The truth series: its valid times, grid and levels. */
static int open_truth(run *R) {
    const eval_config *cfg = R->cfg;
    int status = io_series_open(&R->truth, cfg->truth, cfg->ntruth);
    if (status) return status;
    R->ntimes = io_series_ntimes(R->truth);
    if (!R->ntimes)
        return util_fail(UTIL_EFORMAT, "%s: the truth has no time axis: cannot match valid times", cfg->truth[0]);
    if (!(R->times = malloc(sizeof(double) * R->ntimes))) return util_fail(UTIL_ENOMEM, "out of memory");
    for (size_t i = 0; i < R->ntimes; i++) R->times[i] = io_series_time(R->truth, i);
    if ((status = io_series_describe(R->truth, &R->H, &R->W, R->truth_levels, &R->truth_nlev))) return status;
    R->HW = (size_t)R->H * R->W;
    return UTIL_OK;
}

/* The levels scored: the configured ones, else the first forecast's in
 * descending pressure, as the model orders levels. */
static void take_levels(run *R, const eval_fc_info *in) {
    const eval_config *cfg = R->cfg;
    if (cfg->nlev) {
        R->nlev = cfg->nlev;
        memcpy(R->levels, cfg->levels, sizeof(float) * cfg->nlev);
        return;
    }
    R->nlev = in->nlev;
    memcpy(R->levels, in->levels, sizeof(float) * in->nlev);
    for (int a = 0; a < R->nlev; a++)
        for (int b = a + 1; b < R->nlev; b++)
            if (R->levels[b] > R->levels[a]) {
                float t = R->levels[a];
                R->levels[a] = R->levels[b], R->levels[b] = t;
            }
}

/* One forecast file against the truth's grid and the first file of its
 * source: the same variables, levels and kind (ensemble or not). */
static int check_forecast(run *R, int jq, const eval_fc_info *in, int first_of_source) {
    const job *jb = &R->jobs[jq];
    const char *path = jb->files[0];
    int s = jb->src, status = UTIL_OK;
    if (in->H != R->H || in->W != R->W)
        status = util_fail(UTIL_EFORMAT, "%s: the forecast's grid is %d x %d (latitude x longitude), the truth's (%s) "
                                         "%d x %d: put both on one grid (pangu regrid, or cdo remapcon meanwhile)",
                           path, in->H, in->W, R->cfg->truth[0], R->H, R->W);
    if (!status && jq == 0) take_levels(R, in);
    if (!status && first_of_source) {
        memcpy(R->has[s], in->has, sizeof in->has);
        R->members[s] = in->members;
        if (!R->nlev)
            for (int v = 0; v < IO_NUPPER; v++) R->has[s][v] = 0;
    }
    for (int v = 0; v < NVARS && !status; v++)
        if (R->has[s][v] && !in->has[v])
            status = util_fail(UTIL_EFORMAT, "%s: no variable '%s', which the first file of source '%s' (%s) has", path,
                               var_name(v), R->names[s], R->first_file[s]);
    for (int k = 0; k < R->nlev && !status; k++) {
        int any_upper = 0, found = 0;
        for (int v = 0; v < IO_NUPPER; v++) any_upper |= R->has[s][v];
        for (int j = 0; j < in->nlev; j++) found |= fabsf(in->levels[j] - R->levels[k]) < 1e-3f * R->levels[k];
        if (any_upper && !found)
            status = util_fail(UTIL_EFORMAT, "%s: level %g hPa missing (the forecast has %d levels)", path, R->levels[k], in->nlev);
    }
    if (!status && (in->members > 0) != (R->members[s] > 0))
        status = util_fail(UTIL_EFORMAT, "%s: source '%s' mixes ensemble and deterministic files", path, R->names[s]);
    return status;
}

/* The variables a source's forecasts lack, in one line on stderr: the
 * others are scored. A source holding none of them is an error. */
static int name_skipped(const run *R, int s) {
    char list[128] = "";
    int nskip = 0;
    for (int v = 0; v < NVARS; v++)
        if (!R->has[s][v]) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", nskip++ ? ", " : "", var_name(v));
        }
    if (nskip == NVARS)
        return util_fail(UTIL_EFORMAT, "%s: none of z q t u v msl u10 v10 t2m to score%s", R->first_file[s],
                         R->nlev ? "" : " (upper-air variables without the levels scored)");
    if (nskip) fprintf(stderr, "pangu eval: forecast '%s' (%s) has no %s: %s not scored\n", R->names[s], R->first_file[s], list, list);
    return UTIL_OK;
}

/* Sorted leads without repeats (within 1e-6 h); returns the count. */
static size_t dedupe_leads(double *leads, size_t n) {
    qsort(leads, n, sizeof(double), cmp_double);
    size_t u = 0;
    for (size_t q = 0; q < n; q++)
        if (!u || fabs(leads[q] - leads[u - 1]) > 1e-6) leads[u++] = leads[q];
    return u;
}

/* The file's leads (those >= 0) appended to R->leads (*n of *cap), and the
 * span of their valid times. */
static int collect_leads(run *R, const eval_fc_info *in, size_t *n, size_t *cap) {
    for (int k = 0; k < in->nsteps; k++) {
        if (in->lead[k] < -1e-9) continue;
        R->fc_first = fmin(R->fc_first, in->valid[k]), R->fc_last = fmax(R->fc_last, in->valid[k]);
        if (*n == *cap) {
            double *g = realloc(R->leads, sizeof(double) * (*cap = *cap ? 2 * *cap : 64));
            if (!g) return util_fail(UTIL_ENOMEM, "out of memory");
            R->leads = g;
        }
        R->leads[(*n)++] = in->lead[k];
        if (*n > 4096) *n = dedupe_leads(R->leads, *n); /* keep the list short */
    }
    return UTIL_OK;
}

/* Every forecast file opened once, before any scoring: grids, variables,
 * levels and leads checked and gathered; the jobs then in order of initial
 * time. */
static int scan_forecasts(run *R) {
    size_t nl = 0, lcap = 0;
    int seen[EVAL_MAX_SOURCES] = {0}, status = UTIL_OK;
    R->fc_first = INFINITY, R->fc_last = -INFINITY;
    for (int jq = 0; jq < R->njobs && !status; jq++) {
        const job *jb = &R->jobs[jq];
        int first_of_source = !seen[jb->src];
        seen[jb->src] = 1;
        eval_fc *f;
        if ((status = eval_fc_open_at(&f, jb->files, jb->nfiles, jb->init, jb->init_index))) break;
        const eval_fc_info *in = eval_fc_describe(f);
        status = check_forecast(R, jq, in, first_of_source);
        if (!status) status = collect_leads(R, in, &nl, &lcap);
        eval_fc_close(f);
    }
    if (!status && !nl) status = util_fail(UTIL_EFORMAT, "%s: no step with a lead time >= 0", R->jobs[0].files[0]);
    for (int s = 0; s < R->nfc && !status; s++) status = name_skipped(R, s);
    if (status) return status;
    R->nleads = (int)dedupe_leads(R->leads, nl);
    qsort(R->jobs, (size_t)R->njobs, sizeof(job), cmp_job);
    return UTIL_OK;
}

/* The fields and tasks of every source (baselines score what the
 * forecasts score) and the climatology of those fields. */
static int plan_fields(run *R) {
    const eval_config *cfg = R->cfg;
    int status = UTIL_OK;
    if (!R->nlev && R->truth_nlev) { /* surface fields only: the truth is still read as a state with one level */
        R->nlev = 1;
        R->levels[0] = R->truth_levels[0];
    }
    R->nf = IO_NUPPER * R->nlev + IO_NSURFACE;
    R->ntask = R->nf + R->nlev + 1;
    for (int s = R->nfc; s < R->nsrc; s++)
        for (int v = 0; v < NVARS; v++)
            for (int q = 0; q < R->nfc; q++) R->has[s][v] |= R->has[q][v];
    for (int s = 0; s < R->nsrc && !status; s++) status = make_tasks(R, s);
    if (status || !cfg->climatology) return status;
    int need[NVARS] = {0};
    for (int s = 0; s < R->nsrc; s++)
        for (int v = 0; v < NVARS; v++) need[v] |= R->has[s][v];
    return eval_clim_open(&R->clim, cfg->climatology, R->H, R->W, R->levels, R->nlev, need);
}

/* Accumulators, the truth cache (within cache_mb), the ensemble chunk
 * buffer and the forecast state; the first truth read sets the grid's
 * weights and regions. */
static int alloc_scoring(run *R) {
    const eval_config *cfg = R->cfg;
    R->acc = calloc((size_t)R->nsrc * R->nleads * R->ntask * R->nreg, sizeof(eval_accum));
    R->nan_acc = calloc((size_t)R->nsrc * R->nleads * R->nf * (R->nreg + 1), sizeof(long));
    double state_mb = (double)R->nf * R->HW * sizeof(float) * (cfg->climatology ? 2 : 1) / 1e6;
    double budget = cfg->cache_mb > 0 ? cfg->cache_mb : 1024;
    R->ncache = (int)fmin(fmax(2, budget / state_mb), R->nleads + 2);
    R->cache = calloc((size_t)R->ncache, sizeof(slot));
    int maxm = 0, status;
    for (int s = 0; s < R->nfc; s++) maxm = R->members[s] > maxm ? R->members[s] : maxm;
    R->chunk = maxm ? (int)fmax(1, fmin(R->nf, budget * 1e6 / 4 / ((double)maxm * R->HW * sizeof(float)))) : 0;
    if (maxm) R->mbuf = malloc(sizeof(float) * (size_t)R->chunk * maxm * R->HW);
    R->bl = calloc((size_t)R->nleads, 1);
    R->nthreads = omp_get_max_threads();
    R->rqe_scratch = malloc(sizeof(float) * 2 * R->HW * (size_t)R->nthreads);
    if (!R->acc || !R->nan_acc || !R->cache || (maxm && !R->mbuf) || !R->bl || !R->rqe_scratch)
        return util_fail(UTIL_ENOMEM, "out of memory");
    for (int i = 0; i < R->ncache; i++)
        if ((cfg->climatology && !(R->cache[i].clim = malloc(sizeof(float) * R->nf * R->HW))) ||
            !(R->cache[i].nan = malloc(sizeof(long) * R->nf * (R->nreg + 1))))
            return util_fail(UTIL_ENOMEM, "out of memory");
    if ((status = io_state_alloc(&R->fc, R->H, R->W, R->levels, R->nlev > 0 ? R->nlev : 1, NULL))) return status;
    if (!R->nlev) return util_fail(UTIL_EFORMAT, "%s: no pressure levels", R->jobs[0].files[0]);
    slot *s0;
    return truth_at(R, R->times[0], &s0);
}

/* One pass in order of initial time: the forecasts of an initial time, then
 * its baselines; progress every 5 s. */
static int score_all(run *R) {
    const eval_config *cfg = R->cfg;
    int map_job = -1, status = UTIL_OK;
    double last_progress = R->tstart;
    for (int q = 0; q < R->njobs && map_job < 0; q++)
        if (R->jobs[q].src == 0) map_job = q;
    for (int g0 = 0; g0 < R->njobs && !status;) {
        int g1 = g0;
        while (g1 < R->njobs && fabs(R->jobs[g1].init - R->jobs[g0].init) < 0.5) g1++;
        memset(R->bl, 0, (size_t)R->nleads);
        if (R->init_mse && g0) R->cur_init++;
        for (int q = g0; q < g1 && !status; q++) {
            status = score_file(R, &R->jobs[q], q == map_job, R->bl, &R->fc, R->mbuf, R->chunk);
            R->files_done++;
        }
        if (!status && (cfg->persistence || cfg->climatology_baseline)) status = score_baselines(R, R->jobs[g0].init, R->bl, &R->fc);
        if (!cfg->quiet && util_now() - last_progress > 5) {
            last_progress = util_now();
            fprintf(stderr, "pangu eval: %ld of %d forecasts, %ld (forecast, truth) pairs, %.1f pairs/s\n", R->files_done,
                    R->njobs, R->pairs, R->pairs / (last_progress - R->tstart));
        }
        g0 = g1;
    }
    if (status || R->pairs) return status;
    char a[64], b[64], c[64], d[64];
    util_time_format(R->fc_first, a, sizeof a), util_time_format(R->fc_last, b, sizeof b);
    util_time_format(R->times[0], c, sizeof c), util_time_format(R->times[R->ntimes - 1], d, sizeof d);
    return util_fail(UTIL_EFORMAT, "no common valid times: the forecasts are valid from %s to %s, the truth (%s%s) "
                                   "holds %zu times from %s to %s", a, b, cfg->truth[0], cfg->ntruth > 1 ? ", ..." : "",
                     R->ntimes, c, d);
}

/* What was scored, on stderr (unless quiet). */
static void print_summary(const run *R) {
    const eval_config *cfg = R->cfg;
    if (cfg->quiet) return;
    int njobs = R->njobs;
    fprintf(stderr, "pangu eval: %ld (forecast, truth) pairs from %d forecast%s of %d source%s", R->pairs, njobs, njobs > 1 ? "s" : "",
            R->nfc, R->nfc > 1 ? "s" : "");
    if (R->nsrc > R->nfc) fprintf(stderr, " and %d baseline%s", R->nsrc - R->nfc, R->nsrc - R->nfc > 1 ? "s" : "");
    fprintf(stderr, ", %d leads, %d levels, %d regions; %.1f s, peak memory %ld MB; wrote %s\n", R->nleads, R->nlev, R->nreg,
            util_now() - R->tstart, util_peak_rss_kb() / 1024, cfg->output);
    if (R->skipped)
        fprintf(stderr, "pangu eval: %ld (initial time, lead) pairs skipped: valid time not in the truth\n", R->skipped);
    if (R->skipped_persistence)
        fprintf(stderr, "pangu eval: persistence skipped at %ld (initial time, lead) pairs: initial time not in the truth\n",
                R->skipped_persistence);
}

/* The report (eval_report) from the scores in csv_tmp, with notes on what
 * was scored and how. */
static int write_report(run *R, const char *csv_tmp) {
    const eval_config *cfg = R->cfg;
    char notes[2048], a[64], b[64];
    size_t n = 0;
    util_time_format(R->jobs[0].init, a, sizeof a), util_time_format(R->jobs[R->njobs - 1].init, b, sizeof b);
    n += (size_t)snprintf(notes + n, sizeof notes - n,
                          "%ld (forecast, truth) pairs from %d forecast files, initial times %s to %s; leads %g to %g h. ",
                          R->pairs, R->njobs, a, b, R->leads[0], R->leads[R->nleads - 1]);
    n += (size_t)snprintf(notes + n, sizeof notes - n, "Truth: `%s`%s. ", cfg->truth[0], cfg->ntruth > 1 ? " and others" : "");
    if (cfg->climatology) n += (size_t)snprintf(notes + n, sizeof notes - n, "Climatology: `%s`. ", cfg->climatology);
    snprintf(notes + n, sizeof notes - n, "RMSE is %s over initial times; bias, MAE and ACC are means over initial times.",
             cfg->rmse_per_time ? "the mean of per-time RMSEs (--rmse-per-time)" : "the square root of the mean MSE");
    eval_report_spec rs = {cfg->report, cfg->output, notes, R->names[0], R->map_init, R->maps, R->nmaps, R->H, R->W,
                           R->grid.lat, R->grid.lon};
    rs.csv_data = csv_tmp;
    const char *var[EVAL_MAX_FIELDS];
    float level[EVAL_MAX_FIELDS];
    for (int f = 0; f < R->nf && f < EVAL_MAX_FIELDS; f++) var[f] = var_name(field_var(R, f)), level[f] = field_level(R, f);
    eval_init_scores by_init = {R->nsrc, R->nleads, R->nf, R->ninit, (const char(*)[128])R->names, R->leads, var, level,
                                R->init_mse, R->reference, R->is_baseline, R->grid.reg[0].name};
    if (R->init_mse && R->nf <= EVAL_MAX_FIELDS) rs.by_init = &by_init;
    return eval_report(&rs);
}

/* The scorecard's reference source (--scorecard NAME, else the first
 * --baseline NAME=FILES, persistence or climatology; -1: none) and the
 * per-initial-time MSE it is tested with. */
static int plan_scorecard(run *R) {
    const eval_config *cfg = R->cfg;
    const char *want = cfg->scorecard;
    R->reference = -1;
    for (int k = 0; k < cfg->nsources; k++)
        for (int s = 0; s < R->nfc && cfg->sources[k].baseline; s++)
            if (!strcmp(R->names[s], cfg->sources[k].name)) R->is_baseline[s] = 1;
    for (int s = R->nfc; s < R->nsrc; s++) R->is_baseline[s] = 1;
    for (int s = 0; s < R->nsrc && !want; s++)
        if (R->is_baseline[s]) want = R->names[s];
    if (!cfg->report || !want) return UTIL_OK;
    for (int s = 0; s < R->nsrc; s++)
        if (!strcmp(R->names[s], want)) R->reference = s;
    if (R->reference < 0) {
        char list[2048] = "";
        for (int s = 0; s < R->nsrc; s++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", s ? ", " : "", R->names[s]);
        return util_fail(UTIL_EINVAL, "--scorecard '%s': no source of that name (the sources: %s)", want, list);
    }
    R->ninit = 1;
    for (int q = 1; q < R->njobs; q++) R->ninit += fabs(R->jobs[q].init - R->jobs[q - 1].init) >= 0.5;
    size_t n = (size_t)R->nsrc * R->nleads * R->nf * R->ninit;
    int status = util_check_memory(sizeof(double) * n, "the scorecard's scores by initial time");
    if (status) return status;
    if (!(R->init_mse = malloc(sizeof(double) * n))) return util_fail(UTIL_ENOMEM, "out of memory (the scorecard's scores by initial time)");
    for (size_t i = 0; i < n; i++) R->init_mse[i] = NAN;
    return UTIL_OK;
}

static void run_free(run *R) {
    io_series_close(R->truth);
    eval_clim_close(R->clim);
    for (int i = 0; i < R->ncache; i++) io_state_free(&R->cache[i].st), free(R->cache[i].clim), free(R->cache[i].nan);
    free(R->cache);
    for (int s = 0; s < R->nsrc; s++) free(R->tasks[s]);
    for (int m = 0; m < R->nmaps; m++) free(R->maps[m].forecast), free(R->maps[m].truth);
    eval_grid_free(&R->grid);
    io_state_free(&R->fc);
    free(R->acc), free(R->nan_acc), free(R->leads), free(R->times), free(R->jobs), free(R->pool), free(R->mbuf), free(R->bl), free(R->rqe_scratch);
    free(R->init_mse);
}

int eval_run(const eval_config *cfg) {
    int status = check_config(cfg);
    if (status) return status;
    run R;
    memset(&R, 0, sizeof R);
    R.cfg = cfg;
    R.nreg = cfg->nregions ? cfg->nregions : EVAL_NDEFAULT_REGIONS;
    R.tstart = util_now();
    int csv_pending = 0;
    char csv_tmp[4200] = "";
    if ((status = list_sources(&R)) || (status = open_truth(&R)) || (status = scan_forecasts(&R)) ||
        (status = plan_fields(&R)) || (status = alloc_scoring(&R)) || (status = plan_scorecard(&R)) || (status = score_all(&R)))
        goto done;
    /* the CSV stays a temporary until the report is complete too */
    if ((status = write_csv(&R, cfg->output, csv_tmp, sizeof csv_tmp))) goto done;
    csv_pending = 1;
    print_summary(&R);
    warn_truth_nan(&R);
    if (cfg->report && (status = write_report(&R, csv_tmp))) goto done;
    csv_pending = 0;
    status = util_output_commit(cfg->output, csv_tmp);
done:
    if (csv_pending) util_output_abort(cfg->output, csv_tmp);
    run_free(&R);
    return status;
}
