/* trackeval: scores of cyclone tracks against a best track (pangu eval
 * --tracks). The geometry is the sphere of radius 6371 km; the signs of the
 * along- and cross-track errors are the Met Office's ("Tropical cyclone
 * forecast verification - measures of error", metoffice.gov.uk/research/
 * weather/tropical-cyclones/verification/summaries/appendix, after Heming
 * 2016, Meteorol. Appl.): along-track positive when the forecast lies ahead
 * of the observed position, cross-track positive right of the observed
 * track in the northern hemisphere and left of it in the southern. */
#define _DEFAULT_SOURCE
#include "trackeval.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/util.h"
#include "besttrack.h"

#define DEG (M_PI / 180.0)

double trackeval_distance_km(double lat1, double lon1, double lat2, double lon2) {
    double p1 = lat1 * DEG, p2 = lat2 * DEG;
    double sp = sin((p2 - p1) / 2), sl = sin((lon2 - lon1) * DEG / 2);
    double a = sp * sp + cos(p1) * cos(p2) * sl * sl;
    return 2 * TRACKEVAL_EARTH_RADIUS_KM * asin(fmin(1.0, sqrt(a)));
}

double trackeval_bearing_deg(double lat1, double lon1, double lat2, double lon2) {
    double p1 = lat1 * DEG, p2 = lat2 * DEG, dl = (lon2 - lon1) * DEG;
    double y = sin(dl) * cos(p2), x = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl);
    if (fabs(x) < 1e-15 && fabs(y) < 1e-15) return NAN;
    double b = atan2(y, x) / DEG;
    return b < 0 ? b + 360 : b;
}

/* The error vector is the direct position error along the bearing from the
 * observed to the forecast position; its components along the motion and
 * to its right give the two errors (their squares sum to the DPE's). */
void trackeval_along_cross(double obs_lat, double obs_lon, double heading_deg, double fc_lat, double fc_lon,
                           double *along_km, double *cross_km) {
    double d = trackeval_distance_km(obs_lat, obs_lon, fc_lat, fc_lon);
    double b = trackeval_bearing_deg(obs_lat, obs_lon, fc_lat, fc_lon);
    if (!isfinite(heading_deg)) {
        *along_km = *cross_km = NAN;
        return;
    }
    if (!isfinite(b)) { /* the forecast on the observed position */
        *along_km = *cross_km = 0;
        return;
    }
    double rel = (b - heading_deg) * DEG;
    *along_km = d * cos(rel);
    *cross_km = d * sin(rel) * (obs_lat < 0 ? -1 : 1);
}

void trackeval_rows_free(trackeval_rows *r) {
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* ---- tracks.csv */

enum { C_SOURCE, C_SID, C_NAME, C_BASIN, C_INIT, C_LEAD, C_VALID, C_LAT, C_LON, C_MSL, C_WIND, NCOLS };
static const char *const column_names[NCOLS] = {"source",     "sid", "name", "basin",      "init_time",    "lead_hours",
                                                 "valid_time", "lat", "lon",  "msl_min_pa", "wind10_max_ms"};
#define COLUMNS_TEXT "source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms"

/* Split a line at commas in place (a field in double quotes may hold commas;
 * "" inside it is a quote); the count, or -1 for a broken quote. */
static int split_fields(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return max + 1;
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"' && p[1] == '"') *w++ = '"', p += 2;
                else if (*p == '"') break;
                else *w++ = *p++;
            }
            *w = 0;
            p++;
            if (*p && *p != ',') return -1;
        } else {
            f[n++] = p;
            p += strcspn(p, ",");
        }
        if (!*p) return n;
        *p++ = 0;
    }
}

/* The column of each required name in the header (idx), strictly. */
static int find_columns(const char *path, char *header, int *idx, int *nfields) {
    char *f[256];
    int n = split_fields(header, f, 256);
    if (n < 0 || n > 256) return util_fail(UTIL_EFORMAT, "%s: header line is not a CSV header of at most 256 columns", path);
    for (int c = 0; c < NCOLS; c++) {
        idx[c] = -1;
        for (int k = 0; k < n; k++)
            if (!strcmp(f[k], column_names[c])) {
                if (idx[c] >= 0) return util_fail(UTIL_EFORMAT, "%s: column '%s' twice in the header", path, column_names[c]);
                idx[c] = k;
            }
        if (idx[c] < 0)
            return util_fail(UTIL_EFORMAT, "%s: no column '%s' in the header (expected the columns " COLUMNS_TEXT ")", path,
                             column_names[c]);
    }
    *nfields = n;
    return UTIL_OK;
}

static int copy_text(char *dst, size_t cap, const char *text, const char *path, int line, int col, int required) {
    if (required && !*text) return util_fail(UTIL_EFORMAT, "%s line %d: %s is empty", path, line, column_names[col]);
    if (strlen(text) >= cap)
        return util_fail(UTIL_EFORMAT, "%s line %d: %s '%.40s...' longer than %zu characters", path, line, column_names[col],
                         text, cap - 1);
    memcpy(dst, text, strlen(text) + 1);
    return UTIL_OK;
}

/* A number in [lo, hi]; optional ones may be empty or "nan" (missing: NAN). */
static int parse_number(const char *text, double lo, double hi, int optional, double *out, const char *path, int line,
                        int col) {
    if (optional && (!*text || !strcasecmp(text, "nan"))) {
        *out = NAN;
        return UTIL_OK;
    }
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !isfinite(v) || v < lo || v > hi)
        return util_fail(UTIL_EFORMAT, "%s line %d: %s '%s': expected a number in [%g, %g]%s", path, line, column_names[col],
                         text, lo, hi, optional ? " or an empty field" : "");
    *out = v;
    return UTIL_OK;
}

static int parse_time(const char *text, double *out, const char *path, int line, int col) {
    if (util_time_parse(text, out))
        return util_fail(UTIL_EFORMAT, "%s line %d: %s '%s': expected a time YYYY-MM-DDTHH:MM:SS", path, line,
                         column_names[col], text);
    return UTIL_OK;
}

/* One data line into *row. */
static int parse_row(char **f, const int *idx, const char *path, int line, trackeval_row *row) {
    int status;
    memset(row, 0, sizeof *row);
    row->file = path, row->line = line;
    if ((status = copy_text(row->source, sizeof row->source, f[idx[C_SOURCE]], path, line, C_SOURCE, 1)) ||
        (status = copy_text(row->sid, sizeof row->sid, f[idx[C_SID]], path, line, C_SID, 1)) ||
        (status = copy_text(row->name, sizeof row->name, f[idx[C_NAME]], path, line, C_NAME, 0)) ||
        (status = copy_text(row->basin, sizeof row->basin, f[idx[C_BASIN]], path, line, C_BASIN, 0)) ||
        (status = parse_time(f[idx[C_INIT]], &row->init, path, line, C_INIT)) ||
        (status = parse_number(f[idx[C_LEAD]], 0, 1e5, 0, &row->lead_hours, path, line, C_LEAD)) ||
        (status = parse_time(f[idx[C_VALID]], &row->valid, path, line, C_VALID)) ||
        (status = parse_number(f[idx[C_LAT]], -90, 90, 0, &row->lat, path, line, C_LAT)) ||
        (status = parse_number(f[idx[C_LON]], -180, 360, 0, &row->lon, path, line, C_LON)) ||
        (status = parse_number(f[idx[C_MSL]], 1, 2e5, 1, &row->msl_pa, path, line, C_MSL)) ||
        (status = parse_number(f[idx[C_WIND]], 0, 500, 1, &row->wind_ms, path, line, C_WIND)))
        return status;
    if (fabs(row->init + row->lead_hours * 3600 - row->valid) > 0.5)
        return util_fail(UTIL_EFORMAT, "%s line %d: valid_time %s is not init_time %s + lead_hours %s", path, line,
                         f[idx[C_VALID]], f[idx[C_INIT]], f[idx[C_LEAD]]);
    return UTIL_OK;
}

static int append_row(trackeval_rows *out, const trackeval_row *row) {
    if (out->n == out->cap) {
        int cap = out->cap ? 2 * out->cap : 1024;
        trackeval_row *p = realloc(out->rows, sizeof *p * (size_t)cap);
        if (!p) return util_fail(UTIL_ENOMEM, "out of memory reading the tracks");
        out->rows = p, out->cap = cap;
    }
    out->rows[out->n++] = *row;
    return UTIL_OK;
}

int trackeval_read_tracks(const char *path, trackeval_rows *out) {
    FILE *f = fopen(path, "r");
    if (!f) return util_fail(UTIL_EIO, "--tracks %s: cannot read", path);
    char *line = NULL, *fields[257];
    size_t cap = 0;
    int idx[NCOLS], nfields = 0, lineno = 0, status = UTIL_OK, before = out->n;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0 && !status) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (lineno == 1) {
            status = find_columns(path, line, idx, &nfields);
            continue;
        }
        if (!len) continue;
        int n = split_fields(line, fields, 256);
        if (n != nfields) {
            status = util_fail(UTIL_EFORMAT, "%s line %d: %d fields where the header has %d", path, lineno, n < 0 ? 0 : n,
                               nfields);
            break;
        }
        trackeval_row row;
        if (!(status = parse_row(fields, idx, path, lineno, &row))) status = append_row(out, &row);
    }
    if (!status && ferror(f)) status = util_fail(UTIL_EIO, "--tracks %s: read error", path);
    if (!status && lineno == 0) status = util_fail(UTIL_EFORMAT, "%s: empty file (expected the header " COLUMNS_TEXT ")", path);
    else if (!status && out->n == before) status = util_fail(UTIL_EFORMAT, "%s: a header and no tracks", path);
    free(line);
    fclose(f);
    return status;
}

/* ---- scoring */

static int cmp_text(const char *a, const char *b) { return strcmp(a, b); }
static int cmp_num(double a, double b) { return (a > b) - (a < b); }

/* Order (sid, init, lead, source): a case's rows next to each other. */
static int cmp_case(const void *pa, const void *pb) {
    const trackeval_row *a = *(trackeval_row *const *)pa, *b = *(trackeval_row *const *)pb;
    int c = cmp_text(a->sid, b->sid);
    if (!c) c = cmp_num(a->init, b->init);
    if (!c) c = cmp_num(a->lead_hours, b->lead_hours);
    if (!c) c = cmp_text(a->source, b->source);
    if (!c) c = cmp_text(a->file, b->file); /* (duplicates: named in the order they were read) */
    if (!c) c = (a->line > b->line) - (a->line < b->line);
    return c;
}

/* The errors of one row; 0 when the best track does not span its valid time. */
static int score_row(trackeval_row *w, trackeval_obs_fn obs, void *ctx) {
    trackeval_fix at, before, after;
    int has = obs(ctx, w->sid, w->valid, &at);
    if (has <= 0) return has;
    int hb = obs(ctx, w->sid, w->valid - TRACKEVAL_HEADING_HOURS * 3600, &before);
    int ha = obs(ctx, w->sid, w->valid + TRACKEVAL_HEADING_HOURS * 3600, &after);
    if (hb < 0 || ha < 0) return -1;
    const trackeval_fix *from = hb ? &before : &at, *to = ha ? &after : &at;
    double heading = trackeval_bearing_deg(from->lat, from->lon, to->lat, to->lon);
    w->scored = 1;
    w->dpe_km = trackeval_distance_km(at.lat, at.lon, w->lat, w->lon);
    trackeval_along_cross(at.lat, at.lon, heading, w->lat, w->lon, &w->along_km, &w->cross_km);
    w->msl_error_hpa = w->msl_pa / 100 - at.msl_hpa;
    w->wind_error_ms = w->wind_ms - at.wind_ms;
    return 1;
}

/* The number of sources: distinct names over the rows sorted by case (each case's rows are sorted by source). */
static int count_sources(trackeval_row *const *s, int n) {
    const char *seen[64];
    int ns = 0, overflow = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < ns && strcmp(seen[k], s[i]->source)) k++;
        if (k < ns) continue;
        if (ns < 64) seen[ns++] = s[i]->source;
        else overflow = 1;
    }
    return overflow ? -1 : ns;
}

/* Mark the sample over rows sorted by case: every scored row, or the cases
 * every source scored. A source's case twice is an error. */
static int mark_sample(trackeval_row **s, int n, int nsources, int heterogeneous) {
    for (int a = 0; a < n;) {
        int b = a + 1, scored = s[a]->scored;
        for (; b < n && !cmp_text(s[a]->sid, s[b]->sid) && s[a]->init == s[b]->init && s[a]->lead_hours == s[b]->lead_hours;
             b++) {
            if (!strcmp(s[b]->source, s[b - 1]->source)) {
                char t[32];
                util_time_format(s[b]->init, t, sizeof t);
                return util_fail(UTIL_EFORMAT, "%s line %d: source %s, storm %s, init %s, lead %g h also at %s line %d",
                                 s[b]->file, s[b]->line, s[b]->source, s[b]->sid, t, s[b]->lead_hours, s[b - 1]->file,
                                 s[b - 1]->line);
            }
            scored += s[b]->scored;
        }
        for (int k = a; k < b; k++) s[k]->in_sample = s[k]->scored && (heterogeneous || scored == nsources);
        a = b;
    }
    return UTIL_OK;
}

int trackeval_score_rows(trackeval_rows *r, trackeval_obs_fn obs, void *ctx, int heterogeneous) {
    trackeval_row **s = malloc(sizeof *s * (size_t)(r->n ? r->n : 1));
    if (!s) return util_fail(UTIL_ENOMEM, "out of memory scoring the tracks");
    int status = UTIL_OK;
    for (int i = 0; i < r->n && !status; i++) {
        s[i] = &r->rows[i];
        if (score_row(s[i], obs, ctx) < 0) status = UTIL_EFORMAT; /* (obs set the message) */
    }
    if (!status) {
        qsort(s, (size_t)r->n, sizeof *s, cmp_case);
        int nsources = count_sources(s, r->n);
        if (nsources < 0) status = util_fail(UTIL_EINVAL, "--tracks: more than 64 sources");
        else status = mark_sample(s, r->n, nsources, heterogeneous);
    }
    free(s);
    return status;
}

/* ---- aggregation */

static int cmp_double(const void *a, const void *b) { return cmp_num(*(const double *)a, *(const double *)b); }

static double mean_of(const trackeval_row *const *g, int n, size_t offset) {
    double sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)g[i] + offset);
        if (isfinite(v)) sum += v, k++;
    }
    return k ? sum / k : NAN;
}

/* The score of one source and lead from its sample rows g (n of them). */
static int score_group(const trackeval_row *const *g, int n, trackeval_score *s) {
    s->n = n;
    s->dpe_mean_km = s->dpe_median_km = NAN;
    s->along_mean_km = mean_of(g, n, offsetof(trackeval_row, along_km));
    s->cross_mean_km = mean_of(g, n, offsetof(trackeval_row, cross_km));
    s->msl_error_mean_hpa = mean_of(g, n, offsetof(trackeval_row, msl_error_hpa));
    s->wind_error_mean_ms = mean_of(g, n, offsetof(trackeval_row, wind_error_ms));
    if (!n) return UTIL_OK;
    double *d = malloc(sizeof *d * (size_t)n);
    if (!d) return util_fail(UTIL_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) d[i] = g[i]->dpe_km;
    s->dpe_mean_km = mean_of(g, n, offsetof(trackeval_row, dpe_km));
    qsort(d, (size_t)n, sizeof *d, cmp_double);
    s->dpe_median_km = n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
    free(d);
    return UTIL_OK;
}

/* Sources in order of appearance and the sorted distinct leads. */
static int list_sources_leads(const trackeval_rows *r, const char ***src, int *ns, double **leads, int *nl) {
    *src = malloc(sizeof **src * (size_t)(r->n + 1));
    *leads = malloc(sizeof **leads * (size_t)(r->n + 1));
    if (!*src || !*leads) return util_fail(UTIL_ENOMEM, "out of memory");
    *ns = *nl = 0;
    for (int i = 0; i < r->n; i++) {
        int k = 0;
        while (k < *ns && strcmp((*src)[k], r->rows[i].source)) k++;
        if (k == *ns) (*src)[(*ns)++] = r->rows[i].source;
        k = 0;
        while (k < *nl && (*leads)[k] != r->rows[i].lead_hours) k++;
        if (k == *nl) (*leads)[(*nl)++] = r->rows[i].lead_hours;
    }
    qsort(*leads, (size_t)*nl, sizeof **leads, cmp_double);
    return UTIL_OK;
}

int trackeval_aggregate(const trackeval_rows *r, trackeval_score **scores, int *nscores) {
    const char **src = NULL;
    double *leads = NULL;
    const trackeval_row **g = NULL;
    int ns = 0, nl = 0, status = list_sources_leads(r, &src, &ns, &leads, &nl);
    *scores = NULL, *nscores = 0;
    if (status) goto done;
    g = malloc(sizeof *g * (size_t)(r->n + 1));
    *scores = calloc((size_t)(ns * nl + 1), sizeof **scores);
    if (!g || !*scores) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < ns && !status; k++)
        for (int l = 0; l < nl && !status; l++) {
            int n = 0, present = 0;
            for (int i = 0; i < r->n; i++) {
                const trackeval_row *w = &r->rows[i];
                if (strcmp(w->source, src[k]) || w->lead_hours != leads[l]) continue;
                present = 1;
                if (w->in_sample) g[n++] = w;
            }
            if (!present) continue;
            trackeval_score *s = &(*scores)[(*nscores)++];
            snprintf(s->source, sizeof s->source, "%s", src[k]);
            s->lead_hours = leads[l];
            status = score_group(g, n, s);
        }
done:
    free(src), free(leads), free(g);
    if (status) free(*scores), *scores = NULL, *nscores = 0;
    return status;
}

/* ---- the CSV */

static void put_value(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, ",%.3f", v);
    else fputc(',', f); /* nothing to average: an empty field */
}

int trackeval_write_scores_tmp(const char *path, const trackeval_score *s, int n, char *tmp, size_t cap) {
    int status = util_output_begin(path, tmp, cap);
    if (status) return status;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "--output %s: cannot write", path);
    }
    fprintf(f, "source,lead_hours,n,dpe_mean_km,dpe_median_km,along_track_mean_km,cross_track_mean_km,msl_error_mean_hpa,"
               "wind_error_mean_ms\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s,%g,%d", s[i].source, s[i].lead_hours, s[i].n);
        put_value(f, s[i].dpe_mean_km), put_value(f, s[i].dpe_median_km), put_value(f, s[i].along_mean_km);
        put_value(f, s[i].cross_mean_km), put_value(f, s[i].msl_error_mean_hpa), put_value(f, s[i].wind_error_mean_ms);
        fputc('\n', f);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) {
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "--output %s: cannot write (disk full?)", path);
    }
    return UTIL_OK;
}

int trackeval_write_scores(const char *path, const trackeval_score *s, int n) {
    char tmp[4200];
    int status = trackeval_write_scores_tmp(path, s, n, tmp, sizeof tmp);
    return status ? status : util_output_commit(path, tmp);
}

/* ---- pangu eval --tracks */

/* The best tracks (forecast tracks of an a-deck left out) and the storm found last. */
typedef struct {
    besttrack_set set;
    const char *path;
    int last;
} best_tracks;

static const besttrack_storm *find_storm(best_tracks *b, const char *sid) {
    if (b->last >= 0 && !strcasecmp(b->set.storm[b->last].sid, sid)) return &b->set.storm[b->last];
    for (int pass = 0; pass < 2; pass++) /* the SID, else the ATCF identifier */
        for (int i = 0; i < b->set.n; i++) {
            const besttrack_storm *s = &b->set.storm[i];
            /* (spur tracks duplicate a main one and share its ATCF id; pangu track skips them too) */
            if (isfinite(s->init) || s->spur || strcasecmp(pass ? s->atcf : s->sid, sid)) continue;
            b->last = i;
            return s;
        }
    return NULL;
}

static int observed(void *ctx, const char *sid, double t, trackeval_fix *fix) {
    best_tracks *b = ctx;
    const besttrack_storm *s = find_storm(b, sid);
    if (!s) {
        util_fail(UTIL_EFORMAT, "storm %s is not in the best track %s", sid, b->path);
        return -1;
    }
    double msl = NAN, wind = NAN;
    if (!besttrack_position(s, t, &fix->lat, &fix->lon, &msl, &wind)) return 0;
    fix->msl_hpa = msl / 100, fix->wind_ms = wind;
    return 1;
}

static int whole_track(void *ctx, const char *sid, double **lat, double **lon, double **time, int *n) {
    const besttrack_storm *s = find_storm(ctx, sid);
    *n = 0;
    if (!s) return UTIL_OK;
    *lat = malloc(sizeof(double) * (size_t)(s->n + 1)), *lon = malloc(sizeof(double) * (size_t)(s->n + 1));
    *time = malloc(sizeof(double) * (size_t)(s->n + 1));
    if (!*lat || !*lon || !*time) return util_fail(UTIL_ENOMEM, "out of memory");
    for (int i = 0; i < s->n; i++) (*lat)[i] = s->pt[i].lat, (*lon)[i] = s->pt[i].lon, (*time)[i] = s->pt[i].time;
    *n = s->n;
    return UTIL_OK;
}

/* Every storm of the tracks in the best track: a missing one is most likely the wrong best-track file. */
static int check_storms(const trackeval_rows *r, best_tracks *b) {
    for (int i = 0; i < r->n; i++)
        if (!find_storm(b, r->rows[i].sid))
            return util_fail(UTIL_EFORMAT, "%s line %d: storm %s is not in the best track %s (expected an IBTrACS SID or ATCF id)",
                             r->rows[i].file, r->rows[i].line, r->rows[i].sid, b->path);
    return UTIL_OK;
}

static void summary(const trackeval_config *cfg, const trackeval_rows *r, int nscores) {
    int scored = 0, sample = 0;
    for (int i = 0; i < r->n; i++) scored += r->rows[i].scored, sample += r->rows[i].in_sample;
    printf("pangu eval --tracks: %d tracked positions, %d with a best-track position, %d in the %s sample; %d scores in %s\n",
           r->n, scored, sample, cfg->heterogeneous ? "heterogeneous" : "homogeneous", nscores, cfg->output);
}

int trackeval_run(const trackeval_config *cfg) {
    trackeval_rows rows = {0};
    best_tracks best = {{0}, cfg->best_track, -1};
    trackeval_score *scores = NULL;
    int nscores = 0, status = UTIL_OK;
    if (!cfg->ntracks) return util_fail(UTIL_EINVAL, "--tracks: no files");
    for (int k = 0; k < cfg->ntracks && !status; k++) status = trackeval_read_tracks(cfg->tracks[k], &rows);
    if (!status) status = besttrack_read(cfg->best_track, &best.set);
    if (!status) status = check_storms(&rows, &best);
    if (!status) status = trackeval_score_rows(&rows, observed, &best, cfg->heterogeneous);
    if (!status) status = trackeval_aggregate(&rows, &scores, &nscores);
    /* the CSV stays a temporary until the report is complete too */
    char tmp[4200];
    int csv_pending = !status && !(status = trackeval_write_scores_tmp(cfg->output, scores, nscores, tmp, sizeof tmp));
    if (!status && cfg->report) {
        trackeval_report_spec spec = {cfg->report, cfg->output, &rows, scores, nscores, whole_track, &best, cfg->heterogeneous};
        status = trackeval_report(&spec);
    }
    if (csv_pending && status) util_output_abort(cfg->output, tmp);
    else if (csv_pending) status = util_output_commit(cfg->output, tmp);
    if (!status && !cfg->quiet) summary(cfg, &rows, nscores);
    free(scores);
    besttrack_free(&best.set);
    trackeval_rows_free(&rows);
    return status;
}
