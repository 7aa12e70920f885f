/* regrid: first-order conservative coarsening of a regular latitude-longitude
 * grid by an integer factor K (the weights of `cdo remapcon` to the coarse
 * grid, with its default FRACAREA normalisation).
 *
 * Target grid. Longitudes: every K-th source longitude from the first
 * (K must divide W). Latitudes: when the source runs from pole to pole,
 * every K-th source latitude (K must divide H - 1; 721 -> 181 for K = 4, the
 * poles kept); otherwise blocks of K source cells (K must divide H; the
 * centre is the mean of the K source centres, 32 -> 8 for K = 4).
 *
 * Cells. Edges are midpoints between centres, clipped to +-90 degrees (pole
 * points get half cells); longitudes that cover the circle are periodic.
 * A target cell's value is the mean of the source cells it overlaps weighted
 * by the overlap area on the sphere, (sin(north) - sin(south)) times the
 * longitude overlap in radians. Missing source values (NaN) are left out and
 * the remaining weights renormalised by the valid overlap area: CDO's
 * FRACAREA normalisation with REMAP_AREA_MIN = 0, so a target cell is NaN
 * only when none of its sources is valid.
 *
 * The weights are separable: overlap(i, l -> j, k) = lat.overlap(i -> j) *
 * lon.overlap(l -> k); each axis is held as a compressed sparse row list. */
#ifndef PANGU_REGRID_H
#define PANGU_REGRID_H

#include <stddef.h>

enum {
    REGRID_LAT_SUBSAMPLE = 0, /* every K-th latitude, pole to pole */
    REGRID_LAT_BLOCKS = 1,    /* blocks of K source cells */
};

/* One axis: target cell o takes the source cells index[start[o] ..
 * start[o + 1]) with their overlaps (latitude: difference of the sines of
 * the overlap's edges; longitude: radians). */
typedef struct {
    int n_in, n_out;
    int *start;      /* (n_out + 1) */
    int *index;      /* (start[n_out]) */
    double *overlap; /* (start[n_out]) */
} regrid_axis;

typedef struct {
    int H, W, K, Ho, Wo;
    int lat_mode;                          /* REGRID_LAT_SUBSAMPLE or REGRID_LAT_BLOCKS */
    int periodic;                          /* 1 when the longitudes cover the circle */
    double *lat_out, *lon_out;             /* (Ho), (Wo) degrees, in the source's orientation */
    double *lat_edges_out, *lon_edges_out; /* (Ho + 1), (Wo + 1): target cell o lies between edges o and o + 1 */
    double *lat_area_in, *lat_area_out;    /* (H), (Ho): |sin(edge) - sin(edge)| of each latitude band */
    double *lon_width_in, *lon_width_out;  /* (W), (Wo): longitude widths in radians */
    regrid_axis lat, lon;
} regrid_weights;

/* Check the source coordinates (regular spacing, latitudes within +-90
 * in either order, longitudes increasing) and the factor, and build the
 * target grid and weights. Errors (UTIL_EINVAL, UTIL_EFORMAT) name the axis
 * at fault; callers add the file. On failure *w is left empty. */
int regrid_weights_build(regrid_weights *w, const double *lat, int H, const double *lon, int W, int K);
void regrid_weights_free(regrid_weights *w);

/* Area of source cell (i, l) and of target cell (j, k) on the unit sphere. */
double regrid_area_in(const regrid_weights *w, int i, int l);
double regrid_area_out(const regrid_weights *w, int j, int k);

/* Coarsen one slab: in (H, W) row-major, NaN = missing; out (Ho, Wo),
 * NaN where no source is valid. Sums in double; OpenMP over target rows
 * when called outside a parallel region. */
void regrid_apply(const regrid_weights *w, const double *in, double *out);
void regrid_apply_float(const regrid_weights *w, const float *in, float *out);

/* The full sparse matrix, for inspection or export (SCRIP-like, before
 * normalisation): link n maps source src[n] = i * W + l to target dst[n] =
 * j * Wo + k with the overlap area area[n] (unit sphere), sorted by target
 * then source. The arrays are malloc'ed; free them with free(). */
int regrid_links(const regrid_weights *w, size_t *nlinks, int **dst, int **src, double **area);

#endif
