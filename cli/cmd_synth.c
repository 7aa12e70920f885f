/* pangu synth: write a synthetic reanalysis in ERA5 layouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/synth.h"
#include "../util/util.h"
#include "cli.h"

int cli_synth(int argc, char **argv) {
    synth_spec s = {.H = 32, .W = 64, .nlev = 13, .levels = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50}};
    const char *format = "legacy", *out = NULL, *start_s = "2019-01-01T00";
    long hours = 24;
    int step = 1, status;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v) return fprintf(stderr, "pangu synth: option %s needs a value\n", a), 2;
        if (!strcmp(a, "--grid")) {
            int g[2];
            bad = cli_parse_ints(v, g, 2) || g[0] < 2 || g[1] < 4;
            s.H = g[0], s.W = g[1];
        } else if (!strcmp(a, "--start")) start_s = v;
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
        } else return fprintf(stderr, "pangu synth: unknown option '%s'\n", a), 2;
        if (bad) return fprintf(stderr, "pangu synth: %s '%s' is not valid\n", a, v), 2;
    }
    if (!out)
        return fprintf(stderr, "usage: pangu synth [--grid H,W] [--start T] [--hours N] [--step-hours K] "
                               "[--format legacy|cds2024] [--levels ...] [--noise X] [--seed S] --out DIR\n"),
               2;
    double start;
    if ((status = util_time_parse(start_s, &start)) || (status = synth_write(&s, out, format, start, hours, step)))
        return cli_error("synth", status);
    fprintf(stderr, "pangu synth: wrote %s (%d x %d, %d levels, %ld hours every %d h, %s format; SYNTHETIC data)\n", out,
            s.H, s.W, s.nlev, hours, step, format);
    return 0;
}
