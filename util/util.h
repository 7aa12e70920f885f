/* util: the leaf every folder uses, including nothing outside util/:
 * status codes with a detailed message and warnings, strict number parsing,
 * a 64-byte aligned arena, seedable random numbers, times and dates,
 * SHA-256 (sha256.c), output files written safely (output.c: checks, locks,
 * temporary names, renames, cleanup on signals), provenance, wall clock,
 * memory checks and peak memory; threads.h, how the threads share the
 * cores. */
#ifndef PANGU_UTIL_H
#define PANGU_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The software version written into every output file's provenance: the
 * same as lib/pangu.h's numbers (the Makefile stops when they differ). */
#define PANGU_VERSION "1.1"

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
/* One line "pangu: warning: ..." on stderr (for what is accepted but worth
 * knowing). */
void util_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *util_strerror(int code);

/* Strict numbers for options and configuration keys: the whole text is one
 * number (no trailing characters, not empty), finite and within [min, max];
 * otherwise UTIL_EINVAL with "NAME 'TEXT': expected ..." naming the option. */
int util_parse_long(const char *name, const char *text, long long min, long long max, long long *out);
int util_parse_double(const char *name, const char *text, double min, double max, double *out);
/* yes/no (also true/false, on/off, 1/0) */
int util_parse_yesno(const char *name, const char *text, int *out);

/* Bump arena: one big 64-byte aligned block, carved without per-call malloc. */
typedef struct {
    unsigned char *base;
    size_t size, used, peak;
} util_arena;

int util_arena_init(util_arena *a, size_t bytes);
void *util_arena_alloc(util_arena *a, size_t bytes); /* NULL when exhausted */
void util_arena_free(util_arena *a);
#define UTIL_ALIGN 64
static inline size_t util_align_up(size_t n) { return (n + UTIL_ALIGN - 1) & ~(size_t)(UTIL_ALIGN - 1); }
void *util_aligned_alloc(size_t bytes); /* zeroed, 64-byte aligned; free with free() */
/* UTIL_ENOMEM, with the estimate and what the machine has in the message,
 * when `bytes` for `what` exceed the physical memory (or RLIMIT_AS): checked
 * before a large allocation, so that a mistaken grid fails at once instead of
 * paging the machine to a halt. */
int util_check_memory(size_t bytes, const char *what);

/* xoshiro256** seeded through splitmix64: reproducible across platforms. */
typedef struct { uint64_t s[4]; } util_rng;
void util_rng_seed(util_rng *r, uint64_t seed);
uint64_t util_rng_next(util_rng *r);
double util_rng_uniform(util_rng *r);             /* [0, 1) */
double util_rng_normal(util_rng *r);              /* standard normal */
double util_rng_trunc_normal(util_rng *r, double std, double lim); /* |x| <= lim*std */

/* Times are seconds since 1970-01-01 00:00 UTC (proleptic Gregorian, no
 * leap seconds) held in a double: exact for whole seconds over millennia. */
int util_time_parse(const char *text, double *seconds);   /* "2020-01-31", "2020-01-31T06", "...T06:30[:00]" or "2020-01-31 06:00:00": fixed digits, UTC, whole seconds */
/* "T", "T0/T1/STEP_HOURS" or several of these (comma- or blank-separated)
 * into *out (malloc'ed, *n times; none for an empty spec); `what` names the
 * option in errors. At most 1,000,000 times, counted before allocating. */
int util_time_list(const char *spec, const char *what, double **out, int *n);
void util_time_format(double seconds, char *buf, size_t cap); /* "2020-01-31T06:00:00" */
/* CF units "hours since 1900-01-01 00:00:00" (milliseconds, seconds, minutes, hours, days):
 * seconds per unit and the epoch in seconds since 1970. */
int util_time_units(const char *units, double *unit_seconds, double *epoch);
void util_time_fields(double seconds, int *year, int *month, int *day, int *hour, int *minute, int *second);
int util_day_of_year(double seconds); /* 1..366 */

/* SHA-256 (FIPS 180-4): of a buffer, and of a file's bytes as 64 lowercase
 * hex digits (hex holds 65 bytes); the file is read in 1 MB blocks. */
void util_sha256(const void *data, size_t n, unsigned char digest[32]);
int util_sha256_file(const char *path, char hex[65]);

/* Outputs never replace inputs: UTIL_EINVAL when `output` names one of the
 * inputs (the same file, links followed, by device and inode) or exists and
 * is not a regular file (a device such as /dev/full, a directory). NULL
 * inputs are skipped. */
int util_check_output(const char *output, const char *const *inputs, int ninputs);
/* What every writing command checks of each output before any work
 * (util/output.c): util_check_output against every list of its inputs
 * (data, models, statistics: one line naming the output and the input),
 * and, when is_kind is given, that a file already at `output` is one of
 * `kind` (is_kind(path) 1): a forecast is never written over a model file,
 * say, even with --overwrite. NULL paths and lists are skipped. */
typedef struct {
    const char *const *paths;
    int n;
} util_paths;
int util_output_check(const char *output, const util_paths *inputs, int nlists, const char *kind,
                      int (*is_kind)(const char *path));
/* Two outputs of one run (say a checkpoint and the model) must be different files. */
int util_check_distinct_outputs(const char *name_a, const char *a, const char *name_b, const char *b);
/* 1 when a and b are the same file: by device and inode where both exist,
 * else by their canonical paths. */
int util_same_file(const char *a, const char *b);
/* 1 when the file's first n bytes are magic (0 when shorter or unreadable). */
int util_file_starts_with(const char *path, const void *magic, size_t n);

/* mkdir -p: the directory and its parents (0777 & umask); UTIL_EIO naming it. */
int util_mkdirs(const char *dir);
/* rmdir, deepest first, the directories util_mkdirs created in this process
 * that are still empty: what a failed command leaves no trace of */
void util_remove_created_dirs(void);

/* Writing a file (util/output.c). util_output_begin takes the advisory lock
 * of PATH for this job (flock of PATH.lock: a second job writing the same
 * file fails at once with a message naming it and the other job's pid; never
 * a mix of two jobs' writes), removes the temporaries that killed runs of the
 * job left (PATH.tmp.PID of a process that is gone) and gives tmp =
 * PATH.tmp.PID, registered for removal on SIGINT/SIGTERM/SIGHUP.
 * util_output_commit renames tmp over PATH (UTIL_EIO, tmp removed, when it
 * cannot); util_output_abort removes tmp. Both release the lock. */
int util_output_begin(const char *path, char *tmp, size_t cap);
int util_output_commit(const char *path, const char *tmp);
void util_output_abort(const char *path, const char *tmp);
/* The lock alone, counted: a job may hold it around several writes of one
 * file (train's checkpoints) and util_output_begin then takes it again. */
int util_lock_output(const char *path);
void util_unlock_output(const char *path);
/* Outputs that are several files in DIR (a report, a synthetic data set):
 * written into the temporary directory DIR/.NAME.tmp.PID (tmp), moved into
 * DIR only when all are complete (renames: no space needed), removed
 * otherwise; locked as DIR/.NAME. */
int util_outdir_begin(const char *dir, const char *name, char *tmp, size_t cap);
int util_outdir_commit(const char *dir, const char *name, const char *tmp);
void util_outdir_abort(const char *dir, const char *name, const char *tmp);
/* A temporary file of this process removed by the signal handler. */
int util_temp_register(const char *path);
void util_temp_unregister(const char *path);
/* SIGINT, SIGTERM, SIGHUP: remove the registered temporaries and lock files
 * (unlink only: async-signal-safe), then die of the signal (main calls it). */
void util_cleanup_on_signals(void);
/* Remove PATH.tmp.PID (files or directories) whose process is gone. */
void util_remove_stale_temps(const char *path);
/* rm -r */
int util_remove_tree(const char *path);

double util_now(void);            /* monotonic seconds */
long util_peak_rss_kb(void);      /* peak resident set size of this process */

/* Progress lines: a terminal gets one line redrawn in place ("\r"), a log
 * file (stderr not a terminal) plain lines, at most one every `seconds`
 * (the environment's PANGU_PROGRESS_INTERVAL, in seconds, overrides it: 0
 * writes one at every step) and the final one. */
typedef struct {
    int tty;
    double interval, last;
} util_progress;
void util_progress_init(util_progress *p, int fd, double seconds);
/* 1 when a line is due (final: the last step). */
int util_progress_due(util_progress *p, int final);
/* What begins and ends a line: "\r" and "   " on a terminal, "" and "\n" in a log. */
const char *util_progress_start(const util_progress *p);
const char *util_progress_end(const util_progress *p);

/* The source attribute: "pangu-c VERSION WHAT; models: 24 h PATH (sha256 HEX), ...". */
int util_source_attribute(char *out, size_t cap, const char *what, const int *leads, const char *const *paths, int n);

#endif
