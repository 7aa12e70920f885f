/* pangu eval: scores of forecasts against a truth series, per source,
 * variable, level, lead and region; CSV and an optional report. One pass
 * over the files, one state at a time. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../eval/eval.h"
#include "../io/io.h"
#include "../util/util.h"
#include "cli.h"

#define MAX_SOURCES 16
#define MAX_FILES 4096
#define MAX_LEADS 512
#define NV 11 /* z q t u v msl u10 v10 t2m, wind (u, v), wind10 (u10, v10) */

static const char *const vnames[NV] = {"z", "q", "t", "u", "v", "msl", "u10", "v10", "t2m", "wind", "wind10"};

typedef struct {
    double n, mse, rmse, bias, mae, acc, nacc, crps, spread2, ncrps;
} acc_t;

typedef struct {
    char name[128];
    int kind; /* 0 forecast files, 1 persistence, 2 climatology */
    const char *files[MAX_FILES];
    int nfiles;
    acc_t *acc; /* [NV][nlev][MAX_LEADS][regions] */
} source;

typedef struct {
    int H, W, nlev;
    float levels[IO_MAX_LEVELS];
    int nleads;
    double leads[MAX_LEADS];
    int has_clim, per_time;
    double *lat, *w;
    /* report maps: first source, first init, chosen leads */
    int map_leads[8], nmap;
    char report[4096];
    int maps_done[8];
} run;

static acc_t *slot(const run *r, source *s, int v, int k, int lead, int reg) {
    (void)r;
    return &s->acc[(((size_t)v * IO_MAX_LEVELS + k) * MAX_LEADS + lead) * EVAL_NREGIONS + reg];
}

static int lead_index(run *r, double hours) {
    for (int i = 0; i < r->nleads; i++)
        if (fabs(r->leads[i] - hours) < 1e-6) return i;
    if (r->nleads == MAX_LEADS) return -1;
    r->leads[r->nleads] = hours;
    return r->nleads++;
}

/* Source name: the file stem without a trailing _YYYYMMDDHH. */
static void stem(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    snprintf(out, cap, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot) *dot = 0;
    size_t n = strlen(out), d = 0;
    while (d < n && out[n - 1 - d] >= '0' && out[n - 1 - d] <= '9') d++;
    if (d >= 8 && n > d && out[n - 1 - d] == '_') out[n - 1 - d] = 0;
}

/* Climatology at valid time t for field (v, k): (dayofyear, hour, [level,] lat, lon). */
static int read_clim(int nc, const char *path, int v, float level, double t, int H, int W, float *out) {
    const char *name = v < 5 ? io_upper_names[v] : io_surface_names[v - 5];
    int varid, hid, did, lid, dims;
    size_t nh, nlev;
    if (nc_inq_varid(nc, name, &varid) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: the climatology lacks variable '%s'", path, name);
    if (nc_inq_dimid(nc, "hour", &hid) != NC_NOERR || nc_inq_dimlen(nc, hid, &nh) != NC_NOERR || nh < 1 ||
        nc_inq_dimid(nc, "dayofyear", &did) != NC_NOERR || nc_inq_varndims(nc, varid, &dims) != NC_NOERR)
        return util_fail(UTIL_EFORMAT, "%s: not a climatology (pangu stats --climatology-hours)", path);
    int y, mo, d, h, mi, s;
    util_time_fields(t, &y, &mo, &d, &h, &mi, &s);
    size_t slot = (size_t)(h / (24 / nh)), k = 0;
    if (v < 5) {
        float lev[256];
        if (nc_inq_dimid(nc, "level", &lid) != NC_NOERR || nc_inq_dimlen(nc, lid, &nlev) != NC_NOERR || nlev > 256 ||
            nc_get_var_float(nc, lid >= 0 ? (nc_inq_varid(nc, "level", &lid), lid) : 0, lev) != NC_NOERR)
            return util_fail(UTIL_EFORMAT, "%s: no level coordinate", path);
        int found = -1;
        for (size_t i = 0; i < nlev; i++)
            if (fabsf(lev[i] - level) < 1e-3f * level) found = (int)i;
        if (found < 0) return util_fail(UTIL_EFORMAT, "%s: the climatology lacks level %g hPa of '%s'", path, level, name);
        k = (size_t)found;
    }
    size_t start[5] = {(size_t)util_day_of_year(t) - 1, slot, k, 0, 0}, count[5] = {1, 1, 1, (size_t)H, (size_t)W};
    size_t start3[4] = {start[0], slot, 0, 0}, count3[4] = {1, 1, (size_t)H, (size_t)W};
    int rc = v < 5 ? nc_get_vara_float(nc, varid, start, count, out) : nc_get_vara_float(nc, varid, start3, count3, out);
    if (rc != NC_NOERR) return util_fail(UTIL_EFORMAT, "%s: cannot read the climatology of '%s' (%s); is the grid %d x %d?", path, name, nc_strerror(rc), H, W);
    for (size_t i = 0; i < (size_t)H * W; i++)
        if (!isfinite(out[i]) || out[i] == NC_FILL_FLOAT)
            return util_fail(UTIL_EFORMAT, "%s: the climatology of '%s' has no data for day %d hour %d", path, name,
                             util_day_of_year(t), h);
    return UTIL_OK;
}

/* gnuplot matrix data of a field (lon, lat, value) for a map. */
static void write_map(const char *path, const float *x, const double *lat, const double *lon, int H, int W) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (int i = 0; i < H; i++) {
        for (int j = 0; j < W; j++) fprintf(f, "%g %g %g\n", lon[j], lat[i], x[(size_t)i * W + j]);
        fprintf(f, "\n");
    }
    fclose(f);
}

/* Score one forecast state (with optional members) against the truth. */
static void score(run *r, source *s, int li, const io_state *fc, const float *const *members, int M, const io_state *truth,
                  const float *const *clim) {
    size_t HW = (size_t)r->H * r->W;
    for (int v = 0; v < NV; v++) {
        int upper = v < 5 || v == 9;
        for (int k = 0; k < (upper ? r->nlev : 1); k++) {
            eval_sums sums[EVAL_NREGIONS];
            memset(sums, 0, sizeof sums);
            if (v < 9) {
                const float *f = v < 5 ? fc->upper + ((size_t)v * r->nlev + k) * HW : fc->surface + (size_t)(v - 5) * HW;
                const float *o = v < 5 ? truth->upper + ((size_t)v * r->nlev + k) * HW : truth->surface + (size_t)(v - 5) * HW;
                const float *c = clim ? clim[v < 5 ? v * r->nlev + k : 5 * r->nlev + v - 5] : NULL;
                const float *ens[64];
                for (int m = 0; m < M && m < 64; m++)
                    ens[m] = members[m] + (v < 5 ? ((size_t)v * r->nlev + k) * HW : (size_t)5 * r->nlev * HW + (size_t)(v - 5) * HW);
                eval_field(sums, f, o, c, M > 1 ? ens : NULL, M, truth->lat, r->w, r->H, r->W);
            } else if (v == 9) {
                eval_wind(sums, fc->upper + ((size_t)3 * r->nlev + k) * HW, fc->upper + ((size_t)4 * r->nlev + k) * HW,
                          truth->upper + ((size_t)3 * r->nlev + k) * HW, truth->upper + ((size_t)4 * r->nlev + k) * HW,
                          truth->lat, r->w, r->H, r->W);
            } else {
                eval_wind(sums, fc->surface + HW, fc->surface + 2 * HW, truth->surface + HW, truth->surface + 2 * HW,
                          truth->lat, r->w, r->H, r->W);
            }
            for (int g = 0; g < EVAL_NREGIONS; g++) {
                if (!(sums[g].w > 0)) continue;
                acc_t *a = slot(r, s, v, k, li, g);
                double mse = sums[g].se / sums[g].w;
                a->n += 1, a->mse += mse, a->rmse += sqrt(mse);
                a->bias += sums[g].e / sums[g].w, a->mae += sums[g].ae / sums[g].w;
                if (clim && v < 9 && sums[g].ff > 0 && sums[g].oo > 0)
                    a->acc += sums[g].fa / sqrt(sums[g].ff * sums[g].oo), a->nacc += 1;
                if (M > 1 && v < 9) a->crps += sums[g].crps / sums[g].w, a->spread2 += sums[g].spread2 / sums[g].w, a->ncrps += 1;
            }
        }
    }
}

static int read_native_step(int nc, const char *path, int step, int member, const run *r, const float *flev, int fnlev,
                            io_state *st, int mean) {
    size_t HW = (size_t)r->H * r->W;
    int member_dim = member >= 0;
    for (int v = 0; v < 9; v++) {
        const char *name = v < 5 ? io_upper_names[v] : io_surface_names[v - 5];
        char vname[64];
        snprintf(vname, sizeof vname, mean ? "%s_mean" : "%s", name);
        int varid;
        if (nc_inq_varid(nc, vname, &varid) != NC_NOERR) return util_fail(UTIL_EFORMAT, "%s: no variable '%s'", path, vname);
        for (int k = 0; k < (v < 5 ? r->nlev : 1); k++) {
            int fk = -1;
            for (int i = 0; i < fnlev; i++)
                if (flev[i] == r->levels[k]) fk = i;
            size_t start[5], count[5];
            int n = 0;
            if (member_dim && !mean) start[n] = (size_t)member, count[n++] = 1;
            start[n] = (size_t)step, count[n++] = 1;
            if (v < 5) start[n] = (size_t)fk, count[n++] = 1;
            start[n] = 0, count[n++] = (size_t)r->H;
            start[n] = 0, count[n++] = (size_t)r->W;
            float *dst = v < 5 ? st->upper + ((size_t)v * r->nlev + k) * HW : st->surface + (size_t)(v - 5) * HW;
            int rc = nc_get_vara_float(nc, varid, start, count, dst);
            if (rc != NC_NOERR) return util_fail(UTIL_EFORMAT, "%s: cannot read '%s' (%s)", path, vname, nc_strerror(rc));
        }
    }
    return UTIL_OK;
}

int cli_eval(int argc, char **argv) {
    static source src[MAX_SOURCES];
    int nsrc = 0, status = UTIL_OK, want_persist = 0, want_clim = 0;
    const char *truth_files[MAX_FILES], *clim_path = NULL, *output = NULL, *name = NULL, *report = NULL;
    int ntruth = 0;
    run r;
    memset(&r, 0, sizeof r);
    memset(src, 0, sizeof src);
    int map_leads[8], nmap = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--rmse-per-time")) {
            r.per_time = 1;
            i--;
            continue;
        }
        if (!v) return fprintf(stderr, "pangu eval: option %s needs a value\n", a), 2;
        if (!strcmp(a, "--forecast") || !strcmp(a, "--baseline")) {
            char nm[128] = "";
            const char *files = v;
            if (!strcmp(a, "--baseline")) {
                if (!strcmp(v, "persistence")) { want_persist = 1; continue; }
                if (!strcmp(v, "climatology")) { want_clim = 1; continue; }
                const char *eq = strchr(v, '=');
                if (!eq) return fprintf(stderr, "pangu eval: --baseline '%s': expected persistence, climatology or NAME=FILE[,FILE]\n", v), 2;
                snprintf(nm, sizeof nm, "%.*s", (int)(eq - v), v);
                files = eq + 1;
            } else if (name) snprintf(nm, sizeof nm, "%s", name);
            else stem(v, nm, sizeof nm);
            char *copy = strdup(files);
            for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
                int k = 0;
                while (k < nsrc && (src[k].kind || strcmp(src[k].name, nm))) k++;
                if (k == nsrc) {
                    if (nsrc == MAX_SOURCES) return free(copy), fprintf(stderr, "pangu eval: too many sources\n"), 2;
                    snprintf(src[nsrc++].name, sizeof src[0].name, "%s", nm);
                }
                if (src[k].nfiles < MAX_FILES) src[k].files[src[k].nfiles++] = strdup(tok);
            }
            free(copy);
        } else if (!strcmp(a, "--truth")) {
            if (ntruth < MAX_FILES) truth_files[ntruth++] = v;
        } else if (!strcmp(a, "--climatology")) clim_path = v;
        else if (!strcmp(a, "--output")) output = v;
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--report")) report = v;
        else if (!strcmp(a, "--map-leads")) {
            for (char *p = (char *)v; *p && nmap < 8;) {
                map_leads[nmap++] = (int)strtol(p, &p, 10);
                if (*p == ',') p++;
                else break;
            }
        } else return fprintf(stderr, "pangu eval: unknown option '%s'\n", a), 2;
    }
    if (!nsrc || !ntruth || !output)
        return fprintf(stderr, "usage: pangu eval --forecast F [--forecast F ...] --truth T [--truth T ...] [--climatology C]\n"
                               "       [--baseline persistence] [--baseline climatology] [--baseline NAME=FILE[,FILE]]\n"
                               "       [--name NAME] [--rmse-per-time] [--report DIR] [--map-leads 24,120] --output scores.csv\n"),
               2;
    if (want_clim && !clim_path) return fprintf(stderr, "pangu eval: the climatology baseline needs --climatology FILE\n"), 2;
    int nfc = nsrc;
    if (want_persist) snprintf(src[nsrc].name, sizeof src[0].name, "persistence"), src[nsrc++].kind = 1;
    if (want_clim) snprintf(src[nsrc].name, sizeof src[0].name, "climatology"), src[nsrc++].kind = 2;
    io_series *truth = NULL;
    int clim_nc = -1;
    io_state fc = {0}, tr = {0}, init_tr = {0}, tmp = {0};
    float **clim = NULL, **members = NULL;
    int nmembers_alloc = 0;
    char tmp_csv[4200];
    snprintf(tmp_csv, sizeof tmp_csv, "%s.tmp.%d", output, (int)getpid());
    FILE *csv = NULL;
    if ((status = io_series_open(&truth, truth_files, ntruth))) goto done;
    if (clim_path && nc_open(clim_path, NC_NOWRITE, &clim_nc) != NC_NOERR) {
        status = util_fail(UTIL_EIO, "%s: cannot open the climatology", clim_path);
        goto done;
    }
    r.has_clim = clim_nc >= 0;
    long n_pairs = 0;
    double t_start = util_now();
    for (int si = 0; si < nfc; si++)
        for (int fi = 0; fi < src[si].nfiles; fi++) {
            const char *path = src[si].files[fi];
            int nc = -1, varid, native = 0;
            if (nc_open(path, NC_NOWRITE, &nc) != NC_NOERR) {
                status = util_fail(UTIL_EIO, "%s: cannot open the forecast", path);
                goto done;
            }
            native = nc_inq_varid(nc, "forecast_period", &varid) == NC_NOERR;
            double init = NAN, *leads = NULL;
            size_t nsteps = 0, nmem = 0;
            float flev[IO_MAX_LEVELS];
            int fnlev = 0, dimid;
            io_series *fs = NULL;
            if (native) {
                double ref;
                int rv;
                size_t nl = 0;
                if (nc_inq_varid(nc, "forecast_reference_time", &rv) != NC_NOERR || nc_get_var_double(nc, rv, &ref) != NC_NOERR ||
                    nc_inq_dimid(nc, "step", &dimid) != NC_NOERR || nc_inq_dimlen(nc, dimid, &nsteps) != NC_NOERR ||
                    nc_inq_dimid(nc, "level", &dimid) != NC_NOERR || nc_inq_dimlen(nc, dimid, &nl) != NC_NOERR ||
                    nl > IO_MAX_LEVELS || nc_inq_varid(nc, "level", &rv) != NC_NOERR || nc_get_var_float(nc, rv, flev) != NC_NOERR) {
                    nc_close(nc);
                    status = util_fail(UTIL_EFORMAT, "%s: not a pangu forecast file (forecast_reference_time, step, level)", path);
                    goto done;
                }
                fnlev = (int)nl;
                init = IO_EPOCH_1900 + ref * 3600.0;
                leads = malloc(sizeof(double) * (nsteps ? nsteps : 1));
                nc_get_var_double(nc, varid, leads);
                if (nc_inq_dimid(nc, "member", &dimid) == NC_NOERR) nc_inq_dimlen(nc, dimid, &nmem);
                int yd, xd;
                size_t H = 0, W = 0;
                nc_inq_dimid(nc, "latitude", &yd), nc_inq_dimlen(nc, yd, &H);
                nc_inq_dimid(nc, "longitude", &xd), nc_inq_dimlen(nc, xd, &W);
                if (!r.H) r.H = (int)H, r.W = (int)W;
                else if (r.H != (int)H || r.W != (int)W) {
                    free(leads), nc_close(nc);
                    status = util_fail(UTIL_EFORMAT, "%s: grid %zu x %zu differs from the other forecasts' %d x %d", path, H, W, r.H, r.W);
                    goto done;
                }
            } else {
                /* numerical forecasts as users hold them: a time axis of valid times and a scalar forecast_reference_time */
                double ref;
                int rv;
                if (nc_inq_varid(nc, "forecast_reference_time", &rv) != NC_NOERR || nc_get_var_double(nc, rv, &ref) != NC_NOERR) {
                    nc_close(nc);
                    status = util_fail(UTIL_EFORMAT, "%s: no forecast_period or forecast_reference_time: cannot tell the leads", path);
                    goto done;
                }
                char units[128] = "";
                size_t len = 0;
                if (nc_inq_attlen(nc, rv, "units", &len) == NC_NOERR && len < sizeof units) nc_get_att_text(nc, rv, "units", units);
                units[len < sizeof units ? len : 0] = 0;
                double unit, epoch;
                if ((status = util_time_units(units, &unit, &epoch))) {
                    nc_close(nc);
                    goto done;
                }
                init = epoch + ref * unit;
                if ((status = io_series_open(&fs, &path, 1))) {
                    nc_close(nc);
                    goto done;
                }
                int H, W;
                io_series_describe(fs, &H, &W, flev, &fnlev);
                if (!r.H) r.H = H, r.W = W;
                nsteps = io_series_ntimes(fs);
                leads = malloc(sizeof(double) * (nsteps ? nsteps : 1));
                for (size_t k = 0; k < nsteps; k++) leads[k] = (io_series_time(fs, k) - init) / 3600.0;
            }
            if (!r.nlev) { /* levels scored: the first forecast's */
                r.nlev = fnlev;
                memcpy(r.levels, flev, sizeof(float) * fnlev);
                r.lat = malloc(sizeof(double) * r.H), r.w = malloc(sizeof(double) * r.H);
                for (int k = 0; k < nsrc; k++)
                    src[k].acc = calloc((size_t)NV * IO_MAX_LEVELS * MAX_LEADS * EVAL_NREGIONS, sizeof(acc_t));
                for (int k = 0; k < nsrc; k++)
                    if (!src[k].acc) {
                        status = util_fail(UTIL_ENOMEM, "out of memory");
                        break;
                    }
                if (r.has_clim && !status) {
                    clim = calloc((size_t)5 * r.nlev + 4, sizeof(float *));
                    for (int k = 0; clim && k < 5 * r.nlev + 4; k++) clim[k] = malloc(sizeof(float) * r.H * r.W);
                }
            } else
                for (int k = 0; k < r.nlev && !status; k++) {
                    int found = 0;
                    for (int j = 0; j < fnlev; j++) found |= flev[j] == r.levels[k];
                    if (!found) status = util_fail(UTIL_EFORMAT, "%s: lacks level %g hPa that the first forecast has", path, r.levels[k]);
                }
            if (!status) status = io_state_alloc(&fc, r.H, r.W, r.levels, r.nlev, NULL);
            if (!status && nmem > (size_t)nmembers_alloc) {
                members = realloc(members, sizeof(float *) * nmem);
                for (size_t m = (size_t)nmembers_alloc; m < nmem; m++)
                    members[m] = malloc(sizeof(float) * ((size_t)5 * r.nlev + 4) * r.H * r.W);
                nmembers_alloc = (int)nmem;
            }
            int have_init = 0;
            for (size_t st = 0; st < nsteps && !status; st++) {
                double valid = init + leads[st] * 3600.0;
                if (leads[st] <= 0 && !native) continue;
                int li = lead_index(&r, leads[st]);
                if (li < 0) {
                    status = util_fail(UTIL_EINVAL, "more than %d leads", MAX_LEADS);
                    break;
                }
                if (native) {
                    if ((status = read_native_step(nc, path, (int)st, nmem > 1 ? 0 : -1, &r, flev, fnlev, &fc, nmem > 1)))
                        break;
                    for (size_t m = 0; m < nmem && nmem > 1 && !status; m++) {
                        io_state ms = fc;
                        ms.upper = members[m], ms.surface = members[m] + (size_t)5 * r.nlev * r.H * r.W;
                        status = read_native_step(nc, path, (int)st, (int)m, &r, flev, fnlev, &ms, 0);
                    }
                    if (status) break;
                } else {
                    io_state_free(&tmp);
                    if ((status = io_series_read(fs, valid, r.H, r.W, r.levels, r.nlev, &tmp))) break;
                    memcpy(fc.upper, tmp.upper, sizeof(float) * 5 * r.nlev * r.H * r.W);
                    memcpy(fc.surface, tmp.surface, sizeof(float) * 4 * r.H * r.W);
                }
                io_state_free(&tr);
                if ((status = io_series_read(truth, valid, r.H, r.W, r.levels, r.nlev, &tr))) {
                    char msg[1024];
                    snprintf(msg, sizeof msg, "%s", util_last_message());
                    status = util_fail(status, "truth for %s: %s", path, msg);
                    break;
                }
                if (n_pairs == 0) eval_lat_weights(r.w, tr.lat, r.H);
                if (r.has_clim)
                    for (int f = 0; f < 5 * r.nlev + 4 && !status; f++) {
                        int v = f < 5 * r.nlev ? f / r.nlev : 5 + f - 5 * r.nlev;
                        status = read_clim(clim_nc, clim_path, v, v < 5 ? r.levels[f % r.nlev] : 0, valid, r.H, r.W, clim[f]);
                    }
                if (status) break;
                score(&r, &src[si], li, &fc, (const float *const *)members, nmem > 1 ? (int)nmem : 0, &tr,
                      (const float *const *)clim);
                if (want_persist && si == 0) {
                    if (!have_init) {
                        io_state_free(&init_tr);
                        if ((status = io_series_read(truth, init, r.H, r.W, r.levels, r.nlev, &init_tr))) break;
                        have_init = 1;
                    }
                    score(&r, &src[nfc], li, &init_tr, NULL, 0, &tr, (const float *const *)clim);
                }
                if (want_clim && si == 0) {
                    io_state cs = fc;
                    for (int f = 0; f < 5 * r.nlev; f++) memcpy(fc.upper + (size_t)f * r.H * r.W, clim[f], sizeof(float) * r.H * r.W);
                    for (int f = 0; f < 4; f++) memcpy(fc.surface + (size_t)f * r.H * r.W, clim[5 * r.nlev + f], sizeof(float) * r.H * r.W);
                    score(&r, &src[nfc + want_persist], li, &cs, NULL, 0, &tr, (const float *const *)clim);
                }
                /* maps of the first source's first init for the report */
                if (report && si == 0 && fi == 0) {
                    for (int q = 0; q < (nmap ? nmap : 2); q++) {
                        int want = nmap ? map_leads[q] : -1;
                        int is_first = st == 0 || (st == 1 && leads[0] == 0), is_last = st + 1 == nsteps;
                        if ((nmap && fabs(leads[st] - want) < 1e-6) || (!nmap && ((q == 0 && is_first) || (q == 1 && is_last)))) {
                            mkdir(report, 0755);
                            size_t HW = (size_t)r.H * r.W;
                            int k500 = -1;
                            for (int k = 0; k < r.nlev; k++)
                                if (r.levels[k] == 500) k500 = k;
                            float *err = malloc(sizeof(float) * HW);
                            for (int v = 0; v < 2 && err; v++) {
                                const float *f = v == 0 ? (k500 >= 0 ? fc.upper + (size_t)k500 * HW : NULL) : fc.surface + 3 * HW;
                                const float *o = v == 0 ? (k500 >= 0 ? tr.upper + (size_t)k500 * HW : NULL) : tr.surface + 3 * HW;
                                if (!f) continue;
                                for (size_t i = 0; i < HW; i++) err[i] = f[i] - o[i];
                                char p[4300];
                                const char *vn = v == 0 ? "z500" : "t2m";
                                snprintf(p, sizeof p, "%s/map_%s_%gh_forecast.dat", report, vn, leads[st]);
                                write_map(p, f, tr.lat, tr.lon, r.H, r.W);
                                snprintf(p, sizeof p, "%s/map_%s_%gh_truth.dat", report, vn, leads[st]);
                                write_map(p, o, tr.lat, tr.lon, r.H, r.W);
                                snprintf(p, sizeof p, "%s/map_%s_%gh_error.dat", report, vn, leads[st]);
                                write_map(p, err, tr.lat, tr.lon, r.H, r.W);
                            }
                            free(err);
                            if (r.nmap < 8) r.map_leads[r.nmap++] = (int)leads[st];
                        }
                    }
                }
                n_pairs++;
                if (n_pairs % 20 == 0)
                    fprintf(stderr, "\rpangu eval: %ld (forecast, truth) pairs, %.1f per s   ", n_pairs, n_pairs / (util_now() - t_start));
            }
            free(leads);
            if (fs) io_series_close(fs);
            nc_close(nc);
            if (status) goto done;
        }
    if (!n_pairs) {
        status = util_fail(UTIL_EINVAL, "no forecast valid time was scored");
        goto done;
    }
    /* CSV */
    csv = fopen(tmp_csv, "w");
    if (!csv) {
        status = util_fail(UTIL_EIO, "%s: cannot write the scores", output);
        goto done;
    }
    fprintf(csv, "source,variable,level,lead_hours,region,metric,value\n");
    /* leads in ascending order */
    int order[MAX_LEADS];
    for (int i = 0; i < r.nleads; i++) order[i] = i;
    for (int a = 0; a < r.nleads; a++)
        for (int b = a + 1; b < r.nleads; b++)
            if (r.leads[order[b]] < r.leads[order[a]]) {
                int t = order[a];
                order[a] = order[b], order[b] = t;
            }
    for (int si = 0; si < nsrc; si++)
        for (int v = 0; v < NV; v++)
            for (int k = 0; k < ((v < 5 || v == 9) ? r.nlev : 1); k++)
                for (int oi = 0; oi < r.nleads; oi++)
                    for (int g = 0; g < EVAL_NREGIONS; g++) {
                        int li = order[oi];
                        acc_t *a = slot(&r, &src[si], v, k, li, g);
                        if (!(a->n > 0)) continue;
                        char lev[32] = "";
                        if (v < 5 || v == 9) snprintf(lev, sizeof lev, "%g", r.levels[k]);
                        const char *vn = v == 9 ? "wind" : v == 10 ? "wind10" : vnames[v];
                        const char *base = src[si].name;
                        double rmse = r.per_time ? a->rmse / a->n : sqrt(a->mse / a->n);
#define ROW(metric, value) fprintf(csv, "%s,%s,%s,%g,%s,%s,%.9g\n", base, vn, lev, r.leads[li], eval_region_names[g], metric, value)
                        if (v >= 9) {
                            ROW("wind_rmse", rmse);
                            continue;
                        }
                        ROW("rmse", rmse);
                        ROW("bias", a->bias / a->n);
                        ROW("mae", a->mae / a->n);
                        if (a->nacc > 0) ROW("acc", a->acc / a->nacc);
                        if (a->ncrps > 0) {
                            ROW("crps", a->crps / a->ncrps);
                            ROW("spread_skill", sqrt(a->spread2 / a->ncrps) / sqrt(a->mse / a->n));
                        }
#undef ROW
                    }
    if (fclose(csv) != 0) {
        csv = NULL;
        status = util_fail(UTIL_EIO, "%s: cannot finish the scores (disk full?)", output);
        goto done;
    }
    csv = NULL;
    if (rename(tmp_csv, output) != 0) {
        status = util_fail(UTIL_EIO, "%s: cannot move the scores into place", output);
        goto done;
    }
    fprintf(stderr, "\rpangu eval: %ld (forecast, truth) pairs scored, %d sources, wrote %s\n", n_pairs, nsrc, output);
    if (report) status = eval_report(report, output, r.map_leads, r.nmap);
done:
    if (csv) fclose(csv), unlink(tmp_csv);
    else if (status) unlink(tmp_csv);
    io_series_close(truth);
    if (clim_nc >= 0) nc_close(clim_nc);
    if (clim)
        for (int k = 0; k < 5 * r.nlev + 4; k++) free(clim[k]);
    free(clim);
    for (int m = 0; m < nmembers_alloc; m++) free(members[m]);
    free(members);
    io_state_free(&fc), io_state_free(&tr), io_state_free(&init_tr), io_state_free(&tmp);
    for (int k = 0; k < nsrc; k++) {
        free(src[k].acc);
        for (int f = 0; f < src[k].nfiles; f++) free((char *)src[k].files[f]);
    }
    free(r.lat), free(r.w);
    return status ? cli_error("eval", status) : 0;
}
