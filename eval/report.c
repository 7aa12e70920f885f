/* eval report: headline tables from the scores CSV and figures drawn by
 * gnuplot (run as a subprocess on a generated script, png terminal). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/util.h"
#include "eval.h"

#define MAX_SRC 66
#define MAX_LEADS 1024

static const struct {
    const char *label, *variable, *level, *units;
} headline[] = {{"z500", "z", "500", "m2 s-2"}, {"t850", "t", "850", "K"}, {"t2m", "t2m", "", "K"},
                {"u10", "u10", "", "m s-1"},   {"msl", "msl", "", "Pa"}};
#define NHEAD (int)(sizeof headline / sizeof headline[0])

/* Global RMSE and ACC of the headline variables: value[src][head][lead][metric]. */
typedef struct {
    int ns, nl;
    char src[MAX_SRC][128];
    double lead[MAX_LEADS];
    double *value; /* (ns, NHEAD, nl, 2) */
    int has_head[NHEAD], has_acc;
} table;

static double *at(table *t, int s, int h, int l, int m) { return &t->value[(((size_t)s * NHEAD + h) * t->nl + l) * 2 + m]; }

static int split_csv(char *line, char **fields) {
    int n = 0;
    char *p = line;
    while (n < 7) {
        fields[n++] = p;
        char *c = strchr(p, n < 7 ? ',' : '\n');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    char *nl = strchr(fields[n - 1], '\n');
    if (nl) *nl = 0;
    return n;
}

static int read_table(const char *path, table *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot read the scores", path);
    char line[1024], *fl[7];
    /* first pass: sources and leads */
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return util_fail(UTIL_EFORMAT, "%s: empty scores file", path);
    }
    while (fgets(line, sizeof line, f)) {
        if (split_csv(line, fl) != 7) continue;
        int s = 0;
        while (s < t->ns && strcmp(t->src[s], fl[0])) s++;
        if (s == t->ns && t->ns < MAX_SRC) snprintf(t->src[t->ns++], sizeof t->src[0], "%s", fl[0]);
        double lead = atof(fl[3]);
        int l = 0;
        while (l < t->nl && t->lead[l] != lead) l++;
        if (l == t->nl && t->nl < MAX_LEADS) t->lead[t->nl++] = lead;
    }
    for (int a = 0; a < t->nl; a++)
        for (int b = a + 1; b < t->nl; b++)
            if (t->lead[b] < t->lead[a]) {
                double x = t->lead[a];
                t->lead[a] = t->lead[b], t->lead[b] = x;
            }
    t->value = malloc(sizeof(double) * (size_t)(t->ns ? t->ns : 1) * NHEAD * (t->nl ? t->nl : 1) * 2);
    if (!t->value) {
        fclose(f);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < (size_t)t->ns * NHEAD * t->nl * 2; i++) t->value[i] = NAN;
    rewind(f);
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    while (fgets(line, sizeof line, f)) {
        if (split_csv(line, fl) != 7 || strcmp(fl[4], "global")) continue;
        int m = !strcmp(fl[5], "rmse") ? 0 : !strcmp(fl[5], "acc") ? 1 : -1;
        if (m < 0) continue;
        int h = 0;
        while (h < NHEAD && (strcmp(headline[h].variable, fl[1]) || strcmp(headline[h].level, fl[2]))) h++;
        if (h == NHEAD) continue;
        int s = 0, l = 0;
        double lead = atof(fl[3]);
        while (s < t->ns && strcmp(t->src[s], fl[0])) s++;
        while (l < t->nl && t->lead[l] != lead) l++;
        if (s == t->ns || l == t->nl) continue;
        *at(t, s, h, l, m) = atof(fl[6]);
        t->has_head[h] = 1;
        t->has_acc |= m == 1;
    }
    fclose(f);
    return UTIL_OK;
}

/* gnuplot on PATH? */
static int have_gnuplot(void) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, n ? p : ".");
        if (access(buf, X_OK) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Run gnuplot on `script` inside dir; its messages go to dir/gnuplot.log. */
static int run_gnuplot(const char *dir, const char *script) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '`') continue;
        else fputc(*s, f);
    }
}

/* gnuplot matrix data (lon lat value, a blank line after each row), longitudes ascending. */
static int write_map(const char *path, const float *x, const double *lat, const double *lon, int H, int W) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < H; i++) {
        for (int j = 0; j < W; j++) {
            fprintf(f, "%.6g %.6g %.7g\n", lon[j], lat[i], x[(size_t)i * W + j]);
        }
        fprintf(f, "\n");
    }
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* A report being written: the scores, the temporary directory and its
 * open files. */
typedef struct {
    const eval_report_spec *sp;
    table t;
    char path[4400], data[4300], dir[4200];
    FILE *md, *html, *gp;
    double show[4]; /* headline leads */
    int nshow, gnuplot, figures;
} report;

/* Headline leads: 24, 72, 120, 168 h where scored, else up to four spread
 * over the leads. */
static void choose_leads(report *r) {
    const table *t = &r->t;
    const double want[4] = {24, 72, 120, 168};
    for (int q = 0; q < 4; q++)
        for (int l = 0; l < t->nl; l++)
            if (t->lead[l] == want[q]) r->show[r->nshow++] = want[q];
    if (!r->nshow)
        for (int q = 0; q < 4 && q < t->nl; q++)
            r->show[r->nshow++] = t->lead[t->nl <= 4 ? q : (int)((double)q * (t->nl - 1) / 3 + 0.5)];
}

/* data/HEAD_SOURCE.dat: lead, RMSE and ACC of one headline variable. */
static int write_curve_data(report *r, int h, int s) {
    table *t = &r->t;
    snprintf(r->path, sizeof r->path, "%s/%s_%s.dat", r->data, headline[h].label, t->src[s]);
    FILE *f = fopen(r->path, "w");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot write the figure data (%s)", r->sp->dir, strerror(errno));
    fprintf(f, "# lead_hours rmse acc (%s, %s, global)\n", t->src[s], headline[h].label);
    for (int l = 0; l < t->nl; l++) fprintf(f, "%g %.9g %.9g\n", t->lead[l], *at(t, s, h, l, 0), *at(t, s, h, l, 1));
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return util_fail(UTIL_EIO, "%s: cannot write the figure data (disk full?)", r->sp->dir);
    return UTIL_OK;
}

/* The RMSE (and ACC) curves of one headline variable: a line per source
 * with values. */
static void plot_curves(report *r, int h) {
    table *t = &r->t;
    for (int m = 0; m < 1 + t->has_acc; m++) {
        int any = 0;
        for (int s = 0; s < t->ns; s++)
            for (int l = 0; l < t->nl; l++) any |= isfinite(*at(t, s, h, l, m));
        if (!any) continue;
        fprintf(r->gp, "set output '%s_%s.png'\nset title '%s %s (global)'\nset ylabel '%s%s%s%s'\n", m ? "acc" : "rmse",
                headline[h].label, headline[h].label, m ? "ACC" : "RMSE", m ? "ACC" : "RMSE", m ? "" : " (",
                m ? "" : headline[h].units, m ? "" : ")");
        fprintf(r->gp, "plot ");
        int first = 1;
        for (int s = 0; s < t->ns; s++) {
            int has = 0;
            for (int l = 0; l < t->nl; l++) has |= isfinite(*at(t, s, h, l, m));
            if (!has) continue;
            fprintf(r->gp, "%s'data/%s_%s.dat' using 1:%d with linespoints lw 2 title '%s'", first ? "" : ", ",
                    headline[h].label, t->src[s], m ? 3 : 2, t->src[s]);
            first = 0;
        }
        fprintf(r->gp, "\n");
    }
}

/* Map q: forecast, truth and error data and their plots; forecast and
 * truth share one colour range, the error is centred on zero. */
static int plot_map(report *r, int q) {
    const eval_report_spec *sp = r->sp;
    const eval_map *m = &sp->maps[q];
    size_t n = (size_t)sp->H * sp->W;
    float *err = malloc(sizeof(float) * n);
    if (!err) return UTIL_OK; /* (the figure is left out) */
    for (size_t i = 0; i < n; i++) err[i] = m->forecast[i] - m->truth[i];
    const char *part[3] = {"forecast", "truth", "error"};
    const float *x[3] = {m->forecast, m->truth, err};
    int ok = 1;
    for (int p = 0; p < 3; p++) {
        snprintf(r->path, sizeof r->path, "%s/map_%s_%gh_%s.dat", r->data, m->field, m->lead, part[p]);
        ok &= write_map(r->path, x[p], sp->lat, sp->lon, sp->H, sp->W) == 0;
    }
    double lo = INFINITY, hi = -INFINITY, emax = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(m->forecast[i])) lo = fmin(lo, m->forecast[i]), hi = fmax(hi, m->forecast[i]);
        if (isfinite(m->truth[i])) lo = fmin(lo, m->truth[i]), hi = fmax(hi, m->truth[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (isfinite(err[i])) emax = fmax(emax, fabs(err[i]));
    free(err);
    if (!ok) return util_fail(UTIL_EIO, "%s: cannot write the map data (disk full?)", sp->dir);
    if (!(hi > lo)) hi = lo + 1;
    if (!(emax > 0)) emax = 1;
    for (int p = 0; p < 3; p++) {
        fprintf(r->gp, "set output 'map_%s_%gh_%s.png'\n", m->field, m->lead, part[p]);
        fprintf(r->gp, "set title '%s %s, %s from %s, +%g h'\n", m->field, part[p], sp->map_source ? sp->map_source : "",
                sp->map_init ? sp->map_init : "", m->lead);
        if (p < 2) fprintf(r->gp, "set palette rgbformulae 33,13,10\nset cbrange [%.9g:%.9g]\n", lo, hi);
        else fprintf(r->gp, "set palette defined (-1 'blue', 0 'white', 1 'red')\nset cbrange [%.9g:%.9g]\n", -emax, emax);
        fprintf(r->gp, "plot 'data/map_%s_%gh_%s.dat' using 1:2:3 with image\n", m->field, m->lead, part[p]);
    }
    return UTIL_OK;
}

/* The gnuplot script data/figures.gp: curves of the headline variables,
 * then the maps. */
static int write_script(report *r, const char *gp_name) {
    int status;
    snprintf(r->path, sizeof r->path, "%s/%s", r->dir, gp_name);
    if (!(r->gp = fopen(r->path, "w"))) return util_fail(UTIL_EIO, "%s: cannot write", r->path);
    fprintf(r->gp, "# pangu eval figures: gnuplot %s (run inside the report directory)\n", gp_name);
    fprintf(r->gp, "set terminal png size 800,520 noenhanced\nset grid\nset key top left\nset xlabel 'lead time (h)'\n");
    for (int h = 0; h < NHEAD; h++) {
        if (!r->t.has_head[h]) continue;
        for (int s = 0; s < r->t.ns; s++)
            if ((status = write_curve_data(r, h, s))) return status;
        plot_curves(r, h);
    }
    fprintf(r->gp, "unset grid\nset key off\nset xlabel 'longitude (degrees east)'\nset ylabel 'latitude (degrees north)'\n"
                   "set size ratio -1\nset autoscale xfix\nset autoscale yfix\nset terminal png size 900,560 noenhanced\n");
    for (int q = 0; q < r->sp->nmaps; q++)
        if ((status = plot_map(r, q))) return status;
    int bad = ferror(r->gp);
    bad |= fclose(r->gp) != 0;
    r->gp = NULL;
    return bad ? util_fail(UTIL_EIO, "%s: cannot write the gnuplot script", r->sp->dir) : UTIL_OK;
}

/* The figures, when gnuplot is installed; a report without the figures it
 * should have (a full disk leaves broken PNGs) is an error naming
 * gnuplot's last message. */
static int draw_figures(report *r) {
    const char *gp_name = "data/figures.gp";
    int status;
    if (!(r->gnuplot = have_gnuplot())) return UTIL_OK;
    if ((status = write_script(r, gp_name))) return status;
    if ((r->figures = run_gnuplot(r->dir, gp_name) == 0)) return UTIL_OK;
    char line[512] = "", last[512] = "";
    snprintf(r->path, sizeof r->path, "%s/gnuplot.log", r->dir);
    FILE *lf = fopen(r->path, "r");
    while (lf && fgets(line, sizeof line, lf))
        if (line[0] != '\n') snprintf(last, sizeof last, "%s", line);
    if (lf) fclose(lf);
    last[strcspn(last, "\n")] = 0;
    return util_fail(UTIL_EIO, "%s: gnuplot failed drawing the figures (disk full?)%s%s", r->sp->dir, last[0] ? ": " : "", last);
}

/* report.md and report.html opened, with their title and notes. */
static int begin_docs(report *r) {
    const eval_report_spec *sp = r->sp;
    snprintf(r->path, sizeof r->path, "%s/report.md", r->dir);
    r->md = fopen(r->path, "w");
    snprintf(r->path, sizeof r->path, "%s/report.html", r->dir);
    r->html = fopen(r->path, "w");
    if (!r->md || !r->html) return util_fail(UTIL_EIO, "%s: cannot write the report", sp->dir);
    FILE *md = r->md, *html = r->html;
    fprintf(md, "# Verification report\n\nScores: `%s` (global scores below; every region in the CSV). Latitude weights as "
                "WeatherBench 2 (cell areas between midpoints, poles as half cells).\n\n",
            sp->csv);
    fprintf(html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Verification report</title>\n"
                  "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;margin:1em 0}"
                  "td,th{border:1px solid #999;padding:3px 8px;text-align:right}img{margin:4px}</style></head><body>\n"
                  "<h1>Verification report</h1>\n<p>Scores: <code>");
    html_text(html, sp->csv);
    fprintf(html, "</code> (global scores below; every region in the CSV). Latitude weights as WeatherBench 2 (cell areas "
                  "between midpoints, poles as half cells).</p>\n");
    if (sp->notes) {
        fprintf(md, "%s\n\n", sp->notes);
        fprintf(html, "<p>");
        html_text(html, sp->notes);
        fprintf(html, "</p>\n");
    }
    return UTIL_OK;
}

/* One headline row: source s's metric m at the headline leads. */
static void table_row(report *r, int s, int m) {
    table *t = &r->t;
    fprintf(r->md, "| %s |", t->src[s]);
    fprintf(r->html, "<tr><th>");
    html_text(r->html, t->src[s]);
    fprintf(r->html, "</th>");
    for (int h = 0; h < NHEAD; h++)
        for (int q = 0; q < r->nshow && t->has_head[h]; q++) {
            int l = 0;
            while (l < t->nl && t->lead[l] != r->show[q]) l++;
            double v = l < t->nl ? *at(t, s, h, l, m) : NAN;
            if (isfinite(v)) fprintf(r->md, " %.4g |", v), fprintf(r->html, "<td>%.4g</td>", v);
            else fprintf(r->md, " - |"), fprintf(r->html, "<td>-</td>");
        }
    fprintf(r->md, "\n");
    fprintf(r->html, "</tr>\n");
}

/* The headline table of metric m (RMSE, ACC): a row per source. */
static void write_table(report *r, int m) {
    table *t = &r->t;
    FILE *md = r->md, *html = r->html;
    const char *name = m ? "ACC" : "RMSE";
    int nhead = 0;
    for (int h = 0; h < NHEAD; h++) nhead += t->has_head[h];
    fprintf(md, "## %s\n\n", name);
    fprintf(html, "<h2>%s</h2>\n", name);
    if (!nhead) {
        fprintf(md, "None of z500, t850, t2m, u10, msl was scored.\n\n");
        fprintf(html, "<p>None of z500, t850, t2m, u10, msl was scored.</p>\n");
        return;
    }
    fprintf(md, "| source |");
    fprintf(html, "<table><tr><th>source</th>");
    for (int h = 0; h < NHEAD; h++)
        for (int q = 0; q < r->nshow && t->has_head[h]; q++) {
            fprintf(md, " %s %gh |", headline[h].label, r->show[q]);
            fprintf(html, "<th>%s %gh</th>", headline[h].label, r->show[q]);
        }
    fprintf(md, "\n|---|");
    for (int i = 0; i < nhead * r->nshow; i++) fprintf(md, "---:|");
    fprintf(md, "\n");
    fprintf(html, "</tr>\n");
    for (int s = 0; s < t->ns; s++) table_row(r, s, m);
    if (m) fprintf(md, "\nUncentred anomaly correlation with the climatology at the valid day of year and hour.\n\n");
    else fprintf(md, "\nUnits: z500 m2 s-2, t850 and t2m K, u10 m s-1, msl Pa.\n\n");
    fprintf(html, "</table>\n");
}

/* The maps section: forecast, truth and error of each map. */
static void list_maps(report *r) {
    const eval_report_spec *sp = r->sp;
    FILE *md = r->md, *html = r->html;
    if (!sp->nmaps) {
        fprintf(md, "\nNo maps: neither z500 nor t2m was scored at the map leads.\n");
        fprintf(html, "<p>No maps: neither z500 nor t2m was scored at the map leads.</p>\n");
        return;
    }
    fprintf(md, "\n### Maps: %s from %s\n", sp->map_source ? sp->map_source : "", sp->map_init ? sp->map_init : "");
    fprintf(html, "<h3>Maps: ");
    html_text(html, sp->map_source ? sp->map_source : "");
    fprintf(html, " from %s</h3>\n", sp->map_init ? sp->map_init : "");
    for (int q = 0; q < sp->nmaps; q++) {
        const eval_map *m = &sp->maps[q];
        fprintf(md, "\n%s at +%g h (forecast, truth, forecast - truth):\n\n", m->field, m->lead);
        fprintf(html, "<p>%s at +%g h (forecast, truth, forecast - truth)</p>\n", m->field, m->lead);
        const char *part[3] = {"forecast", "truth", "error"};
        for (int p = 0; p < 3; p++) {
            fprintf(md, "![%s %s +%gh](map_%s_%gh_%s.png) ", m->field, part[p], m->lead, m->field, m->lead, part[p]);
            fprintf(html, "<img src=\"map_%s_%gh_%s.png\" width=\"380\" alt=\"%s %s\">\n", m->field, m->lead, part[p],
                    m->field, part[p]);
        }
        fprintf(md, "\n");
    }
}

/* The figures section: the curves drawn, then the maps; or why there are
 * none. */
static void list_figures(report *r) {
    FILE *md = r->md, *html = r->html;
    fprintf(md, "## Figures\n\n");
    fprintf(html, "<h2>Figures</h2>\n");
    if (!r->gnuplot) {
        fprintf(md, "gnuplot is not installed (Debian package gnuplot-nox): figures skipped.\n");
        fprintf(html, "<p>gnuplot is not installed (Debian package gnuplot-nox): figures skipped.</p>\n");
        return;
    }
    if (!r->figures) {
        fprintf(md, "gnuplot failed (see `gnuplot.log`): figures skipped.\n");
        fprintf(html, "<p>gnuplot failed (see gnuplot.log): figures skipped.</p>\n");
        return;
    }
    for (int h = 0; h < NHEAD; h++)
        for (int m = 0; m < 2; m++) {
            snprintf(r->path, sizeof r->path, "%s/%s_%s.png", r->dir, m ? "acc" : "rmse", headline[h].label);
            if (access(r->path, R_OK) != 0) continue;
            fprintf(md, "![%s %s against lead time](%s_%s.png)\n", headline[h].label, m ? "ACC" : "RMSE", m ? "acc" : "rmse",
                    headline[h].label);
            fprintf(html, "<img src=\"%s_%s.png\" width=\"560\" alt=\"%s %s\">\n", m ? "acc" : "rmse", headline[h].label,
                    headline[h].label, m ? "ACC" : "RMSE");
        }
    list_maps(r);
}

int eval_report(const eval_report_spec *sp) {
    report *r = calloc(1, sizeof *r);
    if (!r) return util_fail(UTIL_ENOMEM, "out of memory");
    r->sp = sp;
    int status = read_table(sp->csv_data ? sp->csv_data : sp->csv, &r->t);
    if (status) {
        free(r);
        return status;
    }
    /* Everything is written into a temporary directory beside the report's
     * files and moved into place when all is complete: a full disk leaves no
     * report.md, html, PNGs or data, only the error. */
    if ((status = util_outdir_begin(sp->dir, "report", r->dir, sizeof r->dir))) {
        free(r->t.value), free(r);
        return status;
    }
    snprintf(r->data, sizeof r->data, "%s/data", r->dir);
    if (mkdir(r->data, 0755) != 0 && errno != EEXIST) {
        status = util_fail(UTIL_EIO, "%s: cannot create the report directory (%s)", sp->dir, strerror(errno));
        goto done;
    }
    choose_leads(r);
    if ((status = draw_figures(r)) || (status = begin_docs(r))) goto done;
    for (int m = 0; m < 1 + r->t.has_acc; m++) write_table(r, m);
    list_figures(r);
    fprintf(r->html, "</body></html>\n");
    int bad = fclose(r->md) != 0;
    bad |= fclose(r->html) != 0;
    r->md = r->html = NULL;
    if (bad) status = util_fail(UTIL_EIO, "%s: cannot finish the report (disk full?)", sp->dir);
done:
    if (r->gp) fclose(r->gp);
    if (r->md) fclose(r->md);
    if (r->html) fclose(r->html);
    free(r->t.value);
    if (status) util_outdir_abort(sp->dir, "report", r->dir);
    else status = util_outdir_commit(sp->dir, "report", r->dir);
    free(r);
    return status;
}
