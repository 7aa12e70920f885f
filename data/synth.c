/* synth: synthetic ERA5-like reanalysis and numerical forecasts (see synth.h). */
#define _DEFAULT_SOURCE
#include "synth.h"

#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../io/io.h"
#include "../io/ncw.h"
#include "../util/util.h"

#define RD 287.05         /* dry air gas constant */
#define G0 9.80665
#define OMEGA 7.292e-5    /* Earth's rotation */
#define RADIUS 6.371e6
#define T2000 946684800.0 /* 2000-01-01 in seconds since 1970: origin of the waves' phases and the seasons */
#define NWAVE 2

/* The equatorial column every latitude is balanced against: T = T0 (p / 1000 hPa)^KAPPA (about 6 K/km, a
 * moist tropical lapse rate) up to the tropopause at T_TP (near 90 hPa), warming by GAMMA_S per unit of
 * ln p above; PHI0 the 1000 hPa geopotential there (msl near 1012 hPa). */
#define T0 300.0
#define KAPPA 0.18
#define T_TP 195.0
#define GAMMA_S 12.0
#define PHI0 1100.0
#define X_JET 1.5141  /* ln(1000 / 220): the jets' core */
#define X_WAVE 1.3863 /* ln(1000 / 250): where the waves are largest */

/* Model error of the synthetic numerical forecast (synth.h). */
#define NWP_STEER 0.90
#define NWP_DAMP_DAYS 15.0
#define NWP_DRIFT_K_PER_DAY (-0.05)

static const int wave_R[NWAVE] = {4, 6};
static const double wave_K[NWAVE] = {2.2e-6, 1.1e-6}, wave_phase0[NWAVE] = {0.3, 1.9};

static double deg(double x) { return x * M_PI / 180.0; }
static double sq(double x) { return x * x; }

/* ---- the zonal-mean climate ---- */

static double x_tp(void) { return log(T0 / T_TP) / KAPPA; }

/* Equatorial temperature and geopotential at x = ln(1000 hPa / p): the second the hypsometric integral of
 * the first, in closed form. */
static double t_eq(double x) { return x < x_tp() ? T0 * exp(-KAPPA * x) : T_TP + GAMMA_S * (x - x_tp()); }
static double phi_eq(double x) {
    double xt = x_tp(), d = x - xt;
    if (x < xt) return PHI0 + RD * T0 * (1 - exp(-KAPPA * x)) / KAPPA;
    return PHI0 + RD * (T0 - T_TP) / KAPPA + RD * (T_TP * d + 0.5 * GAMMA_S * d * d);
}

/* Per hemisphere ([0] north, [1] south) for the season. */
typedef struct {
    double jet_lat[2], jet_u[2], front_u[2], strat_u[2], west_lat[2], west_u[2], trade_u[2];
} climate;

/* Season of a time: +1 in northern mid-winter (January 20), -1 in northern mid-summer; continuous in time. */
static double season_of(double time) { return cos(2 * M_PI * ((time - T2000) / 86400.0 - 19.0) / 365.2425); }

static void climate_of(double season, climate *c) {
    for (int h = 0; h < 2; h++) {
        double winter = h == 0 ? 0.5 * (1 + season) : 0.5 * (1 - season);
        c->jet_lat[h] = 44.0 - 12.0 * winter; /* subtropical jet in winter, eddy-driven latitude in summer */
        c->jet_u[h] = h == 0 ? 22.0 + 16.0 * winter : 26.0 + 12.0 * winter;
        c->front_u[h] = 10.0 * winter;        /* polar-front westerlies near 60 degrees in winter */
        c->strat_u[h] = 26.0 * winter - 10.0; /* polar-night westerlies in winter, easterlies in summer */
        c->west_lat[h] = h == 0 ? 47.0 : 50.0; /* eddy-driven surface westerlies, stronger in the south */
        c->west_u[h] = h == 0 ? 5.5 + 2.0 * winter : 8.0 + 1.0 * winter;
        c->trade_u[h] = 4.5 + 2.0 * winter;
    }
}

/* One hemisphere's zonal-mean zonal wind (m s-1) at a = |latitude| (degrees) and x = ln(1000 hPa / p). */
static double u_hemi(const climate *c, int h, double a, double x) {
    double r = x / X_JET, s = c->strat_u[h];
    double shape = r <= 1 ? sin(0.5 * M_PI * r) : exp(-sq((x - X_JET) / 1.1)); /* sheared below the core */
    double u = (c->jet_u[h] * exp(-sq((a - c->jet_lat[h]) / 13.0)) + c->front_u[h] * exp(-sq((a - 60.0) / 12.0))) * shape;
    u += c->west_u[h] * exp(-sq((a - c->west_lat[h]) / 11.0));              /* from the surface up */
    u -= c->trade_u[h] * exp(-sq((a - 13.0) / 12.0)) * (1 - 0.3 * tanh(x / 1.2)); /* weaker aloft */
    u -= 3.0 * exp(-sq((a - 74.0) / 8.0)) * (1 - 0.5 * tanh(x));             /* polar easterlies */
    u -= 7.0 * exp(-sq(a / 16.0)) * exp(-sq((x - 2.1) / 0.55));              /* tropical upper-tropospheric easterlies */
    /* stratospheric, zero when it changes sign */
    return u + s * exp(-sq((a - (s > 0 ? 62.0 : 40.0)) / (s > 0 ? 12.0 : 20.0))) / (1 + exp(-(x - 2.3) / 0.35));
}

/* The zonal-mean zonal wind at latitude lat (degrees): the hemispheres' blended smoothly across the equator,
 * zero at the poles; smooth in x, so the temperature balanced with it is continuous. */
static double u_mean(const climate *c, double lat, double x) {
    double b = fmin(fmax((lat + 6.0) / 12.0, 0.0), 1.0), north = b * b * (3 - 2 * b), u = 0;
    if (north > 0) u += north * u_hemi(c, 0, fabs(lat), x);
    if (north < 1) u += (1 - north) * u_hemi(c, 1, fabs(lat), x);
    return u * (1 - exp(-sq(cos(deg(lat)) / 0.12)));
}

/* Gradient-wind balance, (1/a) dPhi/dphi = -(f u + u^2 tan(phi) / a): the integrand a f u + u^2 tan(phi)
 * and its derivative in x (the temperature's, T = (1/Rd) dPhi/dx). */
static void balance(const climate *c, double phi, double x, double *g, double *gx) {
    const double h = 1e-4;
    double lat = phi * 180.0 / M_PI, u = u_mean(c, lat, x);
    double ux = (u_mean(c, lat, x + h) - u_mean(c, lat, x - h)) / (2 * h);
    double af = RADIUS * 2 * OMEGA * sin(phi), t = tan(phi);
    *g = af * u + u * u * t, *gx = (af + 2 * u * t) * ux;
}

/* Zonal means at level x on latitudes lat[0..H) (degrees, north to south): the wind, the geopotential
 * Phi = Phi_eq(x) - I(phi) with I the balance integral from the equator, and the temperature
 * T_eq(x) - (dI/dx) / Rd. I is accumulated outward from the equator by 8-point Gauss-Legendre on pieces of
 * at most 2 degrees: accurate to rounding for these smooth winds, so a row's values do not depend on the
 * grid, and a level's not on the other levels. */
static void zonal_means(const climate *c, double x, const double *lat, int H, double *zm, double *tm, double *um) {
    static const double node[4] = {0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363};
    static const double weight[4] = {0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};
    double teq = t_eq(x), peq = phi_eq(x);
    for (int north = 1; north >= 0; north--) {
        double prev = 0, I = 0, Ix = 0;
        for (int n = 0; n < H; n++) {
            int i = north ? H - 1 - n : n; /* from the equator outward */
            if (north != (lat[i] >= 0)) continue;
            int pieces = (int)ceil(fabs(lat[i] - prev) / 2.0);
            for (int k = 0; k < pieces; k++) {
                double a = prev + (lat[i] - prev) * k / pieces, b = prev + (lat[i] - prev) * (k + 1) / pieces;
                double mid = 0.5 * deg(a + b), half = 0.5 * deg(b - a);
                for (int q = 0; q < 8; q++) {
                    double g, gx, wq = half * weight[q / 2];
                    balance(c, mid + (q % 2 ? half : -half) * node[q / 2], x, &g, &gx);
                    I += wq * g, Ix += wq * gx;
                }
            }
            prev = lat[i];
            zm[i] = peq - I, tm[i] = teq - Ix / RD, um[i] = u_mean(c, lat[i], x);
        }
    }
}

/* Relative humidity: moist boundary layer, dry subtropics, drying with height and above a tropopause that
 * falls from 110 hPa at the equator to 330 hPa at the poles. */
static double rh_mean(double lat, double x) {
    double s = sin(deg(lat)), x_trop = 2.2 - 1.1 * s * s;
    return (0.82 - 0.22 * exp(-sq((fabs(lat) - 25.0) / 10.0))) * (0.3 + 0.7 * exp(-2 * x)) / (1 + exp((x - x_trop) / 0.15));
}

/* Saturation specific humidity (kg/kg) at t (K) and p (Pa), Bolton's vapour pressure over water. */
static double q_sat(double t, double p) {
    double e = fmin(611.2 * exp(17.67 * (t - 273.15) / (t - 29.65)), 0.5 * p);
    return 0.622 * e / (p - 0.378 * e);
}

/* ---- the waves ---- */

/* Vertical structure: 0.35 at 1000 hPa, largest (1) at 250 hPa, slowly weaker above; and its x-derivative
 * (the temperature's: T' = (1/Rd) A'(x) Phi'). */
static double wave_amp(double x) { return 0.35 + 0.65 * (x / X_WAVE) * exp(1 - x / X_WAVE); }
static double wave_amp_x(double x) { return 0.65 / X_WAVE * exp(1 - x / X_WAVE) * (1 - x / X_WAVE); }

/* Rossby-Haurwitz angular velocity of wavenumber R in a flow rotating with omega (Haurwitz 1940). */
static double rh_nu(int R, double omega) { return (R * (3.0 + R) * omega - 2.0 * OMEGA) / ((1.0 + R) * (2.0 + R)); }

typedef struct {
    double omega[NWAVE]; /* the steering rotation of each wave */
    double nu[NWAVE];    /* its angular velocity */
} dynamics;

/* A wave's steering rotation: the mean angular velocity u / (a cos(phi)) of the annual-mean zonal flow,
 * weighted by the wave's enstrophy (cos^2R sin^2) and by mass, the first-order (Rayleigh-quotient) estimate
 * of the advection term of the vorticity equation, exact when the flow is a solid-body rotation. The wave
 * moves at the Rossby-Haurwitz angular velocity in that rotation: both waves retrogress, as long Rossby
 * waves do in the real atmosphere's weak mean rotation. Constant, so the phases are analytic in time. */
static void dynamics_of(dynamics *d) {
    climate c;
    climate_of(0, &c);
    for (int w = 0; w < NWAVE; w++) {
        int R = wave_R[w];
        double num = 0, den = 0;
        for (int k = 0; k < 20; k++) { /* 47.5 hPa layers from 1000 hPa up */
            double x = log(1000.0 / (1000.0 - 47.5 * (k + 0.5))), a2 = sq(wave_amp(x));
            for (int i = 0; i < 90; i++) {
                double lat = -89.0 + 2.0 * i, cp = cos(deg(lat)), sp = sin(deg(lat)), wgt = a2 * pow(cp, 2 * R + 1) * sp * sp;
                num += wgt * u_mean(&c, lat, x) / (RADIUS * cp), den += wgt;
            }
        }
        d->omega[w] = num / den, d->nu[w] = rh_nu(R, d->omega[w]);
    }
}

typedef struct {
    double phase[NWAVE]; /* theta = R lambda + phase */
    double amp;          /* amplitude factor: 1 in the truth */
    double dtemp;        /* temperature offset (K), z hypsometric with it: 0 in the truth */
} wave_state;

static void truth_waves(const dynamics *d, double time, wave_state *ws) {
    for (int w = 0; w < NWAVE; w++) ws->phase[w] = wave_phase0[w] - wave_R[w] * d->nu[w] * (time - T2000);
    ws->amp = 1, ws->dtemp = 0;
}

/* The forecast's waves: the truth's at init, then moving at the speed of a steering rotation NWP_STEER
 * times the truth's, damped, and a drift. */
static void forecast_waves(const dynamics *d, double init, double time, wave_state *ws) {
    double lead = time - init;
    truth_waves(d, init, ws);
    for (int w = 0; w < NWAVE; w++) ws->phase[w] -= wave_R[w] * rh_nu(wave_R[w], NWP_STEER * d->omega[w]) * lead;
    ws->amp = exp(-lead / (NWP_DAMP_DAYS * 86400.0)), ws->dtemp = NWP_DRIFT_K_PER_DAY * lead / 86400.0;
}

/* ---- states ---- */

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

/* The state at `time` (seconds since 1970) with the waves `ws`: upper (5, L, H, W) z q t u v, surface
 * (4, H, W) msl u10 v10 t2m, on latitudes 90..-90 and longitudes 0..360-360/W. Levels are evaluated one by
 * one (plus 1000 hPa for the surface fields), so none depends on which others are requested. */
static int state_with(const synth_spec *s, const dynamics *d, double time, const wave_state *ws, float *upper,
                      float *surface) {
    int H = s->H, W = s->W, L = s->nlev, K = L + 1, status = UTIL_OK; /* level L: 1000 hPa, for the surface */
    size_t HW = (size_t)H * W;
    if (W > 4096 || L > 64 || H < 1) return util_fail(UTIL_EINVAL, "synth: grid %d x %d with %d levels", H, W, L);
    float *own = NULL;
    const float *consts = s->constants;
    double *lat = malloc(sizeof(double) * H), *zm = malloc(sizeof(double) * K * H), *tm = malloc(sizeof(double) * K * H),
           *um = malloc(sizeof(double) * K * H), *trig = malloc(sizeof(double) * (2 * NWAVE + 1) * W),
           *row = malloc(sizeof(double) * 3 * W);
    if (!consts) {
        own = malloc(sizeof(float) * 3 * HW);
        if (own) synth_constants(s, own);
        consts = own;
    }
    if (!lat || !zm || !tm || !um || !trig || !row || !consts) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    double x[65], p[65], amp[65], amp_x[65], bl[65], bl_z[65];
    for (int k = 0; k < K; k++) {
        p[k] = k < L ? s->levels[k] : 1000.0, x[k] = log(1000.0 / p[k]);
        amp[k] = wave_amp(x[k]) * ws->amp, amp_x[k] = wave_amp_x(x[k]) * ws->amp;
        /* the diurnal cycle in the boundary layer (0.8 K at 1000 hPa), and its hypsometric effect aloft */
        bl[k] = 0.8 * exp(-x[k] / 0.08), bl_z[k] = RD * 0.8 * 0.08 * (1 - exp(-x[k] / 0.08));
    }
    for (int i = 0; i < H; i++) lat[i] = H > 1 ? 90.0 - 180.0 * i / (H - 1) : 0;
    climate c;
    climate_of(season_of(time), &c);
    for (int k = 0; k < K; k++) zonal_means(&c, x[k], lat, H, zm + (size_t)k * H, tm + (size_t)k * H, um + (size_t)k * H);
    double *cth = trig, *sth = trig + NWAVE * W, *diurnal = trig + 2 * NWAVE * W;
    double day_frac = fmod(time, 86400.0) / 86400.0;
    for (int j = 0; j < W; j++) {
        double lam = 2 * M_PI * j / W;
        for (int w = 0; w < NWAVE; w++) {
            double th = wave_R[w] * lam + ws->phase[w];
            cth[w * W + j] = cos(th), sth[w * W + j] = sin(th);
        }
        diurnal[j] = cos(2 * M_PI * (day_frac + lam / (2 * M_PI) - 14.0 / 24.0)); /* warmest at 14 local solar time */
    }
    util_rng rng;
    util_rng_seed(&rng, s->seed ^ (unsigned long long)(time / 60.0));
    for (int i = 0; i < H; i++) {
        double phi = deg(lat[i]), cp = cos(phi), sp = sin(phi), hemi = lat[i] >= 0 ? 1 : -1;
        if (cp < 1e-9) cp = 0;
        /* Rossby-Haurwitz winds from the streamfunction a^2 K cos^R sin cos(theta), and the geopotential
         * balanced with them in the steering rotation (Williamson et al. 1992, case 6, first order in K) */
        double U[NWAVE], V[NWAVE], Z[NWAVE], rh[65];
        for (int w = 0; w < NWAVE; w++) {
            int R = wave_R[w];
            double cR1 = pow(cp, R - 1), k = wave_K[w];
            U[w] = RADIUS * k * cR1 * (R * sp * sp - cp * cp);
            V[w] = -RADIUS * k * R * cR1 * sp;
            Z[w] = RADIUS * RADIUS * 2 * (OMEGA + d->omega[w]) * k / ((R + 1.0) * (R + 2.0)) * cR1 * cp *
                   ((R * R + 2.0 * R + 2.0) - (R + 1.0) * (R + 1.0) * cp * cp);
        }
        for (int k = 0; k < L; k++) rh[k] = rh_mean(lat[i], x[k]);
        double q_strat = 2.0e-6 + 1.5e-6 * sp * sp; /* stratospheric water vapour, moister toward the poles */
        double *up = row, *vp = row + W, *zp = row + 2 * W;
        for (int j = 0; j < W; j++) {
            up[j] = vp[j] = zp[j] = 0;
            for (int w = 0; w < NWAVE; w++)
                up[j] += U[w] * cth[w * W + j], vp[j] += V[w] * sth[w * W + j], zp[j] += Z[w] * cth[w * W + j];
        }
        for (int k = 0; k < L; k++) {
            size_t m = (size_t)k * H + i;
            float *z = upper + ((size_t)0 * L + k) * HW + (size_t)i * W, *q = upper + ((size_t)1 * L + k) * HW + (size_t)i * W;
            float *t = upper + ((size_t)2 * L + k) * HW + (size_t)i * W, *u = upper + ((size_t)3 * L + k) * HW + (size_t)i * W;
            float *v = upper + ((size_t)4 * L + k) * HW + (size_t)i * W;
            double zd = zm[m] + RD * ws->dtemp * x[k], td = tm[m] + ws->dtemp;
            for (int j = 0; j < W; j++) {
                double tt = td + amp_x[k] * zp[j] / RD + bl[k] * diurnal[j], vv = amp[k] * vp[j];
                double moist = fmin(1.0, rh[k] * (1 + 0.15 * hemi * vv / (8.0 + fabs(vv)))); /* moister in poleward flow */
                z[j] = (float)(zd + amp[k] * zp[j] + bl_z[k] * diurnal[j]);
                q[j] = (float)(moist * q_sat(tt, 100.0 * p[k]) + q_strat);
                t[j] = (float)tt;
                u[j] = (float)(um[m] + amp[k] * up[j]);
                v[j] = (float)vv;
            }
        }
        /* surface fields from 1000 hPa: msl hypsometric below it, 10 m winds slowed and turned toward low
         * pressure by friction, t2m with the land's larger diurnal cycle and a 6.5 K/km lapse rate */
        size_t m = (size_t)L * H + i;
        double turn = deg(20.0) * tanh(lat[i] / 5.0), ct = cos(turn), st = sin(turn);
        for (int j = 0; j < W; j++) {
            size_t at = (size_t)i * W + j;
            double dn = diurnal[j], z0 = zm[m] + amp[L] * zp[j], t0 = tm[m] + amp_x[L] * zp[j] / RD + bl[L] * dn + ws->dtemp;
            double u0 = um[m] + amp[L] * up[j], v0 = amp[L] * vp[j], lsm = consts[at], oro = consts[2 * HW + at];
            surface[0 * HW + at] = (float)(100000.0 * exp(z0 / (RD * (t0 + 0.0065 * z0 / (2 * G0)))));
            surface[1 * HW + at] = (float)(0.7 * (u0 * ct - v0 * st));
            surface[2 * HW + at] = (float)(0.7 * (u0 * st + v0 * ct));
            surface[3 * HW + at] = (float)(t0 - bl[L] * dn + 1.0 + (1.0 + 3.0 * lsm) * dn - 0.0065 * oro);
            if (s->noise > 0)
                for (int n = 0; n < 4; n++) surface[n * HW + at] += (float)(s->noise * (n == 0 ? 50 : 1) * util_rng_normal(&rng));
        }
    }
done:
    free(own), free(lat), free(zm), free(tm), free(um), free(trig), free(row);
    return status;
}

/* ---- files ---- */

static const char *const long_names[9] = {"Geopotential", "Specific humidity", "Temperature", "U component of wind",
                                          "V component of wind", "Mean sea level pressure", "10 metre U wind component",
                                          "10 metre V wind component", "2 metre temperature"};
static const char *const std_names[9] = {"geopotential", "specific_humidity", "air_temperature", "eastward_wind",
                                         "northward_wind", "air_pressure_at_mean_sea_level", "eastward_wind",
                                         "northward_wind", "air_temperature"};
static const char *const units[9] = {"m**2 s**-2", "kg kg**-1", "K", "m s**-1", "m s**-1", "Pa", "m s**-1", "m s**-1", "K"};

/* What a file holds: the truth, or the numerical forecast from init. */
typedef struct {
    const synth_spec *s;
    dynamics d;
    int forecast;
    double init;
} source;

static int produce(const source *src, double t, float *up, float *sf) {
    wave_state ws;
    if (src->forecast) forecast_waves(&src->d, src->init, t, &ws);
    else truth_waves(&src->d, t, &ws);
    return state_with(src->s, &src->d, t, &ws, up, sf);
}

#define NC(call) NCW_CHECK(call, "%s: cannot write", path)

/* One file being written: which variables it holds, its layout and, for the legacy format, the packing. */
typedef struct {
    const source *src;
    const char *path;
    int legacy, pl, H, W, L;
    size_t HW;
    int in[9];
    double scale[9], offset[9];
    int d_t, d_l, d_y, d_x, v_t, v_l, v_y, v_x, v_frt, vars_id[9];
} synth_file;

/* Variable v of the fields just produced, and its number of values. */
static const float *field_of(const synth_file *f, int v, const float *up, const float *sf, size_t *cnt) {
    *cnt = v < 5 ? (size_t)f->L * f->HW : f->HW;
    return v < 5 ? up + (size_t)v * f->L * f->HW : sf + (size_t)(v - 5) * f->HW;
}

/* Legacy files pack to shorts, which needs each variable's range over the whole file: a first pass. */
static int packing_ranges(synth_file *f, const double *t, long n, float *up, float *sf) {
    int status = UTIL_OK;
    double lo[9], hi[9];
    for (int v = 0; v < 9; v++) lo[v] = INFINITY, hi[v] = -INFINITY;
    for (long i = 0; i < n; i++) {
        if ((status = produce(f->src, t[i], up, sf))) return status;
        for (int v = 0; v < 9; v++) {
            if (!f->in[v]) continue;
            size_t cnt;
            const float *x = field_of(f, v, up, sf, &cnt);
            for (size_t k = 0; k < cnt; k++) lo[v] = fmin(lo[v], x[k]), hi[v] = fmax(hi[v], x[k]);
        }
    }
    for (int v = 0; v < 9; v++) {
        f->scale[v] = (hi[v] - lo[v]) / 65532.0;
        if (!(f->scale[v] > 0)) f->scale[v] = 1;
        f->offset[v] = (hi[v] + lo[v]) / 2;
    }
    return status;
}

/* Dimensions and coordinate variables, named and typed as the CDS writes each format. */
static int define_coordinates(synth_file *f, int nc, long n) {
    const char *path = f->path;
    int status = UTIL_OK, legacy = f->legacy, pl = f->pl;
    NC(nc_def_dim(nc, legacy ? "time" : "valid_time", legacy ? NC_UNLIMITED : (size_t)n, &f->d_t));
    if (pl) NC(nc_def_dim(nc, legacy ? "level" : "pressure_level", (size_t)f->L, &f->d_l));
    NC(nc_def_dim(nc, "latitude", (size_t)f->H, &f->d_y));
    NC(nc_def_dim(nc, "longitude", (size_t)f->W, &f->d_x));
    if (f->src->forecast) { /* the initial time, as the CDS writes it for forecasts */
        NC(ncw_def(nc, "forecast_reference_time", legacy ? NC_INT : NC_INT64, 0, NULL, &f->v_frt, "long_name",
                   "initial time of forecast", "standard_name", "forecast_reference_time", "units",
                   legacy ? "hours since 1900-01-01 00:00:00.0" : "seconds since 1970-01-01", "calendar",
                   legacy ? "gregorian" : "proleptic_gregorian", NULL));
    }
    if (legacy) {
        NC(ncw_def(nc, "longitude", NC_FLOAT, 1, &f->d_x, &f->v_x, "units", "degrees_east", "long_name", "longitude",
                   NULL));
        NC(ncw_def(nc, "latitude", NC_FLOAT, 1, &f->d_y, &f->v_y, "units", "degrees_north", "long_name", "latitude",
                   NULL));
        if (pl) {
            NC(ncw_def(nc, "level", NC_INT, 1, &f->d_l, &f->v_l, "units", "millibars", "long_name", "pressure_level",
                       NULL));
        }
        NC(ncw_def(nc, "time", NC_INT, 1, &f->d_t, &f->v_t, "units", "hours since 1900-01-01 00:00:00.0", "long_name",
                   "time", "calendar", "gregorian", NULL));
    } else {
        long long zero = 0;
        int v_n, v_e;
        NC(ncw_def(nc, "number", NC_INT64, 0, NULL, &v_n, "long_name", "ensemble member numerical id", NULL));
        NC(ncw_def(nc, "valid_time", NC_INT64, 1, &f->d_t, &f->v_t, "long_name", "time", "standard_name", "time",
                   "units", "seconds since 1970-01-01", "calendar", "proleptic_gregorian", NULL));
        if (pl) {
            NC(ncw_def(nc, "pressure_level", NC_DOUBLE, 1, &f->d_l, &f->v_l, "units", "hPa", "long_name", "pressure",
                       "standard_name", "air_pressure", NULL));
        }
        NC(ncw_def(nc, "latitude", NC_DOUBLE, 1, &f->d_y, &f->v_y, "units", "degrees_north", "standard_name",
                   "latitude", NULL));
        NC(ncw_def(nc, "longitude", NC_DOUBLE, 1, &f->d_x, &f->v_x, "units", "degrees_east", "standard_name",
                   "longitude", NULL));
        NC(ncw_def(nc, "expver", NC_STRING, 1, &f->d_t, &v_e, "long_name", "experiment version", NULL));
        /* NC_STRING values go in data mode; then back to define mode for the fields */
        NC(nc_enddef(nc));
        NC(nc_put_var_longlong(nc, v_n, &zero));
        for (long i = 0; i < n; i++) {
            size_t at = (size_t)i;
            const char *e = "0001";
            NC(nc_put_var1_string(nc, v_e, &at, &e));
        }
        NC(nc_redef(nc));
    }
done:
    return status;
}

/* The fields: packed shorts in the legacy format, chunked and deflated floats in the 2024 one. */
static int define_fields(synth_file *f, int nc) {
    const char *path = f->path;
    int status = UTIL_OK;
    for (int v = 0; v < 9; v++) {
        if (!f->in[v]) continue;
        const char *name = v < 5 ? io_upper_names[v] : io_surface_names[v - 5];
        int dims4[4] = {f->d_t, f->d_l, f->d_y, f->d_x}, dims3[3] = {f->d_t, f->d_y, f->d_x};
        NC(nc_def_var(nc, name, f->legacy ? NC_SHORT : NC_FLOAT, v < 5 ? 4 : 3, v < 5 ? dims4 : dims3,
                      &f->vars_id[v]));
        if (f->legacy) {
            short fill = -32767;
            NC(nc_put_att_double(nc, f->vars_id[v], "scale_factor", NC_DOUBLE, 1, &f->scale[v]));
            NC(nc_put_att_double(nc, f->vars_id[v], "add_offset", NC_DOUBLE, 1, &f->offset[v]));
            NC(nc_put_att_short(nc, f->vars_id[v], "_FillValue", NC_SHORT, 1, &fill));
            NC(nc_put_att_short(nc, f->vars_id[v], "missing_value", NC_SHORT, 1, &fill));
        } else {
            size_t chunk4[4] = {1, 1, (size_t)f->H, (size_t)f->W}, chunk3[3] = {1, (size_t)f->H, (size_t)f->W};
            NC(nc_def_var_chunking(nc, f->vars_id[v], NC_CHUNKED, v < 5 ? chunk4 : chunk3));
            NC(nc_def_var_deflate(nc, f->vars_id[v], 1, 1, 1));
        }
        NC(ncw_texts(nc, f->vars_id[v], "units", units[v], "long_name", long_names[v], "standard_name", std_names[v],
                     NULL));
    }
done:
    return status;
}

/* Global attributes that say loudly the data are synthetic, and how they were made. */
static int put_global_attributes(const synth_file *f, int nc) {
    const char *path = f->path;
    const source *src = f->src;
    int status = UTIL_OK;
    NC(ncw_texts(nc, NC_GLOBAL, "Conventions", "CF-1.6", "synthetic", "yes", NULL));
    if (src->forecast) {
        char init[64], hist[512];
        util_time_format(src->init, init, sizeof init);
        snprintf(hist, sizeof hist,
                 "pangu synth --forecast-from: the synthetic truth at %s evolved by its own dynamics with model error: "
                 "wave phase speeds of a steering rotation %.0f%% too weak, waves damped with a %.0f-day e-folding time, "
                 "a temperature drift of %+.2f K per day (z hypsometric with it)",
                 init, 100 * (1 - NWP_STEER), NWP_DAMP_DAYS, NWP_DRIFT_K_PER_DAY);
        NC(ncw_texts(nc, NC_GLOBAL, "title",
                     "SYNTHETIC numerical forecast in ERA5 layout (pangu synth): not a real forecast", "init_time",
                     init, "history", hist, NULL));
    } else {
        NC(ncw_text(nc, NC_GLOBAL, "title", "SYNTHETIC reanalysis in ERA5 layout (pangu synth): not observations"));
        NC(ncw_text(
            nc, NC_GLOBAL, "history",
            "pangu synth: zonal-mean climate with seasons (jets, trades, geopotential in gradient-wind balance, "
            "temperature hypsometric), Rossby-Haurwitz waves R=4 and R=6 at their analytic phase speeds in their "
            "steering flow, diurnal cycle, idealised continents"));
    }
done:
    return status;
}

/* Coordinate values (data mode): the regular grid, the levels, the initial time of a forecast. */
static int put_coordinates(const synth_file *f, int nc) {
    const char *path = f->path;
    const source *src = f->src;
    int status = UTIL_OK, H = f->H, W = f->W;
    double *lat = malloc(sizeof(double) * H), *lon = malloc(sizeof(double) * W);
    int rc = lat && lon ? NC_NOERR : NC_ENOMEM;
    for (int i = 0; lat && i < H; i++) lat[i] = H > 1 ? 90.0 - 180.0 * i / (H - 1) : 0;
    for (int i = 0; lon && i < W; i++) lon[i] = 360.0 * i / W;
    if (rc == NC_NOERR) rc = nc_put_var_double(nc, f->v_y, lat);
    if (rc == NC_NOERR) rc = nc_put_var_double(nc, f->v_x, lon);
    if (rc == NC_NOERR && f->pl) {
        double lev[64];
        for (int k = 0; k < f->L; k++) lev[k] = src->s->levels[k];
        rc = nc_put_var_double(nc, f->v_l, lev);
    }
    NC(rc);
    if (src->forecast) {
        if (f->legacy) {
            int hours = (int)lround((src->init - IO_EPOCH_1900) / 3600.0);
            NC(nc_put_var_int(nc, f->v_frt, &hours));
        } else {
            long long secs = (long long)llround(src->init);
            NC(nc_put_var_longlong(nc, f->v_frt, &secs));
        }
    }
done:
    free(lat), free(lon);
    return status;
}

/* Time i and its fields, produced afresh (packed into `packed` for the legacy format). */
static int put_time(const synth_file *f, int nc, long i, double t, float *up, float *sf, short *packed) {
    const char *path = f->path;
    int status = UTIL_OK, H = f->H, W = f->W, L = f->L;
    size_t at = (size_t)i;
    if (f->legacy) {
        int hours = (int)lround((t - IO_EPOCH_1900) / 3600.0);
        NC(nc_put_var1_int(nc, f->v_t, &at, &hours));
    } else {
        long long secs = (long long)llround(t);
        NC(nc_put_var1_longlong(nc, f->v_t, &at, &secs));
    }
    if ((status = produce(f->src, t, up, sf))) goto done;
    for (int v = 0; v < 9; v++) {
        if (!f->in[v]) continue;
        size_t cnt;
        const float *x = field_of(f, v, up, sf, &cnt);
        size_t start4[4] = {at, 0, 0, 0}, count4[4] = {1, (size_t)L, (size_t)H, (size_t)W};
        size_t start3[3] = {at, 0, 0}, count3[3] = {1, (size_t)H, (size_t)W};
        if (f->legacy) {
            for (size_t k = 0; k < cnt; k++) packed[k] = (short)lrint((x[k] - f->offset[v]) / f->scale[v]);
            NC(nc_put_vara_short(nc, f->vars_id[v], v < 5 ? start4 : start3, v < 5 ? count4 : count3, packed));
        } else
            NC(nc_put_vara_float(nc, f->vars_id[v], v < 5 ? start4 : start3, v < 5 ? count4 : count3, x));
    }
done:
    return status;
}

/* One file of the upper (vars & 1) and/or surface (vars & 2) variables for times t[0..n). */
static int write_file(const source *src, const char *path, int vars, int legacy, const double *t, long n, float *up,
                      float *sf) {
    const synth_spec *s = src->s;
    int status = UTIL_OK, nc = -1;
    ncw_file out = {.nc = -1};
    short *packed = NULL;
    if ((status = ncw_begin(&out, path))) return status;
    synth_file f = {.src = src, .path = path, .legacy = legacy, .pl = vars & 1, .H = s->H, .W = s->W, .L = s->nlev,
                    .d_l = -1, .v_frt = -1};
    f.HW = (size_t)f.H * f.W;
    for (int v = 0; v < 9; v++) f.in[v] = v < 5 ? vars & 1 : (vars & 2) != 0;
    if (legacy) {
        if ((status = packing_ranges(&f, t, n, up, sf))) goto done;
        packed = malloc(sizeof(short) * (size_t)f.L * f.HW);
        if (!packed) {
            status = util_fail(UTIL_ENOMEM, "out of memory");
            goto done;
        }
    }
    if ((status = ncw_create(&out, legacy ? NC_64BIT_OFFSET : NC_NETCDF4))) goto done;
    nc = out.nc;
    if ((status = define_coordinates(&f, nc, n)) || (status = define_fields(&f, nc)) ||
        (status = put_global_attributes(&f, nc)))
        goto done;
    NC(nc_enddef(nc));
    if ((status = put_coordinates(&f, nc))) goto done;
    for (long i = 0; i < n; i++)
        if ((status = put_time(&f, nc, i, t[i], up, sf, packed))) goto done;
    status = ncw_commit(&out);
done:
    ncw_discard(&out);
    free(packed);
    return status;
}

static int write_invariant(const synth_spec *s, const char *path) {
    int status = UTIL_OK, nc = -1, d_t, d_y, d_x, v_t, v_y, v_x, vars[3];
    ncw_file out = {.nc = -1};
    if ((status = ncw_begin(&out, path))) return status;
    size_t HW = (size_t)s->H * s->W;
    float *c = malloc(sizeof(float) * 3 * HW);
    double *lat = malloc(sizeof(double) * s->H), *lon = malloc(sizeof(double) * s->W);
    if (!c || !lat || !lon) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    synth_constants(s, c);
    for (size_t i = 0; i < HW; i++) c[2 * HW + i] *= (float)G0; /* orography to surface geopotential */
    if ((status = ncw_create(&out, NC_NETCDF4))) goto done;
    nc = out.nc;
    NC(nc_def_dim(nc, "time", 1, &d_t));
    NC(nc_def_dim(nc, "latitude", (size_t)s->H, &d_y));
    NC(nc_def_dim(nc, "longitude", (size_t)s->W, &d_x));
    NC(ncw_def(nc, "time", NC_INT, 1, &d_t, &v_t, "units", "hours since 1900-01-01 00:00:00.0", NULL));
    NC(ncw_def(nc, "latitude", NC_DOUBLE, 1, &d_y, &v_y, "units", "degrees_north", NULL));
    NC(ncw_def(nc, "longitude", NC_DOUBLE, 1, &d_x, &v_x, "units", "degrees_east", NULL));
    static const char *const names[3] = {"lsm", "slt", "z"}, *const ln[3] = {"Land-sea mask", "Soil type", "Geopotential"};
    static const char *const un[3] = {"(0 - 1)", "~", "m**2 s**-2"};
    int dims[3] = {d_t, d_y, d_x};
    for (int k = 0; k < 3; k++) {
        NC(ncw_def(nc, names[k], NC_FLOAT, 3, dims, &vars[k], "long_name", ln[k], "units", un[k], NULL));
    }
    NC(ncw_texts(nc, NC_GLOBAL, "title", "SYNTHETIC ERA5 invariants (pangu synth): not observations", "synthetic",
                 "yes", NULL));
    NC(nc_enddef(nc));
    int zero = 0;
    for (int i = 0; i < s->H; i++) lat[i] = s->H > 1 ? 90.0 - 180.0 * i / (s->H - 1) : 0;
    for (int i = 0; i < s->W; i++) lon[i] = 360.0 * i / s->W;
    NC(nc_put_var_int(nc, v_t, &zero));
    NC(nc_put_var_double(nc, v_y, lat));
    NC(nc_put_var_double(nc, v_x, lon));
    for (int k = 0; k < 3; k++) NC(nc_put_var_float(nc, vars[k], c + k * HW));
    status = ncw_commit(&out);
done:
    ncw_discard(&out);
    free(c), free(lat), free(lon);
    return status;
}

/* The checks and buffers both writers share. */
static int prepare(const synth_spec *s, const char *dir, const char *format, long hours, int step_hours, synth_spec *own,
                   int *legacy, float **up, float **sf) {
    *legacy = !strcmp(format, "legacy"), *up = NULL, *sf = NULL, own->constants = NULL;
    if (!*legacy && strcmp(format, "cds2024") != 0)
        return util_fail(UTIL_EINVAL, "format '%s': expected legacy or cds2024", format);
    if (hours < 1 || step_hours < 1) return util_fail(UTIL_EINVAL, "hours and step must be positive");
    if (s->W > 4096 || s->nlev < 1 || s->nlev > 64)
        return util_fail(UTIL_EINVAL, "synth: at most 4096 longitudes and 1 to 64 levels");
    if (access(dir, W_OK) != 0) return util_fail(UTIL_EIO, "%s: cannot write in the directory: %s", dir, strerror(errno));
    size_t HW = (size_t)s->H * s->W;
    *own = *s;
    own->constants = malloc(sizeof(float) * 3 * HW);
    *up = malloc(sizeof(float) * 5 * s->nlev * HW), *sf = malloc(sizeof(float) * 4 * HW);
    if (!own->constants || !*up || !*sf) return util_fail(UTIL_ENOMEM, "out of memory");
    synth_constants(s, own->constants);
    return UTIL_OK;
}

/* The data set is written into a temporary directory in dir and its files
 * moved into dir once all are complete: a full disk or a signal leaves no
 * partial data set. */
int synth_write(const synth_spec *s, const char *dir, const char *format, double start, long hours, int step_hours) {
    int legacy, status, begun = 0;
    char path[4400], out[4200];
    synth_spec prepared;
    float *up, *sf;
    long n = hours / step_hours + 1;
    double *t = NULL;
    if ((status = prepare(s, dir, format, hours, step_hours, &prepared, &legacy, &up, &sf))) goto done;
    source src = {.s = &prepared};
    dynamics_of(&src.d);
    if (!(t = malloc(sizeof(double) * n))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    if ((status = util_outdir_begin(dir, "synth", out, sizeof out))) goto done;
    begun = 1;
    snprintf(path, sizeof path, "%s/invariant.nc", out);
    if ((status = write_invariant(&prepared, path))) goto done;
    double t0 = util_now();
    long first = 0, files = 0;
    util_progress prog;
    util_progress_init(&prog, fileno(stderr), 10);
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
            snprintf(path, sizeof path, "%s/era5_%s_%04d%02d.nc", out, pl ? "pl" : "sfc", y, mo);
            status = write_file(&src, path, pl ? 1 : 2, legacy, t, last - first, up, sf);
            files++;
        }
        double rate = last / (util_now() - t0);
        if (!status && util_progress_due(&prog, last == n))
            fprintf(stderr, "%spangu synth: %04d-%02d written, %ld of %ld times, %ld files, %.0f times/s, ETA %.0f s%s",
                    util_progress_start(&prog), y, mo, last, n, files, rate, (n - last) / rate, util_progress_end(&prog));
        first = last;
    }
    if (prog.tty) fprintf(stderr, "\n");
    if (!status) {
        begun = 0;
        status = util_outdir_commit(dir, "synth", out);
    }
    if (status && begun) { /* name the file of the data set, not its temporary directory */
        const char *msg = util_last_message();
        size_t n = strlen(out);
        if (!strncmp(msg, out, n)) {
            char named[1200];
            snprintf(named, sizeof named, "%s%s", dir, msg + n);
            util_fail(status, "%s", named);
        }
    }
done:
    if (begun) util_outdir_abort(dir, "synth", out);
    free(t), free(up), free(sf);
    free(prepared.constants);
    return status;
}

int synth_write_forecast(const synth_spec *s, const char *dir, const char *format, double init, long hours, int step_hours) {
    int legacy, status, y, mo, d, h, mi, sec;
    char path[4096];
    synth_spec prepared;
    float *up, *sf;
    long n = hours / step_hours + 1;
    double *t = NULL;
    if ((status = prepare(s, dir, format, hours, step_hours, &prepared, &legacy, &up, &sf))) goto done;
    prepared.noise = 0; /* a forecast of the noise-free state */
    source src = {.s = &prepared, .forecast = 1, .init = init};
    dynamics_of(&src.d);
    if (!(t = malloc(sizeof(double) * n))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (long i = 0; i < n; i++) t[i] = init + i * step_hours * 3600.0;
    util_time_fields(init, &y, &mo, &d, &h, &mi, &sec);
    snprintf(path, sizeof path, "%s/nwp_%04d%02d%02d%02d.nc", dir, y, mo, d, h);
    status = write_file(&src, path, 3, legacy, t, n, up, sf);
done:
    free(t), free(up), free(sf);
    free(prepared.constants);
    return status;
}
