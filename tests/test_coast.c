/* Suite "coast": the shapefile reader on shapefiles written here by hand
 * (seam splitting and clipping computed by hand, damaged files refused),
 * and Debian's Natural Earth coastlines (libplplot-data) passing by known
 * capes. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/coast.h"
#include "util/util.h"
#include "tests.h"

#define NEAR(a, b, tol) CU_ASSERT(fabs((double)(a) - (double)(b)) <= (tol))

static void put_be32(FILE *f, uint32_t v) {
    unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};
    fwrite(b, 1, 4, f);
}
static void put_le32(FILE *f, uint32_t v) {
    unsigned char b[4] = {v, v >> 8, v >> 16, v >> 24};
    fwrite(b, 1, 4, f);
}
static void put_le64d(FILE *f, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    for (int i = 0; i < 8; i++) fputc((int)(u >> (8 * i) & 255), f);
}

/* A shapefile of one polyline record with one part of n points (xy pairs);
 * truncate_by bytes cut off its end. */
static void write_shp(const char *path, const double *xy, int n, int truncate_by) {
    uint32_t content = 44 + 4 + 16 * (uint32_t)n, size = 100 + 8 + content;
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    put_be32(f, 9994);
    for (int i = 0; i < 5; i++) put_be32(f, 0);
    put_be32(f, size / 2);
    put_le32(f, 1000), put_le32(f, 3);
    for (int i = 0; i < 8; i++) put_le64d(f, 0); /* bounding box (not used) */
    put_be32(f, 1), put_be32(f, content / 2);
    put_le32(f, 3);
    for (int i = 0; i < 4; i++) put_le64d(f, 0);
    put_le32(f, 1), put_le32(f, (uint32_t)n), put_le32(f, 0);
    for (int i = 0; i < 2 * n; i++) put_le64d(f, xy[i]);
    CU_ASSERT_FATAL(fclose(f) == 0);
    if (truncate_by) CU_ASSERT_FATAL(truncate(path, size - truncate_by) == 0);
}

static char shp_path[64];
static const char *tmp_shp(void) {
    snprintf(shp_path, sizeof shp_path, "/tmp/pangu_coast_%d.shp", (int)getpid());
    return shp_path;
}

/* (170, 10) to (-170, 20) crosses 180 E at latitude 15: one line in the
 * 0..360 convention, two split at the seam in -180..180. */
static void test_seam(void) {
    const double xy[4] = {170, 10, -170, 20};
    const char *p = tmp_shp();
    write_shp(p, xy, 2, 0);
    coast_lines c;
    CU_ASSERT_EQUAL_FATAL(coast_load(&c, p, -90, 90, 0, 360), UTIL_OK);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_EQUAL(c.start[1], 2);
    NEAR(c.lon[0], 170, 0); NEAR(c.lat[0], 10, 0); NEAR(c.lon[1], 190, 0); NEAR(c.lat[1], 20, 0);
    coast_free(&c);
    CU_ASSERT_EQUAL_FATAL(coast_load(&c, p, -90, 90, -180, 180), UTIL_OK);
    CU_ASSERT_EQUAL_FATAL(c.n, 2);
    NEAR(c.lon[0], 170, 0); NEAR(c.lat[0], 10, 0); NEAR(c.lon[1], 180, 1e-12); NEAR(c.lat[1], 15, 1e-12);
    NEAR(c.lon[2], -180, 1e-12); NEAR(c.lat[2], 15, 1e-12); NEAR(c.lon[3], -170, 0); NEAR(c.lat[3], 20, 0);
    coast_free(&c);
    unlink(p);
}

/* A segment on the seam itself, (360, 10) to (0, 20) in the box 0..360 or
 * (180, 10) to (-180, 20) in -180..180 (fuzz_coast found it: the crossing
 * was 0/0, NaN points with UTIL_OK): one line along the meridian, on the
 * first point's side, every point finite. */
static void test_on_seam(void) {
    const double seams[2][6] = {{360, 10, 0, 20, 0, 360}, {180, 10, -180, 20, -180, 180}};
    const char *p = tmp_shp();
    for (int k = 0; k < 2; k++) {
        const double *q = seams[k];
        write_shp(p, q, 2, 0);
        coast_lines c;
        CU_ASSERT_EQUAL_FATAL(coast_load(&c, p, -90, 90, q[4], q[5]), UTIL_OK);
        CU_ASSERT_EQUAL(c.n, 1);
        for (int i = 0; i < c.start[c.n]; i++) CU_ASSERT(isfinite(c.lon[i]) && isfinite(c.lat[i]));
        if (c.n == 1 && c.start[1] == 2) {
            NEAR(c.lon[0], q[0], 0); NEAR(c.lat[0], 10, 0); NEAR(c.lon[1], q[0], 0); NEAR(c.lat[1], 20, 0);
        } else CU_FAIL("expected one line of two points");
        coast_free(&c);
    }
    unlink(p);
}

/* (-10, 0) (10, 0) (10, 40): in 0..360 split at 0 E; clipped to 0..20 N,
 * 5..360 E: (5, 0) (10, 0) (10, 20) and (350, 0) (360, 0). */
static void test_clip(void) {
    const double xy[6] = {-10, 0, 10, 0, 10, 40};
    const char *p = tmp_shp();
    write_shp(p, xy, 3, 0);
    coast_lines c;
    CU_ASSERT_EQUAL_FATAL(coast_load(&c, p, 0, 20, 5, 360), UTIL_OK);
    CU_ASSERT_EQUAL_FATAL(c.n, 2);
    CU_ASSERT_EQUAL_FATAL(c.start[1], 2);
    CU_ASSERT_EQUAL_FATAL(c.start[2], 5);
    NEAR(c.lon[0], 350, 0); NEAR(c.lon[1], 360, 1e-12); NEAR(c.lat[1], 0, 0);
    NEAR(c.lon[2], 5, 1e-12); NEAR(c.lon[3], 10, 0); NEAR(c.lon[4], 10, 0); NEAR(c.lat[4], 20, 1e-12);
    char out[80];
    snprintf(out, sizeof out, "%s.dat", p);
    CU_ASSERT_EQUAL(coast_write_gnuplot(&c, out), UTIL_OK);
    FILE *f = fopen(out, "r");
    char text[512] = "";
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[got] = 0;
    if (f) fclose(f);
    const char *body = strchr(text, '\n');
    CU_ASSERT_STRING_EQUAL(body ? body + 1 : "", "350.00000 0.00000\n360.00000 0.00000\n\n"
                                                 "5.00000 0.00000\n10.00000 0.00000\n10.00000 20.00000\n\n");
    coast_free(&c);
    unlink(out), unlink(p);
}

/* Damaged or missing files: an error naming the file (and the record). */
static void test_bad_files(void) {
    const double xy[4] = {0, 0, 1, 1};
    const char *p = tmp_shp();
    coast_lines c;
    write_shp(p, xy, 2, 8);
    CU_ASSERT_EQUAL(coast_load(&c, p, -90, 90, 0, 360), UTIL_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(util_last_message(), p));
    coast_free(&c);
    const double bad[4] = {0, 0, 1, 95};
    write_shp(p, bad, 2, 0);
    CU_ASSERT_EQUAL(coast_load(&c, p, -90, 90, 0, 360), UTIL_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(util_last_message(), "record 1 point 1"));
    coast_free(&c);
    unlink(p);
    CU_ASSERT_EQUAL(coast_load(&c, p, -90, 90, 0, 360), UTIL_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(util_last_message(), "No such file"));
    coast_free(&c);
    CU_ASSERT_EQUAL(coast_load(&c, p, 10, -10, 0, 360), UTIL_EINVAL);
    coast_free(&c);
}

/* Distance in degrees (on the lon/lat plane) from (lon, lat) to the nearest vertex. */
static double nearest(const coast_lines *c, double lon, double lat) {
    double best = INFINITY;
    for (int k = 0; k < c->start[c->n]; k++) best = fmin(best, hypot(c->lon[k] - lon, c->lat[k] - lat));
    return best;
}

/* Debian's Natural Earth coastlines: every line in 0..360 without a jump
 * across the map; vertices near Cape Agulhas (20.0 E, 34.83 S), the
 * South East Cape of Tasmania (146.83 E, 43.64 S) and the Strait of Gibraltar (354.4 E, 36.0 N); none
 * within 5 degrees of the middle of the Sahara (20 E, 23 N). */
static void test_natural_earth(void) {
    char file[4096];
    CU_ASSERT_EQUAL_FATAL(coast_default_file(file, sizeof file), UTIL_OK);
    coast_lines c;
    CU_ASSERT_EQUAL_FATAL(coast_load(&c, NULL, -90, 90, 0, 360), UTIL_OK);
    CU_ASSERT(c.n > 100);
    int inside = 1, jumps = 0;
    for (int i = 0; i < c.n; i++)
        for (int k = c.start[i]; k < c.start[i + 1]; k++) {
            inside &= c.lon[k] >= 0 && c.lon[k] <= 360 && fabs(c.lat[k]) <= 90;
            jumps += k > c.start[i] && fabs(c.lon[k] - c.lon[k - 1]) > 20;
        }
    CU_ASSERT(inside);
    CU_ASSERT_EQUAL(jumps, 0);
    CU_ASSERT(nearest(&c, 20.0, -34.83) < 0.5);
    CU_ASSERT(nearest(&c, 146.83, -43.64) < 0.5);
    CU_ASSERT(nearest(&c, 354.4, 36.0) < 0.5);
    CU_ASSERT(nearest(&c, 20, 23) > 5);
    coast_free(&c);
    /* Europe in -180..180: Gibraltar at -5.6 E */
    CU_ASSERT_EQUAL_FATAL(coast_load(&c, NULL, 30, 60, -20, 40), UTIL_OK);
    CU_ASSERT(nearest(&c, -5.6, 36.0) < 0.5);
    for (int k = 0; k < c.start[c.n]; k++) CU_ASSERT_FATAL(c.lon[k] >= -20 && c.lon[k] <= 40 && c.lat[k] >= 30 && c.lat[k] <= 60);
    coast_free(&c);
}

int tests_register_coast(void) {
    CU_pSuite s = CU_add_suite("coast", NULL, NULL);
    if (!s) return 1;
    return !CU_add_test(s, "seam", test_seam) || !CU_add_test(s, "on_seam", test_on_seam) ||
           !CU_add_test(s, "clip", test_clip) ||
           !CU_add_test(s, "bad_files", test_bad_files) || !CU_add_test(s, "natural_earth", test_natural_earth);
}
