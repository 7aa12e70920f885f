/* io fetch: initial conditions and numerical forecasts from the services
 * that publish them, as files every command's reader takes (the thirteen
 * Pangu levels 1000 925 850 700 600 500 400 300 250 200 150 100 50 hPa of
 * z q t u v, and msl u10 v10 t2m):
 *
 *   ecmwf-opendata  IFS HRES 0.25 degrees, GRIB2:
 *                   ROOT/yyyymmdd/HHz/ifs/0p25/STREAM/yyyymmddHH0000-<step>h-STREAM-fc.grib2
 *                   (STREAM oper; scda for 06 and 18 UTC before 2026-05-12) and its
 *                   inventory ROOT/.../yyyymmddHH0000-<step>h-STREAM-fc.index (one JSON
 *                   object per field with _offset and _length);
 *   gfs             NCEP GFS 0.25 degrees, GRIB2:
 *                   ROOT/gfs.yyyymmdd/HH/atmos/gfs.tHHz.pgrb2.0p25.fNNN (no atmos/ before
 *                   GFS v16) and its .idx inventory ("n:offset:d=YYYYMMDDHH:VAR:LEVEL:FORECAST:");
 *   cds             ERA5 from the Climate Data Store's API (since 2024):
 *                   POST ROOT/retrieve/v1/processes/DATASET/execution, poll the
 *                   job, download the asset its results link to. The key is
 *                   read as the cdsapi client reads it (CDSAPI_URL and
 *                   CDSAPI_KEY, else the file CDSAPI_RC or ~/.cdsapirc).
 *
 * Only the fields needed are downloaded (HTTP range requests on the GRIB
 * services), each checked against the index (bytes received, the GRIB
 * message's own length, its end marker), and every file is checked with
 * the reader before it is renamed into place from a hidden temporary
 * (DIR/.NAME.part), so a failed fetch leaves nothing a glob of DIR could
 * take for complete. Time-outs, cut transfers and 5xx (and 408, 429) are
 * retried with exponential back-off within a deadline per transfer; a cut
 * transfer resumes where it stopped, and a rerun resumes a .part file
 * (kept only when it can) and skips finished files. Requests to NOMADS are
 * paced below its published limit.
 * HTTP through libcurl; built without it (make CURL=0) io_fetch_run says
 * so. */
#ifndef PANGU_IO_FETCH_H
#define PANGU_IO_FETCH_H

#include <stddef.h>
#include <stdio.h>

enum { IO_FETCH_ECMWF_OPENDATA, IO_FETCH_GFS, IO_FETCH_CDS };

#define IO_FETCH_NLEVELS 13
extern const int io_fetch_levels[IO_FETCH_NLEVELS]; /* hPa, descending */

typedef struct {
    int source;
    const char *url;        /* service root; NULL or "": the source's default (CDS: CDSAPI_URL, .cdsapirc) */
    const double *times;    /* initial (analysis) times, seconds since 1970 */
    int ntimes;
    const int *leads;       /* forecast steps (hours); nleads 0: the analysis, step 0 */
    int nleads;
    const char *out;        /* output directory (must exist) */
    int grib;               /* CDS: 1 GRIB, 0 NetCDF */
    int retries;            /* attempts after the first on time-outs, 5xx, cut transfers */
    double backoff;         /* first wait (s); doubled at each retry, and x1.5 per CDS poll */
    double backoff_max;     /* longest wait (s) */
    double timeout;         /* seconds without a byte before a transfer is abandoned (and to connect) */
    double deadline;        /* seconds one transfer may take in all; 0: io_fetch_deadline */
    double rate_limit;      /* requests per minute to the server; 0: io_fetch_pace's default */
} io_fetch_spec;

/* 1 when built with libcurl. */
int io_fetch_available(void);
/* Fetch every requested time (and lead) into spec->out. */
int io_fetch_run(const io_fetch_spec *spec);
/* The default root URL of a source (CDS: the public API). */
const char *io_fetch_default_url(int source);

/* ---- parsers (exposed for the tests; no network) ---- */

/* One wanted field found in an index: model variable v (z q t u v msl u10
 * v10 t2m, 0..8), level (hPa, 0 at the surface), its bytes in the file. */
typedef struct {
    int v, level;
    long long offset, length; /* length -1: to the end of the file (GFS's last field) */
} io_fetch_field;

#define IO_FETCH_NFIELDS (5 * IO_FETCH_NLEVELS + 4)

/* ECMWF's .index (JSON lines) of the run at init (seconds since 1970) and
 * step (hours): the 69 fields, sorted by offset. `what` names the index in
 * messages. Fails naming every field missing. */
int io_fetch_parse_ecmwf_index(const char *text, size_t len, double init, int step, const char *what,
                               io_fetch_field out[IO_FETCH_NFIELDS]);
/* NCEP's .idx inventory, likewise; the last field of the file gets length -1. */
int io_fetch_parse_gfs_idx(const char *text, size_t len, double init, int step, const char *what,
                           io_fetch_field out[IO_FETCH_NFIELDS]);
/* The CDS URL and key as cdsapi finds them: CDSAPI_URL and CDSAPI_KEY,
 * else the file rc_path (NULL: CDSAPI_RC or ~/.cdsapirc) with lines
 * "url: ..." and "key: ...". *where says where the key came from. */
int io_fetch_cds_credentials(const char *rc_path, char *url, size_t url_cap, char *key, size_t key_cap, char *where,
                             size_t where_cap);
/* Dates (yyyymmdd) a directory listing (HTML or S3 XML) links to, sorted,
 * unique, into dates (at most cap); with a prefix ("gfs.") only names that
 * start with it. Returns how many. */
int io_fetch_listed_dates(const char *body, size_t len, const char *prefix, long *dates, int cap);
/* The wait (s) before retry `attempt` (0 first): backoff * 2^attempt, at most max. */
double io_fetch_backoff(double backoff, double max, int attempt);
/* The data file's URL and its inventory's of a run (init) and step of
 * ecmwf-opendata or gfs under root, as the services lay them out on that
 * date; fails (naming why) for runs pangu fetch cannot take. */
int io_fetch_grib_urls(int source, const char *root, double init, int step, char *url, size_t url_cap, char *index_url,
                       size_t index_cap);
/* The time (s) one transfer may take over all its attempts: deadline when
 * > 0, else 4 x timeout plus the expected bytes (-1: unknown) at 10 kB/s. */
double io_fetch_deadline(double deadline, double timeout, long long bytes);
/* The least interval (s) between two requests to url's host: 60 /
 * rate_limit when > 0, else 0.6 s for NOMADS (it publishes a limit of 120
 * requests a minute) and none for other hosts. */
double io_fetch_pace(const char *url, double rate_limit);

/* ---- HTTP through libcurl (io/http.c; only with PANGU_CURL) ----
 * One connection reused for every request. A request is retried with
 * back-off when it times out, is cut short, or gets 408, 429 or 5xx (a
 * Retry-After longer than the back-off is honoured, up to backoff_max); an
 * attempt that received bytes resets the count, so a connection cut again
 * and again still finishes. Other answers are returned to the caller. */
typedef struct io_http io_http;

typedef struct {
    int retries;
    double backoff, backoff_max, timeout;
    double deadline, rate_limit; /* as in io_fetch_spec */
} io_http_opts;

typedef struct {
    long code;               /* HTTP status of the answer */
    char *body;              /* memory requests (and error bodies): NUL-terminated, at most 16 MB */
    size_t len;
    char content_type[128];
} io_http_reply;

int io_http_open(io_http **out, const io_http_opts *o);
void io_http_close(io_http *h);
void io_http_reply_free(io_http_reply *r);
/* Send header (e.g. "PRIVATE-TOKEN: ...") with requests to URLs that start
 * with prefix, and to no other host (the CDS key never goes to the object
 * store its downloads come from). */
int io_http_set_token(io_http *h, const char *prefix, const char *header);
/* GET (or POST json when json != NULL) into memory; UTIL_OK whenever the
 * server answered (r->code tells how), an error when no answer came after
 * every retry. */
int io_http_request(io_http *h, const char *url, const char *json, io_http_reply *r);
/* The size of url from a HEAD request (-1 when the server does not say). */
int io_http_size(io_http *h, const char *url, long long *size);
/* Append bytes [offset, offset + length) of url to fp, written to path,
 * by range requests; a cut transfer continues from the last byte received.
 * Fails on any answer other than 206 with that range (a server that
 * ignores ranges is named). length -1: to the end of the file. */
int io_http_get_range(io_http *h, const char *url, long long offset, long long length, FILE *fp, const char *path,
                      long long *got);
/* The whole of url appended to fp after the `have` bytes it holds (a range
 * request from there; restarted from 0 if the server ignores it); expect
 * is the size the service announced (-1: unknown). *size receives the size. */
int io_http_get_file(io_http *h, const char *url, FILE *fp, const char *path, long long have, long long expect,
                     long long *size);
/* After a failed get_range or get_file: 1 when what the file received is
 * worth keeping for a rerun (time-outs, cut transfers, 5xx, the deadline),
 * 0 when a rerun cannot finish it (416, 4xx, a server ignoring ranges, an
 * HTML page for the bytes, a redirect to another protocol). */
int io_http_resumable(const io_http *h);
/* Progress line on stderr: bytes, rate, ETA against a planned total. */
void io_http_progress_add(io_http *h, long long planned_bytes);
void io_http_progress_label(io_http *h, const char *label);
void io_http_progress_line(io_http *h, int force);
/* A message line on stderr ("pangu fetch: ...") that does not garble the progress line. */
void io_http_note(io_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The closing line of a fetch: files written and already there, bytes, rate since t0. */
void io_http_summary(io_http *h, int written, int skipped, long long bytes, double t0);
/* A short reason for an HTTP status ("404 Not Found"). */
const char *io_http_reason(long code);

/* ---- the released Pangu-Weather models (io/fetch_models.c) ----
 * pangu_weather_24.onnx and pangu_weather_6.onnx from the mirror ECMWF's
 * ai-models downloads them from (ROOT/pangu_weather_N.onnx), each checked
 * as pangu import reads it before it is renamed into place; the 1 h and 3 h
 * models are only on the official repository's drives. io_fetch_run does not
 * take this source: spec->leads (24, 6; none: both), url, out and the retry
 * settings are read, times are not. */
enum { IO_FETCH_PANGU_MODELS = IO_FETCH_CDS + 1 };
#define IO_FETCH_MODELS_URL "https://get.ecmwf.int/repository/test-data/ai-models/pangu-weather"
/* UTIL_EINVAL naming the first lead the mirror does not serve, and where
 * the 1 h and 3 h models are. */
int io_fetch_models_check_leads(const int *leads, int nleads);
/* 1 when the first bytes of a download are an HTML page, not a model. */
int io_fetch_models_looks_html(const unsigned char *head, size_t n);
int io_fetch_models_run(const io_fetch_spec *spec);

#endif
