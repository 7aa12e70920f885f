/* pangu step, info and init. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/data.h"
#include "../io/io.h"
#include "../model/model.h"
#include "../util/util.h"
#include "cli.h"

/* FNV-1a over 32-bit words (n a multiple of 4): a state's fingerprint */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    return h;
}

static const cfg_key step_keys[] = {
    {"step", "model", NULL, "the model: an HDF5 model file (pangu init, import, train) or a released .onnx"},
    {"step", "input", NULL, "the initial state: files or globs, several per option (blank- or comma-separated) and the "
                            "option repeated; pressure levels and single levels may be apart", CFG_MULTI},
    {"step", "output", NULL, "the forecast file (the forecast layout with one lead; never one of the inputs)"},
    {"step", "time", NULL, "valid time of the initial state (YYYY-MM-DDTHH), needed when the inputs hold several"},
    {"step", "lead", "0", "lead time in hours of a .onnx whose name does not say it (pangu_weather_N.onnx); 0: from the name",
     CFG_INT, 0, 100000},
    {"step", "precision", "auto", "GEMM precision, as pangu forecast's: auto (bf16 where allow_bf16 = yes and this CPU runs BF16 faster than FP32, else fp32), fp32, or bf16 on CPUs with AVX512_BF16 (faster where pangu tune measures it so, within about 1e-2 of each field's std; on AMX tiles where the CPU and Linux allow)"},
    {"step", "allow_bf16", "no", "let precision = auto take BF16 (reduced precision) where it is faster", CFG_YESNO},
    {"step", "overwrite", "no", "rewrite OUT.nc if it is a complete forecast file already; without it that is an error, "
     "found before the step is computed. A file there that is not a forecast is never replaced", CFG_SWITCH},
    {"step", "profile", NULL, "print the time in the GEMMs, in attention and in the rest", CFG_SWITCH},
    {"step", "repeat", "1", "run the step this many times, report the median, fail unless all agree to the bit",
     CFG_INT, 1, 100},
};

/* What pangu step was asked for, once its options are read and checked. */
typedef struct {
    const char *model_path, *output;
    int precision, profile, overwrite, repeat, lead;
    double time;
    glob_t gin;
} step_job;

/* The options, and the output judged before any work: never an input or the model, never an existing
 * file other than a forecast, a complete forecast only with --overwrite. gin is filled even on failure. */
static int check_step_options(cfg *opt, step_job *j) {
    int status;
    j->model_path = cfg_get(opt, "model"), j->output = cfg_get(opt, "output");
    j->precision = MODEL_FP32, j->profile = cfg_get_yesno(opt, "profile");
    j->overwrite = cfg_get_yesno(opt, "overwrite");
    j->repeat = (int)cfg_get_int(opt, "repeat"), j->lead = (int)cfg_get_int(opt, "lead");
    j->time = NAN;
    if ((status = cli_expand(opt, "input", &j->gin)) ||
        (cfg_get(opt, "time") && (status = util_time_parse(cfg_get(opt, "time"), &j->time))) ||
        (status = cli_precision(cfg_get(opt, "precision"), cfg_get_yesno(opt, "allow_bf16"), &j->precision)) ||
        (status = util_output_check(j->output,
                                    (util_paths[]){{(const char *const *)j->gin.gl_pathv, (int)j->gin.gl_pathc},
                                                   {&j->model_path, 1}},
                                    2, "forecast file", io_forecast_is_forecast)))
        return status;
    /* before the step, not after it: at 0.25 degrees that is half a minute */
    if (!j->overwrite && io_forecast_is_complete(j->output))
        return util_fail(UTIL_EINVAL, "%s: a complete forecast file is there already: --overwrite rewrites it, "
                                      "or choose another output", j->output);
    return UTIL_OK;
}

/* The initial state on the model's grid and levels, checked, and the output state at init + lead. */
static int read_initial_state(const model *m, const step_job *j, io_series **series, io_state *in, io_state *out) {
    const model_config *c = &m->cfg;
    const char *const *inputs = (const char *const *)j->gin.gl_pathv;
    int status;
    if ((status = io_series_open(series, inputs, (int)j->gin.gl_pathc))) return status;
    if (isnan(j->time) && io_series_ntimes(*series) == 0)
        return util_fail(UTIL_EINVAL, "%s has no time coordinate: give the valid time with --time", inputs[0]);
    if ((status = io_series_read(*series, j->time, c->H, c->W, c->levels, c->nlev, in)) ||
        (status = io_state_check_finite(in, inputs[0])) ||
        (status = io_state_check_plausible(in, m->upper_mean, m->upper_std, m->surface_mean, m->surface_std)) ||
        (status = io_state_alloc(out, c->H, c->W, c->levels, c->nlev, in)) ||
        (status = io_time_add_hours(out, c->lead_hours)))
        return status;
    return UTIL_OK;
}

/* --repeat: the same step again into the same buffers, as a forecast
 * job repeats it; each repeat's output must hash (64-bit FNV-1a) as the
 * first one's: a second state would add its size to the
 * peak memory measured. secs[r]: the time of repeat r. */
static int run_steps(model *m, model_workspace *ws, const io_state *in, io_state *out, int repeat, double *secs) {
    const model_config *c = &m->cfg;
    size_t nu = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W, ns = (size_t)MODEL_NSURFACE * c->H * c->W;
    uint64_t first_hash = 0;
    int status;
    for (int r = 0; r < repeat; r++) {
        double ts = util_now();
        if ((status = model_step_in(m, ws, out->upper, out->surface, in->upper, in->surface))) return status;
        secs[r] = util_now() - ts;
        if (repeat == 1) break;
        uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ULL, out->upper, sizeof(float) * nu), out->surface, sizeof(float) * ns);
        if (r == 0) first_hash = h;
        else if (h != first_hash)
            return util_fail(UTIL_EINVAL, "repeat %d of the step differs from the first: the step is not deterministic",
                             r + 1);
    }
    return UTIL_OK;
}

/* The output: the layout of pangu forecast with one lead. */
static int write_step(int argc, char **argv, const step_job *j, const model *m, const io_state *in,
                      const io_state *out) {
    const model_config *c = &m->cfg;
    char source[8192], history[8192], what[64];
    snprintf(what, sizeof what, "%d h step (%s GEMMs)", c->lead_hours, model_precision_name(j->precision));
    int lead = c->lead_hours, status;
    if ((status = util_source_attribute(source, sizeof source, what, &lead, &j->model_path, 1))) return status;
    cli_history(argc, argv, history, sizeof history);
    double lead_h = c->lead_hours;
    io_forecast_spec spec = {0};
    spec.H = c->H, spec.W = c->W, spec.lat = out->lat, spec.lon = out->lon, spec.nlev = c->nlev;
    memcpy(spec.levels, c->levels, sizeof(float) * c->nlev);
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) spec.write_var[v] = 1;
    spec.nsteps = 1, spec.lead_hours = &lead_h, spec.init_time = in->time;
    spec.source = source, spec.history = history, spec.licence = model_licence(c);
    spec.overwrite = j->overwrite;
    io_forecast *fc;
    if ((status = io_forecast_create(&fc, j->output, &spec))) return status;
    if ((status = io_forecast_write(fc, 0, -1, out))) {
        io_forecast_abort(fc);
        return status;
    }
    return io_forecast_finish(fc);
}

/* One line: grid, lead, precision, read time, the median step and its rate, threads, peak memory. */
static void print_summary(const step_job *j, const model_config *c, double read_secs, const double *sorted,
                          double median) {
    double flops = model_flops_per_step(c);
    int repeat = j->repeat;
    char spread[96] = "";
    if (repeat > 1)
        snprintf(spread, sizeof spread, ", median of %d: %.2f to %.2f s, outputs identical", repeat, sorted[0],
                 sorted[repeat - 1]);
    int amx = j->precision == MODEL_BF16 ? model_bf16_amx() : MODEL_AMX_OFF;
    fprintf(stderr, "pangu step: %d x %d grid, lead %d h, %s%s: read %.2f s, step %.2f s (%.1f GFLOP/s, %d threads%s), "
                    "peak RSS %.0f MB\n",
            c->H, c->W, c->lead_hours, model_precision_name(j->precision),
            amx == MODEL_AMX_ON ? " on AMX tiles" : amx == MODEL_AMX_EMULATED ? " on emulated AMX tiles" : "", read_secs,
            median, flops / median / 1e9,
            omp_get_max_threads(), spread, util_peak_rss_kb() / 1024.0);
}

/* --profile: thread-seconds over the threads, as the share of the step's wall time. */
static void print_profile(int repeat, double total) {
    model_profile p;
    model_profile_get(&p);
    p.gemm_flops /= repeat, p.attention_flops /= repeat;
    double nt = omp_get_max_threads() * (double)repeat, wall = total / repeat; /* per step */
    fprintf(stderr, "pangu step: profile: linear-layer GEMMs %.2f s of the step (%.0f%%, %.1f GFLOP/s in them); "
                    "window attention %.2f s (%.0f%%, %.1f GFLOP/s); everything else %.2f s (%.0f%%)\n",
            p.gemm_seconds / nt, 100 * p.gemm_seconds / nt / wall, p.gemm_flops / (p.gemm_seconds / nt) / 1e9,
            p.attention_seconds / nt, 100 * p.attention_seconds / nt / wall,
            p.attention_flops / (p.attention_seconds / nt) / 1e9, wall - (p.gemm_seconds + p.attention_seconds) / nt,
            100 * (1 - (p.gemm_seconds + p.attention_seconds) / nt / wall));
}

int cli_step(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, step_keys, argc, argv, "step", "--model M.h5|M.onnx --input FILE [--input FILE ...] --output OUT.nc",
                      "One model step: the state at t + lead from the state at t.");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"model", "input", "output"};
    if (cli_require(&opt, "step", need, 3)) return cfg_free(&opt), 2;
    step_job j;
    int status = check_step_options(&opt, &j);
    if (status) {
        globfree(&j.gin);
        cfg_free(&opt);
        return cli_error("step", status);
    }
    model_workspace ws = {NULL, 0}; /* kept across --repeat, as a forecast keeps it across its steps */
    model m;
    io_state in = {0}, out = {0};
    double *secs = NULL;
    io_series *series = NULL;
    double t0 = util_now();
    if ((status = model_open(&m, j.model_path, j.lead))) return cli_error("step", status);
    if ((status = model_set_precision(&m, j.precision)) || (status = read_initial_state(&m, &j, &series, &in, &out)))
        goto done;
    if (!(secs = malloc(sizeof(double) * (size_t)j.repeat))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    model_profile_enable(j.profile);
    model_profile_reset();
    double t1 = util_now();
    if ((status = run_steps(&m, &ws, &in, &out, j.repeat, secs))) goto done;
    model_profile_enable(0);
    double total = 0, sorted[100];
    for (int r = 0; r < j.repeat; r++) total += secs[r], sorted[r] = secs[r];
    for (int r = 1; r < j.repeat; r++) /* insertion sort: at most 100 */
        for (int q = r; q > 0 && sorted[q] < sorted[q - 1]; q--) {
            double t = sorted[q];
            sorted[q] = sorted[q - 1], sorted[q - 1] = t;
        }
    int repeat = j.repeat;
    double median = repeat % 2 ? sorted[repeat / 2] : 0.5 * (sorted[repeat / 2 - 1] + sorted[repeat / 2]);
    if ((status = write_step(argc, argv, &j, &m, &in, &out))) goto done;
    print_summary(&j, &m.cfg, t1 - t0, sorted, median);
    if (j.profile) print_profile(repeat, total);
done:
    globfree(&j.gin);
    cfg_free(&opt);
    free(secs);
    io_series_close(series);
    io_state_free(&in);
    io_state_free(&out);
    model_workspace_free(&ws);
    model_free(&m);
    return status ? cli_error("step", status) : 0;
}

static void print_ints(const char *label, const int *v, int n) {
    printf("%-18s", label);
    for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", v[i]);
    printf("\n");
}

static const cfg_key info_keys[] = {
    {"info", "model", NULL, "the model file (HDF5 or a released .onnx); also given alone: pangu info M.h5"},
    {"info", "lead", "0", "lead time of a .onnx whose name does not say it; 0: from the name", CFG_INT, 0, 100000},
};

int cli_info(int argc, char **argv) {
    cfg opt;
    cfg_init(&opt, info_keys, 2);
    opt.positional = "model";
    if (cfg_wants_help(argc, argv)) {
        cfg_print_usage(&opt, "info", "M.h5|M.onnx [--lead H]",
                        "The model's configuration, variant, lead time, parameter count and FLOPs per step.", 0);
        return 0;
    }
    if (cli_parse(&opt, "info", argc, argv)) {
        fprintf(stderr, "pangu info: %s (pangu info --help)\n", util_last_message());
        return 2;
    }
    static const char *const need[] = {"model"};
    if (cli_require(&opt, "info", need, 1)) return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s", cfg_get(&opt, "model"));
    int lead = (int)cfg_get_int(&opt, "lead");
    cfg_free(&opt);
    model m;
    int status = model_open(&m, path, lead);
    if (status) return cli_error("info", status);
    const model_config *c = &m.cfg;
    printf("model             %s\n", path);
    printf("format            %d (%s)\n", model_config_format_version(c),
           model_config_format_version(c) == 2 ? "the released models' variant" : "pangu-c");
    printf("lead time         %d h\n", c->lead_hours);
    printf("grid              %d x %d (latitude x longitude)\n", c->H, c->W);
    printf("levels            %d:", c->nlev);
    for (int i = 0; i < c->nlev; i++) printf(" %g", c->levels[i]);
    printf(" hPa\n");
    printf("dim               %d\n", c->dim);
    print_ints("depths", c->depths, 4);
    print_ints("heads", c->heads, 4);
    print_ints("window", c->window, 3);
    print_ints("patch", c->patch, 3);
    printf("token grid        %d x %d x %d, down-sampled %d x %d x %d\n", c->Z, c->Ht, c->Wt, c->Z, c->H2, c->W2);
    printf("upper constants   %s\n", c->upper_constants ? "const_h" : "none");
    printf("recovery bias     %s\n", c->recovery_bias_position ? "per variable and patch position" : "per variable");
    printf("constant masks    %s\n", c->padded_constants ? "on the padded grid" : "on the grid, zero-padded");
    printf("Earth bias        %s\n", c->full_bias ? "full (types, heads, N, N)" : "compact table");
    printf("parameters        %zu trainable\n", model_trainable_count(&m));
    printf("FLOPs per step    %.4g GFLOP\n", model_flops_per_step(c) / 1e9);
    printf("work memory       %.1f MB (%d threads)\n", model_workspace_bytes(c, omp_get_max_threads()) / 1e6,
           omp_get_max_threads());
    model_free(&m);
    return 0;
}

/* "a,b,c" into at most max positive finite numbers; -1 for anything else
 * (more than max included: nothing is cut silently). */
static int parse_floats(const char *s, float *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || n == max || !isfinite(v) || !(v > 0)) return -1;
        out[n++] = (float)v;
        if (*end == ',' && end[1]) p = end + 1;
        else if (*end == 0) break;
        else return -1;
    }
    return n;
}

static const cfg_key init_keys[] = {
    {"init", "preset", "tiny", "the architecture to start from: tiny, small, full (721 x 1440, C = 192) or lite "
                               "(the authors' Pangu-Weather-lite: patch 2,8,8, one 24 h model); the options below override it"},
    {"init", "grid", NULL, "H,W: latitudes and longitudes"},
    {"init", "dim", NULL, "C: the width of layers 1 and 4 (2C in layers 2 and 3)", CFG_INT, 1, 4096},
    {"init", "depths", NULL, "blocks per layer, four numbers"},
    {"init", "heads", NULL, "attention heads per layer, four numbers"},
    {"init", "window", NULL, "window (level, latitude, longitude) in tokens, three numbers"},
    {"init", "patch", NULL, "patch (level, latitude, longitude) in grid points, three numbers"},
    {"init", "levels", NULL, "pressure levels in hPa, comma-separated, each once"},
    {"init", "lead", NULL, "lead time in hours", CFG_INT, 1, 100000},
    {"init", "seed", "0", "seed of the random weights", CFG_INT, 0, 9007199254740992.0},
    {"init", "std", "0.02", "std of the truncated-normal weights", CFG_REAL, 1e-9, 10},
    {"init", "stats", NULL, "normalisation statistics (pangu stats output) instead of standard-atmosphere ones"},
    {"init", "constants", NULL, "invariant file with land-sea mask, soil type and orography (NetCDF or GRIB)"},
    {"init", "output", NULL, "the model file to write", 0, 0, 0, "out"},
};

/* "a,b,c": exactly n positive whole numbers */
static int ints_opt(const cfg *c, const char *key, int *out, int n) {
    const char *v = cfg_get(c, key);
    if (v && cli_parse_ints(v, out, n))
        return util_fail(UTIL_EINVAL, "--%s '%s': expected %d positive whole numbers separated by commas", key, v, n);
    return UTIL_OK;
}

int cli_init(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, init_keys, argc, argv, "init", "--preset tiny|small|full|lite [--grid H,W] ... --output M.h5",
                      "A randomly initialised model (truncated normal weights, LayerNorm 1, biases 0).");
    if (rc) return rc < 0 ? 0 : rc;
    const char *preset = cfg_get(&opt, "preset"), *out = cfg_get(&opt, "output");
    const char *stats = cfg_get(&opt, "stats"), *constants = cfg_get(&opt, "constants");
    model_config c;
    int status, g[2];
    unsigned long long seed = (unsigned long long)cfg_get_int(&opt, "seed");
    double std = cfg_get_real(&opt, "std");
    int lite = !strcmp(preset, "lite");
    if ((status = model_config_preset(&c, lite ? "full" : preset))) return cli_error("init", status);
    if (lite) c.patch[1] = c.patch[2] = 8, c.window[2] = 6; /* Pangu-Weather-lite: patch 2 x 8 x 8 */
    if (cfg_get(&opt, "grid")) {
        if ((status = ints_opt(&opt, "grid", g, 2))) return cli_error("init", status);
        c.H = g[0], c.W = g[1];
    }
    if (cfg_get(&opt, "dim")) c.dim = (int)cfg_get_int(&opt, "dim");
    if (cfg_get(&opt, "lead")) c.lead_hours = (int)cfg_get_int(&opt, "lead");
    if ((status = ints_opt(&opt, "depths", c.depths, 4)) || (status = ints_opt(&opt, "heads", c.heads, 4)) ||
        (status = ints_opt(&opt, "window", c.window, 3)) || (status = ints_opt(&opt, "patch", c.patch, 3)))
        return cli_error("init", status);
    if (cfg_get(&opt, "levels")) {
        const char *v = cfg_get(&opt, "levels");
        c.nlev = parse_floats(v, c.levels, MODEL_MAX_LEVELS);
        if (c.nlev < 1)
            return fprintf(stderr, "pangu init: --levels '%s': expected 1 to %d pressures in hPa separated by commas\n", v,
                           MODEL_MAX_LEVELS), 2;
        for (int i = 0; i < c.nlev; i++)
            for (int j = 0; j < i; j++)
                if (c.levels[i] == c.levels[j])
                    return fprintf(stderr, "pangu init: --levels '%s': %g hPa twice\n", v, c.levels[i]), 2;
    }
    if (!out) return fprintf(stderr, "pangu init: needs --output M.h5 (pangu init --help)\n"), 2;
    if ((status = util_output_check(out, (util_paths[]){{&stats, 1}, {&constants, 1}}, 2, NULL, NULL)))
        return cli_error("init", status);
    if ((status = model_config_derive(&c))) return cli_error("init", status);
    model m;
    if ((status = model_create(&m, &c))) return cli_error("init", status);
    model_init_random(&m, seed, (float)std);
    if (stats) status = data_stats_read(stats, c.levels, c.nlev, m.upper_mean, m.upper_std, m.surface_mean, m.surface_std);
    if (!status && constants) status = data_constants_read(constants, c.H, c.W, m.constants);
    if (!status) status = model_save(&m, out);
    if (!status)
        fprintf(stderr, "pangu init: wrote %s (%zu parameters, %d x %d grid, lead %d h)\n", out,
                model_trainable_count(&m), c.H, c.W, c.lead_hours);
    model_free(&m);
    return status ? cli_error("init", status) : 0;
}

static const cfg_key grad_keys[] = {
    {"grad", "model", NULL, "the model (HDF5 or a released .onnx)"},
    {"grad", "input", NULL, "the sample's initial state (files or globs, repeatable; the first time in them)", CFG_MULTI},
    {"grad", "target", NULL, "the state at t + lead (files or globs, repeatable; the first time in them)", CFG_MULTI},
    {"grad", "output", NULL, "the HDF5 file of the loss and every trainable tensor's gradient"},
    {"grad", "lead", "0", "lead time of a .onnx whose name does not say it; 0: from the name", CFG_INT, 0, 100000},
};

int cli_grad(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, grad_keys, argc, argv, "grad", "--model M.h5 --input X.nc --target Y.nc --output G.h5",
                      "The training loss of one sample and the gradient of every trainable tensor.");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"model", "input", "target", "output"};
    if (cli_require(&opt, "grad", need, 4)) return 2;
    const char *model_path = cfg_get(&opt, "model"), *output = cfg_get(&opt, "output");
    int lead = (int)cfg_get_int(&opt, "lead");
    glob_t gi, gt;
    int st0 = cli_expand(&opt, "input", &gi);
    if (!st0) st0 = cli_expand(&opt, "target", &gt);
    if (!st0) st0 = util_check_output(output, (const char *const *)gi.gl_pathv, (int)gi.gl_pathc);
    if (!st0) st0 = util_check_output(output, (const char *const *)gt.gl_pathv, (int)gt.gl_pathc);
    if (!st0) st0 = util_check_output(output, &model_path, 1);
    if (st0) return cli_error("grad", st0);
    const char *const *input = (const char *const *)gi.gl_pathv, *const *target = (const char *const *)gt.gl_pathv;
    int ninput = (int)gi.gl_pathc, ntarget = (int)gt.gl_pathc;
    model m;
    io_state x = {0}, y = {0};
    float *g = NULL;
    double loss = 0;
    int status = model_open(&m, model_path, lead);
    if (status) return cli_error("grad", status);
    const model_config *c = &m.cfg;
    if ((status = io_state_read(&x, input, ninput, 0, c->H, c->W, c->levels, c->nlev)) ||
        (status = io_state_check_finite(&x, input[0])) ||
        (status = io_state_check_plausible(&x, m.upper_mean, m.upper_std, m.surface_mean, m.surface_std)) ||
        (status = io_state_read(&y, target, ntarget, 0, c->H, c->W, c->levels, c->nlev)) ||
        (status = io_state_check_finite(&y, target[0])) ||
        (status = io_state_check_plausible(&y, m.upper_mean, m.upper_std, m.surface_mean, m.surface_std)))
        goto done;
    /* the target must be the input's time plus the model's lead */
    if (!isnan(x.time) && !isnan(y.time) && fabs(y.time - x.time - c->lead_hours * 3600.0) > 1) {
        char a[64], b[64];
        util_time_format(x.time, a, sizeof a), util_time_format(y.time, b, sizeof b);
        status = util_fail(UTIL_EINVAL, "%s is at %s, %.4g h after the input (%s, at %s): a %d h model needs its target %d h later",
                           target[0], b, (y.time - x.time) / 3600, input[0], a, c->lead_hours, c->lead_hours);
        goto done;
    }
    g = util_aligned_alloc(sizeof(float) * m.nparams);
    if (!g) {
        status = util_fail(UTIL_ENOMEM, "out of memory for gradients");
        goto done;
    }
    double t0 = util_now();
    if ((status = model_grad(&m, g, &loss, x.upper, x.surface, y.upper, y.surface, NULL, 0.25f))) goto done;
    double t1 = util_now();
    if ((status = model_write_tensors(output, &m, g, loss, 1))) goto done;
    fprintf(stderr, "pangu grad: loss %.6f, forward and backward %.2f s, peak RSS %.0f MB\n", loss, t1 - t0,
            util_peak_rss_kb() / 1024.0);
done:
    free(g);
    io_state_free(&x);
    io_state_free(&y);
    model_free(&m);
    return status ? cli_error("grad", status) : 0;
}

static const cfg_key import_keys[] = {
    {"import", "onnx", NULL, "a released Pangu-Weather ONNX file (pangu_weather_1.onnx, _3, _6, _24, or one laid out as they are)"},
    {"import", "output", NULL, "the HDF5 model file (format 2) to write", 0, 0, 0, "out"},
    {"import", "lead", "0", "lead time in hours; 0: from the file name pangu_weather_N.onnx", CFG_INT, 0, 100000},
};

int cli_import(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, import_keys, argc, argv, "import", "--onnx pangu_weather_24.onnx [--lead 24] --output M.h5",
                      "A released Pangu-Weather ONNX model into the HDF5 model format (version 2).");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"onnx", "output"};
    if (cli_require(&opt, "import", need, 2)) return 2;
    const char *onnx = cfg_get(&opt, "onnx"), *out = cfg_get(&opt, "output");
    int lead = (int)cfg_get_int(&opt, "lead");
    if (util_check_output(out, &onnx, 1)) return cli_error("import", UTIL_EINVAL);
    model m;
    double t0 = util_now();
    int status = model_onnx_import(&m, onnx, lead);
    if (status) return cli_error("import", status);
    double t1 = util_now();
    status = model_save(&m, out);
    const model_config *c = &m.cfg;
    if (!status)
        fprintf(stderr,
                "pangu import: %s: %d h, %d x %d grid, %d levels, dim %d, heads %d,%d,%d,%d, %s Earth-specific bias; "
                "read %.2f s, wrote %s in %.2f s, peak RSS %.0f MB\n",
                onnx, c->lead_hours, c->H, c->W, c->nlev, c->dim, c->heads[0], c->heads[1], c->heads[2], c->heads[3],
                c->full_bias ? "full" : "compact", t1 - t0, out, util_now() - t1, util_peak_rss_kb() / 1024.0);
    model_free(&m);
    return status ? cli_error("import", status) : 0;
}
