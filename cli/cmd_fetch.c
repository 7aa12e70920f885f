/* pangu fetch: initial conditions (and IFS or GFS forecasts) from ECMWF
 * open data, NCEP GFS or the CDS as files every command reads (io/fetch.c). */
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
    {"fetch", "source", NULL, "ecmwf-opendata (IFS HRES 0.25 deg, GRIB2), gfs (NCEP GFS 0.25 deg, GRIB2) or cds (ERA5)"},
    {"fetch", "time", NULL, "analysis (initial) times: T, T0/T1/STEP_HOURS or a comma-separated list, e.g. 2026-12-01T00"},
    {"fetch", "leads", NULL, "forecast steps (hours) instead of the analysis, e.g. 0-240/6 (ecmwf-opendata, gfs)"},
    {"fetch", "output", NULL, "output directory (created if missing)", 0, 0, 0, "out"},
    {"fetch", "url", NULL, "root URL of the source (a mirror, or a test server); default: the [urls] entry, else the service"},
    {"fetch", "format", "netcdf", "cds: netcdf or grib"},
    {"fetch", "retries", "5", "attempts after the first on time-outs, cut transfers, 408, 429 and 5xx", CFG_INT, 0, 1000},
    {"fetch", "backoff", "1", "first wait in seconds before a retry (doubled each time) and between CDS polls (x1.5)", CFG_REAL,
     0, 3600},
    {"fetch", "backoff_max", "120", "longest wait in seconds", CFG_REAL, 0, 86400},
    {"fetch", "timeout", "60", "seconds without a byte before a transfer is abandoned (and retried)", CFG_REAL, 1, 86400},
    {"urls", "ecmwf_opendata_url", "https://data.ecmwf.int/forecasts", "root of ECMWF open data (or a mirror)"},
    {"urls", "gfs_url", "https://nomads.ncep.noaa.gov/pub/data/nccf/com/gfs/prod",
     "root of NCEP GFS (or a mirror, e.g. https://noaa-gfs-bdp-pds.s3.amazonaws.com)"},
    {"urls", "cds_url", NULL, "CDS API root; default CDSAPI_URL, the url of ~/.cdsapirc, else https://cds.climate.copernicus.eu/api"},
};

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
                   "--format grib); the CDS key as cdsapi reads it (CDSAPI_URL/CDSAPI_KEY, CDSAPI_RC or ~/.cdsapirc).\n");
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
    if (!source || !cfg_get(&c, "time") || !out) {
        status = util_fail(UTIL_EINVAL, "usage: pangu fetch --source ecmwf-opendata|gfs|cds --time T[/T1/H] [--leads SPEC] "
                                        "[--url ROOT] --out DIR (pangu fetch --help)");
        goto done;
    }
    if (!strcmp(source, "ecmwf-opendata")) sp.source = IO_FETCH_ECMWF_OPENDATA;
    else if (!strcmp(source, "gfs")) sp.source = IO_FETCH_GFS;
    else if (!strcmp(source, "cds")) sp.source = IO_FETCH_CDS;
    else {
        status = util_fail(UTIL_EINVAL, "--source '%s': expected ecmwf-opendata, gfs or cds", source);
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
