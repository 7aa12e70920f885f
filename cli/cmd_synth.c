/* pangu synth: write a synthetic reanalysis in ERA5 layouts, or synthetic
 * numerical forecasts of it (--forecast-from) as a baseline for pangu eval. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/synth.h"
#include "../util/util.h"
#include "cli.h"

static const char *const usage_text =
    "usage: pangu synth [--grid H,W] [--start T] [--hours N] [--step-hours K] [--format legacy|cds2024]\n"
    "                   [--levels p1,p2,...] [--noise X] [--seed S] --out DIR\n"
    "       pangu synth --forecast-from T|T0/T1/H [--hours N] [--step-hours K] [--grid H,W] [--format ...]\n"
    "                   [--levels ...] --out DIR\n"
    "  A SYNTHETIC reanalysis in ERA5 layouts: DIR/era5_pl_YYYYMM.nc, DIR/era5_sfc_YYYYMM.nc and\n"
    "  DIR/invariant.nc, every file with the global attribute synthetic = \"yes\".\n"
    "  --grid H,W         latitudes 90..-90 and longitudes from 0 (default 32,64)\n"
    "  --start T          first time, e.g. 2019-01-01T00 (default 2019-01-01T00)\n"
    "  --hours N          hours after the first time (default 24; with --forecast-from the forecast length,\n"
    "                     default 168)\n"
    "  --step-hours K     hours between times (default 1; with --forecast-from 6)\n"
    "  --format F         legacy (NetCDF-3, packed shorts, hours since 1900; the default) or cds2024\n"
    "                     (NetCDF-4, valid_time, compressed floats)\n"
    "  --levels LIST      pressure levels in hPa (default the 13 of Pangu-Weather)\n"
    "  --noise X, --seed S  seeded white noise on the surface fields (default none)\n"
    "  --forecast-from T  instead, SYNTHETIC numerical weather prediction forecasts from initial time T, or\n"
    "                     from T0 to T1 every H hours: the truth's state at T evolved by the same dynamics\n"
    "                     with model error (wave phase speeds a few percent off, waves damped, a temperature\n"
    "                     drift growing with lead). One file per initial time, DIR/nwp_YYYYMMDDHH.nc, with\n"
    "                     the pressure-level and surface variables at leads 0..N every K hours, a scalar\n"
    "                     forecast_reference_time and an init_time attribute: use it as\n"
    "                     pangu eval ... --baseline nwp=DIR/nwp_2020020100.nc,DIR/nwp_2020020300.nc\n";

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

int cli_synth(int argc, char **argv) {
    synth_spec s = {.H = 32, .W = 64, .nlev = 13, .levels = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50}};
    const char *format = "legacy", *out = NULL, *start_s = "2019-01-01T00", *from = NULL;
    long hours = -1;
    int step = -1, status;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return fputs(usage_text, stdout), 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v) return fprintf(stderr, "pangu synth: option %s needs a value\n", a), 2;
        if (!strcmp(a, "--grid")) {
            int g[2];
            bad = cli_parse_ints(v, g, 2) || g[0] < 2 || g[1] < 4;
            s.H = g[0], s.W = g[1];
        } else if (!strcmp(a, "--start")) start_s = v;
        else if (!strcmp(a, "--forecast-from")) from = v;
        else if (!strcmp(a, "--hours")) bad = (hours = atol(v)) < 1;
        else if (!strcmp(a, "--step-hours")) bad = (step = atoi(v)) < 1;
        else if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--seed")) s.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--noise")) bad = (s.noise = strtod(v, NULL)) < 0;
        else if (!strcmp(a, "--levels")) {
            s.nlev = 0;
            for (char *p = (char *)v; *p && s.nlev < 64;) {
                char *end;
                double x = strtod(p, &end);
                if (end == p || !(x > 0)) {
                    bad = 1;
                    break;
                }
                s.levels[s.nlev++] = (float)x;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') bad = 1;
                if (bad || !*end) break;
            }
        } else return fprintf(stderr, "pangu synth: unknown option '%s' (pangu synth --help)\n", a), 2;
        if (bad) return fprintf(stderr, "pangu synth: %s '%s' is not valid\n", a, v), 2;
    }
    if (!out) return fputs(usage_text, stderr), 2;
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
