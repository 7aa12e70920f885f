#define _DEFAULT_SOURCE
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static _Thread_local char last_message[1024];

int util_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *util_last_message(void) { return last_message; }

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

void *util_aligned_alloc(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = UTIL_ALIGN;
    if (posix_memalign(&p, UTIL_ALIGN, util_align_up(bytes)) != 0) return NULL;
    memset(p, 0, util_align_up(bytes));
    return p;
}

int util_arena_init(util_arena *a, size_t bytes) {
    void *p = NULL;
    a->size = util_align_up(bytes ? bytes : UTIL_ALIGN);
    a->used = a->peak = 0;
    /* Not zeroed here: pages are first touched by the threads that use them. */
    if (posix_memalign(&p, UTIL_ALIGN, a->size) != 0) {
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

void util_arena_reset(util_arena *a, size_t mark) { a->used = mark; }

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
