/* pangu train: (t, t + lead) pairs from the reader's time series, MAE loss
 * on normalised fields, AdamW with warm-up and cosine decay, drop path,
 * atomic checkpoints and exact resume; data parallel over MPI ranks. */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <math.h>
#include <omp.h>
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
#include "cli.h"
#ifdef PANGU_MPI
#include <mpi.h>
#endif

static const cfg_key schema[] = {
    {"model", "init", NULL, "model file to start from (architecture, statistics, constants): pangu init --stats --constants"},
    {"data", "input", NULL, "training data files (comma or space separated, shell globs allowed; the flag repeatable)", CFG_MULTI},
    {"data", "train_start", NULL, "first initial time of the training period"},
    {"data", "train_end", NULL, "last initial time of the training period"},
    {"data", "valid_start", NULL, "first initial time of the validation period (optional)"},
    {"data", "valid_end", NULL, "last initial time of the validation period"},
    {"data", "sample_every", "1", "hours between initial times used as samples", CFG_REAL, 1e-3, 1e6},
    {"optim", "steps", "1000", "optimiser steps", CFG_INT, 1, 1e12},
    {"optim", "batch", "1", "samples per step (per MPI rank)", CFG_INT, 1, 64},
    {"optim", "lr", "5e-4", "peak learning rate (AdamW)", CFG_REAL, 1e-12, 1e30},
    {"optim", "min_lr", "0", "learning rate at the end of the cosine decay (at most lr)", CFG_REAL, 0, 1e30},
    {"optim", "warmup", "0", "warm-up steps (linear from 0); 0 means 5% of the steps", CFG_INT, 0, 1e12},
    {"optim", "weight_decay", "3e-6", "decoupled weight decay", CFG_REAL, 0, 1},
    {"optim", "drop_path", "0.2", "drop-path rate of the last block (rising linearly from 0 over the blocks)", CFG_REAL, 0, 0.99},
    {"optim", "clip", "0", "clip the global gradient norm to this value (0: off)", CFG_REAL, 0, 1e12},
    {"optim", "surface_weight", "0.25", "weight of the surface term of the loss", CFG_REAL, 0, 1e6},
    {"run", "output", NULL, "trained model file"},
    {"run", "checkpoint", NULL, "checkpoint file (model + optimiser + step), written atomically"},
    {"run", "checkpoint_every", "100", "steps between checkpoints (and one at exit)", CFG_INT, 1, 1e12},
    {"run", "validate_every", "100", "steps between validation losses", CFG_INT, 1, 1e12},
    {"run", "valid_samples", "8", "validation pairs used (evenly spread over the period)", CFG_INT, 1, 1000000},
    {"run", "log", NULL, "CSV log of step, loss, validation loss, learning rate, samples/s"},
    {"run", "seed", "0", "seed of the shuffling and drop path", CFG_INT, 0, 9007199254740992.0},
    {"run", "resume", "no", "yes: continue from the checkpoint exactly where it stopped", CFG_YESNO},
    {"run", "run_steps", "0", "stop (with a checkpoint) after this many steps in this invocation, for batch-job time limits; 0: no limit", CFG_INT, 0, 1e12},
};

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

int cli_train(int argc, char **argv) {
    cfg c;
    cfg_init(&c, schema, (int)(sizeof schema / sizeof schema[0]));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cfg_print_help(&c, "train"), 0;
    int status = cli_parse(&c, "train", argc, argv), rank = 0, nranks = 1, have_glob = 0;
#ifdef PANGU_MPI
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
#endif
    model m = {0};
    float *grad = NULL, *am = NULL, *av = NULL, *drop = NULL, *vu = NULL, *vs = NULL;
    double *train_t = NULL, *valid_t = NULL, *batch_t[2] = {NULL, NULL};
    long *perm = NULL, ntrain = 0, nvalid = 0;
    io_state *bx[2] = {NULL, NULL}, *by[2] = {NULL, NULL}, vx = {0}, vy = {0};
    io_series *series = NULL;
    glob_t g = {0};
    FILE *log = NULL;
    int log_created = 0, checkpointed = 0; /* a log this run began, and a checkpoint this run wrote */
    pthread_t th;
    int running = 0, B = 0, locked = 0;
    batch_job job[2];
    long long step = 0;
    if (status) goto done;
    const char *need[] = {"init", "input", "train_start", "train_end", "output", "checkpoint"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!cfg_get(&c, need[i])) {
            status = util_fail(UTIL_EINVAL, "missing key '%s' (pangu train --help lists every key)", need[i]);
            goto done;
        }
    /* every number was checked against its range when it was set */
    long long steps = cfg_get_int(&c, "steps");
    B = (int)cfg_get_int(&c, "batch");
    float lr_max = (float)cfg_get_real(&c, "lr"), lr_min = (float)cfg_get_real(&c, "min_lr");
    float wd = (float)cfg_get_real(&c, "weight_decay"), dp_rate = (float)cfg_get_real(&c, "drop_path");
    float clip = (float)cfg_get_real(&c, "clip"), sw = (float)cfg_get_real(&c, "surface_weight");
    long long warmup = cfg_get_int(&c, "warmup"), ck_every = cfg_get_int(&c, "checkpoint_every");
    long long va_every = cfg_get_int(&c, "validate_every");
    int nvs = (int)cfg_get_int(&c, "valid_samples");
    unsigned long long seed = (unsigned long long)cfg_get_int(&c, "seed");
    double every = cfg_get_real(&c, "sample_every");
    int resume = cfg_get_yesno(&c, "resume");
    long long run_steps = cfg_get_int(&c, "run_steps");
    if (lr_min > lr_max) {
        status = util_fail(UTIL_EINVAL, "min_lr %g is above lr %g: the cosine decay goes from lr down to min_lr", lr_min,
                           lr_max);
        goto done;
    }
    if (!cfg_get(&c, "valid_start") != !cfg_get(&c, "valid_end")) {
        status = util_fail(UTIL_EINVAL, "give both valid_start and valid_end (a validation period), or neither");
        goto done;
    }
    if ((status = util_check_distinct_outputs("checkpoint", cfg_get(&c, "checkpoint"), "output", cfg_get(&c, "output"))))
        goto done;
    if (!warmup) warmup = steps / 20;
    const char *ckpt = cfg_get(&c, "checkpoint");
    {
        char *copy = strdup(cfg_get(&c, "input"));
        int k = 0;
        for (char *w = copy ? strtok(copy, ", \t\n") : NULL; w; w = strtok(NULL, ", \t\n"))
            if (glob(w, (k++ ? GLOB_APPEND : 0) | GLOB_NOCHECK, NULL, &g) != 0) break;
        free(copy);
        have_glob = k > 0;
        if (!copy) {
            status = util_fail(UTIL_ENOMEM, "out of memory");
            goto done;
        }
    }
    /* before any work: no output is the initial model or a training file */
    {
        const char *init_path = cfg_get(&c, "init"), *outs[3] = {ckpt, cfg_get(&c, "output"), cfg_get(&c, "log")};
        const util_paths read[2] = {{&init_path, 1}, {(const char *const *)g.gl_pathv, (int)g.gl_pathc}};
        for (int i = 0; i < 3 && !status; i++) status = util_output_check(outs[i], read, 2, NULL, NULL);
        if (status) goto done;
    }
    if (rank == 0) { /* one run of this job at a time: a second fails at once, naming the first's pid */
        if ((status = util_lock_output(ckpt))) goto done;
        locked = 1;
        if ((status = util_lock_output(cfg_get(&c, "output")))) goto done;
        locked = 2;
        if (cfg_get(&c, "log") && (status = util_lock_output(cfg_get(&c, "log")))) goto done;
        locked = 3;
        /* temporaries of a run of this job killed with -9 */
        util_remove_stale_temps(ckpt);
        util_remove_stale_temps(cfg_get(&c, "output"));
        if (cfg_get(&c, "log")) util_remove_stale_temps(cfg_get(&c, "log"));
    }
    if (resume && access(ckpt, R_OK) == 0) {
        if ((status = model_checkpoint_load(ckpt, &m, &am, &av, &step))) goto done;
        /* The checkpoint must be of this configuration's model. */
        model init;
        if ((status = model_open(&init, cfg_get(&c, "init"), 0))) goto done;
        model_config a = m.cfg, b = init.cfg;
        model_free(&init);
        if (memcmp(&a, &b, sizeof a) != 0) {
            status = util_fail(UTIL_EINVAL, "%s: the checkpoint's model (grid %d x %d, dim %d, lead %d h) is not the "
                                            "configured one (%s: grid %d x %d, dim %d, lead %d h)",
                               ckpt, a.H, a.W, a.dim, a.lead_hours, cfg_get(&c, "init"), b.H, b.W, b.dim, b.lead_hours);
            goto done;
        }
        if (step > steps) {
            status = util_fail(UTIL_EINVAL, "%s: the checkpoint is at step %lld, beyond steps = %lld", ckpt, step, steps);
            goto done;
        }
        if (rank == 0) fprintf(stderr, "pangu train: resuming %s at step %lld\n", ckpt, step);
    } else {
        if ((status = model_open(&m, cfg_get(&c, "init"), 0))) goto done;
        am = util_aligned_alloc(sizeof(float) * m.nparams);
        av = util_aligned_alloc(sizeof(float) * m.nparams);
    }
    const model_config *mc = &m.cfg;
    int nblocks = mc->depths[0] + mc->depths[1] + mc->depths[2] + mc->depths[3];
    grad = util_aligned_alloc(sizeof(float) * m.nparams);
    drop = malloc(sizeof(float) * 2 * (nblocks ? nblocks : 1));
    vu = malloc(sizeof(float) * MODEL_NUPPER * mc->nlev * mc->H * mc->W);
    vs = malloc(sizeof(float) * MODEL_NSURFACE * mc->H * mc->W);
    for (int k = 0; k < 2; k++) {
        bx[k] = calloc((size_t)B, sizeof(io_state)), by[k] = calloc((size_t)B, sizeof(io_state));
        batch_t[k] = malloc(sizeof(double) * B);
    }
    if (!am || !av || !grad || !drop || !vu || !vs || !bx[0] || !bx[1] || !by[0] || !by[1] || !batch_t[0] || !batch_t[1]) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    double ta, tb, va = 0, vb = 0;
    if ((status = io_series_open(&series, (const char *const *)g.gl_pathv, (int)g.gl_pathc)) ||
        (status = util_time_parse(cfg_get(&c, "train_start"), &ta)) || (status = util_time_parse(cfg_get(&c, "train_end"), &tb)) ||
        (status = sample_times(series, ta, tb, every, mc->lead_hours, &train_t, &ntrain)))
        goto done;
    if (ntrain < 1) {
        status = util_fail(UTIL_EINVAL, "no (t, t + %d h) pairs in the training period of the inputs", mc->lead_hours);
        goto done;
    }
    if (cfg_get(&c, "valid_start") && cfg_get(&c, "valid_end")) {
        if ((status = util_time_parse(cfg_get(&c, "valid_start"), &va)) || (status = util_time_parse(cfg_get(&c, "valid_end"), &vb)) ||
            (status = sample_times(series, va, vb, every, mc->lead_hours, &valid_t, &nvalid)))
            goto done;
        if (va <= tb && vb >= ta && rank == 0)
            fprintf(stderr, "pangu train: warning: the validation period overlaps the training period\n");
    }
    perm = malloc(sizeof(long) * ntrain);
    if (!perm) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    long long perm_epoch = -1;
    if (cfg_get(&c, "log") && rank == 0) {
        if (resume && (status = log_keep_until(cfg_get(&c, "log"), step))) goto done;
        log = fopen(cfg_get(&c, "log"), resume ? "a" : "w");
        if (!log) {
            status = util_fail(UTIL_EIO, "%s: cannot write the log", cfg_get(&c, "log"));
            goto done;
        }
        log_created = !resume;
        if ((!resume || ftell(log) == 0) &&
            (fprintf(log, "step,loss,valid_loss,lr,samples_per_s\n") < 0 || fflush(log) != 0)) {
            status = util_fail(UTIL_EIO, "%s: cannot write the log (disk full?)", cfg_get(&c, "log"));
            goto done;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (rank == 0)
        fprintf(stderr, "pangu train: %zu parameters, %ld training pairs, %ld validation pairs, %lld steps of %d x %d samples\n",
                model_trainable_count(&m), ntrain, nvalid, steps, B, nranks);
    /* The batch of step s (1-based) holds samples (s-1)*B*nranks + rank*B + b. */
#define FILL_TIMES(k, s)                                                                                              \
    for (int b_ = 0; b_ < B; b_++)                                                                                    \
        batch_t[k][b_] = sample_at(train_t, ntrain, seed, ((s) - 1) * B * nranks + (long long)rank * B + b_, perm,    \
                                   &perm_epoch);
    int cur = 0;
    if (step < steps) {
        FILL_TIMES(cur, step + 1);
        job[cur] = (batch_job){series, mc, batch_t[cur], B, mc->lead_hours, bx[cur], by[cur], 0, "", &m};
        read_batch(&job[cur]);
        if (job[cur].status) {
            status = util_fail(job[cur].status, "%s", job[cur].message);
            goto done;
        }
    }
    double t_start = util_now();
    long long first = step;
    while (step < steps && !stop_requested) {
        step++;
        int nxt = 1 - cur;
        if (step < steps) { /* read the next batch while this one computes */
            FILL_TIMES(nxt, step + 1);
            job[nxt] = (batch_job){series, mc, batch_t[nxt], B, mc->lead_hours, bx[nxt], by[nxt], 0, "", &m};
            if (pthread_create(&th, NULL, read_batch, &job[nxt]) != 0) {
                status = util_fail(UTIL_ENOMEM, "cannot start the data thread");
                goto done;
            }
            running = 1;
        }
        memset(grad, 0, sizeof(float) * m.nparams);
        double loss = 0;
        for (int b = 0; b < B; b++) {
            /* Drop path: rate rising linearly over the blocks, drawn per (seed, step, sample). */
            util_rng r;
            util_rng_seed(&r, seed ^ ((unsigned long long)step * 0xD1B54A32D192ED03ULL) ^
                                  ((unsigned long long)(rank * B + b) << 48));
            for (int k = 0; k < nblocks; k++) {
                double p = nblocks > 1 ? dp_rate * k / (nblocks - 1) : dp_rate;
                for (int h = 0; h < 2; h++) drop[2 * k + h] = util_rng_uniform(&r) < p ? 0.0f : (float)(1.0 / (1.0 - p));
            }
            double l;
            if ((status = model_grad(&m, grad, &l, bx[cur][b].upper, bx[cur][b].surface, by[cur][b].upper,
                                     by[cur][b].surface, drop, sw)))
                goto done;
            if (!isfinite(l)) {
                char when[64];
                util_time_format(batch_t[cur][b], when, sizeof when);
                status = util_fail(UTIL_ENAN, "non-finite loss at step %lld, sample %s -> +%d h; stopped, the last good "
                                              "checkpoint %s is kept (lower lr or enable clip)",
                                   step, when, mc->lead_hours, ckpt);
                goto done;
            }
            loss += l;
        }
        float scale = 1.0f / (float)(B * nranks);
#ifdef PANGU_MPI
        MPI_Allreduce(MPI_IN_PLACE, grad, (int)m.nparams, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
        loss *= scale;
        double norm = 0;
        for (size_t i = 0; i < m.nparams; i++) grad[i] *= scale, norm += (double)grad[i] * grad[i];
        norm = sqrt(norm);
        if (clip > 0 && norm > clip)
            for (size_t i = 0; i < m.nparams; i++) grad[i] *= (float)(clip / norm);
        double lr = step <= warmup ? lr_max * (double)step / warmup
                                   : lr_min + 0.5 * (lr_max - lr_min) *
                                                  (1 + cos(M_PI * (double)(step - warmup) / (double)(steps - warmup > 0 ? steps - warmup : 1)));
        model_adamw_step(&m, grad, am, av, step, (float)lr, wd, 0.9f, 0.999f, 1e-8f);
        if (running) {
            pthread_join(th, NULL);
            running = 0;
            if (job[nxt].status) {
                status = util_fail(job[nxt].status, "%s", job[nxt].message);
                goto done;
            }
        }
        double vloss = NAN;
        if (nvalid && (step % va_every == 0 || step == steps)) {
            int n = nvs < nvalid ? nvs : (int)nvalid;
            double sum = 0;
            for (int i = 0; i < n; i++) {
                double t = valid_t[(long)((double)i * nvalid / n)];
                if ((status = io_series_read(series, t, mc->H, mc->W, mc->levels, mc->nlev, &vx)) ||
                    (status = io_series_read(series, t + mc->lead_hours * 3600.0, mc->H, mc->W, mc->levels, mc->nlev, &vy)))
                    goto done;
                sum += valid_loss(&m, &vx, &vy, vu, vs, sw);
                io_state_free(&vx), io_state_free(&vy);
            }
            vloss = sum / n;
        }
        double el = util_now() - t_start, rate = (double)(step - first) * B * nranks / el;
        if (rank == 0) {
            fprintf(stderr, "step %lld/%lld  loss %.5f%s", step, steps, loss, isnan(vloss) ? "" : "  valid ");
            if (!isnan(vloss)) fprintf(stderr, "%.5f", vloss);
            fprintf(stderr, "  lr %.2e  |g| %.3g  %.2f samples/s  ETA %.0f s\n", lr, norm, rate,
                    (double)(steps - step) * B * nranks / rate);
            if (log) {
                if (fprintf(log, "%lld,%.7f,%s%.7f,%.4e,%.3f\n", step, loss, "", vloss, lr, rate) < 0 ||
                    fflush(log) != 0) {
                    status = util_fail(UTIL_EIO, "%s: cannot write the log (disk full?)", cfg_get(&c, "log"));
                    goto done;
                }
            }
        }
        if (run_steps > 0 && step - first >= run_steps) stop_requested = 1;
        if ((step % ck_every == 0 || step == steps || stop_requested) && rank == 0) {
            char *note = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&note, &len);
            for (int i = 0; mem && i < c.n; i++) fprintf(mem, "%s = %s\n", c.keys[i], c.values[i]);
            if (mem) fclose(mem);
            status = model_checkpoint_save(ckpt, &m, am, av, step, note);
            free(note);
            if (status) goto done;
            checkpointed = 1;
        }
        cur = nxt;
    }
    if (stop_requested && rank == 0) fprintf(stderr, "pangu train: stopped at step %lld, checkpoint %s\n", step, ckpt);
    if (!stop_requested && rank == 0 && (status = model_save(&m, cfg_get(&c, "output")))) goto done;
    if (!stop_requested && rank == 0) fprintf(stderr, "pangu train: wrote %s\n", cfg_get(&c, "output"));
done:
    if (running) pthread_join(th, NULL);
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b < B && bx[k]; b++) io_state_free(&bx[k][b]);
        for (int b = 0; b < B && by[k]; b++) io_state_free(&by[k][b]);
        free(bx[k]), free(by[k]), free(batch_t[k]);
    }
    io_state_free(&vx), io_state_free(&vy);
    if (log && fclose(log) != 0 && !status)
        status = util_fail(UTIL_EIO, "%s: cannot write the log (disk full?)", cfg_get(&c, "log"));
    /* a failed run that began the log and never checkpointed leaves nothing
     * to resume: no log either (a resumable run keeps it, cut to the
     * checkpoint's step when resumed) */
    if (status && log_created && !checkpointed) unlink(cfg_get(&c, "log"));
    if (locked >= 3 && cfg_get(&c, "log")) util_unlock_output(cfg_get(&c, "log"));
    if (locked >= 2) util_unlock_output(cfg_get(&c, "output"));
    if (locked >= 1) util_unlock_output(cfg_get(&c, "checkpoint"));
    io_series_close(series);
    if (have_glob) globfree(&g);
    free(grad), free(am), free(av), free(drop), free(vu), free(vs), free(train_t), free(valid_t), free(perm);
    if (m.params) model_free(&m);
    cfg_free(&c);
    return status ? cli_error("train", status) : 0;
}
