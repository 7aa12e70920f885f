/* Suite "grib": GRIB 1 and GRIB 2 inputs (io/grib.c through io/read.c).
 * The files are written here with ecCodes from the tiny fixture's state
 * (tests/fixtures/tiny_in.nc) and read back with io_state_read. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <eccodes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "io/grib.h"
#include "io/io.h"
#include "model/model.h"
#include "tests.h"
#include "util/util.h"

#define G 9.80665

static char tmpdir[256];
static model m;
static io_state in; /* the NetCDF state */
static int loaded;

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* How to write a state as GRIB. */
typedef struct {
    const char *pl_sample, *sfc_sample;
    const char *packing; /* "grid_ieee" (GRIB 2, exact) or "grid_simple" */
    long bits;           /* bitsPerValue for grid_simple */
    int south_to_north;  /* jScansPositively = 1 */
    long date, hhmm, step;
    const char *z_name, *msl_name; /* "z" or "gh", "msl" or "prmsl" */
    float skip_z_level;  /* leave out z at this level (0: none) */
    float add;           /* added to every value, to tell states apart */
    long missing_at;     /* a point of t2m left out by a bitmap (-1: none) */
} grib_opts;

static grib_opts grib2_opts(void) {
    return (grib_opts){"regular_ll_pl_grib2", "regular_ll_sfc_grib2", "grid_ieee", 32, 0, 20200101, 1200, 0,
                       "z", "msl", 0, 0, -1};
}

static grib_opts grib1_opts(void) {
    return (grib_opts){"regular_ll_pl_grib1", "regular_ll_sfc_grib1", "grid_simple", 24, 0, 20200101, 1200, 0,
                       "z", "msl", 0, 0, -1};
}

#define CHECK(call) CU_ASSERT_FATAL((call) == 0)

/* Append one message: `field` (H, W) north to south as in the state,
 * divided by div, on the state's grid. */
static void put(FILE *fp, const char *sample, const grib_opts *o, const char *name, const char *tol, long level,
                const float *field, double div, long missing_at) {
    codes_handle *h = codes_grib_handle_new_from_samples(NULL, sample);
    CU_ASSERT_FATAL(h != NULL);
    int H = in.H, W = in.W, s2n = o->south_to_north;
    size_t len = strlen(name);
    CHECK(codes_set_string(h, "shortName", name, &len));
    if (tol) {
        len = strlen(tol);
        CHECK(codes_set_string(h, "typeOfLevel", tol, &len));
        CHECK(codes_set_long(h, "level", level));
    }
    CHECK(codes_set_long(h, "dataDate", o->date));
    CHECK(codes_set_long(h, "dataTime", o->hhmm));
    CHECK(codes_set_long(h, "step", o->step));
    CHECK(codes_set_long(h, "Ni", W));
    CHECK(codes_set_long(h, "Nj", H));
    CHECK(codes_set_long(h, "jScansPositively", s2n));
    CHECK(codes_set_double(h, "latitudeOfFirstGridPointInDegrees", s2n ? in.lat[H - 1] : in.lat[0]));
    CHECK(codes_set_double(h, "latitudeOfLastGridPointInDegrees", s2n ? in.lat[0] : in.lat[H - 1]));
    CHECK(codes_set_double(h, "longitudeOfFirstGridPointInDegrees", in.lon[0]));
    CHECK(codes_set_double(h, "longitudeOfLastGridPointInDegrees", in.lon[W - 1]));
    CHECK(codes_set_double(h, "iDirectionIncrementInDegrees", in.lon[1] - in.lon[0]));
    CHECK(codes_set_double(h, "jDirectionIncrementInDegrees", fabs(in.lat[0] - in.lat[1])));
    len = strlen(o->packing);
    CHECK(codes_set_string(h, "packingType", o->packing, &len));
    if (!strcmp(o->packing, "grid_ieee")) {
        CHECK(codes_set_long(h, "precision", 1));
    } else {
        CHECK(codes_set_long(h, "bitsPerValue", o->bits));
    }
    size_t HW = (size_t)H * W;
    double *vals = malloc(sizeof(double) * HW);
    CU_ASSERT_FATAL(vals != NULL);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            vals[(size_t)i * W + j] = (double)(field[(size_t)(s2n ? H - 1 - i : i) * W + j] + o->add) / div;
    if (missing_at >= 0) {
        CHECK(codes_set_double(h, "missingValue", 9999));
        CHECK(codes_set_long(h, "bitmapPresent", 1));
        vals[missing_at] = 9999;
    }
    CHECK(codes_set_double_array(h, "values", vals, HW));
    free(vals);
    const void *msg;
    size_t size;
    CHECK(codes_get_message(h, &msg, &size));
    CU_ASSERT_FATAL(fwrite(msg, 1, size, fp) == size);
    codes_handle_delete(h);
}

/* The upper-air fields of the state (what: 1) and/or the surface (2). */
static void write_state(const char *path, const char *mode, int what, const grib_opts *o) {
    FILE *fp = fopen(path, mode);
    CU_ASSERT_FATAL(fp != NULL);
    size_t HW = (size_t)in.H * in.W;
    static const char *upper[5] = {NULL, "q", "t", "u", "v"};
    if (what & 1)
        for (int v = 0; v < 5; v++)
            for (int k = 0; k < in.nlev; k++) {
                const char *name = v ? upper[v] : o->z_name;
                if (v == 0 && in.levels[k] == o->skip_z_level) continue;
                put(fp, o->pl_sample, o, name, "isobaricInhPa", (long)in.levels[k],
                    in.upper + ((size_t)v * in.nlev + k) * HW, v == 0 && !strcmp(name, "gh") ? G : 1, -1);
            }
    static const char *surface[4] = {NULL, "10u", "10v", "2t"};
    if (what & 2)
        for (int v = 0; v < 4; v++)
            put(fp, o->sfc_sample, o, v ? surface[v] : o->msl_name, v ? NULL : "meanSea", 0,
                in.surface + (size_t)v * HW, 1, v == 3 ? o->missing_at : -1);
    CU_ASSERT_FATAL(fclose(fp) == 0);
}

static double time_of(const char *text) {
    double t = NAN;
    util_time_parse(text, &t);
    return t;
}

/* Largest |a - b| over each field, relative to the field's range in b. */
static double rel_error(const io_state *a, const io_state *b) {
    size_t HW = (size_t)b->H * b->W;
    double worst = 0;
    for (int f = 0; f < 5 * b->nlev + 4; f++) {
        const float *x = f < 5 * b->nlev ? a->upper + f * HW : a->surface + (f - 5 * b->nlev) * HW;
        const float *y = f < 5 * b->nlev ? b->upper + f * HW : b->surface + (f - 5 * b->nlev) * HW;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < HW; i++) lo = fmin(lo, y[i]), hi = fmax(hi, y[i]);
        double range = hi - lo > 0 ? hi - lo : fabs(hi) + 1e-30;
        for (size_t i = 0; i < HW; i++) {
            double e = fabs((double)x[i] - y[i]) / range;
            if (!(e <= worst)) worst = e; /* NaN wins */
        }
    }
    return worst;
}

static int same_state(const io_state *a, const io_state *b) {
    size_t HW = (size_t)b->H * b->W;
    return memcmp(a->upper, b->upper, sizeof(float) * 5 * b->nlev * HW) == 0 &&
           memcmp(a->surface, b->surface, sizeof(float) * 4 * HW) == 0;
}

static int read_state(io_state *s, const char *a, const char *b, long time_index) {
    const char *paths[2] = {a, b};
    return io_state_read(s, paths, b ? 2 : 1, time_index, in.H, in.W, in.levels, in.nlev);
}

static int message_has(const char *what) {
    int ok = strstr(util_last_message(), what) != NULL;
    if (!ok) fprintf(stderr, "\n  message lacks '%s': %s\n", what, util_last_message());
    return ok;
}

/* GRIB 2, pressure levels and surface in separate files, exact packing:
 * the same state, grid and valid time as the NetCDF file. */
static void test_grib2_separate_files(void) {
    grib_opts o = grib2_opts();
    o.step = 6; /* valid 2020-01-01T18 */
    write_state(tmp("pl.grib2"), "wb", 1, &o);
    write_state(tmp("sfc.grib2"), "wb", 2, &o);
    io_state s;
    CU_ASSERT_FATAL(read_state(&s, tmp("pl.grib2"), tmp("sfc.grib2"), 0) == 0);
    CU_ASSERT(same_state(&s, &in));
    CU_ASSERT(s.time == time_of("2020-01-01T18:00"));
    for (int i = 0; i < in.H; i++) CU_ASSERT(fabs(s.lat[i] - in.lat[i]) < 1e-5);
    for (int j = 0; j < in.W; j++) CU_ASSERT(fabs(s.lon[j] - in.lon[j]) < 1e-6);
    io_state_free(&s);
    /* The series: one time, the levels (descending) and the grid. */
    io_series *series;
    const char *paths[2] = {tmp("sfc.grib2"), tmp("pl.grib2")};
    CU_ASSERT_FATAL(io_series_open(&series, paths, 2) == 0);
    CU_ASSERT(io_series_ntimes(series) == 1);
    int H, W, nlev;
    float levels[IO_MAX_LEVELS];
    CU_ASSERT(io_series_describe(series, &H, &W, levels, &nlev) == 0);
    CU_ASSERT(H == in.H && W == in.W && nlev == in.nlev);
    for (int k = 1; k < nlev; k++) CU_ASSERT(levels[k] < levels[k - 1]);
    io_series_close(series);
}

/* GRIB 1 (ECMWF tables, as MARS delivers ERA5), everything in one file,
 * 24 bits per value. */
static void test_grib1_one_file(void) {
    grib_opts o = grib1_opts();
    write_state(tmp("all.grib1"), "wb", 3, &o);
    io_state s;
    CU_ASSERT_FATAL(read_state(&s, tmp("all.grib1"), NULL, 0) == 0);
    double e = rel_error(&s, &in);
    CU_ASSERT(e <= 1.0 / (1 << 23));
    if (!(e <= 1.0 / (1 << 23))) fprintf(stderr, "\n  grib1: relative error %g\n", e);
    CU_ASSERT(s.time == time_of("2020-01-01T12:00"));
    io_state_free(&s);
}

/* GFS naming: gh (geopotential height, gpm) and prmsl; other messages (t at
 * the surface, r, a level in Pa) are not taken for the model's. */
static void test_gfs_names(void) {
    grib_opts o = grib2_opts();
    o.z_name = "gh", o.msl_name = "prmsl";
    const char *path = tmp("gfs.grib2");
    write_state(path, "wb", 3, &o);
    FILE *fp = fopen(path, "ab");
    CU_ASSERT_FATAL(fp != NULL);
    grib_opts other = o;
    other.add = 1000;
    put(fp, o.sfc_sample, &other, "t", "surface", 0, in.surface + 3 * (size_t)in.H * in.W, 1, -1);
    put(fp, o.pl_sample, &other, "r", "isobaricInhPa", (long)in.levels[0], in.upper, 1, -1);
    put(fp, o.pl_sample, &other, "t", "isobaricInPa", 50, in.upper, 1, -1); /* 0.5 hPa */
    fclose(fp);
    io_state s;
    CU_ASSERT_FATAL(read_state(&s, path, NULL, 0) == 0);
    size_t HW = (size_t)in.H * in.W;
    /* gh times g: within float rounding of z; the rest exact. */
    double worst = 0;
    for (size_t i = 0; i < (size_t)in.nlev * HW; i++)
        worst = fmax(worst, fabs(s.upper[i] - in.upper[i]) / fmax(fabs(in.upper[i]), 1.0));
    CU_ASSERT(worst < 3e-7);
    CU_ASSERT(memcmp(s.upper + in.nlev * HW, in.upper + in.nlev * HW, sizeof(float) * 4 * in.nlev * HW) == 0);
    CU_ASSERT(memcmp(s.surface, in.surface, sizeof(float) * 4 * HW) == 0);
    io_state_free(&s);
    io_series *series;
    CU_ASSERT_FATAL(io_series_open(&series, &path, 1) == 0);
    int H, W, nlev;
    float levels[IO_MAX_LEVELS];
    CU_ASSERT(io_series_describe(series, &H, &W, levels, &nlev) == 0);
    CU_ASSERT(nlev == in.nlev + 1 && levels[nlev - 1] == 0.5f);
    io_series_close(series);
}

/* Two valid times in one file (one analysis time, steps 0 and 18 h): the
 * second is chosen by index. */
static void test_two_times(void) {
    grib_opts a = grib2_opts(), b = grib2_opts();
    a.add = 1;   /* valid 2020-01-01T12 */
    b.step = 18; /* valid 2020-01-02T06 */
    const char *path = tmp("times.grib2");
    write_state(path, "wb", 3, &a);
    write_state(path, "ab", 3, &b);
    io_series *series;
    CU_ASSERT_FATAL(io_series_open(&series, &path, 1) == 0);
    CU_ASSERT_FATAL(io_series_ntimes(series) == 2);
    CU_ASSERT(io_series_time(series, 0) == time_of("2020-01-01T12:00"));
    CU_ASSERT(io_series_time(series, 1) == time_of("2020-01-02T06:00"));
    io_series_close(series);
    io_state s;
    CU_ASSERT_FATAL(read_state(&s, path, NULL, 1) == 0);
    CU_ASSERT(same_state(&s, &in));
    CU_ASSERT(s.time == time_of("2020-01-02T06:00"));
    io_state_free(&s);
    CU_ASSERT_FATAL(read_state(&s, path, NULL, 0) == 0);
    CU_ASSERT(!same_state(&s, &in));
    CU_ASSERT(s.surface[0] == in.surface[0] + 1);
    io_state_free(&s);
}

/* Rows stored south to north (jScansPositively = 1). */
static void test_south_to_north(void) {
    grib_opts o = grib2_opts();
    o.south_to_north = 1;
    write_state(tmp("s2n.grib2"), "wb", 3, &o);
    io_state s;
    CU_ASSERT_FATAL(read_state(&s, tmp("s2n.grib2"), NULL, 0) == 0);
    CU_ASSERT(same_state(&s, &in));
    CU_ASSERT(s.lat[0] == 90.0 && s.lat[in.H - 1] == -90.0);
    io_state_free(&s);
}

/* A missing field names the file, variable, level and time. */
static void test_missing_level(void) {
    grib_opts o = grib2_opts();
    o.skip_z_level = in.levels[2];
    const char *path = tmp("hole.grib2");
    write_state(path, "wb", 3, &o);
    io_state s;
    CU_ASSERT(read_state(&s, path, NULL, 0) == UTIL_EFORMAT);
    char level[32];
    snprintf(level, sizeof level, "%g hPa", in.levels[2]);
    CU_ASSERT(message_has(path) && message_has("no GRIB message for z") && message_has(level) &&
              message_has("2020-01-01T12:00:00"));
    /* A level no variable has. */
    float levels[IO_MAX_LEVELS];
    memcpy(levels, in.levels, sizeof(float) * in.nlev);
    levels[in.nlev] = 1.5f;
    o.skip_z_level = 0;
    write_state(path, "wb", 3, &o);
    CU_ASSERT(io_state_read(&s, &path, 1, 0, in.H, in.W, levels, in.nlev + 1) == UTIL_EFORMAT);
    CU_ASSERT(message_has(path) && message_has("no GRIB message for z at 1.5 hPa") &&
              message_has("2020-01-01T12:00:00"));
    /* The surface file alone: no upper air. */
    write_state(path, "wb", 2, &o);
    CU_ASSERT(read_state(&s, path, NULL, 0) == UTIL_EFORMAT);
    CU_ASSERT(message_has("no variable 'z'") && message_has("GRIB shortName z or gh"));
}

/* Points a bitmap leaves out read as NaN. */
static void test_bitmap(void) {
    grib_opts o = grib2_opts();
    o.missing_at = 7;
    o.packing = "grid_simple", o.bits = 24;
    write_state(tmp("bitmap.grib2"), "wb", 3, &o);
    io_state s;
    CU_ASSERT_FATAL(read_state(&s, tmp("bitmap.grib2"), NULL, 0) == 0);
    size_t HW = (size_t)in.H * in.W;
    CU_ASSERT(isnan(s.surface[3 * HW + 7]));
    int nan = 0;
    for (size_t i = 0; i < 4 * HW; i++) nan += isnan(s.surface[i]);
    CU_ASSERT(nan == 1);
    CU_ASSERT(fabs(s.surface[3 * HW + 8] - in.surface[3 * HW + 8]) < 1e-3);
    CU_ASSERT(io_state_check_finite(&s, "bitmap") == UTIL_ENAN);
    io_state_free(&s);
}

/* Grids: all messages on one regular_ll grid. */
static void test_bad_grids(void) {
    grib_opts o = grib2_opts();
    const char *path = tmp("grids.grib2");
    write_state(path, "wb", 2, &o);
    FILE *fp = fopen(path, "ab");
    CU_ASSERT_FATAL(fp != NULL);
    codes_handle *h = codes_grib_handle_new_from_samples(NULL, "regular_ll_pl_grib2"); /* 16 x 31, t at 850 hPa */
    CU_ASSERT_FATAL(h != NULL);
    const void *msg;
    size_t size;
    CHECK(codes_get_message(h, &msg, &size));
    CU_ASSERT_FATAL(fwrite(msg, 1, size, fp) == size);
    codes_handle_delete(h);
    fclose(fp);
    io_state s;
    CU_ASSERT(read_state(&s, path, NULL, 0) == UTIL_EFORMAT);
    CU_ASSERT(message_has(path) && message_has("share one grid") && message_has("shortName t"));
    h = codes_grib_handle_new_from_samples(NULL, "reduced_gg_pl_32_grib2");
    CU_ASSERT_FATAL(h != NULL);
    CHECK(codes_get_message(h, &msg, &size));
    fp = fopen(path, "wb");
    CU_ASSERT_FATAL(fp && fwrite(msg, 1, size, fp) == size);
    fclose(fp);
    codes_handle_delete(h);
    CU_ASSERT(read_state(&s, path, NULL, 0) == UTIL_EFORMAT);
    CU_ASSERT(message_has("reduced_gg") && message_has("regular_ll"));
}

/* Not GRIB, or cut short. */
static void test_bad_files(void) {
    grib_opts o = grib2_opts();
    const char *path = tmp("cut.grib2");
    write_state(path, "wb", 3, &o);
    FILE *fp = fopen(path, "rb");
    CU_ASSERT_FATAL(fp != NULL);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    CU_ASSERT_FATAL(truncate(path, n - 100) == 0);
    io_state s;
    CU_ASSERT(read_state(&s, path, NULL, 0) == UTIL_EFORMAT);
    CU_ASSERT(message_has(path) && message_has("truncated"));
    fp = fopen(path, "wb");
    CU_ASSERT_FATAL(fp != NULL);
    put(fp, o.sfc_sample, &o, "sp", NULL, 0, in.surface, 1, -1);
    fclose(fp);
    CU_ASSERT(read_state(&s, path, NULL, 0) == UTIL_EFORMAT);
    CU_ASSERT(message_has("none with shortName"));
}

/* The step on the GRIB input equals the step on the NetCDF input. */
static void test_step_same_as_netcdf(void) {
    grib_opts o = grib2_opts();
    write_state(tmp("step_pl.grib2"), "wb", 1, &o);
    write_state(tmp("step_sfc.grib2"), "wb", 2, &o);
    io_state g, a, b;
    CU_ASSERT_FATAL(read_state(&g, tmp("step_pl.grib2"), tmp("step_sfc.grib2"), 0) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&a, in.H, in.W, in.levels, in.nlev, &in) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&b, in.H, in.W, in.levels, in.nlev, &g) == 0);
    CU_ASSERT_FATAL(model_step(&m, a.upper, a.surface, in.upper, in.surface) == 0);
    CU_ASSERT_FATAL(model_step(&m, b.upper, b.surface, g.upper, g.surface) == 0);
    CU_ASSERT(same_state(&a, &b));
    io_state_free(&g);
    io_state_free(&a);
    io_state_free(&b);
}

/* Invariants (lsm, slt, surface z) from GRIB as MARS delivers them, rows
 * south to north: io_read_field and the constant masks built from them. */
static void test_invariants(void) {
    grib_opts o = grib2_opts();
    o.south_to_north = 1;
    size_t HW = (size_t)in.H * in.W;
    static const char *names[3] = {"lsm", "slt", "z"};
    float *want = malloc(sizeof(float) * 3 * HW), *got = malloc(sizeof(float) * 3 * HW);
    CU_ASSERT_FATAL(want && got);
    for (size_t i = 0; i < HW; i++) {
        want[i] = in.surface[3 * HW + i] > in.surface[3 * HW] ? 1.0f : 0.0f; /* some land-sea mask */
        want[HW + i] = (float)(i % 7);
        want[2 * HW + i] = in.surface[i] - 100000.0f; /* metres-ish geopotential */
    }
    FILE *fp = fopen(tmp("invariant.grib2"), "wb");
    CU_ASSERT_FATAL(fp != NULL);
    for (int c = 0; c < 3; c++) put(fp, o.sfc_sample, &o, names[c], "surface", 0, want + c * HW, 1, -1);
    CU_ASSERT_FATAL(fclose(fp) == 0);
    for (int c = 0; c < 3; c++) {
        CU_ASSERT_FATAL(io_read_field(tmp("invariant.grib2"), names[c], in.H, in.W, got + c * HW) == 0);
        size_t bad = 0;
        for (size_t i = 0; i < HW; i++) bad += got[c * HW + i] != want[c * HW + i];
        CU_ASSERT(bad == 0);
    }
    CU_ASSERT(data_constants_read(tmp("invariant.grib2"), in.H, in.W, got) == 0);
    double mean = 0;
    for (size_t i = 0; i < HW; i++) mean += got[2 * HW + i];
    CU_ASSERT(fabs(mean / (double)HW) < 1e-4); /* normalised orography */
    CU_ASSERT(io_read_field(tmp("invariant.grib2"), "sdor", in.H, in.W, got) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "invariant.grib2") && strstr(util_last_message(), "'sdor'"));
    CU_ASSERT(io_read_field(tmp("invariant.grib2"), "lsm", in.H + 1, in.W, got) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "pangu regrid") != NULL);
    free(want), free(got);
}

/* Write the tiny state as a one-step GRIB forecast (lead 6 h) with these
 * labels (NULL: the defaults) and members (0: deterministic; else member 1). */
static int write_forecast(const char *path, const char *cls, const char *stream, const char *expver, int members) {
    io_forecast_spec sp = {0};
    double lead = 6;
    int lev_index[IO_MAX_LEVELS];
    sp.H = in.H, sp.W = in.W, sp.lat = in.lat, sp.lon = in.lon, sp.nlev = in.nlev, sp.nsteps = 1;
    memcpy(sp.levels, in.levels, sizeof(float) * (size_t)in.nlev);
    for (int k = 0; k < in.nlev; k++) lev_index[k] = k;
    for (int v = 0; v < IO_GRIB_NVARS; v++) sp.write_var[v] = 1;
    sp.lead_hours = &lead, sp.init_time = 1577880000, sp.members = members; /* 2020-01-01T12 */
    sp.grib_class = cls, sp.grib_stream = stream, sp.grib_expver = expver;
    io_grib_writer *w;
    char err[256];
    int status = io_grib_writer_open(&w, path, &sp);
    if (status) return status;
    FILE *fp = fopen(path, "wb");
    status = !fp || io_grib_writer_put(w, fp, 0, members ? 1 : -1, &in, lev_index, err, sizeof err);
    if (fp && fclose(fp)) status = 1;
    io_grib_writer_close(w);
    return status;
}

/* The MARS labels of every message of path, as "class stream type expver
 * generatingProcessIdentifier" with the class by number (ecCodes 2.28 has
 * no name for ml); "" when they differ between messages. */
static void labels_of(const char *path, char *out, size_t cap) {
    FILE *fp = fopen(path, "rb");
    int rc = 0, n = 0;
    codes_handle *h;
    out[0] = 0;
    while (fp && (h = codes_handle_new_from_file(NULL, fp, PRODUCT_GRIB, &rc))) {
        char stream[16] = "", type[16] = "", expver[16] = "", one[128];
        size_t ls = sizeof stream, lt = sizeof type, le = sizeof expver;
        long cls = -1, gpi = -1;
        codes_get_long(h, "class", &cls), codes_get_long(h, "generatingProcessIdentifier", &gpi);
        codes_get_string(h, "stream", stream, &ls), codes_get_string(h, "type", type, &lt);
        codes_get_string(h, "expver", expver, &le);
        snprintf(one, sizeof one, "%ld %s %s %s %ld", cls, stream, type, expver, gpi);
        if (n++ == 0) snprintf(out, cap, "%s", one);
        else if (strcmp(out, one) != 0) out[0] = 0;
        codes_handle_delete(h);
    }
    if (fp) fclose(fp);
}

/* Our forecast GRIB carries ai-models' labels of Pangu-Weather output
 * (ecmwf-lab/ai-models outputs/__init__.py GribOutputBase: class ml,
 * stream oper, expver of the model, "pguw" in ai-models-panguweather,
 * generatingProcessIdentifier the model version, 1), or a site's; our
 * reader reads it back. */
static void test_written_labels(void) {
    char got[128];
    CU_ASSERT_FATAL(write_forecast(tmp("fc.grib2"), NULL, NULL, NULL, 0) == 0);
    labels_of(tmp("fc.grib2"), got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "45 oper fc pguw 1"); /* ml is class 45 (ecCodes definitions/mars/class.table) */
    CU_ASSERT_FATAL(write_forecast(tmp("ens.grib2"), NULL, NULL, NULL, 3) == 0);
    labels_of(tmp("ens.grib2"), got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "45 enfo pf pguw 1");
    CU_ASSERT_FATAL(write_forecast(tmp("site.grib2"), "rd", "scda", "0042", 0) == 0);
    labels_of(tmp("site.grib2"), got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "2 scda fc 0042 1");
    io_grib *g;
    float *t2m = malloc(sizeof(float) * (size_t)in.H * in.W);
    CU_ASSERT_FATAL(t2m && io_grib_open(&g, tmp("fc.grib2")) == 0);
    CU_ASSERT(g->ref_first == 1577880000 && g->ntime == 1 && g->times[0] == 1577880000 + 6 * 3600);
    CU_ASSERT(io_grib_read(g, IO_GRIB_NVARS - 1, 0, g->times[0], t2m) == 0);
    double worst = 0;
    for (size_t i = 0; i < (size_t)in.H * in.W; i++)
        worst = fmax(worst, fabs(t2m[i] - in.surface[3 * (size_t)in.H * in.W + i]));
    CU_ASSERT(worst < 0.01); /* 16 bits over t2m's range */
    io_grib_close(g);
    free(t2m);
}

/* Site labels are checked before anything is written: one message naming
 * the key and the rule. */
static void test_label_checks(void) {
    CU_ASSERT(io_grib_check_labels(NULL, NULL, NULL) == 0);
    CU_ASSERT(io_grib_check_labels("ml", "oper", "pguw") == 0);
    CU_ASSERT(io_grib_check_labels("od", "enfo", "0001") == 0);
    static const struct {
        const char *cls, *stream, *expver, *says;
    } bad[] = {
        {NULL, NULL, "pgu", "grib_expver 'pgu': expected 4 lowercase letters or digits"},
        {NULL, NULL, "pguwx", "grib_expver 'pguwx'"},
        {NULL, NULL, "PGUW", "grib_expver 'PGUW'"},
        {"m", NULL, NULL, "grib_class 'm': expected a MARS class"},
        {"ML", NULL, NULL, "grib_class 'ML'"},
        {"xx", NULL, NULL, "grib_class 'xx': not a class of ECMWF's MARS class table"},
        {NULL, "op", NULL, "grib_stream 'op': expected a MARS stream"},
        {NULL, "zzzz", NULL, "grib_stream 'zzzz': not a stream of ECMWF's MARS stream table"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT(io_grib_check_labels(bad[i].cls, bad[i].stream, bad[i].expver) == UTIL_EINVAL);
        CU_ASSERT(message_has(bad[i].says));
    }
}

static int suite_init(void) {
    char mpath[512], ipath[512];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pangu-grib-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(mpath, sizeof mpath, "%s/tiny.h5", tests_fixture_dir());
    snprintf(ipath, sizeof ipath, "%s/tiny_in.nc", tests_fixture_dir());
    const char *ip = ipath;
    if (model_load(&m, mpath)) return -1;
    const model_config *c = &m.cfg;
    if (io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev)) {
        model_free(&m);
        return -1;
    }
    loaded = 1;
    return 0;
}

static int suite_clean(void) {
    if (loaded) io_state_free(&in), model_free(&m), loaded = 0;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int tests_register_grib(void) {
    CU_pSuite s = CU_add_suite("grib", suite_init, suite_clean);
    if (!s) return -1;
    struct { const char *name; void (*fn)(void); } tests[] = {
        {"GRIB 2 pressure levels and surface in two files", test_grib2_separate_files},
        {"GRIB 1, one file, 24 bits", test_grib1_one_file},
        {"GFS names: gh, prmsl; other messages ignored", test_gfs_names},
        {"two valid times, the second chosen", test_two_times},
        {"rows south to north", test_south_to_north},
        {"missing level names file, variable, level, time", test_missing_level},
        {"bitmap: missing points as NaN", test_bitmap},
        {"grids: one regular_ll grid", test_bad_grids},
        {"truncated file, no model variables", test_bad_files},
        {"step on GRIB input equals step on NetCDF input", test_step_same_as_netcdf},
        {"invariants lsm, slt, z from GRIB", test_invariants},
        {"written forecasts: ai-models' labels (ml oper pguw), a site's, read back", test_written_labels},
        {"site GRIB labels checked: expver, class, stream", test_label_checks},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
