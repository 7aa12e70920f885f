/* coast: coastlines for maps, read at run time from the Natural Earth
 * coastline shapefile Debian ships in libplplot-data
 * (/usr/share/plplot<VERSION>/globe.shp, public domain: Natural Earth,
 * naturalearthdata.com, as /usr/share/doc/libplplot-data/copyright and
 * README.shapefiles say). Nothing is downloaded; without the package,
 * coast_load fails naming it. PANGU_COAST_FILE names another polyline or
 * polygon shapefile (longitudes -180..180 or 0..360, latitudes -90..90).
 *
 * The lines come clipped to a box, longitudes in the box's convention
 * (lon0 .. lon0 + 360: 0..360 for lon0 = 0, -180..180 for lon0 = -180) and
 * split where they cross the box's longitude seam, so that a plot never
 * draws a line across the whole map. */
#ifndef PANGU_COAST_H
#define PANGU_COAST_H

#include <stdio.h>

typedef struct {
    int n;              /* polylines */
    int *start;         /* (n + 1): polyline i is points start[i] .. start[i + 1] - 1 */
    double *lon, *lat;  /* (start[n]) degrees east, north */
    char file[4096];    /* the shapefile read */
} coast_lines;

/* The shapefile coast_load reads: PANGU_COAST_FILE, else the first
 * /usr/share/plplot* /globe.shp; UTIL_EIO naming libplplot-data when none. */
int coast_default_file(char *path, size_t cap);

/* Coastlines within lat0 <= lat <= lat1, lon0 <= lon <= lon1 (lon1 - lon0
 * at most 360) from `file` (NULL: coast_default_file) into *out (zeroed
 * first; coast_free it, also after a failure). The file is read strictly
 * (ESRI Shapefile Technical Description, 1998): a wrong or truncated file
 * is UTIL_EFORMAT naming it and the record. */
int coast_load(coast_lines *out, const char *file, double lat0, double lat1, double lon0, double lon1);
void coast_free(coast_lines *c);

/* gnuplot data: "lon lat" lines, a blank line between polylines (plot
 * 'FILE' with lines). coast_write_gnuplot writes the file (UTIL_EIO naming
 * it on failure); coast_print onto an open stream (returns ferror). */
int coast_write_gnuplot(const coast_lines *c, const char *path);
int coast_print(const coast_lines *c, FILE *f);

#endif
