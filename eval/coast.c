/* coast: Natural Earth coastlines (libplplot-data's globe.shp, public
 * domain) read with a small strict shapefile reader, clipped to a box and
 * split at the box's longitude seam. The format: ESRI Shapefile Technical
 * Description (ESRI white paper, July 1998): a 100-byte header (file code
 * 9994 and the length in 16-bit words big-endian, version 1000 and shape
 * type little-endian), then records (number and content length big-endian;
 * shape type, bounding box, NumParts, NumPoints, Parts[], Points[] of x, y
 * doubles little-endian). */
#define _DEFAULT_SOURCE
#include "coast.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/util.h"

#define SHP_MAX_BYTES (512L << 20)
#define SHP_POLYLINE 3
#define SHP_POLYGON 5

int coast_default_file(char *path, size_t cap) {
    const char *env = getenv("PANGU_COAST_FILE");
    if (env && *env) {
        snprintf(path, cap, "%s", env);
        return UTIL_OK;
    }
    glob_t g;
    int found = glob("/usr/share/plplot*/globe.shp", 0, NULL, &g) == 0 && g.gl_pathc > 0;
    if (found) snprintf(path, cap, "%s", g.gl_pathv[g.gl_pathc - 1]); /* the newest version */
    globfree(&g);
    if (!found)
        return util_fail(UTIL_EIO, "coastlines: no /usr/share/plplot*/globe.shp (Natural Earth coastlines): install the "
                                   "Debian package libplplot-data, or set PANGU_COAST_FILE to a coastline shapefile");
    return UTIL_OK;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const unsigned char *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static double le64d(const unsigned char *p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* The whole file into *buf (malloc'ed). */
static int read_whole(const char *path, unsigned char **buf, long *size) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return util_fail(UTIL_EIO, "coastlines: cannot read %s (%s)", path, strerror(errno));
    struct stat st;
    int status = UTIL_OK;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 100 || st.st_size > SHP_MAX_BYTES) {
        status = util_fail(UTIL_EFORMAT, "coastlines: %s: expected a shapefile of 100 bytes to 512 MB, found %lld bytes", path,
                           (long long)st.st_size);
        goto done;
    }
    *size = (long)st.st_size;
    if (!(*buf = malloc((size_t)*size))) {
        status = util_fail(UTIL_ENOMEM, "coastlines: out of memory reading %s", path);
        goto done;
    }
    if (fread(*buf, 1, (size_t)*size, f) != (size_t)*size)
        status = util_fail(UTIL_EIO, "coastlines: cannot read %s (%s)", path, ferror(f) ? strerror(errno) : "shorter than its size");
done:
    fclose(f);
    return status;
}

/* Lines being built (the current one from start[n] on). */
typedef struct {
    coast_lines *c;
    size_t cap_pts, cap_lines, npts;
    int open; /* a line is being built */
} builder;

static int end_line(builder *b) {
    coast_lines *c = b->c;
    if (!b->open) return UTIL_OK;
    b->open = 0;
    if (b->npts - (size_t)c->start[c->n] < 2) {
        b->npts = (size_t)c->start[c->n]; /* a single point draws nothing */
        return UTIL_OK;
    }
    if ((size_t)c->n + 2 > b->cap_lines) {
        size_t cap = b->cap_lines ? 2 * b->cap_lines : 256;
        int *s = realloc(c->start, cap * sizeof *s);
        if (!s) return util_fail(UTIL_ENOMEM, "coastlines: out of memory");
        c->start = s, b->cap_lines = cap;
    }
    c->start[++c->n] = (int)b->npts;
    return UTIL_OK;
}

static int add_point(builder *b, double lon, double lat) {
    coast_lines *c = b->c;
    if (b->npts + 1 > b->cap_pts) {
        size_t cap = b->cap_pts ? 2 * b->cap_pts : 4096;
        double *x = realloc(c->lon, cap * sizeof *x);
        if (x) c->lon = x;
        double *y = x ? realloc(c->lat, cap * sizeof *y) : NULL;
        if (!y) return util_fail(UTIL_ENOMEM, "coastlines: out of memory");
        c->lat = y, b->cap_pts = cap;
    }
    if (b->npts > INT32_MAX - 2) return util_fail(UTIL_EFORMAT, "coastlines: too many points");
    c->lon[b->npts] = lon, c->lat[b->npts] = lat;
    b->npts++;
    b->open = 1;
    return UTIL_OK;
}

typedef struct {
    double lat0, lat1, lon0, lon1;
} box;

/* Liang-Barsky: the part of segment (x0,y0)-(x1,y1) inside the box into
 * t0 <= t1; 0 when none. */
static int clip(const box *bx, double x0, double y0, double x1, double y1, double *t0, double *t1) {
    double dx = x1 - x0, dy = y1 - y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - bx->lon0, bx->lon1 - x0, y0 - bx->lat0, bx->lat1 - y0};
    *t0 = 0, *t1 = 1;
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0) *t0 = fmax(*t0, t);
        else *t1 = fmin(*t1, t);
    }
    return *t0 <= *t1;
}

/* Segment (x0,y0)-(x1,y1), both in the box's longitude range, clipped and
 * appended: continuing the current line where it starts at its end. */
static int add_segment(builder *b, const box *bx, double x0, double y0, double x1, double y1) {
    double t0, t1;
    int status;
    if (!clip(bx, x0, y0, x1, y1, &t0, &t1) || t0 == t1) return end_line(b); /* outside, or touching the box at a point */
    double ax = x0 + t0 * (x1 - x0), ay = y0 + t0 * (y1 - y0);
    double bx_ = t1 == 1 ? x1 : x0 + t1 * (x1 - x0), by = t1 == 1 ? y1 : y0 + t1 * (y1 - y0);
    coast_lines *c = b->c;
    int joins = b->open && c->lon[b->npts - 1] == ax && c->lat[b->npts - 1] == ay;
    if (!joins) {
        if ((status = end_line(b)) || (status = add_point(b, ax, ay))) return status;
    }
    if ((status = add_point(b, bx_, by))) return status;
    return t1 < 1 ? end_line(b) : UTIL_OK;
}

/* A longitude in the box's convention lon0 .. lon0 + 360 (kept as it is
 * when already there, so that 180 stays 180 for lon0 = -180). */
static double wrap(const box *bx, double lon) {
    while (lon < bx->lon0) lon += 360;
    while (lon > bx->lon0 + 360) lon -= 360;
    return lon;
}

/* Segment p-q of the file: split where it crosses the seam (a jump of more
 * than 180 degrees in the box's convention), the crossing interpolated. */
static int add_edge(builder *b, const box *bx, double lon0, double lat0, double lon1, double lat1) {
    double x0 = wrap(bx, lon0), x1 = wrap(bx, lon1);
    if (fabs(x1 - x0) <= 180) return add_segment(b, bx, x0, lat0, x1, lat1);
    int east = x1 < x0; /* across lon0 + 360 going east */
    double seam = east ? bx->lon0 + 360 : bx->lon0, x1u = east ? x1 + 360 : x1 - 360;
    /* 360 to 0 (or 180 to -180): one meridian written both ways, the segment lies on the seam (no crossing to find) */
    if (x1u == x0) return add_segment(b, bx, x0, lat0, x0, lat1);
    double ys = lat0 + (seam - x0) / (x1u - x0) * (lat1 - lat0);
    int status = add_segment(b, bx, x0, lat0, seam, ys);
    if (!status) status = end_line(b);
    if (!status) status = add_segment(b, bx, east ? bx->lon0 : bx->lon0 + 360, ys, x1, lat1);
    return status;
}

/* Record `rec` (its content p, len bytes): a polyline or polygon whose
 * parts are added. */
static int add_record(builder *b, const box *bx, const char *file, long rec, const unsigned char *p, uint32_t len) {
    uint32_t type = le32(p);
    if (type == 0 && len == 4) return UTIL_OK; /* null shape */
    if ((type != SHP_POLYLINE && type != SHP_POLYGON) || len < 44)
        return util_fail(UTIL_EFORMAT, "coastlines: %s record %ld: expected a polyline or polygon (type 3 or 5, 44 bytes "
                                       "at least), found type %u in %u bytes", file, rec, type, len);
    uint32_t nparts = le32(p + 36), npts = le32(p + 40);
    if ((uint64_t)44 + 4ull * nparts + 16ull * npts != len || (npts && !nparts) || (nparts && le32(p + 44) != 0))
        return util_fail(UTIL_EFORMAT, "coastlines: %s record %ld: %u parts and %u points do not fill its %u bytes", file, rec,
                         nparts, npts, len);
    const unsigned char *parts = p + 44, *pts = parts + 4 * (size_t)nparts;
    for (uint32_t k = 0; k < nparts; k++) {
        uint32_t s = le32(parts + 4 * k), e = k + 1 < nparts ? le32(parts + 4 * (k + 1)) : npts;
        if (s > e || e > npts)
            return util_fail(UTIL_EFORMAT, "coastlines: %s record %ld: part %u spans points %u..%u of %u", file, rec, k, s, e, npts);
        for (uint32_t i = s; i < e; i++) {
            double x = le64d(pts + 16 * (size_t)i), y = le64d(pts + 16 * (size_t)i + 8);
            if (!(x >= -180 - 1e-9 && x <= 360 + 1e-9 && y >= -90 - 1e-9 && y <= 90 + 1e-9))
                return util_fail(UTIL_EFORMAT, "coastlines: %s record %ld point %u: expected longitude -180..360 and "
                                               "latitude -90..90 degrees, found %g, %g", file, rec, i, x, y);
            if (i > s) {
                int status = add_edge(b, bx, le64d(pts + 16 * (size_t)(i - 1)), le64d(pts + 16 * (size_t)(i - 1) + 8), x, y);
                if (status) return status;
            }
        }
        int status = end_line(b);
        if (status) return status;
    }
    return UTIL_OK;
}

/* The header's file code, length and version, then every record. */
static int parse(builder *b, const box *bx, const char *file, const unsigned char *buf, long size) {
    if (be32(buf) != 9994 || (long)be32(buf + 24) * 2 != size || le32(buf + 28) != 1000)
        return util_fail(UTIL_EFORMAT, "coastlines: %s: expected a shapefile (file code 9994, version 1000, its length in "
                                       "the header), found code %u, version %u, %ld of %ld bytes",
                         file, be32(buf), le32(buf + 28), (long)be32(buf + 24) * 2, size);
    long off = 100, rec = 0;
    while (off < size) {
        rec++;
        if (off + 12 > size || (long)be32(buf + off + 4) * 2 > size - off - 8)
            return util_fail(UTIL_EFORMAT, "coastlines: %s record %ld: truncated at byte %ld of %ld", file, rec, off, size);
        uint32_t len = be32(buf + off + 4) * 2;
        int status = add_record(b, bx, file, rec, buf + off + 8, len);
        if (status) return status;
        off += 8 + (long)len;
    }
    return UTIL_OK;
}

int coast_load(coast_lines *out, const char *file, double lat0, double lat1, double lon0, double lon1) {
    memset(out, 0, sizeof *out);
    if (!(lat0 <= lat1 && lon0 <= lon1 && lon1 - lon0 <= 360 && lon0 >= -360 && lon1 <= 720))
        return util_fail(UTIL_EINVAL, "coastlines: expected a box lat0 <= lat1, lon0 <= lon1 <= lon0 + 360, found "
                                      "%g..%g N, %g..%g E", lat0, lat1, lon0, lon1);
    int status = file ? (snprintf(out->file, sizeof out->file, "%s", file), UTIL_OK)
                      : coast_default_file(out->file, sizeof out->file);
    if (status) return status;
    if (!(out->start = calloc(1, sizeof *out->start))) return util_fail(UTIL_ENOMEM, "coastlines: out of memory");
    unsigned char *buf = NULL;
    long size = 0;
    builder b = {out, 0, 1, 0, 0};
    box bx = {lat0, lat1, lon0, lon1};
    if (!(status = read_whole(out->file, &buf, &size))) status = parse(&b, &bx, out->file, buf, size);
    if (!status) status = end_line(&b);
    free(buf);
    return status;
}

void coast_free(coast_lines *c) {
    free(c->start), free(c->lon), free(c->lat);
    c->start = NULL, c->lon = c->lat = NULL, c->n = 0;
}

int coast_print(const coast_lines *c, FILE *f) {
    for (int i = 0; i < c->n; i++) {
        for (int k = c->start[i]; k < c->start[i + 1]; k++) fprintf(f, "%.5f %.5f\n", c->lon[k], c->lat[k]);
        fputc('\n', f);
    }
    return ferror(f);
}

int coast_write_gnuplot(const coast_lines *c, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return util_fail(UTIL_EIO, "coastlines: cannot write %s (%s)", path, strerror(errno));
    fprintf(f, "# coastlines (lon lat, a blank line between lines) from %s\n", c->file);
    int bad = coast_print(c, f);
    bad |= fclose(f) != 0;
    return bad ? util_fail(UTIL_EIO, "coastlines: cannot write %s (disk full?)", path) : UTIL_OK;
}
