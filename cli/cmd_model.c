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

int cli_step(int argc, char **argv) {
    const char *model_path = NULL, *output = NULL, *inputs[16];
    int ninputs = 0, status = UTIL_OK, precision = MODEL_FP32, profile = 0, repeat = 1, lead = 0;
    double time = NAN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--profile") == 0) {
            profile = 1;
            continue;
        }
        if (!v) return fprintf(stderr, "pangu step: option %s needs a value\n", a), 2;
        if (strcmp(a, "--model") == 0) model_path = v;
        else if (strcmp(a, "--output") == 0) output = v;
        else if (strcmp(a, "--input") == 0) {
            if (ninputs == 16) return fprintf(stderr, "pangu step: at most 16 --input files\n"), 2;
            inputs[ninputs++] = v;
        } else if (strcmp(a, "--time") == 0) {
            if ((status = util_time_parse(v, &time))) return cli_error("step", status);
        } else if (strcmp(a, "--lead") == 0) {
            if (cli_parse_ints(v, &lead, 1)) return fprintf(stderr, "pangu step: --lead '%s': expected hours\n", v), 2;
        } else if (strcmp(a, "--repeat") == 0) {
            char *end;
            long r = strtol(v, &end, 10);
            if (*end || r < 1 || r > 100)
                return fprintf(stderr, "pangu step: --repeat '%s': expected a count from 1 to 100\n", v), 2;
            repeat = (int)r;
        } else if (strcmp(a, "--precision") == 0) {
            if ((status = model_precision_parse(v, &precision)) || (status = model_precision_check(precision)))
                return cli_error("step", status);
        } else return fprintf(stderr, "pangu step: unknown option '%s'\n", a), 2;
        i++;
    }
    if (!model_path || !output || ninputs == 0)
        return fprintf(stderr, "pangu step: needs --model M.h5 --input FILE --output OUT.nc\n"), 2;
    model m;
    io_state in = {0}, out = {0};
    double *secs = NULL;
    io_series *series = NULL;
    double t0 = util_now();
    if ((status = model_open(&m, model_path, lead))) return cli_error("step", status);
    const model_config *c = &m.cfg;
    if ((status = model_set_precision(&m, precision))) goto done;
    if ((status = io_series_open(&series, inputs, ninputs))) goto done;
    if (isnan(time) && io_series_ntimes(series) == 0) {
        status = util_fail(UTIL_EINVAL, "%s has no time coordinate: give the valid time with --time", inputs[0]);
        goto done;
    }
    if ((status = io_series_read(series, time, c->H, c->W, c->levels, c->nlev, &in)) ||
        (status = io_state_check_finite(&in, inputs[0])) ||
        (status = io_state_check_plausible(&in, m.upper_mean, m.upper_std, m.surface_mean, m.surface_std)) ||
        (status = io_state_alloc(&out, c->H, c->W, c->levels, c->nlev, &in)) ||
        (status = io_time_add_hours(&out, c->lead_hours)))
        goto done;
    if (!(secs = malloc(sizeof(double) * (size_t)repeat))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    model_profile_enable(profile);
    model_profile_reset();
    /* --repeat: the same step again into the same buffers, as a forecast
     * job repeats it; each repeat's output must hash (64-bit FNV-1a) as the
     * first one's: a second state would add its size to the
     * peak memory measured. */
    size_t nu = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W, ns = (size_t)MODEL_NSURFACE * c->H * c->W;
    uint64_t first_hash = 0;
    double t1 = util_now();
    for (int r = 0; r < repeat; r++) {
        double ts = util_now();
        if ((status = model_step(&m, out.upper, out.surface, in.upper, in.surface))) goto done;
        secs[r] = util_now() - ts;
        if (repeat == 1) break;
        uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ULL, out.upper, sizeof(float) * nu), out.surface, sizeof(float) * ns);
        if (r == 0) first_hash = h;
        else if (h != first_hash) {
            status = util_fail(UTIL_EINVAL, "repeat %d of the step differs from the first: the step is not deterministic", r + 1);
            goto done;
        }
    }
    model_profile_enable(0);
    double total = 0, sorted[100];
    for (int r = 0; r < repeat; r++) total += secs[r], sorted[r] = secs[r];
    for (int r = 1; r < repeat; r++) /* insertion sort: at most 100 */
        for (int q = r; q > 0 && sorted[q] < sorted[q - 1]; q--) {
            double t = sorted[q];
            sorted[q] = sorted[q - 1], sorted[q - 1] = t;
        }
    double median = repeat % 2 ? sorted[repeat / 2] : 0.5 * (sorted[repeat / 2 - 1] + sorted[repeat / 2]);
    /* The output: the layout of pangu forecast with one lead. */
    {
        char source[8192], history[8192], what[64];
        snprintf(what, sizeof what, "%d h step (%s GEMMs)", c->lead_hours, model_precision_name(precision));
        int lead = c->lead_hours;
        if ((status = cli_source(source, sizeof source, what, &lead, &model_path, 1))) goto done;
        cli_history(argc, argv, history, sizeof history);
        double lead_h = c->lead_hours;
        io_forecast_spec spec = {0};
        spec.H = c->H, spec.W = c->W, spec.lat = out.lat, spec.lon = out.lon, spec.nlev = c->nlev;
        memcpy(spec.levels, c->levels, sizeof(float) * c->nlev);
        for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) spec.write_var[v] = 1;
        spec.nsteps = 1, spec.lead_hours = &lead_h, spec.init_time = in.time;
        spec.source = source, spec.history = history, spec.licence = model_licence(c);
        io_forecast *fc;
        if ((status = io_forecast_create(&fc, output, &spec))) goto done;
        if ((status = io_forecast_write(fc, 0, -1, &out))) {
            io_forecast_abort(fc);
            goto done;
        }
        if ((status = io_forecast_finish(fc))) goto done;
    }
    double flops = model_flops_per_step(c);
    char spread[96] = "";
    if (repeat > 1)
        snprintf(spread, sizeof spread, ", median of %d: %.2f to %.2f s, outputs identical", repeat, sorted[0],
                 sorted[repeat - 1]);
    fprintf(stderr, "pangu step: %d x %d grid, lead %d h, %s: read %.2f s, step %.2f s (%.1f GFLOP/s, %d threads%s), "
                    "peak RSS %.0f MB\n",
            c->H, c->W, c->lead_hours, model_precision_name(precision), t1 - t0, median, flops / median / 1e9,
            omp_get_max_threads(), spread, util_peak_rss_kb() / 1024.0);
    if (profile) {
        /* thread-seconds over the threads: the share of the step's wall time */
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
done:
    free(secs);
    io_series_close(series);
    io_state_free(&in);
    io_state_free(&out);
    model_free(&m);
    return status ? cli_error("step", status) : 0;
}

static void print_ints(const char *label, const int *v, int n) {
    printf("%-18s", label);
    for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", v[i]);
    printf("\n");
}

int cli_info(int argc, char **argv) {
    const char *path = NULL;
    int lead = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--lead") == 0 && i + 1 < argc) {
            if (cli_parse_ints(argv[++i], &lead, 1))
                return fprintf(stderr, "pangu info: --lead '%s': expected hours\n", argv[i]), 2;
        } else if ((strcmp(argv[i], "--model") == 0) && i + 1 < argc && !path) path = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else return fprintf(stderr, "usage: pangu info M.h5|M.onnx [--lead H]\n"), 2;
    }
    if (!path) return fprintf(stderr, "usage: pangu info M.h5|M.onnx [--lead H]\n"), 2;
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

static int parse_floats(const char *s, float *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p && n < max) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) return -1;
        out[n++] = (float)v;
        if (*end == ',') p = end + 1;
        else if (*end == 0) break;
        else return -1;
    }
    return n;
}

int cli_init(int argc, char **argv) {
    const char *preset = "tiny", *out = NULL, *stats = NULL, *constants = NULL;
    model_config c;
    int status;
    unsigned long long seed = 0;
    double std = 0.02;
    /* The preset first, so every other option overrides it. */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--preset") == 0) preset = argv[i + 1];
    if ((status = model_config_preset(&c, preset))) return cli_error("init", status);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v) return fprintf(stderr, "pangu init: option %s needs a value\n", a), 2;
        if (strcmp(a, "--preset") == 0) continue;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--stats") == 0) stats = v;
        else if (strcmp(a, "--constants") == 0) constants = v;
        else if (strcmp(a, "--grid") == 0) {
            int g[2];
            bad = cli_parse_ints(v, g, 2);
            c.H = g[0], c.W = g[1];
        } else if (strcmp(a, "--dim") == 0) bad = cli_parse_ints(v, &c.dim, 1);
        else if (strcmp(a, "--lead") == 0) bad = cli_parse_ints(v, &c.lead_hours, 1);
        else if (strcmp(a, "--depths") == 0) bad = cli_parse_ints(v, c.depths, 4);
        else if (strcmp(a, "--heads") == 0) bad = cli_parse_ints(v, c.heads, 4);
        else if (strcmp(a, "--window") == 0) bad = cli_parse_ints(v, c.window, 3);
        else if (strcmp(a, "--levels") == 0) bad = (c.nlev = parse_floats(v, c.levels, MODEL_MAX_LEVELS)) < 1;
        else if (strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--std") == 0) bad = (std = strtod(v, NULL)) <= 0;
        else return fprintf(stderr, "pangu init: unknown option '%s'\n", a), 2;
        if (bad) return fprintf(stderr, "pangu init: %s '%s' is not valid\n", a, v), 2;
    }
    if (!out) return fprintf(stderr, "pangu init: needs --out M.h5\n"), 2;
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

int cli_grad(int argc, char **argv) {
    const char *model_path = NULL, *input = NULL, *target = NULL, *output = NULL;
    int lead = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "pangu grad: option %s needs a value\n", a), 2;
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--lead")) {
            if (cli_parse_ints(v, &lead, 1)) return fprintf(stderr, "pangu grad: --lead '%s': expected hours\n", v), 2;
        }
        else if (!strcmp(a, "--input")) input = v;
        else if (!strcmp(a, "--target")) target = v;
        else if (!strcmp(a, "--output")) output = v;
        else return fprintf(stderr, "pangu grad: unknown option '%s'\n", a), 2;
    }
    if (!model_path || !input || !target || !output)
        return fprintf(stderr, "usage: pangu grad --model M.h5 --input X.nc --target Y.nc --output G.h5\n"), 2;
    model m;
    io_state x = {0}, y = {0};
    float *g = NULL;
    double loss = 0;
    int status = model_open(&m, model_path, lead);
    if (status) return cli_error("grad", status);
    const model_config *c = &m.cfg;
    if ((status = io_state_read(&x, &input, 1, 0, c->H, c->W, c->levels, c->nlev)) ||
        (status = io_state_check_finite(&x, input)) ||
        (status = io_state_check_plausible(&x, m.upper_mean, m.upper_std, m.surface_mean, m.surface_std)) ||
        (status = io_state_read(&y, &target, 1, 0, c->H, c->W, c->levels, c->nlev)) ||
        (status = io_state_check_finite(&y, target)) ||
        (status = io_state_check_plausible(&y, m.upper_mean, m.upper_std, m.surface_mean, m.surface_std)))
        goto done;
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

int cli_import(int argc, char **argv) {
    const char *onnx = NULL, *out = NULL;
    int lead = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "pangu import: option %s needs a value\n", a), 2;
        if (!strcmp(a, "--onnx")) onnx = v;
        else if (!strcmp(a, "--out") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--lead")) {
            if (cli_parse_ints(v, &lead, 1)) return fprintf(stderr, "pangu import: --lead '%s': expected hours\n", v), 2;
        } else return fprintf(stderr, "pangu import: unknown option '%s'\n", a), 2;
    }
    if (!onnx || !out)
        return fprintf(stderr, "usage: pangu import --onnx pangu_weather_24.onnx [--lead 24] --out M.h5\n"), 2;
    if (!strcmp(onnx, out)) return fprintf(stderr, "pangu import: --out must not be the ONNX file itself\n"), 2;
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
