/* track_run: pangu track over forecast files (eval_fc_*: every layout pangu
 * eval reads), storms from a best track, rows into tracks.csv and a-decks. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/util.h"
#include "besttrack.h"
#include "eval.h"
#include "track.h"

#define GRAVITY 9.80665
#define RD 287.05 /* J kg-1 K-1, dry air */

enum { V_Z = 0, V_T = 2, V_U = 3, V_V = 4, V_MSL = 5, V_U10 = 6, V_V10 = 7 };

typedef struct {
    char source[136], sid[32], name[64], basin[4], atcf[12];
    double init, lead, valid, lat, lon, msl, wind;
    int member; /* -1: deterministic */
} track_row;

/* one forecast: files sharing an initial time, or one initial time of a file */
typedef struct {
    const char **files;
    int nfiles;
    double init;
    long init_index; /* -1: a file holding one initial time */
    int own;         /* a pangu or WeatherBench 2 file: a forecast by itself */
} fc_job;

/* a storm followed through one forecast member */
typedef struct {
    const besttrack_storm *storm; /* NULL: --start */
    int n, alive;
    double *t, *lat, *lon; /* the track so far */
} follow;

typedef struct {
    const track_config *cfg;
    besttrack_set bt;
    besttrack_storm start;
    track_params prm;
    float *land;
    int H, W;
    track_row *rows;
    int nrows, caprows;
    int warned_land, warned_absent;
} run;

/* ---- forecasts ---- */

static int add_job(fc_job **jobs, int *n, int *cap, const char *path, double init, long index, int own) {
    for (int q = 0; q < *n && !own; q++)
        if (!(*jobs)[q].own && fabs((*jobs)[q].init - init) < 0.5) {
            const char **f = realloc((*jobs)[q].files, sizeof *f * (size_t)((*jobs)[q].nfiles + 1));
            if (!f) return util_fail(UTIL_ENOMEM, "out of memory");
            f[(*jobs)[q].nfiles++] = path;
            (*jobs)[q].files = f;
            return UTIL_OK;
        }
    if (*n == *cap) {
        fc_job *g = realloc(*jobs, sizeof *g * (size_t)(*cap = *cap ? 2 * *cap : 16));
        if (!g) return util_fail(UTIL_ENOMEM, "out of memory");
        *jobs = g;
    }
    const char **f = malloc(sizeof *f);
    if (!f) return util_fail(UTIL_ENOMEM, "out of memory");
    f[0] = path;
    (*jobs)[(*n)++] = (fc_job){f, 1, init, index, own};
    return UTIL_OK;
}

/* pangu and WeatherBench 2 files are forecasts by themselves (one per
 * initial time they hold); other files sharing an initial time are one. */
static int list_forecasts(const track_config *cfg, fc_job **jobs, int *n) {
    int cap = 0, status = UTIL_OK;
    *jobs = NULL, *n = 0;
    for (int i = 0; i < cfg->nfiles && !status; i++) {
        double *inits = NULL;
        int native = 0, found = eval_fc_peek(cfg->files[i], &inits, &native);
        if (found < 0) status = UTIL_EFORMAT;
        else if (!found && isnan(cfg->init))
            status = util_fail(UTIL_EFORMAT, "%s: cannot tell the initial time (no forecast_reference_time, init_time "
                               "attribute or GRIB dataDate/dataTime): give it with --init T", cfg->files[i]);
        for (int k = 0; k < (found ? found : 1) && !status; k++)
            status = add_job(jobs, n, &cap, cfg->files[i], found ? inits[k] : cfg->init, found > 1 ? k : -1, native);
        free(inits);
    }
    return status;
}

static void free_jobs(fc_job *jobs, int n) {
    for (int q = 0; q < n; q++) free(jobs[q].files);
    free(jobs);
}

static int has_level(const eval_fc_info *in, float level) {
    for (int k = 0; k < in->nlev; k++)
        if (fabsf(in->levels[k] - level) < 0.01f) return 1;
    return 0;
}

/* What the forecast must hold: msl, u and v at 850 hPa; z (or t) at 850
 * and 200 hPa for the thickness (asked for before any storm needs it, so
 * that a run never fails halfway); u10, v10 for the wind column and the
 * land test, when present. */
static int check_fields(const char *path, const eval_fc_info *in, int *use_t) {
    const char *missing = !in->has[V_MSL] ? "msl"
                        : !in->has[V_U] || !has_level(in, 850) ? "u at 850 hPa"
                        : !in->has[V_V] ? "v at 850 hPa"
                                        : NULL;
    if (missing) return util_fail(UTIL_EFORMAT, "%s: no %s (pangu track needs msl, u and v at 850 hPa)", path, missing);
    *use_t = -1;
    if (in->has[V_Z] && has_level(in, 850) && has_level(in, 200)) *use_t = 0;
    else if (in->has[V_T] && has_level(in, 850) && has_level(in, 200)) *use_t = 1;
    else
        return util_fail(UTIL_EFORMAT, "%s: no z (nor t) at 850 and 200 hPa (pangu track needs the 850-200 hPa thickness "
                         "for storms poleward of 30 degrees)", path);
    return UTIL_OK;
}

/* Only what the tracker uses is read: msl, u and v at 850 hPa, z at 850 and
 * 200 hPa (or t at the levels from 850 to 200), u10 and v10 when present;
 * not q or t2m, not the other levels. Whole fields, not a region round each
 * storm: every storm of a forecast is looked for in the same fields, and a
 * GRIB message or a NetCDF chunk (one latitude-longitude slab in pangu's
 * files) is decoded whole whatever part of it is used. */
static int select_fields(eval_fc *fc, const eval_fc_info *in, int use_t) {
    int want[IO_NUPPER + IO_NSURFACE] = {0}, nlev = 0;
    float lev[IO_MAX_LEVELS], only[IO_NUPPER + IO_NSURFACE] = {0};
    want[V_MSL] = want[V_U] = want[V_V] = 1;
    only[V_U] = only[V_V] = 850;
    want[use_t ? V_T : V_Z] = 1;
    want[V_U10] = want[V_V10] = in->has[V_U10] && in->has[V_V10];
    for (int k = 0; k < in->nlev; k++)
        if (use_t ? in->levels[k] >= 199.99f && in->levels[k] <= 850.01f
                  : fabsf(in->levels[k] - 850) < 0.01f || fabsf(in->levels[k] - 200) < 0.01f)
            lev[nlev++] = in->levels[k];
    return eval_fc_only(fc, want, only, lev, nlev);
}

/* One line, once a run, on the optional fields a forecast lacks. */
static void warn_absent(const char *path, const eval_fc_info *in, int use_t, int *warned) {
    int no_wind = !(in->has[V_U10] && in->has[V_V10]);
    if (*warned || (!no_wind && !use_t)) return;
    *warned = 1;
    util_warn("%s: no %s%s%s", path, no_wind ? "u10, v10 (wind10_max_ms left empty, no 10 m wind test over land)" : "",
              no_wind && use_t ? "; no " : "", use_t ? "z (the 850-200 hPa thickness from t)" : "");
}

/* 850-200 hPa thickness (m): from z, or from t by the hypsometric equation
 * over the levels between, the layer temperature the mean of its two ends. */
static int read_thickness(eval_fc *fc, const eval_fc_info *in, int step, int member, int use_t, float *out, float *tmp,
                          float *tmp2) {
    size_t HW = (size_t)in->H * in->W;
    int status;
    if (!use_t) {
        if ((status = eval_fc_read(fc, step, member, V_Z, 850, tmp, NULL, NULL)) ||
            (status = eval_fc_read(fc, step, member, V_Z, 200, out, NULL, NULL)))
            return status;
        for (size_t i = 0; i < HW; i++) out[i] = (float)((out[i] - tmp[i]) / GRAVITY);
        return UTIL_OK;
    }
    float lev[64];
    int n = 0;
    for (int k = 0; k < in->nlev && n < 64; k++)
        if (in->levels[k] >= 199.99f && in->levels[k] <= 850.01f) lev[n++] = in->levels[k];
    for (int a = 0; a < n; a++) /* descending pressure */
        for (int b = a + 1; b < n; b++)
            if (lev[b] > lev[a]) {
                float x = lev[a];
                lev[a] = lev[b], lev[b] = x;
            }
    for (size_t i = 0; i < HW; i++) out[i] = 0;
    if ((status = eval_fc_read(fc, step, member, V_T, lev[0], tmp, NULL, NULL))) return status;
    for (int k = 1; k < n; k++) {
        if ((status = eval_fc_read(fc, step, member, V_T, lev[k], tmp2, NULL, NULL))) return status;
        double w = RD / GRAVITY * log((double)lev[k - 1] / lev[k]);
        for (size_t i = 0; i < HW; i++) out[i] += (float)(w * 0.5 * ((double)tmp[i] + tmp2[i])), tmp[i] = tmp2[i];
    }
    return UTIL_OK;
}

/* ---- storms ---- */

static int basin_selected(const track_config *cfg, const besttrack_storm *s) {
    if (!cfg->basins) return 1;
    char list[256];
    snprintf(list, sizeof list, "%s", cfg->basins);
    for (char *b = strtok(list, ","); b; b = strtok(NULL, ","))
        if (!strcasecmp(b, s->basin)) return 1;
    return 0;
}

static int storm_selected(const track_config *cfg, const besttrack_storm *s, double init) {
    int k = besttrack_find_time(s, init);
    if (k < 0 || !besttrack_is_tropical(s, &s->pt[k]) || s->spur || !basin_selected(cfg, s) || !isnan(s->init)) return 0;
    if (!cfg->nstorms) return 1;
    for (int i = 0; i < cfg->nstorms; i++)
        if (!strcasecmp(cfg->storms[i], s->sid) || (s->name[0] && !strcasecmp(cfg->storms[i], s->name)) ||
            (s->atcf[0] && !strcasecmp(cfg->storms[i], s->atcf)))
            return 1;
    return 0;
}

/* the track so far at the initial time: the best track 6 h before (for the motion) and at it */
static int follow_start(follow *fw, const besttrack_storm *s, const run *R, double init, int nsteps) {
    fw->storm = s, fw->n = 0, fw->alive = 1;
    fw->t = malloc(sizeof(double) * (size_t)(nsteps + 2) * 3);
    if (!fw->t) return util_fail(UTIL_ENOMEM, "out of memory");
    fw->lat = fw->t + nsteps + 2, fw->lon = fw->lat + nsteps + 2;
    double lat, lon;
    if (!s) {
        fw->t[0] = init, fw->lat[0] = R->cfg->start_lat, fw->lon[0] = R->cfg->start_lon, fw->n = 1;
        return UTIL_OK;
    }
    if (besttrack_position(s, init - 6 * 3600.0, &lat, &lon, NULL, NULL))
        fw->t[fw->n] = init - 6 * 3600.0, fw->lat[fw->n] = lat, fw->lon[fw->n++] = lon;
    besttrack_position(s, init, &lat, &lon, NULL, NULL);
    fw->t[fw->n] = init, fw->lat[fw->n] = lat, fw->lon[fw->n++] = lon;
    return UTIL_OK;
}

static int add_row(run *R, const follow *fw, double init, double lead, double valid, int member, const track_fix *fix) {
    if (R->nrows == R->caprows) {
        track_row *g = realloc(R->rows, sizeof *g * (size_t)(R->caprows = R->caprows ? 2 * R->caprows : 256));
        if (!g) return util_fail(UTIL_ENOMEM, "out of memory");
        R->rows = g;
    }
    track_row *r = &R->rows[R->nrows++];
    const besttrack_storm *s = fw->storm ? fw->storm : &R->start;
    memset(r, 0, sizeof *r);
    if (member < 0) snprintf(r->source, sizeof r->source, "%s", R->cfg->name);
    else snprintf(r->source, sizeof r->source, "%s_m%02d", R->cfg->name, member);
    snprintf(r->sid, sizeof r->sid, "%s", s->sid);
    snprintf(r->name, sizeof r->name, "%s", s->name);
    snprintf(r->basin, sizeof r->basin, "%s", s->basin);
    snprintf(r->atcf, sizeof r->atcf, "%s", s->atcf);
    for (char *c = r->name; *c; c++)
        if (*c == ',' || *c == '"') *c = ' ';
    r->init = init, r->lead = lead, r->valid = valid, r->member = member;
    r->lat = fix->lat, r->lon = fix->lon, r->msl = fix->msl, r->wind = fix->wind10;
    return UTIL_OK;
}

/* ---- one forecast ---- */

typedef struct {
    float *msl, *u, *v, *thick, *u10, *v10, *tmp, *tmp2;
    double *lat, *lon;
} step_fields;

static int read_step(eval_fc *fc, const eval_fc_info *in, int step, int member, int use_t, step_fields *s) {
    int status;
    if ((status = eval_fc_read(fc, step, member, V_MSL, 0, s->msl, s->lat, s->lon)) ||
        (status = eval_fc_read(fc, step, member, V_U, 850, s->u, NULL, NULL)) ||
        (status = eval_fc_read(fc, step, member, V_V, 850, s->v, NULL, NULL)))
        return status;
    if (use_t >= 0 && (status = read_thickness(fc, in, step, member, use_t, s->thick, s->tmp, s->tmp2))) return status;
    if (in->has[V_U10] && in->has[V_V10] &&
        ((status = eval_fc_read(fc, step, member, V_U10, 0, s->u10, NULL, NULL)) ||
         (status = eval_fc_read(fc, step, member, V_V10, 0, s->v10, NULL, NULL))))
        return status;
    return UTIL_OK;
}

static int alloc_step(step_fields *s, int H, int W) {
    size_t HW = (size_t)H * W;
    float *block = malloc(sizeof(float) * HW * 8);
    s->lat = malloc(sizeof(double) * ((size_t)H + W));
    if (!block || !s->lat) {
        free(block), free(s->lat);
        return util_fail(UTIL_ENOMEM, "out of memory for the fields of a %d x %d grid", H, W);
    }
    s->lon = s->lat + H;
    float **f[8] = {&s->msl, &s->u, &s->v, &s->thick, &s->u10, &s->v10, &s->tmp, &s->tmp2};
    for (int k = 0; k < 8; k++) *f[k] = block + (size_t)k * HW;
    return UTIL_OK;
}

static int cmp_lead(const void *a, const void *b) {
    const double *x = *(const double *const *)a, *y = *(const double *const *)b;
    return (*x > *y) - (*x < *y);
}

/* Every storm of the forecast through its steps in lead order, one member. */
static int follow_member(run *R, eval_fc *fc, const eval_fc_info *in, int member, int use_t, follow *fw, int nfw,
                         step_fields *sf, const double **order) {
    track_fields tf = {in->H, in->W, sf->lat, sf->lon, sf->msl, sf->u, sf->v, use_t >= 0 ? sf->thick : NULL,
                       in->has[V_U10] && in->has[V_V10] ? sf->u10 : NULL, in->has[V_U10] && in->has[V_V10] ? sf->v10 : NULL,
                       R->land};
    int status = UTIL_OK;
    for (int k = 0; k < in->nsteps && !status; k++) {
        int step = (int)(order[k] - in->lead), alive = 0;
        for (int s = 0; s < nfw; s++) alive += fw[s].alive;
        if (!alive) break;
        if (in->lead[step] < 0) continue;
        if ((status = read_step(fc, in, step, member, use_t, sf))) break;
        double valid = in->valid[step];
        for (int s = 0; s < nfw && !status; s++) {
            follow *w = &fw[s];
            if (!w->alive) continue;
            double glat, glon;
            track_fix fix;
            int same = fabs(w->t[w->n - 1] - valid) < 0.5;
            track_first_guess(w->t, w->lat, w->lon, same ? w->n - 1 : w->n, valid, &glat, &glon);
            if (same) glat = w->lat[w->n - 1], glon = w->lon[w->n - 1];
            int found = track_find_centre(&tf, &R->prm, glat, glon, &fix);
            if (found < 0) status = UTIL_EINVAL;
            else if (!found) w->alive = 0;
            else {
                int at = same ? w->n - 1 : w->n++;
                w->t[at] = valid, w->lat[at] = fix.lat, w->lon[at] = fix.lon;
                status = add_row(R, w, in->init, in->lead[step], valid, in->members ? member : -1, &fix);
            }
        }
    }
    return status;
}

static int land_mask(run *R, const eval_fc_info *in, const char *path) {
    if (R->land) {
        if (in->H != R->H || in->W != R->W)
            return util_fail(UTIL_EFORMAT, "%s: grid %d x %d, but the land-sea mask was read on %d x %d", path, in->H, in->W,
                             R->H, R->W);
        return UTIL_OK;
    }
    if (!R->cfg->land_sea_mask) {
        if (!R->warned_land && !R->cfg->quiet)
            util_warn("no --land-sea-mask: every point counts as sea (the 10 m wind test over land is not made)");
        R->warned_land = 1;
        return UTIL_OK;
    }
    R->H = in->H, R->W = in->W;
    if (!(R->land = malloc(sizeof(float) * (size_t)in->H * in->W))) return util_fail(UTIL_ENOMEM, "out of memory");
    int status = io_read_field(R->cfg->land_sea_mask, "lsm", in->H, in->W, R->land);
    if (status && strstr(util_last_message(), "no variable"))
        status = io_read_field(R->cfg->land_sea_mask, "land_sea_mask", in->H, in->W, R->land);
    if (status && strstr(util_last_message(), "no variable"))
        status = util_fail(UTIL_EFORMAT, "%s: no variable lsm or land_sea_mask (the land-sea mask, land fraction 0..1)",
                           R->cfg->land_sea_mask);
    for (size_t i = 0; !status && i < (size_t)in->H * in->W; i++)
        if (!(R->land[i] >= 0 && R->land[i] <= 1))
            status = util_fail(UTIL_EFORMAT, "%s: land-sea mask value %g outside 0..1", R->cfg->land_sea_mask, R->land[i]);
    if (status) free(R->land), R->land = NULL;
    return status;
}

static int track_forecast(run *R, const fc_job *jb) {
    eval_fc *fc = NULL;
    follow *fw = NULL;
    const double **order = NULL;
    step_fields sf = {0};
    int nfw = 0, use_t = -1, status = eval_fc_open_at(&fc, jb->files, jb->nfiles, jb->init, jb->init_index);
    if (status) return status;
    const eval_fc_info *in = eval_fc_describe(fc);
    int nst = R->cfg->has_start ? 1 : R->bt.n;
    if ((status = check_fields(jb->files[0], in, &use_t)) || (status = select_fields(fc, in, use_t)) ||
        (status = land_mask(R, in, jb->files[0])))
        goto done;
    if (!R->cfg->quiet) warn_absent(jb->files[0], in, use_t, &R->warned_absent);
    fw = calloc((size_t)nst, sizeof *fw);
    order = malloc(sizeof *order * (size_t)in->nsteps);
    if (!fw || !order) {
        status = util_fail(UTIL_ENOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < in->nsteps; k++) order[k] = &in->lead[k];
    qsort(order, (size_t)in->nsteps, sizeof *order, cmp_lead);
    if ((status = alloc_step(&sf, in->H, in->W))) goto done;
    for (int m = 0; m < (in->members ? in->members : 1) && !status; m++) {
        nfw = 0;
        for (int s = 0; s < nst && !status; s++) {
            const besttrack_storm *st = R->cfg->has_start ? NULL : &R->bt.storm[s];
            if (st && !storm_selected(R->cfg, st, in->init)) continue;
            free(fw[nfw].t);
            status = follow_start(&fw[nfw++], st, R, in->init, in->nsteps);
        }
        if (!status && nfw) status = follow_member(R, fc, in, in->members ? m : -1, use_t, fw, nfw, &sf, order);
    }
done:
    for (int s = 0; fw && s < nst; s++) free(fw[s].t);
    free(fw), free(order), free(sf.msl), free(sf.lat);
    eval_fc_close(fc);
    return status;
}

/* ---- outputs ---- */

/* rows by source, storm, initial time, member and lead: each track together, in order */
static int cmp_row(const void *a, const void *b) {
    const track_row *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    if (!c) c = strcmp(x->sid, y->sid);
    if (!c) c = (x->init > y->init) - (x->init < y->init);
    if (!c) c = (x->member > y->member) - (x->member < y->member);
    if (!c) c = (x->lead > y->lead) - (x->lead < y->lead);
    return c;
}

static int write_rows(FILE *f, const run *R) {
    if (fprintf(f, "source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms,member\n") < 0)
        return UTIL_EIO;
    for (int k = 0; k < R->nrows; k++) {
        const track_row *r = &R->rows[k];
        char init[64], valid[64], wind[32] = "", member[16] = "";
        util_time_format(r->init, init, sizeof init);
        util_time_format(r->valid, valid, sizeof valid);
        if (!isnan(r->wind)) snprintf(wind, sizeof wind, "%.2f", r->wind);
        if (r->member >= 0) snprintf(member, sizeof member, "%d", r->member);
        if (fprintf(f, "%s,%s,%s,%s,%s,%g,%s,%.4f,%.4f,%.1f,%s,%s\n", r->source, r->sid, r->name, r->basin, init, r->lead,
                    valid, r->lat, r->lon, r->msl, wind, member) < 0)
            return UTIL_EIO;
    }
    return UTIL_OK;
}

/* tracks.csv into tmp (cap bytes), left uncommitted: committed once the a-decks are written. */
static int write_csv(const run *R, char *tmp, size_t cap) {
    const char *path = R->cfg->output;
    int status = util_output_begin(path, tmp, cap);
    if (status) return *tmp = 0, status;
    FILE *f = fopen(tmp, "w");
    if (!f) status = util_fail(UTIL_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    else {
        status = write_rows(f, R);
        if (fclose(f) || status) status = util_fail(UTIL_EIO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (status) util_output_abort(path, tmp), *tmp = 0;
    return status;
}

/* The a-deck identifier BBNNYYYY of a row's storm: the best track's (ATCF
 * CY or IBTrACS USA_ATCF_ID), else "". IBTrACS NUMBER is not the basin's
 * cyclone number (it counts the season's storms of every basin: 5 and 105
 * would collide), so no identifier is made from it. */
static void row_atcf(const run *R, const track_row *r, char *out, size_t cap) {
    (void)R;
    snprintf(out, cap, "%s", strlen(r->atcf) == 8 ? r->atcf : "");
}

/* TECH: the source name's first four characters upper case; ensemble
 * members the first two and the member number (PA01), as ATCF names them */
static void row_tech(const run *R, const track_row *r, char *tech) {
    const char *name = R->cfg->name;
    int k = 0;
    for (; name[k] && k < (r->member >= 0 ? 2 : 4); k++) tech[k] = (char)toupper((unsigned char)name[k]);
    tech[k] = 0;
    if (r->member >= 0) snprintf(tech + k, 3, "%02d", r->member % 100);
}

/* One track (rows from..to-1 of one storm, forecast and member) as a-deck lines. */
static int write_track(FILE *f, const run *R, int from, int to, const char *atcf) {
    besttrack_point *pt = calloc((size_t)(to - from), sizeof *pt);
    if (!pt) return util_fail(UTIL_ENOMEM, "out of memory");
    besttrack_storm s = {0};
    snprintf(s.sid, sizeof s.sid, "%s", atcf);
    snprintf(s.atcf, sizeof s.atcf, "%s", atcf);
    s.init = R->rows[from].init, s.n = to - from, s.pt = pt;
    for (int k = from; k < to; k++)
        pt[k - from] = (besttrack_point){R->rows[k].valid, R->rows[k].lat, R->rows[k].lon, R->rows[k].msl, R->rows[k].wind, ""};
    char tech[8];
    row_tech(R, &R->rows[from], tech);
    int status = besttrack_write_adeck(f, &s, tech);
    free(pt);
    return status;
}

static int same_track(const track_row *a, const track_row *b) {
    return !strcmp(a->sid, b->sid) && fabs(a->init - b->init) < 0.5 && a->member == b->member;
}

/* The a-decks written under temporary names, renamed together with
 * tracks.csv once all are written (a failure leaves none of them). */
typedef struct {
    char path[4200], tmp[4300];
} adeck_file;

static int write_adeck_file(const run *R, const char *atcf, unsigned char *done, adeck_file *out) {
    char lower[12];
    for (int k = 0; k < 9; k++) lower[k] = (char)tolower((unsigned char)atcf[k]);
    snprintf(out->path, sizeof out->path, "%s/a%s.dat", R->cfg->atcf_dir, lower);
    int status = util_output_begin(out->path, out->tmp, sizeof out->tmp);
    if (status) return status;
    FILE *f = fopen(out->tmp, "w");
    if (!f) status = util_fail(UTIL_EIO, "%s: cannot write: %s", out->tmp, strerror(errno));
    for (int a = 0; f && a < R->nrows && !status;) {
        char id[12];
        row_atcf(R, &R->rows[a], id, sizeof id);
        int b = a + 1;
        while (b < R->nrows && same_track(&R->rows[a], &R->rows[b])) b++;
        if (!strcmp(id, atcf)) {
            status = write_track(f, R, a, b, atcf);
            memset(done + a, 1, (size_t)(b - a));
        }
        a = b;
    }
    if (f && fclose(f) && !status) status = util_fail(UTIL_EIO, "%s: cannot write: %s", out->path, strerror(errno));
    if (status) util_output_abort(out->path, out->tmp);
    return status;
}

/* One warning line naming the storms that get no a-deck (no ATCF id). */
static void warn_no_atcf(const run *R) {
    char list[512] = "";
    int n = 0;
    for (int k = 0; k < R->nrows; k++) {
        const track_row *r = &R->rows[k];
        if (strlen(r->atcf) == 8 || strstr(list, r->sid)) continue;
        size_t len = strlen(list);
        if (len + strlen(r->sid) + 8 < sizeof list) snprintf(list + len, sizeof list - len, "%s%s", n ? ", " : "", r->sid);
        n++;
    }
    if (n && !R->cfg->quiet)
        util_warn("--atcf: no a-deck for %d storm%s without an ATCF id in the best track (IBTrACS USA_ATCF_ID blank): %s", n,
                  n == 1 ? "" : "s", list);
}

/* Every storm's a-deck under a temporary name: (*files)[0..*n), one per storm. */
static int write_adecks(const run *R, adeck_file **files, int *n) {
    int status = util_mkdirs(R->cfg->atcf_dir), cap = 0;
    unsigned char *done = calloc((size_t)R->nrows + 1, 1);
    if (!done) return util_fail(UTIL_ENOMEM, "out of memory");
    for (int k = 0; k < R->nrows && !status; k++)
        if (!done[k]) {
            char atcf[12];
            row_atcf(R, &R->rows[k], atcf, sizeof atcf);
            if (!*atcf) continue;
            if (*n == cap) {
                adeck_file *grown = realloc(*files, sizeof **files * (size_t)(cap = cap ? 2 * cap : 16));
                if (!grown) {
                    status = util_fail(UTIL_ENOMEM, "out of memory");
                    break;
                }
                *files = grown;
            }
            if (!(status = write_adeck_file(R, atcf, done, &(*files)[*n]))) (*n)++;
        }
    free(done);
    if (!status) warn_no_atcf(R);
    return status;
}

/* tracks.csv and its a-decks renamed into place together, or all removed */
static int commit_outputs(const track_config *cfg, const char *csv_tmp, adeck_file *files, int n, int status) {
    for (int i = 0; i < n; i++)
        if (status) util_output_abort(files[i].path, files[i].tmp);
        else status = util_output_commit(files[i].path, files[i].tmp);
    if (*csv_tmp) {
        if (status) util_output_abort(cfg->output, csv_tmp);
        else status = util_output_commit(cfg->output, csv_tmp);
    }
    return status;
}

/* ---- the command ---- */

static int read_best_track(run *R) {
    const track_config *cfg = R->cfg;
    if (cfg->has_start) {
        snprintf(R->start.sid, sizeof R->start.sid, "START");
        R->start.init = NAN;
        return UTIL_OK;
    }
    int status = besttrack_read(cfg->best_track, &R->bt);
    for (int i = 0; i < cfg->nstorms && !status; i++)
        if (besttrack_find(&R->bt, cfg->storms[i], 0) < 0)
            status = util_fail(UTIL_EINVAL, "--storm %s: no storm of that SID, name or ATCF id in %s", cfg->storms[i],
                               cfg->best_track);
    return status;
}

int track_run(const track_config *cfg) {
    run R = {cfg};
    fc_job *jobs = NULL;
    int njobs = 0, status;
    track_default_params(&R.prm);
    if (!cfg->has_start && !cfg->best_track) return util_fail(UTIL_EINVAL, "a best track (--best-track) or --start LAT,LON");
    if ((status = read_best_track(&R)) || (status = list_forecasts(cfg, &jobs, &njobs))) goto done;
    for (int q = 0; q < njobs && !status; q++) status = track_forecast(&R, &jobs[q]);
    if (R.nrows) qsort(R.rows, (size_t)R.nrows, sizeof *R.rows, cmp_row);
    if (!status && !R.nrows && !cfg->quiet && cfg->has_start)
        util_warn("no storm followed: near --start %g,%g no mean sea level pressure minimum passed the tests at the first "
                  "lead of any forecast", cfg->start_lat, cfg->start_lon);
    else if (!status && !R.nrows && !cfg->quiet)
        util_warn("no storm followed: none of the storms selected has a tropical record at a forecast's initial time "
                  "(or none passed the tests at the first lead)");
    char csv_tmp[4200] = "";
    adeck_file *adecks = NULL;
    int nadecks = 0;
    if (!status) status = write_csv(&R, csv_tmp, sizeof csv_tmp);
    if (!status && cfg->atcf_dir) status = write_adecks(&R, &adecks, &nadecks);
    status = commit_outputs(cfg, csv_tmp, adecks, nadecks, status);
    free(adecks);
    if (!status && !cfg->quiet) {
        int tracks = 0;
        for (int k = 0; k < R.nrows; k++) tracks += !k || !same_track(&R.rows[k - 1], &R.rows[k]);
        fprintf(stderr, "pangu track: %d tracks, %d positions from %d forecasts: %s\n", tracks, R.nrows, njobs, cfg->output);
    }
done:
    free_jobs(jobs, njobs);
    besttrack_free(&R.bt);
    free(R.land), free(R.rows);
    return status;
}
