/* pangu stats: normalisation statistics and climatology over a period. */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/data.h"
#include "../io/io.h"
#include "../util/util.h"
#include "cli.h"

int cli_stats(int argc, char **argv) {
    const char *output = NULL, *start_s = NULL, *end_s = NULL;
    int clim_hours = 0, smoothing = 61, status = UTIL_OK, npaths = 0;
    double every = 1;
    glob_t g = {0};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "pangu stats: option %s needs a value\n", a), 2;
        if (!strcmp(a, "--input")) {
            if (glob(v, (npaths++ ? GLOB_APPEND : 0) | GLOB_NOCHECK, NULL, &g) != 0)
                return fprintf(stderr, "pangu stats: cannot expand '%s'\n", v), 2;
        } else if (!strcmp(a, "--output")) output = v;
        else if (!strcmp(a, "--start")) start_s = v;
        else if (!strcmp(a, "--end")) end_s = v;
        else if (!strcmp(a, "--every")) every = strtod(v, NULL);
        else if (!strcmp(a, "--climatology-hours")) clim_hours = atoi(v);
        else if (!strcmp(a, "--smoothing")) smoothing = atoi(v);
        else return fprintf(stderr, "pangu stats: unknown option '%s'\n", a), 2;
    }
    if (!npaths || !output) {
        if (npaths) globfree(&g);
        return fprintf(stderr, "usage: pangu stats --input FILES [--input ...] [--start T] [--end T] [--every HOURS]\n"
                               "       [--climatology-hours 6] [--smoothing 61] --output STATS.nc\n"),
               2;
    }
    io_series *s = NULL;
    data_stats st = {0};
    io_state x = {0};
    double t0 = -INFINITY, t1 = INFINITY;
    if ((start_s && (status = util_time_parse(start_s, &t0))) || (end_s && (status = util_time_parse(end_s, &t1))) ||
        (status = io_series_open(&s, (const char *const *)g.gl_pathv, (int)g.gl_pathc)))
        goto done;
    if (!(every > 0)) {
        status = util_fail(UTIL_EINVAL, "--every %g: expected a positive number of hours", every);
        goto done;
    }
    int H, W, nlev;
    float levels[IO_MAX_LEVELS];
    if ((status = io_series_describe(s, &H, &W, levels, &nlev))) goto done;
    if (nlev == 0) {
        status = util_fail(UTIL_EFORMAT, "%s: no pressure levels found", g.gl_pathv[0]);
        goto done;
    }
    if ((status = data_stats_init(&st, H, W, levels, nlev, clim_hours))) goto done;
    size_t n = io_series_ntimes(s), used = 0, todo = 0;
    double last = -INFINITY, tstart = util_now();
    for (size_t i = 0; i < n; i++) {
        double t = io_series_time(s, i);
        if (t >= t0 && t <= t1) todo++;
    }
    for (size_t i = 0; i < n; i++) {
        double t = io_series_time(s, i);
        if (t < t0 || t > t1 || t < last + every * 3600 - 0.5) continue;
        last = t;
        if ((status = io_series_read(s, t, H, W, levels, nlev, &x)) || (status = io_state_check_finite(&x, g.gl_pathv[0])) ||
            (status = io_state_check_plausible(&x, NULL, NULL, NULL, NULL)))
            goto done;
        data_stats_add(&st, x.upper, x.surface, t);
        io_state_free(&x);
        used++;
        if (used % 50 == 0) {
            double el = util_now() - tstart;
            fprintf(stderr, "\rpangu stats: %zu times, %.1f per s, ETA %.0f s   ", used, used / el,
                    (todo / every - used) / (used / el));
        }
    }
    if (!used) {
        status = util_fail(UTIL_EINVAL, "no times of the inputs fall in the requested period");
        goto done;
    }
    char source[256];
    snprintf(source, sizeof source, "pangu stats over %zu times of %zu input files", used, (size_t)g.gl_pathc);
    if ((status = data_stats_write(&st, output, clim_hours ? smoothing : 0, source))) goto done;
    fprintf(stderr, "\npangu stats: wrote %s (%zu times, %d x %d, %d levels)\n", output, used, H, W, nlev);
done:
    io_state_free(&x);
    data_stats_free(&st);
    io_series_close(s);
    globfree(&g);
    return status ? cli_error("stats", status) : 0;
}
