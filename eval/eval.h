/* eval: verification scores as WeatherBench 2 and ECMWF compute them.
 * Latitude weights from the sines of cell edges placed midway between
 * latitudes (poles as half cells), normalised to mean 1 over the scored
 * points; regions by latitude. */
#ifndef PANGU_EVAL_H
#define PANGU_EVAL_H

#include <stddef.h>

enum { EVAL_GLOBAL, EVAL_NEXTRA, EVAL_TROPICS, EVAL_SEXTRA, EVAL_NREGIONS };
extern const char *const eval_region_names[EVAL_NREGIONS];

/* w (H): cell-area weights of latitudes lat (H, either order), normalised
 * to mean 1 over the whole grid. */
void eval_lat_weights(double *w, const double *lat, int H);
/* 1 when latitude belongs to region r. */
int eval_in_region(double lat, int r);

/* Sums for one field at one time over one region. */
typedef struct {
    double w, se, e, ae;   /* sum of weights, of w e^2, w e, w |e| */
    double fa, oa, ff, oo; /* ACC: sum w f'o', w f'^2, w o'^2 (anomalies), fa unused when no climatology */
    double crps, spread2;  /* ensembles: sum w crps, sum w ensemble variance */
} eval_sums;

/* Accumulate one field: forecast f, observation o, climatology c (may be
 * NULL), ensemble members ens (M fields of H*W, may be NULL; f is then the
 * ensemble mean) into sums[EVAL_NREGIONS]. */
void eval_field(eval_sums *sums, const float *f, const float *o, const float *c, const float *const *ens, int M,
                const double *lat, const double *w, int H, int W);
/* Vector wind error: sums of w |(fu - ou, fv - ov)|^2 into se. */
void eval_wind(eval_sums *sums, const float *fu, const float *fv, const float *ou, const float *ov, const double *lat,
               const double *w, int H, int W);

/* report.md, report.html and PNG figures (gnuplot) in dir from a scores
 * CSV; maps from the map_*.dat files eval left in dir for map_leads. */
int eval_report(const char *dir, const char *csv_path, const int *map_leads, int nmap);

#endif
