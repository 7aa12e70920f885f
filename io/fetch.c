/* io fetch: ECMWF open data, NCEP GFS and the CDS into reader-ready files
 * (see fetch.h). */
#define _DEFAULT_SOURCE /* fseeko, ftello, fsync, strdup */
#include "fetch.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

const int io_fetch_levels[IO_FETCH_NLEVELS] = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50};

double io_fetch_backoff(double backoff, double max, int attempt) {
    double w = backoff * pow(2.0, attempt);
    return w < max ? w : max;
}

const char *io_fetch_default_url(int source) {
    switch (source) {
    case IO_FETCH_ECMWF_OPENDATA: return "https://data.ecmwf.int/forecasts";
    case IO_FETCH_GFS: return "https://nomads.ncep.noaa.gov/pub/data/nccf/com/gfs/prod";
    case IO_FETCH_CDS: return "https://cds.climate.copernicus.eu/api";
    default: return "";
    }
}

/* snprintf of a path or URL that fails rather than truncates. */
static int fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t cap, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, cap, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return util_fail(UTIL_EINVAL, "a path or URL is longer than %zu characters: %.80s...", cap - 1, buf);
    return UTIL_OK;
}

static void date_parts(double t, long *ymd, int *hh, int *mm) {
    int y, mo, d, h, mi, s;
    util_time_fields(t, &y, &mo, &d, &h, &mi, &s);
    *ymd = y * 10000L + mo * 100 + d, *hh = h, *mm = mi;
}

double io_fetch_deadline(double deadline, double timeout, long long bytes) {
    if (deadline > 0) return deadline;
    /* silence is caught by the time-out; this bounds a server that sends a
     * byte now and then: four silences' worth, plus the bytes at 10 kB/s */
    return 4 * (timeout > 0 ? timeout : 60) + (bytes > 0 ? bytes / 1e4 : 0);
}

/* The host of a URL ("nomads.ncep.noaa.gov"), lower case, without port or user. */
static void url_host(const char *url, char *host, size_t cap) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) n -= (size_t)(at + 1 - p), p = at + 1;
    size_t k = 0;
    for (size_t i = 0; i < n && p[i] != ':' && k + 1 < cap; i++) k++;
    for (size_t i = 0; i < k; i++) host[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    host[k] = 0;
}

double io_fetch_pace(const char *url, double rate_limit) {
    if (rate_limit > 0) return 60.0 / rate_limit;
    char host[256];
    url_host(url, host, sizeof host);
    /* NOMADS allows 120 requests a minute per client (NCEP's NOMADS usage
     * notice; more are blocked for a while): 100 a minute stays below it */
    return strcmp(host, "nomads.ncep.noaa.gov") ? 0 : 0.6;
}

static double utc(const char *when) {
    double t = 0;
    util_time_parse(when, &t);
    return t;
}

/* ECMWF open data as ECMWF's own client names it (ecmwf/ecmwf-opendata,
 * ecmwf/opendata/client.py): HOURLY_PATTERN
 * {_url}/{_yyyymmdd}/{_H}z/{model}/{resol}/{_stream}/{_yyyymmddHHMMSS}-{step}h-{_stream}-{type}.grib2
 * with model ifs, resol 0p25, type fc; the stream from Client.patch_stream
 * (06 and 18 UTC runs under scda for dates before IFS_50R1_DATE, 2026-05-12,
 * under oper from that date on); the inventory from Client.get_parts:
 * os.path.splitext(url)[0] + ".index". Runs before 2024-02-28 06 UTC are
 * in the older layout without ifs/ (0.4-degree 0p4-beta until February
 * 2024): blaylockbk/Herbie src/herbie/models/ecmwf.py, ifs.template;
 * client.py Client._get_urls drops /ifs/ for 0p4-beta. */
static int ecmwf_urls(const char *root, double init, int step, char *url, size_t url_cap, char *index_url, size_t index_cap) {
    long ymd;
    int hh, mm;
    date_parts(init, &ymd, &hh, &mm);
    if (init < utc("2024-02-28T06")) {
        char when[64];
        util_time_format(init, when, sizeof when);
        return util_fail(UTIL_EINVAL, "--time %s: ECMWF open data before 2024-02-28 06 UTC is in its older layout (without "
                                      "ifs/; until February 2024 the 0.4-degree '0p4-beta' product, another grid than Pangu's "
                                      "0.25 degrees): pangu fetch takes the ifs/0p25 files from then on; for earlier dates use "
                                      "ERA5 (--source cds)", when);
    }
    const char *stream = (hh == 6 || hh == 18) && init < utc("2026-05-12T00") ? "scda" : "oper";
    int status = fmt(url, url_cap, "%s/%ld/%02dz/ifs/0p25/%s/%ld%02d0000-%dh-%s-fc.grib2", root, ymd, hh, stream, ymd, hh, step,
                     stream);
    if (!status) status = fmt(index_url, index_cap, "%.*s.index", (int)(strlen(url) - strlen(".grib2")), url);
    return status;
}

/* GFS: ROOT/gfs.yyyymmdd/HH/atmos/gfs.tHHz.pgrb2.0p25.fNNN from GFS v16 on,
 * without atmos/ before (blaylockbk/Herbie src/herbie/models/gfs.py,
 * gfs.template: "GFS update version 16.0"); v16 ran from the 12 UTC run of
 * 2021-03-22 (NCEP's implementation notice; Herbie switches at
 * 2021-03-23 00 UTC, so for the two runs between, fetch_grib_step_locked
 * tries the other layout when the first is missing). The inventory is
 * the file's name + ".idx" (Herbie IDX_SUFFIX). */
static int gfs_urls(const char *root, double init, int step, int atmos, char *url, size_t url_cap, char *index_url,
                    size_t index_cap) {
    long ymd;
    int hh, mm;
    date_parts(init, &ymd, &hh, &mm);
    int status = fmt(url, url_cap, "%s/gfs.%ld/%02d/%sgfs.t%02dz.pgrb2.0p25.f%03d", root, ymd, hh, atmos ? "atmos/" : "", hh, step);
    if (!status) status = fmt(index_url, index_cap, "%s.idx", url);
    return status;
}

static int gfs_v16(double init) { return init >= utc("2021-03-22T12"); }

int io_fetch_grib_urls(int source, const char *root, double init, int step, char *url, size_t url_cap, char *index_url,
                       size_t index_cap) {
    if (source == IO_FETCH_GFS) return gfs_urls(root, init, step, gfs_v16(init), url, url_cap, index_url, index_cap);
    if (source == IO_FETCH_ECMWF_OPENDATA) return ecmwf_urls(root, init, step, url, url_cap, index_url, index_cap);
    return util_fail(UTIL_EINVAL, "source %d has no GRIB files by run and step", source);
}

#ifndef PANGU_CURL

int io_fetch_available(void) { return 0; }

int io_fetch_run(const io_fetch_spec *spec) {
    (void)spec;
    return util_fail(UTIL_EINVAL, "this pangu was built without network access (make CURL=0): rebuild with libcurl "
                                  "(Debian's libcurl4-gnutls-dev, make CURL=1), or fetch the files elsewhere");
}

#else

#include <cjson/cJSON.h>
#include <regex.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "grib.h"
#include "io.h"

int io_fetch_available(void) { return 1; }

/* model variables: z q t u v msl u10 v10 t2m */
static const char *const var_label[9] = {"z", "q", "t", "u", "v", "msl", "u10", "v10", "t2m"};
/* ECMWF open data parameter names (z too, as MARS names it) */
static const char *const ecmwf_param[9] = {"gh", "q", "t", "u", "v", "msl", "10u", "10v", "2t"};
/* NCEP inventory names and the surface levels */
static const char *const ncep_var[9] = {"HGT", "SPFH", "TMP", "UGRD", "VGRD", "PRMSL", "UGRD", "VGRD", "TMP"};
static const char *const ncep_level[9] = {NULL, NULL, NULL, NULL, NULL, "mean sea level", "10 m above ground",
                                          "10 m above ground", "2 m above ground"};

static int field_slot(int v, int level) {
    if (v >= 5) return 5 * IO_FETCH_NLEVELS + v - 5;
    for (int k = 0; k < IO_FETCH_NLEVELS; k++)
        if (io_fetch_levels[k] == level) return v * IO_FETCH_NLEVELS + k;
    return -1;
}

static void slot_field(int slot, int *v, int *level) {
    if (slot >= 5 * IO_FETCH_NLEVELS) *v = 5 + slot - 5 * IO_FETCH_NLEVELS, *level = 0;
    else *v = slot / IO_FETCH_NLEVELS, *level = io_fetch_levels[slot % IO_FETCH_NLEVELS];
}

static int cmp_field(const void *a, const void *b) {
    const io_fetch_field *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* "q at 50, 100 hPa; 2t" for the slots not found. */
static void missing_text(const int *found, const char *const *names, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int v = 0; v < 9 && n + 64 < cap; v++) {
        int first = 1;
        for (int k = 0; k < (v < 5 ? IO_FETCH_NLEVELS : 1) && n + 64 < cap; k++) {
            int slot = v < 5 ? v * IO_FETCH_NLEVELS + k : 5 * IO_FETCH_NLEVELS + v - 5;
            if (found[slot]) continue;
            if (first) n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", names[v]);
            if (v < 5) n += (size_t)snprintf(buf + n, cap - n, "%s%d", first ? " at " : ", ", io_fetch_levels[k]);
            first = 0;
        }
        if (!first && v < 5 && n + 8 < cap) n += (size_t)snprintf(buf + n, cap - n, " hPa");
    }
}

static const char *json_string(const cJSON *o, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* A number or a string holding an integer (the index writes levelist as text). */
static int json_long(const cJSON *o, const char *key, long long *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(x)) {
        double d = x->valuedouble;
        if (d != floor(d) || fabs(d) > 9e15) return 0;
        *out = (long long)d;
        return 1;
    }
    if (cJSON_IsString(x) && x->valuestring[0]) {
        char *end;
        errno = 0;
        long long v = strtoll(x->valuestring, &end, 10);
        if (*end || errno) return 0;
        *out = v;
        return 1;
    }
    return 0;
}

int io_fetch_parse_ecmwf_index(const char *text, size_t len, double init, int step, const char *what,
                               io_fetch_field out[IO_FETCH_NFIELDS]) {
    int found[IO_FETCH_NFIELDS] = {0}, rank[IO_FETCH_NFIELDS] = {0}, status = UTIL_OK;
    long ymd;
    int hh, mm;
    date_parts(init, &ymd, &hh, &mm);
    size_t line = 0;
    for (size_t a = 0; a < len && !status;) {
        size_t b = a;
        while (b < len && text[b] != '\n') b++;
        line++;
        size_t s = a;
        while (s < b && (text[s] == ' ' || text[s] == '\r' || text[s] == '\t')) s++;
        if (s < b) {
            cJSON *o = cJSON_ParseWithLength(text + s, b - s);
            if (!o || !cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return util_fail(UTIL_EFORMAT, "%s: line %zu is not a JSON object (expected ECMWF's index: one object per "
                                               "field with param, levtype, levelist, _offset, _length)", what, line);
            }
            const char *param = json_string(o, "param"), *levtype = json_string(o, "levtype");
            long long lev = 0, off, length, date, time, st;
            int v = -1, r = 0;
            if (param && levtype) {
                for (int k = 0; k < 9 && v < 0; k++)
                    if (!strcmp(param, ecmwf_param[k])) v = k;
                if (v < 0 && !strcmp(param, "z")) v = 0, r = 1; /* z preferred to gh where both are */
            }
            if (v >= 0 && !strcmp(levtype, v < 5 ? "pl" : "sfc") && (v >= 5 || json_long(o, "levelist", &lev))) {
                int slot = field_slot(v, (int)lev);
                if (slot >= 0) {
                    if (!json_long(o, "_offset", &off) || !json_long(o, "_length", &length) || off < 0 || length < 16) {
                        status = util_fail(UTIL_EFORMAT, "%s: line %zu (%s): no valid _offset and _length", what, line, param);
                    } else if (!json_long(o, "date", &date) || !json_long(o, "time", &time) || !json_long(o, "step", &st)) {
                        status = util_fail(UTIL_EFORMAT, "%s: line %zu (%s): no date, time or step (a whole number of hours)",
                                           what, line, param);
                    } else if (date != ymd || time != hh * 100 + mm || st != step) {
                        status = util_fail(UTIL_EFORMAT, "%s: line %zu (%s) is of date %lld time %04lld step %lld, not the run "
                                                         "asked for (%ld %02d%02d step %d)",
                                           what, line, param, date, time, st, ymd, hh, mm, step);
                    } else if (found[slot] && rank[slot] == r) {
                        status = util_fail(UTIL_EFORMAT, "%s: line %zu: %s%s%s appears twice", what, line, param,
                                           v < 5 ? " at " : "", v < 5 ? json_string(o, "levelist") ? json_string(o, "levelist") : "?" : "");
                    } else if (!found[slot] || r > rank[slot]) {
                        out[slot] = (io_fetch_field){v, (int)lev, off, length};
                        found[slot] = 1, rank[slot] = r;
                    }
                }
            }
            cJSON_Delete(o);
        }
        a = b + 1;
    }
    if (status) return status;
    char miss[1024];
    missing_text(found, ecmwf_param, miss, sizeof miss);
    if (miss[0])
        return util_fail(UTIL_EFORMAT, "%s lacks %s: this run does not publish every field Pangu-Weather needs", what, miss);
    qsort(out, IO_FETCH_NFIELDS, sizeof *out, cmp_field);
    for (int i = 1; i < IO_FETCH_NFIELDS; i++)
        if (out[i].offset < out[i - 1].offset + out[i - 1].length)
            return util_fail(UTIL_EFORMAT, "%s: the fields at offsets %lld and %lld overlap", what, out[i - 1].offset,
                             out[i].offset);
    return UTIL_OK;
}

/* A whole non-negative decimal number in [a, b). */
static int parse_ll(const char *a, const char *b, long long *out) {
    if (a >= b || b - a > 18) return 0;
    long long v = 0;
    for (const char *p = a; p < b; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}

int io_fetch_parse_gfs_idx(const char *text, size_t len, double init, int step, const char *what,
                           io_fetch_field out[IO_FETCH_NFIELDS]) {
    int found[IO_FETCH_NFIELDS] = {0}, next_of[IO_FETCH_NFIELDS];
    long ymd;
    int hh, mm;
    date_parts(init, &ymd, &hh, &mm);
    char want_fc[32];
    if (step == 0) snprintf(want_fc, sizeof want_fc, "anl");
    else snprintf(want_fc, sizeof want_fc, "%d hour fcst", step);
    long long prev_off = -1;
    int prev_slot = -1;
    size_t line = 0, nlines = 0;
    for (int i = 0; i < IO_FETCH_NFIELDS; i++) next_of[i] = 0;
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && text[b] != '\n') b++;
        line++;
        size_t e = b;
        if (e > a && text[e - 1] == '\r') e--;
        if (e > a) {
            /* n:offset:d=YYYYMMDDHH:VAR:LEVEL:FORECAST:[...] */
            const char *f[7];
            size_t fl[7];
            int nf = 0;
            const char *p = text + a, *end = text + e;
            while (nf < 7) {
                const char *c = memchr(p, ':', (size_t)(end - p));
                f[nf] = p, fl[nf] = c ? (size_t)(c - p) : (size_t)(end - p);
                nf++;
                if (!c) break;
                p = c + 1;
            }
            long long num, off, d;
            if (nf < 6 || !parse_ll(f[0], f[0] + fl[0], &num) || !parse_ll(f[1], f[1] + fl[1], &off) || fl[2] < 3 ||
                strncmp(f[2], "d=", 2) || !parse_ll(f[2] + 2, f[2] + fl[2], &d))
                return util_fail(UTIL_EFORMAT, "%s: line %zu is not an inventory line (expected n:offset:d=YYYYMMDDHH:VAR:LEVEL:"
                                               "FORECAST:)", what, line);
            if (off <= prev_off)
                return util_fail(UTIL_EFORMAT, "%s: line %zu: offset %lld does not follow %lld", what, line, off, prev_off);
            if (prev_slot >= 0) out[prev_slot].length = off - out[prev_slot].offset, prev_slot = -1;
            if (d != ymd * 100 + hh)
                return util_fail(UTIL_EFORMAT, "%s: line %zu is of the run d=%lld, not the one asked for (%ld%02d)", what, line, d,
                                 ymd, hh);
            prev_off = off;
            nlines++;
            int slot = -1;
            for (int v = 0; v < 9 && slot < 0; v++) {
                if (strlen(ncep_var[v]) != fl[3] || strncmp(f[3], ncep_var[v], fl[3])) continue;
                if (fl[5] != strlen(want_fc) || strncmp(f[5], want_fc, fl[5])) continue;
                if (v < 5) {
                    long long mb;
                    if (fl[4] > 3 && !strncmp(f[4] + fl[4] - 3, " mb", 3) && parse_ll(f[4], f[4] + fl[4] - 3, &mb))
                        slot = field_slot(v, (int)mb);
                } else if (fl[4] == strlen(ncep_level[v]) && !strncmp(f[4], ncep_level[v], fl[4]))
                    slot = field_slot(v, 0);
            }
            if (slot >= 0) {
                if (found[slot])
                    return util_fail(UTIL_EFORMAT, "%s: line %zu: %.*s at %.*s appears twice", what, line, (int)fl[3], f[3],
                                     (int)fl[4], f[4]);
                int v, level;
                slot_field(slot, &v, &level);
                out[slot] = (io_fetch_field){v, level, off, -1};
                found[slot] = 1, prev_slot = slot;
            }
        }
        a = b + 1;
    }
    (void)next_of;
    if (!nlines) return util_fail(UTIL_EFORMAT, "%s is empty", what);
    static const char *const names[9] = {"HGT", "SPFH", "TMP", "UGRD", "VGRD", "PRMSL", "UGRD at 10 m", "VGRD at 10 m",
                                         "TMP at 2 m"};
    char miss[1024];
    missing_text(found, names, miss, sizeof miss);
    if (miss[0])
        return util_fail(UTIL_EFORMAT, "%s lacks %s (as \"%s\"): this file does not hold every field Pangu-Weather needs",
                         what, miss, want_fc);
    qsort(out, IO_FETCH_NFIELDS, sizeof *out, cmp_field);
    return UTIL_OK;
}

int io_fetch_cds_credentials(const char *rc_path, char *url, size_t url_cap, char *key, size_t key_cap, char *where,
                             size_t where_cap) {
    const char *eu = getenv("CDSAPI_URL"), *ek = getenv("CDSAPI_KEY");
    char rc[1024];
    url[0] = key[0] = where[0] = 0;
    if (rc_path) snprintf(rc, sizeof rc, "%s", rc_path);
    else if (getenv("CDSAPI_RC")) snprintf(rc, sizeof rc, "%s", getenv("CDSAPI_RC"));
    else snprintf(rc, sizeof rc, "%s/.cdsapirc", getenv("HOME") ? getenv("HOME") : ".");
    if (eu && *eu) snprintf(url, url_cap, "%s", eu);
    if (ek && *ek) {
        snprintf(key, key_cap, "%s", ek);
        snprintf(where, where_cap, "CDSAPI_KEY");
    }
    if ((!eu || !*eu || !ek || !*ek)) {
        FILE *fp = fopen(rc, "r");
        if (fp) {
            char line[2048];
            while (fgets(line, sizeof line, fp)) {
                char *c = strchr(line, ':');
                if (!c) continue;
                *c = 0;
                char *k = line, *v = c + 1;
                while (*k == ' ' || *k == '\t') k++;
                size_t n = strlen(k);
                while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) k[--n] = 0;
                while (*v == ' ' || *v == '\t') v++;
                n = strlen(v);
                while (n && (v[n - 1] == '\n' || v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t')) v[--n] = 0;
                if (!strcmp(k, "url") && !url[0]) snprintf(url, url_cap, "%s", v);
                else if (!strcmp(k, "key") && !key[0]) {
                    snprintf(key, key_cap, "%s", v);
                    snprintf(where, where_cap, "%s", rc);
                }
            }
            fclose(fp);
        }
    }
    if (!key[0])
        return util_fail(UTIL_EINVAL, "no CDS key: put the lines 'url: https://cds.climate.copernicus.eu/api' and "
                                      "'key: <your personal access token>' (from your CDS profile page) in %s, or set "
                                      "CDSAPI_URL and CDSAPI_KEY, as for the cdsapi client", rc);
    return UTIL_OK;
}

/* Unique sorted strings from the first group of every match of re in body. */
typedef struct {
    char (*s)[32];
    int n, cap;
} strset;

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static int listing_matches(const char *body, size_t len, const char *pattern, strset *out) {
    regex_t re;
    out->n = 0;
    if (regcomp(&re, pattern, REG_EXTENDED)) return 0;
    char *copy = malloc(len + 1);
    if (!copy) {
        regfree(&re);
        return 0;
    }
    memcpy(copy, body, len);
    copy[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (!copy[i]) copy[i] = ' ';
    regmatch_t m[4];
    const char *p = copy;
    while (out->n < out->cap && !regexec(&re, p, 4, m, p == copy ? 0 : REG_NOTBOL)) {
        int g = m[2].rm_so >= 0 ? 2 : 1;
        size_t k = (size_t)(m[g].rm_eo - m[g].rm_so);
        if (k > 0 && k < 32) {
            memcpy(out->s[out->n], p + m[g].rm_so, k);
            out->s[out->n][k] = 0;
            out->n++;
        }
        p += m[0].rm_eo > 0 ? m[0].rm_eo : 1;
        if (!*p) break;
    }
    free(copy);
    regfree(&re);
    qsort(out->s, (size_t)out->n, sizeof out->s[0], cmp_str);
    int u = 0;
    for (int i = 0; i < out->n; i++)
        if (!u || strcmp(out->s[i], out->s[u - 1])) memmove(out->s[u++], out->s[i], sizeof out->s[0]);
    out->n = u;
    return u;
}

int io_fetch_listed_dates(const char *body, size_t len, const char *prefix, long *dates, int cap) {
    char pattern[128], (*buf)[32] = malloc(sizeof *buf * 4096);
    if (!buf) return 0;
    /* gfs.20240301/ or 20240301/ after a non-alphanumeric (href="...", <Prefix>) */
    char esc[32] = "";
    for (size_t i = 0, k = 0; prefix && prefix[i] && k + 3 < sizeof esc; i++) {
        if (prefix[i] == '.') esc[k++] = '\\';
        esc[k++] = prefix[i];
        esc[k] = 0;
    }
    snprintf(pattern, sizeof pattern, "(^|[^0-9A-Za-z._-])%s([0-9]{8})/", esc);
    strset set = {buf, 0, 4096};
    listing_matches(body, len, pattern, &set);
    int n = 0;
    for (int i = 0; i < set.n && n < cap; i++) {
        long d = strtol(set.s[i], NULL, 10), mo = d / 100 % 100, dd = d % 100;
        if (d / 10000 >= 1900 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= 31) dates[n++] = d;
    }
    free(buf);
    return n;
}

/* ---- the run ---- */

typedef struct {
    const io_fetch_spec *sp;
    io_http *http;
    char root[1024];
    int files_written, files_skipped;
    long long bytes;
} ctx;

static void trim_slash(char *s) {
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = 0;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* "a, b, c ... (N in all, from A to B)" of a listing. */
static void list_text(const strset *s, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    int from = s->n > 8 ? s->n - 8 : 0;
    for (int i = from; i < s->n && n + 40 < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%s%s", i > from ? " " : "", s->s[i]);
    if (from > 0 && n + 80 < cap) snprintf(buf + n, cap - n, " (the newest %d of %d, the oldest %s)", s->n - from, s->n, s->s[0]);
}

/* The listing of url matched against pattern; 0 when the server does not list. */
static int list_dir(ctx *c, const char *url, const char *pattern, strset *out) {
    io_http_reply r;
    out->n = 0;
    if (io_http_request(c->http, url, NULL, &r)) return 0;
    int n = r.code == 200 ? listing_matches(r.body, r.len, pattern, out) : 0;
    io_http_reply_free(&r);
    return n;
}

/* 404 (or 403, as S3 mirrors answer for keys that do not exist; 410) */
static int is_missing(long code) { return code == 404 || code == 403 || code == 410; }

/* A missing index: is the data file there without it (nothing can be
 * picked out of it), or is the run missing (which dates, runs and steps
 * the server lists)? */
static int explain_missing(ctx *c, long code, const char *index_url, const char *url, double init, int step) {
    long ymd;
    int hh, mm;
    date_parts(init, &ymd, &hh, &mm);
    int gfs = c->sp->source == IO_FETCH_GFS;
    const char *what = io_http_reason(code);
    long long size = -1;
    if (!io_http_size(c->http, url, &size))
        return util_fail(UTIL_EIO, "%s: %s: the inventory is missing, though its data file %s is there: without the inventory "
                                   "the fields cannot be picked out of it (a mirror that copies the data without the %s files?); "
                                   "try again later or another --url", index_url, what, url, gfs ? ".idx" : ".index");
    char sdate[16], srun[8], list[1024], dir[1400];
    snprintf(sdate, sizeof sdate, "%ld", ymd);
    snprintf(srun, sizeof srun, gfs ? "%02d" : "%02dz", hh);
    char (*buf)[32] = malloc(sizeof *buf * 4096);
    if (!buf) return util_fail(UTIL_ENOMEM, "out of memory");
    strset s = {buf, 0, 4096};
    int status;
    snprintf(dir, sizeof dir, "%s/", c->root);
    if (!list_dir(c, dir, gfs ? "(^|[^0-9A-Za-z._-])gfs\\.([0-9]{8})/" : "(^|[^0-9A-Za-z._-])([0-9]{8})/", &s)) {
        status = util_fail(UTIL_EIO, "%s: %s, and so is its data file: the run of %s %02d UTC (step %d h) is not there: not "
                                     "published yet, or already removed; %s does not list the dates it holds", index_url, what,
                           sdate, hh, step, c->root);
        goto done;
    }
    int have_date = 0;
    for (int i = 0; i < s.n; i++) have_date |= !strcmp(s.s[i], sdate);
    if (!have_date) {
        list_text(&s, list, sizeof list);
        const char *when = strcmp(sdate, s.s[s.n - 1]) > 0 ? "not published yet" : strcmp(sdate, s.s[0]) < 0 ? "already removed from this service" : "not on this service";
        status = util_fail(UTIL_EIO, "%s: %s: no runs of %s at %s (%s); it holds the dates %s", index_url, what, sdate, c->root,
                           when, list);
        goto done;
    }
    snprintf(dir, sizeof dir, "%s/%s%s/", c->root, gfs ? "gfs." : "", sdate);
    if (list_dir(c, dir, gfs ? "(^|[^0-9A-Za-z._-])([0-9]{2})/" : "(^|[^0-9A-Za-z._-])([0-9]{2}z)/", &s)) {
        int have_run = 0;
        for (int i = 0; i < s.n; i++) have_run |= !strcmp(s.s[i], srun);
        if (!have_run) {
            list_text(&s, list, sizeof list);
            status = util_fail(UTIL_EIO, "%s: %s: %s has no %s UTC run of %s (not published yet?); its runs: %s", index_url,
                               what, c->root, srun, sdate, list);
            goto done;
        }
    }
    status = util_fail(UTIL_EIO, "%s: %s, and so is its data file: the %s %02d UTC run is there, step %d h is not (not "
                                 "published yet, or a step this service does not publish)", index_url, what, sdate, hh, step);
done:
    free(buf);
    return status;
}

/* "ifs_2026120100.grib2" or "ifs_2026120100_f024.grib2" */
static void grib_name(const char *prefix, double init, int step, int with_step, char *buf, size_t cap) {
    long ymd;
    int hh, mm;
    date_parts(init, &ymd, &hh, &mm);
    if (with_step) snprintf(buf, cap, "%s_%ld%02d_f%03d.grib2", prefix, ymd, hh, step);
    else snprintf(buf, cap, "%s_%ld%02d.grib2", prefix, ymd, hh);
}

/* GRIB's own total length of the message at buf (16 bytes of header). */
static long long grib_length(const unsigned char *b) {
    if (memcmp(b, "GRIB", 4)) return -1;
    if (b[7] == 2) {
        long long n = 0;
        for (int i = 8; i < 16; i++) n = n * 256 + b[i];
        return n;
    }
    if (b[7] == 1) return ((long long)b[4] << 16) | (b[5] << 8) | b[6];
    return -1;
}

/* Is the field at pos of fp (length bytes) a whole GRIB message of that length? */
static int check_field(FILE *fp, long long pos, long long length) {
    unsigned char head[16], tail[4];
    if (fseeko(fp, pos, SEEK_SET) || fread(head, 1, 16, fp) != 16) return 0;
    if (grib_length(head) != length) return 0;
    if (fseeko(fp, pos + length - 4, SEEK_SET) || fread(tail, 1, 4, fp) != 4) return 0;
    return memcmp(tail, "7777", 4) == 0;
}

/* The reader must take the file: every field decodes, at the valid time. */
static int verify_grib(const char *path, const char *final, double valid) {
    io_grib *g = NULL;
    float *buf = NULL;
    int status = io_grib_open(&g, path);
    if (status) goto done;
    if (!(buf = malloc(sizeof(float) * g->nlat * g->nlon))) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int slot = 0; slot < IO_FETCH_NFIELDS && !status; slot++) {
        int v, level;
        slot_field(slot, &v, &level);
        status = io_grib_read(g, v, level, valid, buf);
    }
done:
    if (status) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", util_last_message());
        status = util_fail(UTIL_EFORMAT, "%s: the downloaded fields do not read as the index says: %s", final, msg);
    }
    free(buf);
    io_grib_close(g);
    return status;
}

static int close_checked(FILE *fp, const char *path) {
    int bad = fflush(fp) != 0;
    int err = errno;
    bad |= fsync(fileno(fp)) != 0;
    if (bad) err = errno;
    if (fclose(fp) != 0 && !bad) bad = 1, err = errno;
    if (bad)
        return util_fail(UTIL_EIO, "%s: cannot write (%s)%s", path, strerror(err),
                         err == ENOSPC || err == EDQUOT || err == EFBIG ? ": the disk is full (or a quota or file-size limit is reached)" : "");
    return UTIL_OK;
}

/* One run (init) and step of ECMWF open data or GFS into one GRIB file. */
static int fetch_grib_step_locked(ctx *c, double init, int step);
/* One job at a time downloads a file (its .part resumes: two jobs would mix
 * their bytes): a second fails at once naming the first's pid. */
static int fetch_grib_step(ctx *c, double init, int step) {
    char name[128], final[2200];
    grib_name(c->sp->source == IO_FETCH_GFS ? "gfs" : "ifs", init, step, c->sp->nleads > 0, name, sizeof name);
    snprintf(final, sizeof final, "%s/%s", c->sp->out, name);
    int status = util_lock_output(final);
    if (status) return status;
    status = fetch_grib_step_locked(c, init, step);
    util_unlock_output(final);
    return status;
}

/* The step's index (url: the GRIB file, index_url: its index), 200 in *r; GFS runs where NCEP's v16 date
 * and Herbie's differ are tried in the other layout too. A missing file is explained. */
static int request_index(ctx *c, double init, int step, char *url, size_t url_size, char *index_url,
                         size_t index_size, io_http_reply *r) {
    int gfs = c->sp->source == IO_FETCH_GFS, status;
    if ((status = io_fetch_grib_urls(c->sp->source, c->root, init, step, url, url_size, index_url, index_size)))
        return status;
    if ((status = io_http_request(c->http, index_url, NULL, r))) return status;
    if (gfs && is_missing(r->code) && init < utc("2021-03-23T00") && gfs_v16(init)) {
        char url2[2048], index2[2100];
        io_http_reply r2;
        if ((status = gfs_urls(c->root, init, step, 0, url2, sizeof url2, index2, sizeof index2)) ||
            (status = io_http_request(c->http, index2, NULL, &r2))) {
            io_http_reply_free(r);
            return status;
        }
        if (r2.code == 200) {
            io_http_reply_free(r);
            *r = r2;
            snprintf(url, url_size, "%s", url2), snprintf(index_url, index_size, "%s", index2);
        } else io_http_reply_free(&r2);
    }
    if (is_missing(r->code)) {
        long code = r->code;
        io_http_reply_free(r);
        return explain_missing(c, code, index_url, url, init, step);
    }
    if (r->code != 200) {
        status = util_fail(UTIL_EIO, "%s: HTTP %s", index_url, io_http_reason(r->code));
        io_http_reply_free(r);
        return status;
    }
    return UTIL_OK;
}

/* The fields' byte ranges from the index (freed here); GFS's last field runs to the end of the file,
 * whose size the server must give. */
static int read_index(ctx *c, io_http_reply *r, double init, int step, const char *url, const char *index_url,
                      io_fetch_field *f) {
    char what[2200];
    int status;
    snprintf(what, sizeof what, "%s", index_url);
    status = c->sp->source == IO_FETCH_GFS ? io_fetch_parse_gfs_idx(r->body, r->len, init, step, what, f)
                                           : io_fetch_parse_ecmwf_index(r->body, r->len, init, step, what, f);
    io_http_reply_free(r);
    if (status) return status;
    io_fetch_field *last = &f[IO_FETCH_NFIELDS - 1];
    if (last->length < 0) {
        long long size;
        if ((status = io_http_size(c->http, url, &size))) return status;
        if (size < 0)
            return util_fail(UTIL_EIO, "%s: the server does not give the file's size, so the length of its last field "
                                       "(%s) is unknown", url, var_label[last->v]);
        last->length = size - last->offset;
        if (last->length < 16)
            return util_fail(UTIL_EFORMAT, "%s: %lld bytes, but its index puts a field at %lld", url, size, last->offset);
    }
    return UTIL_OK;
}

/* The .part file, positioned to resume: the whole, valid fields of an earlier partial file are kept
 * (*first: the first field to fetch), and a field begun if it starts as a GRIB message (*skip: its bytes);
 * *resumed: the bytes kept. */
static int open_part(ctx *c, const char *part, const char *final, const io_fetch_field *f, FILE **fpp, int *first,
                     long long *skip, long long *resumed) {
    FILE *fp = fopen(part, exists(part) ? "r+b" : "w+b");
    if (!fp) return util_fail(UTIL_EIO, "%s: cannot write (%s)", part, strerror(errno));
    long long have = file_size(part), pos = 0;
    *first = 0, *skip = 0;
    while (*first < IO_FETCH_NFIELDS && pos + f[*first].length <= have && check_field(fp, pos, f[*first].length))
        pos += f[*first].length, (*first)++;
    if (*first < IO_FETCH_NFIELDS && have > pos) {
        unsigned char head[4];
        if (fseeko(fp, pos, SEEK_SET) == 0 && have - pos >= 4 && fread(head, 1, 4, fp) == 4 && !memcmp(head, "GRIB", 4) &&
            have - pos < f[*first].length)
            *skip = have - pos;
    }
    if (fflush(fp) || ftruncate(fileno(fp), pos + *skip) || fseeko(fp, pos + *skip, SEEK_SET)) {
        int status = util_fail(UTIL_EIO, "%s: cannot write (%s)", part, strerror(errno));
        fclose(fp);
        unlink(part);
        return status;
    }
    if (pos + *skip > 0)
        io_http_note(c->http, "%s: resuming after %lld bytes (%d whole fields) of an earlier run", final, pos + *skip, *first);
    *fpp = fp, *resumed = pos + *skip;
    return UTIL_OK;
}

/* Fields first.. into fp, consecutive fields in one range request each; *disk when writing failed. */
static int download_fields(ctx *c, const char *url, const char *part, FILE *fp, const io_fetch_field *f, int first,
                           long long skip, int *disk) {
    int status = UTIL_OK;
    for (int i = first; i < IO_FETCH_NFIELDS && !status;) {
        int j = i + 1;
        while (j < IO_FETCH_NFIELDS && f[j].offset == f[j - 1].offset + f[j - 1].length) j++;
        long long from = f[i].offset + skip, len = 0, got = 0;
        for (int k = i; k < j; k++) len += f[k].length;
        status = io_http_get_range(c->http, url, from, len - skip, fp, part, &got);
        if (status && strstr(util_last_message(), "cannot write")) *disk = 1;
        c->bytes += got;
        skip = 0;
        i = j;
    }
    return status;
}

/* Each field against the index: GRIB's own length and end marker. */
static int check_fields(FILE *fp, const io_fetch_field *f, const char *final, const char *url) {
    for (int i = 0; i < IO_FETCH_NFIELDS; i++) {
        long long at = 0;
        for (int k = 0; k < i; k++) at += f[k].length;
        if (fflush(fp) || !check_field(fp, at, f[i].length))
            return util_fail(UTIL_EFORMAT, "%s: %s%s%d from bytes %lld-%lld of %s is not one GRIB message of the %lld bytes its "
                                           "index gives", final, var_label[f[i].v], f[i].v < 5 ? " at " : "",
                             f[i].v < 5 ? f[i].level : 0, f[i].offset, f[i].offset + f[i].length - 1, url, f[i].length);
    }
    return UTIL_OK;
}

/* The complete .part: closed, read back as the fields of this valid time, renamed into place. */
static int commit_part(FILE *fp, const char *part, const char *final, double valid) {
    int status;
    if ((status = close_checked(fp, part)) || (status = verify_grib(part, final, valid))) {
        unlink(part);
        return status;
    }
    if (rename(part, final)) {
        status = util_fail(UTIL_EIO, "%s: cannot rename into place (%s)", final, strerror(errno));
        unlink(part);
        return status;
    }
    return UTIL_OK;
}

static int fetch_grib_step_locked(ctx *c, double init, int step) {
    const io_fetch_spec *sp = c->sp;
    int status = UTIL_OK;
    char name[128], final[2048], part[2048], url[2048], index_url[2100];
    grib_name(sp->source == IO_FETCH_GFS ? "gfs" : "ifs", init, step, sp->nleads > 0, name, sizeof name);
    snprintf(final, sizeof final, "%s/%s", sp->out, name);
    snprintf(part, sizeof part, "%s/.%s.part", sp->out, name);
    if (exists(final)) {
        io_http_note(c->http, "%s exists, skipped", final);
        c->files_skipped++;
        return UTIL_OK;
    }
    io_http_reply r;
    io_fetch_field f[IO_FETCH_NFIELDS];
    if ((status = request_index(c, init, step, url, sizeof url, index_url, sizeof index_url, &r)) ||
        (status = read_index(c, &r, init, step, url, index_url, f)))
        return status;
    long long total = 0;
    for (int i = 0; i < IO_FETCH_NFIELDS; i++) total += f[i].length > 0 ? f[i].length : 0;
    FILE *fp = NULL;
    int first = 0, disk = 0;
    long long skip = 0, resumed = 0;
    if ((status = open_part(c, part, final, f, &fp, &first, &skip, &resumed))) return status;
    io_http_progress_add(c->http, total - resumed);
    io_http_progress_label(c->http, name);
    status = download_fields(c, url, part, fp, f, first, skip, &disk);
    if (!status && (status = check_fields(fp, f, final, url))) disk = 1; /* nothing to resume from */
    if (status) {
        fclose(fp);
        /* keep it only when a rerun can finish it */
        if (disk || !io_http_resumable(c->http) || file_size(part) <= 0) unlink(part);
        else io_http_note(c->http, "the partial download is kept as %s: rerun to resume", part);
        return status;
    }
    if ((status = commit_part(fp, part, final, init + step * 3600.0))) return status;
    io_http_progress_line(c->http, 1);
    io_http_note(c->http, "wrote %s (%d fields, %.1f MB)", final, IO_FETCH_NFIELDS, total / 1e6);
    c->files_written++;
    return UTIL_OK;
}

/* ---- the CDS ---- */

typedef struct {
    const char *dataset, *prefix;
    int upper;
} cds_dataset;

static const cds_dataset cds_sets[2] = {{"reanalysis-era5-pressure-levels", "era5_pl", 1},
                                        {"reanalysis-era5-single-levels", "era5_sfc", 0}};

static const char *const cds_vars_pl[5] = {"geopotential", "specific_humidity", "temperature", "u_component_of_wind",
                                           "v_component_of_wind"};
static const char *const cds_vars_sfc[4] = {"mean_sea_level_pressure", "10m_u_component_of_wind", "10m_v_component_of_wind",
                                            "2m_temperature"};

/* The JSON body {"inputs": {...}} of one request. */
static char *cds_body(const cds_dataset *ds, const int *years, int ny, const int *months, int nm, const int *days, int nd,
                      const int *hours, int nh, int grib) {
    cJSON *root = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(root, "inputs");
    char buf[16];
    cJSON *a;
    if (!in) goto fail;
    a = cJSON_AddArrayToObject(in, "product_type");
    cJSON_AddItemToArray(a, cJSON_CreateString("reanalysis"));
    a = cJSON_AddArrayToObject(in, "variable");
    for (int i = 0; i < (ds->upper ? 5 : 4); i++) cJSON_AddItemToArray(a, cJSON_CreateString(ds->upper ? cds_vars_pl[i] : cds_vars_sfc[i]));
    if (ds->upper) {
        a = cJSON_AddArrayToObject(in, "pressure_level");
        for (int k = 0; k < IO_FETCH_NLEVELS; k++) {
            snprintf(buf, sizeof buf, "%d", io_fetch_levels[k]);
            cJSON_AddItemToArray(a, cJSON_CreateString(buf));
        }
    }
    const struct {
        const char *key, *fmt;
        const int *x;
        int n;
    } lists[4] = {{"year", "%04d", years, ny}, {"month", "%02d", months, nm}, {"day", "%02d", days, nd}, {"time", "%02d:00", hours, nh}};
    for (int l = 0; l < 4; l++) {
        a = cJSON_AddArrayToObject(in, lists[l].key);
        for (int i = 0; i < lists[l].n; i++) {
            snprintf(buf, sizeof buf, lists[l].fmt, lists[l].x[i]);
            cJSON_AddItemToArray(a, cJSON_CreateString(buf));
        }
    }
    cJSON_AddStringToObject(in, "data_format", grib ? "grib" : "netcdf");
    cJSON_AddStringToObject(in, "download_format", "unarchived");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* "title: detail" of a CDS error body (or its first characters). */
static void cds_error_text(const io_http_reply *r, char *buf, size_t cap) {
    cJSON *o = r->body ? cJSON_ParseWithLength(r->body, r->len) : NULL;
    const char *title = o ? json_string(o, "title") : NULL, *detail = o ? json_string(o, "detail") : NULL;
    if (!title && o) title = json_string(o, "message");
    if (title || detail) snprintf(buf, cap, "%s%s%s", title ? title : "", title && detail ? ": " : "", detail ? detail : "");
    else {
        size_t k = 0;
        for (size_t i = 0; r->body && i < r->len && k + 1 < cap && k < 200; i++)
            buf[k++] = r->body[i] == '\n' || r->body[i] == '\r' ? ' ' : r->body[i];
        buf[k] = 0;
    }
    cJSON_Delete(o);
}

static int cds_refused(ctx *c, const io_http_reply *r, const char *url, const char *key_where, const char *key,
                       const char *dataset) {
    char detail[600];
    cds_error_text(r, detail, sizeof detail);
    if (r->code == 401)
        return util_fail(UTIL_EINVAL, "%s: 401 Unauthorized: the CDS does not accept the key from %s%s%s%s: use the personal "
                                      "access token of your CDS profile page%s", url, key_where, detail[0] ? " (" : "", detail,
                         detail[0] ? ")" : "",
                         strchr(key, ':') ? "; keys of the form UID:KEY are those of the CDS before 2024" : "");
    if (r->code == 403) {
        char site[1024];
        snprintf(site, sizeof site, "%s", c->root);
        size_t n = strlen(site);
        if (n > 4 && !strcmp(site + n - 4, "/api")) site[n - 4] = 0;
        return util_fail(UTIL_EINVAL, "%s: 403 Forbidden: the CDS refuses the key from %s for %s%s%s%s: accept the dataset's "
                                      "licence on its download page (%s/datasets/%s?tab=download) with the same account", url,
                         key_where, dataset, detail[0] ? " (" : "", detail, detail[0] ? ")" : "", site, dataset);
    }
    return util_fail(UTIL_EIO, "%s: HTTP %s%s%s", url, io_http_reason(r->code), detail[0] ? ": " : "", detail);
}

/* Write text to path through a temporary name. */
static int write_small(const char *path, const char *text) {
    char tmp[2100];
    if (fmt(tmp, sizeof tmp, "%s.tmp", path)) return UTIL_EINVAL;
    FILE *fp = fopen(tmp, "w");
    if (!fp) return util_fail(UTIL_EIO, "%s: cannot write (%s)", tmp, strerror(errno));
    fputs(text, fp);
    int status = close_checked(fp, tmp);
    if (!status && rename(tmp, path)) status = util_fail(UTIL_EIO, "%s: cannot rename (%s)", path, strerror(errno));
    if (status) unlink(tmp);
    return status;
}

static int read_small(const char *path, char *buf, size_t cap) {
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = fread(buf, 1, cap - 1, fp);
    fclose(fp);
    buf[n] = 0;
    buf[strcspn(buf, "\r\n")] = 0;
    return n > 0;
}

/* Does the file hold every one of the times (seconds since 1970)? */
static int holds_times(const char *path, const double *times, int n, char *why, size_t cap) {
    io_series *s = NULL;
    const char *p = path;
    why[0] = 0;
    if (io_series_open(&s, &p, 1)) {
        snprintf(why, cap, "%s", util_last_message());
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        int found = 0;
        for (size_t k = 0; k < io_series_ntimes(s) && !found; k++) found = fabs(io_series_time(s, k) - times[i]) < 0.5;
        if (!found) {
            char when[64];
            util_time_format(times[i], when, sizeof when);
            snprintf(why, cap, "it has no time %s", when);
            ok = 0;
        }
    }
    io_series_close(s);
    return ok;
}

/* The job's monitor URL from a status reply. */
static int job_url_of(ctx *c, const io_http_reply *r, char *out, size_t cap) {
    cJSON *o = cJSON_ParseWithLength(r->body, r->len);
    int ok = 0;
    const cJSON *links = o ? cJSON_GetObjectItemCaseSensitive(o, "links") : NULL, *l;
    cJSON_ArrayForEach(l, links) {
        const char *rel = json_string(l, "rel"), *href = json_string(l, "href");
        if (rel && href && (!strcmp(rel, "monitor") || (!ok && !strcmp(rel, "self"))) && !fmt(out, cap, "%s", href)) ok = 1;
    }
    const char *id = o ? json_string(o, "jobID") : NULL;
    if (!ok && id && !fmt(out, cap, "%s/retrieve/v1/jobs/%s", c->root, id)) ok = 1;
    cJSON_Delete(o);
    return ok;
}

static void sleep_s(double s) {
    if (!(s > 0)) return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* An href resolved against the URL of the reply that gave it, as the
 * official client does (ecmwf-datastores-client processing.py,
 * Results.location: urllib.parse.urljoin(response.url, href)): absolute
 * as it is, "/path" on base's scheme and host, else beside base's last
 * path segment. */
static int resolve(const char *base, const char *href, char *out, size_t cap) {
    if (strstr(href, "://")) return fmt(out, cap, "%s", href);
    const char *host = strstr(base, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL;
    size_t n = path ? (size_t)(path - base) : strlen(base);
    if (href[0] == '/') return fmt(out, cap, "%.*s%s", (int)n, base, href);
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash) return fmt(out, cap, "%s/%s", base, href);
    return fmt(out, cap, "%.*s%s", (int)(slash + 1 - base), base, href);
}

/* One CDS request in progress: the dataset, the file and the job. */
typedef struct {
    ctx *c;
    const cds_dataset *ds;
    const char *name, *key, *key_where;
    char final[2048], part[2100], jobfile[2100], job[2048];
} cds_call;

/* A reply the CDS refused (cds_refused), freed. */
static int cds_refusal(cds_call *q, io_http_reply *r, const char *url) {
    int status = cds_refused(q->c, r, url, q->key_where, q->key, q->ds->dataset);
    io_http_reply_free(r);
    return status;
}

/* The job of an earlier run (its URL in the job file), when the CDS still
 * knows it. */
static int cds_resume_job(cds_call *q) {
    io_http_reply r = {0};
    int status;
    if (!read_small(q->jobfile, q->job, sizeof q->job)) return UTIL_OK;
    if ((status = io_http_request(q->c->http, q->job, NULL, &r))) return status;
    if (r.code != 200) {
        io_http_note(q->c->http, "the CDS no longer knows job %s (HTTP %s): submitting again", q->job, io_http_reason(r.code));
        q->job[0] = 0;
        unlink(q->jobfile);
    } else io_http_note(q->c->http, "%s: continuing CDS job %s of an earlier run", q->name, q->job);
    io_http_reply_free(&r);
    return UTIL_OK;
}

/* A new job for the request; its URL kept in the job file so that a rerun
 * continues it. */
static int cds_submit(cds_call *q, const int *years, int ny, const int *months, int nm, const int *days, int nd, const int *hours,
                      int nh) {
    ctx *c = q->c;
    io_http_reply r = {0};
    char url[2100];
    char *body = cds_body(q->ds, years, ny, months, nm, days, nd, hours, nh, c->sp->grib);
    if (!body) return util_fail(UTIL_ENOMEM, "out of memory");
    snprintf(url, sizeof url, "%s/retrieve/v1/processes/%s/execution", c->root, q->ds->dataset);
    int status = io_http_request(c->http, url, body, &r);
    free(body);
    if (status) return status;
    if (r.code != 200 && r.code != 201 && r.code != 202) return cds_refusal(q, &r, url);
    int named = job_url_of(c, &r, q->job, sizeof q->job);
    io_http_reply_free(&r);
    if (!named)
        return util_fail(UTIL_EFORMAT, "%s: the CDS accepted the request but its reply names no job (no jobID, no "
                                       "monitor link)", url);
    if ((status = write_small(q->jobfile, q->job))) return status;
    io_http_note(c->http, "%s: CDS job %s submitted", q->name, q->job);
    return UTIL_OK;
}

/* The job's status ("accepted", "running", "successful", ...) into state. */
static int cds_job_state(cds_call *q, char *state, size_t cap) {
    io_http_reply r = {0};
    int status = io_http_request(q->c->http, q->job, NULL, &r);
    if (status) return status;
    if (r.code != 200) {
        status = cds_refusal(q, &r, q->job);
        if (strstr(util_last_message(), "404")) unlink(q->jobfile);
        return status;
    }
    cJSON *o = cJSON_ParseWithLength(r.body, r.len);
    const char *st = o ? json_string(o, "status") : NULL;
    snprintf(state, cap, "%s", st ? st : "");
    cJSON_Delete(o);
    io_http_reply_free(&r);
    return state[0] ? UTIL_OK : util_fail(UTIL_EFORMAT, "%s: the job's reply has no status", q->job);
}

/* Polls until the job is successful, with back-off (x1.5 up to
 * backoff_max, as cdsapi); a failed, dismissed or rejected job is an error
 * with the reason its results give. */
static int cds_wait(cds_call *q) {
    const io_fetch_spec *sp = q->c->sp;
    double wait = sp->backoff > 0 ? sp->backoff : 1, t0 = util_now(), t_note = t0;
    char last[32] = "", state[32];
    int status;
    for (;;) {
        if ((status = cds_job_state(q, state, sizeof state))) return status;
        if (!strcmp(state, "successful")) return UTIL_OK;
        if (strcmp(state, "accepted") && strcmp(state, "running")) {
            char detail[600] = "", url[2100];
            io_http_reply r = {0};
            snprintf(url, sizeof url, "%s/results", q->job);
            if (!io_http_request(q->c->http, url, NULL, &r)) cds_error_text(&r, detail, sizeof detail);
            io_http_reply_free(&r);
            unlink(q->jobfile);
            return util_fail(UTIL_EIO, "%s: the CDS job for %s is %s%s%s", q->job, q->name, state, detail[0] ? ": " : "", detail);
        }
        if (strcmp(state, last) || util_now() - t_note > 60) {
            io_http_note(q->c->http, "%s: CDS job %s after %.0f s", q->name, state, util_now() - t0);
            snprintf(last, sizeof last, "%s", state);
            t_note = util_now();
        }
        sleep_s(wait);
        wait = fmin(wait * 1.5, sp->backoff_max > 0 ? sp->backoff_max : 120);
    }
}

/* The finished job's download link and size (-1 when not given). */
static int cds_result(cds_call *q, char *link, size_t cap, long long *size) {
    io_http_reply r = {0};
    char url[2100];
    snprintf(url, sizeof url, "%s/results", q->job);
    int status = io_http_request(q->c->http, url, NULL, &r);
    if (status) return status;
    if (r.code != 200) return cds_refusal(q, &r, url);
    cJSON *o = cJSON_ParseWithLength(r.body, r.len);
    const cJSON *value = o ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "asset"), "value") : NULL;
    const char *href = value ? json_string(value, "href") : NULL;
    *size = -1;
    if (value && !json_long(value, "file:size", size)) *size = -1;
    status = href ? resolve(url, href, link, cap)
                  : util_fail(UTIL_EFORMAT, "%s: the job's results name no asset to download (asset.value.href)", url);
    cJSON_Delete(o);
    io_http_reply_free(&r);
    return status;
}

/* The downloaded file is one file of the format asked, holding the times
 * asked. */
static int cds_check_file(cds_call *q, const char *link, const double *times, int nt) {
    int grib = q->c->sp->grib;
    unsigned char magic[4] = {0};
    char why[1024];
    FILE *t = fopen(q->part, "rb");
    size_t n = t ? fread(magic, 1, 4, t) : 0;
    if (t) fclose(t);
    int nc = n == 4 && (!memcmp(magic, "CDF\001", 4) || !memcmp(magic, "CDF\002", 4) || !memcmp(magic, "\211HDF", 4));
    int gr = n == 4 && !memcmp(magic, "GRIB", 4);
    if (n == 4 && !memcmp(magic, "PK\003\004", 4))
        return util_fail(UTIL_EFORMAT, "%s: the CDS delivered a zip archive, not one %s file", link, grib ? "GRIB" : "NetCDF");
    if (grib ? !gr : !nc)
        return util_fail(UTIL_EFORMAT, "%s: the CDS delivered neither %s (first bytes %02x %02x %02x %02x)", link,
                         grib ? "GRIB" : "NetCDF", magic[0], magic[1], magic[2], magic[3]);
    if (!holds_times(q->part, times, nt, why, sizeof why))
        return util_fail(UTIL_EFORMAT, "%s: the CDS result does not read as asked: %s", q->final, why);
    return UTIL_OK;
}

/* The result into the .part file, continuing an earlier run's partial
 * download; a download cut off (not a write error) is kept to resume, a
 * bad one removed. *have and *got: bytes there before and after. */
static int cds_download(cds_call *q, const char *link, long long size, const double *times, int nt, long long *have,
                        long long *got) {
    ctx *c = q->c;
    *have = exists(q->part) ? file_size(q->part) : 0;
    FILE *fp = fopen(q->part, *have > 0 ? "r+b" : "w+b");
    if (!fp) return util_fail(UTIL_EIO, "%s: cannot write (%s)", q->part, strerror(errno));
    if (*have > 0) {
        if (size >= 0 && *have > size) *have = 0;
        if (fseeko(fp, *have, SEEK_SET) || ftruncate(fileno(fp), *have)) {
            fclose(fp);
            return util_fail(UTIL_EIO, "%s: cannot write (%s)", q->part, strerror(errno));
        }
        if (*have > 0) io_http_note(c->http, "%s: resuming after %lld bytes of an earlier run", q->final, *have);
    }
    io_http_progress_add(c->http, size > *have ? size - *have : 0);
    io_http_progress_label(c->http, q->name);
    *got = *have;
    int status = UTIL_OK;
    /* all there already (the earlier run stopped before checking it): nothing to ask for */
    if (size < 0 || *have < size) status = io_http_get_file(c->http, link, fp, q->part, *have, size, got);
    int keep = status && !strstr(util_last_message(), "cannot write") && io_http_resumable(c->http);
    if (!status) status = close_checked(fp, q->part);
    else fclose(fp);
    if (!status) {
        status = cds_check_file(q, link, times, nt);
        keep = 0;
    }
    if (status) {
        if (keep && file_size(q->part) > 0) io_http_note(c->http, "the partial download is kept as %s: rerun to resume", q->part);
        else unlink(q->part);
    }
    return status;
}

/* One CDS request: submit (or pick up the job of an earlier run), poll,
 * download, check, rename. */
static int cds_request(ctx *c, const cds_dataset *ds, const char *name, const double *times, int nt, const int *years, int ny,
                       const int *months, int nm, const int *days, int nd, const int *hours, int nh, const char *key,
                       const char *key_where) {
    const io_fetch_spec *sp = c->sp;
    cds_call q = {c, ds, name, key, key_where, "", "", "", ""};
    char why[1024], link[2048];
    long long size, have, got;
    int status;
    snprintf(q.final, sizeof q.final, "%s/%s", sp->out, name);
    snprintf(q.part, sizeof q.part, "%s/.%s.part", sp->out, name);
    snprintf(q.jobfile, sizeof q.jobfile, "%s/.%s.job", sp->out, name);
    if (exists(q.final)) {
        if (holds_times(q.final, times, nt, why, sizeof why)) {
            io_http_note(c->http, "%s exists, skipped", q.final);
            c->files_skipped++;
            return UTIL_OK;
        }
        return util_fail(UTIL_EINVAL, "%s exists but is not this request's (%s): move it away or fetch into another --out",
                         q.final, why);
    }
    if ((status = cds_resume_job(&q))) return status;
    if (!q.job[0] && (status = cds_submit(&q, years, ny, months, nm, days, nd, hours, nh))) return status;
    if ((status = cds_wait(&q)) || (status = cds_result(&q, link, sizeof link, &size)) ||
        (status = cds_download(&q, link, size, times, nt, &have, &got)))
        return status;
    if (rename(q.part, q.final)) {
        status = util_fail(UTIL_EIO, "%s: cannot rename into place (%s)", q.final, strerror(errno));
        unlink(q.part);
        return status;
    }
    unlink(q.jobfile);
    c->bytes += got - have;
    io_http_progress_line(c->http, 1);
    io_http_note(c->http, "wrote %s (%d times, %.1f MB)", q.final, nt, got / 1e6);
    c->files_written++;
    return UTIL_OK;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static int uniq(int *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_int);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (!u || x[i] != x[u - 1]) x[u++] = x[i];
    return u;
}

static int fetch_cds(ctx *c) {
    const io_fetch_spec *sp = c->sp;
    char url[1024], key[1024], where[1100], header[1200];
    int status = io_fetch_cds_credentials(NULL, url, sizeof url, key, sizeof key, where, sizeof where);
    if (status) return status;
    if (sp->url && sp->url[0]) snprintf(c->root, sizeof c->root, "%s", sp->url);
    else if (url[0]) snprintf(c->root, sizeof c->root, "%s", url);
    else snprintf(c->root, sizeof c->root, "%s", io_fetch_default_url(IO_FETCH_CDS));
    trim_slash(c->root);
    if (strlen(c->root) > 900) return util_fail(UTIL_EINVAL, "the CDS URL is longer than 900 characters");
    snprintf(header, sizeof header, "PRIVATE-TOKEN: %s", key);
    if ((status = io_http_set_token(c->http, c->root, header))) return status;
    int n = sp->ntimes;
    double *t = malloc(sizeof(double) * n);
    int *days = malloc(sizeof(int) * n), *hours = malloc(sizeof(int) * n), *done = calloc((size_t)n, sizeof(int));
    if (!t || !days || !hours || !done) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto out;
    }
    /* one request per month when the times are every hour asked on every day
     * asked (the CDS crosses year, month, day and time), else one per day */
    for (int i = 0; i < n && !status; i++) {
        if (done[i]) continue;
        int y, mo, d, h, mi, s, nd = 0, nh = 0, nt = 0;
        util_time_fields(sp->times[i], &y, &mo, &d, &h, &mi, &s);
        for (int k = i; k < n; k++) {
            int y2, mo2, d2, h2;
            util_time_fields(sp->times[k], &y2, &mo2, &d2, &h2, &mi, &s);
            if (y2 == y && mo2 == mo && !done[k]) days[nd++] = d2, hours[nh++] = h2, t[nt++] = sp->times[k];
        }
        nd = uniq(days, nd), nh = uniq(hours, nh);
        int cross = nd * nh == nt;
        if (!cross) { /* the day of times[i] alone */
            nt = nh = 0, nd = 1, days[0] = d;
            for (int k = i; k < n; k++) {
                int y2, mo2, d2, h2;
                util_time_fields(sp->times[k], &y2, &mo2, &d2, &h2, &mi, &s);
                if (y2 == y && mo2 == mo && d2 == d && !done[k]) hours[nh++] = h2, t[nt++] = sp->times[k];
            }
            nh = uniq(hours, nh);
        }
        for (int k = i; k < n; k++)
            for (int q = 0; q < nt; q++)
                if (fabs(sp->times[k] - t[q]) < 0.5) done[k] = 1;
        static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int month_len = mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100) || y % 400 == 0));
        char stamp[32];
        if (nd == month_len) snprintf(stamp, sizeof stamp, "%04d%02d", y, mo);
        else if (nd == 1) snprintf(stamp, sizeof stamp, "%04d%02d%02d", y, mo, days[0]);
        else snprintf(stamp, sizeof stamp, "%04d%02d%02d-%04d%02d%02d", y, mo, days[0], y, mo, days[nd - 1]);
        for (int q = 0; q < 2 && !status; q++) {
            char name[128];
            snprintf(name, sizeof name, "%s_%s.%s", cds_sets[q].prefix, stamp, sp->grib ? "grib" : "nc");
            char final[2300];
            snprintf(final, sizeof final, "%s/%s", sp->out, name);
            if ((status = util_lock_output(final))) break; /* one job at a time per file (see fetch_grib_step) */
            status = cds_request(c, &cds_sets[q], name, t, nt, &y, 1, &mo, 1, days, nd, hours, nh, key, where);
            util_unlock_output(final);
        }
    }
out:
    free(t), free(days), free(hours), free(done);
    return status;
}

int io_fetch_run(const io_fetch_spec *sp) {
    struct stat st;
    if (sp->ntimes < 1) return util_fail(UTIL_EINVAL, "no times to fetch (--time)");
    if (sp->out && strlen(sp->out) > 900) return util_fail(UTIL_EINVAL, "--out is longer than 900 characters");
    if (!sp->out || stat(sp->out, &st) || !S_ISDIR(st.st_mode) || access(sp->out, W_OK))
        return util_fail(UTIL_EIO, "%s: the output directory is missing or not writable", sp->out ? sp->out : "(none)");
    if (sp->source == IO_FETCH_CDS && sp->nleads)
        return util_fail(UTIL_EINVAL, "--leads: the CDS source fetches ERA5 analyses, not forecasts "
                                      "(forecasts: --source ecmwf-opendata or gfs)");
    for (int i = 0; i < sp->ntimes; i++) {
        long ymd;
        int hh, mm;
        date_parts(sp->times[i], &ymd, &hh, &mm);
        if (mm || fmod(sp->times[i], 60.0) != 0) {
            char when[64];
            util_time_format(sp->times[i], when, sizeof when);
            return util_fail(UTIL_EINVAL, "--time %s: the services publish whole hours", when);
        }
    }
    for (int i = 0; i < sp->nleads; i++)
        if (sp->leads[i] < 0) return util_fail(UTIL_EINVAL, "--leads: %d h is negative", sp->leads[i]);
    if (sp->source == IO_FETCH_ECMWF_OPENDATA) {
        const char *root = sp->url && sp->url[0] ? sp->url : io_fetch_default_url(sp->source);
        char host[256], u[2048], iu[2100];
        url_host(root, host, sizeof host);
        size_t n = strlen(host), k = strlen(".blob.core.windows.net");
        /* ecmwf-opendata client.py: source "azure" gets a token first (Client._get_azure_sas_token) */
        if (n >= k && !strcmp(host + n - k, ".blob.core.windows.net"))
            return util_fail(UTIL_EINVAL, "--url %s: the Azure mirror of ECMWF open data needs a Planetary Computer SAS token, "
                                          "which pangu fetch does not get; use ECMWF's own root, the AWS mirror "
                                          "https://ecmwf-forecasts.s3.eu-central-1.amazonaws.com or Google's "
                                          "https://storage.googleapis.com/ecmwf-open-data", root);
        /* runs of another product refused before any request */
        for (int i = 0; i < sp->ntimes; i++) {
            int status = io_fetch_grib_urls(sp->source, "", sp->times[i], 0, u, sizeof u, iu, sizeof iu);
            if (status) return status;
        }
    }
    ctx c = {0};
    c.sp = sp;
    io_http_opts o = {sp->retries, sp->backoff, sp->backoff_max, sp->timeout, sp->deadline, sp->rate_limit};
    int status = io_http_open(&c.http, &o);
    if (status) return status;
    double t0 = util_now();
    if (sp->source == IO_FETCH_CDS) status = fetch_cds(&c);
    else {
        const char *root = sp->url && sp->url[0] ? sp->url : io_fetch_default_url(sp->source);
        if (strlen(root) > 900) status = util_fail(UTIL_EINVAL, "--url is longer than 900 characters");
        snprintf(c.root, sizeof c.root, "%s", root);
        trim_slash(c.root);
        for (int i = 0; i < sp->ntimes && !status; i++)
            for (int k = 0; k < (sp->nleads ? sp->nleads : 1) && !status; k++)
                status = fetch_grib_step(&c, sp->times[i], sp->nleads ? sp->leads[k] : 0);
    }
    if (!status) io_http_summary(c.http, c.files_written, c.files_skipped, c.bytes, t0);
    io_http_close(c.http);
    return status;
}

#endif
