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

static const cfg_key stats_keys[] = {
    {"stats", "input", NULL, "the series: files or globs, several per option and the option repeated", CFG_MULTI},
    {"stats", "output", NULL, "the statistics file (NetCDF; pangu init --stats reads it)"},
    {"stats", "start", NULL, "first time used (YYYY-MM-DDTHH; default: the series' first)"},
    {"stats", "end", NULL, "last time used (default: the series' last)"},
    {"stats", "every", NULL, "hours between the times used, a multiple of the data's time step (default: every time)",
     CFG_REAL, 1e-3, 1e6},
    {"stats", "climatology_hours", "0", "also a day-of-year climatology every this many hours of the day (0: none; "
                                        "a divisor of 24)", CFG_INT, 0, 24},
    {"stats", "smoothing", "61", "days of the climatology's running smoothing window (odd)", CFG_INT, 1, 365},
};

/* "A.nc" or "A.nc and 3 other files": the inputs, for a message */
static void name_files(const glob_t *g, char *out, size_t cap) {
    if (g->gl_pathc > 1) snprintf(out, cap, "%s and %zu other file%s", g->gl_pathv[0], g->gl_pathc - 1, g->gl_pathc > 2 ? "s" : "");
    else snprintf(out, cap, "%s", g->gl_pathc ? g->gl_pathv[0] : "(none)");
}

static long long gcd(long long a, long long b) {
    while (b) {
        long long r = a % b;
        a = b, b = r;
    }
    return a;
}

/* The data's time step in [t0, t1], in seconds: the greatest common divisor
 * of the gaps between its times (a missing time does not change it); 0 with
 * fewer than two times. */
static long long series_step(const io_series *s, double t0, double t1) {
    long long step = 0;
    double prev = NAN;
    for (size_t i = 0; i < io_series_ntimes(s); i++) {
        double t = io_series_time(s, i);
        if (t < t0 || t > t1) continue;
        if (!isnan(prev) && t > prev) step = gcd(step, llround(t - prev));
        prev = t;
    }
    return step;
}

/* The times used: those in [t0, t1] at least `every` seconds apart (0: all). */
static size_t select_times(const io_series *s, double t0, double t1, double every, double *out) {
    size_t n = 0;
    double last = -INFINITY;
    for (size_t i = 0; i < io_series_ntimes(s); i++) {
        double t = io_series_time(s, i);
        if (t < t0 || t > t1 || t < last + every - 0.5) continue;
        out[n++] = last = t;
    }
    return n;
}

/* Statistics over time need two times or more, and --every a whole number of the data's steps. */
static int check_times(const io_series *s, const glob_t *g, double t0, double t1, double every_h, size_t nused) {
    char files[512];
    name_files(g, files, sizeof files);
    long long step = series_step(s, t0, t1);
    if (every_h > 0 && step > 0) {
        double every = every_h * 3600, k = round(every / (double)step);
        if (k < 1 || fabs(every - k * (double)step) > 0.5)
            return util_fail(UTIL_EINVAL, "--every %g: not a multiple of the time step of %s (%g h)", every_h, files, step / 3600.0);
    }
    char found[64] = "none, a single time";
    if (step > 0) snprintf(found, sizeof found, "%g h", step / 3600.0);
    if (nused < 2)
        return util_fail(UTIL_EINVAL, "%s: %zu time%s used%s, statistics over time need at least two (time step found: %s)",
                         files, nused, nused == 1 ? "" : "s", every_h > 0 ? " at that --every" : " in the period", found);
    return UTIL_OK;
}

int cli_stats(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, stats_keys, argc, argv, "stats", "--input FILES [--input ...] --output S.nc",
                      "Normalisation statistics (mean and std per variable and level) and a day-of-year climatology.");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"input", "output"};
    if (cli_require(&opt, "stats", need, 2)) return 2;
    const char *output = cfg_get(&opt, "output"), *start_s = cfg_get(&opt, "start"), *end_s = cfg_get(&opt, "end");
    int clim_hours = (int)cfg_get_int(&opt, "climatology_hours"), smoothing = (int)cfg_get_int(&opt, "smoothing");
    double every = cfg_get_real(&opt, "every");
    glob_t g;
    int status = cli_expand(&opt, "input", &g);
    if (!status && clim_hours && 24 % clim_hours)
        status = util_fail(UTIL_EINVAL, "--climatology-hours %d: expected a divisor of 24 (or 0 for none)", clim_hours);
    if (!status && smoothing % 2 == 0) status = util_fail(UTIL_EINVAL, "--smoothing %d: expected an odd number of days", smoothing);
    if (!status) status = util_check_output(output, (const char *const *)g.gl_pathv, (int)g.gl_pathc);
    if (status) {
        globfree(&g);
        return cli_error("stats", status);
    }
    io_series *s = NULL;
    data_stats st = {0};
    io_state x = {0};
    double t0 = -INFINITY, t1 = INFINITY, *times = NULL;
    if ((start_s && (status = util_time_parse(start_s, &t0))) || (end_s && (status = util_time_parse(end_s, &t1))) ||
        (status = io_series_open(&s, (const char *const *)g.gl_pathv, (int)g.gl_pathc)))
        goto done;
    int H, W, nlev;
    float levels[IO_MAX_LEVELS];
    if ((status = io_series_describe(s, &H, &W, levels, &nlev))) goto done;
    if (nlev == 0) {
        status = util_fail(UTIL_EFORMAT, "%s: no pressure levels found", g.gl_pathv[0]);
        goto done;
    }
    if (!(times = malloc(sizeof(double) * (io_series_ntimes(s) + 1)))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    size_t n = select_times(s, t0, t1, every * 3600, times), used = 0;
    if (!n) {
        status = util_fail(UTIL_EINVAL, "no times of the inputs fall in the requested period");
        goto done;
    }
    if ((status = check_times(s, &g, t0, t1, every, n)) || (status = data_stats_init(&st, H, W, levels, nlev, clim_hours)))
        goto done;
    double tstart = util_now();
    util_progress prog;
    util_progress_init(&prog, fileno(stderr), 10);
    for (size_t i = 0; i < n; i++) {
        if ((status = io_series_read(s, times[i], H, W, levels, nlev, &x)) ||
            (status = io_state_check_finite(&x, g.gl_pathv[0])) || (status = io_state_check_plausible(&x, NULL, NULL, NULL, NULL)))
            goto done;
        data_stats_add(&st, x.upper, x.surface, times[i]);
        io_state_free(&x);
        used++;
        if ((!prog.tty || used % 50 == 0 || used == n) && util_progress_due(&prog, used == n)) {
            double el = util_now() - tstart;
            fprintf(stderr, "%spangu stats: %zu of %zu times, %.1f per s, ETA %.0f s%s", util_progress_start(&prog), used, n,
                    used / el, (n - used) / (used / el), util_progress_end(&prog));
        }
    }
    char source[256];
    snprintf(source, sizeof source, "pangu stats over %zu times of %zu input files", used, (size_t)g.gl_pathc);
    if ((status = data_stats_write(&st, output, clim_hours ? smoothing : 0, source))) goto done;
    fprintf(stderr, "%spangu stats: wrote %s (%zu times, %d x %d, %d levels)\n", prog.tty ? "\n" : "", output, used, H, W, nlev);
done:
    free(times);
    io_state_free(&x);
    data_stats_free(&st);
    io_series_close(s);
    globfree(&g);
    return status ? cli_error("stats", status) : 0;
}
