/* Suite "http": io/http.c against a tiny HTTP/1.1 server on 127.0.0.1 run in
 * a thread of this process. The server plays back scripted answers, one per
 * connection (Connection: close), as RFC 9110 defines them: 200 and 404,
 * 206 with Content-Range for a Range request (section 14), a 200 to a Range
 * request from a server that ignores ranges (section 14.2 allows it), a 503
 * (15.6.4), a body cut short of its Content-Length; it records each request
 * so the tests can check what the client sent (method, Range, headers, body).
 * Retries, pacing and deadline arithmetic are tested in test_fetch.c; the
 * services themselves in tests/fetch_test.sh. */
#define _GNU_SOURCE /* strcasestr */
#include <CUnit/CUnit.h>

#include "tests.h"

#ifdef PANGU_CURL
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/fetch.h"
#include "util/util.h"

enum { MAX_ANSWERS = 8, REQ_MAX = 4096 };

typedef struct {
    int listen_fd, port;
    const char *answers[MAX_ANSWERS]; /* raw replies; "CUT:" prefix: close after that many bytes */
    int nanswers, served;
    char requests[MAX_ANSWERS][REQ_MAX];
    pthread_t thread;
} server;

/* One request: headers, then Content-Length bytes of body. */
static void read_request(int fd, char *buf) {
    size_t n = 0;
    long body = -1;
    char *end = NULL;
    while (n < REQ_MAX - 1) {
        ssize_t k = recv(fd, buf + n, REQ_MAX - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k, buf[n] = 0;
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
        }
        if (end && (long)(n - (size_t)(end + 4 - buf)) >= body) break;
    }
    buf[n] = 0;
}

static void *serve(void *arg) {
    server *s = arg;
    while (s->served < s->nanswers) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0) break; /* the client gave up: do not hang the suite */
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) break;
        int i = s->served++;
        read_request(fd, s->requests[i]);
        const char *a = s->answers[i];
        size_t len = strlen(a);
        if (!strncmp(a, "CUT:", 4)) { /* CUT:N:reply: only the first N bytes of reply */
            char *rest;
            len = strtoul(a + 4, &rest, 10), a = rest + 1;
        }
        for (size_t sent = 0; sent < len;) {
            ssize_t k = send(fd, a + sent, len - sent, MSG_NOSIGNAL);
            if (k <= 0) break;
            sent += (size_t)k;
        }
        close(fd);
    }
    return NULL;
}

static int server_start(server *s, const char *const *answers, int n) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < n; i++) s->answers[i] = answers[i];
    s->nanswers = n;
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_LOOPBACK), a.sin_port = 0;
    if ((s->listen_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->listen_fd, 8) != 0 || getsockname(s->listen_fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, serve, s);
}

static int server_stop(server *s) {
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    return s->served;
}

static io_http *open_client(int retries) {
    io_http_opts o = {retries, 0.01, 0.05, 5, 0, 0};
    io_http *h = NULL;
    CU_ASSERT(io_http_open(&h, &o) == 0);
    return h;
}

static const char *url(const server *s, const char *path) {
    static char buf[4][256];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "http://127.0.0.1:%d%s", s->port, path);
    return b;
}

#define OK_HELLO "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"

/* GET and POST into memory; an answer other than 2xx is the caller's to judge;
 * the key header goes only to URLs under its prefix. */
static void test_request(void) {
    const char *answers[] = {OK_HELLO,
                             "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno.",
                             "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"};
    server s;
    CU_ASSERT_FATAL(server_start(&s, answers, 3) == 0);
    io_http *h = open_client(0);
    CU_ASSERT_FATAL(h != NULL);
    CU_ASSERT(io_http_set_token(h, url(&s, "/api/"), "PRIVATE-TOKEN: secret") == 0);
    io_http_reply r;
    CU_ASSERT(io_http_request(h, url(&s, "/a.index"), NULL, &r) == 0 && r.code == 200 && r.len == 5 &&
              !strcmp(r.body, "hello") && !strcmp(r.content_type, "text/plain"));
    io_http_reply_free(&r);
    CU_ASSERT(io_http_request(h, url(&s, "/missing"), NULL, &r) == 0 && r.code == 404 && !strcmp(r.body, "no."));
    io_http_reply_free(&r);
    CU_ASSERT(io_http_request(h, url(&s, "/api/jobs"), "{\"inputs\": {}}", &r) == 0 && r.code == 201);
    io_http_reply_free(&r);
    io_http_close(h);
    CU_ASSERT_FATAL(server_stop(&s) == 3);
    CU_ASSERT(!strncmp(s.requests[0], "GET /a.index HTTP/1.1\r\n", 23) && !strstr(s.requests[0], "PRIVATE-TOKEN"));
    CU_ASSERT(!strstr(s.requests[1], "PRIVATE-TOKEN"));
    CU_ASSERT(!strncmp(s.requests[2], "POST /api/jobs ", 15) && strstr(s.requests[2], "\r\nPRIVATE-TOKEN: secret\r\n") &&
              strcasestr(s.requests[2], "\r\nContent-Type: application/json\r\n") && strstr(s.requests[2], "\r\n\r\n{\"inputs\": {}}"));
}

/* 503 is retried; when every attempt gets it the message says how many. */
static void test_retry(void) {
    const char *busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    const char *answers[] = {busy, OK_HELLO, busy, busy, busy};
    server s;
    CU_ASSERT_FATAL(server_start(&s, answers, 5) == 0);
    io_http *h = open_client(2);
    CU_ASSERT_FATAL(h != NULL);
    io_http_reply r;
    CU_ASSERT(io_http_request(h, url(&s, "/x"), NULL, &r) == 0 && r.code == 200 && !strcmp(r.body, "hello"));
    io_http_reply_free(&r);
    CU_ASSERT(io_http_request(h, url(&s, "/x"), NULL, &r) == UTIL_EIO && strstr(util_last_message(), "503") &&
              strstr(util_last_message(), "still after 3 attempts"));
    io_http_close(h);
    CU_ASSERT(server_stop(&s) == 5);
}

static long long file_bytes(FILE *fp, char *buf, size_t cap) {
    fflush(fp);
    rewind(fp);
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = 0;
    return (long long)n;
}

/* A range request gets exactly its bytes (206, Content-Range); a server that
 * answers 200 to it is named, and what it sent is not worth resuming. */
static void test_range(void) {
    const char *answers[] = {
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 3-6/10\r\nContent-Length: 4\r\nConnection: close\r\n\r\n3456",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
        "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nConnection: close\r\n\r\n"};
    server s;
    CU_ASSERT_FATAL(server_start(&s, answers, 3) == 0);
    io_http *h = open_client(0);
    CU_ASSERT_FATAL(h != NULL);
    FILE *fp = tmpfile();
    CU_ASSERT_FATAL(fp != NULL);
    long long got = 0, size = 0;
    char buf[64];
    CU_ASSERT(io_http_get_range(h, url(&s, "/f.grib2"), 3, 4, fp, "f.grib2", &got) == 0 && got == 4);
    CU_ASSERT(file_bytes(fp, buf, sizeof buf) == 4 && !strcmp(buf, "3456"));
    CU_ASSERT(io_http_get_range(h, url(&s, "/f.grib2"), 3, 4, fp, "f.grib2", &got) == UTIL_EIO &&
              strstr(util_last_message(), "ignores HTTP range requests") && io_http_resumable(h) == 0);
    CU_ASSERT(io_http_size(h, url(&s, "/f.grib2"), &size) == 0 && size == 1234);
    io_http_close(h);
    fclose(fp);
    CU_ASSERT_FATAL(server_stop(&s) == 3);
    CU_ASSERT(strstr(s.requests[0], "\r\nRange: bytes=3-6\r\n") != NULL);
    CU_ASSERT(!strncmp(s.requests[2], "HEAD /f.grib2 ", 14));
}

/* A transfer cut short continues from its last byte with a range request;
 * a file of another size than the service announced is refused. */
static void test_cut_and_resumed(void) {
    const char *answers[] = {
        "CUT:63:HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\nConnection: close\r\n\r\n56789",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789"};
    /* the cut: the 58 header bytes and the first 5 of the body */
    CU_ASSERT_FATAL(strstr(answers[0], "\r\n\r\n") + 4 - (answers[0] + 7) == 58);
    server s;
    CU_ASSERT_FATAL(server_start(&s, answers, 3) == 0);
    io_http *h = open_client(2);
    CU_ASSERT_FATAL(h != NULL);
    FILE *fp = tmpfile();
    CU_ASSERT_FATAL(fp != NULL);
    long long size = 0;
    char buf[64];
    CU_ASSERT(io_http_get_file(h, url(&s, "/m.onnx"), fp, "m.onnx", 0, 10, &size) == 0 && size == 10);
    CU_ASSERT(file_bytes(fp, buf, sizeof buf) == 10 && !strcmp(buf, "0123456789"));
    FILE *fp2 = tmpfile();
    CU_ASSERT_FATAL(fp2 != NULL);
    CU_ASSERT(io_http_get_file(h, url(&s, "/m.onnx"), fp2, "m.onnx", 0, 12, &size) == UTIL_EIO &&
              strstr(util_last_message(), "received 10 bytes, the service announced 12"));
    io_http_close(h);
    fclose(fp), fclose(fp2);
    CU_ASSERT_FATAL(server_stop(&s) == 3);
    CU_ASSERT(!strstr(s.requests[0], "Range:") && strstr(s.requests[1], "\r\nRange: bytes=5-\r\n"));
}

int tests_register_http(void) {
    CU_pSuite s = CU_add_suite("http", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "GET and POST into memory, 404 returned, the key only under its prefix", test_request) ||
        !CU_add_test(s, "503 retried, and given up on after the last attempt", test_retry) ||
        !CU_add_test(s, "range requests: 206 bytes, a server ignoring ranges named; HEAD size", test_range) ||
        !CU_add_test(s, "a cut transfer resumed from its last byte; a wrong size refused", test_cut_and_resumed))
        return -1;
    return 0;
}
#else
int tests_register_http(void) { return 0; } /* built without libcurl (make CURL=0) */
#endif
