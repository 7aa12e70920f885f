/* Running gnuplot for the reports (eval/report.c, eval/trackreport.c). */
#ifndef PANGU_EVAL_REPORT_GNUPLOT_H
#define PANGU_EVAL_REPORT_GNUPLOT_H

/* gnuplot on PATH? (1 or 0) */
int report_have_gnuplot(void);
/* gnuplot on `script` inside dir, its messages in dir/gnuplot.log; its exit
 * status, -1 when it could not be run. */
int report_run_gnuplot(const char *dir, const char *script);

#endif
