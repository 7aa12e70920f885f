/* io plausibility: coordinates and field values that cannot be what the
 * model expects (wrong units, a shifted grid) are refused with the likely
 * cause, instead of being forecast to errors of many standard deviations. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "io.h"

/* on unless turned off by --no-plausibility-check or PANGU_NO_PLAUSIBILITY_CHECK=1 */
static int enabled = -1;
void io_plausibility(int on) { enabled = on; }
int io_plausibility_on(void) {
    if (enabled < 0) {
        const char *e = getenv("PANGU_NO_PLAUSIBILITY_CHECK");
        enabled = !(e && *e && strcmp(e, "0"));
    }
    return enabled;
}

/* Geopotential (m2 s-2) of the standard atmosphere at p hPa. */
static double isa_geopotential(double p) {
    const double g = 9.80665, R = 287.053, T0 = 288.15, lapse = 0.0065, p11 = 226.32;
    double h = p >= p11 ? T0 / lapse * (1 - pow(p / 1013.25, R * lapse / g)) : 11000 + R * 216.65 / g * log(p11 / p);
    return g * h;
}

static double field_mean(const float *x, size_t n) {
    double sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) sum += x[i], cnt++;
    return cnt ? sum / cnt : NAN;
}

/* The likely cause of a mean m where about e was expected. */
static const char *likely_cause(int v, double m, double e) {
    double r = e != 0 ? m / e : 0;
    if (v == 5 && r > 0.005 && r < 0.02) return "msl looks like hPa: convert to Pa (x 100)";
    if ((v == 2 || v == 8) && m > -90 && m < 60 && e > 150) return "the temperature looks like degrees Celsius: convert to K (+ 273.15)";
    if (v == 0 && r > 0.07 && r < 0.14) return "z looks like geopotential height in m: convert to geopotential (x 9.80665)";
    if (v == 1 && r > 300 && r < 3000) return "q looks like g/kg: convert to kg/kg (/ 1000)";
    if (v == 5 && r > 0.5 && r < 2 && m < 90000) return "msl looks like surface pressure (sp), not mean sea-level pressure";
    return NULL;
}

int io_state_check_plausible(const io_state *st, const float *upper_mean, const float *upper_std,
                             const float *surface_mean, const float *surface_std) {
    if (!io_plausibility_on()) return UTIL_OK;
    size_t HW = (size_t)st->H * st->W;
    /* without a model: the field mean's physical bounds */
    static const double lo[9] = {0, 0, 150, -100, -100, 85000, -50, -50, 180};
    static const double hi[9] = {0, 0.05, 350, 100, 100, 110000, 50, 50, 340};
    static const double typical[9] = {0, 0.003, 250, 0, 0, 101000, 0, 0, 280};
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
        int upper = v < IO_NUPPER;
        for (int k = 0; k < (upper ? st->nlev : 1); k++) {
            const float *x = upper ? st->upper + ((size_t)v * st->nlev + k) * HW : st->surface + (size_t)(v - IO_NUPPER) * HW;
            double m = field_mean(x, HW), expect, tol;
            if (!isfinite(m)) continue; /* io_state_check_finite says what is missing */
            int bad;
            if (upper_mean) {
                /* a field's global mean stays within a few of the variable's stds of its mean */
                expect = upper ? upper_mean[v * st->nlev + k] : surface_mean[v - IO_NUPPER];
                double sd = upper ? upper_std[v * st->nlev + k] : surface_std[v - IO_NUPPER];
                tol = 6 * sd;
                bad = !(fabs(m - expect) <= tol);
            } else if (v == 0) {
                expect = isa_geopotential(st->levels[k]);
                tol = fmax(0.3 * expect, 3000);
                bad = !(fabs(m - expect) <= tol);
            } else {
                expect = typical[v];
                tol = 0;
                bad = !(m >= lo[v] && m <= hi[v]);
            }
            if (!bad) continue;
            char level[32] = "", bounds[96];
            if (upper) snprintf(level, sizeof level, " at %g hPa", st->levels[k]);
            if (upper_mean || v == 0) snprintf(bounds, sizeof bounds, "expected about %.6g (within %.3g)", expect, tol);
            else snprintf(bounds, sizeof bounds, "expected %.6g to %.6g", lo[v], hi[v]);
            const char *cause = likely_cause(v, m, expect);
            const char *name = upper ? io_upper_names[v] : io_surface_names[v - IO_NUPPER];
            return util_fail(UTIL_EFORMAT,
                             "%s: '%s'%s is not plausible: its mean is %.6g, %s%s; %s (--no-plausibility-check to "
                             "use it anyway)",
                             st->source[v][0] ? st->source[v] : "input", name, level, m, bounds,
                             upper_mean ? " by the model's statistics" : "", cause ? cause : "check its units");
        }
    }
    return UTIL_OK;
}
