/* pangu synth: write a synthetic reanalysis in ERA5 layouts, or synthetic
 * numerical forecasts of it (--forecast-from) as a baseline for pangu eval. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "../data/synth.h"
#include "../util/util.h"
#include "cli.h"

/* Laid out for help2man (the Makefile's man target): the "Usage:" and "or:"
 * lines make the SYNOPSIS, the summary the DESCRIPTION. */
static const char *const synopsis =
    "[--grid H,W] [--start T] [--hours N] [--step-hours K] [--format legacy|cds2024] [--levels LIST] [--noise X] "
    "[--seed S] --output DIR\n"
    "  or: pangu synth --forecast-from T|T0/T1/H [--hours N] [--step-hours K] [--grid H,W] [--format F] [--levels LIST] "
    "--output DIR";
static const char *const summary =
    "A SYNTHETIC reanalysis in ERA5 layouts: DIR/era5_pl_YYYYMM.nc, DIR/era5_sfc_YYYYMM.nc and DIR/invariant.nc,\n"
    "every file with the global attribute synthetic = \"yes\". With --forecast-from, instead, SYNTHETIC numerical\n"
    "weather prediction forecasts from initial time T, or from T0 to T1 every H hours: the truth's state at T\n"
    "evolved by the same dynamics with model error (wave phase speeds a few percent off, waves damped, a\n"
    "temperature drift growing with lead). One file per initial time, DIR/nwp_YYYYMMDDHH.nc, with the\n"
    "pressure-level and surface variables at leads 0..N every K hours, a scalar forecast_reference_time and an\n"
    "init_time attribute: use it as\n"
    "pangu eval ... --baseline nwp=DIR/nwp_2020020100.nc,DIR/nwp_2020020300.nc";

/* "T" or "T0/T1/H" (as pangu forecast --init) into initial times. */
static int parse_inits(const char *spec, double *out, int cap, int *n) {
    char a[64], b[64];
    double t0, t1, step = 0;
    const char *s1 = strchr(spec, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    int status;
    *n = 0;
    if (!s1) {
        if ((status = util_time_parse(spec, &t0))) return status;
        out[(*n)++] = t0;
        return UTIL_OK;
    }
    if (!s2 || s1 - spec >= (long)sizeof a || s2 - s1 - 1 >= (long)sizeof b)
        return util_fail(UTIL_EINVAL, "--forecast-from '%s': expected T or START/END/STEP_HOURS", spec);
    snprintf(a, sizeof a, "%.*s", (int)(s1 - spec), spec);
    snprintf(b, sizeof b, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    char *end;
    step = strtod(s2 + 1, &end) * 3600;
    if ((status = util_time_parse(a, &t0)) || (status = util_time_parse(b, &t1))) return status;
    if (*end || !(step > 0) || t1 < t0)
        return util_fail(UTIL_EINVAL, "--forecast-from '%s': needs END >= START and STEP > 0 hours", spec);
    for (double t = t0; t <= t1 + 1e-6; t += step) {
        if (*n == cap) return util_fail(UTIL_EINVAL, "--forecast-from '%s': more than %d initial times", spec, cap);
        out[(*n)++] = t;
    }
    return UTIL_OK;
}

static const cfg_key synth_keys[] = {
    {"synth", "output", NULL, "the directory to write (created when missing)", 0, 0, 0, "out"},
    {"synth", "grid", "32,64", "H,W: latitudes 90..-90 and longitudes from 0"},
    {"synth", "start", "2019-01-01T00", "the first time"},
    {"synth", "hours", NULL, "hours after the first time (default 24; with --forecast-from the forecast length, 168)",
     CFG_INT, 1, 1000000},
    {"synth", "step_hours", NULL, "hours between times (default 1; with --forecast-from 6)", CFG_INT, 1, 100000},
    {"synth", "format", "legacy", "legacy (NetCDF-3, packed shorts, hours since 1900) or cds2024 (NetCDF-4, valid_time, "
                                  "compressed floats)"},
    {"synth", "levels", NULL, "pressure levels in hPa, comma-separated, each once (default the 13 of Pangu-Weather)"},
    {"synth", "noise", "0", "std of seeded white noise on the surface fields", CFG_REAL, 0, 1e6},
    {"synth", "seed", "0", "seed of the noise", CFG_INT, 0, 9007199254740992.0},
    {"synth", "forecast_from", NULL, "instead, SYNTHETIC numerical forecasts from initial time T or T0/T1/H (every H hours), "
                                     "one file per initial time, DIR/nwp_YYYYMMDDHH.nc"},
};

int cli_synth(int argc, char **argv) {
    synth_spec s = {.H = 32, .W = 64, .nlev = 13, .levels = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50}};
    cfg opt;
    int rc = CLI_ARGS(&opt, synth_keys, argc, argv, "synth", synopsis, summary);
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"output"};
    if (cli_require(&opt, "synth", need, 1)) return 2;
    const char *format = cfg_get(&opt, "format"), *out = cfg_get(&opt, "output"), *start_s = cfg_get(&opt, "start");
    const char *from = cfg_get(&opt, "forecast_from");
    long hours = cfg_get(&opt, "hours") ? (long)cfg_get_int(&opt, "hours") : -1;
    int step = cfg_get(&opt, "step_hours") ? (int)cfg_get_int(&opt, "step_hours") : -1, status;
    int g[2];
    if (cli_parse_ints(cfg_get(&opt, "grid"), g, 2) || g[0] < 2 || g[1] < 4)
        return fprintf(stderr, "pangu synth: --grid '%s': expected H,W (at least 2,4)\n", cfg_get(&opt, "grid")), 2;
    s.H = g[0], s.W = g[1];
    s.seed = (unsigned long long)cfg_get_int(&opt, "seed");
    s.noise = cfg_get_real(&opt, "noise");
    if (strcmp(format, "legacy") && strcmp(format, "cds2024"))
        return fprintf(stderr, "pangu synth: --format '%s': expected legacy or cds2024\n", format), 2;
    if (cfg_get(&opt, "levels")) {
        const char *v = cfg_get(&opt, "levels");
        s.nlev = 0;
        for (const char *p = v; *p;) {
            char *end;
            double x = strtod(p, &end);
            if (end == p || !(x > 0) || !isfinite(x) || s.nlev == 64 || (*end && (*end != ',' || !end[1])))
                return fprintf(stderr, "pangu synth: --levels '%s': expected 1 to 64 pressures in hPa, comma-separated\n", v), 2;
            for (int k = 0; k < s.nlev; k++)
                if (s.levels[k] == (float)x) return fprintf(stderr, "pangu synth: --levels '%s': %g hPa twice\n", v, x), 2;
            s.levels[s.nlev++] = (float)x;
            p = *end ? end + 1 : end;
        }
        if (!s.nlev) return fprintf(stderr, "pangu synth: --levels '': expected 1 to 64 pressures in hPa\n"), 2;
    }
    if ((status = util_mkdirs(out))) return cli_error("synth", status);
    if (hours < 0) hours = from ? 168 : 24;
    if (step < 0) step = from ? 6 : 1;
    if (from) {
        double inits[1024];
        int n;
        if ((status = parse_inits(from, inits, 1024, &n))) return cli_error("synth", status);
        for (int k = 0; k < n; k++) {
            char when[64];
            if ((status = synth_write_forecast(&s, out, format, inits[k], hours, step))) return cli_error("synth", status);
            util_time_format(inits[k], when, sizeof when);
            fprintf(stderr, "pangu synth: wrote the forecast from %s (%d x %d, %d levels, %ld hours every %d h, %s format; "
                            "SYNTHETIC data)\n", when, s.H, s.W, s.nlev, hours, step, format);
        }
        return 0;
    }
    double start;
    if ((status = util_time_parse(start_s, &start)) || (status = synth_write(&s, out, format, start, hours, step)))
        return cli_error("synth", status);
    fprintf(stderr, "pangu synth: wrote %s (%d x %d, %d levels, %ld hours every %d h, %s format; SYNTHETIC data)\n", out,
            s.H, s.W, s.nlev, hours, step, format);
    return 0;
}
