/* pangu fetch: initial conditions (and IFS or GFS forecasts) from ECMWF
 * open data, NCEP GFS or the CDS as files every command reads (io/fetch.c),
 * and the released Pangu-Weather models from ai-models' mirror
 * (io/fetch_models.c). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../configs/cfg.h"
#include "../io/fetch.h"
#include "../model/model.h"
#include "../util/util.h"
#include "cli.h"
#ifdef PANGU_MPI
#include <mpi.h>
#endif

static const cfg_key schema[] = {
    {"fetch", "source", NULL, "ecmwf-opendata (IFS HRES 0.25 deg, GRIB2), gfs (NCEP GFS 0.25 deg, GRIB2), cds (ERA5), or "
                              "pangu-models (the released 24 h and 6 h models, from ai-models' mirror)"},
    {"fetch", "time", NULL, "analysis (initial) times: T, T0/T1/STEP_HOURS or a comma-separated list, e.g. 2026-12-01T00"},
    {"fetch", "leads", NULL, "forecast steps (hours) instead of the analysis, e.g. 0-240/6 (ecmwf-opendata, gfs); "
                             "pangu-models: the models' lead times, 24,6 (the default: both)"},
    {"fetch", "output", NULL, "output directory (created if missing)", 0, 0, 0, "out"},
    {"fetch", "url", NULL, "root URL of the source (a mirror, or a test server); default: the [urls] entry, else the service"},
    {"fetch", "format", "netcdf", "cds: netcdf or grib"},
    {"fetch", "retries", "5", "attempts after the first on time-outs, cut transfers, 408, 429 and 5xx", CFG_INT, 0, 1000},
    {"fetch", "backoff", "1", "first wait in seconds before a retry (doubled each time) and between CDS polls (x1.5)", CFG_REAL,
     0, 3600},
    {"fetch", "backoff_max", "120", "longest wait in seconds", CFG_REAL, 0, 86400},
    {"fetch", "timeout", "60", "seconds without a byte before a transfer is abandoned (and retried)", CFG_REAL, 1, 86400},
    {"fetch", "deadline", "0", "seconds one transfer may take over all its attempts; 0: 4 x timeout + its size at 10 kB/s",
     CFG_REAL, 0, 1e7},
    {"fetch", "rate_limit", "0", "requests per minute to the server; 0: 100 to NOMADS (its limit is 120), no limit elsewhere",
     CFG_REAL, 0, 1e6},
    {"urls", "ecmwf_opendata_url", "https://data.ecmwf.int/forecasts", "root of ECMWF open data (or a mirror)"},
    {"urls", "gfs_url", "https://nomads.ncep.noaa.gov/pub/data/nccf/com/gfs/prod",
     "root of NCEP GFS (or a mirror, e.g. https://noaa-gfs-bdp-pds.s3.amazonaws.com)"},
    {"urls", "pangu_models_url", IO_FETCH_MODELS_URL,
     "where the released models are (ai-models-panguweather's download_url): ROOT/pangu_weather_24.onnx"},
    {"urls", "cds_url", NULL, "CDS API root; default CDSAPI_URL, the url of ~/.cdsapirc, else https://cds.climate.copernicus.eu/api"},
};

/* --source pangu-models: no times; the leads checked before the output
 * directory is made. */
static int fetch_models(cfg *c, io_fetch_spec *sp, int **leads) {
    const char *out = cfg_get(c, "output");
    int status;
    if (!out)
        return util_fail(UTIL_EINVAL, "usage: pangu fetch --source pangu-models [--leads 24,6] --out DIR [--url ROOT] "
                                      "(pangu fetch --help)");
    sp->source = IO_FETCH_PANGU_MODELS;
    if (cfg_get(c, "leads") && (status = model_plan_parse_leads(cfg_get(c, "leads"), leads, &sp->nleads))) return status;
    if ((status = io_fetch_models_check_leads(*leads, sp->nleads))) return status;
    sp->leads = *leads, sp->out = out;
    sp->retries = (int)cfg_get_int(c, "retries");
    sp->backoff = cfg_get_real(c, "backoff"), sp->backoff_max = cfg_get_real(c, "backoff_max");
    sp->timeout = cfg_get_real(c, "timeout");
    sp->deadline = cfg_get_real(c, "deadline"), sp->rate_limit = cfg_get_real(c, "rate_limit");
    sp->url = cfg_get(c, "url");
    if (!sp->url || !sp->url[0]) sp->url = cfg_get(c, "pangu_models_url");
    if ((status = util_mkdirs(out)) != 0) return status;
    return io_fetch_models_run(sp);
}

static int parse_times(const char *spec, double **out, int *n) {
    int status = util_time_list(spec, "--time", out, n);
    if (!status && *n == 0) status = util_fail(UTIL_EINVAL, "--time: no times given");
    return status;
}

int cli_fetch(int argc, char **argv) {
    cfg c;
    cfg_init(&c, schema, (int)(sizeof schema / sizeof schema[0]));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cfg_print_help(&c, "fetch");
            printf("Files: ecmwf-opendata DIR/ifs_YYYYMMDDHH.grib2 (with --leads DIR/ifs_YYYYMMDDHH_fNNN.grib2), gfs\n"
                   "DIR/gfs_YYYYMMDDHH[_fNNN].grib2, cds DIR/era5_pl_YYYYMM[DD].nc and DIR/era5_sfc_... (.grib with\n"
                   "--format grib); the CDS key as cdsapi reads it (CDSAPI_URL/CDSAPI_KEY, CDSAPI_RC or ~/.cdsapirc).\n"
                   "pangu-models (no --time): DIR/pangu_weather_24.onnx and DIR/pangu_weather_6.onnx from the\n"
                   "mirror ai-models downloads them from, %s/FILE,\n"
                   "resumed, each checked as pangu import reads it; a file already there is kept when it has the\n"
                   "mirror's size and reads as the model.\n"
                   "Licence: CC BY-NC-SA 4.0, no commercial use. The 1 h and 3 h models are only on the official\n"
                   "repository's Google Drive and Baidu Netdisk (https://github.com/198808xc/Pangu-Weather README.md).\n",
                   IO_FETCH_MODELS_URL);
            return 0;
        }
#ifdef PANGU_MPI
    /* under mpirun one rank fetches: the others would write the same files */
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank) {
        cfg_free(&c);
        return 0;
    }
#endif
    double *times = NULL;
    int *leads = NULL, ntimes = 0, nleads = 0, status = cli_parse(&c, "fetch", argc, argv);
    io_fetch_spec sp;
    memset(&sp, 0, sizeof sp);
    if (status) goto done;
    if (!io_fetch_available()) {
        status = io_fetch_run(&sp); /* says it was built without network access */
        goto done;
    }
    const char *source = cfg_get(&c, "source"), *out = cfg_get(&c, "output");
    if (source && !strcmp(source, "pangu-models")) {
        status = fetch_models(&c, &sp, &leads);
        goto done;
    }
    if (!source || !cfg_get(&c, "time") || !out) {
        status = util_fail(UTIL_EINVAL, "usage: pangu fetch --source ecmwf-opendata|gfs|cds --time T[/T1/H] [--leads SPEC] "
                                        "[--url ROOT] --out DIR, or --source pangu-models [--leads 24,6] --out DIR "
                                        "(pangu fetch --help)");
        goto done;
    }
    if (!strcmp(source, "ecmwf-opendata")) sp.source = IO_FETCH_ECMWF_OPENDATA;
    else if (!strcmp(source, "gfs")) sp.source = IO_FETCH_GFS;
    else if (!strcmp(source, "cds")) sp.source = IO_FETCH_CDS;
    else {
        status = util_fail(UTIL_EINVAL, "--source '%s': expected ecmwf-opendata, gfs or cds (data), or pangu-models (the released models)",
                           source);
        goto done;
    }
    const char *format = cfg_get(&c, "format");
    if (strcmp(format, "netcdf") && strcmp(format, "grib")) {
        status = util_fail(UTIL_EINVAL, "--format '%s': expected netcdf or grib", format);
        goto done;
    }
    sp.grib = !strcmp(format, "grib");
    if ((status = parse_times(cfg_get(&c, "time"), &times, &ntimes))) goto done;
    if (cfg_get(&c, "leads") && (status = model_plan_parse_leads(cfg_get(&c, "leads"), &leads, &nleads))) goto done;
    /* typed keys: checked when set */
    sp.retries = (int)cfg_get_int(&c, "retries");
    sp.backoff = cfg_get_real(&c, "backoff"), sp.backoff_max = cfg_get_real(&c, "backoff_max");
    sp.timeout = cfg_get_real(&c, "timeout");
    sp.deadline = cfg_get_real(&c, "deadline"), sp.rate_limit = cfg_get_real(&c, "rate_limit");
    sp.url = cfg_get(&c, "url");
    if (!sp.url || !sp.url[0])
        sp.url = cfg_get(&c, sp.source == IO_FETCH_ECMWF_OPENDATA ? "ecmwf_opendata_url" : sp.source == IO_FETCH_GFS ? "gfs_url"
                                                                                                                 : "cds_url");
    sp.times = times, sp.ntimes = ntimes, sp.leads = leads, sp.nleads = nleads, sp.out = out;
    /* with its parents, as every output directory; removed again if the
     * fetch fails before anything is in it (cli/main.c) */
    if ((status = util_mkdirs(out)) != 0) goto done;
    status = io_fetch_run(&sp);
done:
    free(times), free(leads);
    cfg_free(&c);
    return status ? cli_error("fetch", status) : 0;
}
