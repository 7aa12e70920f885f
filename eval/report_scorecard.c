/* eval report scorecard: each forecast source against a reference source
 * (--scorecard NAME, else the first baseline), per variable, level and
 * lead: the relative RMSE difference, as WeatherBench 2's scorecard shows
 * it (weatherbench2/visualization.py, visualize_scorecard: 100 (forecast -
 * baseline) / baseline, colour map RdBu_r), marked by the significance of a
 * paired test over initial times as ECMWF's scorecards are (Geer 2016,
 * Significance of changes in medium-range forecast scores, Tellus A 68,
 * 30229: Student's t on the paired differences of per-forecast RMSE, the
 * variance inflated for autocorrelation with an AR(1) model). WB2's code
 * computes no significance. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/util.h"
#include "report.h"

#define LEVEL_95 0.05
#define LEVEL_997 0.003

/* Continued fraction of the incomplete beta function (DLMF 8.17.22),
 * evaluated by the modified Lentz method. */
static double beta_fraction(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        for (int odd = 0; odd < 2; odd++) {
            double num = odd ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                             : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + num * d;
            if (fabs(d) < tiny) d = tiny;
            c = 1 + num / c;
            if (fabs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            if (odd && fabs(d * c - 1) < 1e-15) return h;
        }
    }
    return h;
}

/* The regularised incomplete beta function I_x(a, b). */
static double incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a;
    return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double eval_student_p(double t, double df) {
    if (!(df > 0) || isnan(t)) return NAN;
    if (isinf(t)) return 0;
    return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

int eval_paired_test(const double *d, int n, eval_paired *o) {
    memset(o, 0, sizeof *o);
    o->mean = o->sd = o->r1 = o->n_eff = o->t = o->p = NAN;
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(d[i])) sum += d[i], o->n++;
    if (o->n < 2) return 0;
    o->mean = sum / o->n;
    double ss = 0, lag = 0, prev = NAN;
    for (int i = 0; i < n; i++) {
        if (!isfinite(d[i])) continue;
        double dev = d[i] - o->mean;
        ss += dev * dev;
        if (!isnan(prev)) lag += prev * dev;
        prev = dev;
    }
    o->sd = sqrt(ss / (o->n - 1));
    if (ss == 0) { /* identical differences: certain, or no difference at all */
        o->r1 = 0, o->n_eff = o->n, o->t = o->mean == 0 ? 0 : copysign(INFINITY, o->mean), o->p = o->mean == 0 ? 1 : 0;
        return 1;
    }
    o->r1 = lag / ss;
    double r = fmax(o->r1, 0);
    o->n_eff = o->n * (1 - r) / (1 + r);
    if (!(o->n_eff > 1)) return 0;
    o->t = o->mean / (o->sd / sqrt(o->n_eff));
    o->p = eval_student_p(o->t, o->n_eff - 1);
    return 1;
}

static const double *mse_of(const eval_init_scores *b, int s, int l, int f) {
    return &b->mse[(((size_t)s * b->nleads + l) * b->nfield + f) * b->ninit];
}

/* One cell: the initial times both scored, their RMSEs and the test. */
static void fill_cell(const eval_init_scores *b, int s, int l, int f, double *diff, rep_cell *c) {
    const double *x = mse_of(b, s, l, f), *y = mse_of(b, b->reference, l, f);
    double sx = 0, sy = 0;
    int n = 0;
    for (int i = 0; i < b->ninit; i++) {
        diff[i] = NAN;
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        diff[i] = sqrt(x[i]) - sqrt(y[i]);
        sx += x[i], sy += y[i], n++;
    }
    memset(c, 0, sizeof *c);
    if (!n || !(sy > 0)) return;
    c->rmse = sqrt(sx / n), c->rmse_ref = sqrt(sy / n);
    c->rel = 100 * (c->rmse - c->rmse_ref) / c->rmse_ref;
    eval_paired_test(diff, b->ninit, &c->test);
    c->test.n = n;
    c->defined = 1;
}

static int card_source(const eval_init_scores *b, int s) { return s != b->reference && !b->baseline[s]; }

static rep_cell *cell_at(const report *r, int s, int f, int l) {
    const eval_init_scores *b = r->sp->by_init;
    return &r->card[((size_t)s * b->nfield + f) * b->nleads + l];
}

static const char *mark_of(const rep_cell *c) {
    if (!c->defined || !isfinite(c->test.p)) return "";
    return c->test.p < LEVEL_997 ? "**" : c->test.p < LEVEL_95 ? "*" : "";
}

static void field_label(const eval_init_scores *b, int f, char *out, size_t cap) {
    if (b->level[f] > 0) snprintf(out, cap, "%s%g", b->var[f], b->level[f]);
    else snprintf(out, cap, "%s", b->var[f]);
}

/* scorecard.csv: a row per source, field and lead. */
static int write_card_csv(report *r) {
    const eval_init_scores *b = r->sp->by_init;
    snprintf(r->path, sizeof r->path, "%s/scorecard.csv", r->dir);
    FILE *f = fopen(r->path, "w");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot write the scorecard (%s)", r->sp->dir, strerror(errno));
    fprintf(f, "source,reference,variable,level,lead_hours,initial_times,rmse,rmse_reference,relative_difference_percent,"
               "mean_difference,lag1_autocorrelation,effective_sample_size,t,p_value,significant_95,significant_99.7\n");
    for (int s = 0; s < b->nsrc; s++)
        for (int k = 0; k < b->nfield && card_source(b, s); k++)
            for (int l = 0; l < b->nleads; l++) {
                const rep_cell *c = cell_at(r, s, k, l);
                if (!c->defined) continue;
                char lev[32] = "";
                if (b->level[k] > 0) snprintf(lev, sizeof lev, "%g", b->level[k]);
                int p95 = isfinite(c->test.p) && c->test.p < LEVEL_95, p997 = isfinite(c->test.p) && c->test.p < LEVEL_997;
                fprintf(f, "%s,%s,%s,%s,%g,%d,%.9g,%.9g,%.6g,%.9g,%.6g,%.6g,%.6g,%.6g,%d,%d\n", b->names[s], b->names[b->reference],
                        b->var[k], lev, b->leads[l], c->test.n, c->rmse, c->rmse_ref, c->rel, c->test.mean, c->test.r1,
                        c->test.n_eff, c->test.t, c->test.p, p95, p997);
            }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return util_fail(UTIL_EIO, "%s: cannot write the scorecard (disk full?)", r->sp->dir);
    return UTIL_OK;
}

/* The colour scale's half range: the 90th percentile of |relative
 * difference| up to the next 5 %, within 5 .. 100 % (WB2's default scale
 * is 100 %): a few huge values (near-zero reference errors) would leave
 * every other cell white; cells beyond it take the end colours. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double card_range(const report *r, int s) {
    const eval_init_scores *b = r->sp->by_init;
    double *v = malloc(sizeof(double) * (size_t)b->nfield * b->nleads);
    int n = 0;
    if (!v) return 100;
    for (int k = 0; k < b->nfield; k++)
        for (int l = 0; l < b->nleads; l++)
            if (cell_at(r, s, k, l)->defined) v[n++] = fabs(cell_at(r, s, k, l)->rel);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double p90 = n ? v[(int)floor(0.9 * (n - 1))] : 0;
    free(v);
    return fmin(100, fmax(5, ceil(p90 / 5) * 5));
}

/* data/scorecard_SRC.dat (lead index, row, relative difference, p) and
 * the gnuplot commands of scorecard_SRC.png: a cell per field and lead,
 * open circles at 95 %, filled at 99.7 %. */
static int plot_card(report *r, int s) {
    const eval_init_scores *b = r->sp->by_init;
    snprintf(r->path, sizeof r->path, "%s/scorecard_%s.dat", r->data, b->names[s]);
    FILE *f = fopen(r->path, "w");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot write the scorecard data (%s)", r->sp->dir, strerror(errno));
    for (int k = 0; k < b->nfield; k++) {
        for (int l = 0; l < b->nleads; l++) {
            const rep_cell *c = cell_at(r, s, k, l);
            fprintf(f, "%d %d %.6g %.6g\n", l, b->nfield - 1 - k, c->defined ? c->rel : NAN, c->defined ? c->test.p : NAN);
        }
        fprintf(f, "\n");
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return util_fail(UTIL_EIO, "%s: cannot write the scorecard data (disk full?)", r->sp->dir);
    double range = card_range(r, s);
    int height = 160 + 14 * b->nfield;
    fprintf(r->gp, "set terminal png size 1000,%d noenhanced\nset output 'scorecard_%s.png'\nunset grid\nset key off\n", height,
            b->names[s]);
    fprintf(r->gp, "set title 'RMSE of %s relative to %s (%%), %s; o: p < 0.05, filled: p < 0.003 (paired t-test over "
                   "initial times)'\n", b->names[s], b->names[b->reference], b->region);
    fprintf(r->gp, "set palette defined (-5 '#053061', -4 '#2166ac', -3 '#4393c3', -2 '#92c5de', -1 '#d1e5f0', 0 '#f7f7f7', "
                   "1 '#fddbc7', 2 '#f4a582', 3 '#d6604d', 4 '#b2182b', 5 '#67001f')\n");
    fprintf(r->gp, "set cbrange [%g:%g]\nset cblabel 'relative RMSE difference (%%; blue: %s better)'\n", -range, range, b->names[s]);
    fprintf(r->gp, "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset xlabel 'lead time (h)'\nset ylabel ''\nset size noratio\n",
            b->nleads - 0.5, b->nfield - 0.5);
    fprintf(r->gp, "set xtics (");
    int every = b->nleads > 16 ? (int)ceil(b->nleads / 12.0) : 1;
    for (int l = 0; l < b->nleads; l += every) fprintf(r->gp, "%s'%g' %d", l ? ", " : "", b->leads[l], l);
    fprintf(r->gp, ")\nset ytics (");
    for (int k = 0; k < b->nfield; k++) {
        char lab[64];
        field_label(b, k, lab, sizeof lab);
        fprintf(r->gp, "%s'%s' %d", k ? ", " : "", lab, b->nfield - 1 - k);
    }
    fprintf(r->gp, ") font ',8'\n");
    fprintf(r->gp, "plot 'data/scorecard_%s.dat' using 1:2:3 with image, '' using 1:($4 < %g && $4 >= %g ? $2 : 1/0) with "
                   "points pt 6 ps 0.9 lc rgb 'black', '' using 1:($4 < %g ? $2 : 1/0) with points pt 7 ps 0.9 lc rgb 'black'\n",
            b->names[s], LEVEL_95, LEVEL_997, LEVEL_997);
    fprintf(r->gp, "set xtics autofreq\nset ytics autofreq font ''\nunset cblabel\nset autoscale\n");
    return UTIL_OK;
}

int rep_scorecard(report *r) {
    const eval_init_scores *b = r->sp->by_init;
    if (!b || b->reference < 0 || !b->mse) return UTIL_OK;
    size_t n = (size_t)b->nsrc * b->nfield * b->nleads;
    double *diff = malloc(sizeof(double) * (size_t)b->ninit);
    r->card = calloc(n, sizeof *r->card);
    if (!diff || !r->card) {
        free(diff);
        return util_fail(UTIL_ENOMEM, "out of memory (scorecard)");
    }
    for (int s = 0; s < b->nsrc; s++)
        for (int k = 0; k < b->nfield && card_source(b, s); k++)
            for (int l = 0; l < b->nleads; l++) fill_cell(b, s, l, k, diff, cell_at(r, s, k, l));
    free(diff);
    int status = write_card_csv(r);
    for (int s = 0; s < b->nsrc && !status; s++) {
        int any = 0;
        for (int k = 0; k < b->nfield && card_source(b, s); k++)
            for (int l = 0; l < b->nleads; l++) any |= cell_at(r, s, k, l)->defined;
        r->card_sources += any;
        if (any) status = plot_card(r, s);
    }
    return status;
}

/* A cell's colour: RdBu interpolated at rel / range in -1..1. */
static void cell_colour(double x, char *out, size_t cap) {
    static const unsigned rgb[11] = {0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7,
                                     0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f};
    double u = (fmax(-1, fmin(1, x)) + 1) * 5;
    int i = (int)fmin(9, floor(u));
    double w = u - i;
    int c[3];
    for (int k = 0; k < 3; k++) {
        int a = (int)(rgb[i] >> (16 - 8 * k) & 255), z = (int)(rgb[i + 1] >> (16 - 8 * k) & 255);
        c[k] = (int)lround(a + w * (z - a));
    }
    snprintf(out, cap, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* The HTML table of source s: a row per field, a column per lead. */
static void html_card(report *r, int s) {
    const eval_init_scores *b = r->sp->by_init;
    FILE *h = r->html;
    double range = card_range(r, s);
    fprintf(h, "<table class=\"card\"><tr><th></th>");
    for (int l = 0; l < b->nleads; l++) fprintf(h, "<th>%g</th>", b->leads[l]);
    fprintf(h, "</tr>\n");
    for (int k = 0; k < b->nfield; k++) {
        char lab[64], col[16];
        field_label(b, k, lab, sizeof lab);
        fprintf(h, "<tr><th>%s</th>", lab);
        for (int l = 0; l < b->nleads; l++) {
            const rep_cell *c = cell_at(r, s, k, l);
            if (!c->defined) {
                fprintf(h, "<td></td>");
                continue;
            }
            cell_colour(c->rel / range, col, sizeof col);
            fprintf(h, "<td style=\"background:%s%s\">%+.1f%s</td>", col, fabs(c->rel) > 0.6 * range ? ";color:#fff" : "",
                    c->rel, mark_of(c));
        }
        fprintf(h, "</tr>\n");
    }
    fprintf(h, "</table>\n");
}

/* The markdown table of source s: the headline fields at the headline leads. */
static void md_card(report *r, int s) {
    const eval_init_scores *b = r->sp->by_init;
    static const char *const want[][2] = {{"z", "500"}, {"t", "850"}, {"t2m", ""}, {"u10", ""}, {"msl", ""}};
    fprintf(r->md, "| field |");
    for (int q = 0; q < r->nshow; q++) fprintf(r->md, " %gh |", r->show[q]);
    fprintf(r->md, "\n|---|");
    for (int q = 0; q < r->nshow; q++) fprintf(r->md, "---:|");
    fprintf(r->md, "\n");
    for (int w = 0; w < 5; w++)
        for (int k = 0; k < b->nfield; k++) {
            char lev[16] = "";
            if (b->level[k] > 0) snprintf(lev, sizeof lev, "%g", b->level[k]);
            if (strcmp(b->var[k], want[w][0]) || strcmp(lev, want[w][1])) continue;
            fprintf(r->md, "| %s%s |", b->var[k], lev);
            for (int q = 0; q < r->nshow; q++) {
                int l = 0;
                while (l < b->nleads && b->leads[l] != r->show[q]) l++;
                const rep_cell *c = l < b->nleads ? cell_at(r, s, k, l) : NULL;
                if (c && c->defined) fprintf(r->md, " %+.1f%%%s |", c->rel, mark_of(c));
                else fprintf(r->md, " - |");
            }
            fprintf(r->md, "\n");
        }
}

void rep_list_scorecard(report *r) {
    const eval_init_scores *b = r->sp->by_init;
    if (!r->card || !r->card_sources) return;
    const char *ref = b->names[b->reference];
    fprintf(r->md, "## Scorecard against %s\n\n", ref);
    fprintf(r->html, "<h2>Scorecard against ");
    rep_html_text(r->html, ref);
    fprintf(r->html, "</h2>\n");
    char about[1024];
    snprintf(about, sizeof about,
             "Relative RMSE difference 100 (RMSE - RMSE of %s) / RMSE of %s in %%, over the initial times both scored, "
             "region %s (negative, blue: better than %s). * p < 0.05, ** p < 0.003: two-sided paired t-test "
             "of the per-initial-time RMSE differences, the variance inflated for serial correlation (AR(1), effective "
             "sample size n (1 - r1) / (1 + r1)); %d initial times. Every cell in scorecard.csv.",
             ref, ref, b->region, ref, b->ninit);
    fprintf(r->md, "%s\n\n", about);
    fprintf(r->html, "<p>");
    rep_html_text(r->html, about);
    fprintf(r->html, "</p>\n");
    for (int s = 0; s < b->nsrc; s++) {
        if (!card_source(b, s)) continue;
        fprintf(r->md, "### %s\n\n", b->names[s]);
        fprintf(r->html, "<h3>");
        rep_html_text(r->html, b->names[s]);
        fprintf(r->html, "</h3>\n");
        md_card(r, s);
        snprintf(r->path, sizeof r->path, "%s/scorecard_%s.png", r->dir, b->names[s]);
        if (r->figures && access(r->path, R_OK) == 0) {
            fprintf(r->md, "\n![scorecard of %s against %s](scorecard_%s.png)\n\n", b->names[s], ref, b->names[s]);
            fprintf(r->html, "<img src=\"scorecard_%s.png\" width=\"900\" alt=\"scorecard\">\n", b->names[s]);
        } else fprintf(r->md, "\n");
        html_card(r, s);
    }
}
