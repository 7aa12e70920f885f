/* pangu track: follow tropical cyclones through forecasts (eval/track.h has
 * the algorithm, docs/cyclones.md the choices). */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../eval/track.h"
#include "../util/util.h"
#include "cli.h"

static const cfg_key track_keys[] = {
    {"track", "forecast", NULL, "forecast files or globs (every layout pangu eval reads; files sharing an initial time "
                                "are one forecast), several per option and the option repeated", CFG_MULTI},
    {"track", "best_track", NULL, "IBTrACS v04 CSV as NCEI publishes it, or an ATCF b-deck: the storms and their "
                                  "positions at the initial times"},
    {"track", "output", NULL, "tracks CSV: source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,"
                              "wind10_max_ms,member (lon in 0..360)"},
    {"track", "name", "pangu", "the source column (ensemble members: NAME_mNN); its first four letters are the ATCF TECH"},
    {"track", "storm", NULL, "only these storms: IBTrACS SID, name or ATCF id (repeatable, comma-separated)", CFG_MULTI},
    {"track", "basin", NULL, "only storms of these basins (comma-separated: NA,EP,WP,NI,SI,SP,SA or ATCF AL,WP,...)"},
    {"track", "land_sea_mask", NULL, "NetCDF or GRIB file with lsm (or land_sea_mask, land fraction 0..1) on the "
                                     "forecast grid: where >= 0.5 a centre is over land (none: all sea)"},
    {"track", "atcf", NULL, "also write ATCF a-decks (aBBNNYYYY.dat) into this directory"},
    {"track", "start", NULL, "LAT,LON: follow the storm at this position at each forecast's initial time "
                             "instead of the best track's storms"},
    {"track", "init", NULL, "initial time of forecast files that declare none (YYYY-MM-DDTHH)"},
    {"track", "quiet", "no", "no summary line", CFG_SWITCH},
};

static int parse_start(const char *text, track_config *tc) {
    char *end;
    double lat = strtod(text, &end), lon;
    if (end == text || *end != ',') goto bad;
    const char *p = end + 1;
    lon = strtod(p, &end);
    if (end == p || *end || !isfinite(lat) || !isfinite(lon) || fabs(lat) > 90 || lon < -180 || lon > 360) goto bad;
    tc->has_start = 1, tc->start_lat = lat, tc->start_lon = fmod(lon + 360.0, 360.0);
    return UTIL_OK;
bad:
    return util_fail(UTIL_EINVAL, "--start '%s': expected LAT,LON in degrees (-90..90, -180..360)", text);
}

static int configure(const cfg *opt, track_config *tc, glob_t *storms) {
    const char *start = cfg_get(opt, "start"), *init = cfg_get(opt, "init"), *name = cfg_get(opt, "name");
    int status = UTIL_OK;
    tc->best_track = cfg_get(opt, "best_track");
    tc->output = cfg_get(opt, "output");
    tc->name = name;
    tc->basins = cfg_get(opt, "basin");
    tc->land_sea_mask = cfg_get(opt, "land_sea_mask");
    tc->atcf_dir = cfg_get(opt, "atcf");
    tc->quiet = cfg_get_yesno(opt, "quiet");
    tc->init = NAN;
    if (!*name || strpbrk(name, ",\"\n"))
        return util_fail(UTIL_EINVAL, "--name '%s': expected a name without commas or quotes", name);
    if (start && (status = parse_start(start, tc))) return status;
    if (start && tc->best_track)
        return util_fail(UTIL_EINVAL, "--start and --best-track: give one (--start follows one storm without a best track)");
    if (!start && !tc->best_track) return util_fail(UTIL_EINVAL, "missing --best-track (or --start LAT,LON)");
    if (init && (status = util_time_parse(init, &tc->init))) return status;
    if (cfg_get(opt, "storm")) {
        if (start) return util_fail(UTIL_EINVAL, "--storm selects storms of the best track: it does nothing with --start");
        if ((status = cli_expand(opt, "storm", storms))) return status;
        tc->storms = (const char *const *)storms->gl_pathv, tc->nstorms = (int)storms->gl_pathc;
    }
    return UTIL_OK;
}

int cli_track(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, track_keys, argc, argv, "track",
                      "--forecast FILES --best-track IBTRACS.csv --output tracks.csv [--name SOURCE] [--storm SID|NAME ...] "
                      "[--basin LIST] [--land-sea-mask FILE] [--atcf DIR] [--start LAT,LON]",
                      "Tropical cyclone tracks through forecasts (Bi et al. 2023, after ECMWF's tracker).");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"forecast", "output"};
    if (cli_require(&opt, "track", need, 2)) return 2;
    glob_t files = {0}, storms = {0};
    track_config tc = {0};
    int status = cli_expand(&opt, "forecast", &files);
    if (!status) status = configure(&opt, &tc, &storms);
    if (!status) {
        const char *best[1] = {tc.best_track};
        util_paths inputs[3] = {{(const char *const *)files.gl_pathv, (int)files.gl_pathc}, {best, 1},
                                {&tc.land_sea_mask, 1}};
        status = util_output_check(tc.output, inputs, 3, NULL, NULL);
    }
    if (!status) {
        tc.files = (const char *const *)files.gl_pathv, tc.nfiles = (int)files.gl_pathc;
        status = track_run(&tc);
    }
    globfree(&files);
    if (storms.gl_pathv) globfree(&storms);
    cfg_free(&opt);
    return status ? cli_error("track", status) : 0;
}
