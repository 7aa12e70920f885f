/* Suite "io": the state reader on every input layout users have. Each test
 * writes its layout itself (netCDF-C, the HDF5 C API, raw .npy bytes) from
 * one base state (tests/fixtures/small_in.nc), reads it back and compares
 * with the base state: exactly for float32 layouts, within half a packing
 * step for packed shorts. Bad input must fail naming the file and the
 * variable or thing at fault. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <glob.h>
#include <hdf5.h>
#include <math.h>
#include <netcdf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "io/ncw.h"
#include "model/model.h"
#include "tests.h"
#include "util/util.h"

#define NV (IO_NUPPER + IO_NSURFACE)
#define G 9.80665
#define H_ 32
#define W_ 64
#define L_ 13

static const float levels13[L_] = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50};
static const size_t HW = (size_t)H_ * W_;

static char tmpdir[256];
static io_state base, half; /* the base state and base * 0.5 (another time) */
static int have_base;
static model mdl;
static int have_model;

static const char *fixture(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tests_fixture_dir(), name);
    return b;
}

static const char *tmp(const char *name) {
    static char buf[16][512];
    static int next;
    char *b = buf[next++ % 16];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static double parse_time(const char *text) {
    double t = NAN;
    CU_ASSERT(util_time_parse(text, &t) == 0);
    return t;
}

/* Field v (0..8), level k of a state: (H, W). */
static float *field_of(const io_state *s, int v, int k) {
    size_t hw = (size_t)s->H * s->W;
    return v < IO_NUPPER ? s->upper + ((size_t)v * s->nlev + k) * hw : s->surface + (size_t)(v - IO_NUPPER) * hw;
}

/* The base state, read once. */
static const io_state *get_base(void) {
    if (!have_base) {
        const char *p = fixture("small_in.nc");
        if (io_state_read(&base, &p, 1, 0, H_, W_, levels13, L_) != 0) {
            fprintf(stderr, "\n  cannot read %s: %s\n", p, util_last_message());
            return NULL;
        }
        if (io_state_alloc(&half, H_, W_, levels13, L_, &base) != 0) {
            io_state_free(&base);
            return NULL;
        }
        /* The reader is the code under test: check the base state against
         * netCDF-C's own view of the fixture (already in model order). */
        int nc, id, opened = nc_open(p, NC_NOWRITE, &nc) == NC_NOERR, same = opened;
        float *raw = malloc(sizeof(float) * L_ * HW);
        for (int v = 0; v < NV && same && raw; v++) {
            const char *name = v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER];
            size_t n = (v < IO_NUPPER ? L_ : 1) * HW;
            same = nc_inq_varid(nc, name, &id) == NC_NOERR && nc_get_var_float(nc, id, raw) == NC_NOERR &&
                   memcmp(raw, field_of(&base, v, 0), n * sizeof(float)) == 0;
        }
        if (opened) nc_close(nc);
        free(raw);
        if (!same || !raw) {
            fprintf(stderr, "\n  %s: the reader's base state differs from the file\n", p);
            io_state_free(&base), io_state_free(&half);
            return NULL;
        }
        for (size_t i = 0; i < (size_t)IO_NUPPER * L_ * HW; i++) half.upper[i] = base.upper[i] * 0.5f;
        for (size_t i = 0; i < (size_t)IO_NSURFACE * HW; i++) half.surface[i] = base.surface[i] * 0.5f;
        have_base = 1;
    }
    return &base;
}

#define BASE() CU_ASSERT_FATAL(get_base() != NULL)

/* Bit-for-bit equality of the fields, with the first difference reported. */
static int same_fields(const io_state *a, const io_state *b, const char *what) {
    size_t nu = (size_t)IO_NUPPER * a->nlev * a->H * a->W, ns = (size_t)IO_NSURFACE * a->H * a->W;
    if (a->H != b->H || a->W != b->W || a->nlev != b->nlev) {
        fprintf(stderr, "\n  %s: shapes differ\n", what);
        return 0;
    }
    if (memcmp(a->upper, b->upper, nu * sizeof(float)) == 0 && memcmp(a->surface, b->surface, ns * sizeof(float)) == 0)
        return 1;
    for (size_t i = 0; i < nu; i++)
        if (memcmp(&a->upper[i], &b->upper[i], sizeof(float))) {
            fprintf(stderr, "\n  %s: upper[%zu] %.9g != %.9g\n", what, i, a->upper[i], b->upper[i]);
            return 0;
        }
    for (size_t i = 0; i < ns; i++)
        if (memcmp(&a->surface[i], &b->surface[i], sizeof(float))) {
            fprintf(stderr, "\n  %s: surface[%zu] %.9g != %.9g\n", what, i, a->surface[i], b->surface[i]);
            return 0;
        }
    return 1;
}

/* The grid of a state read back: latitude north to south, longitude from 0. */
static int grid_like_base(const io_state *s) {
    for (int i = 0; i < H_; i++)
        if (fabs(s->lat[i] - base.lat[i]) > 1e-4) return 0;
    for (int j = 0; j < W_; j++)
        if (fabs(s->lon[j] - base.lon[j]) > 1e-9) return 0;
    return s->lat[0] > 89.99 && s->lon[0] == 0.0;
}

/* A failure with the expected code (0: any) and message fragments. */
static int fails_with(int status, int code, const char *a, const char *b, const char *c) {
    const char *msg = util_last_message();
    int ok = status != 0 && (code == 0 || status == code) && (!a || strstr(msg, a)) && (!b || strstr(msg, b)) &&
             (!c || strstr(msg, c));
    if (!ok) fprintf(stderr, "\n  unexpected: status %d, message '%s'\n", status, status ? msg : "");
    return ok;
}

/* ---- a NetCDF writer for every layout ---- */

typedef struct {
    int cmode;                         /* nc_create mode */
    int unlimited;                     /* the time dimension is the record dimension */
    const char *tdim, *ldim, *ydim, *xdim; /* dimension and coordinate names; tdim NULL: no time axis */
    const char *name[NV];              /* variable names in model order; NULL: not in this file */
    const char *standard_name[NV], *units[NV];
    int order[NV];                     /* definition order (permutation of 0..8); all 0: model order */
    double divide[NV];                 /* stored = value / divide (0: 1) */
    int nt;
    const io_state *data[16];          /* the state at each time */
    double tval[16];
    nc_type ttype;
    const char *tunits, *calendar;
    nc_type ltype, ctype;              /* level, latitude/longitude types */
    const char *lunits;
    int pascal, ascending;             /* levels in Pa, levels ascending */
    int south_north, lon_west;         /* latitude from the south; longitude from -180 */
    int deflate;                       /* zlib + shuffle (NetCDF-4) */
    int era5_extras;                   /* scalar int64 number, NC_STRING expver(valid_time) */
    int expver;                        /* legacy expver dimension of 2: time t in slice t % 2, fill in the other */
    int packed;                        /* NC_SHORT, scale_factor, add_offset, _FillValue -32767 */
    int nan_fill;                      /* _FillValue NaN (floats) */
    double scale[NV], offset[NV];      /* out: packing */
} layout;

static const char *const era5_names[NV] = {"z", "q", "t", "u", "v", "msl", "u10", "v10", "t2m"};
static const char *const cf_standard[NV] = {"geopotential", "specific_humidity", "air_temperature", "eastward_wind",
                                            "northward_wind", "air_pressure_at_mean_sea_level", "eastward_wind",
                                            "northward_wind", "air_temperature"};
static const char *const era5_units[NV] = {"m**2 s**-2", "kg kg**-1", "K", "m s**-1", "m s**-1",
                                           "Pa", "m s**-1", "m s**-1", "K"};

/* One state at hours since 1900, ERA5 short names, NetCDF-4, model orientation. */
static layout layout_plain(const io_state *s) {
    layout L;
    memset(&L, 0, sizeof L);
    L.cmode = NC_NETCDF4 | NC_CLOBBER;
    L.tdim = "time", L.ldim = "level", L.ydim = "latitude", L.xdim = "longitude";
    for (int v = 0; v < NV; v++) L.name[v] = era5_names[v], L.units[v] = era5_units[v];
    L.nt = 1, L.data[0] = s, L.tval[0] = 1051902, L.ttype = NC_INT;
    L.tunits = "hours since 1900-01-01 00:00:00";
    L.ltype = NC_INT, L.ctype = NC_FLOAT, L.lunits = "millibars";
    return L;
}

static void pack_params(layout *L) {
    for (int v = 0; v < NV; v++) {
        double lo = INFINITY, hi = -INFINITY, div = L->divide[v] ? L->divide[v] : 1;
        for (int t = 0; t < L->nt; t++) {
            const io_state *s = L->data[t];
            for (int k = 0; k < (v < IO_NUPPER ? s->nlev : 1); k++) {
                const float *f = field_of(s, v, k);
                for (size_t i = 0; i < (size_t)s->H * s->W; i++)
                    if (isfinite(f[i])) lo = fmin(lo, f[i] / div), hi = fmax(hi, f[i] / div);
            }
        }
        L->scale[v] = hi > lo ? (hi - lo) / 65000.0 : 1.0;
        L->offset[v] = (hi + lo) / 2;
    }
}

#define NCK(call)                                                                                        \
    do {                                                                                                 \
        int rc_ = (call);                                                                                \
        if (rc_ != NC_NOERR) {                                                                           \
            fprintf(stderr, "\n  %s:%d: %s: %s\n", __FILE__, __LINE__, #call, nc_strerror(rc_));         \
            return -1;                                                                                   \
        }                                                                                                \
    } while (0)

static int put_text(int nc, int id, const char *att, const char *value) {
    return value ? nc_put_att_text(nc, id, att, strlen(value), value) : NC_NOERR;
}

/* the ids write_nc's steps share */
typedef struct {
    int dt, de, dl, dy, dx, vt, vl, vy, vx, ve, ids[NV];
} nc_ids;

/* dimensions and coordinate variables */
static int def_coords(int nc, layout *L, int any_upper, nc_ids *I) {
    const io_state *s0 = L->data[0];
    if (L->tdim) NCK(nc_def_dim(nc, L->tdim, L->unlimited ? NC_UNLIMITED : (size_t)L->nt, &I->dt));
    if (L->expver) NCK(nc_def_dim(nc, "expver", 2, &I->de));
    if (any_upper) NCK(nc_def_dim(nc, L->ldim, (size_t)s0->nlev, &I->dl));
    NCK(nc_def_dim(nc, L->ydim, (size_t)s0->H, &I->dy));
    NCK(nc_def_dim(nc, L->xdim, (size_t)s0->W, &I->dx));
    if (L->era5_extras) {
        int vn;
        NCK(nc_def_var(nc, "number", NC_INT64, 0, NULL, &vn));
        NCK(put_text(nc, vn, "long_name", "ensemble member numerical id"));
    }
    if (L->tdim) {
        NCK(nc_def_var(nc, L->tdim, L->ttype, 1, &I->dt, &I->vt));
        NCK(put_text(nc, I->vt, "units", L->tunits));
        NCK(put_text(nc, I->vt, "calendar", L->calendar));
        NCK(put_text(nc, I->vt, "standard_name", "time"));
    }
    if (L->expver) {
        NCK(nc_def_var(nc, "expver", NC_INT, 1, &I->de, &I->ve));
        NCK(put_text(nc, I->ve, "long_name", "expver"));
    }
    if (L->era5_extras) NCK(nc_def_var(nc, "expver", NC_STRING, 1, &I->dt, &I->ve));
    if (any_upper) {
        NCK(nc_def_var(nc, L->ldim, L->ltype, 1, &I->dl, &I->vl));
        NCK(put_text(nc, I->vl, "units", L->lunits));
        NCK(put_text(nc, I->vl, "standard_name", "air_pressure"));
    }
    NCK(nc_def_var(nc, L->ydim, L->ctype, 1, &I->dy, &I->vy));
    NCK(put_text(nc, I->vy, "units", "degrees_north"));
    NCK(nc_def_var(nc, L->xdim, L->ctype, 1, &I->dx, &I->vx));
    NCK(put_text(nc, I->vx, "units", "degrees_east"));
    return 0;
}

/* the fields' variables, in the layout's order */
static int def_fields(int nc, layout *L, nc_ids *I) {
    int identity = 1;
    for (int v = 0; v < NV; v++) identity &= L->order[v] == 0;
    for (int n = 0; n < NV; n++) {
        int v = identity ? n : L->order[n];
        I->ids[v] = -1;
        if (!L->name[v]) continue;
        int dims[5], nd = 0;
        if (L->tdim) dims[nd++] = I->dt;
        if (L->expver) dims[nd++] = I->de;
        if (v < IO_NUPPER) dims[nd++] = I->dl;
        dims[nd++] = I->dy, dims[nd++] = I->dx;
        NCK(nc_def_var(nc, L->name[v], L->packed ? NC_SHORT : NC_FLOAT, nd, dims, &I->ids[v]));
        if (L->deflate) NCK(nc_def_var_deflate(nc, I->ids[v], 1, 1, 4));
        NCK(put_text(nc, I->ids[v], "standard_name", L->standard_name[v]));
        NCK(put_text(nc, I->ids[v], "units", L->units[v]));
        if (L->packed) {
            short fill = -32767;
            NCK(nc_put_att_double(nc, I->ids[v], "scale_factor", NC_DOUBLE, 1, &L->scale[v]));
            NCK(nc_put_att_double(nc, I->ids[v], "add_offset", NC_DOUBLE, 1, &L->offset[v]));
            NCK(nc_put_att_short(nc, I->ids[v], "_FillValue", NC_SHORT, 1, &fill));
            NCK(nc_put_att_short(nc, I->ids[v], "missing_value", NC_SHORT, 1, &fill));
        } else if (L->nan_fill) {
            float fill = NAN;
            NCK(nc_put_att_float(nc, I->ids[v], "_FillValue", NC_FLOAT, 1, &fill));
        }
    }
    return 0;
}

/* coordinates in file order */
static int put_coords(int nc, layout *L, int any_upper, const nc_ids *I) {
    const io_state *s0 = L->data[0];
    int H = s0->H, W = s0->W, nlev = s0->nlev;
    double *c = malloc(sizeof(double) * (size_t)(H + W + nlev + 4));
    if (!c) return -1;
    for (int i = 0; i < H; i++) c[i] = s0->lat[L->south_north ? H - 1 - i : i];
    NCK(nc_put_var_double(nc, I->vy, c));
    for (int j = 0; j < W; j++) {
        double lon = s0->lon[L->lon_west ? (j + W / 2) % W : j];
        c[j] = L->lon_west && lon >= 180 ? lon - 360 : lon;
    }
    NCK(nc_put_var_double(nc, I->vx, c));
    if (any_upper) {
        for (int k = 0; k < nlev; k++) c[k] = s0->levels[L->ascending ? nlev - 1 - k : k] * (L->pascal ? 100.0 : 1.0);
        NCK(nc_put_var_double(nc, I->vl, c));
    }
    free(c);
    if (L->tdim) {
        size_t st = 0, cnt = (size_t)L->nt;
        NCK(nc_put_vara_double(nc, I->vt, &st, &cnt, L->tval));
    }
    if (L->expver) {
        int e[2] = {1, 5};
        NCK(nc_put_var_int(nc, I->ve, e));
    }
    if (L->era5_extras) {
        const char *ev[16];
        for (int t = 0; t < 16; t++) ev[t] = "0001";
        long long zero = 0;
        int vn;
        NCK(nc_inq_varid(nc, "number", &vn));
        NCK(nc_put_var_longlong(nc, vn, &zero));
        size_t st = 0, cnt = (size_t)L->nt;
        NCK(nc_put_vara_string(nc, I->ve, &st, &cnt, ev));
    }
    return 0;
}

/* one (latitude, longitude) slab: time t, variable v, level k, expver slice e */
static int put_slab(int nc, layout *L, const nc_ids *I, int t, int v, int k, int e, float *f, short *q) {
    const io_state *s0 = L->data[0];
    int H = s0->H, W = s0->W, nlev = s0->nlev;
    double div = L->divide[v] ? L->divide[v] : 1;
    const float *src = field_of(L->data[t], v, L->ascending ? nlev - 1 - k : k);
    int missing = L->expver && e != t % 2; /* this time lives in the other slice */
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            float x = src[(size_t)(L->south_north ? H - 1 - i : i) * W + (size_t)(L->lon_west ? (j + W / 2) % W : j)];
            size_t o = (size_t)i * W + j;
            f[o] = missing ? NC_FILL_FLOAT : div == 1 ? x : (float)(x / div);
            if (L->packed)
                q[o] = missing || !isfinite(x) ? (short)-32767 : (short)lrint((x / div - L->offset[v]) / L->scale[v]);
        }
    size_t start[5], count[5];
    int nd = 0;
    if (L->tdim) start[nd] = (size_t)t, count[nd++] = 1;
    if (L->expver) start[nd] = (size_t)e, count[nd++] = 1;
    if (v < IO_NUPPER) start[nd] = (size_t)k, count[nd++] = 1;
    start[nd] = 0, count[nd++] = (size_t)H;
    start[nd] = 0, count[nd++] = (size_t)W;
    if (L->packed) NCK(nc_put_vara_short(nc, I->ids[v], start, count, q));
    else NCK(nc_put_vara_float(nc, I->ids[v], start, count, f));
    return 0;
}

/* fields, one (latitude, longitude) slab at a time */
static int put_fields(int nc, layout *L, const nc_ids *I) {
    const io_state *s0 = L->data[0];
    float *f = malloc(sizeof(float) * (size_t)s0->H * s0->W);
    short *q = malloc(sizeof(short) * (size_t)s0->H * s0->W);
    int rc = f && q ? 0 : -1;
    for (int t = 0; t < L->nt && !rc; t++)
        for (int v = 0; v < NV && !rc; v++) {
            if (I->ids[v] < 0) continue;
            for (int k = 0; k < (v < IO_NUPPER ? s0->nlev : 1) && !rc; k++)
                for (int e = 0; e < (L->expver ? 2 : 1) && !rc; e++) rc = put_slab(nc, L, I, t, v, k, e, f, q);
        }
    free(f);
    free(q);
    return rc;
}

static int write_nc(const char *path, layout *L) {
    int any_upper = 0, nc;
    nc_ids I = {.dt = -1, .de = -1, .dl = -1, .vt = -1, .vl = -1, .ve = -1};
    for (int v = 0; v < IO_NUPPER; v++) any_upper |= L->name[v] != NULL;
    if (L->packed) pack_params(L);
    NCK(nc_create(path, L->cmode, &nc));
    if (def_coords(nc, L, any_upper, &I) || def_fields(nc, L, &I)) return -1;
    NCK(put_text(nc, NC_GLOBAL, "Conventions", "CF-1.7"));
    NCK(nc_enddef(nc));
    if (put_coords(nc, L, any_upper, &I) || put_fields(nc, L, &I)) return -1;
    NCK(nc_close(nc));
    return 0;
}

/* ---- 1. ERA5 as the CDS delivers it since 2024 ---- */

static layout layout_era5_2024(int upper, int surface) {
    layout L = layout_plain(&half);
    L.tdim = "valid_time", L.ldim = "pressure_level";
    for (int v = 0; v < NV; v++) {
        int keep = v < IO_NUPPER ? upper : surface;
        L.name[v] = keep ? era5_names[v] : NULL;
        L.standard_name[v] = cf_standard[v];
    }
    L.nt = 2, L.data[0] = &half, L.data[1] = &base;
    L.tval[0] = 1577836800, L.tval[1] = 1577836800 + 6 * 3600; /* 2020-01-01T00, T06 */
    L.ttype = NC_INT64, L.tunits = "seconds since 1970-01-01", L.calendar = "proleptic_gregorian";
    L.ltype = NC_DOUBLE, L.lunits = "hPa", L.ctype = NC_DOUBLE;
    L.deflate = 1, L.era5_extras = 1, L.nan_fill = 1;
    return L;
}

static void test_era5_2024(void) {
    BASE();
    layout pl = layout_era5_2024(1, 0), sfc = layout_era5_2024(0, 1);
    const char *paths[2] = {tmp("era5_2024_pl.nc"), tmp("era5_2024_sfc.nc")};
    CU_ASSERT_FATAL(write_nc(paths[0], &pl) == 0);
    CU_ASSERT_FATAL(write_nc(paths[1], &sfc) == 0);
    int fmt = -1, nc;
    CU_ASSERT_FATAL(nc_open(paths[0], NC_NOWRITE, &nc) == NC_NOERR);
    CU_ASSERT(nc_inq_format(nc, &fmt) == NC_NOERR && fmt == NC_FORMAT_NETCDF4);
    nc_close(nc);

    io_series *s;
    CU_ASSERT_FATAL(io_series_open(&s, paths, 2) == 0);
    CU_ASSERT(io_series_ntimes(s) == 2);
    CU_ASSERT(io_series_time(s, 0) == parse_time("2020-01-01T00"));
    CU_ASSERT(io_series_time(s, 1) == parse_time("2020-01-01T06"));
    CU_ASSERT(isnan(io_series_time(s, 2)));
    int H, W, nlev;
    float lev[IO_MAX_LEVELS];
    CU_ASSERT(io_series_describe(s, &H, &W, lev, &nlev) == 0);
    CU_ASSERT(H == H_ && W == W_ && nlev == L_ && memcmp(lev, levels13, sizeof levels13) == 0);
    io_state st, st0;
    double t6 = parse_time("2020-01-01T06");
    CU_ASSERT_FATAL(io_series_read(s, t6, H_, W_, levels13, L_, &st) == 0);
    CU_ASSERT(st.time == t6);
    CU_ASSERT(same_fields(&st, &base, "ERA5 2024, 06 UTC"));
    CU_ASSERT(grid_like_base(&st));
    CU_ASSERT(io_state_check_finite(&st, paths[0]) == 0);
    CU_ASSERT_FATAL(io_series_read(s, parse_time("2020-01-01"), H_, W_, levels13, L_, &st0) == 0);
    CU_ASSERT(same_fields(&st0, &half, "ERA5 2024, 00 UTC"));
    io_state_free(&st0);
    /* Without a time, two times are ambiguous. */
    CU_ASSERT(fails_with(io_series_read(s, NAN, H_, W_, levels13, L_, &st0), UTIL_EINVAL, paths[0], "2 times", NULL));
    io_series_close(s);

    /* io_state_read by time index, the files in the other order. */
    const char *swapped[2] = {paths[1], paths[0]};
    io_state byindex;
    CU_ASSERT_FATAL(io_state_read(&byindex, swapped, 2, 1, H_, W_, levels13, L_) == 0);
    CU_ASSERT(byindex.time == t6);
    CU_ASSERT(same_fields(&byindex, &base, "ERA5 2024 by index"));
    io_state_free(&byindex);

    /* Same input, same output: the model step on the state read back equals
     * the step on the base state bit for bit. */
    if (!have_model) {
        CU_ASSERT_FATAL(model_load(&mdl, fixture("small.h5")) == 0);
        have_model = 1;
    }
    CU_ASSERT_FATAL(mdl.cfg.H == H_ && mdl.cfg.W == W_ && mdl.cfg.nlev == L_);
    CU_ASSERT_FATAL(memcmp(mdl.cfg.levels, levels13, sizeof levels13) == 0);
    io_state a, b;
    CU_ASSERT_FATAL(io_state_alloc(&a, H_, W_, levels13, L_, &base) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&b, H_, W_, levels13, L_, &base) == 0);
    CU_ASSERT_FATAL(model_step(&mdl, a.upper, a.surface, base.upper, base.surface) == 0);
    CU_ASSERT_FATAL(model_step(&mdl, b.upper, b.surface, st.upper, st.surface) == 0);
    CU_ASSERT(same_fields(&a, &b, "step on the state read back"));
    CU_ASSERT(io_state_check_finite(&a, "step") == 0);
    io_state_free(&a);
    io_state_free(&b);
    io_state_free(&st);
}

/* ---- 2. many files as one series ---- */

static void test_many_files(void) {
    BASE();
    layout pl0 = layout_era5_2024(1, 0), pl1 = layout_era5_2024(1, 0), sfc = layout_era5_2024(0, 1);
    pl0.nt = 1; /* 00 UTC: half */
    pl1.nt = 1, pl1.data[0] = &base, pl1.tval[0] = sfc.tval[1]; /* 06 UTC: base */
    const char *p0 = tmp("many_pl_00.nc"), *p1 = tmp("many_pl_06.nc"), *ps = tmp("many_sfc.nc");
    CU_ASSERT_FATAL(write_nc(p0, &pl0) == 0);
    CU_ASSERT_FATAL(write_nc(p1, &pl1) == 0);
    CU_ASSERT_FATAL(write_nc(ps, &sfc) == 0);
    const char *paths[3] = {p1, ps, p0}; /* any order */
    io_series *s;
    CU_ASSERT_FATAL(io_series_open(&s, paths, 3) == 0);
    CU_ASSERT(io_series_ntimes(s) == 2);
    CU_ASSERT(io_series_time(s, 0) == parse_time("2020-01-01T00:00:00"));
    CU_ASSERT(io_series_time(s, 1) == parse_time("2020-01-01T06:00:00"));
    io_state st;
    CU_ASSERT_FATAL(io_series_read(s, io_series_time(s, 0), H_, W_, levels13, L_, &st) == 0);
    CU_ASSERT(same_fields(&st, &half, "many files, 00 UTC"));
    io_state_free(&st);
    CU_ASSERT_FATAL(io_series_read(s, io_series_time(s, 1), H_, W_, levels13, L_, &st) == 0);
    CU_ASSERT(same_fields(&st, &base, "many files, 06 UTC"));
    CU_ASSERT(grid_like_base(&st));
    io_state_free(&st);
    io_series_close(s);
}

/* ---- 3. orientation ---- */

static void test_orientation(void) {
    BASE();
    layout L = layout_plain(&base);
    L.south_north = 1, L.lon_west = 1, L.pascal = 1, L.ascending = 1;
    L.lunits = "Pa", L.ltype = NC_FLOAT, L.ctype = NC_DOUBLE;
    L.ttype = NC_DOUBLE, L.tunits = "days since 2000-01-01", L.tval[0] = 7305.25; /* 2020-01-01T06 */
    L.units[0] = NULL; /* geopotential without units: taken as m2 s-2 */
    const char *p = tmp("orientation.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    /* the file really is south to north, from -180, ascending in Pa */
    int nc, id;
    double lat0, lon0, lev0;
    size_t zero = 0;
    CU_ASSERT_FATAL(nc_open(p, NC_NOWRITE, &nc) == NC_NOERR);
    nc_inq_varid(nc, "latitude", &id), nc_get_var1_double(nc, id, &zero, &lat0);
    nc_inq_varid(nc, "longitude", &id), nc_get_var1_double(nc, id, &zero, &lon0);
    nc_inq_varid(nc, "level", &id), nc_get_var1_double(nc, id, &zero, &lev0);
    nc_close(nc);
    CU_ASSERT(lat0 < -89.9 && lon0 == -180.0 && lev0 == 5000.0);

    io_series *s;
    CU_ASSERT_FATAL(io_series_open(&s, &p, 1) == 0);
    int H, W, nlev;
    float lev[IO_MAX_LEVELS];
    CU_ASSERT(io_series_describe(s, &H, &W, lev, &nlev) == 0);
    CU_ASSERT(nlev == L_ && memcmp(lev, levels13, sizeof levels13) == 0); /* hPa, descending */
    io_state st;
    CU_ASSERT_FATAL(io_series_read(s, NAN, H_, W_, levels13, L_, &st) == 0); /* the only time */
    CU_ASSERT(st.time == parse_time("2020-01-01T06"));
    CU_ASSERT(same_fields(&st, &base, "orientation"));
    CU_ASSERT(grid_like_base(&st));
    io_state_free(&st);
    io_series_close(s);
}

/* ---- 4. CMIP names ---- */

static int add_cmip_bounds(const char *path) {
    int nc, d[3], bnds, id;
    NCK(nc_open(path, NC_WRITE, &nc));
    NCK(nc_redef(nc));
    NCK(nc_def_dim(nc, "bnds", 2, &bnds));
    NCK(nc_inq_dimid(nc, "time", &d[0]));
    NCK(nc_inq_dimid(nc, "lat", &d[1]));
    NCK(nc_inq_dimid(nc, "lon", &d[2]));
    const char *names[3] = {"time_bnds", "lat_bnds", "lon_bnds"};
    for (int i = 0; i < 3; i++) {
        int dims[2] = {d[i], bnds};
        NCK(nc_def_var(nc, names[i], NC_DOUBLE, 2, dims, &id));
    }
    NCK(put_text(nc, NC_GLOBAL, "mip_era", "CMIP6"));
    NCK(nc_close(nc));
    return 0;
}

static void test_cmip(void) {
    BASE();
    layout L = layout_plain(&base);
    static const char *const cmip[NV] = {"zg", "hus", "ta", "ua", "va", "psl", "uas", "vas", "tas"};
    static const char *const cunits[NV] = {"m", "1", "K", "m s-1", "m s-1", "Pa", "m s-1", "m s-1", "K"};
    for (int v = 0; v < NV; v++) L.name[v] = cmip[v], L.units[v] = cunits[v];
    L.standard_name[0] = "geopotential_height";
    L.divide[0] = G;
    L.tdim = "time", L.ldim = "plev", L.ydim = "lat", L.xdim = "lon";
    L.ttype = NC_DOUBLE, L.tunits = "days since 1850-01-01", L.calendar = "standard";
    L.tval[0] = 62091.25; /* 2020-01-01T06 */
    L.ltype = NC_DOUBLE, L.lunits = "Pa", L.pascal = 1, L.ctype = NC_DOUBLE;
    const char *p = tmp("cmip.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(add_cmip_bounds(p) == 0);
    io_state st;
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(st.time == parse_time("2020-01-01T06"));
    /* zg in m: geopotential within float rounding */
    double worst = 0;
    for (size_t i = 0; i < (size_t)L_ * HW; i++) {
        double e = fabs(st.upper[i] - base.upper[i]) / fabs(base.upper[i]);
        if (!(e <= worst)) worst = e;
    }
    CU_ASSERT(worst <= 1e-6);
    if (!(worst <= 1e-6)) fprintf(stderr, "\n  zg: relative error %g\n", worst);
    size_t z = (size_t)L_ * HW;
    CU_ASSERT(memcmp(st.upper + z, base.upper + z, (size_t)(IO_NUPPER - 1) * z * sizeof(float)) == 0);
    CU_ASSERT(memcmp(st.surface, base.surface, (size_t)IO_NSURFACE * HW * sizeof(float)) == 0);
    CU_ASSERT(grid_like_base(&st));
    io_state_free(&st);

    /* A CMIP calendar the reader cannot place: refused, not misread. */
    L.calendar = "noleap";
    const char *q = tmp("cmip_noleap.nc");
    CU_ASSERT_FATAL(write_nc(q, &L) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &q, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, q, "noleap", NULL));
}

/* ---- 5. CF standard_name only ---- */

static void test_cf_standard_name(void) {
    BASE();
    layout L = layout_plain(&base);
    static const char *const codes[NV] = {"var129", "var133", "var130", "var131", "var132",
                                          "var151", "var165", "var166", "var167"};
    for (int v = 0; v < NV; v++) L.name[v] = codes[v], L.standard_name[v] = cf_standard[v], L.units[v] = NULL;
    /* Interleaved so that each lookup meets a namesake of the wrong kind first:
     * u10 before u, v before v10, t2m before t. */
    int order[NV] = {6, 3, 4, 7, 8, 2, 0, 1, 5};
    memcpy(L.order, order, sizeof order);
    L.ldim = "lev", L.ydim = "lat", L.xdim = "lon", L.lunits = NULL; /* hPa without units */
    const char *p = tmp("cf.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    io_state st;
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(same_fields(&st, &base, "CF standard names"));
    io_state_free(&st);

    /* The same with two times, stored the other way round. */
    L.nt = 2, L.data[0] = &half, L.data[1] = &base, L.tval[1] = L.tval[0] + 6;
    L.south_north = 1;
    p = tmp("cf2.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 1, H_, W_, levels13, L_) == 0);
    CU_ASSERT(same_fields(&st, &base, "CF standard names, 2 times"));
    io_state_free(&st);

    /* 13 times, as many as levels: the surface winds have no level axis
     * even though their time axis is as long as one. */
    L.nt = L_;
    for (int t = 0; t < L_; t++) L.data[t] = t == L_ - 1 ? &base : &half, L.tval[t] = L.tval[0] + 6 * t;
    p = tmp("cf13.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    int status = io_state_read(&st, &p, 1, L_ - 1, H_, W_, levels13, L_);
    CU_ASSERT(status == 0);
    if (status) fprintf(stderr, "\n  13 times: %s\n", util_last_message());
    if (!status) CU_ASSERT(same_fields(&st, &base, "CF standard names, 13 times"));
    if (!status) io_state_free(&st);
}

/* ---- 6. geopotential height ---- */

static double isa_height(double p) {
    if (p >= 226.32) return 288.15 / 0.0065 * (1 - pow(p / 1013.25, 287.053 * 0.0065 / G));
    return 11000 + 287.053 * 216.65 / G * log(226.32 / p);
}

static void test_geopotential_height(void) {
    BASE();
    /* gh in gpm */
    layout L = layout_plain(&base);
    L.name[0] = "gh", L.units[0] = "gpm", L.divide[0] = G;
    const char *p = tmp("gh.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    io_state st;
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    double worst = 0;
    for (size_t i = 0; i < (size_t)L_ * HW; i++)
        worst = fmax(worst, fabs(st.upper[i] - base.upper[i]) / fabs(base.upper[i]));
    CU_ASSERT(worst <= 1e-6);
    CU_ASSERT(memcmp(st.surface, base.surface, (size_t)IO_NSURFACE * HW * sizeof(float)) == 0);
    io_state_free(&st);

    /* z holding geopotential heights (ISA height of each level plus noise) */
    io_state h;
    CU_ASSERT_FATAL(io_state_alloc(&h, H_, W_, levels13, L_, &base) == 0);
    memcpy(h.upper, base.upper, (size_t)IO_NUPPER * L_ * HW * sizeof(float));
    memcpy(h.surface, base.surface, (size_t)IO_NSURFACE * HW * sizeof(float));
    util_rng rng;
    util_rng_seed(&rng, 11);
    for (int k = 0; k < L_; k++)
        for (size_t i = 0; i < HW; i++)
            h.upper[(size_t)k * HW + i] =
                (float)(isa_height(levels13[k]) * (1 + 0.02 * (util_rng_uniform(&rng) - 0.5)) +
                        20 * util_rng_normal(&rng));
    CU_ASSERT(fabs(isa_height(1000) - 111) < 1 && fabs(isa_height(50) - 20576) < 1);
    L = layout_plain(&h);
    L.units[0] = NULL;
    p = tmp("z_height_nounits.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, "geopotential height",
                         "'z'"));
    /* the same with units "m": converted */
    L.units[0] = "m";
    p = tmp("z_height_m.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    int exact = 1;
    for (size_t i = 0; i < (size_t)L_ * HW; i++) exact &= st.upper[i] == (float)((double)h.upper[i] * G);
    CU_ASSERT(exact);
    CU_ASSERT(memcmp(st.upper + (size_t)L_ * HW, base.upper + (size_t)L_ * HW,
                     (size_t)(IO_NUPPER - 1) * L_ * HW * sizeof(float)) == 0);
    io_state_free(&st);
    /* geopotential without units is not mistaken for heights: the base
     * state's, and the heights above times g */
    L = layout_plain(&base);
    L.units[0] = NULL;
    p = tmp("z_nounits.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(same_fields(&st, &base, "z without units"));
    io_state_free(&st);
    for (size_t i = 0; i < (size_t)L_ * HW; i++) h.upper[i] = (float)(h.upper[i] * G);
    L = layout_plain(&h);
    L.units[0] = NULL;
    p = tmp("z_isa_nounits.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(same_fields(&st, &h, "ISA geopotential without units"));
    io_state_free(&st);
    io_state_free(&h);
}

/* ---- 7. ERA5 mixed with ERA5T: legacy expver dimension, packed ---- */

static double packed_error(const io_state *got, const io_state *want, const layout *L) {
    double worst = 0;
    for (int v = 0; v < NV; v++)
        for (int k = 0; k < (v < IO_NUPPER ? L_ : 1); k++) {
            const float *a = field_of(got, v, k), *b = field_of(want, v, k);
            for (size_t i = 0; i < HW; i++) {
                /* half a step, plus the float rounding of the unpacked value */
                float m = fmaxf(fabsf(a[i]), fabsf(b[i]));
                double e = (fabs((double)a[i] - b[i]) - 0.5 * (nextafterf(m, INFINITY) - m)) / L->scale[v];
                if (!(e <= worst)) worst = e;
            }
        }
    return worst;
}

static void test_era5_expver(void) {
    BASE();
    layout L = layout_plain(&half);
    L.cmode = NC_64BIT_OFFSET | NC_CLOBBER;
    L.nt = 2, L.data[1] = &base, L.tval[0] = 1051896, L.tval[1] = 1051902; /* 2020-01-01T00, T06 */
    L.tunits = "hours since 1900-01-01 00:00:00.0", L.calendar = "gregorian";
    L.expver = 1, L.packed = 1, L.unlimited = 1;
    const char *p = tmp("era5_expver.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    int nc, id, nd;
    CU_ASSERT_FATAL(nc_open(p, NC_NOWRITE, &nc) == NC_NOERR);
    CU_ASSERT(nc_inq_varid(nc, "z", &id) == NC_NOERR && nc_inq_varndims(nc, id, &nd) == NC_NOERR && nd == 5);
    nc_close(nc);
    io_series *s;
    CU_ASSERT_FATAL(io_series_open(&s, &p, 1) == 0);
    CU_ASSERT(io_series_ntimes(s) == 2);
    for (int t = 0; t < 2; t++) {
        io_state st;
        CU_ASSERT_FATAL(io_series_read(s, io_series_time(s, (size_t)t), H_, W_, levels13, L_, &st) == 0);
        CU_ASSERT(io_state_check_finite(&st, p) == 0);
        double e = packed_error(&st, t ? &base : &half, &L);
        CU_ASSERT(e <= 0.5001); /* within half a packing step */
        if (!(e <= 0.5001)) fprintf(stderr, "\n  expver, time %d: worst %g steps\n", t, e);
        io_state_free(&st);
    }
    io_series_close(s);
}

/* ---- 8. the official Pangu-Weather .npy inputs ---- */

/* A version 1 or 2 header for dtype descr and the shape text; returns its length. */
static size_t npy_header(unsigned char *buf, int version, const char *descr, const char *fortran, const char *shape) {
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape);
    size_t pre = version == 1 ? 10 : 12, len = (size_t)n + 1;
    while ((pre + len) % 64) len++;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version, buf[7] = 0;
    buf[8] = (unsigned char)(len & 0xff), buf[9] = (unsigned char)(len >> 8);
    if (version != 1) buf[10] = 0, buf[11] = 0;
    memcpy(buf + pre, dict, (size_t)n);
    memset(buf + pre + n, ' ', len - (size_t)n - 1);
    buf[pre + len - 1] = '\n';
    return pre + len;
}

static int write_npy(const char *path, const char *descr, const char *shape, const float *data, size_t n) {
    unsigned char head[256];
    size_t hn = npy_header(head, 1, descr, "False", shape);
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fwrite(head, 1, hn, fp) == hn;
    if (!strcmp(descr, "<f4")) {
        ok &= fwrite(data, sizeof(float), n, fp) == n; /* x86: little-endian */
    } else { /* '>f8' */
        for (size_t i = 0; i < n && ok; i++) {
            double d = data[i];
            unsigned char b[8], r[8];
            memcpy(b, &d, 8);
            for (int j = 0; j < 8; j++) r[j] = b[7 - j];
            ok &= fwrite(r, 1, 8, fp) == 8;
        }
    }
    return fclose(fp) == 0 && ok ? 0 : -1;
}

static void test_npy_inputs(void) {
    BASE();
    const char *pu = tmp("input_upper.npy"), *ps = tmp("input_surface.npy");
    CU_ASSERT_FATAL(write_npy(pu, "<f4", "(5, 13, 32, 64)", base.upper, (size_t)IO_NUPPER * L_ * HW) == 0);
    CU_ASSERT_FATAL(write_npy(ps, "<f4", "(4, 32, 64)", base.surface, (size_t)IO_NSURFACE * HW) == 0);
    FILE *fp = fopen(pu, "rb");
    unsigned char head[128];
    CU_ASSERT_FATAL(fp && fread(head, 1, 128, fp) == 128);
    fclose(fp);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 13, 32, 64), }";
    CU_ASSERT(memcmp(head, "\x93NUMPY\x01", 7) == 0 && head[7] == 0 && head[8] == 118 && head[9] == 0);
    CU_ASSERT(memcmp(head + 10, dict, strlen(dict)) == 0 && head[127] == '\n' && head[126] == ' ');
    const char *paths[2] = {pu, ps};
    io_series *s;
    CU_ASSERT_FATAL(io_series_open(&s, paths, 2) == 0);
    CU_ASSERT(io_series_ntimes(s) == 0);
    int H, W, nlev;
    float lev[IO_MAX_LEVELS];
    CU_ASSERT(io_series_describe(s, &H, &W, lev, &nlev) == 0);
    CU_ASSERT(H == H_ && W == W_ && nlev == L_ && memcmp(lev, levels13, sizeof levels13) == 0);
    io_state st;
    CU_ASSERT_FATAL(io_series_read(s, NAN, H_, W_, levels13, L_, &st) == 0);
    CU_ASSERT(isnan(st.time));
    CU_ASSERT(same_fields(&st, &base, ".npy"));
    CU_ASSERT(st.lat[0] == 90.0 && st.lat[H_ - 1] == -90.0 && st.lon[0] == 0.0 && st.lon[1] == 5.625);
    io_state_free(&st);
    /* a subset of the levels, in another order */
    float some[3] = {50, 850, 1000};
    CU_ASSERT_FATAL(io_series_read(s, NAN, H_, W_, some, 3, &st) == 0);
    CU_ASSERT(memcmp(st.upper, base.upper + 12 * HW, HW * sizeof(float)) == 0);
    CU_ASSERT(memcmp(st.upper + HW, base.upper + 2 * HW, HW * sizeof(float)) == 0);
    CU_ASSERT(memcmp(st.upper + (size_t)(3 * 4 + 2) * HW, base.upper + (size_t)(13 * 4) * HW, HW * sizeof(float)) == 0);
    io_state_free(&st);
    io_series_close(s);

    /* the surface as big-endian float64 */
    const char *pb = tmp("input_surface_be8.npy");
    CU_ASSERT_FATAL(write_npy(pb, ">f8", "(4, 32, 64)", base.surface, (size_t)IO_NSURFACE * HW) == 0);
    const char *mixed[2] = {pu, pb};
    CU_ASSERT_FATAL(io_state_read(&st, mixed, 2, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(same_fields(&st, &base, ".npy, >f8 surface"));
    io_state_free(&st);

    /* a truncated .npy */
    const char *pt = tmp("input_upper_cut.npy");
    CU_ASSERT_FATAL(write_npy(pt, "<f4", "(5, 13, 32, 64)", base.upper, (size_t)IO_NUPPER * L_ * HW - 5) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &pt, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, pt, "truncated", NULL));
}

/* Calendar times: the accepted forms, leap years, and impossible dates
 * refused instead of rolled over into the next month. */
static void test_time_parse(void) {
    double t = NAN;
    CU_ASSERT(parse_time("1970-01-01") == 0);
    CU_ASSERT(parse_time("2020-01-31T06") == 1580450400.0);
    CU_ASSERT(parse_time("2020-01-31T06:30") == 1580452200.0);
    CU_ASSERT(parse_time("2020-01-31 06:30:00") == 1580452200.0);
    CU_ASSERT(parse_time("2020-02-29T00") == parse_time("2020-03-01T00") - 86400.0); /* a leap year */
    CU_ASSERT(parse_time("2000-02-29") == parse_time("2000-03-01") - 86400.0);       /* divisible by 400 */
    CU_ASSERT(parse_time("2019-04-30") == parse_time("2019-05-01") - 86400.0);
    static const char *const bad[] = {"2019-02-30", "2019-02-29", "1900-02-29", "2100-02-29", "2019-04-31",
                                      "2019-06-31", "2019-09-31", "2019-11-31", "2019-01-32", "2019-13-01",
                                      "2019-00-10", "2019-01-00", "2019-01-01T25", "2019-01-01T24:30",
                                      "2019-01-01T12:60", "2019-01-01x", "20190101",
                                      /* refused since the parser is strict (fixed digits, UTC without a Z, hours 0..23) */
                                      "2020-01-31T06:30:00Z", "2019-12-31T24"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = 123;
        int status = util_time_parse(bad[i], &t);
        if (status == 0) fprintf(stderr, "\n  accepted '%s'\n", bad[i]);
        CU_ASSERT(fails_with(status, UTIL_EINVAL, bad[i], NULL, NULL));
        CU_ASSERT(t == 123); /* untouched */
    }
    CU_ASSERT(fails_with(util_time_parse("2019-02-30", &t), UTIL_EINVAL, "2019-02 has 28 days", NULL, NULL));
}

static void test_npy_parse(void) {
    unsigned char buf[256];
    io_npy_header h;
    size_t n = npy_header(buf, 1, "<f4", "False", "(5, 13, 721, 1440)");
    CU_ASSERT(n == 128);
    CU_ASSERT_FATAL(io_npy_parse(&h, buf, n, "a.npy") == 0);
    CU_ASSERT(h.rank == 4 && h.shape[0] == 5 && h.shape[1] == 13 && h.shape[2] == 721 && h.shape[3] == 1440);
    CU_ASSERT(h.word == 4 && !h.big_endian && h.data_offset == 128);
    n = npy_header(buf, 2, "<f4", "False", "(5, 13, 721, 1440)");
    CU_ASSERT_FATAL(io_npy_parse(&h, buf, n, "b.npy") == 0);
    CU_ASSERT(h.rank == 4 && h.shape[3] == 1440 && h.data_offset == n && n % 64 == 0 && (size_t)buf[8] == n - 12);
    n = npy_header(buf, 1, "<f8", "False", "(4, 721, 1440)");
    CU_ASSERT_FATAL(io_npy_parse(&h, buf, n, "c.npy") == 0);
    CU_ASSERT(h.word == 8 && !h.big_endian);
    CU_ASSERT(h.rank == 3 && h.shape[0] == 4 && h.shape[1] == 721 && h.shape[2] == 1440);
    n = npy_header(buf, 1, ">f4", "False", "(4, 721, 1440)");
    CU_ASSERT_FATAL(io_npy_parse(&h, buf, n, "d.npy") == 0);
    CU_ASSERT(h.word == 4 && h.big_endian);
    n = npy_header(buf, 1, "<f4", "True", "(4, 721, 1440)");
    CU_ASSERT(fails_with(io_npy_parse(&h, buf, n, "e.npy"), UTIL_EFORMAT, "e.npy", "Fortran", NULL));
    n = npy_header(buf, 1, "<i4", "False", "(4, 721, 1440)");
    CU_ASSERT(fails_with(io_npy_parse(&h, buf, n, "f.npy"), UTIL_EFORMAT, "f.npy", "<i4", NULL));
    n = npy_header(buf, 1, "<f4", "False", "(4, 721, 1440)");
    CU_ASSERT(fails_with(io_npy_parse(&h, buf, n - 20, "g.npy"), UTIL_EFORMAT, "g.npy", "truncated", NULL));
    CU_ASSERT(fails_with(io_npy_parse(&h, buf, 8, "h.npy"), UTIL_EFORMAT, "h.npy", NULL, NULL));
    n = npy_header(buf, 2, "<f4", "False", "(4, 721, 1440)");
    CU_ASSERT(fails_with(io_npy_parse(&h, buf, 11, "i.npy"), UTIL_EFORMAT, "i.npy", "truncated", NULL));
    CU_ASSERT(fails_with(io_npy_parse(&h, (const unsigned char *)"PK\3\4 not numpy at all", 22, "j.npy"), UTIL_EFORMAT,
                         "j.npy", "not a NumPy", NULL));
}

/* ---- 9. HDF5 as h5py writes it ---- */

static int h5_dataset(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                      const void *d) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = ds >= 0 ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, d) : -1;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    return ds >= 0 && e >= 0 ? 0 : -1;
}

static int h5_str_attr(hid_t f, const char *obj, const char *name, const char *value) {
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, t, &value) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Oclose(o);
    return a >= 0 && e >= 0 ? 0 : -1;
}

/* nt six-hourly times ending 2020-01-01T06: the last holds the base state,
 * the others half of it. Plain datasets, no dimension scales. */
static int write_h5py(const char *path, int nt) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    hsize_t d4[4] = {(hsize_t)nt, L_, H_, W_}, d3[3] = {(hsize_t)nt, H_, W_};
    hsize_t dh = H_, dw = W_, dl = L_, dt = (hsize_t)nt;
    float *buf = malloc(sizeof(float) * (size_t)nt * L_ * HW);
    int status = buf ? 0 : -1;
    for (int v = 0; v < NV && !status; v++) {
        size_t n = (v < IO_NUPPER ? L_ : 1) * HW;
        for (int t = 0; t < nt; t++)
            memcpy(buf + t * n, field_of(t == nt - 1 ? &base : &half, v, 0), n * sizeof(float));
        status = h5_dataset(f, era5_names[v], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v < IO_NUPPER ? 4 : 3,
                            v < IO_NUPPER ? d4 : d3, buf);
    }
    free(buf);
    float lat[H_], lon[W_];
    int64_t lev[L_], hours[64];
    for (int i = 0; i < H_; i++) lat[i] = (float)base.lat[i];
    for (int j = 0; j < W_; j++) lon[j] = (float)base.lon[j];
    for (int k = 0; k < L_; k++) lev[k] = (int64_t)levels13[k];
    for (int t = 0; t < nt; t++) hours[t] = 1051902 - 6 * (nt - 1 - t); /* hours since 1900 */
    if (!status) status = h5_dataset(f, "latitude", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &dh, lat);
    if (!status) status = h5_dataset(f, "longitude", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &dw, lon);
    if (!status) status = h5_dataset(f, "level", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dl, lev);
    if (!status) status = h5_dataset(f, "time", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dt, hours);
    if (!status) status = h5_str_attr(f, "time", "units", "hours since 1900-01-01 00:00:00");
    return H5Fclose(f) >= 0 ? status : -1;
}

static void test_h5py(void) {
    BASE();
    const char *p = tmp("h5py.h5");
    CU_ASSERT_FATAL(write_h5py(p, 1) == 0);
    io_series *s;
    CU_ASSERT_FATAL(io_series_open(&s, &p, 1) == 0);
    CU_ASSERT(io_series_ntimes(s) == 1);
    CU_ASSERT(io_series_time(s, 0) == parse_time("2020-01-01T06"));
    io_state st;
    CU_ASSERT_FATAL(io_series_read(s, NAN, H_, W_, levels13, L_, &st) == 0);
    CU_ASSERT(st.time == parse_time("2020-01-01T06"));
    CU_ASSERT(same_fields(&st, &base, "h5py"));
    CU_ASSERT(grid_like_base(&st));
    io_state_free(&st);
    io_series_close(s);

    /* Many times: netCDF-C gives the time axis a phony dimension, shared
     * with any other axis of the same length. */
    for (int nt = 2; nt <= 32; nt += nt == 2 ? 11 : 19) { /* 2, 13 (= levels), 32 (= latitudes) */
        char name[32];
        snprintf(name, sizeof name, "h5py_%d.h5", nt);
        p = tmp(name);
        CU_ASSERT_FATAL(write_h5py(p, nt) == 0);
        int status = io_series_open(&s, &p, 1);
        CU_ASSERT(status == 0);
        if (status) {
            fprintf(stderr, "\n  %d times: %s\n", nt, util_last_message());
            continue;
        }
        CU_ASSERT(io_series_ntimes(s) == (size_t)nt);
        status = io_series_read(s, parse_time("2020-01-01T06"), H_, W_, levels13, L_, &st);
        CU_ASSERT(status == 0);
        if (status) fprintf(stderr, "\n  %d times: %s\n", nt, util_last_message());
        else CU_ASSERT(same_fields(&st, &base, name));
        if (!status) io_state_free(&st);
        status = io_series_read(s, parse_time("2020-01-01"), H_, W_, levels13, L_, &st);
        CU_ASSERT(status == 0);
        if (!status) CU_ASSERT(same_fields(&st, &half, name));
        if (!status) io_state_free(&st);
        io_series_close(s);
    }
}

/* ---- bad input ---- */

static void test_missing_variable(void) {
    BASE();
    layout L = layout_plain(&base);
    L.name[8] = NULL; /* no t2m */
    const char *p = tmp("no_t2m.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    io_state st;
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, "no variable 't2m'",
                         NULL));
    /* upper air alone, no surface file */
    layout U = layout_era5_2024(1, 0);
    p = tmp("pl_only.nc");
    CU_ASSERT_FATAL(write_nc(p, &U) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, "'msl'", NULL));
    /* a level the file lacks */
    float wrong[2] = {1000, 975};
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, wrong, 2), UTIL_EFORMAT, p, "975 hPa", "'z'"));
    /* a file holding none of the variables */
    for (int v = 0; v < NV; v++) L.name[v] = v == 0 ? "orography" : NULL;
    L.units[0] = "m";
    p = tmp("nothing.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, "none of", NULL));
}

static void test_missing_time(void) {
    BASE();
    layout pl = layout_era5_2024(1, 0), sfc = layout_era5_2024(0, 1);
    sfc.nt = 1; /* the surface file lacks 06 UTC */
    const char *paths[2] = {tmp("time_pl.nc"), tmp("time_sfc.nc")};
    CU_ASSERT_FATAL(write_nc(paths[0], &pl) == 0);
    CU_ASSERT_FATAL(write_nc(paths[1], &sfc) == 0);
    io_series *s;
    io_state st;
    CU_ASSERT_FATAL(io_series_open(&s, paths, 2) == 0);
    CU_ASSERT(fails_with(io_series_read(s, parse_time("2020-01-02"), H_, W_, levels13, L_, &st), UTIL_EFORMAT, paths[0],
                         "no time 2020-01-02T00:00:00", "'z'"));
    CU_ASSERT(fails_with(io_series_read(s, parse_time("2020-01-01T06"), H_, W_, levels13, L_, &st), UTIL_EFORMAT,
                         paths[0], "no time 2020-01-01T06:00:00", "'msl'"));
    io_series_close(s);
    CU_ASSERT(fails_with(io_state_read(&st, paths, 2, 2, H_, W_, levels13, L_), UTIL_EFORMAT, paths[0], "time index 2",
                         NULL));
}

static int set_att(const char *path, const char *var, const char *att, nc_type type, double value) {
    int nc, id;
    NCK(nc_open(path, NC_WRITE, &nc));
    NCK(nc_redef(nc));
    NCK(nc_inq_varid(nc, var, &id));
    nc_del_att(nc, id, att);
    if (type == NC_FLOAT) {
        float f = (float)value;
        NCK(nc_put_att_float(nc, id, att, NC_FLOAT, 1, &f));
    } else {
        NCK(nc_put_att_double(nc, id, att, NC_DOUBLE, 1, &value));
    }
    NCK(nc_close(nc));
    return 0;
}

static void test_bad_packing(void) {
    BASE();
    layout L = layout_plain(&base);
    L.cmode = NC_CLOBBER, L.packed = 1;
    const char *good = tmp("packed.nc");
    CU_ASSERT_FATAL(write_nc(good, &L) == 0);
    io_state st;
    CU_ASSERT_FATAL(io_state_read(&st, &good, 1, 0, H_, W_, levels13, L_) == 0);
    double e = packed_error(&st, &base, &L);
    CU_ASSERT(e <= 0.5001);
    if (!(e <= 0.5001)) fprintf(stderr, "\n  packed: worst %g steps\n", e);
    io_state_free(&st);

    const char *zero = tmp("packed_zero.nc");
    CU_ASSERT_FATAL(write_nc(zero, &L) == 0);
    CU_ASSERT_FATAL(set_att(zero, "t", "scale_factor", NC_DOUBLE, 0.0) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &zero, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, zero, "'t'",
                         "inconsistent packing"));
    const char *mixed = tmp("packed_types.nc");
    CU_ASSERT_FATAL(write_nc(mixed, &L) == 0);
    CU_ASSERT_FATAL(set_att(mixed, "u10", "scale_factor", NC_FLOAT, L.scale[6]) == 0); /* add_offset stays double */
    CU_ASSERT(fails_with(io_state_read(&st, &mixed, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, mixed, "'u10'",
                         "inconsistent packing"));
    const char *inf = tmp("packed_inf.nc");
    CU_ASSERT_FATAL(write_nc(inf, &L) == 0);
    CU_ASSERT_FATAL(set_att(inf, "q", "add_offset", NC_DOUBLE, INFINITY) == 0);
    CU_ASSERT(fails_with(io_state_read(&st, &inf, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, inf, "'q'", "packing"));
}

/* Copy `from` without its last `drop` bytes (drop < 0: keep the first half). */
static void copy_cut(const char *from, const char *to, long drop) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT_FATAL(fseek(a, 0, SEEK_END) == 0);
    long size = ftell(a), left = drop < 0 ? size / 2 : size - drop;
    rewind(a);
    char buf[65536];
    while (left > 0) {
        size_t n = fread(buf, 1, (size_t)(left < (long)sizeof buf ? left : (long)sizeof buf), a);
        CU_ASSERT_FATAL(n > 0 && fwrite(buf, 1, n, b) == n);
        left -= (long)n;
    }
    fclose(a);
    fclose(b);
}

static void test_truncated(void) {
    BASE();
    /* NetCDF-4 (HDF5), NetCDF-3 and NetCDF-3 with a record (unlimited) time
     * dimension, cut in half and missing only their last 100 bytes. netCDF-C
     * reads past the end of a NetCDF-3 file without error. */
    static const char *const kind[3] = {"NetCDF-4", "NetCDF-3", "NetCDF-3 records"};
    for (int k = 0; k < 3; k++)
        for (int half_cut = 1; half_cut >= 0; half_cut--) {
            layout L = layout_plain(&base);
            if (k) L.cmode = NC_CLOBBER | NC_64BIT_OFFSET;
            L.unlimited = k == 2;
            char name[32];
            snprintf(name, sizeof name, "whole%d.nc", k);
            const char *whole = tmp(name);
            snprintf(name, sizeof name, "cut%d_%s.nc", k, half_cut ? "half" : "100");
            const char *cut = tmp(name);
            CU_ASSERT_FATAL(write_nc(whole, &L) == 0);
            copy_cut(whole, cut, half_cut ? -1 : 100);
            io_state st;
            int status = io_state_read(&st, &cut, 1, 0, H_, W_, levels13, L_);
            CU_ASSERT(fails_with(status, UTIL_EFORMAT, cut, NULL, NULL));
            if (!status) {
                fprintf(stderr, "\n  %s %s read without error; t2m[%zu] %g (base %g)\n", kind[k],
                        half_cut ? "cut in half" : "without its last 100 bytes", HW - 1, st.surface[4 * HW - 1],
                        base.surface[4 * HW - 1]);
                io_state_free(&st);
            }
        }
}

static void test_not_netcdf(void) {
    const char *p = tmp("notes.txt");
    FILE *fp = fopen(p, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fputs("z q t u v\n1 2 3 4 5\nthis is a text file, not a state\n", fp);
    fclose(fp);
    io_state st;
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, "not a NetCDF", NULL));
    const char *absent = tmp("absent.nc");
    CU_ASSERT(fails_with(io_state_read(&st, &absent, 1, 0, H_, W_, levels13, L_), UTIL_EIO, absent, NULL, NULL));
    fp = fopen(p, "w");
    fclose(fp); /* empty */
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, NULL, NULL));
}

static void test_wrong_grid(void) {
    BASE();
    /* a 16 x 32 coarsening of the base state */
    io_state c;
    const int h = H_ / 2, w = W_ / 2;
    CU_ASSERT_FATAL(io_state_alloc(&c, h, w, levels13, L_, NULL) == 0);
    for (int v = 0; v < NV; v++)
        for (int k = 0; k < (v < IO_NUPPER ? L_ : 1); k++) {
            const float *src = field_of(&base, v, k);
            float *dst = field_of(&c, v, k);
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) dst[i * w + j] = src[(2 * i) * W_ + 2 * j];
        }
    layout L = layout_plain(&c);
    const char *p = tmp("coarse.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    io_state st;
    CU_ASSERT(fails_with(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_), UTIL_EFORMAT, p, "16 x 32",
                         "pangu regrid"));
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, h, w, levels13, L_) == 0); /* its own grid reads */
    CU_ASSERT(same_fields(&st, &c, "coarse"));
    io_state_free(&st);
    io_state_free(&c);
}

static void test_nan_and_fill(void) {
    BASE();
    io_state bad;
    CU_ASSERT_FATAL(io_state_alloc(&bad, H_, W_, levels13, L_, &base) == 0);
    memcpy(bad.upper, base.upper, (size_t)IO_NUPPER * L_ * HW * sizeof(float));
    memcpy(bad.surface, base.surface, (size_t)IO_NSURFACE * HW * sizeof(float));
    float *t500 = field_of(&bad, 2, 5);
    t500[2 * W_ + 3] = NC_FILL_FLOAT; /* netCDF's default fill: unwritten data */
    t500[2 * W_ + 10] = NAN;
    t500[20 * W_ + 5] = NC_FILL_FLOAT;
    /* stored south to north from -180: the message still speaks of the state's grid */
    layout L = layout_plain(&bad);
    L.south_north = 1, L.lon_west = 1;
    const char *p = tmp("holes.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    io_state st;
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(isnan(field_of(&st, 2, 5)[2 * W_ + 3]) && isnan(field_of(&st, 2, 5)[20 * W_ + 5]));
    char where[128];
    snprintf(where, sizeof where, "latitude %g, longitude %g", base.lat[2], base.lon[3]);
    CU_ASSERT(fails_with(io_state_check_finite(&st, p), UTIL_ENAN, p,
                         "'t' at 500 hPa holds 3 NaN or fill values of 2048", where));
    io_state_free(&st);

    /* an explicit _FillValue (NetCDF-4 NaN fill, as the CDS writes) and packed fill */
    memcpy(bad.upper, base.upper, (size_t)IO_NUPPER * L_ * HW * sizeof(float));
    bad.surface[HW * 1 + 7] = NAN; /* u10 */
    L = layout_plain(&bad);
    L.nan_fill = 1;
    p = tmp("holes_nanfill.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    snprintf(where, sizeof where, "latitude %g, longitude %g", base.lat[0], base.lon[7]);
    CU_ASSERT(fails_with(io_state_check_finite(&st, p), UTIL_ENAN, p, "'u10' holds 1 NaN", where));
    io_state_free(&st);
    L.nan_fill = 0, L.packed = 1, L.cmode = NC_CLOBBER;
    p = tmp("holes_packed.nc");
    CU_ASSERT_FATAL(write_nc(p, &L) == 0);
    CU_ASSERT_FATAL(io_state_read(&st, &p, 1, 0, H_, W_, levels13, L_) == 0);
    CU_ASSERT(fails_with(io_state_check_finite(&st, p), UTIL_ENAN, p, "'u10' holds 1 NaN", where));
    io_state_free(&st);
    io_state_free(&bad);
}

/* The forecast writer, synchronous and on its background thread: the same
 * values in the file, with states reused as soon as io_forecast_wait says
 * their write is done; ensemble mean beside the members. */
static void fill_scaled(io_state *dst, const io_state *src, float factor) {
    size_t nu = (size_t)IO_NUPPER * src->nlev * HW, ns = (size_t)IO_NSURFACE * HW;
    for (size_t i = 0; i < nu; i++) dst->upper[i] = src->upper[i] * factor;
    for (size_t i = 0; i < ns; i++) dst->surface[i] = src->surface[i] * factor;
}

static float scale_of(int step, int member) { return 1.0f + 0.125f * step + 0.0625f * member; }

/* The writers' scaffolding (io/ncw.c): a committed file is in place with
 * its attributes in the order given and no temporary left; a failed write
 * leaves neither the file nor its temporary, and its message names the file,
 * what was written and NetCDF's reason. */
static int temporaries_of(const char *path) {
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s.tmp.*", path);
    glob_t g;
    int n = glob(pattern, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    globfree(&g);
    return n;
}

/* A variable x with three attributes and two global ones, committed. */
static int write_x(const char *path) {
    int status, d, id;
    ncw_file out = {.nc = -1};
    if ((status = ncw_begin(&out, path)) || (status = ncw_create(&out, NC_NETCDF4))) goto done;
    CU_ASSERT(access(path, F_OK) != 0 && temporaries_of(path) == 1);
    NCW_CHECK(nc_def_dim(out.nc, "x", 3, &d), "%s: cannot define x", path);
    NCW_CHECK(ncw_def(out.nc, "x", NC_DOUBLE, 1, &d, &id, "units", "m", "long_name", "x", "axis", "X", NULL),
              "%s: cannot define x", path);
    NCW_CHECK(ncw_texts(out.nc, NC_GLOBAL, "title", "t", "Conventions", "CF-1.8", NULL), "%s: globals", path);
    status = ncw_commit(&out);
done:
    ncw_discard(&out);
    return status;
}

/* The same dimension defined twice: a failure. */
static int define_x_twice(const char *path) {
    int status, d;
    ncw_file out = {.nc = -1};
    if ((status = ncw_begin(&out, path)) || (status = ncw_create(&out, NC_NETCDF4))) goto done;
    NCW_CHECK(nc_def_dim(out.nc, "x", 3, &d), "%s: cannot define x", path);
    NCW_CHECK(nc_def_dim(out.nc, "x", 4, &d), "%s: cannot define x again", path);
    status = ncw_commit(&out);
done:
    ncw_discard(&out);
    return status;
}

static void test_ncw(void) {
    const char *path = tmp("ncw.nc");
    int nc, id, natts = 0;
    CU_ASSERT_FATAL(write_x(path) == 0);
    CU_ASSERT(temporaries_of(path) == 0);
    CU_ASSERT_FATAL(nc_open(path, NC_NOWRITE, &nc) == NC_NOERR);
    CU_ASSERT(nc_inq_varid(nc, "x", &id) == NC_NOERR && nc_inq_varnatts(nc, id, &natts) == NC_NOERR && natts == 3);
    static const char *const order[] = {"units", "long_name", "axis", "title", "Conventions"};
    for (int a = 0; a < 5; a++) {
        char name[NC_MAX_NAME + 1] = "";
        CU_ASSERT(nc_inq_attname(nc, a < 3 ? id : NC_GLOBAL, a < 3 ? a : a - 3, name) == NC_NOERR);
        CU_ASSERT_STRING_EQUAL(name, order[a]);
    }
    nc_close(nc);
    /* The failed write leaves the committed file as it was and no temporary. */
    CU_ASSERT(define_x_twice(path) == UTIL_EIO);
    CU_ASSERT(strstr(util_last_message(), "ncw.nc: cannot define x again (NetCDF: ") != NULL);
    CU_ASSERT(temporaries_of(path) == 0);
    CU_ASSERT(nc_open(path, NC_NOWRITE, &nc) == NC_NOERR && nc_inq_varid(nc, "x", &id) == NC_NOERR);
    nc_close(nc);
}

static void test_forecast_writer(void) {
    BASE();
    enum { STEPS = 4, MEMBERS = 2 };
    double leads[STEPS] = {0, 6, 12, 18};
    io_state scratch[2];
    CU_ASSERT_FATAL(io_state_alloc(&scratch[0], H_, W_, levels13, L_, &base) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&scratch[1], H_, W_, levels13, L_, &base) == 0);
    float *got = malloc(sizeof(float) * MEMBERS * STEPS * 2 * HW);
    CU_ASSERT_FATAL(got != NULL);
    static const char *const names[3] = {"fc_sync.nc", "fc_background.nc", "fc_reference.nc"};
    for (int background = 0; background < 3; background++) { /* 1: copies queued, 2: references */
        const char *path = tmp(names[background]);
        io_forecast_spec spec = {.H = H_, .W = W_, .lat = base.lat, .lon = base.lon, .nlev = 2, .levels = {500, 850},
                                 .write_var = {1, 1, 1, 1, 1, 1, 1, 1, 1}, .nsteps = STEPS, .lead_hours = leads,
                                 .init_time = base.time, .members = MEMBERS, .source = "test", .background = background};
        io_forecast *f;
        CU_ASSERT_FATAL(io_forecast_create(&f, path, &spec) == 0);
        int use = 0;
        for (int m = 0; m < MEMBERS; m++)
            for (int st = 0; st < STEPS; st++, use ^= 1) {
                CU_ASSERT_FATAL(io_forecast_wait(f, &scratch[use]) == 0);
                fill_scaled(&scratch[use], &base, scale_of(st, m));
                CU_ASSERT_FATAL(io_forecast_write(f, st, m, &scratch[use]) == 0);
            }
        CU_ASSERT_FATAL(io_forecast_finish(f) == 0);
        CU_ASSERT(io_forecast_is_complete(path));
        int nc, id, mean_id;
        size_t bad = 0;
        /* Each member in its own file: t (v = 2) at 850 hPa (written level 1, state level 2). */
        for (int m = 0; m < MEMBERS; m++) {
            char member[600];
            io_forecast_member_path(path, m, MEMBERS, member, sizeof member);
            CU_ASSERT(io_forecast_is_complete(member));
            CU_ASSERT_FATAL(nc_open(member, NC_NOWRITE, &nc) == NC_NOERR);
            CU_ASSERT_FATAL(nc_inq_varid(nc, "t", &id) == NC_NOERR && nc_get_var_float(nc, id, got) == NC_NOERR);
            for (int st = 0; st < STEPS; st++)
                for (size_t i = 0; i < HW; i++) {
                    float want = field_of(&base, 2, 2)[i] * scale_of(st, m);
                    bad += got[((size_t)st * 2 + 1) * HW + i] != want;
                }
            nc_close(nc);
        }
        CU_ASSERT(bad == 0);
        CU_ASSERT_FATAL(nc_open(path, NC_NOWRITE, &nc) == NC_NOERR);
        CU_ASSERT_FATAL(nc_inq_varid(nc, "t2m_mean", &mean_id) == NC_NOERR &&
                        nc_get_var_float(nc, mean_id, got) == NC_NOERR);
        for (int st = 0; st < STEPS; st++)
            for (size_t i = 0; i < HW; i++) {
                double want = field_of(&base, IO_NUPPER + 3, 0)[i] * (scale_of(st, 0) + scale_of(st, 1)) / 2.0;
                bad += fabs(got[(size_t)st * HW + i] - want) > 1e-6 * fabs(want);
            }
        CU_ASSERT(bad == 0);
        nc_close(nc);
    }
    /* All three ways give the same file content (the mean and spread file, member 1). */
    char cmd[4000];
    const char *stems[3] = {"fc_sync", "fc_background", "fc_reference"};
    for (int w = 1; w < 3; w++)
        for (int file = 0; file < 2; file++) {
            char a[600], b[600];
            snprintf(a, sizeof a, "%s%s.nc", tmp(stems[0]), file ? "_m01" : "");
            snprintf(b, sizeof b, "%s%s.nc", tmp(stems[w]), file ? "_m01" : "");
            snprintf(cmd, sizeof cmd, "ncdump '%s' | tail -n +2 | grep -v ensemble_ > '%s.cdl' && "
                                      "ncdump '%s' | tail -n +2 | grep -v ensemble_ > '%s.cdl' && cmp -s '%s.cdl' '%s.cdl'",
                     a, a, b, b, a, b);
            CU_ASSERT(system(cmd) == 0);
        }
    free(got);
    io_state_free(&scratch[0]);
    io_state_free(&scratch[1]);
}

static int suite_init(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pangu-io-tests-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) {
    if (have_base) io_state_free(&base), io_state_free(&half), have_base = 0;
    if (have_model) model_free(&mdl), have_model = 0;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int tests_register_io(void) {
    CU_pSuite s = CU_add_suite("io", suite_init, suite_clean);
    if (!s) return -1;
    struct { const char *name; void (*fn)(void);
    } tests[] = {
        {"ERA5 2024 (NetCDF-4, separate files, valid_time) and the step on it", test_era5_2024},
        {"many files as one series", test_many_files},
        {"orientation: south to north, from -180, ascending Pa, days", test_orientation},
        {"CMIP names and units", test_cmip},
        {"CF standard_name only", test_cf_standard_name},
        {"geopotential height", test_geopotential_height},
        {"ERA5 mixed with ERA5T (expver), packed", test_era5_expver},
        {"Pangu-Weather .npy inputs", test_npy_inputs},
        {".npy header parser", test_npy_parse},
        {"time parsing: forms, leap years, impossible dates refused", test_time_parse},
        {"HDF5 as h5py writes it", test_h5py},
        {"bad input: missing variable or level", test_missing_variable},
        {"bad input: time not in the files", test_missing_time},
        {"bad input: inconsistent packing", test_bad_packing},
        {"bad input: truncated NetCDF", test_truncated},
        {"bad input: not NetCDF", test_not_netcdf},
        {"bad input: another grid", test_wrong_grid},
        {"bad input: NaN and fill values", test_nan_and_fill},
        {"NetCDF writers' scaffolding: commit, discard, messages, attribute order", test_ncw},
        {"forecast writer: synchronous and background", test_forecast_writer},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
