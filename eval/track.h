/* track: follow tropical cyclones through forecasts (pangu track).
 *
 * The algorithm of Bi et al. (Nature 2023, Methods, "Tracking tropical
 * cyclones"), after ECMWF's tracker: at each lead the centre is a local
 * minimum of mean sea level pressure within 445 km of the first guess (the
 * track so far extrapolated linearly to the lead: the last two fixes, at
 * the start the best track's position 6 h before and at the initial time);
 * it is accepted when the 850 hPa relative vorticity has a maximum above
 * 5e-5 s-1 within 278 km (southern hemisphere: a minimum below -5e-5),
 * when the storm is extratropical a maximum of the 850-200 hPa thickness
 * lies within 278 km, and when over land the 10 m wind exceeds 8 m/s
 * within 278 km. Of the minima within 445 km the one nearest the first
 * guess that passes is taken; the track ends at the first lead none does.
 * The terms the paper leaves open (docs/cyclones.md):
 *  - extratropical: the candidate centre lies poleward of et_lat (30
 *    degrees), where storms recurve and begin extratropical transition;
 *  - over land: the land-sea mask (--land-sea-mask, ERA5's lsm fraction)
 *    at the candidate's grid point is at least 0.5; without a mask every
 *    point counts as sea (the land test is not applied, with a warning).
 * Positions: the grid minimum refined by a parabola through it and its
 * neighbours along each axis (at most half a grid length); lon in [0, 360). */
#ifndef PANGU_TRACK_H
#define PANGU_TRACK_H

#include <stddef.h>

/* Fields of one lead on a regular latitude-longitude grid, north to south,
 * longitudes ascending (as eval_fc_read gives them). */
typedef struct {
    int H, W;
    const double *lat, *lon;          /* (H), (W) degrees */
    const float *msl;                 /* Pa */
    const float *u850, *v850;         /* m/s */
    const float *thickness;           /* 850-200 hPa thickness, m (NULL: the extratropical test cannot be made) */
    const float *u10, *v10;           /* m/s, NULL when absent */
    const float *land;                /* land fraction 0..1, NULL: all sea */
} track_fields;

typedef struct {
    double search_km;     /* 445: the MSL minimum from the first guess */
    double check_km;      /* 278: vorticity, thickness, 10 m wind around the minimum */
    double vorticity;     /* 5e-5 s-1 */
    double land_wind;     /* 8 m/s */
    double et_lat;        /* 30 degrees: poleward of it a storm is extratropical */
    double land_fraction; /* 0.5 */
} track_params;

typedef struct {
    double lat, lon;      /* refined centre, lon in [0, 360) */
    double msl;           /* Pa, the grid minimum */
    double wind10;        /* m/s, the largest 10 m wind speed within check_km (NAN without u10, v10) */
    double vorticity;     /* s-1, the extreme 850 hPa vorticity within check_km (sign of the hemisphere) */
    int extratropical, over_land;
} track_fix;

void track_default_params(track_params *p);

/* Great-circle distance in km (haversine, R = 6371 km). */
double track_distance_km(double lat1, double lon1, double lat2, double lon2);

/* First guess at time t from n fixes (times ascending): the last position
 * moved on at the speed between the last two (n >= 2), else the last. */
void track_first_guess(const double *time, const double *lat, const double *lon, int n, double t, double *glat,
                       double *glon);

/* The centre near the first guess: 1 and *fix when a candidate passes, 0
 * when none does, -1 on error (no thickness where needed; message set). */
int track_find_centre(const track_fields *f, const track_params *p, double glat, double glon, track_fix *fix);

/* ---- the command ---- */
typedef struct {
    const char *const *files;      /* forecast files (files sharing an initial time are one forecast) */
    int nfiles;
    double init;                   /* initial time of files that declare none (NAN: none given) */
    const char *best_track;        /* IBTrACS CSV or ATCF b-deck; NULL with has_start */
    const char *output;            /* tracks.csv */
    const char *name;              /* source column (default pangu) */
    const char *const *storms;     /* SID, name or ATCF id; nstorms 0: every storm */
    int nstorms;
    const char *basins;            /* comma-separated list, NULL: all */
    const char *land_sea_mask;     /* NULL: no land test */
    const char *atcf_dir;          /* NULL: no a-decks */
    int has_start;
    double start_lat, start_lon;
    int quiet;
} track_config;

/* Tracks every selected storm through every forecast (each ensemble member
 * by itself) and writes the CSV
 * source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms,member
 * (temporary file, then rename), and with atcf_dir one a-deck per storm. */
int track_run(const track_config *cfg);

#endif
