/* eval report maps: forecast, truth and error with coastlines (eval/coast.c),
 * perceptually uniform colours (viridis for fields, ColorBrewer's diverging
 * RdBu, centred on zero, for errors), units on every colour bar, z in
 * geopotential height (dam), axes over the grid's cells (-90..90 and
 * 0..360 for a global grid) with each pixel centred on its grid point, and
 * z500 contours. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "coast.h"
#include "report.h"

/* matplotlib's viridis (van der Walt and Smith, 2015) at 10 even steps. */
static const char *const viridis =
    "set palette defined (0 '#440154', 1 '#482878', 2 '#3e4989', 3 '#31688e', 4 '#26828e', 5 '#1f9e89', "
    "6 '#35b779', 7 '#6ece58', 8 '#b5de2b', 9 '#fde725')\n";
/* ColorBrewer's 11-class RdBu (Brewer, colorbrewer2.org), blue for negative. */
static const char *const rdbu =
    "set palette defined (-5 '#053061', -4 '#2166ac', -3 '#4393c3', -2 '#92c5de', -1 '#d1e5f0', 0 '#f7f7f7', "
    "1 '#fddbc7', 2 '#f4a582', 3 '#d6604d', 4 '#b2182b', 5 '#67001f')\n";

#define G0 9.80665 /* m s-2, WMO standard gravity: geopotential to geopotential metres */

/* What a map field shows: its scale from the stored units and the label. */
typedef struct {
    double scale;
    const char *quantity, *units;
    double contour_step; /* 0: no contours */
} map_kind;

static map_kind kind_of(const char *field) {
    if (field[0] == 'z') return (map_kind){1 / (G0 * 10), "geopotential height", "dam", 6};
    if (!strcmp(field, "t2m")) return (map_kind){1, "2 m temperature", "K", 0};
    return (map_kind){1, field, "", 0};
}

/* The plotted box: cell edges of the grid clipped to the poles; a grid
 * that goes round the globe spans lon[0] .. lon[0] + 360 (its first
 * column repeated at the end). */
typedef struct {
    double lat0, lat1, lon0, lon1;
    int wrap;
} map_box;

static map_box box_of(const eval_report_spec *sp) {
    map_box b;
    double dlat = sp->H > 1 ? fabs(sp->lat[1] - sp->lat[0]) : 1, dlon = sp->W > 1 ? sp->lon[1] - sp->lon[0] : 1;
    double lo = fmin(sp->lat[0], sp->lat[sp->H - 1]), hi = fmax(sp->lat[0], sp->lat[sp->H - 1]);
    b.lat0 = fmax(-90, lo - dlat / 2), b.lat1 = fmin(90, hi + dlat / 2);
    b.wrap = sp->W > 1 && fabs(sp->W * dlon - 360) < 1e-3 * dlon;
    b.lon0 = b.wrap ? sp->lon[0] : sp->lon[0] - dlon / 2;
    b.lon1 = b.wrap ? sp->lon[0] + 360 : sp->lon[sp->W - 1] + dlon / 2;
    return b;
}

/* gnuplot grid data (lon lat value, a blank line after each row), values
 * scaled; the first column repeated at lon + 360 when the grid wraps. */
static int write_map(const char *path, const float *x, double scale, const eval_report_spec *sp, int wrap) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < sp->H; i++) {
        for (int j = 0; j < sp->W + wrap; j++) {
            int jj = j % sp->W;
            fprintf(f, "%.6g %.6g %.7g\n", sp->lon[jj] + (j == sp->W ? 360 : 0), sp->lat[i], x[(size_t)i * sp->W + jj] * scale);
        }
        fprintf(f, "\n");
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* data/coast.dat for the box, or the reason there is none in coast_note
 * (warned once: the maps are still worth drawing). */
static int write_coast(report *r, const map_box *b) {
    coast_lines c;
    int status = coast_load(&c, NULL, b->lat0, b->lat1, b->lon0, b->lon1);
    if (!status) {
        snprintf(r->path, sizeof r->path, "%s/coast.dat", r->data);
        status = coast_write_gnuplot(&c, r->path);
        coast_free(&c);
        return status;
    }
    coast_free(&c);
    snprintf(r->coast_note, sizeof r->coast_note, "%s", util_last_message());
    util_warn("the report's maps have no coastlines: %s", r->coast_note);
    return UTIL_OK;
}

/* Contour lines of data file `in` every `step` into `out` (gnuplot's own
 * contouring through set table). */
static void contour_table(report *r, const char *in, const char *out, double step, double lo, double hi) {
    double first = ceil(lo / step) * step;
    fprintf(r->gp, "set contour base\nunset surface\nset view map\nset cntrparam levels incremental %.9g,%.9g,%.9g\n", first, step,
            hi);
    fprintf(r->gp, "set table '%s'\nsplot '%s' using 1:2:3 with lines\nunset table\nunset contour\nset surface\n", out, in);
}

/* Map q: forecast, truth and error data and their plots; forecast and
 * truth share one colour range, the error is centred on zero. */
static int plot_map(report *r, int q, const map_box *b) {
    const eval_report_spec *sp = r->sp;
    const eval_map *m = &sp->maps[q];
    map_kind k = kind_of(m->field);
    size_t n = (size_t)sp->H * sp->W;
    float *err = malloc(sizeof(float) * n);
    if (!err) return util_fail(UTIL_ENOMEM, "out of memory (report maps)");
    double lo = INFINITY, hi = -INFINITY, emax = 0;
    for (size_t i = 0; i < n; i++) {
        err[i] = m->forecast[i] - m->truth[i];
        if (isfinite(m->forecast[i])) lo = fmin(lo, m->forecast[i] * k.scale), hi = fmax(hi, m->forecast[i] * k.scale);
        if (isfinite(m->truth[i])) lo = fmin(lo, m->truth[i] * k.scale), hi = fmax(hi, m->truth[i] * k.scale);
        if (isfinite(err[i])) emax = fmax(emax, fabs(err[i] * k.scale));
    }
    const char *part[3] = {"forecast", "truth", "error"};
    const float *x[3] = {m->forecast, m->truth, err};
    int ok = 1;
    for (int p = 0; p < 3; p++) {
        snprintf(r->path, sizeof r->path, "%s/map_%s_%gh_%s.dat", r->data, m->field, m->lead, part[p]);
        ok &= write_map(r->path, x[p], k.scale, sp, b->wrap) == 0;
    }
    free(err);
    if (!ok) return util_fail(UTIL_EIO, "%s: cannot write the map data (disk full?)", sp->dir);
    if (!(hi > lo)) hi = lo + 1;
    if (!(emax > 0)) emax = 1;
    for (int p = 0; p < 3; p++) {
        char dat[256], cont[256];
        snprintf(dat, sizeof dat, "data/map_%s_%gh_%s.dat", m->field, m->lead, part[p]);
        snprintf(cont, sizeof cont, "data/map_%s_%gh_%s_contours.dat", m->field, m->lead, part[p]);
        int contours = k.contour_step > 0 && p < 2;
        if (contours) contour_table(r, dat, cont, k.contour_step, lo, hi);
        fprintf(r->gp, "set output 'map_%s_%gh_%s.png'\n", m->field, m->lead, part[p]);
        fprintf(r->gp, "set title '%s %s, %s from %s, +%g h%s'\n", m->field, part[p], sp->map_source ? sp->map_source : "",
                sp->map_init ? sp->map_init : "", m->lead, contours ? " (contours every 6 dam)" : "");
        fputs(p < 2 ? viridis : rdbu, r->gp);
        if (p < 2) fprintf(r->gp, "set cbrange [%.9g:%.9g]\nset cblabel '%s (%s)' offset 2,0\n", lo, hi, k.quantity, k.units);
        else fprintf(r->gp, "set cbrange [%.9g:%.9g]\nset cblabel 'forecast - truth (%s)' offset 2,0\n", -emax, emax, k.units);
        fprintf(r->gp, "plot '%s' using 1:2:3 with image", dat);
        if (contours) fprintf(r->gp, ", '%s' using 1:2 with lines lc rgb '#f0f0f0' lw 1", cont);
        if (!r->coast_note[0]) fprintf(r->gp, ", 'data/coast.dat' using 1:2 with lines lc rgb 'black' lw 1.3");
        fprintf(r->gp, "\n");
    }
    return UTIL_OK;
}

int rep_plot_maps(report *r) {
    const eval_report_spec *sp = r->sp;
    if (!sp->nmaps) return UTIL_OK;
    map_box b = box_of(sp);
    int status = write_coast(r, &b);
    if (status) return status;
    fprintf(r->gp, "unset grid\nset key off\nset xlabel 'longitude (degrees east)'\nset ylabel 'latitude (degrees north)'\n"
                   "set size ratio -1\nset xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset xtics 60\nset ytics 30\n"
                   "set terminal png size 900,560 noenhanced\n",
            b.lon0, b.lon1, b.lat0, b.lat1);
    if (b.lon1 - b.lon0 < 120) fprintf(r->gp, "set xtics autofreq\nset ytics autofreq\n");
    for (int q = 0; q < sp->nmaps; q++)
        if ((status = plot_map(r, q, &b))) return status;
    fprintf(r->gp, "set autoscale\nset size noratio\nunset cblabel\n");
    return UTIL_OK;
}

void rep_list_maps(report *r) {
    const eval_report_spec *sp = r->sp;
    FILE *md = r->md, *html = r->html;
    if (!sp->nmaps) {
        fprintf(md, "\nNo maps: neither z500 nor t2m was scored at the map leads.\n");
        fprintf(html, "<p>No maps: neither z500 nor t2m was scored at the map leads.</p>\n");
        return;
    }
    fprintf(md, "\n### Maps: %s from %s\n\n", sp->map_source ? sp->map_source : "", sp->map_init ? sp->map_init : "");
    fprintf(html, "<h3>Maps: ");
    rep_html_text(html, sp->map_source ? sp->map_source : "");
    fprintf(html, " from %s</h3>\n", sp->map_init ? sp->map_init : "");
    const char *about = "z500 as geopotential height in dam (z / 9.80665 / 10) with contours every 6 dam, t2m in K; "
                        "each pixel is centred on its grid point; coastlines: Natural Earth (public domain) from "
                        "Debian's libplplot-data.";
    fprintf(md, "%s\n", about);
    fprintf(html, "<p>%s</p>\n", about);
    if (r->coast_note[0]) {
        fprintf(md, "\nCoastlines not drawn: %s\n", r->coast_note);
        fprintf(html, "<p>Coastlines not drawn: ");
        rep_html_text(html, r->coast_note);
        fprintf(html, "</p>\n");
    }
    for (int q = 0; q < sp->nmaps; q++) {
        const eval_map *m = &sp->maps[q];
        fprintf(md, "\n%s at +%g h (forecast, truth, forecast - truth):\n\n", m->field, m->lead);
        fprintf(html, "<p>%s at +%g h (forecast, truth, forecast - truth)</p>\n", m->field, m->lead);
        const char *part[3] = {"forecast", "truth", "error"};
        for (int p = 0; p < 3; p++) {
            fprintf(md, "![%s %s +%gh](map_%s_%gh_%s.png) ", m->field, part[p], m->lead, m->field, m->lead, part[p]);
            fprintf(html, "<img src=\"map_%s_%gh_%s.png\" width=\"420\" alt=\"%s %s\">\n", m->field, m->lead, part[p],
                    m->field, part[p]);
        }
        fprintf(md, "\n");
    }
}
