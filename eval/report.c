/* eval report: headline table and figures (gnuplot) from scores.csv. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"
#include "eval.h"

typedef struct {
    char source[128], variable[16], level[16], region[32], metric[16];
    double lead, value;
} row;

static const struct {
    const char *label, *variable, *level, *units;
} headline[] = {{"z500", "z", "500", "m2 s-2"}, {"t850", "t", "850", "K"}, {"t2m", "t2m", "", "K"},
                {"u10", "u10", "", "m s-1"},   {"msl", "msl", "", "Pa"}};
#define NHEAD (int)(sizeof headline / sizeof headline[0])

static int read_rows(const char *path, row **out, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot read the scores", path);
    char line[512];
    int cap = 1024;
    *n = 0;
    *out = malloc(sizeof(row) * cap);
    if (!*out || !fgets(line, sizeof line, f)) {
        fclose(f);
        return util_fail(UTIL_EFORMAT, "%s: empty scores", path);
    }
    while (fgets(line, sizeof line, f)) {
        if (*n == cap) {
            row *g = realloc(*out, sizeof(row) * (cap *= 2));
            if (!g) break;
            *out = g;
        }
        row *r = &(*out)[*n];
        char *fields[7], *p = line;
        for (int i = 0; i < 7; i++) {
            fields[i] = p;
            p = strchr(p, i < 6 ? ',' : '\n');
            if (!p && i < 6) break;
            if (p) *p++ = 0;
        }
        snprintf(r->source, sizeof r->source, "%s", fields[0]);
        snprintf(r->variable, sizeof r->variable, "%s", fields[1]);
        snprintf(r->level, sizeof r->level, "%s", fields[2]);
        r->lead = atof(fields[3]);
        snprintf(r->region, sizeof r->region, "%s", fields[4]);
        snprintf(r->metric, sizeof r->metric, "%s", fields[5]);
        r->value = atof(fields[6]);
        (*n)++;
    }
    fclose(f);
    return UTIL_OK;
}

static double find(const row *rows, int n, const char *src, int h, double lead, const char *metric) {
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].source, src) && !strcmp(rows[i].variable, headline[h].variable) &&
            !strcmp(rows[i].level, headline[h].level) && rows[i].lead == lead && !strcmp(rows[i].region, "global") &&
            !strcmp(rows[i].metric, metric))
            return rows[i].value;
    return NAN;
}

int eval_report(const char *dir, const char *csv_path, const int *map_leads, int nmap) {
    row *rows = NULL;
    int n = 0, status = read_rows(csv_path, &rows, &n);
    if (status) return status;
    mkdir(dir, 0755);
    char sources[16][128];
    int ns = 0;
    double leads[512];
    int nl = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < ns && strcmp(sources[k], rows[i].source)) k++;
        if (k == ns && ns < 16) snprintf(sources[ns++], 128, "%s", rows[i].source);
        k = 0;
        while (k < nl && leads[k] != rows[i].lead) k++;
        if (k == nl && nl < 512) leads[nl++] = rows[i].lead;
    }
    for (int a = 0; a < nl; a++)
        for (int b = a + 1; b < nl; b++)
            if (leads[b] < leads[a]) {
                double t = leads[a];
                leads[a] = leads[b], leads[b] = t;
            }
    /* headline leads: 1, 3, 5 and 7 days where scored, else the scored leads nearest them */
    double want[4] = {24, 72, 120, 168}, show[4];
    int nshow = 0;
    for (int q = 0; q < 4; q++)
        for (int k = 0; k < nl; k++)
            if (leads[k] == want[q]) show[nshow++] = want[q];
    if (!nshow)
        for (int k = 0; k < nl && nshow < 4; k++) show[nshow++] = leads[k * (nl > 4 ? nl / 4 : 1) < nl ? k * (nl > 4 ? nl / 4 : 1) : k];
    int has_acc = 0;
    for (int i = 0; i < n; i++) has_acc |= !strcmp(rows[i].metric, "acc");
    /* data files and gnuplot script */
    char path[4300];
    int gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    for (int h = 0; h < NHEAD; h++)
        for (int s = 0; s < ns; s++) {
            snprintf(path, sizeof path, "%s/%s_%s.dat", dir, headline[h].label, sources[s]);
            FILE *f = fopen(path, "w");
            if (!f) continue;
            for (int k = 0; k < nl; k++)
                fprintf(f, "%g %.9g %.9g\n", leads[k], find(rows, n, sources[s], h, leads[k], "rmse"),
                        find(rows, n, sources[s], h, leads[k], "acc"));
            fclose(f);
        }
    if (gnuplot) {
        snprintf(path, sizeof path, "%s/figures.gp", dir);
        FILE *g = fopen(path, "w");
        if (g) {
            fprintf(g, "set terminal pngcairo size 800,520 font 'sans,11' noenhanced\nset grid\nset key top left\nset xlabel 'lead time (h)'\n");
            for (int h = 0; h < NHEAD; h++)
                for (int m = 0; m < 1 + has_acc; m++) {
                    fprintf(g, "set output '%s/%s_%s.png'\nset ylabel '%s %s%s%s'\nset title '%s %s (global)'\nplot ", dir,
                            m ? "acc" : "rmse", headline[h].label, m ? "ACC" : "RMSE", headline[h].label, m ? "" : ", ",
                            m ? "" : headline[h].units, headline[h].label, m ? "ACC" : "RMSE");
                    for (int s = 0; s < ns; s++)
                        fprintf(g, "%s'%s/%s_%s.dat' using 1:%d with linespoints lw 2 title '%s'", s ? ", " : "", dir,
                                headline[h].label, sources[s], m ? 3 : 2, sources[s]);
                    fprintf(g, "\n");
                }
            fprintf(g, "unset grid\nset size ratio -1\nset xlabel 'longitude'\nset ylabel 'latitude'\nset key off\n"
                       "set terminal pngcairo size 900,520 font 'sans,11' noenhanced\n");
            for (int q = 0; q < nmap; q++)
                for (int v = 0; v < 2; v++)
                    for (int part = 0; part < 3; part++) {
                        const char *vn = v ? "t2m" : "z500", *pn = part == 0 ? "forecast" : part == 1 ? "truth" : "error";
                        snprintf(path, sizeof path, "%s/map_%s_%dh_%s.dat", dir, vn, map_leads[q], pn);
                        if (access(path, R_OK) != 0) continue;
                        fprintf(g, "set output '%s/map_%s_%dh_%s.png'\nset title '%s %s at +%d h (%s)'\n", dir, vn,
                                map_leads[q], pn, vn, pn, map_leads[q], sources[0]);
                        fprintf(g, part == 2 ? "set palette defined (-1 'blue', 0 'white', 1 'red')\n" : "set palette rgb 33,13,10\n");
                        fprintf(g, "plot '%s' using 1:2:3 with image\n", path);
                    }
            fclose(g);
            char cmd[4500];
            snprintf(cmd, sizeof cmd, "gnuplot '%s/figures.gp' 2>'%s/gnuplot.log'", dir, dir);
            if (system(cmd) != 0) gnuplot = 0;
        }
    }
    /* report.md and report.html */
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *md = fopen(path, "w");
    snprintf(path, sizeof path, "%s/report.html", dir);
    FILE *html = fopen(path, "w");
    if (!md || !html) {
        if (md) fclose(md);
        if (html) fclose(html);
        free(rows);
        return util_fail(UTIL_EIO, "%s: cannot write the report", dir);
    }
    fprintf(md, "# Verification report\n\nScores from `%s` (global, latitude-weighted as WeatherBench 2).\n\n", csv_path);
    fprintf(html, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Verification report</title>"
                  "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
                  "td,th{border:1px solid #999;padding:3px 8px;text-align:right}</style></head><body>"
                  "<h1>Verification report</h1><p>Scores from <code>%s</code> (global, latitude-weighted as WeatherBench 2).</p>",
            csv_path);
    for (int m = 0; m < 1 + has_acc; m++) {
        const char *metric = m ? "acc" : "rmse";
        fprintf(md, "## %s\n\n| source |", m ? "ACC" : "RMSE");
        fprintf(html, "<h2>%s</h2><table><tr><th>source</th>", m ? "ACC" : "RMSE");
        for (int h = 0; h < NHEAD; h++)
            for (int q = 0; q < nshow; q++) {
                fprintf(md, " %s %gh |", headline[h].label, show[q]);
                fprintf(html, "<th>%s %gh</th>", headline[h].label, show[q]);
            }
        fprintf(md, "\n|---|");
        for (int h = 0; h < NHEAD * nshow; h++) fprintf(md, "---|");
        fprintf(md, "\n");
        fprintf(html, "</tr>");
        for (int s = 0; s < ns; s++) {
            fprintf(md, "| %s |", sources[s]);
            fprintf(html, "<tr><th>%s</th>", sources[s]);
            for (int h = 0; h < NHEAD; h++)
                for (int q = 0; q < nshow; q++) {
                    double v = find(rows, n, sources[s], h, show[q], metric);
                    if (isnan(v)) fprintf(md, " - |"), fprintf(html, "<td>-</td>");
                    else fprintf(md, " %.4g |", v), fprintf(html, "<td>%.4g</td>", v);
                }
            fprintf(md, "\n");
            fprintf(html, "</tr>");
        }
        fprintf(md, "\n");
        fprintf(html, "</table>");
    }
    fprintf(md, "## Figures\n\n");
    fprintf(html, "<h2>Figures</h2>");
    if (!gnuplot) {
        fprintf(md, "gnuplot is not installed (Debian gnuplot-nox): figures skipped.\n");
        fprintf(html, "<p>gnuplot is not installed (Debian gnuplot-nox): figures skipped.</p>");
    } else {
        for (int h = 0; h < NHEAD; h++)
            for (int m = 0; m < 1 + has_acc; m++) {
                fprintf(md, "![%s %s](%s_%s.png)\n", m ? "ACC" : "RMSE", headline[h].label, m ? "acc" : "rmse", headline[h].label);
                fprintf(html, "<img src='%s_%s.png' width='560'>", m ? "acc" : "rmse", headline[h].label);
            }
        for (int q = 0; q < nmap; q++)
            for (int v = 0; v < 2; v++) {
                const char *vn = v ? "t2m" : "z500";
                fprintf(md, "\n%s at +%d h: ", vn, map_leads[q]);
                for (int part = 0; part < 3; part++) {
                    const char *pn = part == 0 ? "forecast" : part == 1 ? "truth" : "error";
                    fprintf(md, "![%s](map_%s_%dh_%s.png) ", pn, vn, map_leads[q], pn);
                    fprintf(html, "<img src='map_%s_%dh_%s.png' width='360'>", vn, map_leads[q], pn);
                }
                fprintf(md, "\n");
            }
    }
    fprintf(html, "</body></html>\n");
    int bad = fclose(md) != 0;
    bad |= fclose(html) != 0;
    free(rows);
    return bad ? util_fail(UTIL_EIO, "%s: cannot finish the report", dir) : UTIL_OK;
}
