/* eval report: tables of the headline variables from the scores CSV (global
 * RMSE, ACC and bias, every region, the ensemble's CRPS and spread-skill and
 * the relative quantile error where computed), the scorecard (report_scorecard.c) and figures drawn by
 * gnuplot (run as a subprocess on a generated script, png terminal): curves
 * against lead, maps (report_maps.c). */
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
#include "report.h"

const char *const rep_metric_csv[REP_NMETRIC] = {"rmse", "acc", "bias", "mae", "crps", "spread_skill", "rqe"};
static const char *const metric_title[REP_NMETRIC] = {"RMSE", "ACC", "Bias", "MAE", "CRPS", "Spread-skill ratio",
                                                          "Relative quantile error"};

const rep_head rep_headline[REP_NHEAD] = {{"z500", "z", "500", "m2 s-2"}, {"t850", "t", "850", "K"}, {"t2m", "t2m", "", "K"},
                                          {"u10", "u10", "", "m s-1"},   {"msl", "msl", "", "Pa"}};
#define NHEAD REP_NHEAD
#define headline rep_headline

double *rep_at(const rep_table *t, int s, int h, int l, int r, int m) {
    return &t->value[((((size_t)s * NHEAD + h) * t->nl + l) * t->nr + r) * REP_NMETRIC + m];
}

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

/* First pass: the sources, regions and leads, leads sorted. */
static void scan_table(FILE *f, rep_table *t) {
    char line[1024], *fl[7];
    while (fgets(line, sizeof line, f)) {
        if (split_csv(line, fl) != 7) continue;
        int s = 0, r = 0, l = 0;
        while (s < t->ns && strcmp(t->src[s], fl[0])) s++;
        if (s == t->ns && t->ns < REP_MAX_SRC) snprintf(t->src[t->ns++], sizeof t->src[0], "%s", fl[0]);
        while (r < t->nr && strcmp(t->reg[r], fl[4])) r++;
        if (r == t->nr && t->nr < EVAL_MAX_REGIONS) snprintf(t->reg[t->nr++], sizeof t->reg[0], "%s", fl[4]);
        double lead = atof(fl[3]);
        while (l < t->nl && t->lead[l] != lead) l++;
        if (l == t->nl && t->nl < REP_MAX_LEADS) t->lead[t->nl++] = lead;
    }
    for (int a = 0; a < t->nl; a++)
        for (int b = a + 1; b < t->nl; b++)
            if (t->lead[b] < t->lead[a]) {
                double x = t->lead[a];
                t->lead[a] = t->lead[b], t->lead[b] = x;
            }
}

/* Second pass: the headline variables' values. */
static void fill_table(FILE *f, rep_table *t) {
    char line[1024], *fl[7];
    while (fgets(line, sizeof line, f)) {
        if (split_csv(line, fl) != 7) continue;
        int m = 0, h = 0, s = 0, l = 0, r = 0;
        while (m < REP_NMETRIC && strcmp(rep_metric_csv[m], fl[5])) m++;
        while (h < NHEAD && (strcmp(headline[h].variable, fl[1]) || strcmp(headline[h].level, fl[2]))) h++;
        if (m == REP_NMETRIC || h == NHEAD) continue;
        double lead = atof(fl[3]);
        while (s < t->ns && strcmp(t->src[s], fl[0])) s++;
        while (l < t->nl && t->lead[l] != lead) l++;
        while (r < t->nr && strcmp(t->reg[r], fl[4])) r++;
        if (s == t->ns || l == t->nl || r == t->nr) continue;
        *rep_at(t, s, h, l, r, m) = atof(fl[6]);
        t->has[h][m] = t->has_metric[m] = 1;
    }
}

static int read_table(const char *path, rep_table *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot read the scores", path);
    char line[1024];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return util_fail(UTIL_EFORMAT, "%s: empty scores file", path);
    }
    scan_table(f, t);
    size_t n = (size_t)(t->ns ? t->ns : 1) * NHEAD * (t->nl ? t->nl : 1) * (t->nr ? t->nr : 1) * REP_NMETRIC;
    if (!(t->value = malloc(sizeof(double) * n))) {
        fclose(f);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) t->value[i] = NAN;
    rewind(f);
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fill_table(f, t);
    fclose(f);
    return UTIL_OK;
}

/* The global region's index (the first region when none is called global). */
static int global_region(const rep_table *t) {
    for (int r = 0; r < t->nr; r++)
        if (!strcmp(t->reg[r], "global")) return r;
    return 0;
}

/* gnuplot on PATH? */
int report_have_gnuplot(void) {
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
int report_run_gnuplot(const char *dir, const char *script) {
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

void rep_html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '`') continue;
        else fputc(*s, f);
    }
}
#define html_text rep_html_text

/* Headline leads: 24, 72, 120, 168 h where scored, else up to four spread
 * over the leads. */
static void choose_leads(report *r) {
    const rep_table *t = &r->t;
    const double want[4] = {24, 72, 120, 168};
    for (int q = 0; q < 4; q++)
        for (int l = 0; l < t->nl; l++)
            if (t->lead[l] == want[q]) r->show[r->nshow++] = want[q];
    if (!r->nshow)
        for (int q = 0; q < 4 && q < t->nl; q++)
            r->show[r->nshow++] = t->lead[t->nl <= 4 ? q : (int)((double)q * (t->nl - 1) / 3 + 0.5)];
}

/* data/HEAD_SOURCE.dat: lead and the global value of every metric (columns
 * 2.. in rep_metric_csv's order) of one headline variable. */
static int write_curve_data(report *r, int h, int s) {
    rep_table *t = &r->t;
    int g = global_region(t);
    snprintf(r->path, sizeof r->path, "%s/%s_%s.dat", r->data, headline[h].label, t->src[s]);
    FILE *f = fopen(r->path, "w");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot write the figure data (%s)", r->sp->dir, strerror(errno));
    fprintf(f, "# lead_hours");
    for (int m = 0; m < REP_NMETRIC; m++) fprintf(f, " %s", rep_metric_csv[m]);
    fprintf(f, " (%s, %s, %s)\n", t->src[s], headline[h].label, t->reg[g]);
    for (int l = 0; l < t->nl; l++) {
        int any = 0; /* leads this source has no score at would stretch the axis */
        for (int m = 0; m < REP_NMETRIC; m++) any |= isfinite(*rep_at(t, s, h, l, g, m));
        if (!any) continue;
        fprintf(f, "%g", t->lead[l]);
        for (int m = 0; m < REP_NMETRIC; m++) fprintf(f, " %.9g", *rep_at(t, s, h, l, g, m));
        fprintf(f, "\n");
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return util_fail(UTIL_EIO, "%s: cannot write the figure data (disk full?)", r->sp->dir);
    return UTIL_OK;
}

/* The metrics drawn against lead, with their files' names. */
static const int curve_metrics[] = {REP_RMSE, REP_ACC, REP_BIAS, REP_CRPS, REP_SPREAD_SKILL, REP_RQE};
#define NCURVE (int)(sizeof curve_metrics / sizeof curve_metrics[0])

static int source_has(const rep_table *t, int s, int h, int m) {
    int g = global_region(t);
    for (int l = 0; l < t->nl; l++)
        if (isfinite(*rep_at(t, s, h, l, g, m))) return 1;
    return 0;
}

/* The curves of one headline variable: a plot per metric present, a line
 * per source with values, the legend beside the plot (off the data). */
static void plot_curves(report *r, int h) {
    rep_table *t = &r->t;
    for (int c = 0; c < NCURVE; c++) {
        int m = curve_metrics[c];
        if (!t->has[h][m]) continue;
        const char *units = m == REP_ACC || m == REP_SPREAD_SKILL || m == REP_RQE ? "" : headline[h].units;
        fprintf(r->gp, "set output '%s_%s.png'\nset title '%s %s (%s)'\nset ylabel '%s%s%s%s'\n", rep_metric_csv[m],
                headline[h].label, headline[h].label, metric_title[m], t->reg[global_region(t)], metric_title[m],
                units[0] ? " (" : "", units, units[0] ? ")" : "");
        /* the spread-skill line at 1 inside the plot, not on its edge */
        fprintf(r->gp, "%splot ", m == REP_SPREAD_SKILL ? "set yrange [0:1.2<*]\n" : "set autoscale y\n");
        int first = 1;
        if (m == REP_SPREAD_SKILL) fprintf(r->gp, "1 with lines dt 2 lw 2 lc rgb 'gray40' title 'spread = skill'"), first = 0;
        if (m == REP_BIAS || m == REP_RQE) fprintf(r->gp, "0 with lines lc rgb 'gray40' notitle"), first = 0;
        for (int s = 0; s < t->ns; s++) {
            if (!source_has(t, s, h, m)) continue;
            fprintf(r->gp, "%s'data/%s_%s.dat' using 1:%d with linespoints lw 2 title '%s'", first ? "" : ", ", headline[h].label,
                    t->src[s], m + 2, t->src[s]);
            first = 0;
        }
        fprintf(r->gp, "\n");
    }
}

/* The gnuplot script data/figures.gp: curves of the headline variables,
 * the maps, the scorecard. */
static int write_script(report *r, const char *gp_name) {
    int status;
    snprintf(r->path, sizeof r->path, "%s/%s", r->dir, gp_name);
    if (!(r->gp = fopen(r->path, "w"))) return util_fail(UTIL_EIO, "%s: cannot write", r->path);
    fprintf(r->gp, "# pangu eval figures: gnuplot %s (run inside the report directory)\n", gp_name);
    fprintf(r->gp, "set terminal png size 900,520 noenhanced\nset grid\nset key outside right top\nset xlabel 'lead time (h)'\n");
    for (int h = 0; h < NHEAD; h++) {
        int any = 0;
        for (int m = 0; m < REP_NMETRIC; m++) any |= r->t.has[h][m];
        if (!any) continue;
        for (int s = 0; s < r->t.ns; s++)
            if ((status = write_curve_data(r, h, s))) return status;
        plot_curves(r, h);
    }
    if ((status = rep_plot_maps(r)) || (status = rep_scorecard(r))) return status;
    int bad = ferror(r->gp);
    bad |= fclose(r->gp) != 0;
    r->gp = NULL;
    return bad ? util_fail(UTIL_EIO, "%s: cannot write the gnuplot script", r->sp->dir) : UTIL_OK;
}

/* The figures, when gnuplot is installed; a report without the figures it
 * should have (a full disk leaves broken PNGs) is an error naming
 * gnuplot's last message. Without gnuplot the scorecard's CSV and tables
 * are still written. */
static int draw_figures(report *r) {
    const char *gp_name = "data/figures.gp";
    int status;
    if (!(r->gnuplot = report_have_gnuplot())) {
        snprintf(r->path, sizeof r->path, "%s/%s", r->dir, gp_name);
        if (!(r->gp = fopen("/dev/null", "w"))) return util_fail(UTIL_EIO, "/dev/null: cannot open");
        status = rep_scorecard(r);
        fclose(r->gp), r->gp = NULL;
        return status;
    }
    if ((status = write_script(r, gp_name))) return status;
    if ((r->figures = report_run_gnuplot(r->dir, gp_name) == 0)) return UTIL_OK;
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
    fprintf(md, "# Verification report\n\nScores: `%s` (every variable, level and region; the headline variables below). "
                "Latitude weights as WeatherBench 2 (cell areas between midpoints, poles as half cells).\n\n",
            sp->csv);
    fprintf(html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Verification report</title>\n"
                  "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;margin:1em 0}"
                  "td,th{border:1px solid #999;padding:3px 8px;text-align:right}img{margin:4px}"
                  "table.card td{border:1px solid #fff;padding:1px 3px;font-size:75%%;min-width:2.5em}</style></head><body>\n"
                  "<h1>Verification report</h1>\n<p>Scores: <code>");
    html_text(html, sp->csv);
    fprintf(html, "</code> (every variable, level and region; the headline variables below). Latitude weights as "
                  "WeatherBench 2 (cell areas between midpoints, poles as half cells).</p>\n");
    if (sp->notes) {
        fprintf(md, "%s\n\n", sp->notes);
        fprintf(html, "<p>");
        html_text(html, sp->notes);
        fprintf(html, "</p>\n");
    }
    return UTIL_OK;
}

/* One headline row: source s's metric m in region g at the headline leads. */
static void table_row(report *r, int s, int m, int g) {
    rep_table *t = &r->t;
    fprintf(r->md, "| %s |", t->src[s]);
    fprintf(r->html, "<tr><th>");
    html_text(r->html, t->src[s]);
    fprintf(r->html, "</th>");
    for (int h = 0; h < NHEAD; h++)
        for (int q = 0; q < r->nshow && t->has[h][m]; q++) {
            int l = 0;
            while (l < t->nl && t->lead[l] != r->show[q]) l++;
            double v = l < t->nl ? *rep_at(t, s, h, l, g, m) : NAN;
            if (isfinite(v)) fprintf(r->md, " %.4g |", v), fprintf(r->html, "<td>%.4g</td>", v);
            else fprintf(r->md, " - |"), fprintf(r->html, "<td>-</td>");
        }
    fprintf(r->md, "\n");
    fprintf(r->html, "</tr>\n");
}

/* The headline table of metric m in region g under a heading of `level`
 * (2: ##, 3: ###): a row per source that has the metric there. */
static void write_table(report *r, int m, int g, int level) {
    rep_table *t = &r->t;
    FILE *md = r->md, *html = r->html;
    int nhead = 0;
    for (int h = 0; h < NHEAD; h++) nhead += t->has[h][m];
    fprintf(md, "%s %s (%s)\n\n", level == 2 ? "##" : "###", metric_title[m], t->reg[g]);
    fprintf(html, "<h%d>%s (", level, metric_title[m]);
    html_text(html, t->reg[g]);
    fprintf(html, ")</h%d>\n", level);
    if (!nhead) {
        fprintf(md, "None of z500, t850, t2m, u10, msl was scored.\n\n");
        fprintf(html, "<p>None of z500, t850, t2m, u10, msl was scored.</p>\n");
        return;
    }
    fprintf(md, "| source |");
    fprintf(html, "<table><tr><th>source</th>");
    for (int h = 0; h < NHEAD; h++)
        for (int q = 0; q < r->nshow && t->has[h][m]; q++) {
            fprintf(md, " %s %gh |", headline[h].label, r->show[q]);
            fprintf(html, "<th>%s %gh</th>", headline[h].label, r->show[q]);
        }
    fprintf(md, "\n|---|");
    for (int i = 0; i < nhead * r->nshow; i++) fprintf(md, "---:|");
    fprintf(md, "\n");
    fprintf(html, "</tr>\n");
    for (int s = 0; s < t->ns; s++) {
        int any = m != REP_CRPS && m != REP_SPREAD_SKILL && m != REP_RQE; /* only the rows of sources scored so */
        for (int h = 0; h < NHEAD; h++)
            for (int l = 0; l < t->nl; l++) any |= isfinite(*rep_at(t, s, h, l, g, m));
        if (any) table_row(r, s, m, g);
    }
    fprintf(html, "</table>\n");
    fprintf(md, "\n");
}

/* What the tables' numbers are. */
static void explain(report *r, const char *text) {
    fprintf(r->md, "%s\n\n", text);
    fprintf(r->html, "<p>%s</p>\n", text);
}

/* The relative quantile errors, a table per region, where computed. */
static void write_extremes(report *r) {
    const rep_table *t = &r->t;
    if (!t->has_metric[REP_RQE]) return;
    fprintf(r->md, "## Extremes\n\n");
    fprintf(r->html, "<h2>Extremes</h2>\n");
    for (int q = 0; q < t->nr; q++) write_table(r, REP_RQE, q, 3);
    explain(r, "Relative quantile error (Pangu-Weather paper): the mean over 50 quantiles from 90% to 99.99% of "
               "(forecast quantile - truth quantile) / |truth quantile| over the region's grid points, averaged over "
               "initial times; dimensionless, negative where the forecast underestimates the extremes, 0 for "
               "matching distributions.");
}

/* Global RMSE, ACC, bias; every other region's RMSE and bias; the
 * ensemble's CRPS and spread-skill ratio: each where it was computed. */
static void write_tables(report *r) {
    const rep_table *t = &r->t;
    int g = global_region(t);
    const int global_metrics[] = {REP_RMSE, REP_ACC, REP_BIAS};
    for (int k = 0; k < 3; k++)
        if (t->has_metric[global_metrics[k]] || k == 0) write_table(r, global_metrics[k], g, 2);
    explain(r, "Units: z500 m2 s-2, t850 and t2m K, u10 m s-1, msl Pa. ACC: uncentred anomaly correlation with the "
               "climatology at the valid day of year and hour. Bias: mean of forecast - truth.");
    if (t->nr > 1) {
        fprintf(r->md, "## Regions\n\n");
        fprintf(r->html, "<h2>Regions</h2>\n");
        for (int q = 0; q < t->nr; q++)
            for (int k = 0; k < 3 && q != g; k++)
                if (global_metrics[k] != REP_ACC && t->has_metric[global_metrics[k]]) write_table(r, global_metrics[k], q, 3);
    }
    if (t->has_metric[REP_CRPS] || t->has_metric[REP_SPREAD_SKILL]) {
        fprintf(r->md, "## Ensemble\n\n");
        fprintf(r->html, "<h2>Ensemble</h2>\n");
        for (int q = 0; q < t->nr; q++) {
            if (t->has_metric[REP_CRPS]) write_table(r, REP_CRPS, q, 3);
            if (t->has_metric[REP_SPREAD_SKILL]) write_table(r, REP_SPREAD_SKILL, q, 3);
        }
        explain(r, "CRPS: the fair estimator over the members (units of the variable); spread-skill: sqrt(mean ensemble "
                   "variance) / RMSE of the ensemble mean (1 for a reliable ensemble).");
    }
    write_extremes(r);
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
        for (int c = 0; c < NCURVE; c++) {
            const char *m = rep_metric_csv[curve_metrics[c]];
            snprintf(r->path, sizeof r->path, "%s/%s_%s.png", r->dir, m, headline[h].label);
            if (access(r->path, R_OK) != 0) continue;
            fprintf(md, "![%s %s against lead time](%s_%s.png)\n", headline[h].label, metric_title[curve_metrics[c]], m,
                    headline[h].label);
            fprintf(html, "<img src=\"%s_%s.png\" width=\"560\" alt=\"%s %s\">\n", m, headline[h].label, headline[h].label,
                    metric_title[curve_metrics[c]]);
        }
    rep_list_maps(r);
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
    write_tables(r);
    rep_list_scorecard(r);
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
    free(r->card);
    if (status) util_outdir_abort(sp->dir, "report", r->dir);
    else status = util_outdir_commit(sp->dir, "report", r->dir);
    free(r);
    return status;
}
