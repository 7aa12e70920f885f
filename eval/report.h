/* Internal to eval/report*.c: the scores read back from the CSV, the report
 * being written, and the parts written by report_maps.c (maps with
 * coastlines) and report_scorecard.c (scorecard against a reference). */
#ifndef PANGU_EVAL_REPORT_H
#define PANGU_EVAL_REPORT_H

#include <stdio.h>

#include "eval.h"
#include "report_gnuplot.h"

#define REP_MAX_SRC 66
#define REP_MAX_LEADS 1024

/* The metrics the report shows, by their CSV names. */
enum { REP_RMSE, REP_ACC, REP_BIAS, REP_MAE, REP_CRPS, REP_SPREAD_SKILL, REP_RQE, REP_NMETRIC };
extern const char *const rep_metric_csv[REP_NMETRIC];

typedef struct {
    const char *label, *variable, *level, *units;
} rep_head;
#define REP_NHEAD 5
extern const rep_head rep_headline[REP_NHEAD];

/* Scores of the headline variables: value[src][head][lead][region][metric]. */
typedef struct {
    int ns, nl, nr;
    char src[REP_MAX_SRC][128];
    char reg[EVAL_MAX_REGIONS][32];
    double lead[REP_MAX_LEADS];
    double *value;
    int has[REP_NHEAD][REP_NMETRIC], has_metric[REP_NMETRIC];
} rep_table;

double *rep_at(const rep_table *t, int s, int h, int l, int r, int m);

/* One scorecard cell: a forecast source against the reference at one
 * field and lead. */
typedef struct {
    double rmse, rmse_ref, rel; /* rel: 100 (rmse - rmse_ref) / rmse_ref */
    eval_paired test;
    int defined;
} rep_cell;

typedef struct {
    const eval_report_spec *sp;
    rep_table t;
    char path[4400], data[4300], dir[4200];
    FILE *md, *html, *gp;
    double show[4]; /* headline leads */
    int nshow, gnuplot, figures;
    char coast_note[1200]; /* why the maps have no coastlines ("" when they have) */
    rep_cell *card;        /* (nsrc, nfield, nleads) of eval_init_scores, NULL: no scorecard */
    int card_sources;      /* sources with a scorecard */
} report;

void rep_html_text(FILE *f, const char *s);
/* Map data, coastlines and their gnuplot commands (into r->gp). */
int rep_plot_maps(report *r);
/* The maps section of report.md and report.html. */
void rep_list_maps(report *r);
/* The scorecard's cells, scorecard.csv and its gnuplot commands. */
int rep_scorecard(report *r);
/* The scorecard section of report.md and report.html. */
void rep_list_scorecard(report *r);

#endif
