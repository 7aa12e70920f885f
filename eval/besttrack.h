/* besttrack: tropical cyclone tracks as agencies publish them, in one structure.
 *
 * Readers:
 *  - IBTrACS v04 CSV as NCEI publishes it (ibtracs.ALL.list.v04r01.csv and
 *    the basin files; NCEI, "IBTrACS v04 column documentation",
 *    IBTrACS_v04r01_column_documentation.pdf): a line of column names, a
 *    line of units, then one record per line; columns are found by name,
 *    blank fields are missing values, BASIN "NA" is the North Atlantic,
 *    LON is in -180..180 and sometimes beyond 180, ISO_TIME is
 *    "YYYY-MM-DD HH:MM:SS", records are 3-hourly (and at landfall times).
 *  - ATCF a-decks and b-decks (NRL, "Best Track/Objective Aid/Wind Radii
 *    Format", https://science.nrlmry.navy.mil/atcf/docs/database/new/abrdeck.html,
 *    formerly www.nrlmry.navy.mil/atcf_web/docs/database/new/abdeck.txt):
 *    BASIN, CY, YYYYMMDDHH, TECHNUM/MIN, TECH, TAU, LatN/S and LonE/W in
 *    tenths of a degree, VMAX (kt), MSLP (hPa), TY, ... One track per
 *    (basin, number, TECH) for BEST records and per (basin, number, TECH,
 *    YYYYMMDDHH) for forecasts.
 * Parsing is strict: a line that is not what the format says fails with
 * the file, line and column named.
 *
 * Units: time in seconds since 1970 (UTC); lat degrees north; lon degrees
 * east in 0 <= lon < 360 (whatever the file's range); msl in Pa; wind in m/s
 * (1 kt = 1852/3600 m/s); NAN for missing values. */
#ifndef PANGU_BESTTRACK_H
#define PANGU_BESTTRACK_H

#include <stdio.h>

enum { BESTTRACK_IBTRACS = 1, BESTTRACK_ATCF = 2 };

#define BESTTRACK_KT 0.514444444444444 /* m/s per knot: 1852 m per hour */

typedef struct {
    double time;       /* seconds since 1970 */
    double lat, lon;   /* degrees north, degrees east in [0, 360) */
    double msl, wind;  /* Pa, m/s (maximum sustained wind), NAN when missing */
    char nature[4];    /* IBTrACS NATURE (TS ET DS NR SS MX) or ATCF TY (TD TS HU EX ...) */
} besttrack_point;

typedef struct {
    char sid[32];      /* IBTrACS SID (2018280N08130); ATCF: basin, number, year (WP312018) */
    char name[64];     /* "" when none (IBTrACS UNNAMED and NOT_NAMED are kept as given) */
    char basin[4];     /* IBTrACS BASIN (NA EP WP NI SI SP SA MM) or ATCF basin (AL EP CP WP IO SH) */
    char atcf[12];     /* ATCF identifier BBNNYYYY (AL092022), "" when unknown */
    char tech[16];     /* ATCF TECH: BEST for best tracks (IBTrACS too), else the forecast's */
    double init;       /* forecast initial time; NAN for best tracks */
    int format;        /* BESTTRACK_IBTRACS or BESTTRACK_ATCF */
    int number;        /* IBTrACS NUMBER (of the season, all basins), ATCF CY; 0 when not given */
    int spur;          /* 1: an IBTrACS spur track (TRACK_TYPE spur...), a duplicate of a main one */
    int n;
    besttrack_point *pt; /* n points, time ascending, no two at one time */
} besttrack_storm;

typedef struct {
    int n;
    besttrack_storm *storm;
} besttrack_set;

/* IBTrACS v04 CSV or an ATCF deck, told apart by the first line (IBTrACS
 * begins with the column name SID). The set is appended to (start from
 * {0}); free with besttrack_free. */
int besttrack_read(const char *path, besttrack_set *set);
int besttrack_read_ibtracs(const char *path, besttrack_set *set);
int besttrack_read_atcf(const char *path, besttrack_set *set);
void besttrack_free(besttrack_set *set);

/* 1 when the point is a tropical system: IBTrACS NATURE TS; ATCF TY TD TS
 * TY ST TC HU. (Subtropical, extratropical, disturbances, mixed and not
 * reported are not.) */
int besttrack_is_tropical(const besttrack_storm *s, const besttrack_point *p);

/* Position (and msl, wind, may be NULL) of the storm at time t, linear in
 * time between the records around t: latitude linearly, longitude along
 * the shorter way round (across the date line and 0), result in [0, 360);
 * msl and wind NAN when either record lacks them. Returns 1 when t lies
 * within the storm's records, 0 (outputs untouched) when not. */
int besttrack_position(const besttrack_storm *s, double t, double *lat, double *lon, double *msl, double *wind);
/* The index of the point at time t (within half a second), -1 if none. */
int besttrack_find_time(const besttrack_storm *s, double t);

/* The storm whose SID, name or ATCF id is key (case-insensitive), from
 * index `from`: its index, -1 if none. */
int besttrack_find(const besttrack_set *set, const char *key, int from);

/* ATCF basin (AL EP CP WP IO SH) of an IBTrACS basin and longitude. */
const char *besttrack_atcf_basin(const char *basin, double lon);

/* One ATCF a-deck line per point of track `s` (a forecast: s->init set,
 * TAU = (time - init) in hours) with TECH `tech` (at most 4 characters,
 * upper case): BASIN, CY from s->atcf (BBNNYYYY), the initial time as
 * YYYYMMDDHH, TECHNUM 03, TAU, positions in tenths with N/S and E/W,
 * VMAX in kt, MSLP in hPa (0 where missing), TY XX. */
int besttrack_write_adeck(FILE *f, const besttrack_storm *s, const char *tech);

#endif
