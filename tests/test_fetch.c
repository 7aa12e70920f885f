/* Suite "fetch": the parsers of pangu fetch (io/fetch.c) on hand-made
 * indexes, inventories, listings and cdsapirc files; no network (the
 * transfers are tested against a local server by tests/fetch_test.sh). */
#define _DEFAULT_SOURCE /* setenv */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fetch.h"
#include "tests.h"
#include "util/util.h"

#ifdef PANGU_CURL

static const char *const pl[5] = {"gh", "q", "t", "u", "v"};
static const char *const sfc[4] = {"msl", "10u", "10v", "2t"};

/* An ECMWF index of the 2026-12-01 00 UTC run, step 24: the 69 fields in a
 * scrambled order of offsets, each 100 + slot bytes long, with a relative
 * humidity r at every level between them; skip (param, level) leaves one
 * out, extra appends a line. */
static char *ecmwf_index(const char *skip_param, int skip_level, const char *extra) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    long long off = 0;
    for (int k = IO_FETCH_NLEVELS - 1; k >= 0; k--)
        for (int v = 0; v < 6; v++) {
            const char *p = v < 5 ? pl[v] : "r";
            int len = 100 + (v < 5 ? v * IO_FETCH_NLEVELS + k : 7);
            if (!(skip_param && !strcmp(p, skip_param) && skip_level == io_fetch_levels[k]))
                n += (size_t)snprintf(buf + n, cap - n,
                                      "{\"domain\": \"g\", \"date\": \"20261201\", \"time\": \"0000\", \"type\": \"fc\", "
                                      "\"step\": \"24\", \"levtype\": \"pl\", \"levelist\": \"%d\", \"param\": \"%s\", "
                                      "\"_offset\": %lld, \"_length\": %d}\n",
                                      io_fetch_levels[k], p, off, len);
            off += len;
        }
    for (int v = 0; v < 4; v++) {
        int len = 100 + 5 * IO_FETCH_NLEVELS + v;
        if (!(skip_param && !strcmp(sfc[v], skip_param)))
            n += (size_t)snprintf(buf + n, cap - n,
                                  "{\"date\": \"20261201\", \"time\": \"0000\", \"step\": \"24\", \"levtype\": \"sfc\", "
                                  "\"param\": \"%s\", \"_offset\": %lld, \"_length\": %d}\n",
                                  sfc[v], off, len);
        off += len;
    }
    if (extra) n += (size_t)snprintf(buf + n, cap - n, "%s\n", extra);
    return buf;
}

static double init_time(void) {
    double t;
    CU_ASSERT_FATAL(util_time_parse("2026-12-01T00", &t) == 0);
    return t;
}

static void test_ecmwf_index(void) {
    io_fetch_field f[IO_FETCH_NFIELDS];
    double t0 = init_time();
    char *text = ecmwf_index(NULL, 0, NULL);
    CU_ASSERT_FATAL(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 24, "idx", f) == 0);
    /* sorted by offset, every field with its own length, the r fields skipped */
    for (int i = 0; i < IO_FETCH_NFIELDS; i++) {
        int slot = f[i].v < 5 ? -1 : 5 * IO_FETCH_NLEVELS + f[i].v - 5;
        for (int k = 0; k < IO_FETCH_NLEVELS && f[i].v < 5; k++)
            if (io_fetch_levels[k] == f[i].level) slot = f[i].v * IO_FETCH_NLEVELS + k;
        CU_ASSERT(slot >= 0 && f[i].length == 100 + slot);
        if (i) CU_ASSERT(f[i].offset > f[i - 1].offset);
    }
    CU_ASSERT(f[0].v == 0 && f[0].level == 50);                       /* gh at 50 hPa comes first */
    CU_ASSERT(f[IO_FETCH_NFIELDS - 1].v == 8 && f[IO_FETCH_NFIELDS - 1].level == 0); /* 2t last */
    /* the wrong step, the wrong run */
    CU_ASSERT(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 48, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "step 24") != NULL);
    CU_ASSERT(io_fetch_parse_ecmwf_index(text, strlen(text), t0 + 12 * 3600, 24, "idx", f) != 0);
    free(text);
    /* a field missing is named */
    text = ecmwf_index("q", 850, NULL);
    CU_ASSERT(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 24, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "lacks q at 850 hPa") != NULL);
    free(text);
    text = ecmwf_index("2t", 0, NULL);
    CU_ASSERT(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 24, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "lacks 2t") != NULL);
    free(text);
    /* twice */
    text = ecmwf_index(NULL, 0, "{\"date\": \"20261201\", \"time\": \"0000\", \"step\": \"24\", \"levtype\": \"sfc\", "
                                "\"param\": \"2t\", \"_offset\": 999999, \"_length\": 200}");
    CU_ASSERT(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 24, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "2t appears twice") != NULL);
    free(text);
    /* z where both z and gh are: z */
    text = ecmwf_index(NULL, 0, "{\"date\": \"20261201\", \"time\": \"0000\", \"step\": 24, \"levtype\": \"pl\", "
                                "\"levelist\": 500, \"param\": \"z\", \"_offset\": 999999, \"_length\": 200}");
    CU_ASSERT_FATAL(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 24, "idx", f) == 0);
    CU_ASSERT(f[IO_FETCH_NFIELDS - 1].offset == 999999 && f[IO_FETCH_NFIELDS - 1].v == 0 && f[IO_FETCH_NFIELDS - 1].level == 500);
    free(text);
    /* not JSON; no length */
    const char *junk = "{\"param\": \"t\", \"levtype\": \"pl\"\n";
    CU_ASSERT(io_fetch_parse_ecmwf_index(junk, strlen(junk), t0, 24, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "line 1 is not a JSON object") != NULL);
    text = ecmwf_index(NULL, 0, "{\"date\": \"20261201\", \"time\": \"0000\", \"step\": \"24\", \"levtype\": \"sfc\", "
                                "\"param\": \"msl\", \"_offset\": 5}");
    CU_ASSERT(io_fetch_parse_ecmwf_index(text, strlen(text), t0, 24, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "no valid _offset and _length") != NULL);
    free(text);
}

/* A GFS inventory: the 69 fields (and others) in file order, each 1000 + line bytes. */
static char *gfs_idx(const char *fc, int drop_line, const char *date) {
    static const char *const var[5] = {"HGT", "SPFH", "TMP", "UGRD", "VGRD"};
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    long long off = 0;
    int line = 1;
#define LINE(fmt, ...)                                                                                      \
    do {                                                                                                    \
        if (line != drop_line) n += (size_t)snprintf(buf + n, cap - n, "%d:%lld:d=%s:" fmt "\n", line, off, date, __VA_ARGS__); \
        off += 1000 + line++;                                                                               \
    } while (0)
    LINE("PRMSL:mean sea level:%s:", fc);
    LINE("CLWMR:1 hybrid level:%s:", fc);
    for (int v = 0; v < 5; v++)
        for (int k = 0; k < IO_FETCH_NLEVELS; k++) LINE("%s:%d mb:%s:", var[v], io_fetch_levels[k], fc);
    LINE("TMP:975 mb:%s:", fc);
    LINE("UGRD:10 m above ground:%s:", fc);
    LINE("VGRD:10 m above ground:%s:", fc);
    LINE("APCP:surface:0-%s acc fcst:", "6 hour");
    LINE("TMP:2 m above ground:%s:", fc);
#undef LINE
    return buf;
}

static void test_gfs_idx(void) {
    io_fetch_field f[IO_FETCH_NFIELDS];
    double t0 = init_time();
    char *text = gfs_idx("24 hour fcst", 0, "2026120100");
    CU_ASSERT_FATAL(io_fetch_parse_gfs_idx(text, strlen(text), t0, 24, "idx", f) == 0);
    CU_ASSERT(f[0].v == 5 && f[0].offset == 0 && f[0].length == 1001);        /* PRMSL: line 1 */
    CU_ASSERT(f[1].v == 0 && f[1].level == 1000 && f[1].length == 1003);     /* HGT 1000 mb: line 3 */
    CU_ASSERT(f[IO_FETCH_NFIELDS - 1].v == 8 && f[IO_FETCH_NFIELDS - 1].length == -1); /* the last line: to the end */
    CU_ASSERT(f[IO_FETCH_NFIELDS - 2].v == 7 && f[IO_FETCH_NFIELDS - 2].length == 1000 + 70);
    CU_ASSERT(io_fetch_parse_gfs_idx(text, strlen(text), t0, 0, "idx", f) != 0); /* anl expected */
    CU_ASSERT(strstr(util_last_message(), "(as \"anl\")") != NULL);
    CU_ASSERT(io_fetch_parse_gfs_idx(text, strlen(text), t0 + 6 * 3600, 24, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "d=2026120100") != NULL);
    free(text);
    text = gfs_idx("anl", 0, "2026120100");
    CU_ASSERT(io_fetch_parse_gfs_idx(text, strlen(text), t0, 0, "idx", f) == 0);
    free(text);
    /* line 20 is TMP at 1000 mb (lines 3-15 HGT, 16-28 SPFH, 29-41 TMP): drop SPFH 850 = line 18 */
    text = gfs_idx("anl", 18, "2026120100");
    CU_ASSERT(io_fetch_parse_gfs_idx(text, strlen(text), t0, 0, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "lacks SPFH at 850 hPa") != NULL);
    free(text);
    const char *bad = "1:0:d=2026120100:PRMSL:mean sea level:anl:\n2:x:d=2026120100:TMP:2 m above ground:anl:\n";
    CU_ASSERT(io_fetch_parse_gfs_idx(bad, strlen(bad), t0, 0, "idx", f) != 0);
    CU_ASSERT(strstr(util_last_message(), "line 2 is not an inventory line") != NULL);
}

static void test_cds_credentials(void) {
    char rc[256], url[256], key[256], where[512];
    snprintf(rc, sizeof rc, "/tmp/pangu_test_cdsapirc_%d", (int)getpid());
    FILE *fp = fopen(rc, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fprintf(fp, "# comment\nurl:   https://example.invalid/api  \nkey: abc-123\r\nverify: 0\n");
    fclose(fp);
    unsetenv("CDSAPI_URL"), unsetenv("CDSAPI_KEY");
    CU_ASSERT(io_fetch_cds_credentials(rc, url, sizeof url, key, sizeof key, where, sizeof where) == 0);
    CU_ASSERT_STRING_EQUAL(url, "https://example.invalid/api");
    CU_ASSERT_STRING_EQUAL(key, "abc-123");
    CU_ASSERT_STRING_EQUAL(where, rc);
    /* the environment first, as cdsapi */
    setenv("CDSAPI_KEY", "from-env", 1);
    CU_ASSERT(io_fetch_cds_credentials(rc, url, sizeof url, key, sizeof key, where, sizeof where) == 0);
    CU_ASSERT_STRING_EQUAL(key, "from-env");
    CU_ASSERT_STRING_EQUAL(where, "CDSAPI_KEY");
    CU_ASSERT_STRING_EQUAL(url, "https://example.invalid/api");
    setenv("CDSAPI_URL", "http://127.0.0.1:1/api", 1);
    CU_ASSERT(io_fetch_cds_credentials(rc, url, sizeof url, key, sizeof key, where, sizeof where) == 0);
    CU_ASSERT_STRING_EQUAL(url, "http://127.0.0.1:1/api");
    unsetenv("CDSAPI_URL"), unsetenv("CDSAPI_KEY");
    unlink(rc);
    CU_ASSERT(io_fetch_cds_credentials(rc, url, sizeof url, key, sizeof key, where, sizeof where) != 0);
    CU_ASSERT(strstr(util_last_message(), "no CDS key") != NULL && strstr(util_last_message(), rc) != NULL);
}

static void test_listings(void) {
    long d[16];
    const char *html = "<html><a href=\"../\">../</a> <a href=\"20261129/\">20261129/</a>\n"
                       "<a href=\"/forecasts/20261130/\">20261130/</a> <a href=\"20261301/\">bad month</a>"
                       "<a href=\"x20261201/\">no</a> <a href=\"20261201/\">20261201/</a></html>";
    int n = io_fetch_listed_dates(html, strlen(html), NULL, d, 16);
    CU_ASSERT(n == 3 && d[0] == 20261129 && d[1] == 20261130 && d[2] == 20261201);
    const char *s3 = "<ListBucketResult><CommonPrefixes><Prefix>gfs.20261130/</Prefix></CommonPrefixes>"
                     "<CommonPrefixes><Prefix>gfs.20261201/</Prefix></CommonPrefixes><Key>gfsx.20261202/</Key></ListBucketResult>";
    n = io_fetch_listed_dates(s3, strlen(s3), "gfs.", d, 16);
    CU_ASSERT(n == 2 && d[0] == 20261130 && d[1] == 20261201);
    CU_ASSERT(io_fetch_listed_dates("nothing here", 12, NULL, d, 16) == 0);
    CU_ASSERT(io_fetch_listed_dates(html, strlen(html), NULL, d, 2) == 2);
}

/* util_time_list: the time lists of fetch --time and forecast init */
static void test_time_list(void) {
    double *t = NULL, t0;
    int n = -1;
    CU_ASSERT_FATAL(util_time_parse("2026-12-01T00", &t0) == 0);
    CU_ASSERT(util_time_list("2026-12-01T00/2026-12-02T00/6, 2026-12-03T12 2026-12-04", "x", &t, &n) == 0);
    CU_ASSERT_EQUAL(n, 7);
    if (n == 7) {
        for (int i = 0; i < 5; i++) CU_ASSERT_DOUBLE_EQUAL(t[i], t0 + 6 * 3600.0 * i, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(t[5], t0 + 60 * 3600.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(t[6], t0 + 72 * 3600.0, 1e-9);
    }
    free(t);
    CU_ASSERT(util_time_list("", "x", &t, &n) == 0 && n == 0 && t == NULL);
    CU_ASSERT(util_time_list("2026-12-01T00/2026-12-01T00/1", "x", &t, &n) == 0 && n == 1);
    free(t);
    const char *bad[] = {"2026-12-02/2026-12-01/6", "2026-12-01/2026-12-02", "2026-12-01/2026-12-02/abc",
                         "2026-12-01/2026-12-02/0", "2026-12-01/2026-12-02/6x", "2026-13-01", "1900-01-01/2100-01-01/0.02"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = (double *)&t0, n = 5;
        CU_ASSERT(util_time_list(bad[i], "--time", &t, &n) != 0);
        CU_ASSERT(t == NULL && n == 0);
    }
    CU_ASSERT(strstr(util_last_message(), "--time") != NULL);
}

static void test_backoff(void) {
    CU_ASSERT(io_fetch_backoff(1, 60, 0) == 1 && io_fetch_backoff(1, 60, 3) == 8);
    CU_ASSERT(io_fetch_backoff(0.5, 3, 1) == 1 && io_fetch_backoff(0.5, 3, 10) == 3);
}

/* The URL of (source, time, step) and its inventory's. */
static int urls_of(int source, const char *when, int step, char *url, char *index) {
    double t;
    CU_ASSERT_FATAL(util_time_parse(when, &t) == 0);
    return io_fetch_grib_urls(source, "R", t, step, url, 512, index, 512);
}

/* ecmwf/ecmwf-opendata ecmwf/opendata/client.py: HOURLY_PATTERN, Client.patch_stream
 * (IFS_50R1_DATE = 2026-05-12, compared by date), Client.get_parts (splitext + ".index");
 * Herbie src/herbie/models/ecmwf.py: the ifs/ layout from 2024-02-28 06 UTC. */
static void test_ecmwf_urls(void) {
    char url[512], index[512];
    CU_ASSERT(urls_of(IO_FETCH_ECMWF_OPENDATA, "2026-12-01T00", 24, url, index) == 0);
    CU_ASSERT_STRING_EQUAL(url, "R/20261201/00z/ifs/0p25/oper/20261201000000-24h-oper-fc.grib2");
    CU_ASSERT_STRING_EQUAL(index, "R/20261201/00z/ifs/0p25/oper/20261201000000-24h-oper-fc.index");
    CU_ASSERT(urls_of(IO_FETCH_ECMWF_OPENDATA, "2026-05-12T06", 0, url, index) == 0);
    CU_ASSERT_STRING_EQUAL(index, "R/20260512/06z/ifs/0p25/oper/20260512060000-0h-oper-fc.index");
    CU_ASSERT(urls_of(IO_FETCH_ECMWF_OPENDATA, "2026-05-11T18", 6, url, index) == 0);
    CU_ASSERT_STRING_EQUAL(url, "R/20260511/18z/ifs/0p25/scda/20260511180000-6h-scda-fc.grib2");
    CU_ASSERT_STRING_EQUAL(index, "R/20260511/18z/ifs/0p25/scda/20260511180000-6h-scda-fc.index");
    CU_ASSERT(urls_of(IO_FETCH_ECMWF_OPENDATA, "2026-05-11T12", 0, url, index) == 0);
    CU_ASSERT(strstr(url, "/12z/ifs/0p25/oper/") != NULL);
    CU_ASSERT(urls_of(IO_FETCH_ECMWF_OPENDATA, "2024-02-28T06", 0, url, index) == 0);
    CU_ASSERT(urls_of(IO_FETCH_ECMWF_OPENDATA, "2024-02-28T00", 0, url, index) != 0);
    CU_ASSERT(strstr(util_last_message(), "0p4-beta") != NULL);
}

/* blaylockbk/Herbie src/herbie/models/gfs.py: atmos/ from GFS v16 (NCEP: the 12 UTC run of 2021-03-22). */
static void test_gfs_urls(void) {
    char url[512], index[512];
    CU_ASSERT(urls_of(IO_FETCH_GFS, "2026-12-01T06", 24, url, index) == 0);
    CU_ASSERT_STRING_EQUAL(url, "R/gfs.20261201/06/atmos/gfs.t06z.pgrb2.0p25.f024");
    CU_ASSERT_STRING_EQUAL(index, "R/gfs.20261201/06/atmos/gfs.t06z.pgrb2.0p25.f024.idx");
    CU_ASSERT(urls_of(IO_FETCH_GFS, "2021-03-22T12", 0, url, index) == 0);
    CU_ASSERT_STRING_EQUAL(url, "R/gfs.20210322/12/atmos/gfs.t12z.pgrb2.0p25.f000");
    CU_ASSERT(urls_of(IO_FETCH_GFS, "2021-03-22T06", 6, url, index) == 0);
    CU_ASSERT_STRING_EQUAL(url, "R/gfs.20210322/06/gfs.t06z.pgrb2.0p25.f006");
    CU_ASSERT_STRING_EQUAL(index, "R/gfs.20210322/06/gfs.t06z.pgrb2.0p25.f006.idx");
}

static void test_pace_deadline(void) {
    CU_ASSERT(io_fetch_pace("https://nomads.ncep.noaa.gov/pub/data/nccf/com/gfs/prod/x", 0) == 0.6);
    CU_ASSERT(io_fetch_pace("https://NOMADS.ncep.noaa.gov:443/pub", 0) == 0.6);
    CU_ASSERT(io_fetch_pace("https://noaa-gfs-bdp-pds.s3.amazonaws.com/gfs.20261201", 0) == 0);
    CU_ASSERT(io_fetch_pace("http://127.0.0.1:8080/nomads.ncep.noaa.gov/", 0) == 0);
    CU_ASSERT(io_fetch_pace("http://127.0.0.1:8080/", 120) == 0.5);
    CU_ASSERT(io_fetch_deadline(0, 60, -1) == 240);
    CU_ASSERT(io_fetch_deadline(0, 2, 1000000) == 108);
    CU_ASSERT(io_fetch_deadline(30, 60, 1000000) == 30);
}

int tests_register_fetch(void) {
    CU_pSuite s = CU_add_suite("fetch", NULL, NULL);
    if (!s) return 1;
    if (!CU_add_test(s, "ECMWF .index: the 69 fields by offset, missing and wrong ones named", test_ecmwf_index) ||
        !CU_add_test(s, "GFS .idx: lengths from the next offset, the last to the end", test_gfs_idx) ||
        !CU_add_test(s, "CDS key as cdsapi reads it: environment, then the rc file", test_cds_credentials) ||
        !CU_add_test(s, "dates of directory listings (HTML, S3)", test_listings) ||
        !CU_add_test(s, "exponential back-off with a cap", test_backoff) ||
        !CU_add_test(s, "time lists: ranges, lists, refused ranges and steps", test_time_list) ||
        !CU_add_test(s, "ECMWF open data URLs as client.py forms them: stream by date, .index, 0p4-beta refused", test_ecmwf_urls) ||
        !CU_add_test(s, "GFS URLs: atmos/ from v16 on", test_gfs_urls) ||
        !CU_add_test(s, "NOMADS pacing by host; the deadline scaled to the size", test_pace_deadline))
        return 1;
    return 0;
}

#else
int tests_register_fetch(void) { return 0; } /* built without libcurl */
#endif
