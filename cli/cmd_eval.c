/* pangu eval: verification scores of forecasts against a truth series per
 * source, variable, level, lead and region, with persistence and
 * climatology baselines; a CSV and optionally a report (eval/). */
#define _DEFAULT_SOURCE
#include <glob.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../eval/eval.h"
#include "../eval/trackeval.h"
#include "../util/util.h"
#include "cli.h"

/* Laid out for help2man (the Makefile's man target): the "Usage:" and "or:"
 * lines make the SYNOPSIS, the paragraph after them the DESCRIPTION, the
 * indented options under "Options:" the OPTIONS. */
static const char *const usage_text =
    "Usage: pangu eval --forecast F [--forecast F ...] --truth T [--truth T ...] --output scores.csv [OPTION ...]\n"
    "  or: pangu eval --tracks tracks.csv [--tracks ...] --best-track IBTRACS.csv --output track_scores.csv [OPTION ...]\n"
    "\n"
    "Verification scores of forecasts against a truth series per source, variable, level, lead and region, with\n"
    "persistence, climatology and other forecasts as baselines: a CSV (columns\n"
    "source,variable,level,lead_hours,region,metric,value) and optionally a report with tables and figures\n"
    "(docs/verification.md). With --tracks: the errors of cyclone tracks against a best track (docs/cyclones.md).\n"
    "\n"
    "Options:\n"
    "  --forecast F     forecast files (shell globs and comma-separated lists allowed): pangu forecast files\n"
    "                   (one per initial time, ensembles with a member dimension), WeatherBench 2 files (many\n"
    "                   initial times on time, members on number or realization) or numerical forecasts as\n"
    "                   delivered: GRIB 1/2 (initial time from dataDate/dataTime, lead from step), NetCDF with\n"
    "                   valid times on a time axis and a forecast_reference_time (or init_time attribute); the\n"
    "                   files of one option that share an initial time are one forecast (pressure levels and\n"
    "                   surface fields apart, one file per step)\n"
    "  --init T         the initial time of --forecast files that carry none (CDO conversions often lose it);\n"
    "                   for a baseline: NAME=FILES@T\n"
    "  --truth T        the verifying series, any layout the reader takes (globs allowed)\n"
    "  --output FILE    the scores CSV (also --out)\n"
    "  --metrics LIST   the metrics computed, comma-separated (default: all): rmse, bias, mae, acc (needs\n"
    "                   --climatology), crps and spread_skill (ensembles), wind_rmse (vector wind), rqe (relative\n"
    "                   quantile error of the extremes, the costliest); the names of the CSV's metric column\n"
    "  --climatology C  pangu stats --climatology-hours output, or WeatherBench 2's climatology exported to\n"
    "                   NetCDF (long names, hour optional): ACC and the climatology baseline\n"
    "  --baseline B     persistence (truth at the initial time), climatology, or another forecast source\n"
    "                   NAME=FILE[,FILE...][@INIT]; repeatable\n"
    "  --name NAME      source name of the --forecast files (default: file name without _YYYYMMDDHH)\n"
    "  --rmse-per-time  RMSE as the mean of per-time RMSEs (Pangu-Weather paper) instead of sqrt(mean MSE)\n"
    "  --regions LIST   regions to score: global, n_extratropics, tropics, s_extratropics or\n"
    "                   NAME=LAT0:LAT1[:LON0:LON1] (default: the four named)\n"
    "  --levels LIST    pressure levels to score in hPa, like 500,850 (default: those of the first forecast)\n"
    "  --report DIR     report.md, report.html and gnuplot figures\n"
    "  --map-leads L    leads of the report's maps in hours, like 24,120 (default: the first and last)\n"
    "  --scorecard S    the source the report's scorecard compares the forecasts against (default: the\n"
    "                   first --baseline NAME=FILES, else persistence, else climatology)\n"
    "  --cache-mb N     memory for truth states kept for reuse (default 1024)\n"
    "  --truth-nan M    NaN in the truth at a scored point: warn (default: left out, counted in the CSV's\n"
    "                   truth_nan_points rows and on stderr) or error (exit 2 naming file, variable and time)\n"
    "  --quiet          no progress or summary lines\n"
    "  -h, --help       this help\n"
    "\n"
    "Options with --tracks:\n"
    "  --tracks FILE    pangu track's tracks.csv (globs and comma-separated lists allowed): its errors against\n"
    "                   --best-track (IBTrACS v04 CSV or an ATCF b-deck) at each valid time, by source and lead\n"
    "  --best-track B   the observed tracks: IBTrACS v04 CSV or an ATCF b-deck\n"
    "  --heterogeneous  score every tracked case of each source (default: only the (storm, initial time, lead)\n"
    "                   that every source has)\n"
    "  --output FILE    the CSV: source,lead_hours,n,dpe_mean_km,dpe_median_km,along_track_mean_km,\n"
    "                   cross_track_mean_km,msl_error_mean_hpa,wind_error_mean_ms (docs/cyclones.md,\n"
    "                   \"Scoring tracks\"); --report DIR and --quiet as above\n";

typedef struct {
    char name[128];
    int named;       /* from --baseline NAME=... */
    double init;     /* NAME=FILES@T */
    glob_t g;
    int used;
} src_files;

/* Add comma-separated, globbed paths to a glob list. */
static int add_paths(glob_t *g, int *used, const char *spec) {
    char *copy = strdup(spec);
    if (!copy) return util_fail(UTIL_ENOMEM, "out of memory");
    int status = UTIL_OK;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!*tok) continue;
        if (glob(tok, (*used ? GLOB_APPEND : 0) | GLOB_NOCHECK, NULL, g) != 0) {
            status = util_fail(UTIL_EINVAL, "cannot expand '%s'", tok);
            break;
        }
        *used = 1;
    }
    free(copy);
    return status;
}

static int parse_list(const char *s, double *out, int max, const char *what) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || n == max) return util_fail(UTIL_EINVAL, "%s '%s': expected a list like 24,120", what, s);
        out[n++] = v;
        if (*end == ',') p = end + 1;
        else if (*end) return util_fail(UTIL_EINVAL, "%s '%s': expected a list like 24,120", what, s);
        else p = end;
    }
    if (!n) return util_fail(UTIL_EINVAL, "%s: empty list", what);
    return n;
}

/* "NAME=FILES[@T]": the name, the files and the initial time (NAN: none). */
static int parse_baseline(const char *v, src_files *s) {
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1] || eq - v >= (long)sizeof s->name)
        return util_fail(UTIL_EINVAL, "--baseline '%s': expected persistence, climatology or NAME=FILE[,FILE...][@INIT]", v);
    snprintf(s->name, sizeof s->name, "%.*s", (int)(eq - v), v);
    s->named = 1, s->init = NAN;
    char *files = strdup(eq + 1);
    if (!files) return util_fail(UTIL_ENOMEM, "out of memory");
    char *at = strrchr(files, '@');
    int status = UTIL_OK;
    if (at) {
        *at = 0;
        if (util_time_parse(at + 1, &s->init))
            status = util_fail(UTIL_EINVAL, "--baseline '%s': '%s' after @ is not an initial time (YYYY-MM-DDTHH)", v, at + 1);
        else if (!files[0]) status = util_fail(UTIL_EINVAL, "--baseline '%s': no files before @", v);
    }
    if (!status) status = add_paths(&s->g, &s->used, files);
    free(files);
    return status;
}

/* Member files of an ensemble whose mean and spread file is given too (as
 * 'ens_*.nc' matches both) are read through that file: they move to the end
 * of paths (still freed by globfree) and the count left to score is returned. */
static int drop_members(char **paths, int n) {
    int kept = n;
    for (int i = 0; i < kept;) {
        char ens[4096];
        struct stat a, b;
        int skip = 0;
        if (eval_fc_member_of(paths[i], ens, sizeof ens) && stat(ens, &a) == 0)
            for (int j = 0; j < n && !skip; j++)
                skip = j != i && stat(paths[j], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
        if (!skip) {
            i++;
            continue;
        }
        char *t = paths[i]; /* keep the order of the others */
        memmove(paths + i, paths + i + 1, sizeof(char *) * (size_t)(n - i - 1));
        paths[n - 1] = t;
        kept--;
    }
    return kept;
}

/* What the command line asks for: the files of every source, the truth, and the run's settings. */
typedef struct {
    src_files fcs[EVAL_MAX_SOURCES], bls[EVAL_MAX_SOURCES]; /* every --forecast, then every --baseline NAME=FILES */
    int nfcs, nbls, truth_used, help;
    glob_t truth_g;
    double init;
    const char *name;
    eval_config cfg;
    eval_region regions[EVAL_MAX_REGIONS];
    float levels[IO_MAX_LEVELS];
    double map_leads[16];
} eval_args;

/* --regions LIST: named or NAME=LAT0:LAT1[:LON0:LON1] regions, each once. */
static int parse_regions(eval_args *e, const char *v) {
    int status = UTIL_OK;
    char *copy = strdup(v);
    e->cfg.nregions = 0;
    for (char *save = NULL, *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !status;
         tok = strtok_r(NULL, ",", &save)) {
        if (e->cfg.nregions == EVAL_MAX_REGIONS) status = util_fail(UTIL_EINVAL, "--regions: at most %d", EVAL_MAX_REGIONS);
        else status = eval_region_parse(tok, &e->regions[e->cfg.nregions++]);
        for (int q = 0; q + 1 < e->cfg.nregions && !status; q++)
            if (!strcmp(e->regions[q].name, e->regions[e->cfg.nregions - 1].name))
                status = util_fail(UTIL_EINVAL, "--regions: '%s' twice", e->regions[q].name);
    }
    if (!copy) status = util_fail(UTIL_ENOMEM, "out of memory");
    else if (!status && !e->cfg.nregions) status = util_fail(UTIL_EINVAL, "--regions: empty list");
    free(copy);
    return status;
}

/* --levels LIST: pressures in hPa (repeats are refused once all options are read). */
static int parse_levels(eval_args *e, const char *v) {
    int status = UTIL_OK;
    double lv[IO_MAX_LEVELS];
    int n = parse_list(v, lv, IO_MAX_LEVELS, "--levels");
    if (n < 0) status = UTIL_EINVAL;
    for (int k = 0; k < n && !status; k++) {
        if (!(lv[k] > 0)) status = util_fail(UTIL_EINVAL, "--levels '%s': pressures in hPa > 0", v);
        e->levels[k] = (float)lv[k];
    }
    e->cfg.nlev = n > 0 ? n : 0;
    return status;
}

/* One option a with its value v. */
static int parse_option(eval_args *e, const char *a, const char *v) {
    eval_config *cfg = &e->cfg;
    int status = UTIL_OK;
    if (!strcmp(a, "--forecast")) {
        if (e->nfcs == EVAL_MAX_SOURCES) status = util_fail(UTIL_EINVAL, "more than %d --forecast options", EVAL_MAX_SOURCES);
        else status = add_paths(&e->fcs[e->nfcs].g, &e->fcs[e->nfcs].used, v), e->nfcs++;
    } else if (!strcmp(a, "--truth")) status = add_paths(&e->truth_g, &e->truth_used, v);
    else if (!strcmp(a, "--climatology")) cfg->climatology = v;
    else if (!strcmp(a, "--output") || !strcmp(a, "--out")) { /* one option, two spellings */
        if (cfg->output) status = util_fail(UTIL_EINVAL, "%s given twice ('%s' and '%s'): it takes one value", a, cfg->output, v);
        cfg->output = v;
    }
    else if (!strcmp(a, "--name")) e->name = v;
    else if (!strcmp(a, "--init")) {
        if (util_time_parse(v, &e->init)) status = util_fail(UTIL_EINVAL, "--init '%s': expected an initial time (YYYY-MM-DDTHH)", v);
    } else if (!strcmp(a, "--report")) cfg->report = v;
    else if (!strcmp(a, "--scorecard")) cfg->scorecard = v;
    else if (!strcmp(a, "--baseline")) {
        if (!strcmp(v, "persistence")) cfg->persistence = 1;
        else if (!strcmp(v, "climatology")) cfg->climatology_baseline = 1;
        else if (e->nbls == EVAL_MAX_SOURCES) status = util_fail(UTIL_EINVAL, "more than %d sources", EVAL_MAX_SOURCES);
        else status = parse_baseline(v, &e->bls[e->nbls++]);
    } else if (!strcmp(a, "--regions")) status = parse_regions(e, v);
    else if (!strcmp(a, "--metrics")) status = eval_metrics_parse(v, &cfg->metrics);
    else if (!strcmp(a, "--levels")) status = parse_levels(e, v);
    else if (!strcmp(a, "--map-leads")) {
        int n = parse_list(v, e->map_leads, 16, "--map-leads");
        if (n < 0) status = UTIL_EINVAL;
        cfg->nmap = n > 0 ? n : 0;
    } else if (!strcmp(a, "--truth-nan")) {
        if (!strcmp(v, "error")) cfg->truth_nan_error = 1;
        else if (!strcmp(v, "warn")) cfg->truth_nan_error = 0;
        else status = util_fail(UTIL_EINVAL, "--truth-nan '%s': expected warn or error", v);
    } else if (!strcmp(a, "--cache-mb")) {
        char *end;
        cfg->cache_mb = strtod(v, &end);
        if (*end || !(cfg->cache_mb > 0)) status = util_fail(UTIL_EINVAL, "--cache-mb '%s': expected megabytes > 0", v);
    } else status = util_fail(UTIL_EINVAL, "unknown option '%s' (pangu eval --help)", a);
    return status;
}

/* Every option in order; stops at the first error or at --help (e->help). */
static int parse_args(eval_args *e, int argc, char **argv) {
    int status = cli_check_repeats(argc, argv, (const char *const[]){"--forecast", "--truth", "--baseline", NULL});
    for (int i = 1; i < argc && !status; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            e->help = 1;
            break;
        }
        if (!strcmp(a, "--rmse-per-time")) {
            e->cfg.rmse_per_time = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            e->cfg.quiet = 1;
            continue;
        }
        if (!v) return util_fail(UTIL_EINVAL, "option %s needs a value", a);
        i++;
        status = parse_option(e, a, v);
    }
    return status;
}

/* Options that only make sense together, levels once each, and an output that replaces no input. */
static int check_args(const eval_args *e) {
    const eval_config *cfg = &e->cfg;
    int status = UTIL_OK;
    if (cfg->nmap && !cfg->report)
        return util_fail(UTIL_EINVAL, "--map-leads draws maps in the report: give --report DIR too");
    if (cfg->scorecard && !cfg->report)
        return util_fail(UTIL_EINVAL, "--scorecard compares sources in the report: give --report DIR too");
    for (int k = 0; k < cfg->nlev; k++)
        for (int q = 0; q < k; q++)
            if (e->levels[q] == e->levels[k]) return util_fail(UTIL_EINVAL, "--levels: %g hPa twice", e->levels[k]);
    /* the scores never replace an input */
    for (int k = 0; k < e->nfcs && !status; k++)
        status = util_check_output(cfg->output, (const char *const *)e->fcs[k].g.gl_pathv, (int)e->fcs[k].g.gl_pathc);
    for (int k = 0; k < e->nbls && !status; k++)
        status = util_check_output(cfg->output, (const char *const *)e->bls[k].g.gl_pathv, (int)e->bls[k].g.gl_pathc);
    if (!status && e->truth_used)
        status = util_check_output(cfg->output, (const char *const *)e->truth_g.gl_pathv, (int)e->truth_g.gl_pathc);
    if (!status && cfg->climatology) status = util_check_output(cfg->output, &cfg->climatology, 1);
    return status;
}

/* The sources to score, forecasts then named baselines, member files of a given ensemble left out. */
static int fill_sources(eval_args *e, eval_source *sources) {
    int n = 0;
    for (int k = 0; k < e->nfcs; k++, n++) {
        int nk = drop_members(e->fcs[k].g.gl_pathv, (int)e->fcs[k].g.gl_pathc);
        if (!nk) return util_fail(UTIL_EINVAL, "--forecast %s: no forecast files left to score", e->fcs[k].g.gl_pathv[0]);
        sources[n] = (eval_source){{0}, (const char *const *)e->fcs[k].g.gl_pathv, nk, e->init, 0};
        if (e->name) snprintf(sources[n].name, sizeof sources[n].name, "%.127s", e->name);
    }
    for (int k = 0; k < e->nbls; k++, n++) {
        int nk = drop_members(e->bls[k].g.gl_pathv, (int)e->bls[k].g.gl_pathc);
        sources[n] = (eval_source){{0}, (const char *const *)e->bls[k].g.gl_pathv, nk, e->bls[k].init, 1};
        snprintf(sources[n].name, sizeof sources[n].name, "%.127s", e->bls[k].name);
    }
    e->cfg.sources = sources;
    e->cfg.nsources = n;
    e->cfg.truth = (const char *const *)e->truth_g.gl_pathv;
    e->cfg.ntruth = (int)e->truth_g.gl_pathc;
    e->cfg.levels = e->levels;
    e->cfg.regions = e->regions;
    e->cfg.map_leads = e->map_leads;
    return UTIL_OK;
}

static void free_args(eval_args *e) {
    for (int k = 0; k < e->nfcs; k++)
        if (e->fcs[k].used) globfree(&e->fcs[k].g);
    for (int k = 0; k < e->nbls; k++)
        if (e->bls[k].used) globfree(&e->bls[k].g);
    if (e->truth_used) globfree(&e->truth_g);
}

/* ---- pangu eval --tracks: scores of cyclone tracks (eval/trackeval.c) */

typedef struct {
    glob_t tracks;
    int tracks_used, help;
    trackeval_config cfg;
} tracks_args;

static int tracks_option(tracks_args *t, const char *a, const char *v) {
    trackeval_config *cfg = &t->cfg;
    if (!strcmp(a, "--tracks")) return add_paths(&t->tracks, &t->tracks_used, v);
    if (!strcmp(a, "--best-track")) cfg->best_track = v;
    else if (!strcmp(a, "--output") || !strcmp(a, "--out")) {
        if (cfg->output) return util_fail(UTIL_EINVAL, "%s given twice ('%s' and '%s'): it takes one value", a, cfg->output, v);
        cfg->output = v;
    } else if (!strcmp(a, "--report")) cfg->report = v;
    else return util_fail(UTIL_EINVAL, "option '%s' does not go with --tracks (pangu eval --help)", a);
    return UTIL_OK;
}

static int tracks_parse(tracks_args *t, int argc, char **argv) {
    int status = cli_check_repeats(argc, argv, (const char *const[]){"--tracks", NULL});
    for (int i = 1; i < argc && !status; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            t->help = 1;
            return UTIL_OK;
        }
        if (!strcmp(a, "--heterogeneous") || !strcmp(a, "--quiet")) {
            *(!strcmp(a, "--quiet") ? &t->cfg.quiet : &t->cfg.heterogeneous) = 1;
            continue;
        }
        if (!v) return util_fail(UTIL_EINVAL, "option %s needs a value", a);
        i++;
        status = tracks_option(t, a, v);
    }
    if (status) return status;
    if (!t->cfg.best_track) return util_fail(UTIL_EINVAL, "--tracks needs --best-track IBTRACS.csv (the observed tracks)");
    if (!t->cfg.output) return util_fail(UTIL_EINVAL, "--tracks needs --output track_scores.csv");
    t->cfg.tracks = (const char *const *)t->tracks.gl_pathv;
    t->cfg.ntracks = (int)t->tracks.gl_pathc;
    status = util_check_output(t->cfg.output, t->cfg.tracks, t->cfg.ntracks);
    if (!status) status = util_check_output(t->cfg.output, &t->cfg.best_track, 1);
    return status;
}

static int cli_eval_tracks(int argc, char **argv) {
    tracks_args t;
    memset(&t, 0, sizeof t);
    int status = tracks_parse(&t, argc, argv);
    if (!status && t.help) fputs(usage_text, stdout);
    else if (!status) status = trackeval_run(&t.cfg);
    if (t.tracks_used) globfree(&t.tracks);
    return status ? cli_error("eval", status) : 0;
}

int cli_eval(int argc, char **argv) {
    static eval_args e; /* static: the glob lists of every source are large */
    static eval_source sources[2 * EVAL_MAX_SOURCES];
    int status, usage = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--tracks")) return cli_eval_tracks(argc, argv);
    memset(&e, 0, sizeof e);
    e.init = NAN;
    status = parse_args(&e, argc, argv);
    if (e.help) {
        fputs(usage_text, stdout);
        goto done;
    }
    if (!status && (!e.nfcs || !e.truth_used || !e.cfg.output)) usage = 1;
    if (status || usage || (status = check_args(&e)) || (status = fill_sources(&e, sources))) goto done;
#ifdef __GLIBC__
    /* States are allocated and freed at every step: a fixed mmap threshold returns them to the
     * system, where glibc's sliding threshold would move them to a heap that fragments and
     * grows with the number of files read. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    status = eval_run(&e.cfg);
done:
    free_args(&e);
    if (usage) {
        fputs(usage_text, stderr);
        return 2;
    }
    return status ? cli_error("eval", status) : 0;
}
