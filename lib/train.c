/* The training job behind `pangu train` (lib_train, lib/lib.h): (t, t + lead)
 * pairs from the reader's time series, MAE loss on normalised fields, AdamW
 * with warm-up and cosine decay, drop path, atomic checkpoints and exact
 * resume; data parallel over MPI ranks. cli/cmd_train.c holds the options
 * (their schema and parsing) and calls this. */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../configs/cfg.h"
#include "../io/io.h"
#include "../model/model.h"
#include "../util/util.h"
#include "lib.h"
#ifdef PANGU_MPI
#include <mpi.h>
#endif

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

typedef struct {
    io_series *series;
    const model_config *c;
    const double *times; /* sample initial times of this batch, NAN for none */
    int n, lead;
    io_state *x, *y;     /* n each */
    int status;
    char message[1024];
    const model *m;      /* its statistics judge each sample's plausibility */
} batch_job;

static void *read_batch(void *arg) {
    batch_job *j = arg;
    j->status = UTIL_OK;
    for (int i = 0; i < j->n && !j->status; i++) {
        io_state_free(&j->x[i]);
        io_state_free(&j->y[i]);
        const model_config *c = j->c;
        if ((j->status = io_series_read(j->series, j->times[i], c->H, c->W, c->levels, c->nlev, &j->x[i])) ||
            (j->status = io_series_read(j->series, j->times[i] + j->lead * 3600.0, c->H, c->W, c->levels, c->nlev, &j->y[i])) ||
            (j->status = io_state_check_finite(&j->x[i], "training input")) ||
            (j->status = io_state_check_finite(&j->y[i], "training target")) ||
            (j->status = io_state_check_plausible(&j->x[i], j->m->upper_mean, j->m->upper_std, j->m->surface_mean,
                                                  j->m->surface_std)) ||
            (j->status = io_state_check_plausible(&j->y[i], j->m->upper_mean, j->m->upper_std, j->m->surface_mean,
                                                  j->m->surface_std)))
            snprintf(j->message, sizeof j->message, "%s", util_last_message());
    }
    return NULL;
}

static int has_time(const io_series *s, double t) {
    size_t lo = 0, hi = io_series_ntimes(s);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        double v = io_series_time(s, mid);
        if (fabs(v - t) < 0.5) return 1;
        if (v < t) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* Initial times t in [a, b] every `every` hours with t + lead in the series. */
static int sample_times(const io_series *s, double a, double b, double every, int lead, double **out, long *n) {
    long cap = 1024;
    *n = 0;
    *out = malloc(sizeof(double) * cap);
    if (!*out) return util_fail(UTIL_ENOMEM, "out of memory");
    double last = -INFINITY;
    for (size_t i = 0; i < io_series_ntimes(s); i++) {
        double t = io_series_time(s, i);
        if (t < a || t > b || t < last + every * 3600 - 0.5 || !has_time(s, t + lead * 3600.0)) continue;
        last = t;
        if (*n == cap) {
            double *g = realloc(*out, sizeof(double) * (cap *= 2));
            if (!g) return util_fail(UTIL_ENOMEM, "out of memory");
            *out = g;
        }
        (*out)[(*n)++] = t;
    }
    return UTIL_OK;
}

/* Sample k of the whole run: epoch-wise permutations seeded by (seed, epoch). */
static double sample_at(const double *times, long n, unsigned long long seed, long long k, long *perm, long long *perm_epoch) {
    long long epoch = k / n;
    if (*perm_epoch != epoch) {
        util_rng r;
        util_rng_seed(&r, seed * 0x9E3779B97F4A7C15ULL + (unsigned long long)epoch + 1);
        for (long i = 0; i < n; i++) perm[i] = i;
        for (long i = n - 1; i > 0; i--) {
            long j = (long)(util_rng_next(&r) % (unsigned long long)(i + 1)), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        *perm_epoch = epoch;
    }
    return times[perm[k % n]];
}

/* Validation loss of the reference's formula from a forward step. */
static double valid_loss(const model *m, const io_state *x, const io_state *y, float *up, float *sf, float surface_weight) {
    const model_config *c = &m->cfg;
    if (model_step(m, up, sf, x->upper, x->surface)) return NAN;
    size_t HW = (size_t)c->H * c->W, nu = (size_t)MODEL_NUPPER * c->nlev * HW, ns = (size_t)MODEL_NSURFACE * HW;
    double lu = 0, ls = 0;
    for (size_t i = 0; i < nu; i++) lu += fabsf((up[i] - y->upper[i]) / m->upper_std[i / HW]);
    for (size_t i = 0; i < ns; i++) ls += fabsf((sf[i] - y->surface[i]) / m->surface_std[i / HW]);
    return lu / nu + surface_weight * ls / ns;
}

/* A resumed run's log keeps its lines up to the checkpoint's step (a run
 * killed after the checkpoint logged steps it will do again), so that the log
 * of a killed and resumed run equals an uninterrupted run's. */
static int log_keep_until(const char *path, long long last) {
    FILE *in = fopen(path, "r");
    if (!in) return UTIL_OK; /* nothing logged yet */
    char tmp[4200], line[1024];
    int status = util_output_begin(path, tmp, sizeof tmp);
    if (status) {
        fclose(in);
        return status;
    }
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "%s: cannot rewrite the log", path);
    }
    while (fgets(line, sizeof line, in)) {
        char *end;
        long long s = strtoll(line, &end, 10);
        if (end != line && *end == ',' && s > last) break; /* steps past the checkpoint, and all after */
        fputs(line, out);
    }
    int bad = ferror(in);
    fclose(in);
    if (fclose(out) != 0 || bad) {
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "%s: cannot rewrite the log", path);
    }
    return util_output_commit(path, tmp);
}

/* The settings of a run; every number was checked against its range when
 * the configuration was parsed. */
typedef struct {
    long long steps, warmup, ck_every, va_every, run_steps;
    int B, nvs, resume;
    float lr_max, lr_min, wd, dp_rate, clip, sw;
    unsigned long long seed;
    double every;
    const char *init, *ckpt, *output, *log;
} train_settings;

/* Everything a run holds; freed in one place (train_free). */
typedef struct {
    const cfg *c;
    train_settings o;
    int rank, nranks;
    model m;
    int nblocks;
    float *grad, *am, *av, *drop, *vu, *vs;
    double *train_t, *valid_t, *batch_t[2];
    long *perm, ntrain, nvalid;
    long long perm_epoch;
    io_state *bx[2], *by[2], vx, vy;
    io_series *series;
    glob_t g;
    int have_glob;
    FILE *log;
    int log_created, checkpointed; /* a log this run began, and a checkpoint this run wrote */
    int locked;                    /* how many outputs this run locked */
    pthread_t th;
    int running; /* the data thread reads the next batch */
    batch_job job[2];
    long long step, first;
    double t_start;
} train_run;

static int read_settings(const cfg *c, train_settings *o) {
    const char *need[] = {"init", "input", "train_start", "train_end", "output", "checkpoint"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!cfg_get(c, need[i]))
            return util_fail(UTIL_EINVAL, "missing key '%s' (pangu train --help lists every key)", need[i]);
    o->steps = cfg_get_int(c, "steps");
    o->B = (int)cfg_get_int(c, "batch");
    o->lr_max = (float)cfg_get_real(c, "lr"), o->lr_min = (float)cfg_get_real(c, "min_lr");
    o->wd = (float)cfg_get_real(c, "weight_decay"), o->dp_rate = (float)cfg_get_real(c, "drop_path");
    o->clip = (float)cfg_get_real(c, "clip"), o->sw = (float)cfg_get_real(c, "surface_weight");
    o->warmup = cfg_get_int(c, "warmup"), o->ck_every = cfg_get_int(c, "checkpoint_every");
    o->va_every = cfg_get_int(c, "validate_every");
    o->nvs = (int)cfg_get_int(c, "valid_samples");
    o->seed = (unsigned long long)cfg_get_int(c, "seed");
    o->every = cfg_get_real(c, "sample_every");
    o->resume = cfg_get_yesno(c, "resume");
    o->run_steps = cfg_get_int(c, "run_steps");
    o->init = cfg_get(c, "init"), o->ckpt = cfg_get(c, "checkpoint"), o->output = cfg_get(c, "output");
    o->log = cfg_get(c, "log");
    if (o->lr_min > o->lr_max)
        return util_fail(UTIL_EINVAL, "min_lr %g is above lr %g: the cosine decay goes from lr down to min_lr", o->lr_min,
                         o->lr_max);
    if (!cfg_get(c, "valid_start") != !cfg_get(c, "valid_end"))
        return util_fail(UTIL_EINVAL, "give both valid_start and valid_end (a validation period), or neither");
    int status = util_check_distinct_outputs("checkpoint", o->ckpt, "output", o->output);
    if (!o->warmup) o->warmup = o->steps / 20;
    return status;
}

/* The input files: words of the input key, shell globs expanded. */
static int expand_inputs(train_run *r) {
    char *copy = strdup(cfg_get(r->c, "input"));
    int k = 0;
    for (char *w = copy ? strtok(copy, ", \t\n") : NULL; w; w = strtok(NULL, ", \t\n"))
        if (glob(w, (k++ ? GLOB_APPEND : 0) | GLOB_NOCHECK, NULL, &r->g) != 0) break;
    free(copy);
    r->have_glob = k > 0;
    return copy ? UTIL_OK : util_fail(UTIL_ENOMEM, "out of memory");
}

/* Before any work: no output is the initial model or a training file, and
 * one run of this job at a time (a second fails at once, naming the first's
 * pid). */
static int claim_outputs(train_run *r) {
    const train_settings *o = &r->o;
    const char *outs[3] = {o->ckpt, o->output, o->log};
    const util_paths read[2] = {{&o->init, 1}, {(const char *const *)r->g.gl_pathv, (int)r->g.gl_pathc}};
    int status = UTIL_OK;
    for (int i = 0; i < 3 && !status; i++) status = util_output_check(outs[i], read, 2, NULL, NULL);
    if (status || r->rank != 0) return status;
    if ((status = util_lock_output(o->ckpt))) return status;
    r->locked = 1;
    if ((status = util_lock_output(o->output))) return status;
    r->locked = 2;
    if (o->log && (status = util_lock_output(o->log))) return status;
    r->locked = 3;
    /* temporaries of a run of this job killed with -9 */
    util_remove_stale_temps(o->ckpt);
    util_remove_stale_temps(o->output);
    if (o->log) util_remove_stale_temps(o->log);
    return UTIL_OK;
}

/* The model and optimiser state: the checkpoint's when resuming (it must be
 * of the configured model), else the initial model's with zero moments. */
static int load_model(train_run *r) {
    const train_settings *o = &r->o;
    int status;
    if (!(o->resume && access(o->ckpt, R_OK) == 0)) {
        if ((status = model_open(&r->m, o->init, 0))) return status;
        r->am = util_aligned_alloc(sizeof(float) * r->m.nparams);
        r->av = util_aligned_alloc(sizeof(float) * r->m.nparams);
        return UTIL_OK;
    }
    if ((status = model_checkpoint_load(o->ckpt, &r->m, &r->am, &r->av, &r->step))) return status;
    model init;
    if ((status = model_open(&init, o->init, 0))) return status;
    model_config a = r->m.cfg, b = init.cfg;
    model_free(&init);
    if (memcmp(&a, &b, sizeof a) != 0)
        return util_fail(UTIL_EINVAL, "%s: the checkpoint's model (grid %d x %d, dim %d, lead %d h) is not the "
                                      "configured one (%s: grid %d x %d, dim %d, lead %d h)",
                         o->ckpt, a.H, a.W, a.dim, a.lead_hours, o->init, b.H, b.W, b.dim, b.lead_hours);
    if (r->step > o->steps)
        return util_fail(UTIL_EINVAL, "%s: the checkpoint is at step %lld, beyond steps = %lld", o->ckpt, r->step, o->steps);
    if (r->rank == 0) fprintf(stderr, "pangu train: resuming %s at step %lld\n", o->ckpt, r->step);
    return UTIL_OK;
}

/* Gradient, drop-path, validation and the two batch buffers (one computed
 * while the data thread fills the other). */
static int alloc_buffers(train_run *r) {
    const model_config *mc = &r->m.cfg;
    int B = r->o.B;
    r->nblocks = mc->depths[0] + mc->depths[1] + mc->depths[2] + mc->depths[3];
    r->grad = util_aligned_alloc(sizeof(float) * r->m.nparams);
    r->drop = malloc(sizeof(float) * 2 * (r->nblocks ? r->nblocks : 1));
    r->vu = malloc(sizeof(float) * MODEL_NUPPER * mc->nlev * mc->H * mc->W);
    r->vs = malloc(sizeof(float) * MODEL_NSURFACE * mc->H * mc->W);
    for (int k = 0; k < 2; k++) {
        r->bx[k] = calloc((size_t)B, sizeof(io_state)), r->by[k] = calloc((size_t)B, sizeof(io_state));
        r->batch_t[k] = malloc(sizeof(double) * B);
    }
    if (!r->am || !r->av || !r->grad || !r->drop || !r->vu || !r->vs || !r->bx[0] || !r->bx[1] || !r->by[0] ||
        !r->by[1] || !r->batch_t[0] || !r->batch_t[1])
        return util_fail(UTIL_ENOMEM, "out of memory");
    return UTIL_OK;
}

/* The training and validation pairs of the input series. */
static int plan_samples(train_run *r) {
    const cfg *c = r->c;
    int lead = r->m.cfg.lead_hours, status;
    double ta, tb, va = 0, vb = 0;
    if ((status = io_series_open(&r->series, (const char *const *)r->g.gl_pathv, (int)r->g.gl_pathc)) ||
        (status = util_time_parse(cfg_get(c, "train_start"), &ta)) || (status = util_time_parse(cfg_get(c, "train_end"), &tb)) ||
        (status = sample_times(r->series, ta, tb, r->o.every, lead, &r->train_t, &r->ntrain)))
        return status;
    if (r->ntrain < 1) return util_fail(UTIL_EINVAL, "no (t, t + %d h) pairs in the training period of the inputs", lead);
    if (cfg_get(c, "valid_start") && cfg_get(c, "valid_end")) {
        if ((status = util_time_parse(cfg_get(c, "valid_start"), &va)) || (status = util_time_parse(cfg_get(c, "valid_end"), &vb)) ||
            (status = sample_times(r->series, va, vb, r->o.every, lead, &r->valid_t, &r->nvalid)))
            return status;
        if (va <= tb && vb >= ta && r->rank == 0)
            fprintf(stderr, "pangu train: warning: the validation period overlaps the training period\n");
    }
    r->perm = malloc(sizeof(long) * r->ntrain);
    r->perm_epoch = -1;
    return r->perm ? UTIL_OK : util_fail(UTIL_ENOMEM, "out of memory");
}

/* Rank 0's CSV log: a resumed run continues it from the checkpoint's step. */
static int open_log(train_run *r) {
    const train_settings *o = &r->o;
    int status;
    if (!o->log || r->rank != 0) return UTIL_OK;
    if (o->resume && (status = log_keep_until(o->log, r->step))) return status;
    r->log = fopen(o->log, o->resume ? "a" : "w");
    if (!r->log) return util_fail(UTIL_EIO, "%s: cannot write the log", o->log);
    r->log_created = !o->resume;
    if ((!o->resume || ftell(r->log) == 0) &&
        (fprintf(r->log, "step,loss,valid_loss,lr,samples_per_s\n") < 0 || fflush(r->log) != 0))
        return util_fail(UTIL_EIO, "%s: cannot write the log (disk full?)", o->log);
    return UTIL_OK;
}

/* The batch of step s (1-based) holds samples (s-1)*B*nranks + rank*B + b:
 * fills buffer k's job with their times. */
static void prepare_batch(train_run *r, int k, long long s) {
    int B = r->o.B;
    for (int b = 0; b < B; b++)
        r->batch_t[k][b] = sample_at(r->train_t, r->ntrain, r->o.seed, (s - 1) * B * r->nranks + (long long)r->rank * B + b,
                                     r->perm, &r->perm_epoch);
    r->job[k] = (batch_job){r->series, &r->m.cfg, r->batch_t[k], B, r->m.cfg.lead_hours, r->bx[k], r->by[k], 0, "", &r->m};
}

/* Waits for the data thread, if it runs; its failure is the run's. */
static int join_batch(train_run *r, int k) {
    if (!r->running) return UTIL_OK;
    pthread_join(r->th, NULL);
    r->running = 0;
    return r->job[k].status ? util_fail(r->job[k].status, "%s", r->job[k].message) : UTIL_OK;
}

/* Drop path: the rate rising linearly over the blocks, drawn per (seed,
 * step, sample) so that a resumed run draws the same. */
static void draw_drop_path(train_run *r, int b) {
    util_rng rng;
    util_rng_seed(&rng, r->o.seed ^ ((unsigned long long)r->step * 0xD1B54A32D192ED03ULL) ^
                            ((unsigned long long)(r->rank * r->o.B + b) << 48));
    for (int k = 0; k < r->nblocks; k++) {
        double p = r->nblocks > 1 ? r->o.dp_rate * k / (r->nblocks - 1) : r->o.dp_rate;
        for (int h = 0; h < 2; h++) r->drop[2 * k + h] = util_rng_uniform(&rng) < p ? 0.0f : (float)(1.0 / (1.0 - p));
    }
}

/* The summed loss and gradient of batch buffer k on this rank. */
static int batch_gradient(train_run *r, int k, double *loss) {
    memset(r->grad, 0, sizeof(float) * r->m.nparams);
    *loss = 0;
    for (int b = 0; b < r->o.B; b++) {
        draw_drop_path(r, b);
        double l;
        int status = model_grad(&r->m, r->grad, &l, r->bx[k][b].upper, r->bx[k][b].surface, r->by[k][b].upper,
                                r->by[k][b].surface, r->drop, r->o.sw);
        if (status) return status;
        if (!isfinite(l)) {
            char when[64];
            util_time_format(r->batch_t[k][b], when, sizeof when);
            return util_fail(UTIL_ENAN, "non-finite loss at step %lld, sample %s -> +%d h; stopped, the last good "
                                        "checkpoint %s is kept (lower lr or enable clip)",
                             r->step, when, r->m.cfg.lead_hours, r->o.ckpt);
        }
        *loss += l;
    }
    return UTIL_OK;
}

/* One optimiser step on batch buffer k: the gradient averaged over every
 * rank's samples, clipped, and AdamW at the scheduled learning rate. */
static int optimise(train_run *r, int k, double *loss, double *norm, double *lr) {
    const train_settings *o = &r->o;
    int status = batch_gradient(r, k, loss);
    if (status) return status;
    float scale = 1.0f / (float)(o->B * r->nranks);
#ifdef PANGU_MPI
    MPI_Allreduce(MPI_IN_PLACE, r->grad, (int)r->m.nparams, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, loss, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
    *loss *= scale;
    float *grad = r->grad;
    double n2 = 0;
    for (size_t i = 0; i < r->m.nparams; i++) grad[i] *= scale, n2 += (double)grad[i] * grad[i];
    *norm = sqrt(n2);
    if (o->clip > 0 && *norm > o->clip)
        for (size_t i = 0; i < r->m.nparams; i++) grad[i] *= (float)(o->clip / *norm);
    long long step = r->step, steps = o->steps, warmup = o->warmup;
    *lr = step <= warmup ? o->lr_max * (double)step / warmup
                         : o->lr_min + 0.5 * (o->lr_max - o->lr_min) *
                                           (1 + cos(M_PI * (double)(step - warmup) / (double)(steps - warmup > 0 ? steps - warmup : 1)));
    model_adamw_step(&r->m, grad, r->am, r->av, step, (float)*lr, o->wd, 0.9f, 0.999f, 1e-8f);
    return UTIL_OK;
}

/* The validation loss at this step (NAN when not due): the mean over
 * valid_samples pairs spread evenly over the validation period. */
static int validate(train_run *r, double *vloss) {
    const model_config *mc = &r->m.cfg;
    *vloss = NAN;
    if (!r->nvalid || !(r->step % r->o.va_every == 0 || r->step == r->o.steps)) return UTIL_OK;
    int n = r->o.nvs < r->nvalid ? r->o.nvs : (int)r->nvalid, status;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double t = r->valid_t[(long)((double)i * r->nvalid / n)];
        if ((status = io_series_read(r->series, t, mc->H, mc->W, mc->levels, mc->nlev, &r->vx)) ||
            (status = io_series_read(r->series, t + mc->lead_hours * 3600.0, mc->H, mc->W, mc->levels, mc->nlev, &r->vy)))
            return status;
        sum += valid_loss(&r->m, &r->vx, &r->vy, r->vu, r->vs, r->o.sw);
        io_state_free(&r->vx), io_state_free(&r->vy);
    }
    *vloss = sum / n;
    return UTIL_OK;
}

/* Rank 0: the step's line on stderr and in the log. */
static int report_step(train_run *r, double loss, double vloss, double lr, double norm) {
    long long step = r->step, steps = r->o.steps;
    int per_step = r->o.B * r->nranks;
    double el = util_now() - r->t_start, rate = (double)(step - r->first) * per_step / el;
    if (r->rank != 0) return UTIL_OK;
    fprintf(stderr, "step %lld/%lld  loss %.5f%s", step, steps, loss, isnan(vloss) ? "" : "  valid ");
    if (!isnan(vloss)) fprintf(stderr, "%.5f", vloss);
    fprintf(stderr, "  lr %.2e  |g| %.3g  %.2f samples/s  ETA %.0f s\n", lr, norm, rate, (double)(steps - step) * per_step / rate);
    if (r->log && (fprintf(r->log, "%lld,%.7f,%s%.7f,%.4e,%.3f\n", step, loss, "", vloss, lr, rate) < 0 || fflush(r->log) != 0))
        return util_fail(UTIL_EIO, "%s: cannot write the log (disk full?)", r->o.log);
    return UTIL_OK;
}

/* Rank 0 writes the checkpoint every checkpoint_every steps, at the last
 * step and when stopping; its note is the configuration. */
static int checkpoint(train_run *r) {
    if (!((r->step % r->o.ck_every == 0 || r->step == r->o.steps || stop_requested) && r->rank == 0)) return UTIL_OK;
    char *note = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&note, &len);
    for (int i = 0; mem && i < r->c->n; i++) fprintf(mem, "%s = %s\n", r->c->keys[i], r->c->values[i]);
    if (mem) fclose(mem);
    int status = model_checkpoint_save(r->o.ckpt, &r->m, r->am, r->av, r->step, note);
    free(note);
    if (!status) r->checkpointed = 1;
    return status;
}

/* The optimiser steps from the current one to the last (or to a stop
 * request): each reads the next batch on the data thread while it computes. */
static int train_loop(train_run *r) {
    int cur = 0, status;
    if (r->step < r->o.steps) {
        prepare_batch(r, cur, r->step + 1);
        read_batch(&r->job[cur]);
        if (r->job[cur].status) return util_fail(r->job[cur].status, "%s", r->job[cur].message);
    }
    r->t_start = util_now();
    r->first = r->step;
    while (r->step < r->o.steps && !stop_requested) {
        r->step++;
        int nxt = 1 - cur;
        if (r->step < r->o.steps) {
            prepare_batch(r, nxt, r->step + 1);
            if (pthread_create(&r->th, NULL, read_batch, &r->job[nxt]) != 0)
                return util_fail(UTIL_ENOMEM, "cannot start the data thread");
            r->running = 1;
        }
        double loss, norm, lr, vloss;
        if ((status = optimise(r, cur, &loss, &norm, &lr)) || (status = join_batch(r, nxt)) ||
            (status = validate(r, &vloss)) || (status = report_step(r, loss, vloss, lr, norm)))
            return status;
        if (r->o.run_steps > 0 && r->step - r->first >= r->o.run_steps) stop_requested = 1;
        if ((status = checkpoint(r))) return status;
        cur = nxt;
    }
    return UTIL_OK;
}

/* The run's resources, whatever step it stopped at; the log of a failed run
 * that never checkpointed removed. */
static int train_free(train_run *r, int status) {
    if (r->running) pthread_join(r->th, NULL);
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b < r->o.B && r->bx[k]; b++) io_state_free(&r->bx[k][b]);
        for (int b = 0; b < r->o.B && r->by[k]; b++) io_state_free(&r->by[k][b]);
        free(r->bx[k]), free(r->by[k]), free(r->batch_t[k]);
    }
    io_state_free(&r->vx), io_state_free(&r->vy);
    if (r->log && fclose(r->log) != 0 && !status)
        status = util_fail(UTIL_EIO, "%s: cannot write the log (disk full?)", r->o.log);
    /* a failed run that began the log and never checkpointed leaves nothing
     * to resume: no log either (a resumable run keeps it, cut to the
     * checkpoint's step when resumed) */
    if (status && r->log_created && !r->checkpointed) unlink(r->o.log);
    if (r->locked >= 3 && r->o.log) util_unlock_output(r->o.log);
    if (r->locked >= 2) util_unlock_output(r->o.output);
    if (r->locked >= 1) util_unlock_output(r->o.ckpt);
    io_series_close(r->series);
    if (r->have_glob) globfree(&r->g);
    free(r->grad), free(r->am), free(r->av), free(r->drop), free(r->vu), free(r->vs);
    free(r->train_t), free(r->valid_t), free(r->perm);
    if (r->m.params) model_free(&r->m);
    return status;
}

int lib_train(const cfg *c) {
    train_run r = {.c = c, .nranks = 1};
#ifdef PANGU_MPI
    MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.nranks);
#endif
    int status;
    if ((status = read_settings(c, &r.o)) || (status = expand_inputs(&r)) || (status = claim_outputs(&r)) ||
        (status = load_model(&r)) || (status = alloc_buffers(&r)) || (status = plan_samples(&r)) ||
        (status = open_log(&r)))
        goto done;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (r.rank == 0)
        fprintf(stderr, "pangu train: %zu parameters, %ld training pairs, %ld validation pairs, %lld steps of %d x %d samples\n",
                model_trainable_count(&r.m), r.ntrain, r.nvalid, r.o.steps, r.o.B, r.nranks);
    if ((status = train_loop(&r))) goto done;
    if (stop_requested && r.rank == 0) fprintf(stderr, "pangu train: stopped at step %lld, checkpoint %s\n", r.step, r.o.ckpt);
    if (!stop_requested && r.rank == 0) {
        if ((status = model_save(&r.m, r.o.output))) goto done;
        fprintf(stderr, "pangu train: wrote %s\n", r.o.output);
    }
done:
    return train_free(&r, status);
}
