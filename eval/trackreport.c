/* The report of pangu eval --tracks: the errors by lead per source (gnuplot
 * figures and a table) and a map of each storm's best track with the
 * sources' tracks from a few initial times, over coastlines; report.md and
 * report.html in DIR as eval's report (eval/report.c), written into a
 * temporary directory and moved into place when complete. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "coast.h"
#include "report_gnuplot.h"
#include "trackeval.h"

#define MAX_SOURCES 64 /* as the scoring */
#define MAP_INITS 3 /* initial times drawn per storm */

static const struct {
    const char *file, *title, *ylabel;
    size_t offset;
} curves[] = {
    {"dpe_mean", "Mean direct position error", "km", offsetof(trackeval_score, dpe_mean_km)},
    {"dpe_median", "Median direct position error", "km", offsetof(trackeval_score, dpe_median_km)},
    {"along_track", "Mean along-track error (+ ahead)", "km", offsetof(trackeval_score, along_mean_km)},
    {"cross_track", "Mean cross-track error (+ right NH, left SH)", "km", offsetof(trackeval_score, cross_mean_km)},
    {"msl_error", "Mean central pressure error", "hPa", offsetof(trackeval_score, msl_error_mean_hpa)},
    {"wind_error", "Mean maximum wind error", "m/s", offsetof(trackeval_score, wind_error_mean_ms)},
};
#define NCURVES (int)(sizeof curves / sizeof curves[0])

typedef struct {
    const trackeval_report_spec *sp;
    char dir[4200], path[4400];
    const char *src[MAX_SOURCES];
    int ns, gnuplot, figures;
    FILE *gp, *md, *html;
    char src_file[MAX_SOURCES][128]; /* the sources' names in file names, unique */
    char (*storms)[32]; /* storms with a scored row */
    char (*storm_file)[64]; /* their names in file names, unique */
    int curve_empty[NCURVES]; /* no source has a value of this error: no figure */
    int coast_missing;
    char coast_message[512];
    int nstorms;
} report;

static double value_of(const trackeval_score *s, int c) { return *(const double *)((const char *)s + curves[c].offset); }

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* A name usable in a file name: letters, digits, '-', '.', the rest '_'. */
static void file_name(char *out, size_t cap, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) {
        char c = s[i];
        out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ? c : '_';
    }
    out[i] = 0;
}

/* Names made unique by the index where file_name maps two to one
 * ("x y" and "x_y"): file_name never writes '+'. */
static void unique_names(char *names, size_t width, int n) {
    for (int i = 0; i < n; i++) {
        char *a = names + (size_t)i * width;
        for (int j = 0; j < i; j++)
            if (!strcmp(a, names + (size_t)j * width)) {
                size_t len = strlen(a), room = width > 12 ? width - 12 : 0;
                snprintf(a + (len < room ? len : room), 12, "+%d", i);
                break;
            }
    }
}

static int closed(FILE *f, const char *what, const report *r) {
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? util_fail(UTIL_EIO, "%s: cannot write %s (disk full?)", r->sp->dir, what) : UTIL_OK;
}

/* ---- errors by lead */

/* data/errors_SOURCE.dat: a line per lead, the columns of the scores CSV. */
static int write_error_data(report *r, int k) {
    snprintf(r->path, sizeof r->path, "%s/data/errors_%s.dat", r->dir, r->src_file[k]);
    FILE *f = fopen(r->path, "w");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot write the figure data (%s)", r->sp->dir, strerror(errno));
    fprintf(f, "# lead_hours n dpe_mean dpe_median along_track cross_track msl_error wind_error (%s)\n", r->src[k]);
    for (int i = 0; i < r->sp->nscores; i++) {
        const trackeval_score *s = &r->sp->scores[i];
        if (strcmp(s->source, r->src[k]) || !s->n) continue;
        fprintf(f, "%g %d", s->lead_hours, s->n);
        for (int c = 0; c < NCURVES; c++) fprintf(f, " %.9g", value_of(s, c));
        fputc('\n', f);
    }
    return closed(f, "the figure data", r);
}

/* No value of error c at any lead (tracks without wind or pressure): gnuplot
 * cannot draw such a figure ("x range is invalid"). */
static int curve_has_data(const report *r, int c) {
    for (int i = 0; i < r->sp->nscores; i++)
        if (r->sp->scores[i].n && isfinite(value_of(&r->sp->scores[i], c))) return 1;
    return 0;
}

/* One figure per error with data: a line per source against lead. */
static void plot_curves(report *r) {
    fprintf(r->gp, "set terminal png size 800,520 noenhanced\nset grid\nset key top left\nset xlabel 'lead time (h)'\n"
                   "set datafile missing 'nan'\n");
    for (int c = 0; c < NCURVES; c++) {
        if ((r->curve_empty[c] = !curve_has_data(r, c))) continue;
        fprintf(r->gp, "set output '%s.png'\nset title '%s'\nset ylabel '%s'\nplot ", curves[c].file, curves[c].title,
                curves[c].ylabel);
        for (int k = 0; k < r->ns; k++)
            fprintf(r->gp, "%s'data/errors_%s.dat' using 1:%d with linespoints lw 2 title '%s'", k ? ", " : "", r->src_file[k],
                    c + 3, r->src_file[k]);
        fputc('\n', r->gp);
    }
}

/* ---- maps */

/* Longitude within 180 degrees of ref: tracks across the date line stay continuous. */
static double near_lon(double lon, double ref) {
    while (lon - ref > 180) lon -= 360;
    while (lon - ref < -180) lon += 360;
    return lon;
}

typedef struct {
    double lon0, lon1, lat0, lat1, ref;
} box;

static void grow(box *b, double lat, double lon) {
    lon = near_lon(lon, b->ref);
    b->lon0 = fmin(b->lon0, lon), b->lon1 = fmax(b->lon1, lon);
    b->lat0 = fmin(b->lat0, lat), b->lat1 = fmax(b->lat1, lat);
}

/* Up to MAP_INITS initial times of storm sid that every source tracked in
 * the sample, spread over the storm's life (first, middle, last). */
static int choose_inits(const report *r, const char *sid, double *inits) {
    const trackeval_rows *rows = r->sp->rows;
    double all[512];
    int n = 0;
    for (int i = 0; i < rows->n && n < 512; i++) {
        const trackeval_row *w = &rows->rows[i];
        if (strcmp(w->sid, sid) || !w->in_sample || strcmp(w->source, r->src[0])) continue;
        int seen = 0;
        for (int q = 0; q < n && !seen; q++) seen = all[q] == w->init;
        if (!seen) all[n++] = w->init;
    }
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && all[b - 1] > all[b]; b--) {
            double t = all[b];
            all[b] = all[b - 1], all[b - 1] = t;
        }
    int m = n < MAP_INITS ? n : MAP_INITS;
    for (int q = 0; q < m; q++) inits[q] = all[m == 1 ? 0 : (int)((double)q * (n - 1) / (m - 1) + 0.5)];
    return m;
}

/* data/track_SID_SOURCE_INIT.dat: a source's track from one initial time. */
static int write_forecast_track(report *r, int q, int k, double init, box *b, char *out, size_t cap) {
    const char *sid = r->storms[q];
    int hour = (int)fmod(init / 3600, 1e6);
    snprintf(out, cap, "data/track_%s_%s_%d.dat", r->storm_file[q], r->src_file[k], hour);
    snprintf(r->path, sizeof r->path, "%s/%s", r->dir, out);
    FILE *f = fopen(r->path, "w");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot write the map data (%s)", r->sp->dir, strerror(errno));
    const trackeval_rows *rows = r->sp->rows;
    for (int i = 0; i < rows->n; i++) { /* (rows of one source, storm and init are in lead order in tracks.csv) */
        const trackeval_row *w = &rows->rows[i];
        if (strcmp(w->sid, sid) || strcmp(w->source, r->src[k]) || w->init != init) continue;
        fprintf(f, "%.4f %.4f %g\n", near_lon(w->lon, b->ref), w->lat, w->lead_hours);
        grow(b, w->lat, w->lon);
    }
    return closed(f, "the map data", r);
}

/* data/best_SID.dat: the whole best track. */
static int write_best_track(report *r, int q, box *b) {
    double *lat = NULL, *lon = NULL, *time = NULL;
    int n = 0, status = r->sp->best(r->sp->best_ctx, r->storms[q], &lat, &lon, &time, &n);
    snprintf(r->path, sizeof r->path, "%s/data/best_%s.dat", r->dir, r->storm_file[q]);
    FILE *f = status ? NULL : fopen(r->path, "w");
    if (!status && !f) status = util_fail(UTIL_EIO, "%s: cannot write the map data (%s)", r->sp->dir, strerror(errno));
    if (f) {
        b->ref = n ? lon[0] : 0;
        for (int i = 0; i < n; i++) {
            grow(b, lat[i], lon[i]);
            fprintf(f, "%.4f %.4f\n", near_lon(lon[i], b->ref), lat[i]);
        }
        status = closed(f, "the map data", r);
    }
    free(lat), free(lon), free(time);
    return status;
}

/* data/coast_SID.dat: the coastlines in the map's box and longitudes (eval/coast.c); without them
 * (no libplplot-data) the maps are drawn bare and the report says why. */
static int write_coast(report *r, const char *sname, const box *b) {
    if (r->coast_missing) return 0;
    coast_lines c;
    int status = coast_load(&c, NULL, b->lat0, b->lat1, b->lon0, fmin(b->lon1, b->lon0 + 360));
    if (status) {
        snprintf(r->coast_message, sizeof r->coast_message, "%s", util_last_message());
        r->coast_missing = 1;
        coast_free(&c);
        return 0;
    }
    int any = c.n > 0; /* (open ocean: no line to draw) */
    snprintf(r->path, sizeof r->path, "%s/data/coast_%s.dat", r->dir, sname);
    if (any) status = coast_write_gnuplot(&c, r->path);
    coast_free(&c);
    return status ? -1 : any;
}

/* The map of one storm: coastlines, the best track, each source's tracks from the chosen initial times. */
static int plot_storm(report *r, int storm) {
    const char *sid = r->storms[storm], *sname = r->storm_file[storm];
    static const char *const colours[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    box b = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0};
    double inits[MAP_INITS];
    char tracks[MAX_SOURCES * MAP_INITS][256];
    int ni = choose_inits(r, sid, inits), status = write_best_track(r, storm, &b);
    for (int k = 0; k < r->ns && !status; k++)
        for (int q = 0; q < ni && !status; q++)
            status = write_forecast_track(r, storm, k, inits[q], &b, tracks[k * ni + q], sizeof tracks[0]);
    if (status || !isfinite(b.lon0)) return status;
    /* at least 24 by 16 degrees round the tracks: enough coast to place them */
    double pad_lon = fmax(4, (24 - (b.lon1 - b.lon0)) / 2), pad_lat = fmax(4, (16 - (b.lat1 - b.lat0)) / 2);
    b.lon0 -= pad_lon, b.lon1 += pad_lon, b.lat0 = fmax(-90, b.lat0 - pad_lat), b.lat1 = fmin(90, b.lat1 + pad_lat);
    FILE *gp = r->gp;
    fprintf(gp, "set output 'map_%s.png'\nset title 'Storm %s: best track (black), tracks from %d initial time%s'\n", sname,
            sname, ni, ni == 1 ? "" : "s"); /* (sname: a title gnuplot cannot misread) */
    fprintf(gp, "set xrange [%.3f:%.3f]\nset yrange [%.3f:%.3f]\n", b.lon0, b.lon1, b.lat0, b.lat1);
    int coast = write_coast(r, sname, &b);
    if (coast < 0) return UTIL_EIO;
    fprintf(gp, "plot ");
    if (coast) fprintf(gp, "'data/coast_%s.dat' using 1:2 with lines lc rgb '#888888' notitle, ", sname);
    fprintf(gp, "'data/best_%s.dat' using 1:2 with linespoints lc rgb 'black' lw 2 pt 7 ps 0.5 title 'best track'", sname);
    for (int k = 0; k < r->ns; k++) {
        const char *name = r->src_file[k]; /* (a title gnuplot cannot misread) */
        for (int q = 0; q < ni; q++) {
            fprintf(gp, ", '%s' using 1:2 with linespoints lc rgb '%s' lw 1.5 pt %d ps 0.6", tracks[k * ni + q], colours[k % 6],
                    4 + q);
            if (q) fprintf(gp, " notitle");
            else fprintf(gp, " title '%s'", name);
        }
    }
    fputc('\n', gp);
    return UTIL_OK;
}

/* The storms with a case in the sample, in order of appearance. */
static int list_storms(report *r) {
    const trackeval_rows *rows = r->sp->rows;
    r->storms = malloc(sizeof *r->storms * (size_t)(rows->n + 1));
    r->storm_file = malloc(sizeof *r->storm_file * (size_t)(rows->n + 1));
    if (!r->storms || !r->storm_file) return util_fail(UTIL_ENOMEM, "out of memory");
    for (int i = 0; i < rows->n; i++) {
        const trackeval_row *w = &rows->rows[i];
        int seen = !w->in_sample;
        for (int q = 0; q < r->nstorms && !seen; q++) seen = !strcmp(r->storms[q], w->sid);
        if (!seen) snprintf(r->storms[r->nstorms++], sizeof r->storms[0], "%s", w->sid);
    }
    for (int q = 0; q < r->nstorms; q++) file_name(r->storm_file[q], sizeof r->storm_file[0], r->storms[q]);
    unique_names(r->storm_file[0], sizeof r->storm_file[0], r->nstorms);
    return UTIL_OK;
}

/* The last non-blank line of gnuplot.log, "" when none. */
static void gnuplot_last_line(report *r, char *last, size_t cap) {
    char line[512];
    last[0] = 0;
    snprintf(r->path, sizeof r->path, "%s/gnuplot.log", r->dir);
    FILE *f = fopen(r->path, "r");
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n') snprintf(last, cap, "%s", line);
    if (f) fclose(f);
    last[strcspn(last, "\n")] = 0;
}

/* data/tracks.gp: the error curves, then a map per storm; run by gnuplot. */
static int draw_figures(report *r) {
    int status = UTIL_OK;
    if (!(r->gnuplot = report_have_gnuplot())) return UTIL_OK;
    snprintf(r->path, sizeof r->path, "%s/data/tracks.gp", r->dir);
    if (!(r->gp = fopen(r->path, "w"))) return util_fail(UTIL_EIO, "%s: cannot write", r->path);
    fprintf(r->gp, "# pangu eval --tracks figures: gnuplot data/tracks.gp (run inside the report directory)\n");
    for (int k = 0; k < r->ns && !status; k++) status = write_error_data(r, k);
    if (!status) plot_curves(r);
    if (!status && r->sp->best) {
        fprintf(r->gp, "set terminal png size 900,700 noenhanced\nset key outside right top\nset size ratio -1\n"
                       "set xlabel 'longitude (degrees east)'\nset ylabel 'latitude (degrees north)'\n");
        for (int q = 0; q < r->nstorms && !status; q++) status = plot_storm(r, q);
    }
    FILE *gp = r->gp;
    r->gp = NULL;
    int closing = closed(gp, "the gnuplot script", r);
    if (status || (status = closing)) return status;
    if ((r->figures = report_run_gnuplot(r->dir, "data/tracks.gp") == 0)) return UTIL_OK;
    char last[512];
    gnuplot_last_line(r, last, sizeof last); /* (the temporary directory goes with the failure) */
    return util_fail(UTIL_EIO, "%s: gnuplot failed drawing the figures%s%s", r->sp->dir, last[0] ? ": " : "", last);
}

/* The table: a row per source and lead (every 24 h when the leads include such). */
static void write_table(report *r) {
    const trackeval_report_spec *sp = r->sp;
    int daily = 0, nleads = 0; /* many leads: the daily ones */
    for (int i = 0; i < sp->nscores; i++) {
        daily |= sp->scores[i].lead_hours > 0 && fmod(sp->scores[i].lead_hours, 24) == 0;
        nleads += !strcmp(sp->scores[i].source, sp->scores[0].source);
    }
    daily &= nleads > 12;
    fprintf(r->md, "## Errors by lead\n\n| source | lead (h) | n | DPE mean (km) | DPE median (km) | along-track (km) | "
                   "cross-track (km) | MSL error (hPa) | wind error (m/s) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    fprintf(r->html, "<h2>Errors by lead</h2>\n<table><tr><th>source</th><th>lead (h)</th><th>n</th><th>DPE mean (km)</th>"
                     "<th>DPE median (km)</th><th>along-track (km)</th><th>cross-track (km)</th><th>MSL error (hPa)</th>"
                     "<th>wind error (m/s)</th></tr>\n");
    for (int i = 0; i < sp->nscores; i++) {
        const trackeval_score *s = &sp->scores[i];
        if (daily && fmod(s->lead_hours, 24) != 0) continue;
        fprintf(r->md, "| %s | %g | %d |", s->source, s->lead_hours, s->n);
        fprintf(r->html, "<tr><th>");
        html_text(r->html, s->source);
        fprintf(r->html, "</th><td>%g</td><td>%d</td>", s->lead_hours, s->n);
        for (int c = 0; c < NCURVES; c++) {
            double v = value_of(s, c);
            if (isfinite(v)) fprintf(r->md, " %.1f |", v), fprintf(r->html, "<td>%.1f</td>", v);
            else fprintf(r->md, " - |"), fprintf(r->html, "<td>-</td>");
        }
        fprintf(r->md, "\n"), fprintf(r->html, "</tr>\n");
    }
    fprintf(r->md, "\n%s sample; errors as the Met Office defines them (along-track positive ahead of the observed storm, "
                   "cross-track positive right of its track in the northern hemisphere and left in the southern).\n\n",
            sp->heterogeneous ? "Heterogeneous (every case of each source)" : "Homogeneous (the cases every source has)");
    fprintf(r->html, "</table>\n<p>%s sample; along-track positive ahead of the observed storm, cross-track positive right "
                     "of its track in the northern hemisphere and left in the southern (Met Office).</p>\n",
            sp->heterogeneous ? "Heterogeneous" : "Homogeneous");
}

/* An image in both documents when gnuplot drew it. */
static void image(report *r, const char *png, const char *alt, int width) {
    snprintf(r->path, sizeof r->path, "%s/%s", r->dir, png);
    if (access(r->path, R_OK) != 0) return;
    fprintf(r->md, "![%s](%s)\n", alt, png);
    fprintf(r->html, "<img src=\"%s\" width=\"%d\" alt=\"", png, width);
    html_text(r->html, alt);
    fprintf(r->html, "\">\n");
}

static void list_figures(report *r) {
    fprintf(r->md, "## Figures\n\n"), fprintf(r->html, "<h2>Figures</h2>\n");
    if (!r->gnuplot) {
        fprintf(r->md, "gnuplot is not installed (Debian package gnuplot-nox): figures skipped.\n");
        fprintf(r->html, "<p>gnuplot is not installed (Debian package gnuplot-nox): figures skipped.</p>\n");
        return;
    }
    for (int c = 0; c < NCURVES; c++) {
        char png[64];
        snprintf(png, sizeof png, "%s.png", curves[c].file);
        if (!r->curve_empty[c]) image(r, png, curves[c].title, 560);
        else {
            fprintf(r->md, "%s: no figure, no source has this error at any lead (tracks without the value).\n\n", curves[c].title);
            fprintf(r->html, "<p>%s: no figure, no source has this error at any lead (tracks without the value).</p>\n",
                    curves[c].title);
        }
    }
    fprintf(r->md, "\n## Storms\n\nEach storm's best track (black) and the sources' tracks from up to %d of the initial "
                   "times every source has, spread over the storm's life (markers: first, middle, last).\n\n", MAP_INITS);
    fprintf(r->html, "<h2>Storms</h2>\n<p>Each storm's best track (black) and the sources' tracks from up to %d of the "
                     "initial times every source has, spread over the storm's life.</p>\n", MAP_INITS);
    if (r->coast_missing) {
        fprintf(r->md, "No coastlines: %s\n\n", r->coast_message);
        fprintf(r->html, "<p>No coastlines: ");
        html_text(r->html, r->coast_message);
        fprintf(r->html, "</p>\n");
    }
    for (int q = 0; q < r->nstorms; q++) {
        char png[128];
        snprintf(png, sizeof png, "map_%s.png", r->storm_file[q]);
        image(r, png, r->storms[q], 600);
    }
}

static int write_docs(report *r) {
    snprintf(r->path, sizeof r->path, "%s/report.md", r->dir);
    r->md = fopen(r->path, "w");
    snprintf(r->path, sizeof r->path, "%s/report.html", r->dir);
    r->html = fopen(r->path, "w");
    if (!r->md || !r->html) return util_fail(UTIL_EIO, "%s: cannot write the report", r->sp->dir);
    fprintf(r->md, "# Cyclone track verification\n\nScores: `%s`.\n\n", r->sp->csv);
    fprintf(r->html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Cyclone track verification</title>\n"
                     "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;margin:1em 0}"
                     "td,th{border:1px solid #999;padding:3px 8px;text-align:right}img{margin:4px}</style></head><body>\n"
                     "<h1>Cyclone track verification</h1>\n<p>Scores: <code>");
    html_text(r->html, r->sp->csv);
    fprintf(r->html, "</code></p>\n");
    write_table(r);
    list_figures(r);
    fprintf(r->html, "</body></html>\n");
    FILE *md = r->md, *html = r->html;
    r->md = r->html = NULL;
    int status = closed(md, "the report", r), s2 = closed(html, "the report", r);
    return status ? status : s2;
}

int trackeval_report(const trackeval_report_spec *sp) {
    report *r = calloc(1, sizeof *r);
    if (!r) return util_fail(UTIL_ENOMEM, "out of memory");
    r->sp = sp;
    for (int i = 0; i < sp->nscores; i++) {
        int k = 0;
        while (k < r->ns && strcmp(r->src[k], sp->scores[i].source)) k++;
        if (k == r->ns && r->ns < MAX_SOURCES) r->src[r->ns++] = sp->scores[i].source;
    }
    for (int k = 0; k < r->ns; k++) file_name(r->src_file[k], sizeof r->src_file[0], r->src[k]);
    unique_names(r->src_file[0], sizeof r->src_file[0], r->ns);
    int status = util_outdir_begin(sp->dir, "report", r->dir, sizeof r->dir);
    if (status) {
        free(r);
        return status;
    }
    snprintf(r->path, sizeof r->path, "%s/data", r->dir);
    if (mkdir(r->path, 0755) != 0 && errno != EEXIST)
        status = util_fail(UTIL_EIO, "%s: cannot create the report directory (%s)", sp->dir, strerror(errno));
    if (!status) status = list_storms(r);
    if (!status) status = draw_figures(r);
    if (!status) status = write_docs(r);
    if (r->gp) fclose(r->gp);
    if (r->md) fclose(r->md);
    if (r->html) fclose(r->html);
    free(r->storms), free(r->storm_file);
    if (status) util_outdir_abort(sp->dir, "report", r->dir);
    else status = util_outdir_commit(sp->dir, "report", r->dir);
    free(r);
    return status;
}
