/* pangu forecast: the options of a forecast job (configuration file and
 * flags) into a pangu_forecast_options; the job itself is the library's
 * pangu_forecast (lib/forecast.c). */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../configs/cfg.h"
#include "../lib/pangu.h"
#include "../model/model.h"
#include "../util/util.h"
#include "cli.h"
#ifdef PANGU_MPI
#include <mpi.h>
#endif

static const cfg_key schema[] = {
    {"models", "model_*", NULL, "model file of each lead time, e.g. model_24h = pangu_24h.h5 (flag --model-24h)"},
    {"input", "input", NULL, "initial-condition files (comma or space separated, shell globs allowed; the flag repeatable)", CFG_MULTI},
    {"forecast", "init", NULL, "initial times: a list (2020-01-01T00,2020-01-01T12) or START/END/STEP_HOURS"},
    {"forecast", "leads", "6-168/6", "lead hours: list and ranges START-END/STEP"},
    {"forecast", "precision", "auto", "GEMM precision: auto (bf16 where allow_bf16 = yes and this CPU runs BF16 faster than FP32, as pangu tune or a first short measurement found; else fp32), fp32, or bf16 (BF16 weights and activations, FP32 accumulation, about 1e-2 of each field's std; needs AVX512_BF16; on AMX tiles where the CPU and Linux allow, pangu tune --show)"},
    {"forecast", "allow_bf16", "no", "let precision = auto take BF16 (reduced precision) where it is faster", CFG_YESNO},
    {"output", "output", "fc_{init:%Y%m%d%H}.nc", "output path; {init:FORMAT} takes %Y %m %d %H %M of the initial time"},
    {"output", "variables", "all", "variables to write (z,q,t,u,v,msl,u10,v10,t2m) or all"},
    {"output", "levels", "all", "pressure levels to write (hPa) or all"},
    {"output", "deflate", "1", "deflate level of the files (after shuffle): 1 (fast) to 9, 0 uncompressed (larger files, far less CPU)", CFG_INT, 0, 9},
    {"output", "overwrite", "no", "rewrite a complete file whose recorded request (initial time, input files, models, leads, variables, levels, members, precision, format) differs from this one's; without it that is an error. Never a file that is not a forecast", CFG_SWITCH},
    {"output", "dry_run", "no", "print the plan (files, model calls, estimated time and memory) and exit", CFG_SWITCH},
    {"output", "format", "netcdf", "file format: netcdf, or grib2 (ECMWF's GRIB 2 encodings through ecCodes)"},
    {"output", "layout", "cf", "NetCDF layout: cf (CF-1.8, lead as a CF duration, one file per ensemble member), or wb2 (WeatherBench 2)"},
    {"output", "grib_bits", "16", "GRIB bits per packed value: N for every variable and/or VAR=N, e.g. 16 z=24"},
    {"output", "grib_class", NULL, "GRIB MARS class (format grib2 only): 2 letters or digits of ECMWF's class table; "
                                   "default ml, as ai-models labels Pangu-Weather"},
    {"output", "grib_stream", NULL, "GRIB MARS stream (format grib2 only): 4 letters or digits of ECMWF's stream table; "
                                    "default oper (enfo for ensemble members), as ai-models and earthkit-data label them"},
    {"output", "grib_expver", NULL, "GRIB MARS experiment version (format grib2 only): 4 lowercase letters or digits; "
                                    "default pguw, as ai-models labels Pangu-Weather"},
    {"output", "institution", NULL, "the institution attribute of the files (none unless given)"},
    {"ensemble", "members", "0", "ensemble members; 0 for a single deterministic forecast", CFG_INT, 0, 1000},
    {"ensemble", "perturb", "none", "initial perturbation of members 1..N-1: none or perlin"},
    {"ensemble", "perturb_scale", "0.2", "Perlin noise amplitude in units of each field's normalisation std", CFG_REAL, 0, 10},
    {"ensemble", "seed", "0", "random seed of the perturbations", CFG_INT, 0, 9007199254740992.0},
};

int cli_precision(const char *text, int allow_bf16, int *precision) {
    if (text && strcmp(text, "auto") == 0) return model_precision_auto(precision, allow_bf16);
    if (!text || (strcmp(text, "fp32") != 0 && strcmp(text, "bf16") != 0))
        return util_fail(UTIL_EINVAL, "precision '%s': expected fp32 or bf16, or auto (bf16 where allow_bf16 = yes and "
                                      "this CPU runs it faster, else fp32)", text ? text : "");
    int status = model_precision_parse(text, precision);
    if (!status) status = model_precision_check(*precision); /* before loading any model */
    if (!status) status = model_precision_warn(*precision, stderr);
    return status;
}

int cli_forecast(int argc, char **argv) {
    cfg c;
    cfg_init(&c, schema, (int)(sizeof schema / sizeof schema[0]));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cfg_print_help(&c, "forecast"), 0;
    int status = cli_parse(&c, "forecast", argc, argv);
    const char *model_paths[MODEL_PLAN_MAX_MODELS] = {0};
    int model_leads[MODEL_PLAN_MAX_MODELS], nmodels = 0;
    glob_t inputs = {0};
    int have_glob = 0;
    if (status) goto done;
    for (int i = 0; i < c.n; i++) {
        int h;
        char tail;
        if (strncmp(c.keys[i], "model_", 6) != 0) continue;
        if (sscanf(c.keys[i] + 6, "%dh%c", &h, &tail) != 1 || h < 1) {
            status = util_fail(UTIL_EINVAL, "%s: expected model_<hours>h, e.g. model_24h", c.keys[i]);
            goto done;
        }
        if (nmodels == MODEL_PLAN_MAX_MODELS) {
            status = util_fail(UTIL_EINVAL, "too many models");
            goto done;
        }
        model_leads[nmodels] = h, model_paths[nmodels++] = c.values[i];
    }
    if (!nmodels) {
        status = util_fail(UTIL_EINVAL, "no models: give model_24h = FILE (and 1h, 3h, 6h) or --model-24h FILE");
        goto done;
    }
    if (!cfg_get(&c, "input")) {
        status = util_fail(UTIL_EINVAL, "no input files: give input = FILES or --input FILES");
        goto done;
    }
    if (!cfg_get(&c, "init")) {
        status = util_fail(UTIL_EINVAL, "no initial times: give init = TIMES or --init TIMES");
        goto done;
    }
    if ((status = cli_expand(&c, "input", &inputs))) goto done;
    have_glob = 1;
    pangu_forecast_options o;
    pangu_forecast_options_init(&o);
    o.nmodels = nmodels, o.model_files = model_paths, o.model_leads = model_leads;
    o.ninputs = (int)inputs.gl_pathc, o.input_files = (const char *const *)inputs.gl_pathv;
    o.init = cfg_get(&c, "init"), o.leads = cfg_get(&c, "leads"), o.output = cfg_get(&c, "output");
    o.variables = cfg_get(&c, "variables"), o.levels = cfg_get(&c, "levels");
    o.format = cfg_get(&c, "format"), o.layout = cfg_get(&c, "layout"), o.grib_bits = cfg_get(&c, "grib_bits");
    o.grib_class = cfg_get(&c, "grib_class"), o.grib_stream = cfg_get(&c, "grib_stream");
    o.grib_expver = cfg_get(&c, "grib_expver");
    o.deflate = (int)cfg_get_int(&c, "deflate"); /* numbers were checked when set */
    o.institution = cfg_get(&c, "institution");
    o.members = (int)cfg_get_int(&c, "members");
    o.perturb = cfg_get(&c, "perturb"), o.perturb_scale = cfg_get_real(&c, "perturb_scale");
    o.seed = (unsigned long long)cfg_get_int(&c, "seed");
    if ((status = cli_precision(cfg_get(&c, "precision"), cfg_get_yesno(&c, "allow_bf16"), &o.precision))) goto done;
    o.overwrite = cfg_get_yesno(&c, "overwrite"), o.dry_run = cfg_get_yesno(&c, "dry_run");
    char history[8192];
    cli_history(argc, argv, history, sizeof history);
    o.history = history;
    o.log = stderr, o.plan = stdout;
#ifdef PANGU_MPI
    MPI_Comm_rank(MPI_COMM_WORLD, &o.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &o.nranks);
#endif
    status = pangu_forecast(&o);
done:
    if (have_glob) globfree(&inputs);
    cfg_free(&c);
    return status ? cli_error("forecast", status) : 0;
}
