/* io http: HTTP for pangu fetch through Debian's libcurl (see fetch.h):
 * retries with back-off, range requests, resume, progress. */
#define _DEFAULT_SOURCE /* fseeko, ftruncate, nanosleep */
#include "fetch.h"

#ifdef PANGU_CURL
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"

#define MEM_MAX (16u << 20)

struct io_http {
    CURL *curl;
    io_http_opts o;
    char token_prefix[1024], token_header[1024];
    char user_agent[64];
    double last_request; /* when the last request was sent (util_now), for pacing */
    int resumable;       /* see io_http_resumable */
    /* progress */
    long long planned, done, done_print;
    double t_first, t_print;
    int tty, dirty;
    char label[256];
};

/* Where one request's body goes. */
typedef struct {
    io_http *h;
    FILE *fp;            /* file requests; NULL: memory */
    int mode;            /* 0 undecided, 1 into fp, 2 into mem */
    int range;           /* a Range header was sent */
    long long from;      /* its first byte */
    long long want;      /* bytes this request should bring (-1: unknown) */
    long long got;       /* bytes written to fp */
    int allow_restart;   /* get_file: 200 to a range request starts the file over */
    int restarted;
    int werr;            /* errno of a failed write */
    int ignored_range, wrong_range, too_long;
    long long cr_start, cr_total; /* Content-Range (-1: absent) */
    char ctype[128];
    char location[512];  /* a redirect's Location */
    double budget;       /* seconds this attempt may take (<= 0: no limit) */
    double spent;        /* seconds the attempts took so far */
    char *mem;
    size_t len, cap;
} sink;

const char *io_http_reason(long code) {
    switch (code) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 202: return "202 Accepted";
    case 206: return "206 Partial Content";
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 408: return "408 Request Timeout";
    case 410: return "410 Gone";
    case 416: return "416 Range Not Satisfiable";
    case 422: return "422 Unprocessable Entity";
    case 429: return "429 Too Many Requests";
    case 500: return "500 Internal Server Error";
    case 502: return "502 Bad Gateway";
    case 503: return "503 Service Unavailable";
    case 504: return "504 Gateway Timeout";
    default: {
        static _Thread_local char buf[32];
        snprintf(buf, sizeof buf, "%ld", code);
        return buf;
    }
    }
}

static int retryable_code(long code) { return code == 408 || code == 429 || code >= 500; }

static int retryable_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return 1;
    default: return 0;
    }
}

int io_http_open(io_http **out, const io_http_opts *o) {
    static int global_done;
    *out = NULL;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return util_fail(UTIL_EIO, "libcurl cannot be initialised");
        global_done = 1;
    }
    io_http *h = calloc(1, sizeof *h);
    if (!h) return util_fail(UTIL_ENOMEM, "out of memory");
    if (!(h->curl = curl_easy_init())) {
        free(h);
        return util_fail(UTIL_EIO, "libcurl cannot create a handle");
    }
    h->o = *o;
    h->tty = isatty(fileno(stderr));
    snprintf(h->user_agent, sizeof h->user_agent, "pangu-c fetch (libcurl %s)", curl_version_info(CURLVERSION_NOW)->version);
    *out = h;
    return UTIL_OK;
}

void io_http_close(io_http *h) {
    if (!h) return;
    if (h->dirty) fputc('\n', stderr);
    curl_easy_cleanup(h->curl);
    free(h);
}

void io_http_reply_free(io_http_reply *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

int io_http_set_token(io_http *h, const char *prefix, const char *header) {
    if (strlen(prefix) >= sizeof h->token_prefix || strlen(header) >= sizeof h->token_header)
        return util_fail(UTIL_EINVAL, "the URL or key is too long (%zu, %zu characters)", strlen(prefix), strlen(header));
    snprintf(h->token_prefix, sizeof h->token_prefix, "%s", prefix);
    snprintf(h->token_header, sizeof h->token_header, "%s", header);
    return UTIL_OK;
}

/* ---- progress ---- */

static void human(double bytes, char *buf, size_t cap) {
    if (bytes < 1e3) snprintf(buf, cap, "%.0f B", bytes);
    else if (bytes < 1e6) snprintf(buf, cap, "%.1f kB", bytes / 1e3);
    else if (bytes < 1e9) snprintf(buf, cap, "%.1f MB", bytes / 1e6);
    else snprintf(buf, cap, "%.2f GB", bytes / 1e9);
}

void io_http_progress_add(io_http *h, long long planned_bytes) {
    if (planned_bytes > 0) h->planned += planned_bytes;
}

void io_http_progress_label(io_http *h, const char *label) { snprintf(h->label, sizeof h->label, "%s", label); }

/* On a terminal the line is redrawn in place; in a batch log a line every
 * 10 s or tenth of the bytes planned (and when forced). */
void io_http_progress_line(io_http *h, int force) {
    double now = util_now();
    int due = h->tty ? now - h->t_print >= 0.5
                     : now - h->t_print >= 10 || (h->planned > 0 && (h->done - h->done_print) * 10 >= h->planned);
    if (!force && !due) return;
    h->t_print = now, h->done_print = h->done;
    double el = h->t_first > 0 ? now - h->t_first : 0, rate = el > 0.05 ? h->done / el : 0;
    char a[32], b[32], r[32], eta[48] = "";
    human((double)h->done, a, sizeof a);
    human((double)(h->planned > h->done ? h->planned : h->done), b, sizeof b);
    human(rate, r, sizeof r);
    if (rate > 0 && h->planned > h->done) snprintf(eta, sizeof eta, "  ETA %.0f s", (h->planned - h->done) / rate);
    fprintf(stderr, "%spangu fetch: %s of %s  %s/s%s  %s%s", h->tty ? "\r" : "", a, b, r, eta, h->label,
            h->tty ? "\033[K" : "\n");
    h->dirty = h->tty;
    fflush(stderr);
}

/* A message line (a retry, a file written) that does not garble the
 * progress line. */
static void note(io_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(io_http *h, const char *fmt, ...) {
    va_list ap;
    if (h->dirty) fputs("\r\033[K", stderr), h->dirty = 0;
    va_start(ap, fmt);
    fputs("pangu fetch: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- one request ---- */

static size_t on_header(char *p, size_t size, size_t n, void *user) {
    sink *s = user;
    size_t len = size * n;
    char line[512];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = 0;
    if (!strncasecmp(line, "HTTP/", 5)) { /* a new answer (after a redirect or 100): forget the last one's headers */
        s->cr_start = s->cr_total = -1;
        s->ctype[0] = 0;
    } else if (!strncasecmp(line, "Location:", 9)) {
        const char *v = line + 9;
        while (*v == ' ') v++;
        snprintf(s->location, sizeof s->location, "%.*s", (int)strcspn(v, "\r\n"), v);
    } else if (!strncasecmp(line, "Content-Range:", 14)) {
        long long a, b, t;
        if (sscanf(line + 14, " bytes %lld-%lld/%lld", &a, &b, &t) == 3) s->cr_start = a, s->cr_total = t;
        else if (sscanf(line + 14, " bytes %lld-%lld/*", &a, &b) == 2) s->cr_start = a, s->cr_total = -1;
    } else if (!strncasecmp(line, "Content-Type:", 13)) {
        const char *v = line + 13;
        while (*v == ' ') v++;
        size_t k = strcspn(v, "\r\n;");
        if (k >= sizeof s->ctype) k = sizeof s->ctype - 1;
        memcpy(s->ctype, v, k);
        s->ctype[k] = 0;
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *user) {
    sink *s = user;
    size_t len = size * n;
    if (!s->mode) {
        long code = 0;
        curl_easy_getinfo(s->h->curl, CURLINFO_RESPONSE_CODE, &code);
        s->mode = 2;
        if (s->fp && code == 206 && s->range) {
            if (s->cr_start != s->from) {
                s->wrong_range = 1;
                return 0;
            }
            s->mode = 1;
        } else if (s->fp && code == 200) {
            if (s->range && !s->allow_restart) {
                s->ignored_range = 1;
                return 0;
            }
            if (s->range) { /* the server sends the whole file: start it over */
                if (fflush(s->fp) || ftruncate(fileno(s->fp), 0) || fseeko(s->fp, 0, SEEK_SET)) {
                    s->werr = errno ? errno : EIO;
                    return 0;
                }
                s->restarted = 1;
            }
            s->mode = 1;
        }
    }
    if (s->mode == 2) {
        if (s->len + len + 1 > MEM_MAX) {
            s->too_long = 1;
            return 0;
        }
        if (s->len + len + 1 > s->cap) {
            size_t cap = s->cap ? s->cap : 4096;
            while (cap < s->len + len + 1) cap *= 2;
            char *m = realloc(s->mem, cap);
            if (!m) return 0;
            s->mem = m, s->cap = cap;
        }
        memcpy(s->mem + s->len, p, len);
        s->len += len;
        s->mem[s->len] = 0;
        return len;
    }
    if (s->want >= 0 && s->got + (long long)len > s->want) {
        s->too_long = 1;
        return 0;
    }
    errno = 0;
    if (fwrite(p, 1, len, s->fp) != len) {
        s->werr = errno ? errno : EIO;
        return 0;
    }
    s->got += (long long)len;
    io_http *h = s->h;
    if (h->t_first <= 0) h->t_first = util_now();
    h->done += (long long)len;
    io_http_progress_line(h, 0);
    return len;
}

static void sleep_s(double s) {
    if (!(s > 0)) return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* One attempt. *rc and *code say how it ended. */
static void perform(io_http *h, const char *url, const char *json, int head, sink *s, CURLcode *rc, long *code) {
    CURL *c = h->curl;
    struct curl_slist *hdr = NULL;
    char range[80];
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    long t = (long)ceil(h->o.timeout > 0 ? h->o.timeout : 60);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, t);
    /* time-out = no byte for t seconds, however long the whole transfer takes */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, t);
    int token = h->token_prefix[0] && !strncmp(url, h->token_prefix, strlen(h->token_prefix));
    if (token) hdr = curl_slist_append(hdr, h->token_header);
    /* redirects only without the key: curl would send it to the next host too */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, token ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 8L);
    /* never to file:// or another protocol a server should not choose */
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (s->budget > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ceil(s->budget * 1000));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* listings and JSON may come compressed */
    if (json) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        hdr = curl_slist_append(hdr, "Accept: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    if (head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (s->range) {
        if (s->want >= 0) snprintf(range, sizeof range, "%lld-%lld", s->from, s->from + s->want - 1);
        else snprintf(range, sizeof range, "%lld-", s->from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        /* ranges of GRIB bytes must not be transcoded */
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
    }
    if (hdr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    s->mode = 0, s->got = 0, s->cr_start = s->cr_total = -1, s->ctype[0] = 0, s->len = 0, s->location[0] = 0;
    s->ignored_range = s->wrong_range = s->too_long = s->werr = 0;
    if (s->mem) s->mem[0] = 0;
    /* a service's published request rate (io_fetch_pace): wait for our turn */
    double gap = io_fetch_pace(url, h->o.rate_limit), now = util_now();
    if (gap > 0 && h->last_request > 0 && now - h->last_request < gap) sleep_s(gap - (now - h->last_request));
    double t0 = util_now();
    h->last_request = t0;
    *rc = curl_easy_perform(c);
    s->spent += util_now() - t0;
    *code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(hdr);
}

/* Wait before the next attempt; 0 when attempts remain, else the final error. */
static int retry_or_fail(io_http *h, const char *url, const char *reason, int *attempt, double t_start) {
    if (*attempt >= h->o.retries)
        return util_fail(UTIL_EIO, "%s: %s, still after %d attempts over %.0f s (pangu fetch --retries N --timeout S)", url,
                         reason, *attempt + 1, util_now() - t_start);
    double wait = io_fetch_backoff(h->o.backoff, h->o.backoff_max, *attempt);
    curl_off_t ra = -1;
    if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > wait)
        wait = ra < h->o.backoff_max ? (double)ra : h->o.backoff_max;
    note(h, "%s: %s; retry %d of %d in %.3g s", url, reason, *attempt + 1, h->o.retries, wait);
    sleep_s(wait);
    (*attempt)++;
    return UTIL_OK;
}

static int write_error(const char *path, int err) {
    return util_fail(UTIL_EIO, "%s: cannot write (%s)%s", path, strerror(err),
                     err == ENOSPC || err == EDQUOT || err == EFBIG ? ": the disk is full (or a quota or file-size limit is reached)"
                                                                   : "");
}

static void reason_of(CURLcode rc, long code, const sink *s, char *buf, size_t cap) {
    if (rc == CURLE_OPERATION_TIMEDOUT) snprintf(buf, cap, "no data for %.3g s (timed out)", s->h->o.timeout > 0 ? s->h->o.timeout : 60);
    else if (rc != CURLE_OK) snprintf(buf, cap, "%s", curl_easy_strerror(rc));
    else snprintf(buf, cap, "HTTP %s", io_http_reason(code));
    if (s->got > 0 && rc != CURLE_OK) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, " after %lld bytes", s->got);
    }
}

/* Did the attempt end on the transfer's deadline (rather than on a silence)? */
static int over_deadline(const sink *s, CURLcode rc, double deadline) {
    return rc == CURLE_OPERATION_TIMEDOUT && s->spent >= deadline - 0.05;
}

static int deadline_fail(const char *url, double deadline, double spent, long long received) {
    return util_fail(UTIL_EIO, "%s: not complete after %.0f s (%lld bytes received, %.3g bytes/s): over the deadline of %.0f s "
                               "for this transfer (4 x --timeout plus the expected size at 10 kB/s, or --deadline S)",
                     url, spent, received, spent > 0 ? received / spent : 0, deadline);
}

/* One attempt of a request (head: HEAD) in what is left of the deadline: rc,
 * code and a reason for messages; a status once the deadline has passed. */
static int attempt_within(io_http *h, const char *url, const char *json, int head, sink *s, double deadline,
                          CURLcode *rc, long *code, char *reason, size_t cap) {
    s->budget = fmax(deadline - s->spent, 0.001); /* spent: this attempt times out at once */
    perform(h, url, json, head, s, rc, code);
    reason_of(*rc, *code, s, reason, cap);
    if (over_deadline(s, *rc, deadline)) return deadline_fail(url, deadline, s->spent, head ? 0 : (long long)s->len);
    return UTIL_OK;
}

int io_http_request(io_http *h, const char *url, const char *json, io_http_reply *r) {
    memset(r, 0, sizeof *r);
    sink s = {0};
    s.h = h, s.want = -1;
    double t0 = util_now(), deadline = io_fetch_deadline(h->o.deadline, h->o.timeout, -1);
    int attempt = 0, status = UTIL_OK;
    for (;;) {
        CURLcode rc;
        long code;
        char reason[256];
        if ((status = attempt_within(h, url, json, 0, &s, deadline, &rc, &code, reason, sizeof reason))) break;
        if (s.too_long) {
            status = util_fail(UTIL_EFORMAT, "%s: the answer is larger than %u MB, not an index or a reply", url, MEM_MAX >> 20);
            break;
        }
        if (rc == CURLE_OK && !retryable_code(code)) {
            r->code = code;
            r->body = s.mem ? s.mem : calloc(1, 1), r->len = s.len, s.mem = NULL;
            snprintf(r->content_type, sizeof r->content_type, "%s", s.ctype);
            if (!r->body) status = util_fail(UTIL_ENOMEM, "out of memory");
            break;
        }
        if (rc == CURLE_UNSUPPORTED_PROTOCOL && s.location[0]) {
            status = util_fail(UTIL_EIO, "%s: the server redirects to %s: only http and https redirects are followed", url,
                               s.location);
            break;
        }
        if ((rc != CURLE_OK && !retryable_curl(rc))) {
            status = util_fail(UTIL_EIO, "%s: %s", url, reason);
            break;
        }
        if ((status = retry_or_fail(h, url, reason, &attempt, t0))) break;
    }
    free(s.mem);
    return status;
}

int io_http_size(io_http *h, const char *url, long long *size) {
    sink s = {0};
    s.h = h, s.want = -1;
    double t0 = util_now(), deadline = io_fetch_deadline(h->o.deadline, h->o.timeout, -1);
    int attempt = 0, status = UTIL_OK;
    *size = -1;
    for (;;) {
        CURLcode rc;
        long code;
        char reason[256];
        if ((status = attempt_within(h, url, NULL, 1, &s, deadline, &rc, &code, reason, sizeof reason))) break;
        if (rc == CURLE_OK && code == 200) {
            curl_off_t n = -1;
            if (curl_easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &n) == CURLE_OK) *size = n;
            break;
        }
        if ((rc == CURLE_OK && !retryable_code(code)) || (rc != CURLE_OK && !retryable_curl(rc))) {
            status = util_fail(UTIL_EIO, "%s: %s", url, reason);
            break;
        }
        if ((status = retry_or_fail(h, url, reason, &attempt, t0))) break;
    }
    free(s.mem);
    return status;
}

/* The server's error body, shortened to one line, for messages. */
static void body_excerpt(const sink *s, char *buf, size_t cap) {
    buf[0] = 0;
    if (!s->mem || !s->len) return;
    size_t k = 0;
    for (size_t i = 0; i < s->len && k + 1 < cap && k < 200; i++) {
        char c = s->mem[i];
        buf[k++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (c >= 32 && c < 127 ? c : '?');
    }
    buf[k] = 0;
}

/* Shared by get_range and get_file: bytes from `from` to the end (length
 * -1) or `length` of them, appended to fp. */
static int transfer(io_http *h, const char *url, FILE *fp, const char *path, long long from, long long length,
                    long long expect, int allow_restart, long long *got, long long *total) {
    sink s = {0};
    s.h = h, s.fp = fp, s.allow_restart = allow_restart;
    double t0 = util_now(), deadline = io_fetch_deadline(h->o.deadline, h->o.timeout, length >= 0 ? length : expect);
    int attempt = 0, status = UTIL_OK;
    long long done = 0, best = 0;
    *total = -1;
    h->resumable = 1; /* cleared below where a rerun could not finish the file */
    for (;;) {
        s.from = from + done;
        s.range = allow_restart ? s.from > 0 : 1;
        s.want = length >= 0 ? length - done : -1;
        CURLcode rc;
        long code;
        s.budget = fmax(deadline - s.spent, 0.001); /* spent: this attempt times out at once */
        perform(h, url, NULL, 0, &s, &rc, &code);
        if (s.restarted) done = 0, from = 0, s.restarted = 0;
        done += s.got;
        if (s.cr_total >= 0) *total = s.cr_total;
        else if (code == 200 && s.mode == 1) {
            curl_off_t n = -1;
            if (curl_easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &n) == CURLE_OK && n >= 0) *total = n;
        }
        char reason[256], body[256];
        reason_of(rc, code, &s, reason, sizeof reason);
        if (s.werr) {
            status = write_error(path, s.werr);
            break;
        }
        if (over_deadline(&s, rc, deadline)) {
            status = deadline_fail(url, deadline, s.spent, done);
            break;
        }
        h->resumable = 0;
        if (s.ignored_range && !strcasecmp(s.ctype, "text/html")) {
            status = util_fail(UTIL_EIO, "%s: the server answered 200 with an HTML page (text/html) instead of the bytes from %lld "
                                         "asked for: an error or login page, not the file", url, s.from);
            break;
        }
        if (s.ignored_range) {
            status = util_fail(UTIL_EIO, "%s: the server ignores HTTP range requests (answered 200 to Range: bytes=%lld-): "
                                         "it cannot serve single fields; use a mirror that does",
                               url, s.from);
            break;
        }
        if (s.wrong_range) {
            status = util_fail(UTIL_EIO, "%s: asked for bytes from %lld, the server sent a range from %lld", url, s.from, s.cr_start);
            break;
        }
        if (s.too_long) {
            status = util_fail(UTIL_EIO, "%s: the server sent more than the %lld bytes asked for", url, s.want);
            break;
        }
        if (rc == CURLE_UNSUPPORTED_PROTOCOL && s.location[0]) {
            status = util_fail(UTIL_EIO, "%s: the server redirects to %s: only http and https redirects are followed", url,
                               s.location);
            break;
        }
        h->resumable = 1;
        int complete = rc == CURLE_OK && s.mode == 1 &&
                       (length >= 0 ? done == length : *total < 0 || from + done == *total);
        if (complete) break;
        if (rc == CURLE_OK && s.mode == 1) snprintf(reason, sizeof reason, "transfer ended after %lld of %lld bytes", done,
                                                   length >= 0 ? length : *total - from);
        else if (rc == CURLE_OK && !retryable_code(code)) {
            body_excerpt(&s, body, sizeof body);
            if (code == 416)
                status = util_fail(UTIL_EIO, "%s: HTTP 416: bytes from %lld are past the end of the file (did it change on the "
                                             "server?)", url, s.from);
            else
                status = util_fail(UTIL_EIO, "%s: HTTP %s%s%s", url, io_http_reason(code), body[0] ? ": " : "", body);
            h->resumable = 0;
            break;
        }
        if (rc != CURLE_OK && !retryable_curl(rc) && rc != CURLE_WRITE_ERROR) {
            status = util_fail(UTIL_EIO, "%s: %s", url, reason);
            h->resumable = 0;
            break;
        }
        /* more of the file than ever before: the connection works, keep going
         * (a server that restarts the file each time gets no more attempts) */
        if (done > best) attempt = 0, best = done;
        if ((status = retry_or_fail(h, url, reason, &attempt, t0))) break;
    }
    free(s.mem);
    *got = done;
    return status;
}

int io_http_get_range(io_http *h, const char *url, long long offset, long long length, FILE *fp, const char *path,
                      long long *got) {
    long long total;
    return transfer(h, url, fp, path, offset, length, -1, 0, got, &total);
}

int io_http_get_file(io_http *h, const char *url, FILE *fp, const char *path, long long have, long long expect,
                     long long *size) {
    long long got = 0, total = -1;
    int status = transfer(h, url, fp, path, have, -1, expect >= 0 ? expect - have : -1, 1, &got, &total);
    if (status) return status;
    /* after a restart `have` no longer counts: the file holds what the last answer sent */
    long long pos = ftello(fp);
    *size = pos;
    if (expect >= 0 && pos != expect)
        return util_fail(UTIL_EIO, "%s: received %lld bytes, the service announced %lld", url, pos, expect);
    return UTIL_OK;
}

int io_http_resumable(const io_http *h) { return h->resumable; }

void io_http_summary(io_http *h, int written, int skipped, long long bytes, double t0) {
    double el = util_now() - t0;
    io_http_note(h, "%d file%s written, %d already there; %.1f MB in %.1f s (%.1f MB/s)", written, written == 1 ? "" : "s",
                 skipped, bytes / 1e6, el, el > 0 ? bytes / 1e6 / el : 0);
}

void io_http_note(io_http *h, const char *fmt, ...) {
    va_list ap;
    char buf[2048];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    note(h, "%s", buf);
}

#else
typedef int io_http_unused; /* built without libcurl (make CURL=0) */
#endif
