/* synth: synthetic ERA5-like reanalysis (see synth.h). */
#define _DEFAULT_SOURCE
#include "synth.h"

#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../io/io.h"
#include "../util/util.h"

#define RD 287.05         /* dry air gas constant */
#define G0 9.80665
#define OMEGA 7.292e-5    /* Earth's rotation */
#define RADIUS 6.371e6
#define OMEGA_BG 7.848e-6 /* background solid-body rotation of the RH waves (Williamson et al. 1992) */

static double deg(double x) { return x * M_PI / 180.0; }

/* Rossby-Haurwitz angular velocity of wavenumber R on a sphere. */
static double rh_nu(int R) { return (R * (3.0 + R) * OMEGA_BG - 2.0 * OMEGA) / ((1.0 + R) * (2.0 + R)); }

/* Zonal-mean temperature (K) at pressure p (hPa), latitude phi (rad), season shift (rad). */
static double t_mean(double p, double phi, double shift) {
    double s = sin(phi - shift), ts = 301.0 - 45.0 * s * s;
    double trop = ts * pow(p / 1000.0, 0.19);            /* 6.5 K/km lapse rate */
    double strat = 207.0 + 12.0 * s * s;                  /* warmer polar stratosphere */
    return trop > strat ? trop : strat + 0.2 * (trop - strat) * (p > 150);
}

/* Amplitude of the waves with height: grows from the surface to the jet. */
static double wave_amp(double p) { return 0.35 + 0.65 * log(1000.0 / p) / log(1000.0 / 250.0); }

void synth_constants(const synth_spec *s, float *c) {
    int H = s->H, W = s->W;
    size_t HW = (size_t)H * W;
    /* Continents: smooth blobs; mountains along ridges inside them. */
    static const double blobs[][5] = {/* lat, lon, sigma_lat, sigma_lon, weight */
                                      {45, 100, 22, 45, 1.2}, {50, 260, 18, 30, 1.1}, {5, 20, 25, 18, 1.1},
                                      {-20, 300, 20, 15, 1.0}, {-25, 135, 10, 18, 1.0}, {-80, 0, 10, 400, 1.3},
                                      {72, 320, 8, 15, 0.9}};
    for (int i = 0; i < H; i++) {
        double lat = H > 1 ? 90.0 - 180.0 * i / (H - 1) : 0;
        for (int j = 0; j < W; j++) {
            double lon = 360.0 * j / W, land = 0;
            for (size_t b = 0; b < sizeof blobs / sizeof blobs[0]; b++) {
                double dl = fabs(lon - blobs[b][1]);
                dl = dl > 180 ? 360 - dl : dl;
                double e = pow((lat - blobs[b][0]) / blobs[b][2], 2) + pow(dl / blobs[b][3], 2);
                land += blobs[b][4] * exp(-e);
            }
            double lsm = 1.0 / (1.0 + exp(-12.0 * (land - 0.5)));
            double ridge = exp(-pow((lon - 100 - 0.4 * (lat - 35)) / 8.0, 2)) * exp(-pow((lat - 35) / 10.0, 2)) +
                           exp(-pow((lon - 250 + 0.3 * lat) / 6.0, 2)) * exp(-pow((lat - 45) / 20.0, 2)) +
                           0.6 * exp(-pow((lon - 290) / 5.0, 2)) * exp(-pow((lat + 20) / 25.0, 2));
            size_t at = (size_t)i * W + j;
            c[at] = (float)lsm;
            c[HW + at] = lsm > 0.5 ? (float)(1 + ((int)floor((lat + 90) / 26.0) + (int)(lon / 90)) % 7) : 0.0f;
            c[2 * HW + at] = (float)(lsm * (300.0 * land + 3500.0 * ridge));
        }
    }
}

void synth_state(const synth_spec *s, double time, float *upper, float *surface) {
    int H = s->H, W = s->W, L = s->nlev;
    size_t HW = (size_t)H * W;
    int doy = util_day_of_year(time);
    double shift = deg(23.44) * 0.35 * sin(2 * M_PI * (doy - 80) / 365.25), hemi = shift / deg(23.44);
    double t_s = time - 946684800.0; /* seconds since 2000-01-01 */
    double day_frac = fmod(time, 86400.0) / 86400.0;
    static const int R[2] = {4, 6};
    static const double K[2] = {2.2e-6, 1.1e-6}, phase0[2] = {0.3, 1.9};
    const float *consts = s->constants;
    float *own = NULL;
    if (!consts) {
        own = malloc(sizeof(float) * 3 * HW);
        if (!own) return;
        synth_constants(s, own);
        consts = own;
    }
    /* levels by descending pressure for the hypsometric integration */
    int order[64];
    for (int k = 0; k < L; k++) order[k] = k;
    for (int a = 0; a < L; a++)
        for (int b = a + 1; b < L; b++)
            if (s->levels[order[b]] > s->levels[order[a]]) {
                int t = order[a];
                order[a] = order[b], order[b] = t;
            }
    double amp[64], cosarg[2][4096], sinarg[2][4096], diurnal[4096];
    for (int k = 0; k < L; k++) amp[k] = wave_amp(s->levels[k]);
    for (int j = 0; j < W && j < 4096; j++) {
        double lam = 2 * M_PI * j / W;
        for (int w = 0; w < 2; w++) {
            double arg = R[w] * (lam - rh_nu(R[w]) * t_s) + phase0[w];
            cosarg[w][j] = cos(arg), sinarg[w][j] = sin(arg);
        }
        diurnal[j] = cos(2 * M_PI * (day_frac + lam / (2 * M_PI) - 14.0 / 24.0)); /* 14 local solar time */
    }
    util_rng rng;
    util_rng_seed(&rng, s->seed ^ (unsigned long long)(time / 60.0));
    const double tp_scale = (0.65 / log(1000.0 / 250.0)) / RD;
    for (int i = 0; i < H; i++) {
        double lat = H > 1 ? 90.0 - 180.0 * i / (H - 1) : 0, phi = deg(lat), cphi = cos(phi), sphi = sin(phi);
        if (cphi < 1e-9) cphi = 0;
        /* zonal means of this latitude at every level */
        double zm[64], tm[64], um[64], qm[64];
        double zprev = 900.0 + 600.0 * cos(2 * phi) * cos(2 * phi), pprev = 1000.0;
        for (int n = 0; n < L; n++) {
            int k = order[n];
            double p = s->levels[k], t = t_mean(p, phi, shift);
            zm[k] = zprev + RD * 0.5 * (t + t_mean(pprev, phi, shift)) * log(pprev / p);
            zprev = zm[k], pprev = p, tm[k] = t;
            um[k] = 32.0 * exp(-pow((fabs(lat) - 38.0 - 8.0 * (lat > 0 ? hemi : -hemi)) / 11.0, 2)) *
                        fmin(1.0, log(1000.0 / p) / log(1000.0 / 220.0)) * (p < 220 ? pow(p / 220.0, 0.7) : 1.0) -
                    6.0 * exp(-pow(lat / 14.0, 2)) * (p > 600) + RADIUS * OMEGA_BG * cphi * 0.5;
            qm[k] = 0.018 * exp(-pow((lat - 6.0 * hemi) / 32.0, 2)) * pow(p / 1000.0, 3.2);
        }
        double cR1[2], cR[2];
        for (int w = 0; w < 2; w++) cR1[w] = pow(cphi, R[w] - 1), cR[w] = cR1[w] * cphi;
        for (int j = 0; j < W; j++) {
            size_t at = (size_t)i * W + j;
            /* Rossby-Haurwitz wave fields (Williamson et al. 1992, case 6 forms); z' geostrophic. */
            double up = 0, vp = 0, zp = 0;
            for (int w = 0; w < 2; w++) {
                up += RADIUS * K[w] * cR1[w] * (R[w] * sphi * sphi - cphi * cphi) * cosarg[w][j];
                vp += -RADIUS * K[w] * R[w] * cR1[w] * sphi * sinarg[w][j];
                zp += 2 * OMEGA * RADIUS * RADIUS * K[w] * sphi * sphi * cR[w] * cosarg[w][j];
            }
            double tp = zp * tp_scale; /* hypsometric: t' = -(p / Rd) dz'/dp with z' = a(p) zp */
            for (int k = 0; k < L; k++) {
                double a = amp[k], p = s->levels[k];
                upper[((size_t)0 * L + k) * HW + at] = (float)(zm[k] + a * zp);
                upper[((size_t)1 * L + k) * HW + at] = (float)fmax(qm[k] * (0.85 + 0.15 * cosarg[0][j]), 1e-6);
                upper[((size_t)2 * L + k) * HW + at] = (float)(tm[k] + tp + (p >= 925 ? 0.8 * diurnal[j] : 0));
                upper[((size_t)3 * L + k) * HW + at] = (float)(um[k] + a * up);
                upper[((size_t)4 * L + k) * HW + at] = (float)(a * vp);
            }
            int k0 = order[0];
            double z1000 = upper[(size_t)k0 * HW + at], t1000 = upper[((size_t)2 * L + k0) * HW + at];
            double lsm = consts[at], oro = consts[2 * HW + at];
            surface[0 * HW + at] = (float)(100000.0 * exp(z1000 / (RD * t1000)));
            surface[1 * HW + at] = (float)(0.7 * upper[((size_t)3 * L + k0) * HW + at]);
            surface[2 * HW + at] = (float)(0.7 * upper[((size_t)4 * L + k0) * HW + at]);
            surface[3 * HW + at] = (float)(t1000 + 1.5 + (1.0 + 3.0 * lsm) * diurnal[j] - 0.0065 * oro);
            if (s->noise > 0)
                for (int v = 0; v < 4; v++) surface[v * HW + at] += (float)(s->noise * (v == 0 ? 50 : 1) * util_rng_normal(&rng));
        }
    }
    free(own);
}

/* ---- files ---- */

static const char *const long_names[9] = {"Geopotential", "Specific humidity", "Temperature", "U component of wind",
                                          "V component of wind", "Mean sea level pressure", "10 metre U wind component",
                                          "10 metre V wind component", "2 metre temperature"};
static const char *const std_names[9] = {"geopotential", "specific_humidity", "air_temperature", "eastward_wind",
                                         "northward_wind", "air_pressure_at_mean_sea_level", "eastward_wind",
                                         "northward_wind", "air_temperature"};
static const char *const units[9] = {"m**2 s**-2", "kg kg**-1", "K", "m s**-1", "m s**-1", "Pa", "m s**-1", "m s**-1", "K"};

#define NC(call)                                                                                             \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        if (rc_ != NC_NOERR) {                                                                               \
            status = util_fail(UTIL_EIO, "%s: cannot write (%s)", path, nc_strerror(rc_));                   \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)

static int text(int nc, int varid, const char *name, const char *value) {
    return nc_put_att_text(nc, varid, name, strlen(value), value);
}

/* One file of the upper (pl = 1) or surface variables for times t[0..n). */
static int write_file(const synth_spec *s, const char *path, int pl, int legacy, const double *t, long n, float *up,
                      float *sf) {
    int status = UTIL_OK, nc = -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int H = s->H, W = s->W, L = s->nlev, v0 = pl ? 0 : 5, nv = pl ? 5 : 4;
    size_t HW = (size_t)H * W;
    double lo[9], hi[9], scale[9], offset[9];
    short *packed = NULL;
    if (legacy) { /* packing needs each variable's range over the file: a first pass */
        for (int v = 0; v < 9; v++) lo[v] = INFINITY, hi[v] = -INFINITY;
        for (long i = 0; i < n; i++) {
            synth_state(s, t[i], up, sf);
            for (int v = v0; v < v0 + nv; v++) {
                const float *x = v < 5 ? up + (size_t)v * L * HW : sf + (size_t)(v - 5) * HW;
                size_t cnt = v < 5 ? (size_t)L * HW : HW;
                for (size_t k = 0; k < cnt; k++) lo[v] = fmin(lo[v], x[k]), hi[v] = fmax(hi[v], x[k]);
            }
        }
        for (int v = v0; v < v0 + nv; v++) {
            scale[v] = (hi[v] - lo[v]) / 65532.0;
            if (!(scale[v] > 0)) scale[v] = 1;
            offset[v] = (hi[v] + lo[v]) / 2;
        }
        packed = malloc(sizeof(short) * (size_t)L * HW);
        if (!packed) return util_fail(UTIL_ENOMEM, "out of memory");
    }
    int d_t, d_l = -1, d_y, d_x, v_t, v_l, v_y, v_x, vars[9];
    NC(nc_create(tmp, NC_CLOBBER | (legacy ? NC_64BIT_OFFSET : NC_NETCDF4), &nc));
    NC(nc_def_dim(nc, legacy ? "time" : "valid_time", legacy ? NC_UNLIMITED : (size_t)n, &d_t));
    if (pl) NC(nc_def_dim(nc, legacy ? "level" : "pressure_level", (size_t)L, &d_l));
    NC(nc_def_dim(nc, "latitude", (size_t)H, &d_y));
    NC(nc_def_dim(nc, "longitude", (size_t)W, &d_x));
    if (legacy) {
        NC(nc_def_var(nc, "longitude", NC_FLOAT, 1, &d_x, &v_x));
        NC(text(nc, v_x, "units", "degrees_east"));
        NC(text(nc, v_x, "long_name", "longitude"));
        NC(nc_def_var(nc, "latitude", NC_FLOAT, 1, &d_y, &v_y));
        NC(text(nc, v_y, "units", "degrees_north"));
        NC(text(nc, v_y, "long_name", "latitude"));
        if (pl) {
            NC(nc_def_var(nc, "level", NC_INT, 1, &d_l, &v_l));
            NC(text(nc, v_l, "units", "millibars"));
            NC(text(nc, v_l, "long_name", "pressure_level"));
        }
        NC(nc_def_var(nc, "time", NC_INT, 1, &d_t, &v_t));
        NC(text(nc, v_t, "units", "hours since 1900-01-01 00:00:00.0"));
        NC(text(nc, v_t, "long_name", "time"));
        NC(text(nc, v_t, "calendar", "gregorian"));
    } else {
        long long zero = 0;
        int v_n, v_e;
        NC(nc_def_var(nc, "number", NC_INT64, 0, NULL, &v_n));
        NC(text(nc, v_n, "long_name", "ensemble member numerical id"));
        NC(nc_def_var(nc, "valid_time", NC_INT64, 1, &d_t, &v_t));
        NC(text(nc, v_t, "long_name", "time"));
        NC(text(nc, v_t, "standard_name", "time"));
        NC(text(nc, v_t, "units", "seconds since 1970-01-01"));
        NC(text(nc, v_t, "calendar", "proleptic_gregorian"));
        if (pl) {
            NC(nc_def_var(nc, "pressure_level", NC_DOUBLE, 1, &d_l, &v_l));
            NC(text(nc, v_l, "units", "hPa"));
            NC(text(nc, v_l, "long_name", "pressure"));
            NC(text(nc, v_l, "standard_name", "air_pressure"));
        }
        NC(nc_def_var(nc, "latitude", NC_DOUBLE, 1, &d_y, &v_y));
        NC(text(nc, v_y, "units", "degrees_north"));
        NC(text(nc, v_y, "standard_name", "latitude"));
        NC(nc_def_var(nc, "longitude", NC_DOUBLE, 1, &d_x, &v_x));
        NC(text(nc, v_x, "units", "degrees_east"));
        NC(text(nc, v_x, "standard_name", "longitude"));
        NC(nc_def_var(nc, "expver", NC_STRING, 1, &d_t, &v_e));
        NC(text(nc, v_e, "long_name", "experiment version"));
        NC(nc_enddef(nc));
        NC(nc_put_var_longlong(nc, v_n, &zero));
        for (long i = 0; i < n; i++) {
            size_t at = (size_t)i;
            const char *e = "0001";
            NC(nc_put_var1_string(nc, v_e, &at, &e));
        }
        NC(nc_redef(nc));
    }
    for (int v = v0; v < v0 + nv; v++) {
        const char *name = v < 5 ? io_upper_names[v] : io_surface_names[v - 5];
        int dims4[4] = {d_t, d_l, d_y, d_x}, dims3[3] = {d_t, d_y, d_x};
        NC(nc_def_var(nc, name, legacy ? NC_SHORT : NC_FLOAT, pl ? 4 : 3, pl ? dims4 : dims3, &vars[v]));
        if (legacy) {
            short fill = -32767;
            NC(nc_put_att_double(nc, vars[v], "scale_factor", NC_DOUBLE, 1, &scale[v]));
            NC(nc_put_att_double(nc, vars[v], "add_offset", NC_DOUBLE, 1, &offset[v]));
            NC(nc_put_att_short(nc, vars[v], "_FillValue", NC_SHORT, 1, &fill));
            NC(nc_put_att_short(nc, vars[v], "missing_value", NC_SHORT, 1, &fill));
        } else {
            size_t chunk4[4] = {1, 1, (size_t)H, (size_t)W}, chunk3[3] = {1, (size_t)H, (size_t)W};
            NC(nc_def_var_chunking(nc, vars[v], NC_CHUNKED, pl ? chunk4 : chunk3));
            NC(nc_def_var_deflate(nc, vars[v], 1, 1, 1));
        }
        NC(text(nc, vars[v], "units", units[v]));
        NC(text(nc, vars[v], "long_name", long_names[v]));
        NC(text(nc, vars[v], "standard_name", std_names[v]));
    }
    NC(text(nc, NC_GLOBAL, "Conventions", "CF-1.6"));
    NC(text(nc, NC_GLOBAL, "title", "SYNTHETIC reanalysis in ERA5 layout (pangu synth): not observations"));
    NC(text(nc, NC_GLOBAL, "synthetic", "yes"));
    NC(text(nc, NC_GLOBAL, "history", "pangu synth: zonal-mean climate with seasons, Rossby-Haurwitz waves R=4 and R=6 "
                                       "at their analytic phase speeds, diurnal cycle, idealised continents"));
    NC(nc_enddef(nc));
    {
        double *lat = malloc(sizeof(double) * H), *lon = malloc(sizeof(double) * W);
        int rc = lat && lon ? NC_NOERR : NC_ENOMEM;
        for (int i = 0; lat && i < H; i++) lat[i] = H > 1 ? 90.0 - 180.0 * i / (H - 1) : 0;
        for (int i = 0; lon && i < W; i++) lon[i] = 360.0 * i / W;
        if (rc == NC_NOERR) rc = nc_put_var_double(nc, v_y, lat);
        if (rc == NC_NOERR) rc = nc_put_var_double(nc, v_x, lon);
        if (rc == NC_NOERR && pl) {
            double lev[64];
            for (int k = 0; k < L; k++) lev[k] = s->levels[k];
            rc = nc_put_var_double(nc, v_l, lev);
        }
        free(lat), free(lon);
        NC(rc);
    }
    for (long i = 0; i < n; i++) {
        size_t at = (size_t)i;
        if (legacy) {
            int hours = (int)lround((t[i] - IO_EPOCH_1900) / 3600.0);
            NC(nc_put_var1_int(nc, v_t, &at, &hours));
        } else {
            long long secs = (long long)llround(t[i]);
            NC(nc_put_var1_longlong(nc, v_t, &at, &secs));
        }
        synth_state(s, t[i], up, sf);
        for (int v = v0; v < v0 + nv; v++) {
            const float *x = v < 5 ? up + (size_t)v * L * HW : sf + (size_t)(v - 5) * HW;
            size_t cnt = v < 5 ? (size_t)L * HW : HW;
            size_t start[4] = {at, 0, 0, 0}, count4[4] = {1, (size_t)L, (size_t)H, (size_t)W}, count3[3] = {1, (size_t)H, (size_t)W};
            if (legacy) {
                for (size_t k = 0; k < cnt; k++) packed[k] = (short)lrint((x[k] - offset[v]) / scale[v]);
                NC(nc_put_vara_short(nc, vars[v], start, pl ? count4 : count3, packed));
            } else
                NC(nc_put_vara_float(nc, vars[v], start, pl ? count4 : count3, x));
        }
    }
    int closing = nc;
    nc = -1;
    NC(nc_close(closing));
    if (rename(tmp, path) != 0) status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place", path);
done:
    if (nc >= 0) nc_close(nc);
    if (status) unlink(tmp);
    free(packed);
    return status;
}

static int write_invariant(const synth_spec *s, const char *path) {
    int status = UTIL_OK, nc = -1, d_t, d_y, d_x, v_t, v_y, v_x, vars[3];
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    size_t HW = (size_t)s->H * s->W;
    float *c = malloc(sizeof(float) * 3 * HW);
    double *lat = malloc(sizeof(double) * s->H), *lon = malloc(sizeof(double) * s->W);
    if (!c || !lat || !lon) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    synth_constants(s, c);
    for (size_t i = 0; i < HW; i++) c[2 * HW + i] *= (float)G0; /* orography to surface geopotential */
    NC(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc));
    NC(nc_def_dim(nc, "time", 1, &d_t));
    NC(nc_def_dim(nc, "latitude", (size_t)s->H, &d_y));
    NC(nc_def_dim(nc, "longitude", (size_t)s->W, &d_x));
    NC(nc_def_var(nc, "time", NC_INT, 1, &d_t, &v_t));
    NC(text(nc, v_t, "units", "hours since 1900-01-01 00:00:00.0"));
    NC(nc_def_var(nc, "latitude", NC_DOUBLE, 1, &d_y, &v_y));
    NC(text(nc, v_y, "units", "degrees_north"));
    NC(nc_def_var(nc, "longitude", NC_DOUBLE, 1, &d_x, &v_x));
    NC(text(nc, v_x, "units", "degrees_east"));
    static const char *const names[3] = {"lsm", "slt", "z"}, *const ln[3] = {"Land-sea mask", "Soil type", "Geopotential"};
    static const char *const un[3] = {"(0 - 1)", "~", "m**2 s**-2"};
    int dims[3] = {d_t, d_y, d_x};
    for (int k = 0; k < 3; k++) {
        NC(nc_def_var(nc, names[k], NC_FLOAT, 3, dims, &vars[k]));
        NC(text(nc, vars[k], "long_name", ln[k]));
        NC(text(nc, vars[k], "units", un[k]));
    }
    NC(text(nc, NC_GLOBAL, "title", "SYNTHETIC ERA5 invariants (pangu synth): not observations"));
    NC(text(nc, NC_GLOBAL, "synthetic", "yes"));
    NC(nc_enddef(nc));
    int zero = 0;
    for (int i = 0; i < s->H; i++) lat[i] = s->H > 1 ? 90.0 - 180.0 * i / (s->H - 1) : 0;
    for (int i = 0; i < s->W; i++) lon[i] = 360.0 * i / s->W;
    NC(nc_put_var_int(nc, v_t, &zero));
    NC(nc_put_var_double(nc, v_y, lat));
    NC(nc_put_var_double(nc, v_x, lon));
    for (int k = 0; k < 3; k++) NC(nc_put_var_float(nc, vars[k], c + k * HW));
    int closing = nc;
    nc = -1;
    NC(nc_close(closing));
    if (rename(tmp, path) != 0) status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place", path);
done:
    if (nc >= 0) nc_close(nc);
    if (status) unlink(tmp);
    free(c), free(lat), free(lon);
    return status;
}

int synth_write(const synth_spec *s, const char *dir, const char *format, double start, long hours, int step_hours) {
    int legacy = !strcmp(format, "legacy"), status = UTIL_OK;
    char path[4096];
    if (!legacy && strcmp(format, "cds2024") != 0)
        return util_fail(UTIL_EINVAL, "format '%s': expected legacy or cds2024", format);
    if (hours < 1 || step_hours < 1) return util_fail(UTIL_EINVAL, "hours and step must be positive");
    if (access(dir, W_OK) != 0) return util_fail(UTIL_EIO, "%s: directory missing or not writable", dir);
    size_t HW = (size_t)s->H * s->W;
    long n = hours / step_hours + 1;
    if (s->W > 4096) return util_fail(UTIL_EINVAL, "synth: at most 4096 longitudes");
    synth_spec prepared = *s;
    prepared.constants = malloc(sizeof(float) * 3 * HW);
    if (!prepared.constants) return util_fail(UTIL_ENOMEM, "out of memory");
    synth_constants(s, prepared.constants);
    s = &prepared;
    double *t = malloc(sizeof(double) * n);
    float *up = malloc(sizeof(float) * 5 * s->nlev * HW), *sf = malloc(sizeof(float) * 4 * HW);
    if (!t || !up || !sf) {
        free(t), free(up), free(sf);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    snprintf(path, sizeof path, "%s/invariant.nc", dir);
    if ((status = write_invariant(s, path))) goto done;
    double t0 = util_now();
    long first = 0, files = 0;
    while (first < n && !status) {
        int y, mo, d, h, mi, sec, y2, mo2;
        util_time_fields(start + first * step_hours * 3600.0, &y, &mo, &d, &h, &mi, &sec);
        long last = first;
        while (last < n) {
            util_time_fields(start + last * step_hours * 3600.0, &y2, &mo2, &d, &h, &mi, &sec);
            if (y2 != y || mo2 != mo) break;
            t[last - first] = start + last * step_hours * 3600.0;
            last++;
        }
        for (int pl = 1; pl >= 0 && !status; pl--) {
            snprintf(path, sizeof path, "%s/era5_%s_%04d%02d.nc", dir, pl ? "pl" : "sfc", y, mo);
            status = write_file(s, path, pl, legacy, t, last - first, up, sf);
            files++;
        }
        fprintf(stderr, "\rpangu synth: %04d-%02d written, %ld files, %.0f times/s   ", y, mo, files,
                last / (util_now() - t0));
        first = last;
    }
    fprintf(stderr, "\n");
done:
    free(t), free(up), free(sf);
    free(prepared.constants);
    return status;
}
