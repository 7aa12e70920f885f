/* model tune: `pangu tune` measures the packed kernels' rate at a few
 * blockings around the cache-derived default (model/cpu.c holds the
 * blocking state and its derivation) and caches the best per CPU model;
 * `--precision auto` compares the FP32 and BF16 rates. It only measures:
 * the kernels read the blocking from model/cpu.c. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <omp.h>
#include <unistd.h>

#include "../util/util.h"
#include "internal.h"


/* ---- measurement ---- */

/* The four linear layers of a C = 192 block (qkv, proj, fc1, fc2) on 2880
 * rows (20 windows of 2 x 6 x 12), rows split over the OpenMP threads in
 * blocks of 288 as the model splits its work. */
enum { TUNE_ROWS = 2880, TUNE_RB = 288, TUNE_SHAPES = 4 };
static const int tune_shape[TUNE_SHAPES][2] = {{576, 192}, {192, 192}, {768, 192}, {192, 768}}; /* (n, k) */

typedef struct {
    float *a, *c;
    model_f32_matrix f[TUNE_SHAPES];
    model_bf16_matrix h[TUNE_SHAPES];
    int bf16;
} tune_data;

static void tune_data_free(tune_data *d) {
    free(d->a), free(d->c);
    for (int s = 0; s < TUNE_SHAPES; s++) {
        if (d->f[s].data) model_f32_matrix_free(&d->f[s]);
        if (d->h[s].data) model_bf16_matrix_free(&d->h[s]);
    }
    memset(d, 0, sizeof *d);
}

/* kernel: MODEL_KERNEL_AVX512 or MODEL_KERNEL_AVX2 for FP32, -1 for BF16 */
static int tune_data_init(tune_data *d, int kernel) {
    memset(d, 0, sizeof *d);
    int status = UTIL_OK;
    float *w = malloc(sizeof(float) * 768 * 192);
    d->a = util_aligned_alloc(sizeof(float) * TUNE_ROWS * 768);
    d->c = util_aligned_alloc(sizeof(float) * TUNE_ROWS * 768);
    if (!w || !d->a || !d->c) {
        status = util_fail(UTIL_ENOMEM, "out of memory for the tuning GEMMs");
        goto done;
    }
    /* values in [-0.5, 0.5): no denormals, no overflow */
    for (size_t i = 0; i < (size_t)TUNE_ROWS * 768; i++) d->a[i] = (float)((i * 7919u) % 1000u) / 1000.0f - 0.5f;
    for (size_t i = 0; i < 768 * 192; i++) w[i] = (float)((i * 104729u) % 1000u) / 1000.0f - 0.5f;
    for (int s = 0; s < TUNE_SHAPES && !status; s++) {
        int n = tune_shape[s][0], k = tune_shape[s][1];
        if (kernel < 0) status = model_bf16_pack(&d->h[s], w, n, k, (size_t)k, 1);
        else status = model_f32_pack_for(&d->f[s], kernel, w, n, k, (size_t)k, 1);
    }
    d->bf16 = kernel < 0;
done:
    free(w);
    if (status) tune_data_free(d);
    return status;
}

static void tune_data_run(const tune_data *d) {
    for (int s = 0; s < TUNE_SHAPES; s++) {
        int n = tune_shape[s][0], k = tune_shape[s][1];
#pragma omp parallel for schedule(dynamic, 1)
        for (int r0 = 0; r0 < TUNE_ROWS; r0 += TUNE_RB) {
            if (d->bf16)
                model_bf16_linear_forward(d->c + (size_t)r0 * n, (size_t)n, d->a + (size_t)r0 * k, (size_t)k, &d->h[s], NULL,
                                          TUNE_RB, 0);
            else
                model_f32_linear_forward(d->c + (size_t)r0 * n, (size_t)n, d->a + (size_t)r0 * k, (size_t)k, &d->f[s], NULL,
                                         TUNE_RB, 0);
        }
    }
}

/* GFLOP/s of repeated runs for at least `seconds` (after a warm-up run if warm) */
static double tune_data_rate(const tune_data *d, double seconds, int warm) {
    double flops = 0;
    for (int s = 0; s < TUNE_SHAPES; s++) flops += 2.0 * TUNE_ROWS * tune_shape[s][0] * tune_shape[s][1];
    if (warm) tune_data_run(d);
    long reps = 0;
    double t0 = util_now(), t;
    do {
        tune_data_run(d);
        reps++;
    } while ((t = util_now() - t0) < seconds);
    return flops * (double)reps / t / 1e9;
}

int model_tune_rate(double *gflops, int kernel, const model_blocking *b, double seconds) {
    tune_data d;
    model_blocking old;
    int status, k = kernel < 0 ? 0 : kernel;
    if (kernel >= 0 && (kernel != MODEL_KERNEL_AVX512 && kernel != MODEL_KERNEL_AVX2))
        return util_fail(UTIL_EINVAL, "tune: kernel %s has no blocking to measure", model_kernel_name(kernel));
    if ((status = tune_data_init(&d, kernel))) return status;
    model_blocking_get(k, &old);
    int had = model_blocking_is_set(k);
    if (b && kernel >= 0 && (status = model_blocking_set(k, b))) goto done;
    *gflops = tune_data_rate(&d, seconds, 1);
done:
    if (b && kernel >= 0) {
        if (had) model_blocking_set(k, &old);
        else model_blocking_set(k, NULL);
    }
    tune_data_free(&d);
    return status;
}

int model_tune_run(model_tune *t, double seconds, FILE *log) {
    memset(t, 0, sizeof *t);
    model_cpu_name(t->cpu, sizeof t->cpu);
    t->kernel = model_kernel();
    int status = UTIL_OK, kernels[2] = {MODEL_KERNEL_AVX512, MODEL_KERNEL_AVX2};
    int nk = t->kernel == MODEL_KERNEL_AVX512 ? 2 : t->kernel == MODEL_KERNEL_AVX2 ? 1 : 0;
    if (t->kernel == MODEL_KERNEL_AVX2) kernels[0] = MODEL_KERNEL_AVX2;
    /* the step's kernel gets half the time, the other (AVX2 on an AVX-512 CPU) the rest */
    for (int i = 0; i < nk && !status; i++) {
        int kern = kernels[i];
        model_blocking d, cand[9], best = {0, 0};
        model_blocking_default(kern, &d);
        int n = 0;
        const int kcs[3] = {d.kc / 2 / 32 * 32, d.kc, d.kc * 2 > MODEL_KC_MAX ? MODEL_KC_MAX : d.kc * 2};
        const int mcs[3] = {d.mc / 2, d.mc, d.mc * 2};
        for (int a = 0; a < 3; a++)
            for (int c = 0; c < 3; c++) {
                model_blocking b = {mcs[c] < 16 ? 16 : mcs[c], kcs[a] < 32 ? 32 : kcs[a]};
                int dup = 0;
                for (int j = 0; j < n; j++) dup |= cand[j].mc == b.mc && cand[j].kc == b.kc;
                if (!dup) cand[n++] = b;
            }
        /* three rounds, each candidate's best rate: a noisy neighbour costs a round, not the choice */
        enum { ROUNDS = 3 };
        double rate[9] = {0}, each = seconds / (nk == 2 ? 2 : 1) / (ROUNDS * n), top = 0;
        tune_data data;
        if ((status = tune_data_init(&data, kern))) break;
        tune_data_run(&data); /* warm-up: pages touched, caches filled */
        for (int round = 0; round < ROUNDS && !status; round++)
            for (int j = 0; j < n && !status; j++) {
                if ((status = model_blocking_set(kern, &cand[j]))) break;
                double r = tune_data_rate(&data, each, 0);
                if (r > rate[j]) rate[j] = r;
            }
        model_blocking_set(kern, NULL);
        tune_data_free(&data);
        for (int j = 0; j < n && !status; j++) {
            if (log)
                fprintf(log, "pangu tune: %s mc %4d kc %4d: %7.1f GFLOP/s%s\n", model_kernel_name(kern), cand[j].mc,
                        cand[j].kc, rate[j], cand[j].mc == d.mc && cand[j].kc == d.kc ? " (from the caches)" : "");
            if (rate[j] > top) top = rate[j], best = cand[j];
        }
        t->blocking[kern] = best;
        t->gflops[kern] = top;
    }
    if (!status && model_bf16_available()) {
        status = model_tune_rate(&t->bf16_gflops, -1, NULL, seconds / 10 > 0.2 ? seconds / 10 : 0.2);
        if (!status && log) fprintf(log, "pangu tune: bf16: %7.1f GFLOP/s\n", t->bf16_gflops);
    }
    t->fp32_gflops = t->kernel == MODEL_KERNEL_BLAS ? 0 : t->gflops[t->kernel];
    t->threads = omp_get_max_threads();
    return status;
}

/* ---- the cache: one key=value file per CPU model ---- */

int model_tune_path(char *buf, size_t len) {
    char cpu[128], file[160];
    model_cpu_name(cpu, sizeof cpu);
    size_t o = 0;
    for (const char *p = cpu; *p && o + 1 < sizeof file - 16; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.';
        if (ok) file[o++] = *p;
        else if (o && file[o - 1] != '_') file[o++] = '_';
    }
    file[o] = 0;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg == '/') n = snprintf(buf, len, "%s/pangu-c/tune-%s.txt", xdg, file);
    else if (home && *home) n = snprintf(buf, len, "%s/.cache/pangu-c/tune-%s.txt", home, file);
    else return util_fail(UTIL_EINVAL, "tune cache: neither XDG_CACHE_HOME nor HOME is set");
    if (n < 0 || (size_t)n >= len) return util_fail(UTIL_EINVAL, "tune cache: path too long");
    return UTIL_OK;
}

int model_tune_save(const model_tune *t, const char *path) {
    char def[1024], dir[1024], tmp[1100];
    int status;
    if (!path) {
        if ((status = model_tune_path(def, sizeof def))) return status;
        path = def;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if ((status = util_mkdirs(dir))) return status;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return util_fail(UTIL_EIO, "cannot write the tune cache %s: %s", tmp, strerror(errno));
    fprintf(f, "# pangu-c tune cache, written by `pangu tune` (and --precision auto's first use); used by every\n"
               "# command unless --no-tune. Delete it to go back to the blocking derived from the cache sizes.\n");
    fprintf(f, "cpu=%s\nkernel=%s\nthreads=%d\n", t->cpu, model_kernel_name(t->kernel), t->threads);
    const int ks[2] = {MODEL_KERNEL_AVX512, MODEL_KERNEL_AVX2};
    for (int i = 0; i < 2; i++)
        if (t->blocking[ks[i]].kc)
            fprintf(f, "%s_mc=%d\n%s_kc=%d\n%s_gflops=%.1f\n", model_kernel_name(ks[i]), t->blocking[ks[i]].mc,
                    model_kernel_name(ks[i]), t->blocking[ks[i]].kc, model_kernel_name(ks[i]), t->gflops[ks[i]]);
    if (t->fp32_gflops > 0) fprintf(f, "fp32_gflops=%.1f\n", t->fp32_gflops);
    if (t->bf16_gflops > 0) fprintf(f, "bf16_gflops=%.1f\n", t->bf16_gflops);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        status = util_fail(UTIL_EIO, "cannot write the tune cache %s: %s", path, strerror(errno));
        remove(tmp);
        return status;
    }
    return UTIL_OK;
}

/* A cache that cannot be read (a HOME of another user, as batch systems may
 * leave it: EACCES; a directory in its place) is as none: the blocking from
 * the cache sizes, with a warning (once) naming it. Nothing is saved over it. */
static int cache_unreadable;

static int unreadable(const char *path, int err) {
    if (!cache_unreadable)
        util_warn("cannot read the tune cache %s (%s): the kernels' blocking from the CPU's cache sizes instead", path,
                  strerror(err));
    cache_unreadable = 1;
    return UTIL_OK;
}

/* strict number: the whole value, in range */
static int tune_number(const char *path, int line, const char *key, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !(x >= lo && x <= hi))
        return util_fail(UTIL_EFORMAT, "%s line %d: %s=%s: expected a number in %g..%g (run pangu tune again or delete the file)",
                         path, line, key, v, lo, hi);
    *out = x;
    return UTIL_OK;
}

int model_tune_read(model_tune *t, const char *path) {
    char def[1024], line[512], cpu[128];
    int status = UTIL_OK, n = 0;
    memset(t, 0, sizeof *t);
    if (!path) {
        if ((status = model_tune_path(def, sizeof def))) return status;
        path = def;
    }
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? UTIL_OK : unreadable(path, errno);
    unsigned seen = 0;
    static const char *const keys[] = {"cpu", "kernel", "threads", "avx512_mc", "avx512_kc", "avx512_gflops",
                                       "avx2_mc", "avx2_kc", "avx2_gflops", "fp32_gflops", "bf16_gflops"};
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    while (!status && fgets(line, sizeof line, f)) {
        n++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = 0;
        else if (!feof(f)) {
            status = util_fail(UTIL_EFORMAT, "%s line %d: longer than %zu characters", path, n, sizeof line - 2);
            break;
        }
        if (!line[0] || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            status = util_fail(UTIL_EFORMAT, "%s line %d: expected key=value (run pangu tune again or delete the file)", path, n);
            break;
        }
        *eq = 0;
        const char *key = line, *v = eq + 1;
        int k = -1;
        for (int i = 0; i < NKEYS; i++)
            if (strcmp(key, keys[i]) == 0) k = i;
        if (k < 0) {
            status = util_fail(UTIL_EFORMAT, "%s line %d: unknown key '%s' (run pangu tune again or delete the file)", path, n, key);
            break;
        }
        if (seen & (1u << k)) {
            status = util_fail(UTIL_EFORMAT, "%s line %d: %s given twice", path, n, key);
            break;
        }
        seen |= 1u << k;
        double x = 0;
        if (k == 0) snprintf(t->cpu, sizeof t->cpu, "%s", v);
        else if (k == 1) {
            if (strcmp(v, "avx512") == 0) t->kernel = MODEL_KERNEL_AVX512;
            else if (strcmp(v, "avx2") == 0) t->kernel = MODEL_KERNEL_AVX2;
            else if (strcmp(v, "blas") == 0) t->kernel = MODEL_KERNEL_BLAS;
            else status = util_fail(UTIL_EFORMAT, "%s line %d: kernel=%s: expected avx512, avx2 or blas", path, n, v);
        } else if (k == 2) {
            if (!(status = tune_number(path, n, key, v, 1, 4096, &x))) t->threads = (int)x;
        } else if (k == 9 || k == 10 || k == 5 || k == 8) {
            if (!(status = tune_number(path, n, key, v, 0, 1e6, &x))) {
                if (k == 9) t->fp32_gflops = x;
                else if (k == 10) t->bf16_gflops = x;
                else t->gflops[k == 5 ? MODEL_KERNEL_AVX512 : MODEL_KERNEL_AVX2] = x;
            }
        } else {
            int kern = k <= 5 ? MODEL_KERNEL_AVX512 : MODEL_KERNEL_AVX2, mc = k == 3 || k == 6;
            if (!(status = tune_number(path, n, key, v, mc ? 1 : 8, mc ? 4096 : MODEL_KC_MAX, &x))) {
                if (x != (int)x) status = util_fail(UTIL_EFORMAT, "%s line %d: %s=%s: expected a whole number", path, n, key, v);
                else if (mc) t->blocking[kern].mc = (int)x;
                else t->blocking[kern].kc = (int)x;
            }
        }
    }
    int read_error = ferror(f) ? errno : 0;
    fclose(f);
    if (!status && read_error) {
        memset(t, 0, sizeof *t);
        return unreadable(path, read_error);
    }
    for (int kern = 1; !status && kern <= 2; kern++)
        if ((t->blocking[kern].mc != 0) != (t->blocking[kern].kc != 0))
            status = util_fail(UTIL_EFORMAT, "%s: %s_mc and %s_kc go together", path, model_kernel_name(kern), model_kernel_name(kern));
    model_cpu_name(cpu, sizeof cpu);
    if (!status && !(seen & 1)) status = util_fail(UTIL_EFORMAT, "%s: no cpu= line (run pangu tune again or delete the file)", path);
    else if (!status && strcmp(t->cpu, cpu) != 0)
        status = util_fail(UTIL_EFORMAT, "%s was measured on '%s', not on this CPU ('%s'): run pangu tune again or delete it",
                           path, t->cpu, cpu);
    if (status) memset(t, 0, sizeof *t);
    return status;
}

static int tune_off;

void model_tune_disable(void) {
    tune_off = 1;
    for (int k = 0; k < 3; k++) model_blocking_set(k, NULL);
}

int model_tune_enabled(void) { return !tune_off; }

int model_tune_load(const char *path) {
    if (tune_off) return UTIL_OK;
    model_tune t;
    int status = model_tune_read(&t, path);
    if (status || !t.cpu[0]) return status;
    for (int k = 1; k <= 2 && !status; k++)
        if (t.blocking[k].kc) status = model_blocking_set(k, &t.blocking[k]);
    return status;
}

/* ---- precision that pays ---- */

int model_precision_rates(double *fp32, double *bf16, int save) {
    *fp32 = *bf16 = 0;
    int kern = model_kernel(), status;
    if (!model_bf16_available() || kern == MODEL_KERNEL_BLAS) return UTIL_OK;
    model_tune t;
    if (!tune_off) {
        if ((status = model_tune_read(&t, NULL))) return status;
        if (t.cpu[0] && t.fp32_gflops > 0 && t.bf16_gflops > 0 && t.kernel == kern) {
            *fp32 = t.fp32_gflops, *bf16 = t.bf16_gflops;
            return UTIL_OK;
        }
    } else
        memset(&t, 0, sizeof t);
    /* first use: a short measurement (about half a second), cached with the blockings */
    if ((status = model_tune_rate(fp32, kern, NULL, 0.25)) || (status = model_tune_rate(bf16, -1, NULL, 0.25))) return status;
    if (tune_off || !save || cache_unreadable) return UTIL_OK; /* --no-tune: the cache neither read nor written */
    if (!t.cpu[0]) {
        model_cpu_name(t.cpu, sizeof t.cpu);
        t.threads = omp_get_max_threads();
    }
    t.kernel = kern, t.fp32_gflops = *fp32, t.bf16_gflops = *bf16;
    return model_tune_save(&t, NULL);
}

int model_precision_auto(int *precision, int allow_bf16) {
    *precision = MODEL_FP32;
    if (!allow_bf16 || !model_bf16_available()) return UTIL_OK; /* nothing measured: FP32 is the answer either way */
    double f, b;
    int status = model_precision_rates(&f, &b, 1);
    if (status) return status;
    /* a 10% margin: the rates are of the GEMMs, measured on a machine that may be shared */
    if (f > 0 && b > 1.1 * f) *precision = MODEL_BF16;
    return UTIL_OK;
}

int model_precision_warn(int precision, FILE *log) {
    static int warned;
    if (precision != MODEL_BF16 || warned) return UTIL_OK;
    double f, b;
    /* measured if nothing is cached, but not written: an explicit precision
     * has not asked for the cache (and test scripts run it) */
    int status = model_precision_rates(&f, &b, 0);
    if (status) return status;
    if (f > 0 && b > 0 && b < f) {
        warned = 1;
        if (log)
            fprintf(log, "pangu: warning: BF16 is slower than FP32 on this CPU (%.0f against %.0f GFLOP/s measured): "
                         "--precision fp32 or auto would be faster and exact\n", b, f);
    }
    return UTIL_OK;
}
