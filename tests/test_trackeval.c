/* Suite "trackeval": scores of cyclone tracks (eval/trackeval.c) from first
 * principles: the great-circle distance against haversines computed by hand
 * (R = 6371 km), along- and cross-track errors with the Met Office's signs
 * on cases whose answer is known without the code (a storm moving north, a
 * forecast a degree east: to the right, positive; in the southern hemisphere
 * left is positive), the date line, the homogeneous and heterogeneous
 * samples, and tracks.csv read strictly. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/trackeval.h"
#include "tests.h"
#include "util/util.h"

#define KM_PER_DEG (6371.0 * M_PI / 180.0) /* 111.19492664455873 km */

static void test_distance(void) {
    /* a degree along the equator or a meridian is R pi / 180 */
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(0, 0, 0, 1), KM_PER_DEG, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(10, 40, 11, 40), KM_PER_DEG, 1e-9);
    /* Manila to Taipei: 2 R asin(sqrt(hav(dphi) + cos phi1 cos phi2 hav(dlambda))) worked by hand */
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(14.5995, 120.9842, 25.0330, 121.5654), 1161.73820688, 1e-6);
    /* a quarter of the globe: pole to equator */
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(90, 0, 0, 77), 6371.0 * M_PI / 2, 1e-9);
    /* across the date line, in either longitude convention */
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(10, 179.5, 10, -179.5), 109.50558394, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(10, 179.5, 10, 180.5), 109.50558394, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(trackeval_distance_km(-10, -0.5, -10, 359.5), 0, 1e-9);
}

static void test_bearing(void) {
    CU_ASSERT_DOUBLE_EQUAL(trackeval_bearing_deg(10, 130, 11, 130), 0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(trackeval_bearing_deg(10, 130, 9, 130), 180, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(trackeval_bearing_deg(0, 130, 0, 129), 270, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(trackeval_bearing_deg(0, 179.5, 0, -179.5), 90, 1e-9); /* east across the date line */
    CU_ASSERT(isnan(trackeval_bearing_deg(5, 5, 5, 5)));
}

static void test_along_cross(void) {
    double at, ct;
    /* moving north at 20N; the forecast a degree north: ahead by a degree of latitude */
    trackeval_along_cross(20, 130, 0, 21, 130, &at, &ct);
    CU_ASSERT_DOUBLE_EQUAL(at, KM_PER_DEG, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(ct, 0, 1e-9);
    /* the forecast a degree east: right of the track, positive; the great circle towards it starts
     * 0.17 degrees north of east (bearing 89.8290), so a third of a km ahead as well */
    trackeval_along_cross(20, 130, 0, 20, 131, &at, &ct);
    CU_ASSERT_DOUBLE_EQUAL(ct, 104.48843146, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(at, 0.31187337, 1e-6);
    CU_ASSERT(fabs(ct - KM_PER_DEG * cos(20 * M_PI / 180)) < 0.01); /* about a degree of the 20N parallel */
    /* a degree west: left, negative */
    trackeval_along_cross(20, 130, 0, 20, 129, &at, &ct);
    CU_ASSERT_DOUBLE_EQUAL(ct, -104.48843146, 1e-6);
    /* a degree south of a storm moving north: behind */
    trackeval_along_cross(20, 130, 0, 19, 130, &at, &ct);
    CU_ASSERT_DOUBLE_EQUAL(at, -KM_PER_DEG, 1e-9);
    /* southern hemisphere, moving south; a degree east is left of the motion: positive there */
    trackeval_along_cross(-20, 130, 180, -20, 131, &at, &ct);
    CU_ASSERT_DOUBLE_EQUAL(ct, 104.48843146, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(at, 0.31187337, 1e-6);
    /* moving west at 15N: a forecast to the north is right of the track */
    trackeval_along_cross(15, 140, 270, 16, 140, &at, &ct);
    CU_ASSERT_DOUBLE_EQUAL(ct, KM_PER_DEG, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(at, 0, 1e-9);
    /* across the date line: moving east at 179.5E, the forecast at 179.5W is ahead by the DPE */
    trackeval_along_cross(10, 179.5, 90, 10, -179.5, &at, &ct);
    CU_ASSERT(at > 109.5 && at <= 109.50558394 + 1e-9);
    CU_ASSERT(fabs(hypot(at, ct) - 109.50558394) < 1e-6);
    /* no motion: no direction, no along/cross errors */
    trackeval_along_cross(10, 130, NAN, 11, 130, &at, &ct);
    CU_ASSERT(isnan(at) && isnan(ct));
}

/* ---- a best track by hand: storm S1 moves north a degree every 6 h from
 * (10N, 130E) at 2018-09-01T00 to 2018-09-02T00, deepening 1 hPa an hour;
 * storm S2 moves west along 15N across the date line from 179W (181E) to
 * 179E over 12 h, no pressure. Positions linear in time: the scoring's
 * input, not the best-track reader's interpolation (tested with it). */
#define T0 1535760000.0 /* 2018-09-01T00:00:00Z */
static int obs_linear(void *ctx, const char *sid, double t, trackeval_fix *fix) {
    (void)ctx;
    double h = (t - T0) / 3600;
    if (!strcmp(sid, "S1")) {
        if (h < 0 || h > 24) return 0;
        *fix = (trackeval_fix){10 + h / 6, 130, 1000 - h, 20 + h / 4};
        return 1;
    }
    if (!strcmp(sid, "S2")) {
        if (h < 0 || h > 12) return 0;
        *fix = (trackeval_fix){15, 181 - h / 6, NAN, 30};
        return 1;
    }
    return 0;
}

static trackeval_row row(const char *source, const char *sid, double lead, double lat, double lon) {
    trackeval_row w;
    memset(&w, 0, sizeof w);
    snprintf(w.source, sizeof w.source, "%s", source);
    snprintf(w.sid, sizeof w.sid, "%s", sid);
    w.init = T0, w.lead_hours = lead, w.valid = T0 + lead * 3600, w.lat = lat, w.lon = lon;
    w.msl_pa = 99000, w.wind_ms = 25;
    w.file = "test", w.line = 1;
    return w;
}

static const trackeval_score *find_score(const trackeval_score *s, int n, const char *src, double lead) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].source, src) && s[i].lead_hours == lead) return &s[i];
    return NULL;
}

/* Source A has S1 at 6 and 12 h and S2 at 6 h; source B only S1 at 6 h, and
 * a lead past the best track's end (30 h: not scored). */
static void fill(trackeval_rows *r) {
    trackeval_row w[] = {
        row("A", "S1", 6, 11, 131),  /* observed (11, 130) moving north: a degree east, right */
        row("A", "S1", 12, 13, 130), /* observed (12, 130): a degree ahead */
        row("A", "S2", 6, 15, 180),  /* observed (15, 180) exactly */
        row("B", "S1", 6, 11, 129),  /* a degree west: left */
        row("B", "S1", 30, 14, 130), /* past the best track's end */
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        r->rows[r->n++] = w[i];
    }
}

static void test_samples(void) {
    trackeval_row store[8];
    trackeval_rows r = {store, 0, 8};
    trackeval_score *s;
    int n;
    fill(&r);
    CU_ASSERT_FATAL(trackeval_score_rows(&r, obs_linear, NULL, 0) == 0);
    CU_ASSERT(!store[4].scored);
    CU_ASSERT_FATAL(trackeval_aggregate(&r, &s, &n) == 0);
    CU_ASSERT_EQUAL(n, 4); /* A 6, A 12, B 6, B 30 */
    const trackeval_score *a6 = find_score(s, n, "A", 6), *b6 = find_score(s, n, "B", 6), *a12 = find_score(s, n, "A", 12);
    CU_ASSERT_FATAL(a6 && b6 && a12);
    /* homogeneous: only (S1, 6 h) is in both */
    CU_ASSERT_EQUAL(a6->n, 1);
    CU_ASSERT_EQUAL(a12->n, 0);
    CU_ASSERT(isnan(a12->dpe_mean_km));
    double east11 = trackeval_distance_km(11, 130, 11, 131);
    CU_ASSERT_DOUBLE_EQUAL(a6->dpe_mean_km, east11, 1e-9);
    CU_ASSERT(a6->cross_mean_km > 109 && b6->cross_mean_km < -109);
    /* msl: 990 hPa forecast against 1000 - 6 = 994; wind 25 m/s against 20 + 1.5 */
    CU_ASSERT_DOUBLE_EQUAL(a6->msl_error_mean_hpa, -4, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a6->wind_error_mean_ms, 3.5, 1e-9);
    free(s);
    /* heterogeneous: A at 6 h has S1 and S2 (exact: 0 km) */
    for (int i = 0; i < r.n; i++) r.rows[i].scored = r.rows[i].in_sample = 0;
    CU_ASSERT_FATAL(trackeval_score_rows(&r, obs_linear, NULL, 1) == 0);
    CU_ASSERT_FATAL(trackeval_aggregate(&r, &s, &n) == 0);
    a6 = find_score(s, n, "A", 6), a12 = find_score(s, n, "A", 12);
    CU_ASSERT_EQUAL(a6->n, 2);
    CU_ASSERT_DOUBLE_EQUAL(a6->dpe_mean_km, east11 / 2, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a6->dpe_median_km, east11 / 2, 1e-9);
    /* S2's msl is missing in the best track: the mean is over S1 alone */
    CU_ASSERT_DOUBLE_EQUAL(a6->msl_error_mean_hpa, -4, 1e-9);
    CU_ASSERT_EQUAL(a12->n, 1);
    CU_ASSERT_DOUBLE_EQUAL(a12->dpe_mean_km, KM_PER_DEG, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a12->along_mean_km, KM_PER_DEG, 1e-9); /* heading from 6 h to 18 h: north */
    CU_ASSERT_DOUBLE_EQUAL(a12->cross_mean_km, 0, 1e-9);
    CU_ASSERT_EQUAL(find_score(s, n, "B", 30)->n, 0);
    free(s);
}

/* The median of an even and an odd count, and a duplicate case refused. */
static void test_median_duplicate(void) {
    trackeval_row store[4] = {row("A", "S1", 6, 11, 131), row("A", "S1", 12, 13, 130), row("A", "S1", 18, 13, 130)};
    trackeval_rows r = {store, 3, 4};
    for (int i = 0; i < 3; i++) store[i].lead_hours = 6, store[i].init = T0 + 6 * 3600 * i, store[i].valid = store[i].init + 6 * 3600;
    /* valid 6, 12, 18 h: observed 11, 12, 13N; errors 1 degree east, 1 N, 0 */
    CU_ASSERT_FATAL(trackeval_score_rows(&r, obs_linear, NULL, 0) == 0);
    trackeval_score *s;
    int n;
    CU_ASSERT_FATAL(trackeval_aggregate(&r, &s, &n) == 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_DOUBLE_EQUAL(s[0].dpe_median_km, trackeval_distance_km(11, 130, 11, 131), 1e-9); /* 0, 109.1, 111.2 */
    CU_ASSERT_DOUBLE_EQUAL(s[0].dpe_mean_km, (KM_PER_DEG + trackeval_distance_km(11, 130, 11, 131)) / 3, 1e-9);
    free(s);
    store[3] = store[1], store[3].line = 9, r.n = 4;
    CU_ASSERT(trackeval_score_rows(&r, obs_linear, NULL, 0) == UTIL_EFORMAT && strstr(util_last_message(), "also at test line"));
}

static const char *write_file(char *path, size_t cap, const char *text) {
    snprintf(path, cap, "/tmp/pangu_test_tracks_%d.csv", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) return path;
    fputs(text, f);
    fclose(f);
    return path;
}

/* Columns found by name, in any order, with more after them; strict values. */
static void test_read_tracks(void) {
    char path[64];
    trackeval_rows r = {0};
    write_file(path, sizeof path,
               "lat,lon,source,sid,name,basin,init_time,lead_hours,valid_time,msl_min_pa,wind10_max_ms,extra\n"
               "12.5,-60.25,pangu,2018242N11337,FLORENCE,NA,2018-09-01T00:00:00,6,2018-09-01T06:00:00,100100.5,,x\n"
               "13,300,\"hres, 9 km\",2018242N11337,FLORENCE,NA,2018-09-01 00:00:00,12,2018-09-01T12:00:00,nan,20,y\r\n");
    CU_ASSERT_FATAL(trackeval_read_tracks(path, &r) == 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.rows[0].basin, "NA"); /* the North Atlantic, not a missing value */
    CU_ASSERT_DOUBLE_EQUAL(r.rows[0].lon, -60.25, 0);
    CU_ASSERT(isnan(r.rows[0].wind_ms) && isnan(r.rows[1].msl_pa));
    CU_ASSERT_STRING_EQUAL(r.rows[1].source, "hres, 9 km");
    CU_ASSERT_DOUBLE_EQUAL(r.rows[1].valid - r.rows[1].init, 12 * 3600, 0);
    trackeval_rows_free(&r);
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa\n", "no column 'wind10_max_ms'"},
        {"", "empty file"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n", "a header and no tracks"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n"
         "p,S,N,WP,2018-09-01T00,6,2018-09-01T06,95,130,,\n",
         "line 2: lat '95'"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n"
         "p,S,N,WP,2018-09-01T00,6,2018-09-01T12,15,130,,\n",
         "valid_time 2018-09-01T12 is not init_time"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n"
         "p,S,N,WP,2018-09-01T00,6,2018-09-01T06,15,130\n",
         "line 2: 9 fields where the header has 11"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n"
         ",S,N,WP,2018-09-01T00,6,2018-09-01T06,15,130,,\n",
         "source is empty"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n"
         "p,S,N,WP,yesterday,6,2018-09-01T06,15,130,,\n",
         "init_time 'yesterday'"},
        {"source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms\n"
         "p,S,N,WP,2018-09-01T00,6,2018-09-01T06,15,130e,,\n",
         "lon '130e'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, sizeof path, bad[i].text);
        int status = trackeval_read_tracks(path, &r);
        CU_ASSERT(status == UTIL_EFORMAT && strstr(util_last_message(), bad[i].message));
        if (status != UTIL_EFORMAT || !strstr(util_last_message(), bad[i].message))
            fprintf(stderr, "\n  case %zu: %d %s\n", i, status, util_last_message());
        trackeval_rows_free(&r);
    }
    unlink(path);
}

/* The CSV: the header exactly as documented, empty fields where nothing was averaged. */
static void test_write_scores(void) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/tmp/pangu_test_scores_%d.csv", (int)getpid());
    trackeval_score s[2] = {{"pangu", 72, 2, 120.29, 110, -5.5, 3.25, 1.5, -2, },
                            {"hres", 72, 0, NAN, NAN, NAN, NAN, NAN, NAN}};
    CU_ASSERT_FATAL(trackeval_write_scores(path, s, 2) == 0);
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fgets(line, sizeof line, f) && !strcmp(line, "source,lead_hours,n,dpe_mean_km,dpe_median_km,along_track_mean_km,"
                                                         "cross_track_mean_km,msl_error_mean_hpa,wind_error_mean_ms\n"));
    CU_ASSERT(fgets(line, sizeof line, f) && !strcmp(line, "pangu,72,2,120.290,110.000,-5.500,3.250,1.500,-2.000\n"));
    CU_ASSERT(fgets(line, sizeof line, f) && !strcmp(line, "hres,72,0,,,,,,\n"));
    fclose(f);
    unlink(path);
}

int tests_register_trackeval(void) {
    CU_pSuite s = CU_add_suite("trackeval", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "great-circle distance against hand haversines", test_distance) ||
        !CU_add_test(s, "initial bearing", test_bearing) ||
        !CU_add_test(s, "along- and cross-track errors, Met Office signs, both hemispheres, date line", test_along_cross) ||
        !CU_add_test(s, "homogeneous and heterogeneous samples", test_samples) ||
        !CU_add_test(s, "median, duplicate case refused", test_median_duplicate) ||
        !CU_add_test(s, "tracks.csv read strictly by column name", test_read_tracks) ||
        !CU_add_test(s, "scores CSV layout", test_write_scores))
        return -1;
    return 0;
}
