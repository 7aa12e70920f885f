/* Suite "track": best tracks (eval/besttrack.c) and the cyclone tracker
 * (eval/track.c).
 *
 * The IBTrACS reader is tested on the first lines of NCEI's file as
 * published: tests/fixtures/ibtracs_v04r01_head.csv holds the names line,
 * the units line and the first record of ibtracs.WP.list.v04r01.csv
 * verbatim (174 columns; the ALL file has the same columns: NCEI, IBTrACS
 * v04r01 column documentation); further records are made on that header,
 * with blanks written as NCEI writes them (one space). ATCF lines follow
 * NRL's "Best Track/Objective Aid/Wind Radii Format" (abrdeck.html). */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/besttrack.h"
#include "eval/track.h"
#include "tests.h"
#include "util/util.h"

#define IB_COLS 174

static char ib_head[2][4096];
static char *ib_name[IB_COLS];
static char ib_names_buf[4096];

/* the names and units lines of the fixture, and the column names */
static int load_head(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/ibtracs_v04r01_head.csv", tests_fixture_dir());
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(ib_head[0], sizeof ib_head[0], f) && fgets(ib_head[1], sizeof ib_head[1], f);
    fclose(f);
    if (!ok) return -1;
    snprintf(ib_names_buf, sizeof ib_names_buf, "%s", ib_head[0]);
    ib_names_buf[strcspn(ib_names_buf, "\r\n")] = 0;
    int n = 0;
    for (char *p = strtok(ib_names_buf, ","); p && n < IB_COLS; p = strtok(NULL, ",")) ib_name[n++] = p;
    return n == IB_COLS ? 0 : -1;
}

/* One record: "COLUMN=value;..." set, every other field one space. */
static void ib_row(FILE *f, const char *sets) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", sets);
    const char *val[IB_COLS];
    for (int c = 0; c < IB_COLS; c++) val[c] = " ";
    for (char *kv = strtok(buf, ";"); kv; kv = strtok(NULL, ";")) {
        char *eq = strchr(kv, '=');
        *eq = 0;
        for (int c = 0; c < IB_COLS; c++)
            if (!strcmp(ib_name[c], kv)) val[c] = eq + 1;
    }
    for (int c = 0; c < IB_COLS; c++) fprintf(f, "%s%s", c ? "," : "", val[c]);
    fprintf(f, "\n");
}

static void tmp_path(char *out, size_t cap, const char *what) {
    snprintf(out, cap, "/tmp/pangu_test_track_%d_%s", (int)getpid(), what);
}

/* The fixture as published: names, units and a record with blank fields
 * ("NR", no wind or pressure) read as one storm. */
static void test_ibtracs_published_head(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/ibtracs_v04r01_head.csv", tests_fixture_dir());
    besttrack_set set = {0};
    CU_ASSERT_FATAL(besttrack_read(path, &set) == 0);
    CU_ASSERT_EQUAL_FATAL(set.n, 1);
    const besttrack_storm *s = &set.storm[0];
    CU_ASSERT_STRING_EQUAL(s->sid, "1884177N17124");
    CU_ASSERT_STRING_EQUAL(s->basin, "WP");
    CU_ASSERT_STRING_EQUAL(s->name, "UNNAMED");
    CU_ASSERT_STRING_EQUAL(s->atcf, "");
    CU_ASSERT_EQUAL(s->n, 1);
    CU_ASSERT_STRING_EQUAL(s->pt[0].nature, "NR");
    CU_ASSERT_DOUBLE_EQUAL(s->pt[0].lat, 16.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s->pt[0].lon, 124.0, 1e-12);
    CU_ASSERT(isnan(s->pt[0].wind) && isnan(s->pt[0].msl));
    double t;
    util_time_parse("1884-06-24T16:00", &t);
    CU_ASSERT_DOUBLE_EQUAL(s->pt[0].time, t, 1e-6);
    CU_ASSERT(!besttrack_is_tropical(s, &s->pt[0]));
    besttrack_free(&set);
}

/* Writes the fixture's two header lines then the rows. */
static void write_ib(const char *path, const char *const *rows, int n) {
    FILE *f = fopen(path, "w");
    fputs(ib_head[0], f), fputs(ib_head[1], f);
    for (int i = 0; i < n; i++) ib_row(f, rows[i]);
    fclose(f);
}

/* BASIN NA is the North Atlantic; longitudes west of the date line and
 * beyond 180 both come out in [0, 360); WMO values first, USA where the
 * WMO agency gives none; positions interpolated across the date line. */
static void test_ibtracs_records(void) {
    CU_ASSERT_FATAL(load_head() == 0);
    char path[512];
    tmp_path(path, sizeof path, "ib.csv");
    const char *rows[] = {
        "SID=2018242N13343;BASIN=NA;NAME=FLORENCE;ISO_TIME=2018-09-01 00:00:00;NATURE=TS;LAT=13.5;LON=-17.0;WMO_WIND=30;"
        "WMO_PRES=1008;USA_ATCF_ID=AL062018",
        "SID=2018242N13343;BASIN=NA;NAME=FLORENCE;ISO_TIME=2018-09-01 03:00:00;NATURE=TS;LAT=13.6;LON=-17.8;USA_WIND=32;"
        "USA_PRES=1007;USA_ATCF_ID=AL062018",
        "SID=2018300N10180;BASIN=WP;NAME=DATELINE;ISO_TIME=2018-10-27 00:00:00;NATURE=TS;LAT=10.0;LON=179.0",
        "SID=2018300N10180;BASIN=WP;NAME=DATELINE;ISO_TIME=2018-10-27 06:00:00;NATURE=ET;LAT=11.0;LON=-179.0",
        "SID=2018300N10180;BASIN=WP;NAME=DATELINE;ISO_TIME=2018-10-27 12:00:00;NATURE=ET;LAT=12.0;LON=182.0",
    };
    write_ib(path, rows, 5);
    besttrack_set set = {0};
    CU_ASSERT_FATAL(besttrack_read(path, &set) == 0);
    CU_ASSERT_EQUAL_FATAL(set.n, 2);
    const besttrack_storm *a = &set.storm[0], *b = &set.storm[1];
    CU_ASSERT_STRING_EQUAL(a->basin, "NA");
    CU_ASSERT_STRING_EQUAL(a->atcf, "AL062018");
    CU_ASSERT_DOUBLE_EQUAL(a->pt[0].lon, 343.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->pt[0].wind, 30 * 1852.0 / 3600.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->pt[0].msl, 100800.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(a->pt[1].wind, 32 * 1852.0 / 3600.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->pt[1].msl, 100700.0, 1e-6);
    CU_ASSERT(besttrack_is_tropical(a, &a->pt[0]));
    CU_ASSERT_DOUBLE_EQUAL(b->pt[1].lon, 181.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(b->pt[2].lon, 182.0, 1e-9);
    CU_ASSERT(!besttrack_is_tropical(b, &b->pt[1]));
    CU_ASSERT_EQUAL(besttrack_find(&set, "florence", 0), 0);
    CU_ASSERT_EQUAL(besttrack_find(&set, "2018300N10180", 0), 1);
    CU_ASSERT_EQUAL(besttrack_find(&set, "AL062018", 0), 0);
    CU_ASSERT_EQUAL(besttrack_find(&set, "NONE", 0), -1);
    /* halfway between 179 E and 179 W is the date line, not 0 E */
    double lat, lon, msl, wind, t0;
    util_time_parse("2018-10-27T03", &t0);
    CU_ASSERT_FATAL(besttrack_position(b, t0, &lat, &lon, &msl, &wind) == 1);
    CU_ASSERT_DOUBLE_EQUAL(lat, 10.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(lon, 180.0, 1e-9);
    CU_ASSERT(isnan(msl));
    util_time_parse("2018-09-01T01:30", &t0);
    CU_ASSERT_FATAL(besttrack_position(a, t0, &lat, &lon, &msl, NULL) == 1);
    CU_ASSERT_DOUBLE_EQUAL(lon, 342.6, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(msl, 100750.0, 1e-6);
    CU_ASSERT(besttrack_position(a, t0 - 86400, &lat, &lon, NULL, NULL) == 0);
    CU_ASSERT_EQUAL(besttrack_find_time(a, t0 + 1.5 * 3600), 1);
    CU_ASSERT_EQUAL(besttrack_find_time(a, t0), -1);
    besttrack_free(&set);
    unlink(path);
}

/* A bad record fails with the file, line and column named. */
static void expect_ib_error(const char *row, const char *line_col) {
    char path[512];
    tmp_path(path, sizeof path, "bad.csv");
    const char *rows[2] = {"SID=2018242N13343;BASIN=NA;NAME=X;ISO_TIME=2018-09-01 00:00:00;NATURE=TS;LAT=13.5;LON=-17.0", row};
    write_ib(path, rows, 2);
    besttrack_set set = {0};
    CU_ASSERT(besttrack_read(path, &set) == UTIL_EFORMAT);
    CU_ASSERT_EQUAL(set.n, 0);
    const char *m = util_last_message();
    if (!strstr(m, path) || !strstr(m, line_col)) printf("\nunexpected message: %s\n", m);
    CU_ASSERT(strstr(m, path) != NULL && strstr(m, line_col) != NULL);
    unlink(path);
}

static void test_ibtracs_strict(void) {
    CU_ASSERT_FATAL(load_head() == 0);
    expect_ib_error("SID=2018242N13343;BASIN=NA;NAME=X;ISO_TIME=2018-09-01 03:00:00;NATURE=TS;LAT= ;LON=-17.0", "line 4, column LAT");
    expect_ib_error("SID=2018242N13343;BASIN=NA;NAME=X;ISO_TIME=2018-09-01T03:00:00;NATURE=TS;LAT=1;LON=-17.0",
                    "line 4, column ISO_TIME");
    expect_ib_error("SID=2018242N13343;BASIN=NA;NAME=X;ISO_TIME=2018-09-01 00:00:00;NATURE=TS;LAT=1;LON=-17.0",
                    "line 4, column ISO_TIME");
    expect_ib_error("SID=2018242N13343;BASIN=NA;NAME=X;ISO_TIME=2018-09-01 03:00:00;NATURE=XX;LAT=1;LON=-17.0",
                    "line 4, column NATURE");
    expect_ib_error("SID=2018242N13343;BASIN=NA;NAME=X;ISO_TIME=2018-09-01 03:00:00;NATURE=TS;LAT=1;LON=-17.0;WMO_WIND=3O",
                    "line 4, column WMO_WIND");
    /* NUMBER a whole number (1e20 was undefined behaviour, 7.9 read as 7) */
    expect_ib_error("SID=2018250N10100;BASIN=NA;NAME=Y;ISO_TIME=2018-09-07 00:00:00;NATURE=TS;LAT=1;LON=-17.0;NUMBER=1e20",
                    "line 4, column NUMBER");
    expect_ib_error("SID=2018250N10100;BASIN=NA;NAME=Y;ISO_TIME=2018-09-07 00:00:00;NATURE=TS;LAT=1;LON=-17.0;NUMBER=7.9",
                    "line 4, column NUMBER");
    expect_ib_error("SID=;BASIN=NA;NAME=X;ISO_TIME=2018-09-01 03:00:00;NATURE=TS;LAT=1;LON=-17.0", "line 4, column SID");
    /* a record with a field too few */
    char path[512];
    tmp_path(path, sizeof path, "short.csv");
    FILE *f = fopen(path, "w");
    fputs(ib_head[0], f), fputs(ib_head[1], f);
    fputs("2018242N13343,2018,1,NA,MM,X,2018-09-01 00:00:00,TS,13.5,-17.0\n", f);
    fclose(f);
    besttrack_set set = {0};
    CU_ASSERT(besttrack_read(path, &set) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "line 3: expected 174 fields") != NULL);
    /* without the units line */
    f = fopen(path, "w");
    fputs(ib_head[0], f);
    fputs(ib_head[0], f);
    fclose(f);
    CU_ASSERT(besttrack_read(path, &set) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "line 2") != NULL);
    unlink(path);
}

/* b-deck lines as NRL's format gives them, with the RAD 34/50/64 lines of
 * one record repeated; a storm's records kept apart from another TECH. */
static void test_atcf_bdeck(void) {
    char path[512];
    tmp_path(path, sizeof path, "bal.dat");
    FILE *f = fopen(path, "w");
    fputs("AL, 06, 2018090100,   , BEST,   0, 135N,  170W,  30, 1008, TD,   0,    ,    0,    0,    0,    0, 1012,  150,  40,"
          "   0,   0,   L,   0,    ,   0,   0,     FLORENCE, M,\n"
          "AL, 06, 2018090106,   , BEST,   0, 136N,  178W,  35, 1006, TS,  34, NEQ,   60,    0,    0,   40, 1012,  150,  40,"
          "   0,   0,   L,   0,    ,   0,   0,     FLORENCE, M,\n"
          "AL, 06, 2018090106,   , BEST,   0, 136N,  178W,  35, 1006, TS,  50, NEQ,   20,    0,    0,    0, 1012,  150,  40,"
          "   0,   0,   L,   0,    ,   0,   0,     FLORENCE, M,\n"
          "SH, 01, 2018110112,   , BEST,   0, 123S, 1795E,  45,    0, TS,\n", f);
    fclose(f);
    besttrack_set set = {0};
    CU_ASSERT_FATAL(besttrack_read(path, &set) == 0);
    CU_ASSERT_EQUAL_FATAL(set.n, 2);
    const besttrack_storm *s = &set.storm[0];
    CU_ASSERT_STRING_EQUAL(s->sid, "AL062018");
    CU_ASSERT_STRING_EQUAL(s->name, "FLORENCE");
    CU_ASSERT_STRING_EQUAL(s->tech, "BEST");
    CU_ASSERT(isnan(s->init));
    CU_ASSERT_EQUAL_FATAL(s->n, 2);
    CU_ASSERT_DOUBLE_EQUAL(s->pt[1].lat, 13.6, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->pt[1].lon, 360 - 17.8, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->pt[1].wind, 35 * 1852.0 / 3600.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->pt[1].msl, 100600.0, 1e-6);
    CU_ASSERT(besttrack_is_tropical(s, &s->pt[0])); /* TD is tropical */
    const besttrack_storm *h = &set.storm[1];
    CU_ASSERT_DOUBLE_EQUAL(h->pt[0].lat, -12.3, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(h->pt[0].lon, 179.5, 1e-9);
    CU_ASSERT(isnan(h->pt[0].msl)); /* MSLP 0: missing */
    besttrack_free(&set);
    /* a latitude without its hemisphere letter */
    f = fopen(path, "w");
    fputs("AL, 06, 2018090100,   , BEST,   0, 135N,  170W,  30, 1008, TD,\nAL, 06, 2018090106,   , BEST,   0, 136,  178W,  35,\n", f);
    fclose(f);
    CU_ASSERT(besttrack_read(path, &set) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "line 2, column 7 (LatN/S)") != NULL);
    CU_ASSERT_EQUAL(set.n, 0);
    unlink(path);
}

/* A concatenated b-deck (cat bal*.dat): AL06 of 2017 and of 2018 are two
 * storms; a storm going on across 31 December keeps its genesis year, and
 * an SH storm from 1 July on takes the next season year (ATCF BBCCYYYY). */
static void test_atcf_bdeck_years(void) {
    char path[512];
    tmp_path(path, sizeof path, "bal_cat.dat");
    FILE *f = fopen(path, "w");
    fputs("AL, 06, 2017083012, , BEST, 0, 161N, 269W, 35, 1004, TS,\n"
          "AL, 06, 2017083018, , BEST, 0, 163N, 282W, 40, 1002, TS,\n"
          "AL, 06, 2018090100, , BEST, 0, 135N, 170W, 30, 1008, TD,\n"
          "AL, 06, 2018090106, , BEST, 0, 136N, 178W, 35, 1006, TS,\n"
          "AL, 30, 2005123118, , BEST, 0, 245N, 350W, 45, 1000, TS,\n"
          "AL, 30, 2006010100, , BEST, 0, 246N, 352W, 45, 1000, TS,\n"
          "SH, 01, 2018063018, , BEST, 0, 123S, 795E, 30, 1000, TS,\n"
          "SH, 01, 2018070100, , BEST, 0, 124S, 794E, 30, 1000, TS,\n"
          "SH, 01, 2018081500, , BEST, 0, 101S, 901E, 30, 1000, TS,\n", f);
    fclose(f);
    besttrack_set set = {0};
    CU_ASSERT_FATAL(besttrack_read(path, &set) == 0);
    CU_ASSERT_EQUAL_FATAL(set.n, 5);
    CU_ASSERT_STRING_EQUAL(set.storm[0].atcf, "AL062017");
    CU_ASSERT_EQUAL(set.storm[0].n, 2);
    CU_ASSERT_STRING_EQUAL(set.storm[1].atcf, "AL062018");
    CU_ASSERT_EQUAL(set.storm[1].n, 2);
    CU_ASSERT_STRING_EQUAL(set.storm[2].atcf, "AL302005");
    CU_ASSERT_EQUAL(set.storm[2].n, 2);
    CU_ASSERT_STRING_EQUAL(set.storm[3].atcf, "SH012018");
    CU_ASSERT_EQUAL(set.storm[3].n, 2);
    CU_ASSERT_STRING_EQUAL(set.storm[4].atcf, "SH012019");
    CU_ASSERT_EQUAL(set.storm[4].n, 1);
    besttrack_free(&set);
    unlink(path);
}

/* An a-deck written and read back: the same track to the format's
 * precision (0.1 degree, 1 kt, 1 hPa), both hemispheres, both sides of
 * the date line. */
static void test_atcf_round_trip(void) {
    besttrack_point pts[4] = {
        {0, 15.04, 140.0, 99000, 30.0, ""}, {0, 17.26, 179.96, 98512, 35.2, ""},
        {0, -12.34, 181.5, NAN, NAN, ""},   {0, -0.04, 359.94, 100100, 10.0, ""},
    };
    besttrack_storm s = {.sid = "WP312018", .name = "YUTU", .basin = "WP", .atcf = "WP312018", .tech = "PANG",
                         .format = BESTTRACK_ATCF, .n = 4, .pt = pts};
    util_time_parse("2018-10-25T12", &s.init);
    for (int k = 0; k < 4; k++) pts[k].time = s.init + 6 * 3600.0 * k;
    char path[512];
    tmp_path(path, sizeof path, "awp.dat");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(besttrack_write_adeck(f, &s, "pang") == 0);
    fclose(f);
    f = fopen(path, "r");
    char first[256];
    CU_ASSERT_FATAL(fgets(first, sizeof first, f) != NULL);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(first, "WP, 31, 2018102512, 03, PANG,   0, 150N, 1400E,  58,  990, XX,\n");
    besttrack_set set = {0};
    CU_ASSERT_FATAL(besttrack_read(path, &set) == 0);
    CU_ASSERT_EQUAL_FATAL(set.n, 1);
    const besttrack_storm *r = &set.storm[0];
    CU_ASSERT_STRING_EQUAL(r->tech, "PANG");
    CU_ASSERT_DOUBLE_EQUAL(r->init, s.init, 1e-6);
    CU_ASSERT_EQUAL_FATAL(r->n, 4);
    for (int k = 0; k < 4; k++) {
        double dlon = fabs(r->pt[k].lon - pts[k].lon);
        if (dlon > 180) dlon = 360 - dlon;
        CU_ASSERT_DOUBLE_EQUAL(r->pt[k].time, pts[k].time, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(r->pt[k].lat, pts[k].lat, 0.05 + 1e-9);
        CU_ASSERT(dlon <= 0.05 + 1e-9);
        if (isnan(pts[k].wind)) {
            CU_ASSERT(isnan(r->pt[k].wind) && isnan(r->pt[k].msl));
        } else {
            CU_ASSERT_DOUBLE_EQUAL(r->pt[k].wind, pts[k].wind, 0.5 * BESTTRACK_KT + 1e-9);
            CU_ASSERT_DOUBLE_EQUAL(r->pt[k].msl, pts[k].msl, 50 + 1e-9);
        }
    }
    besttrack_free(&set);
    unlink(path);
    /* TECH is four characters at most */
    f = fopen(path, "w");
    CU_ASSERT(besttrack_write_adeck(f, &s, "pangu") == UTIL_EINVAL);
    fclose(f);
    unlink(path);
}


/* ---- the tracker on synthetic Holland vortices ----
 * Holland (1980): p(r) = pc + dp exp(-(Rmax/r)^B), and the gradient wind
 * V(r) = sqrt(B dp / rho (Rmax/r)^B exp(-(Rmax/r)^B) + (r f / 2)^2) - r |f| / 2,
 * cyclonic in each vortex's hemisphere; 850 hPa wind 0.9 V, 10 m wind
 * 0.8 V; the 850-200 hPa thickness a smooth background plus a warm (or
 * cold) core anomaly of 300 km e-folding radius. Fields on a global
 * 0.5-degree grid, north to south, longitudes 0..359.5. */

enum { GH = 361, GW = 720 };
#define GSTEP 0.5

typedef struct {
    double lat0, lon0, dlat, dlon; /* position at hour 0, degrees per hour */
    double dp0, dp_end_hour;       /* hPa; dp falls linearly to 0 at dp_end_hour (0: never) */
    double rmax_km, b, core_m;     /* core_m > 0 warm core, < 0 cold core (thickness anomaly, m) */
} vortex;

typedef struct {
    double lat[GH], lon[GW];
    float *msl, *u850, *v850, *thick, *u10, *v10, *land;
    track_fields f;
} synth;

static void vortex_at(const vortex *v, double hour, double *lat, double *lon, double *dp) {
    *lat = v->lat0 + v->dlat * hour;
    *lon = fmod(v->lon0 + v->dlon * hour + 720.0, 360.0);
    *dp = v->dp0 * (v->dp_end_hour > 0 ? fmax(0.0, 1.0 - hour / v->dp_end_hour) : 1.0);
}

static double bearing(double lat1, double lon1, double lat2, double lon2) {
    double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180, dl = (lon2 - lon1) * M_PI / 180;
    return atan2(sin(dl) * cos(p2), cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl));
}

static void synth_fields(synth *g, const vortex *v, int nv, double hour) {
    for (int i = 0; i < GH; i++)
        for (int j = 0; j < GW; j++) {
            size_t at = (size_t)i * GW + j;
            double lat = g->lat[i], lon = g->lon[j], p = 101000.0, u = 0, w = 0;
            double thick = 9000.0 + 1500.0 * cos(lat * M_PI / 180);
            for (int k = 0; k < nv; k++) {
                double clat, clon, dp;
                vortex_at(&v[k], hour, &clat, &clon, &dp);
                double r = track_distance_km(clat, clon, lat, lon) * 1000.0, R = v[k].rmax_km * 1000.0;
                thick += v[k].core_m * exp(-pow(r / 3e5, 2));
                if (dp <= 0) continue;
                if (r < 1.0) { /* the centre: the full deficit, calm */
                    p -= dp * 100.0;
                    continue;
                }
                double x = pow(R / r, v[k].b), f = fabs(2 * 7.292e-5 * sin(clat * M_PI / 180));
                p -= dp * 100.0 * (1 - exp(-x));
                double V = sqrt(v[k].b * dp * 100.0 / 1.15 * x * exp(-x) + pow(r * f / 2, 2)) - r * f / 2;
                double beta = bearing(clat, clon, lat, lon) + (clat >= 0 ? -M_PI / 2 : M_PI / 2);
                u += V * sin(beta), w += V * cos(beta);
            }
            g->msl[at] = (float)p, g->thick[at] = (float)thick;
            g->u850[at] = (float)(0.9 * u), g->v850[at] = (float)(0.9 * w);
            g->u10[at] = (float)(0.8 * u), g->v10[at] = (float)(0.8 * w);
        }
}

static synth *synth_new(void) {
    synth *g = calloc(1, sizeof *g);
    size_t HW = (size_t)GH * GW;
    float *block = calloc(HW * 7, sizeof(float));
    g->msl = block, g->u850 = block + HW, g->v850 = block + 2 * HW, g->thick = block + 3 * HW;
    g->u10 = block + 4 * HW, g->v10 = block + 5 * HW, g->land = block + 6 * HW;
    for (int i = 0; i < GH; i++) g->lat[i] = 90.0 - GSTEP * i;
    for (int j = 0; j < GW; j++) g->lon[j] = GSTEP * j;
    g->f = (track_fields){GH, GW, g->lat, g->lon, g->msl, g->u850, g->v850, g->thick, g->u10, g->v10, NULL};
    return g;
}

static void synth_free(synth *g) {
    free(g->msl);
    free(g);
}

/* Follows vortex 0 every 6 h to `hours`, as pangu track does: the first
 * guess extrapolated from the last two fixes (before the start: the true
 * position 6 h earlier). Returns the fixes made; err_km the largest
 * distance to the true centre. */
static int follow_synth(synth *g, const vortex *v, int nv, int hours, double *err_km, track_fix *last) {
    track_params p;
    track_default_params(&p);
    double t[64], lat[64], lon[64], dp;
    int n = 0, fixes = 0;
    *err_km = 0;
    for (int h = -6; h <= 0; h += 6, n++) vortex_at(&v[0], h, &lat[n], &lon[n], &dp), t[n] = h;
    for (int h = 6; h <= hours; h += 6) {
        double glat, glon, tlat, tlon;
        synth_fields(g, v, nv, h);
        track_first_guess(t, lat, lon, n, h, &glat, &glon);
        track_fix fix;
        int found = track_find_centre(&g->f, &p, glat, glon, &fix);
        CU_ASSERT(found >= 0);
        if (found <= 0) break;
        vortex_at(&v[0], h, &tlat, &tlon, &dp);
        double e = track_distance_km(tlat, tlon, fix.lat, fix.lon);
        if (getenv("TRACK_DEBUG")) printf("\n  h %d true %.2f %.2f fix %.2f %.2f err %.1f km msl %.0f vort %.2e wind10 %.1f", h, tlat, tlon, fix.lat, fix.lon, e, fix.msl, fix.vorticity, fix.wind10);
        if (e > *err_km) *err_km = e;
        t[n] = h, lat[n] = fix.lat, lon[n++] = fix.lon;
        if (last) *last = fix;
        fixes++;
    }
    return fixes;
}

#define GRID_KM (GSTEP * 111.195)

/* Northern hemisphere, westward and poleward; southern hemisphere across
 * the date line eastward: every lead within a grid length of the centre. */
static void test_holland_hemispheres(void) {
    synth *g = synth_new();
    double err;
    track_fix fix;
    vortex nh = {15.0, 140.0, 0.05, -0.12, 40, 0, 60, 1.5, 60};
    CU_ASSERT_EQUAL(follow_synth(g, &nh, 1, 120, &err, &fix), 20);
    CU_ASSERT(err < GRID_KM);
    CU_ASSERT(fix.vorticity > 5e-5);
    CU_ASSERT(fix.msl < 101000 - 3500);
    CU_ASSERT(fix.wind10 > 20);
    vortex sh = {-15.0, 176.0, -0.04, 0.12, 35, 0, 60, 1.5, 60}; /* 176 E to 174.4 W */
    CU_ASSERT_EQUAL(follow_synth(g, &sh, 1, 120, &err, &fix), 20);
    CU_ASSERT(err < GRID_KM);
    CU_ASSERT(fix.vorticity < -5e-5);
    CU_ASSERT(fix.lon > 180 && fix.lon < 192);
    vortex zero = {12.0, 358.5, 0.02, 0.1, 35, 0, 60, 1.5, 60}; /* across 0 E */
    CU_ASSERT_EQUAL(follow_synth(g, &zero, 1, 60, &err, NULL), 10);
    CU_ASSERT(err < GRID_KM);
    synth_free(g);
}

/* A storm that dies 400 km from a weak, broad cold-core low: the track
 * ends when the storm is gone, never jumping to the low (its vorticity is
 * below 5e-5 s-1 though its pressure is lowest). */
static void test_holland_dissipating(void) {
    synth *g = synth_new();
    double err;
    track_fix fix;
    vortex v[2] = {{20.0, 130.0, 0.0, -0.05, 30, 48, 60, 1.5, 60},
                   {20.0, 126.0, 0.0, 0.0, 4, 0, 800, 1.0, -40}};
    int n = follow_synth(g, v, 2, 96, &err, &fix);
    CU_ASSERT(n >= 6 && n <= 7); /* dp 0 at 48 h: not found then */
    CU_ASSERT(err < GRID_KM);
    /* the low alone: a pressure minimum, but it fails the vorticity test */
    synth_fields(g, &v[1], 1, 0);
    track_params p;
    track_default_params(&p);
    CU_ASSERT_EQUAL(track_find_centre(&g->f, &p, 20.0, 127.0, &fix), 0);
    /* control: the same low with a tighter core is taken */
    vortex tight = v[1];
    tight.rmax_km = 80, tight.b = 1.5, tight.dp0 = 20;
    synth_fields(g, &tight, 1, 0);
    CU_ASSERT_EQUAL(track_find_centre(&g->f, &p, 20.0, 127.0, &fix), 1);
    synth_free(g);
}

/* Over land (the mask's land fraction >= 0.5) a storm with weak 10 m winds
 * (< 8 m/s) ends where the same storm over the sea goes on; a strong one
 * goes on over land. */
static void test_holland_land(void) {
    synth *g = synth_new();
    double err;
    vortex weak = {18.0, 100.0, 0.0, 0.1, 1.2, 0, 150, 1.5, 40};
    vortex strong = {18.0, 100.0, 0.0, 0.1, 40, 0, 60, 1.5, 40};
    CU_ASSERT_EQUAL(follow_synth(g, &weak, 1, 48, &err, NULL), 8); /* no mask: all sea */
    for (int i = 0; i < GH; i++)
        for (int j = 0; j < GW; j++) g->land[(size_t)i * GW + j] = g->lon[j] >= 102.0 && g->lon[j] <= 140.0 ? 1.0f : 0.0f;
    g->f.land = g->land;
    int n = follow_synth(g, &weak, 1, 48, &err, NULL);
    CU_ASSERT(n >= 2 && n <= 4); /* lon 102 at 20 h: found at 6, 12, 18 h only */
    track_fix fix;
    CU_ASSERT_EQUAL(follow_synth(g, &strong, 1, 48, &err, &fix), 8);
    CU_ASSERT(fix.over_land && fix.wind10 > 8);
    CU_ASSERT(err < GRID_KM);
    synth_free(g);
}

/* Extratropical (poleward of 30 degrees): a warm-core storm (a thickness
 * maximum within 278 km) is followed, a cold-core one ends; equatorward of
 * 30 degrees the thickness is not asked for. */
static void test_holland_extratropical(void) {
    synth *g = synth_new();
    double err;
    vortex warm = {34.0, 150.0, 0.05, 0.1, 30, 0, 80, 1.5, 60};
    vortex cold = warm;
    cold.core_m = -60;
    CU_ASSERT_EQUAL(follow_synth(g, &warm, 1, 48, &err, NULL), 8);
    CU_ASSERT(err < GRID_KM);
    CU_ASSERT_EQUAL(follow_synth(g, &cold, 1, 48, &err, NULL), 0);
    cold.lat0 = 24.0;
    CU_ASSERT_EQUAL(follow_synth(g, &cold, 1, 48, &err, NULL), 8);
    /* without a thickness field a storm poleward of 30 degrees is an error, not a guess */
    g->f.thickness = NULL;
    track_fix fix;
    track_params p;
    track_default_params(&p);
    synth_fields(g, &warm, 1, 0);
    CU_ASSERT_EQUAL(track_find_centre(&g->f, &p, 34.0, 150.0, &fix), -1);
    synth_free(g);
}

/* On a regional grid (0..40 N, 100..180 E) a storm just east of its edge
 * leaves the lowest pressure on the edge column, with strong vorticity
 * inside the grid (a broad storm, Rmax 150 km, B 1): that is not a centre;
 * the same storm inside the grid is found. */
static void test_regional_edge(void) {
    synth *g = synth_new();
    enum { RH = 81, RW = 161 }; /* rows 40 N..0, columns 100..180 E */
    float *block = malloc(sizeof(float) * RH * RW * 6);
    track_fields r = g->f;
    r.H = RH, r.W = RW, r.lat = g->lat + 100, r.lon = g->lon + 200, r.land = NULL;
    float *dst[6] = {block, block + RH * RW, block + 2 * RH * RW, block + 3 * RH * RW, block + 4 * RH * RW, block + 5 * RH * RW};
    const float **fld[6] = {&r.msl, &r.u850, &r.v850, &r.thickness, &r.u10, &r.v10};
    track_params p;
    track_default_params(&p);
    track_fix fix;
    for (int pass = 0; pass < 2; pass++) {
        vortex v = {20.0, pass ? 175.0 : 181.5, 0, 0, 40, 0, 150, 1.0, 60};
        synth_fields(g, &v, 1, 0);
        const float *src[6] = {g->msl, g->u850, g->v850, g->thick, g->u10, g->v10};
        for (int k = 0; k < 6; k++) {
            for (int i = 0; i < RH; i++) memcpy(dst[k] + (size_t)i * RW, src[k] + (size_t)(100 + i) * GW + 200, sizeof(float) * RW);
            *fld[k] = dst[k];
        }
        CU_ASSERT_EQUAL(track_find_centre(&r, &p, 20.0, pass ? 175.0 : 179.5, &fix), pass ? 1 : 0);
        if (pass) CU_ASSERT(track_distance_km(fix.lat, fix.lon, 20.0, 175.0) < GRID_KM);
    }
    free(block);
    synth_free(g);
}

static void test_distance_guess(void) {
    /* a quarter of the equator, and one degree of a meridian */
    CU_ASSERT_DOUBLE_EQUAL(track_distance_km(0, 0, 0, 90), 6371.0 * M_PI / 2, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(track_distance_km(10, 179.5, 10, -179.5), track_distance_km(10, 0, 10, 1), 1e-9);
    double t[2] = {0, 6}, lat[2] = {10, 11}, lon[2] = {179.0, 181.0}, glat, glon;
    track_first_guess(t, lat, lon, 2, 12, &glat, &glon);
    CU_ASSERT_DOUBLE_EQUAL(glat, 12.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(glon, 183.0, 1e-9);
    lon[0] = 359.5, lon[1] = 0.5;
    track_first_guess(t, lat, lon, 2, 9, &glat, &glon);
    CU_ASSERT_DOUBLE_EQUAL(glon, 1.0, 1e-9);
}

int tests_register_track(void) {
    CU_pSuite s = CU_add_suite("track", NULL, NULL);
    if (!s) return 1;
    if (!CU_add_test(s, "IBTrACS v04r01: the published header lines and first record", test_ibtracs_published_head) ||
        !CU_add_test(s, "IBTrACS: basins, longitudes, WMO and USA values, interpolation", test_ibtracs_records) ||
        !CU_add_test(s, "IBTrACS: bad records named by file, line and column", test_ibtracs_strict) ||
        !CU_add_test(s, "ATCF b-deck: records, wind radii lines, hemispheres", test_atcf_bdeck) ||
        !CU_add_test(s, "ATCF b-deck: storms of one number kept apart by season year", test_atcf_bdeck_years) ||
        !CU_add_test(s, "ATCF a-deck: written and read back", test_atcf_round_trip) ||
        !CU_add_test(s, "tracker: great-circle distance, first guess across the date line and 0", test_distance_guess) ||
        !CU_add_test(s, "tracker: Holland vortices in both hemispheres, across the date line and 0", test_holland_hemispheres) ||
        !CU_add_test(s, "tracker: a dying storm beside a broad cold-core low", test_holland_dissipating) ||
        !CU_add_test(s, "tracker: over land, 10 m wind above 8 m/s", test_holland_land) ||
        !CU_add_test(s, "tracker: extratropical storms need a thickness maximum", test_holland_extratropical) ||
        !CU_add_test(s, "tracker: a regional grid's edge is not a centre", test_regional_edge))
        return 1;
    return 0;
}
