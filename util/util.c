#define _DEFAULT_SOURCE
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <unistd.h>
#include <limits.h>
#include <libgen.h>
#include <sys/stat.h>

static _Thread_local char last_message[1024];

int util_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *util_last_message(void) { return last_message; }

void util_warn(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pangu: warning: %s\n", buf);
}

const char *util_strerror(int code) {
    switch (code) {
    case UTIL_OK: return "success";
    case UTIL_EINVAL: return "invalid argument or configuration";
    case UTIL_EFORMAT: return "unexpected file content";
    case UTIL_EIO: return "input/output error";
    case UTIL_ENOMEM: return "out of memory";
    case UTIL_ENAN: return "NaN or infinite value";
    default: return "unknown error";
    }
}

/* Large blocks start on a 2 MB boundary and ask for transparent huge pages:
 * the step's arena and the weights are touched once per step or job, and a
 * 4 KB page fault costs microseconds on virtual machines (~8% of a 181 x 384
 * step). A no-op where THP is off. */
enum { HUGE_PAGE = 2 << 20 };

static void *big_alloc(size_t bytes) {
    void *p = NULL;
    size_t align = bytes >= 4 * (size_t)HUGE_PAGE ? HUGE_PAGE : UTIL_ALIGN;
    if (posix_memalign(&p, align, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
#endif
    return p;
}

void *util_aligned_alloc(size_t bytes) {
    if (bytes == 0) bytes = UTIL_ALIGN;
    void *p = big_alloc(util_align_up(bytes));
    if (p) memset(p, 0, util_align_up(bytes));
    return p;
}

int util_check_memory(size_t bytes, const char *what) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double have = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < have)
        have = (double)rl.rlim_cur;
    if (have > 0 && (double)bytes > have)
        return util_fail(UTIL_ENOMEM, "%s needs %.1f GB, more than this machine's %.1f GB", what, bytes / 1e9, have / 1e9);
    return UTIL_OK;
}

int util_arena_init(util_arena *a, size_t bytes) {
    void *p = NULL;
    a->size = util_align_up(bytes ? bytes : UTIL_ALIGN);
    a->used = a->peak = 0;
    a->base = NULL;
    int status = util_check_memory(a->size, "the work arena");
    if (status) return status;
    /* Not zeroed here: pages are first touched by the threads that use them. */
    if (!(p = big_alloc(a->size))) {
        a->base = NULL;
        return util_fail(UTIL_ENOMEM, "cannot allocate a %.1f MB work arena", bytes / 1e6);
    }
    a->base = p;
    return UTIL_OK;
}

void *util_arena_alloc(util_arena *a, size_t bytes) {
    size_t n = util_align_up(bytes);
    if (a->used + n > a->size) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}


void util_arena_free(util_arena *a) {
    free(a->base);
    a->base = NULL;
    a->size = a->used = 0;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void util_rng_seed(util_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t util_rng_next(util_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double util_rng_uniform(util_rng *r) { return (util_rng_next(r) >> 11) * 0x1.0p-53; }

double util_rng_normal(util_rng *r) {
    /* Box-Muller without caching the second value keeps the stream simple
     * to reproduce from any position. */
    double u1 = util_rng_uniform(r), u2 = util_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

double util_rng_trunc_normal(util_rng *r, double std, double lim) {
    for (;;) {
        double z = util_rng_normal(r);
        if (fabs(z) <= lim) return z * std;
    }
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static long days_from_civil(long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d) {
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = (long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* min to max decimal digits at *p (no sign, no blank), advancing *p. */
static int time_digits(const char **p, int min, int max, int *out) {
    int n = 0, v = 0;
    while (n < max && (*p)[n] >= '0' && (*p)[n] <= '9') v = v * 10 + ((*p)[n++] - '0');
    if (n < min) return 0;
    *p += n, *out = v;
    return 1;
}

/* YYYY-MM-DD[(T| )HH[:MM[:SS]]], integer fields in range. lenient (a CF
 * units reference date, which UDUNITS lets write "1990-1-1 0:0:0" and end
 * in Z): fields of 1 digit and more, a final 'Z'. */
static int time_parse(const char *text, int lenient, double *seconds) {
    int y, mo, d, h = 0, mi = 0, sec = 0, one = lenient ? 1 : 2;
    const char *p = text;
    int ok = time_digits(&p, lenient ? 1 : 4, 4, &y) && *p++ == '-' && time_digits(&p, one, 2, &mo) && *p++ == '-' &&
             time_digits(&p, one, 2, &d);
    if (ok && (*p == 'T' || *p == ' ')) {
        p++;
        ok = time_digits(&p, one, 2, &h);
        if (ok && *p == ':') p++, ok = time_digits(&p, one, 2, &mi);
        if (ok && *p == ':') p++, ok = time_digits(&p, one, 2, &sec);
    }
    if (ok && lenient && *p == 'Z') p++;
    if (!ok || *p || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return util_fail(UTIL_EINVAL, "time '%s': expected YYYY-MM-DD[THH[:MM[:SS]]] (UTC, whole seconds)", text);
    /* days in the month (proleptic Gregorian): 2019-02-30 is refused, not read as March 2 */
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return util_fail(UTIL_EINVAL, "time '%s': %04d-%02d has %d days", text, y, mo, mdays[mo - 1] + (mo == 2 && leap));
    *seconds = (double)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
    return UTIL_OK;
}

int util_time_parse(const char *text, double *seconds) { return time_parse(text, 0, seconds); }

int util_time_list(const char *spec, const char *what, double **out, int *n) {
    enum { MAX_TIMES = 1000000 };
    char *copy = strdup(spec);
    int status = UTIL_OK, cap = 0;
    *out = NULL, *n = 0;
    if (!copy) return util_fail(UTIL_ENOMEM, "out of memory");
    char step_name[96];
    snprintf(step_name, sizeof step_name, "%s step (hours)", what);
    for (char *save = NULL, *w = strtok_r(copy, ", \t", &save); w && !status; w = strtok_r(NULL, ", \t", &save)) {
        double t0, t1, step = 1;
        char *b = strchr(w, '/');
        if (b) {
            *b++ = 0;
            char *h = strchr(b, '/');
            if (!h) {
                status = util_fail(UTIL_EINVAL, "%s '%s': a range is START/END/STEP_HOURS", what, spec);
                break;
            }
            *h++ = 0;
            double hours;
            if ((status = util_time_parse(w, &t0)) || (status = util_time_parse(b, &t1)) ||
                (status = util_parse_double(step_name, h, 1.0 / 60, 1e6, &hours)))
                break;
            step = hours * 3600;
            if (t1 < t0) {
                status = util_fail(UTIL_EINVAL, "%s range %s/%s: needs END >= START", what, w, b);
                break;
            }
        } else {
            if ((status = util_time_parse(w, &t0))) break;
            t1 = t0;
        }
        /* counted before anything is allocated for them */
        if ((t1 - t0) / step + 1 + *n > MAX_TIMES) {
            status = util_fail(UTIL_EINVAL, "%s '%s': %.3g times, more than the 1,000,000 a job may have", what, spec,
                               (t1 - t0) / step + 1 + *n);
            break;
        }
        for (double t = t0; t <= t1 + 1e-6; t += step) {
            if (*n == cap) {
                double *g = realloc(*out, sizeof(double) * (cap = cap ? 2 * cap : 64));
                if (!g) {
                    status = util_fail(UTIL_ENOMEM, "out of memory");
                    break;
                }
                *out = g;
            }
            (*out)[(*n)++] = t;
        }
    }
    free(copy);
    if (status) free(*out), *out = NULL, *n = 0;
    return status;
}

void util_time_fields(double seconds, int *year, int *month, int *day, int *hour, int *minute, int *second) {
    double days = floor(seconds / 86400.0);
    long rem = (long)llround(seconds - days * 86400.0);
    if (rem >= 86400) days += 1, rem -= 86400;
    civil_from_days((long)days, year, month, day);
    *hour = (int)(rem / 3600), *minute = (int)(rem / 60 % 60), *second = (int)(rem % 60);
}

void util_time_format(double seconds, char *buf, size_t cap) {
    int y, mo, d, h, mi, s;
    util_time_fields(seconds, &y, &mo, &d, &h, &mi, &s);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, s);
}

int util_day_of_year(double seconds) {
    int y, mo, d, h, mi, s;
    util_time_fields(seconds, &y, &mo, &d, &h, &mi, &s);
    return (int)(days_from_civil(y, (unsigned)mo, (unsigned)d) - days_from_civil(y, 1, 1)) + 1;
}

int util_time_units(const char *units, double *unit_seconds, double *epoch) {
    char unit[32], since[16], date[64] = "", clock[64] = "";
    int n = sscanf(units, "%31s %15s %63s %63s", unit, since, date, clock);
    if (n < 3 || strcasecmp(since, "since") != 0)
        return util_fail(UTIL_EFORMAT, "time units '%s': expected '<unit> since <date>'", units);
    static const struct { const char *name; double s; } table[] = {
        {"milliseconds", 1e-3}, {"millisecond", 1e-3}, {"ms", 1e-3}, {"seconds", 1}, {"second", 1}, {"secs", 1}, {"s", 1}, {"minutes", 60}, {"minute", 60}, {"mins", 60},
        {"hours", 3600}, {"hour", 3600}, {"hrs", 3600}, {"h", 3600}, {"days", 86400}, {"day", 86400}, {"d", 86400}};
    *unit_seconds = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(unit, table[i].name) == 0) *unit_seconds = table[i].s;
    if (*unit_seconds == 0)
        return util_fail(UTIL_EFORMAT, "time units '%s': unit '%s' is not milliseconds, seconds, minutes, hours or days", units, unit);
    char text[160];
    /* "1900-01-01 00:00:00.0", "1970-01-01T00:00:00", "1900-01-01" */
    if (n >= 4 && strchr(date, 'T') == NULL) snprintf(text, sizeof text, "%s %s", date, clock);
    else snprintf(text, sizeof text, "%s", date);
    char *dot = strrchr(text, '.');
    if (dot && strchr(dot, ':') == NULL && dot > strrchr(text, ':')) *dot = 0; /* drop fractional seconds ".0" */
    size_t len = strlen(text);
    if (len > 6 && (strcmp(text + len - 6, "+00:00") == 0 || strcmp(text + len - 6, " UTC") == 0)) text[len - 6] = 0;
    if (time_parse(text, 1, epoch) != UTIL_OK)
        return util_fail(UTIL_EFORMAT, "time units '%s': cannot read the reference date", units);
    return UTIL_OK;
}

double util_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

long util_peak_rss_kb(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return -1;
    return u.ru_maxrss;
}

int util_parse_long(const char *name, const char *text, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || end == text || *end || errno || v < min || v > max)
        return util_fail(UTIL_EINVAL, "%s '%s': expected a whole number from %lld to %lld", name, text ? text : "", min,
                         max);
    *out = v;
    return UTIL_OK;
}

int util_parse_double(const char *name, const char *text, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || !*text || end == text || *end || errno == ERANGE || !isfinite(v) || v < min || v > max)
        return util_fail(UTIL_EINVAL, "%s '%s': expected a number from %g to %g", name, text ? text : "", min, max);
    *out = v;
    return UTIL_OK;
}

int util_parse_yesno(const char *name, const char *text, int *out) {
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; text && i < 4; i++) {
        if (!strcasecmp(text, yes[i])) return *out = 1, UTIL_OK;
        if (!strcasecmp(text, no[i])) return *out = 0, UTIL_OK;
    }
    return util_fail(UTIL_EINVAL, "%s '%s': expected yes or no", name, text ? text : "");
}

/* The canonical path of a file that may not exist yet: its directory resolved. */
static int canonical(const char *path, char *out, size_t cap) {
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (realpath(path, out)) return 0;
    snprintf(tmp, sizeof tmp, "%s", path);
    char *base = basename(tmp);
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    if (!realpath(dirname(copy), dir)) return -1;
    return snprintf(out, cap, "%s/%s", dir, base) >= (int)cap ? -1 : 0;
}

int util_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ca[PATH_MAX], cb[PATH_MAX];
    if (canonical(a, ca, sizeof ca) || canonical(b, cb, sizeof cb)) return strcmp(a, b) == 0;
    return strcmp(ca, cb) == 0;
}

int util_check_output(const char *output, const char *const *inputs, int ninputs) {
    struct stat st;
    if (!output) return UTIL_OK;
    if (stat(output, &st) == 0 && !S_ISREG(st.st_mode))
        return util_fail(UTIL_EINVAL, "%s: not a regular file (%s): outputs are written to a temporary file and renamed "
                                      "over a regular file only", output, S_ISDIR(st.st_mode) ? "a directory" : "a device or special file");
    for (int i = 0; i < ninputs; i++)
        if (inputs[i] && util_same_file(output, inputs[i]))
            return util_fail(UTIL_EINVAL, "%s is also an input (%s): an output never replaces an input; choose another "
                                          "output name", output, inputs[i]);
    return UTIL_OK;
}

int util_check_distinct_outputs(const char *name_a, const char *a, const char *name_b, const char *b) {
    if (a && b && util_same_file(a, b))
        return util_fail(UTIL_EINVAL, "%s and %s are the same file (%s): give them different names", name_a, name_b, a);
    return UTIL_OK;
}

/* directories util_mkdirs made, for util_remove_created_dirs */
enum { CREATED_MAX = 32 };
static char created[CREATED_MAX][PATH_MAX];
static int ncreated;

void util_remove_created_dirs(void) {
    /* deepest first; rmdir removes only empty ones, so files already written stay */
    for (int i = ncreated - 1; i >= 0; i--) rmdir(created[i]);
    ncreated = 0;
}

int util_mkdirs(const char *dir) {
    char p[PATH_MAX];
    if (!dir || !*dir || snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return util_fail(UTIL_EINVAL, "'%s': not a directory name", dir ? dir : "");
    for (char *q = p + 1;; q++) {
        char ch = *q;
        if (ch != '/' && ch) continue;
        *q = 0;
        struct stat st;
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0777) == 0) {
                if (ncreated < CREATED_MAX) snprintf(created[ncreated++], PATH_MAX, "%s", p);
            } else if (errno != EEXIST)
                return util_fail(UTIL_EIO, "%s: cannot create the directory: %s", p, strerror(errno));
        } else if (!S_ISDIR(st.st_mode))
            return util_fail(UTIL_EIO, "%s: exists and is not a directory", p);
        *q = ch;
        if (!ch) break;
    }
    return UTIL_OK;
}

/* "pangu-c VERSION WHAT; models: 24 h PATH (sha256 HEX), ...": the source
 * attribute of every file a model wrote (provenance). */
int util_source_attribute(char *out, size_t cap, const char *what, const int *leads, const char *const *paths, int n) {
    size_t o = (size_t)snprintf(out, cap, "pangu-c %s %s; model%s:", PANGU_VERSION, what, n == 1 ? "" : "s");
    for (int i = 0; i < n && o < cap; i++) {
        char hex[65];
        int status = util_sha256_file(paths[i], hex);
        if (status) return status;
        o += (size_t)snprintf(out + o, cap - o, "%s %d h %s (sha256 %s)", i ? "," : "", leads[i], paths[i], hex);
    }
    if (o >= cap) return util_fail(UTIL_EINVAL, "model file paths too long for the source attribute");
    return UTIL_OK;
}

void util_progress_init(util_progress *p, int fd, double seconds) {
    static int warned; /* once per process: every job step starts its own progress (atomic: any thread) */
    const char *env = getenv("PANGU_PROGRESS_INTERVAL");
    char *end = NULL;
    double given = env && *env ? strtod(env, &end) : NAN;
    int valid = env && *env && !*end && isfinite(given) && given >= 0;
    if (env && *env && !valid && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) {
        util_warn("PANGU_PROGRESS_INTERVAL='%s': expected seconds between progress lines (a number >= 0); using %g s",
                  env, seconds);
    }
    p->tty = isatty(fd);
    p->interval = valid ? given : seconds;
    p->last = util_now();
}

int util_progress_due(util_progress *p, int final) {
    double now = util_now();
    if (!p->tty && !final && now - p->last < p->interval) return 0;
    p->last = now;
    return 1;
}

const char *util_progress_start(const util_progress *p) { return p->tty ? "\r" : ""; }
const char *util_progress_end(const util_progress *p) { return p->tty ? "   " : "\n"; }
