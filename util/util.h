/* util: status codes with a detailed message, 64-byte aligned arena,
 * seedable random numbers, wall clock and peak memory. */
#ifndef PANGU_UTIL_H
#define PANGU_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Status codes shared by every module; 0 is success. */
enum {
    UTIL_OK = 0,
    UTIL_EINVAL = 1,   /* bad argument or configuration */
    UTIL_EFORMAT = 2,  /* file content not what was expected */
    UTIL_EIO = 3,      /* cannot open, read or write */
    UTIL_ENOMEM = 4,   /* out of memory */
    UTIL_ENAN = 5,     /* NaN or infinity where a number was expected */
};

/* Record a detailed message for the failure being returned; returns code so
 * callers write `return util_fail(UTIL_EFORMAT, "...", ...)`. */
int util_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *util_last_message(void);
const char *util_strerror(int code);

/* Bump arena: one big 64-byte aligned block, carved without per-call malloc. */
typedef struct {
    unsigned char *base;
    size_t size, used, peak;
} util_arena;

int util_arena_init(util_arena *a, size_t bytes);
void *util_arena_alloc(util_arena *a, size_t bytes); /* NULL when exhausted */
void util_arena_reset(util_arena *a, size_t mark);
void util_arena_free(util_arena *a);
#define UTIL_ALIGN 64
static inline size_t util_align_up(size_t n) { return (n + UTIL_ALIGN - 1) & ~(size_t)(UTIL_ALIGN - 1); }
void *util_aligned_alloc(size_t bytes); /* zeroed, 64-byte aligned; free with free() */

/* xoshiro256** seeded through splitmix64: reproducible across platforms. */
typedef struct { uint64_t s[4]; } util_rng;
void util_rng_seed(util_rng *r, uint64_t seed);
uint64_t util_rng_next(util_rng *r);
double util_rng_uniform(util_rng *r);             /* [0, 1) */
double util_rng_normal(util_rng *r);              /* standard normal */
double util_rng_trunc_normal(util_rng *r, double std, double lim); /* |x| <= lim*std */

double util_now(void);            /* monotonic seconds */
long util_peak_rss_kb(void);      /* peak resident set size of this process */

#endif
