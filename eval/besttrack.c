/* besttrack: IBTrACS v04 CSV and ATCF deck readers, interpolation between
 * records, the ATCF a-deck writer (formats: see besttrack.h). */
#define _DEFAULT_SOURCE
#include "besttrack.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/util.h"

/* ---- small helpers ---- */

static double wrap360(double lon) {
    double x = fmod(lon, 360.0);
    if (x < 0) x += 360.0;
    return x >= 360.0 ? 0.0 : x;
}

/* Fields of one comma-separated line, blanks around each removed, in place. */
static int split_fields(char *line, char **field, int cap) {
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    int n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (n < cap) {
            while (*p == ' ' || *p == '\t') p++;
            char *e = p + strlen(p);
            while (e > p && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
            field[n] = p;
        }
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

/* A number filling the whole field; UTIL_EFORMAT naming the place when not. */
static int field_number(const char *path, long line, const char *column, const char *text, double *out) {
    char *end;
    if (!*text) return util_fail(UTIL_EFORMAT, "%s: line %ld, column %s: expected a number, found a blank field", path, line, column);
    errno = 0;
    double x = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(x))
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column %s: expected a number, found '%s'", path, line, column, text);
    *out = x;
    return UTIL_OK;
}

static int grow_points(besttrack_storm *s, int *cap) {
    if (s->n < *cap) return UTIL_OK;
    int nc = *cap ? 2 * *cap : 16;
    besttrack_point *p = realloc(s->pt, sizeof *p * (size_t)nc);
    if (!p) return util_fail(UTIL_ENOMEM, "out of memory reading a best track");
    s->pt = p, *cap = nc;
    return UTIL_OK;
}

static int add_storm(besttrack_set *set, int *cap) {
    if (set->n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        besttrack_storm *g = realloc(set->storm, sizeof *g * (size_t)nc);
        if (!g) return util_fail(UTIL_ENOMEM, "out of memory reading a best track");
        set->storm = g, *cap = nc;
    }
    memset(&set->storm[set->n], 0, sizeof set->storm[0]);
    set->storm[set->n].init = NAN;
    set->n++;
    return UTIL_OK;
}

/* After a failed read: the set as it was before (its first `first` storms). */
static void drop_storms(besttrack_set *set, int first) {
    for (int i = first; i < set->n; i++) free(set->storm[i].pt);
    set->n = first;
    if (!first) free(set->storm), set->storm = NULL;
}

void besttrack_free(besttrack_set *set) {
    for (int i = 0; i < set->n; i++) free(set->storm[i].pt);
    free(set->storm);
    set->storm = NULL, set->n = 0;
}

/* ---- IBTrACS v04 CSV ---- */

enum { IB_SID, IB_NAME, IB_BASIN, IB_TIME, IB_NATURE, IB_LAT, IB_LON, IB_NREQUIRED = 7,
       IB_WMO_WIND = 7, IB_WMO_PRES, IB_USA_WIND, IB_USA_PRES, IB_ATCF, IB_NUMBER, IB_TRACK_TYPE, IB_NCOLS };
static const char *const ib_names[IB_NCOLS] = {"SID", "NAME", "BASIN", "ISO_TIME", "NATURE", "LAT", "LON",
                                               "WMO_WIND", "WMO_PRES", "USA_WIND", "USA_PRES", "USA_ATCF_ID", "NUMBER", "TRACK_TYPE"};

typedef struct {
    const char *path;
    long line;
    int ncols;            /* fields of the header line */
    int col[IB_NCOLS];    /* -1: absent (optional columns) */
    char **field;
    int storm_cap, point_cap, first; /* first: this file's first storm in the set */
} ib_reader;

static int ib_header(ib_reader *r, char *line) {
    int cap = 1024;
    if (!(r->field = malloc(sizeof(char *) * (size_t)cap))) return util_fail(UTIL_ENOMEM, "out of memory");
    r->ncols = split_fields(line, r->field, cap);
    if (r->ncols > cap) return util_fail(UTIL_EFORMAT, "%s: line 1: more than %d columns", r->path, cap);
    for (int c = 0; c < IB_NCOLS; c++) {
        r->col[c] = -1;
        for (int k = 0; k < r->ncols; k++)
            if (!strcmp(r->field[k], ib_names[c])) {
                if (r->col[c] >= 0)
                    return util_fail(UTIL_EFORMAT, "%s: line 1: column %s named twice", r->path, ib_names[c]);
                r->col[c] = k;
            }
        if (c < IB_NREQUIRED && r->col[c] < 0)
            return util_fail(UTIL_EFORMAT, "%s: line 1: no column %s (expected IBTrACS v04 CSV: SID,SEASON,NUMBER,BASIN,...)",
                             r->path, ib_names[c]);
    }
    return UTIL_OK;
}

/* The second line gives the units: LAT and LON must be in degrees. */
static int ib_units(ib_reader *r, char *line) {
    int n = split_fields(line, r->field, r->ncols);
    if (n != r->ncols)
        return util_fail(UTIL_EFORMAT, "%s: line 2 (units): expected %d fields as the header, found %d", r->path, r->ncols, n);
    const char *lat = r->field[r->col[IB_LAT]], *lon = r->field[r->col[IB_LON]];
    if (strcmp(lat, "degrees_north") || strcmp(lon, "degrees_east"))
        return util_fail(UTIL_EFORMAT, "%s: line 2, columns LAT and LON: expected the units line (degrees_north, degrees_east), "
                         "found '%s', '%s'", r->path, lat, lon);
    return UTIL_OK;
}

/* Optional number: NAN when the column is absent or the field blank. */
static int ib_optional(const ib_reader *r, int c, double *out) {
    *out = NAN;
    if (r->col[c] < 0 || !*r->field[r->col[c]]) return UTIL_OK;
    return field_number(r->path, r->line, ib_names[c], r->field[r->col[c]], out);
}

/* NUMBER: the storm's number in its season, a whole number (blank: 0) */
static int ib_number(const ib_reader *r, int *out) {
    const char *t = r->col[IB_NUMBER] >= 0 ? r->field[r->col[IB_NUMBER]] : "";
    size_t n = strlen(t);
    *out = 0;
    if (!n) return UTIL_OK;
    if (n > 4 || strspn(t, "0123456789") != n)
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column NUMBER: expected a whole number 0..9999, found '%s'", r->path,
                         r->line, t);
    *out = atoi(t);
    return UTIL_OK;
}

static int ib_text(const ib_reader *r, int c, char *out, size_t cap, int required) {
    const char *t = r->col[c] >= 0 ? r->field[r->col[c]] : "";
    if (required && !*t) return util_fail(UTIL_EFORMAT, "%s: line %ld, column %s: blank", r->path, r->line, ib_names[c]);
    if (strlen(t) >= cap)
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column %s: '%s' longer than %zu characters", r->path, r->line,
                         ib_names[c], t, cap - 1);
    snprintf(out, cap, "%s", t);
    return UTIL_OK;
}

/* ISO_TIME exactly as "YYYY-MM-DD HH:MM:SS". */
static int ib_time(const ib_reader *r, double *t) {
    const char *s = r->field[r->col[IB_TIME]];
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    int ok = strlen(s) == sizeof shape - 1;
    for (size_t i = 0; ok && i < sizeof shape - 1; i++)
        ok = shape[i] == 'd' ? isdigit((unsigned char)s[i]) != 0 : s[i] == shape[i];
    if (!ok || util_time_parse(s, t))
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column ISO_TIME: expected YYYY-MM-DD HH:MM:SS, found '%s'", r->path,
                         r->line, s);
    return UTIL_OK;
}

static int in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

static int ib_point(const ib_reader *r, besttrack_point *p) {
    static const char *const natures[] = {"TS", "ET", "DS", "NR", "SS", "MX", NULL};
    double wmo_wind, wmo_pres, usa_wind, usa_pres;
    int status;
    memset(p, 0, sizeof *p);
    if ((status = ib_time(r, &p->time)) || (status = ib_text(r, IB_NATURE, p->nature, sizeof p->nature, 1))) return status;
    if (!in_list(p->nature, natures))
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column NATURE: expected TS, ET, DS, NR, SS or MX, found '%s'", r->path,
                         r->line, p->nature);
    if ((status = field_number(r->path, r->line, "LAT", r->field[r->col[IB_LAT]], &p->lat)) ||
        (status = field_number(r->path, r->line, "LON", r->field[r->col[IB_LON]], &p->lon)))
        return status;
    if (fabs(p->lat) > 90 || p->lon < -360 || p->lon > 360)
        return util_fail(UTIL_EFORMAT, "%s: line %ld, columns LAT, LON: (%g, %g) is not a position", r->path, r->line, p->lat,
                         p->lon);
    p->lon = wrap360(p->lon);
    if ((status = ib_optional(r, IB_WMO_WIND, &wmo_wind)) || (status = ib_optional(r, IB_WMO_PRES, &wmo_pres)) ||
        (status = ib_optional(r, IB_USA_WIND, &usa_wind)) || (status = ib_optional(r, IB_USA_PRES, &usa_pres)))
        return status;
    /* WMO values (the responsible agency's) first, the US agencies' where the WMO agency gives none */
    double kt = isnan(wmo_wind) ? usa_wind : wmo_wind, hpa = isnan(wmo_pres) ? usa_pres : wmo_pres;
    p->wind = kt * BESTTRACK_KT;
    p->msl = hpa * 100.0;
    return UTIL_OK;
}

static int ib_new_storm(ib_reader *r, besttrack_set *set, const char *sid) {
    static const char *const basins[] = {"NA", "SA", "EP", "WP", "SP", "NI", "SI", "MM", NULL};
    for (int i = r->first; i < set->n; i++)
        if (!strcmp(set->storm[i].sid, sid))
            return util_fail(UTIL_EFORMAT, "%s: line %ld, column SID: records of storm %s are not together", r->path, r->line, sid);
    int status = add_storm(set, &r->storm_cap);
    if (status) return status;
    besttrack_storm *s = &set->storm[set->n - 1];
    r->point_cap = 0;
    s->format = BESTTRACK_IBTRACS;
    snprintf(s->sid, sizeof s->sid, "%s", sid);
    snprintf(s->tech, sizeof s->tech, "BEST");
    if ((status = ib_text(r, IB_NAME, s->name, sizeof s->name, 0)) ||
        (status = ib_text(r, IB_BASIN, s->basin, sizeof s->basin, 1)) ||
        (status = ib_text(r, IB_ATCF, s->atcf, sizeof s->atcf, 0)))
        return status;
    char type[32];
    if ((status = ib_text(r, IB_TRACK_TYPE, type, sizeof type, 0))) return status;
    s->spur = !strncasecmp(type, "spur", 4);
    if ((status = ib_number(r, &s->number))) return status;
    if (!in_list(s->basin, basins))
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column BASIN: expected NA, SA, EP, WP, SP, NI, SI or MM, found '%s'",
                         r->path, r->line, s->basin);
    return UTIL_OK;
}

static int ib_record(ib_reader *r, besttrack_set *set, char *line) {
    int n = split_fields(line, r->field, r->ncols);
    if (n != r->ncols)
        return util_fail(UTIL_EFORMAT, "%s: line %ld: expected %d fields as the header, found %d", r->path, r->line, r->ncols, n);
    char sid[32];
    int status = ib_text(r, IB_SID, sid, sizeof sid, 1);
    if (status) return status;
    if (set->n == r->first || strcmp(set->storm[set->n - 1].sid, sid))
        if ((status = ib_new_storm(r, set, sid))) return status;
    besttrack_storm *s = &set->storm[set->n - 1];
    besttrack_point p;
    if ((status = ib_point(r, &p)) || (status = grow_points(s, &r->point_cap))) return status;
    if (s->n && p.time <= s->pt[s->n - 1].time)
        return util_fail(UTIL_EFORMAT, "%s: line %ld, column ISO_TIME: %s is not after the storm's previous record", r->path,
                         r->line, r->field[r->col[IB_TIME]]);
    s->pt[s->n++] = p;
    return UTIL_OK;
}

int besttrack_read_ibtracs(const char *path, besttrack_set *set) {
    ib_reader r = {path, 0, 0, {0}, NULL, set->n, 0, set->n};
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int status = UTIL_OK;
    while (!status && getline(&line, &cap, f) >= 0) {
        r.line++;
        if (r.line == 1) status = ib_header(&r, line);
        else if (r.line == 2) status = ib_units(&r, line);
        else if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n')) continue;
        else status = ib_record(&r, set, line);
    }
    if (!status && ferror(f)) status = util_fail(UTIL_EIO, "%s: read error", path);
    if (!status && r.line < 2) status = util_fail(UTIL_EFORMAT, "%s: expected IBTrACS v04 CSV (a names line and a units line)", path);
    fclose(f);
    free(line), free(r.field);
    if (status) drop_storms(set, r.first);
    return status;
}

/* ---- ATCF a- and b-decks ---- */

enum { AT_BASIN, AT_CY, AT_DTG, AT_TECHNUM, AT_TECH, AT_TAU, AT_LAT, AT_LON, AT_VMAX, AT_MSLP, AT_TY, AT_NAME = 27, AT_CAP = 64 };
static const char *const at_names[] = {"BASIN", "CY", "YYYYMMDDHH", "TECHNUM/MIN", "TECH", "TAU", "LatN/S", "LonE/W",
                                       "VMAX", "MSLP", "TY"};

typedef struct {
    const char *path;
    long line;
    char *field[AT_CAP];
    int nf;
} at_reader;

static int at_bad(const at_reader *r, int c, const char *expected) {
    return util_fail(UTIL_EFORMAT, "%s: line %ld, column %d (%s): expected %s, found '%s'", r->path, r->line, c + 1,
                     at_names[c], expected, r->field[c]);
}

static int all_digits(const char *s, size_t n) {
    if (strlen(s) != n && n) return 0;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int at_int(const at_reader *r, int c, long lo, long hi, long *out) {
    const char *s = r->field[c];
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        char what[64];
        snprintf(what, sizeof what, "an integer in %ld..%ld", lo, hi);
        return at_bad(r, c, what);
    }
    *out = v;
    return UTIL_OK;
}

/* tenths of a degree and a hemisphere letter: 266N, 1822W */
static int at_coord(const at_reader *r, int c, double *out) {
    const char *s = r->field[c];
    size_t n = strlen(s);
    char pos = c == AT_LAT ? 'N' : 'E', neg = c == AT_LAT ? 'S' : 'W';
    long max = c == AT_LAT ? 900 : 1800;
    char digits[16];
    if (n < 2 || n > sizeof digits || (s[n - 1] != pos && s[n - 1] != neg)) goto bad;
    memcpy(digits, s, n - 1), digits[n - 1] = 0;
    if (!all_digits(digits, 0)) goto bad;
    long v = strtol(digits, NULL, 10);
    if (v > max) goto bad;
    *out = (s[n - 1] == neg ? -v : v) / 10.0;
    return UTIL_OK;
bad:
    return at_bad(r, c, c == AT_LAT ? "tenths of a degree and N or S (266N)" : "tenths of a degree and E or W (822W)");
}

/* VMAX, MSLP: blank or 0 is missing (ATCF writes 0 where there is no value) */
static int at_optional(const at_reader *r, int c, long hi, double *out) {
    long v;
    *out = NAN;
    if (c >= r->nf || !*r->field[c]) return UTIL_OK;
    int status = at_int(r, c, 0, hi, &v);
    if (!status && v > 0) *out = (double)v;
    return status;
}

/* Records of one storm further apart than this are never merged on the
 * season year alone (see at_find_group). */
#define AT_STORM_GAP (5 * 86400.0)

/* ATCF's YYYY is the season year: the calendar year in the northern
 * hemisphere; in the southern one (SH, SL) the season begins on 1 July
 * and takes the next calendar year (NRL/ATCF storm identifier definition
 * BBCCYYYY, as proposed to CF by NRL, cf-metadata 2014-04-14). */
static int at_season_year(const char *basin, double dtg) {
    int year, mon, day, hour, min, sec;
    util_time_fields(dtg, &year, &mon, &day, &hour, &min, &sec);
    int south = !strcmp(basin, "SH") || !strcmp(basin, "SL");
    return year + (south && mon >= 7);
}

static int at_near_track(const besttrack_storm *s, double t) {
    for (int k = 0; k < s->n; k++)
        if (fabs(s->pt[k].time - t) <= AT_STORM_GAP) return 1;
    return 0;
}

/* A record joins a group of the same basin, number, TECH and initial time
 * when it has the group's season year (a concatenated b-deck holds AL06 of
 * several years), or lies within a few days of the group's records (a
 * storm going on across 31 December or, in the south, 1 July keeps the
 * identifier of its genesis). */
static int at_find_group(const besttrack_set *set, int first, const char *atcf, const char *tech, double init, double t) {
    for (int i = set->n - 1; i >= first; i--) {
        const besttrack_storm *s = &set->storm[i];
        if (!strncmp(s->atcf, atcf, 4) && !strcmp(s->tech, tech) &&
            ((isnan(init) && isnan(s->init)) || fabs(s->init - init) < 0.5) &&
            (!strcmp(s->atcf, atcf) || at_near_track(s, t)))
            return i;
    }
    return -1;
}

static int at_parse_time(const at_reader *r, double *t) {
    const char *s = r->field[AT_DTG];
    char iso[32];
    if (!all_digits(s, 10)) return at_bad(r, AT_DTG, "YYYYMMDDHH");
    snprintf(iso, sizeof iso, "%.4s-%.2s-%.2sT%.2s", s, s + 4, s + 6, s + 8);
    if (util_time_parse(iso, t)) return at_bad(r, AT_DTG, "a valid date YYYYMMDDHH");
    return UTIL_OK;
}

/* dtg: the record's YYYYMMDDHH, t: its valid time (dtg + TAU) */
static int at_group(const at_reader *r, besttrack_set *set, int first, int *storm_cap, double dtg, double t, int *index) {
    const char *basin = r->field[AT_BASIN], *tech = r->field[AT_TECH];
    if (strlen(basin) != 2 || !isupper((unsigned char)basin[0]) || !isupper((unsigned char)basin[1]))
        return at_bad(r, AT_BASIN, "a basin of two letters (AL, EP, CP, WP, IO, SH)");
    if (!all_digits(r->field[AT_CY], 2) && !all_digits(r->field[AT_CY], 1)) return at_bad(r, AT_CY, "the cyclone number");
    if (!*tech || strlen(tech) >= sizeof set->storm[0].tech) return at_bad(r, AT_TECH, "a technique name of 1 to 15 characters");
    int best = !strcmp(tech, "BEST");
    double init = best ? NAN : dtg;
    char atcf[12];
    snprintf(atcf, sizeof atcf, "%s%02d%04d", basin, atoi(r->field[AT_CY]) % 100, at_season_year(basin, dtg) % 10000);
    int i = at_find_group(set, first, atcf, tech, init, t);
    if (i < 0) {
        int status = add_storm(set, storm_cap);
        if (status) return status;
        besttrack_storm *s = &set->storm[i = set->n - 1];
        s->format = BESTTRACK_ATCF;
        s->init = init;
        snprintf(s->atcf, sizeof s->atcf, "%s", atcf);
        snprintf(s->sid, sizeof s->sid, "%s", atcf);
        snprintf(s->basin, sizeof s->basin, "%s", basin);
        snprintf(s->tech, sizeof s->tech, "%s", tech);
        s->number = atoi(r->field[AT_CY]);
    }
    *index = i;
    return UTIL_OK;
}

static int at_record(at_reader *r, besttrack_set *set, int first, int *storm_cap, char *line) {
    r->nf = split_fields(line, r->field, AT_CAP);
    if (r->nf > AT_CAP) r->nf = AT_CAP;
    if (r->nf < AT_LON + 1)
        return util_fail(UTIL_EFORMAT, "%s: line %ld: expected at least %d comma-separated fields (BASIN, CY, YYYYMMDDHH, "
                         "TECHNUM, TECH, TAU, LatN/S, LonE/W), found %d", r->path, r->line, AT_LON + 1, r->nf);
    double dtg, vmax, mslp;
    long tau;
    besttrack_point p = {0};
    int status, g = -1;
    if ((status = at_parse_time(r, &dtg)) || (status = at_int(r, AT_TAU, -240, 9999, &tau)) ||
        (status = at_coord(r, AT_LAT, &p.lat)) || (status = at_coord(r, AT_LON, &p.lon)) ||
        (status = at_optional(r, AT_VMAX, 300, &vmax)) || (status = at_optional(r, AT_MSLP, 1100, &mslp)) ||
        (status = at_group(r, set, first, storm_cap, dtg, dtg + 3600.0 * (double)tau, &g)))
        return status;
    p.time = dtg + 3600.0 * (double)tau;
    p.lon = wrap360(p.lon);
    p.wind = vmax * BESTTRACK_KT, p.msl = mslp * 100.0;
    if (r->nf > AT_TY) snprintf(p.nature, sizeof p.nature, "%.3s", r->field[AT_TY]);
    besttrack_storm *s = &set->storm[g];
    if (r->nf > AT_NAME && *r->field[AT_NAME]) snprintf(s->name, sizeof s->name, "%s", r->field[AT_NAME]);
    for (int k = s->n - 1; k >= 0 && k >= s->n - 4; k--)
        if (fabs(s->pt[k].time - p.time) < 0.5) {
            /* further wind-radii lines (RAD 34, 50, 64) of one record */
            if (s->pt[k].lat != p.lat || s->pt[k].lon != p.lon)
                return util_fail(UTIL_EFORMAT, "%s: line %ld: a second position of %s %s at the same time", r->path, r->line,
                                 s->sid, s->tech);
            return UTIL_OK;
        }
    /* capacities are not kept per track: grow to twice n whenever n is 0 or a power of two */
    if (s->n == 0 || (s->n & (s->n - 1)) == 0) {
        int cap = s->n;
        if ((status = grow_points(s, &cap))) return status;
    }
    s->pt[s->n++] = p;
    return UTIL_OK;
}

static int cmp_point(const void *a, const void *b) {
    double x = ((const besttrack_point *)a)->time, y = ((const besttrack_point *)b)->time;
    return (x > y) - (x < y);
}

int besttrack_read_atcf(const char *path, besttrack_set *set) {
    at_reader r = {path, 0, {0}, 0};
    int first = set->n, storm_cap = set->n, status = UTIL_OK;
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    while (!status && getline(&line, &cap, f) >= 0) {
        r.line++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        status = at_record(&r, set, first, &storm_cap, line);
    }
    if (!status && ferror(f)) status = util_fail(UTIL_EIO, "%s: read error", path);
    if (!status && set->n == first) status = util_fail(UTIL_EFORMAT, "%s: no ATCF records", path);
    fclose(f);
    free(line);
    for (int i = first; i < set->n && !status; i++) {
        besttrack_storm *s = &set->storm[i];
        qsort(s->pt, (size_t)s->n, sizeof *s->pt, cmp_point);
        for (int k = 1; k < s->n && !status; k++)
            if (s->pt[k].time - s->pt[k - 1].time < 0.5)
                status = util_fail(UTIL_EFORMAT, "%s: two records of %s %s at one time", path, s->sid, s->tech);
    }
    if (status) drop_storms(set, first);
    return status;
}

int besttrack_read(const char *path, besttrack_set *set) {
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char head[8] = {0};
    size_t n = fread(head, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(head, "SID,", 4) ? besttrack_read_ibtracs(path, set) : besttrack_read_atcf(path, set);
}

/* ---- queries ---- */

int besttrack_is_tropical(const besttrack_storm *s, const besttrack_point *p) {
    static const char *const atcf_tropical[] = {"TD", "TS", "TY", "ST", "TC", "HU", NULL};
    if (s->format == BESTTRACK_IBTRACS) return !strcmp(p->nature, "TS");
    return in_list(p->nature, atcf_tropical);
}

int besttrack_find_time(const besttrack_storm *s, double t) {
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (fabs(s->pt[mid].time - t) < 0.5) return mid;
        if (s->pt[mid].time < t) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int besttrack_position(const besttrack_storm *s, double t, double *lat, double *lon, double *msl, double *wind) {
    if (s->n == 0 || t < s->pt[0].time - 0.5 || t > s->pt[s->n - 1].time + 0.5) return 0;
    int k = 0;
    while (k + 1 < s->n && s->pt[k + 1].time <= t) k++;
    const besttrack_point *a = &s->pt[k], *b = k + 1 < s->n ? &s->pt[k + 1] : a;
    double w = b->time > a->time ? (t - a->time) / (b->time - a->time) : 0.0;
    if (w < 0) w = 0;
    double dlon = b->lon - a->lon;
    if (dlon > 180) dlon -= 360;
    if (dlon < -180) dlon += 360;
    *lat = a->lat + w * (b->lat - a->lat);
    *lon = wrap360(a->lon + w * dlon);
    if (msl) *msl = a->msl + w * (b->msl - a->msl);
    if (wind) *wind = a->wind + w * (b->wind - a->wind);
    return 1;
}

int besttrack_find(const besttrack_set *set, const char *key, int from) {
    for (int i = from < 0 ? 0 : from; i < set->n; i++) {
        const besttrack_storm *s = &set->storm[i];
        if (!strcasecmp(s->sid, key) || (s->name[0] && !strcasecmp(s->name, key)) || (s->atcf[0] && !strcasecmp(s->atcf, key)))
            return i;
    }
    return -1;
}

const char *besttrack_atcf_basin(const char *basin, double lon) {
    if (!strcmp(basin, "NA")) return "AL";
    if (!strcmp(basin, "EP")) {
        double l = wrap360(lon); /* the central Pacific: 140 W to the date line */
        return l >= 180 && l < 220 ? "CP" : "EP";
    }
    if (!strcmp(basin, "WP")) return "WP";
    if (!strcmp(basin, "NI")) return "IO";
    if (!strcmp(basin, "SI") || !strcmp(basin, "SP") || !strcmp(basin, "SA")) return "SH";
    return strlen(basin) == 2 ? basin : "XX";
}

/* ---- ATCF a-deck writer ---- */

int besttrack_write_adeck(FILE *f, const besttrack_storm *s, const char *tech) {
    size_t tl = strlen(tech);
    if (tl < 1 || tl > 4) return util_fail(UTIL_EINVAL, "ATCF TECH '%s': expected 1 to 4 characters", tech);
    char T[8];
    for (size_t i = 0; i <= tl; i++) T[i] = (char)toupper((unsigned char)tech[i]);
    if (strlen(s->atcf) != 8 || !isupper((unsigned char)s->atcf[0]) || !isdigit((unsigned char)s->atcf[2]))
        return util_fail(UTIL_EINVAL, "storm %s: no ATCF identifier (BBNNYYYY) for an a-deck", s->sid);
    if (isnan(s->init)) return util_fail(UTIL_EINVAL, "storm %s: an a-deck holds forecasts (no initial time)", s->sid);
    int y, mo, d, h, mi, se;
    util_time_fields(s->init, &y, &mo, &d, &h, &mi, &se);
    for (int k = 0; k < s->n; k++) {
        const besttrack_point *p = &s->pt[k];
        double lon = p->lon > 180 ? p->lon - 360 : p->lon;
        long tau = lround((p->time - s->init) / 3600.0);
        long vmax = isnan(p->wind) ? 0 : lround(p->wind / BESTTRACK_KT), mslp = isnan(p->msl) ? 0 : lround(p->msl / 100.0);
        if (fprintf(f, "%.2s, %.2s, %04d%02d%02d%02d, 03, %4s, %3ld, %3ld%c, %4ld%c, %3ld, %4ld, XX,\n", s->atcf, s->atcf + 2,
                    y, mo, d, h, T, tau, lround(fabs(p->lat) * 10), p->lat < 0 ? 'S' : 'N', lround(fabs(lon) * 10),
                    lon < 0 ? 'W' : 'E', vmax, mslp) < 0)
            return util_fail(UTIL_EIO, "cannot write an a-deck line: %s", strerror(errno));
    }
    return UTIL_OK;
}
