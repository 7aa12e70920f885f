/* trackeval: scores of cyclone tracks (pangu track's tracks.csv) against a
 * best track: direct position error, along- and cross-track errors,
 * central pressure and wind errors, by source and lead, on a homogeneous
 * sample by default (pangu eval --tracks). */
#ifndef PANGU_TRACKEVAL_H
#define PANGU_TRACKEVAL_H

#include <stddef.h>

#define TRACKEVAL_EARTH_RADIUS_KM 6371.0
/* The observed direction of motion at a valid time: from the best track
 * this many hours before to as many after (one side alone at the ends). */
#define TRACKEVAL_HEADING_HOURS 6.0

/* Great-circle distance (haversine, R = 6371 km) in km; any longitudes. */
double trackeval_distance_km(double lat1, double lon1, double lat2, double lon2);
/* Initial great-circle bearing from point 1 to point 2, degrees clockwise
 * from north in [0, 360); NAN for coincident points. */
double trackeval_bearing_deg(double lat1, double lon1, double lat2, double lon2);
/* Along- and cross-track errors (km) of a forecast position against the
 * observed one, the storm moving towards heading_deg (clockwise from north),
 * with the Met Office's signs: along positive when the forecast is ahead,
 * cross positive right of the track in the northern hemisphere and left of
 * it in the southern (hemisphere of the observed position). */
void trackeval_along_cross(double obs_lat, double obs_lon, double heading_deg, double fc_lat, double fc_lon,
                           double *along_km, double *cross_km);

/* One row of tracks.csv, and what scoring adds to it. */
typedef struct {
    char source[64], sid[32], name[64], basin[8];
    double init, valid, lead_hours, lat, lon, msl_pa, wind_ms; /* times: seconds since 1970; NAN: missing */
    int scored, in_sample;                                      /* best track spans valid; kept in the sample */
    const char *file;                                           /* where the row was read (messages) */
    int line;
    double dpe_km, along_km, cross_km, msl_error_hpa, wind_error_ms;
} trackeval_row;

typedef struct {
    trackeval_row *rows;
    int n, cap;
} trackeval_rows;

/* Append the rows of a tracks.csv (columns found by name, strict numbers and
 * times, valid_time = init_time + lead_hours, (source, sid, init, lead) once). */
int trackeval_read_tracks(const char *path, trackeval_rows *out);
void trackeval_rows_free(trackeval_rows *r);

/* A best-track position (and intensity, NAN when missing) at a time. */
typedef struct {
    double lat, lon, msl_hpa, wind_ms;
} trackeval_fix;
/* The best track of storm sid at time t: 1 with *fix filled when a record
 * falls on t or records span it (interpolated), 0 when none does, <0 on error. */
typedef int (*trackeval_obs_fn)(void *ctx, const char *sid, double t, trackeval_fix *fix);

/* The errors of every row against the best track, then the sample: every
 * scored row (heterogeneous) or only the (sid, init, lead) scored for every
 * source (homogeneous). */
int trackeval_score_rows(trackeval_rows *r, trackeval_obs_fn obs, void *ctx, int heterogeneous);

/* Means of one source at one lead over its sample; NAN where nothing to average. */
typedef struct {
    char source[64];
    double lead_hours;
    int n;
    double dpe_mean_km, dpe_median_km, along_mean_km, cross_mean_km, msl_error_mean_hpa, wind_error_mean_ms;
} trackeval_score;

/* One score per source (in order of first appearance) and lead (ascending). */
int trackeval_aggregate(const trackeval_rows *r, trackeval_score **scores, int *nscores);
/* The scores CSV, written to a temporary file and renamed into place; the
 * _tmp form leaves the temporary (tmp) to util_output_commit or _abort. */
int trackeval_write_scores(const char *path, const trackeval_score *s, int n);
int trackeval_write_scores_tmp(const char *path, const trackeval_score *s, int n, char *tmp, size_t cap);

/* The report: errors by lead per source (figure and table) and a map of each
 * storm's best track with the sources' tracks from chosen initial times. */
typedef int (*trackeval_besttrack_fn)(void *ctx, const char *sid, double **lat, double **lon, double **time, int *n);
typedef struct {
    const char *dir, *csv;
    const trackeval_rows *rows;
    const trackeval_score *scores;
    int nscores;
    trackeval_besttrack_fn best; /* a storm's whole best track (arrays malloc'd, caller frees) */
    void *best_ctx;
    int heterogeneous;
} trackeval_report_spec;
int trackeval_report(const trackeval_report_spec *spec);

/* pangu eval --tracks: read, score, write and report. */
typedef struct {
    const char *const *tracks;
    int ntracks;
    const char *best_track, *output, *report;
    int heterogeneous, quiet;
} trackeval_config;
int trackeval_run(const trackeval_config *cfg);

#endif
