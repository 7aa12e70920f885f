/* io grib: GRIB 1 and GRIB 2 state files through ecCodes (see grib.h). */
#define _DEFAULT_SOURCE /* fseeko */
#include "grib.h"

#include <eccodes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "../util/util.h"

#define GRAVITY 9.80665
#define NVARS IO_GRIB_NVARS

/* One indexed message: model variable, preference rank of its shortName
 * (0 best), level (hPa, 0 for surface variables), valid time, where it is. */
struct io_grib_msg {
    int var, rank;
    long pert; /* perturbationNumber, -1 when not an ensemble member */
    double lev, time;
    off_t offset;
    size_t number; /* 1-based position in the file */
};

/* shortNames by model variable, in order of preference, with the factor
 * into model units. */
static const struct {
    const char *label;
    const char *names[2];
    double mul[2];
} lookup[NVARS] = {
    {"z", {"z", "gh"}, {1, GRAVITY}}, {"q", {"q", NULL}, {1, 1}},     {"t", {"t", NULL}, {1, 1}},
    {"u", {"u", NULL}, {1, 1}},       {"v", {"v", NULL}, {1, 1}},     {"msl", {"msl", "prmsl"}, {1, 1}},
    {"u10", {"10u", NULL}, {1, 1}},   {"v10", {"10v", NULL}, {1, 1}}, {"t2m", {"2t", NULL}, {1, 1}},
};

/* The geometry of a regular_ll grid as its message describes it. */
typedef struct {
    long ni, nj, ineg, jpos, jcons, alt;
    double lat0, lat1, lon0, lon1, di, dj; /* di, dj NAN when not given */
} grid_desc;

static const char *names_text(int v) {
    static const char *const text[NVARS] = {"z or gh", "q", "t", "u", "v", "msl or prmsl", "10u", "10v", "2t"};
    return text[v];
}

const char *io_grib_shortnames(int v) { return v >= 0 && v < NVARS ? names_text(v) : ""; }

/* "t at 500 hPa valid at 2020-01-01T06:00:00" */
static void describe(char *buf, size_t cap, int v, double lev, double time) {
    char when[64];
    util_time_format(time, when, sizeof when);
    if (v < IO_NUPPER) snprintf(buf, cap, "%s at %g hPa valid at %s", lookup[v].label, lev, when);
    else snprintf(buf, cap, "%s valid at %s", lookup[v].label, when);
}

int io_grib_detect(const char *path) { return util_file_starts_with(path, "GRIB", 4); }

void io_grib_close(io_grib *g) {
    if (!g) return;
    if (g->fp) fclose(g->fp);
    free(g->lat);
    free(g->lon);
    free(g->lev);
    free(g->times);
    free(g->msgs);
    free(g);
}

static int get_long(const io_grib *g, codes_handle *h, size_t number, const char *key, long *out) {
    int rc = codes_get_long(h, key, out);
    if (rc) return util_fail(UTIL_EFORMAT, "%s: GRIB message %zu: cannot read key '%s' (%s)", g->path, number, key,
                             codes_get_error_message(rc));
    return UTIL_OK;
}

static int get_double(const io_grib *g, codes_handle *h, size_t number, const char *key, double *out) {
    int rc = codes_get_double(h, key, out);
    if (rc) return util_fail(UTIL_EFORMAT, "%s: GRIB message %zu: cannot read key '%s' (%s)", g->path, number, key,
                             codes_get_error_message(rc));
    return UTIL_OK;
}

/* A date (YYYYMMDD) and time (HHMM) pair of keys as seconds since 1970. */
static int date_time(const io_grib *g, codes_handle *h, size_t number, const char *dkey, const char *tkey, double *t) {
    long date, hhmm;
    int status;
    if ((status = get_long(g, h, number, dkey, &date)) || (status = get_long(g, h, number, tkey, &hhmm))) return status;
    char text[64];
    snprintf(text, sizeof text, "%04ld-%02ld-%02ldT%02ld:%02ld", date / 10000, date / 100 % 100, date % 100, hhmm / 100,
             hhmm % 100);
    if (date < 0 || hhmm < 0 || util_time_parse(text, t))
        return util_fail(UTIL_EFORMAT, "%s: GRIB message %zu: invalid %s %ld %s %ld", g->path, number, dkey, date, tkey, hhmm);
    return UTIL_OK;
}

static int model_variable(codes_handle *h) {
    char name[64], tol[64] = "";
    size_t len = sizeof name;
    if (codes_get_string(h, "shortName", name, &len)) return -1;
    for (int k = 0; k < NVARS; k++)
        for (int r = 0; r < 2; r++)
            if (lookup[k].names[r] && !strcmp(name, lookup[k].names[r])) {
                if (k >= IO_NUPPER) return k;
                len = sizeof tol;
                if (codes_get_string(h, "typeOfLevel", tol, &len)) return -1;
                return !strcmp(tol, "isobaricInhPa") || !strcmp(tol, "isobaricInPa") ? k : -1;
            }
    return -1;
}

int io_grib_reference_time(const char *path, double *t) {
    io_grib g = {0};
    g.path = path;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        util_fail(UTIL_EIO, "%s: cannot read the file", path);
        return -1;
    }
    int found = 0, err = 0;
    size_t number = 0;
    codes_handle *h;
    while (!found && (h = codes_handle_new_from_file(NULL, fp, PRODUCT_GRIB, &err))) {
        number++;
        if (model_variable(h) >= 0) found = date_time(&g, h, number, "dataDate", "dataTime", t) ? -1 : 1;
        codes_handle_delete(h);
    }
    if (!found && err) {
        util_fail(UTIL_EFORMAT, "%s: GRIB message %zu is truncated or corrupt (ecCodes: %s)", path, number + 1,
                  codes_get_error_message(err));
        found = -1;
    }
    fclose(fp);
    return found;
}

/* An optional increment: NAN when absent or coded missing. */
static double increment(codes_handle *h, const char *coded, const char *degrees) {
    int err = 0;
    double d;
    if (!codes_is_defined(h, coded) || (codes_is_missing(h, coded, &err) && !err)) return NAN;
    if (codes_get_double(h, degrees, &d) || d == CODES_MISSING_DOUBLE || !(d > 0)) return NAN;
    return d;
}

static int read_grid(const io_grib *g, codes_handle *h, size_t number, const char *what, grid_desc *d) {
    char type[64];
    size_t len = sizeof type;
    int status;
    if (codes_get_string(h, "gridType", type, &len)) snprintf(type, sizeof type, "unknown");
    if (strcmp(type, "regular_ll"))
        return util_fail(UTIL_EFORMAT,
                         "%s: GRIB message %zu (%s) is on a %s grid; only regular_ll (a regular latitude-longitude "
                         "grid) is supported: interpolate it first (e.g. with MARS/CDS option grid=0.25/0.25)",
                         g->path, number, what, type);
    memset(d, 0, sizeof *d);
    if ((status = get_long(g, h, number, "Ni", &d->ni)) || (status = get_long(g, h, number, "Nj", &d->nj)) ||
        (status = get_double(g, h, number, "latitudeOfFirstGridPointInDegrees", &d->lat0)) ||
        (status = get_double(g, h, number, "latitudeOfLastGridPointInDegrees", &d->lat1)) ||
        (status = get_double(g, h, number, "longitudeOfFirstGridPointInDegrees", &d->lon0)) ||
        (status = get_double(g, h, number, "longitudeOfLastGridPointInDegrees", &d->lon1)) ||
        (status = get_long(g, h, number, "iScansNegatively", &d->ineg)) ||
        (status = get_long(g, h, number, "jScansPositively", &d->jpos)) ||
        (status = get_long(g, h, number, "jPointsAreConsecutive", &d->jcons)))
        return status;
    if (codes_get_long(h, "alternativeRowScanning", &d->alt)) d->alt = 0;
    d->di = increment(h, "iDirectionIncrement", "iDirectionIncrementInDegrees");
    d->dj = increment(h, "jDirectionIncrement", "jDirectionIncrementInDegrees");
    if (d->ni < 1 || d->nj < 1 || d->ni > 1000000 || d->nj > 1000000)
        return util_fail(UTIL_EFORMAT, "%s: GRIB message %zu (%s): grid of Ni %ld x Nj %ld points is not a regular_ll grid "
                                       "this reader handles",
                         g->path, number, what, d->ni, d->nj);
    if (d->jcons || d->alt)
        return util_fail(UTIL_EFORMAT,
                         "%s: GRIB message %zu (%s): scanning mode with %s is not supported (expected rows of "
                         "consecutive longitudes)",
                         g->path, number, what, d->jcons ? "jPointsAreConsecutive=1" : "alternativeRowScanning=1");
    return UTIL_OK;
}

static double lon_diff(double a, double b) {
    double d = fmod(fabs(a - b), 360.0);
    return d > 180 ? 360 - d : d;
}

static int same_grid(const grid_desc *a, const grid_desc *b) {
    return a->ni == b->ni && a->nj == b->nj && a->ineg == b->ineg && a->jpos == b->jpos && fabs(a->lat0 - b->lat0) < 1e-3 &&
           fabs(a->lat1 - b->lat1) < 1e-3 && lon_diff(a->lon0, b->lon0) < 1e-3 && lon_diff(a->lon1, b->lon1) < 1e-3;
}

static void grid_text(char *buf, size_t cap, const grid_desc *d) {
    snprintf(buf, cap, "Ni %ld x Nj %ld from (%g, %g) to (%g, %g)%s%s", d->ni, d->nj, d->lat0, d->lon0, d->lat1, d->lon1,
             d->jpos ? ", jScansPositively" : "", d->ineg ? ", iScansNegatively" : "");
}

/* The coordinates of the grid, in the order of the values. */
static int build_coords(io_grib *g, const grid_desc *d) {
    size_t ni = (size_t)d->ni, nj = (size_t)d->nj;
    if (!(fabs(d->lat0) <= 90 + 1e-6 && fabs(d->lat1) <= 90 + 1e-6))
        return util_fail(UTIL_EFORMAT, "%s: GRIB grid latitudes %g to %g are outside [-90, 90]", g->path, d->lat0, d->lat1);
    if (nj > 1 && (d->jpos ? d->lat1 <= d->lat0 : d->lat1 >= d->lat0))
        return util_fail(UTIL_EFORMAT,
                         "%s: GRIB grid runs from latitude %g to %g but jScansPositively is %ld: inconsistent message",
                         g->path, d->lat0, d->lat1, d->jpos);
    double span = d->ineg ? d->lon0 - d->lon1 : d->lon1 - d->lon0;
    while (span < 0) span += 360;
    double dlon = ni > 1 ? span / (double)(ni - 1) : 0, dlat = nj > 1 ? (d->lat1 - d->lat0) / (double)(nj - 1) : 0;
    if (ni > 1 && !isnan(d->di) && fabs(dlon - d->di) > 1e-3 + 1e-3 * d->di)
        return util_fail(UTIL_EFORMAT,
                         "%s: GRIB grid has Ni %zu longitudes from %g to %g (%g degrees apart) but "
                         "iDirectionIncrement %g degrees",
                         g->path, ni, d->lon0, d->lon1, dlon, d->di);
    if (nj > 1 && !isnan(d->dj) && fabs(fabs(dlat) - d->dj) > 1e-3 + 1e-3 * d->dj)
        return util_fail(UTIL_EFORMAT,
                         "%s: GRIB grid has Nj %zu latitudes from %g to %g (%g degrees apart) but "
                         "jDirectionIncrement %g degrees",
                         g->path, nj, d->lat0, d->lat1, fabs(dlat), d->dj);
    g->nlat = nj, g->nlon = ni;
    g->lat = malloc(sizeof(double) * nj);
    g->lon = malloc(sizeof(double) * ni);
    if (!g->lat || !g->lon) return util_fail(UTIL_ENOMEM, "out of memory");
    for (size_t j = 0; j < nj; j++) g->lat[j] = j + 1 == nj && nj > 1 ? d->lat1 : d->lat0 + dlat * (double)j;
    for (size_t i = 0; i < ni; i++) g->lon[i] = d->lon0 + (d->ineg ? -dlon : dlon) * (double)i;
    return UTIL_OK;
}

static int valid_time(const io_grib *g, codes_handle *h, size_t number, double *t) {
    return date_time(g, h, number, "validityDate", "validityTime", t);
}

/* Index one message: which model variable it is, if any, and where. */
static int index_message(io_grib *g, codes_handle *h, size_t number, size_t *cap, grid_desc *ref, size_t *ref_number) {
    char name[64], tol[64] = "";
    size_t len = sizeof name;
    if (codes_get_string(h, "shortName", name, &len)) return UTIL_OK;
    int v = -1, rank = 0;
    for (int k = 0; k < NVARS && v < 0; k++)
        for (int r = 0; r < 2 && v < 0; r++)
            if (lookup[k].names[r] && !strcmp(name, lookup[k].names[r])) v = k, rank = r;
    if (v < 0) return UTIL_OK;
    double lev = 0, t;
    int status;
    if (v < IO_NUPPER) {
        len = sizeof tol;
        if (codes_get_string(h, "typeOfLevel", tol, &len)) return UTIL_OK;
        int hpa = !strcmp(tol, "isobaricInhPa"), pa = !strcmp(tol, "isobaricInPa");
        if (!hpa && !pa) return UTIL_OK; /* e.g. GFS t at the surface */
        if ((status = get_double(g, h, number, "level", &lev))) return status;
        if (pa) lev /= 100;
        if (!(lev > 0))
            return util_fail(UTIL_EFORMAT, "%s: GRIB message %zu (%s): pressure level %g hPa", g->path, number, name, lev);
    }
    double rt;
    if ((status = valid_time(g, h, number, &t)) || (status = date_time(g, h, number, "dataDate", "dataTime", &rt)))
        return status;
    if (!g->nmsg || rt < g->ref_first) g->ref_first = rt;
    if (!g->nmsg || rt > g->ref_last) g->ref_last = rt;
    char what[256], tmp[128];
    describe(tmp, sizeof tmp, v, lev, t);
    snprintf(what, sizeof what, "shortName %s, %s", name, tmp);
    grid_desc d;
    if ((status = read_grid(g, h, number, what, &d))) return status;
    if (!*ref_number) {
        *ref = d, *ref_number = number;
        if ((status = build_coords(g, &d))) return status;
    } else if (!same_grid(ref, &d)) {
        char a[160], b[160];
        grid_text(a, sizeof a, &d);
        grid_text(b, sizeof b, ref);
        return util_fail(UTIL_EFORMAT,
                         "%s: GRIB message %zu (%s) is on the grid %s, message %zu on %s: all fields must share one grid",
                         g->path, number, what, a, *ref_number, b);
    }
    long offset;
    if ((status = get_long(g, h, number, "offset", &offset))) return status;
    if (g->nmsg == *cap) {
        size_t n = *cap ? 2 * *cap : 64;
        io_grib_msg *m = realloc(g->msgs, n * sizeof *m);
        if (!m) return util_fail(UTIL_ENOMEM, "out of memory");
        g->msgs = m, *cap = n;
    }
    long member = -1;
    if (codes_is_defined(h, "perturbationNumber") && codes_get_long(h, "perturbationNumber", &member)) member = -1;
    g->msgs[g->nmsg++] = (io_grib_msg){v, rank, member, lev, t, (off_t)offset, number};
    return UTIL_OK;
}

static int cmp_msg(const void *pa, const void *pb) {
    const io_grib_msg *a = pa, *b = pb;
    if (a->var != b->var) return a->var - b->var;
    if (a->lev != b->lev) return a->lev > b->lev ? -1 : 1;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    if (a->rank != b->rank) return a->rank - b->rank;
    return (a->number > b->number) - (a->number < b->number);
}

static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Sort n doubles in place and drop repeats (descending if asked); the count left. */
static size_t unique(double *x, size_t n, int descending) {
    qsort(x, n, sizeof *x, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || x[i] != x[u - 1]) x[u++] = x[i];
    if (descending)
        for (size_t a = 0, b = u ? u - 1 : 0; a < b; a++, b--) {
            double t = x[a];
            x[a] = x[b], x[b] = t;
        }
    return u;
}

int io_grib_open(io_grib **out, const char *path) {
    int status = UTIL_OK;
    size_t cap = 0, ref_number = 0, number = 0;
    grid_desc ref;
    *out = NULL;
    io_grib *g = calloc(1, sizeof *g);
    if (!g) return util_fail(UTIL_ENOMEM, "out of memory");
    g->path = path;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        free(g);
        return util_fail(UTIL_EIO, "%s: cannot read the file", path);
    }
    g->fp = fp;
    for (;;) {
        int err = 0;
        codes_handle *h = codes_handle_new_from_file(NULL, fp, PRODUCT_GRIB, &err);
        if (!h) {
            if (err)
                status = util_fail(UTIL_EFORMAT, "%s: GRIB message %zu is truncated or corrupt (ecCodes: %s)", path,
                                   number + 1, codes_get_error_message(err));
            break;
        }
        number++;
        status = index_message(g, h, number, &cap, &ref, &ref_number);
        codes_handle_delete(h);
        if (status) goto done;
    }
    if (status) goto done;
    if (g->nmsg == 0) {
        status = util_fail(UTIL_EFORMAT,
                           "%s: %zu GRIB messages, none with shortName z, gh, q, t, u, v (typeOfLevel isobaricInhPa or "
                           "isobaricInPa), msl, prmsl, 10u, 10v or 2t",
                           path, number);
        goto done;
    }
    /* Several members of an ensemble would be taken as one field each
     * (the first): refuse them, naming how to pick one. */
    long lo = g->msgs[0].pert, hi = lo;
    for (size_t i = 1; i < g->nmsg; i++) {
        if (g->msgs[i].pert < lo) lo = g->msgs[i].pert;
        if (g->msgs[i].pert > hi) hi = g->msgs[i].pert;
    }
    if (lo != hi) {
        status = util_fail(UTIL_EFORMAT,
                           "%s: an ensemble in one GRIB file (perturbationNumber %ld to %ld); pangu reads one member per file: "
                           "select one, e.g. grib_copy -w perturbationNumber=%ld %s member.grib",
                           path, lo < 0 ? 0 : lo, hi, lo < 0 ? 0 : lo, path);
        goto done;
    }
    /* Sort by variable, level, time and preference; keep the first of each. */
    qsort(g->msgs, g->nmsg, sizeof *g->msgs, cmp_msg);
    size_t u = 0;
    for (size_t i = 0; i < g->nmsg; i++) {
        const io_grib_msg *m = &g->msgs[i];
        if (u && g->msgs[u - 1].var == m->var && g->msgs[u - 1].lev == m->lev && g->msgs[u - 1].time == m->time) continue;
        g->msgs[u++] = *m;
    }
    g->nmsg = u;
    g->lev = malloc(sizeof(double) * g->nmsg);
    g->times = malloc(sizeof(double) * g->nmsg);
    if (!g->lev || !g->times) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < g->nmsg; i++) {
        const io_grib_msg *m = &g->msgs[i];
        if (m->var < IO_NUPPER) g->lev[g->nlev++] = m->lev;
        g->times[g->ntime++] = m->time;
        if (!g->has[m->var]) snprintf(g->name[m->var], sizeof g->name[m->var], "%s", lookup[m->var].names[m->rank]);
        else if (strcmp(g->name[m->var], lookup[m->var].names[m->rank]) && !strchr(g->name[m->var], ' '))
            snprintf(g->name[m->var], sizeof g->name[m->var], "%s", names_text(m->var));
        g->has[m->var] = 1;
    }
    g->nlev = unique(g->lev, g->nlev, 1);
    g->ntime = unique(g->times, g->ntime, 0);
done:
    if (status) io_grib_close(g);
    else *out = g;
    return status;
}

/* What the file has of variable v, for the message when a field is missing. */
static void availability(const io_grib *g, int v, double level, double time, char *buf, size_t cap) {
    size_t nt = 0, nl = 0, nv = 0;
    int used = 0, upper = v < IO_NUPPER;
    double first = NAN, last = NAN;
    char levels[512] = "", when[64];
    for (size_t i = 0; i < g->nmsg; i++) {
        const io_grib_msg *m = &g->msgs[i];
        if (m->var != v) continue;
        nv++;
        if (upper && fabs(m->time - time) < 0.5 && strlen(levels) + 16 < sizeof levels)
            snprintf(levels + strlen(levels), sizeof levels - strlen(levels), "%s%g", nl++ ? " " : "", m->lev);
        if (!upper || fabs(m->lev - level) < 1e-3 * level) {
            if (isnan(first) || m->time < first) first = m->time;
            if (isnan(last) || m->time > last) last = m->time;
            nt++;
        }
    }
    buf[0] = 0;
    if (!nv) {
        snprintf(buf, cap, "; the file has no %s", lookup[v].label);
        return;
    }
    if (upper)
        used = snprintf(buf, cap, nl ? "; %s at that time: %s hPa" : "; %s at that time: no levels", lookup[v].label, levels);
    if (used < 0 || (size_t)used >= cap) return;
    if (upper) snprintf(when, sizeof when, "%s at %g hPa", lookup[v].label, level);
    else snprintf(when, sizeof when, "%s", lookup[v].label);
    if (!nt) {
        snprintf(buf + used, cap - (size_t)used, "; %s: at no time", when);
        return;
    }
    char a[64], b[64];
    util_time_format(first, a, sizeof a);
    util_time_format(last, b, sizeof b);
    if (nt == 1) snprintf(buf + used, cap - (size_t)used, "; %s: only at %s", when, a);
    else snprintf(buf + used, cap - (size_t)used, "; %s: %zu valid times from %s to %s", when, nt, a, b);
}

int io_grib_read(io_grib *g, int v, double level, double time, float *out) {
    const io_grib_msg *m = NULL;
    int upper = v < IO_NUPPER, status = UTIL_OK;
    char what[160];
    describe(what, sizeof what, v, level, time);
    for (size_t i = 0; i < g->nmsg && !m; i++) {
        const io_grib_msg *c = &g->msgs[i];
        if (c->var == v && fabs(c->time - time) < 0.5 && (!upper || fabs(c->lev - level) < 1e-3 * level)) m = c;
    }
    if (!m) {
        char avail[1024];
        availability(g, v, level, time, avail, sizeof avail);
        return util_fail(UTIL_EFORMAT, "%s: no GRIB message for %s (shortName %s%s)%s", g->path, what, names_text(v),
                         upper ? ", typeOfLevel isobaricInhPa" : "", avail);
    }
    FILE *fp = g->fp;
    if (fseeko(fp, m->offset, SEEK_SET) != 0)
        return util_fail(UTIL_EIO, "%s: cannot seek to GRIB message %zu", g->path, m->number);
    int err = 0;
    codes_handle *h = codes_handle_new_from_file(NULL, fp, PRODUCT_GRIB, &err);
    if (!h)
        return util_fail(UTIL_EFORMAT, "%s: cannot decode GRIB message %zu (%s; ecCodes: %s)", g->path, m->number, what,
                         err ? codes_get_error_message(err) : "end of file");
    double *vals = NULL;
    char name[64];
    size_t len = sizeof name, n = 0, HW = g->nlat * g->nlon;
    if (codes_get_string(h, "shortName", name, &len) || strcmp(name, lookup[v].names[m->rank])) {
        status = util_fail(UTIL_EIO, "%s: GRIB message %zu is not the one indexed (%s): did the file change?", g->path,
                           m->number, what);
        goto done;
    }
    /* A sentinel no field holds marks the points a bitmap leaves out. */
    codes_set_double(h, "missingValue", 1e35);
    long bitmap = 0, mvm = 0;
    double missing = 1e35;
    codes_get_long(h, "bitmapPresent", &bitmap);
    if (codes_get_long(h, "missingValueManagementUsed", &mvm)) mvm = 0;
    codes_get_double(h, "missingValue", &missing);
    if ((err = codes_get_size(h, "values", &n)) || n != HW) {
        status = util_fail(UTIL_EFORMAT, "%s: GRIB message %zu (%s) holds %zu values, its grid %zu x %zu", g->path,
                           m->number, what, n, g->nlat, g->nlon);
        goto done;
    }
    if (!(vals = malloc(sizeof(double) * (n ? n : 1)))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    if ((err = codes_get_double_array(h, "values", vals, &n)) || n != HW) {
        status = util_fail(UTIL_EFORMAT, "%s: cannot decode the values of GRIB message %zu (%s; ecCodes: %s)", g->path,
                           m->number, what, codes_get_error_message(err));
        goto done;
    }
    double mul = lookup[v].mul[m->rank];
    int check = bitmap || mvm;
    for (size_t i = 0; i < HW; i++)
        out[i] = check && vals[i] == missing ? NAN : (float)(vals[i] * mul);
done:
    free(vals);
    codes_handle_delete(h);
    return status;
}

int io_grib_read_named(const char *path, const char *short_name, int H, int W, float *out) {
    int status = UTIL_OK, err = 0;
    size_t number = 0, n = 0, HW = (size_t)H * W;
    io_grib g = {0}; /* only for the path and the grid in error messages */
    g.path = path;
    codes_handle *h = NULL;
    double *vals = NULL, *lon = NULL;
    size_t *perm = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return util_fail(UTIL_EIO, "%s: cannot read the file", path);
    for (;;) {
        if (!(h = codes_handle_new_from_file(NULL, fp, PRODUCT_GRIB, &err))) {
            status = err ? util_fail(UTIL_EFORMAT, "%s: GRIB message %zu is truncated or corrupt (ecCodes: %s)", path,
                                     number + 1, codes_get_error_message(err))
                         : util_fail(UTIL_EFORMAT, "%s: no GRIB message with shortName '%s' (%zu messages)", path,
                                     short_name, number);
            goto done;
        }
        number++;
        char name[64];
        size_t len = sizeof name;
        if (!codes_get_string(h, "shortName", name, &len) && !strcmp(name, short_name)) break;
        codes_handle_delete(h);
    }
    grid_desc d;
    if ((status = read_grid(&g, h, number, short_name, &d)) || (status = build_coords(&g, &d))) goto done;
    if (g.nlat != (size_t)H || g.nlon != (size_t)W) {
        status = util_fail(UTIL_EFORMAT, "%s: '%s' is on a %zu x %zu grid, expected %d x %d (coarsen with pangu regrid)",
                           path, short_name, g.nlat, g.nlon, H, W);
        goto done;
    }
    vals = malloc(sizeof(double) * HW), lon = malloc(sizeof(double) * W), perm = malloc(sizeof(size_t) * W);
    if (!vals || !lon || !perm) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    codes_set_double(h, "missingValue", 1e35);
    n = HW;
    if ((err = codes_get_size(h, "values", &n)) || n != HW || (err = codes_get_double_array(h, "values", vals, &n))) {
        status = util_fail(UTIL_EFORMAT, "%s: cannot decode the values of GRIB message %zu ('%s'%s%s)", path, number,
                           short_name, err ? "; ecCodes: " : "", err ? codes_get_error_message(err) : "");
        goto done;
    }
    /* North to south, longitudes ascending from 0 (a stable sort of lon mod 360). */
    for (int j = 0; j < W; j++) {
        lon[j] = fmod(fmod(g.lon[j], 360.0) + 360.0, 360.0);
        perm[j] = (size_t)j;
    }
    for (int a = 1; a < W; a++)
        for (int b = a; b > 0 && lon[perm[b]] < lon[perm[b - 1]]; b--) {
            size_t t = perm[b];
            perm[b] = perm[b - 1], perm[b - 1] = t;
        }
    int flip = H > 1 && g.lat[0] < g.lat[H - 1];
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double v = vals[(size_t)(flip ? H - 1 - i : i) * W + perm[j]];
            out[(size_t)i * W + j] = v == 1e35 ? NAN : (float)v;
        }
done:
    if (h) codes_handle_delete(h);
    fclose(fp);
    free(g.lat), free(g.lon), free(vals), free(lon), free(perm);
    return status;
}
