/* util output: how every command writes a file. One job at a time per
 * output (an advisory lock beside it), a temporary renamed when complete, and
 * temporaries removed on every error path, on SIGINT/SIGTERM, and (left by a
 * run killed with -9) by the next run of the same job. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The registry the signal handler reads: fixed slots, no allocation, a slot
 * is published (used = 1) only after its path is complete. */
enum { TEMP_SLOTS = 1024 }; /* two per open output (its temporary, its lock file) */
static struct {
    volatile sig_atomic_t used; /* 0 free, 1 a file, 2 a directory (its entries, then itself) */
    char path[PATH_MAX];
} temps[TEMP_SLOTS];
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;

static int do_register(const char *path, int kind) {
    if (strlen(path) >= PATH_MAX) return -1;
    pthread_mutex_lock(&registry_mutex);
    int slot = -1;
    for (int i = 0; i < TEMP_SLOTS && slot < 0; i++)
        if (!temps[i].used) slot = i;
    if (slot >= 0) {
        strcpy(temps[slot].path, path);
        atomic_signal_fence(memory_order_seq_cst);
        temps[slot].used = kind;
    }
    pthread_mutex_unlock(&registry_mutex);
    return slot;
}

int util_temp_register(const char *path) { return do_register(path, 1) < 0 ? -1 : 0; }

void util_temp_unregister(const char *path) {
    pthread_mutex_lock(&registry_mutex);
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (temps[i].used && strcmp(temps[i].path, path) == 0) {
            temps[i].used = 0;
            break;
        }
    pthread_mutex_unlock(&registry_mutex);
}

/* A directory's entries (subdirectories to a depth of 3: a report's data/)
 * and then itself, with system calls only (opendir and readdir are not
 * async-signal-safe; getdents64 is a system call). */
static void remove_entries_signal_safe(int fd, int depth) {
    char buf[4096] __attribute__((aligned(8)));
    /* entries removed while reading may shift the rest: passes until none is left */
    for (int pass = 0, removed = 1; pass < 8 && removed; pass++) {
        removed = 0;
        lseek(fd, 0, SEEK_SET);
        for (long n; (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0;)
            for (long off = 0; off < n;) {
                /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
                unsigned short reclen;
                memcpy(&reclen, buf + off + 16, sizeof reclen);
                const char *name = buf + off + 19;
                off += reclen;
                if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
                if (unlinkat(fd, name, 0) == 0) {
                    removed = 1;
                    continue;
                }
                int sub = depth < 3 ? openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
                if (sub < 0) continue;
                remove_entries_signal_safe(sub, depth + 1);
                close(sub);
                if (unlinkat(fd, name, AT_REMOVEDIR) == 0) removed = 1;
            }
    }
}

static void remove_dir_signal_safe(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        remove_entries_signal_safe(fd, 0);
        close(fd);
    }
    rmdir(path);
}

static void on_fatal_signal(int sig) {
    int saved = errno;
    for (int i = 0; i < TEMP_SLOTS; i++) {
        if (temps[i].used == 1) unlink(temps[i].path);
        else if (temps[i].used == 2) remove_dir_signal_safe(temps[i].path);
    }
    errno = saved;
    /* the default action (termination by sig, as the caller expects) once this returns */
    signal(sig, SIG_DFL);
    raise(sig);
}

void util_cleanup_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGHUP);
    /* a signal ignored on entry stays ignored (nohup, a background job of a shell) */
    const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Locks this process holds: a job may take the lock of a file it writes
 * again and again (checkpoints) or around several writers (train), or hold
 * many at once (track: every a-deck until all are written). The table grows;
 * only the signal handler's registry above must be fixed. */
typedef struct {
    int fd, count;
    char path[PATH_MAX]; /* the output's path */
} lock_slot;
static lock_slot *locks;
static int nlocks;
static pthread_mutex_t lock_mutex = PTHREAD_MUTEX_INITIALIZER;

/* A free slot of the table, grown when full; -1 out of memory. Under lock_mutex. */
static int free_lock_slot(void) {
    for (int i = 0; i < nlocks; i++)
        if (locks[i].count == 0) return i;
    int grown = nlocks ? 2 * nlocks : 64;
    lock_slot *more = realloc(locks, sizeof *more * (size_t)grown);
    if (!more) return -1;
    memset(more + nlocks, 0, sizeof *more * (size_t)(grown - nlocks));
    for (int i = nlocks; i < grown; i++) more[i].fd = -1;
    locks = more;
    int slot = nlocks;
    nlocks = grown;
    return slot;
}

static int lock_path(const char *path, char *out, size_t cap) {
    return snprintf(out, cap, "%s.lock", path) >= (int)cap ? -1 : 0;
}

/* The longest suffix an output's name gets for its temporary files:
 * NAME.part.tmp.PID (GRIB forecasts; a pid has at most 7 digits on Linux). */
#define LONGEST_TEMP_SUFFIX ".part.tmp.4194304"

/* A name the file system cannot take is refused as such (not as a missing
 * directory), before anything is created. */
/* The directory path is created in ("dir/", or "." for a bare name) into dir[PATH_MAX]; its name. */
static const char *dir_and_name(const char *path, char *dir) {
    const char *slash = strrchr(path, '/');
    snprintf(dir, PATH_MAX, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    return slash ? slash + 1 : path;
}

static int check_name_length(const char *path) {
    char dir[PATH_MAX];
    const char *base = dir_and_name(path, dir);
    long max = pathconf(dir, _PC_NAME_MAX);
    if (max <= 0) max = NAME_MAX;
    size_t n = strlen(base), extra = strlen(LONGEST_TEMP_SUFFIX);
    if (n > (size_t)max)
        return util_fail(UTIL_EINVAL, "%s: file name longer than NAME_MAX (%ld) bytes (%zu bytes): choose a shorter name",
                         path, max, n);
    if (n + extra > (size_t)max)
        return util_fail(UTIL_EINVAL, "%s: file name of %zu bytes: its temporary files (NAME%s) would be longer than "
                                      "NAME_MAX (%ld) bytes; use at most %zu bytes", path, n, LONGEST_TEMP_SUFFIX, max,
                         (size_t)max - extra);
    if (strlen(path) + extra >= PATH_MAX)
        return util_fail(UTIL_EINVAL, "%s: path longer than PATH_MAX (%d) bytes with its temporary files' suffix", path,
                         PATH_MAX);
    return UTIL_OK;
}

int util_lock_output(const char *path) {
    char lp[PATH_MAX];
    int status = UTIL_OK, fd = -1, slot = -1;
    if ((status = check_name_length(path))) return status;
    if (lock_path(path, lp, sizeof lp)) return util_fail(UTIL_EINVAL, "%s: path too long", path);
    pthread_mutex_lock(&lock_mutex);
    for (int i = 0; i < nlocks; i++)
        if (locks[i].count > 0 && strcmp(locks[i].path, path) == 0) {
            locks[i].count++;
            goto done;
        }
    if ((slot = free_lock_slot()) < 0) {
        status = util_fail(UTIL_ENOMEM, "%s: out of memory for its lock", path);
        goto done;
    }
    for (int tries = 0;; tries++) {
        if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
            /* the OS's reason: a missing directory, no permission, a read-only file system, ... */
            char dir[PATH_MAX];
            int e = errno;
            dir_and_name(path, dir);
            status = util_fail(UTIL_EIO, "%s: cannot create the output file in '%s': %s", path, dir, strerror(e));
            goto done;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char pid[32] = "";
            ssize_t n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : 0;
            /* the holder writes its pid just after taking the lock: give it 50 ms */
            for (int wait = 0; e == EWOULDBLOCK && n <= 0 && wait < 50; wait++) {
                nanosleep(&(struct timespec){0, 1000000}, NULL);
                n = pread(fd, pid, sizeof pid - 1, 0);
            }
            pid[n > 0 ? n : 0] = 0;
            pid[strcspn(pid, "\n")] = 0;
            close(fd);
            fd = -1;
            if (e == EWOULDBLOCK)
                status = util_fail(UTIL_EIO, "%s: being written by another job (%s%s, lock %s): wait for it to finish, or "
                                             "choose another output", path, pid[0] ? "pid " : "pid unknown", pid, lp);
            else
                status = util_fail(UTIL_EIO, "%s: cannot lock %s (%s)", path, lp, strerror(e));
            goto done;
        }
        /* The holder removes the lock file when done: a file opened before
         * that is no longer the lock; take the one now at the path. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lp, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) break;
        close(fd);
        fd = -1;
        if (tries == 100) {
            status = util_fail(UTIL_EIO, "%s: cannot lock %s: it keeps being replaced", path, lp);
            goto done;
        }
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* written, then cut to length: a job reading it meanwhile never sees it empty */
    if (pwrite(fd, pid, (size_t)n, 0) != n || ftruncate(fd, n) != 0) {
        /* the lock holds all the same; only the other job's message lacks the pid */
    }
    locks[slot].fd = fd, locks[slot].count = 1;
    strcpy(locks[slot].path, path);
    do_register(lp, 1);
done:
    pthread_mutex_unlock(&lock_mutex);
    return status;
}

void util_unlock_output(const char *path) {
    char lp[PATH_MAX];
    if (lock_path(path, lp, sizeof lp)) return;
    pthread_mutex_lock(&lock_mutex);
    for (int i = 0; i < nlocks; i++)
        if (locks[i].count > 0 && strcmp(locks[i].path, path) == 0) {
            if (--locks[i].count == 0) {
                util_temp_unregister(lp);
                unlink(lp); /* before closing: a job that opened it finds it replaced and retries */
                close(locks[i].fd);
                locks[i].fd = -1;
            }
            break;
        }
    pthread_mutex_unlock(&lock_mutex);
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

int util_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return UTIL_OK;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? UTIL_OK : util_fail(UTIL_EIO, "%s: cannot remove", path);
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return lstat(path, &st) != 0 ? UTIL_OK : util_fail(UTIL_EIO, "%s: cannot remove", path);
}

void util_remove_stale_temps(const char *path) {
    char pattern[PATH_MAX + 16];
    if (snprintf(pattern, sizeof pattern, "%s.tmp.*", path) >= (int)sizeof pattern) return;
    glob_t g;
    if (glob(pattern, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &g) != 0) return;
    size_t base = strlen(path) + 5;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = g.gl_pathv[i] + base;
        char *end;
        long pid = strtol(p, &end, 10);
        /* only PATH.tmp.PID (digits), of a process that no longer exists */
        if (end == p || *end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) util_remove_tree(g.gl_pathv[i]);
    }
    globfree(&g);
}

int util_output_begin(const char *path, char *tmp, size_t cap) {
    int status = util_lock_output(path);
    if (status) return status;
    /* after the lock: a live job elsewhere (another node of a cluster, whose
     * pids this one cannot see) holds it, so its temporaries are never taken for stale */
    util_remove_stale_temps(path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) { /* found now, not at the rename after all the work */
        util_unlock_output(path);
        return util_fail(UTIL_EINVAL, "%s: is a directory: an output file cannot replace it", path);
    }
    if (snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid()) >= (int)cap) {
        util_unlock_output(path);
        return util_fail(UTIL_EINVAL, "%s: path too long", path);
    }
    util_temp_register(tmp);
    return UTIL_OK;
}

int util_output_commit(const char *path, const char *tmp) {
    int status = UTIL_OK;
    if (rename(tmp, path) != 0) {
        status = util_fail(UTIL_EIO, "%s: cannot move the finished file into place (%s)", path, strerror(errno));
        unlink(tmp);
    }
    util_temp_unregister(tmp);
    util_unlock_output(path);
    return status;
}

void util_output_abort(const char *path, const char *tmp) {
    if (tmp && tmp[0]) {
        unlink(tmp);
        util_temp_unregister(tmp);
    }
    util_unlock_output(path);
}

int util_outdir_begin(const char *dir, const char *name, char *tmp, size_t cap) {
    char key[PATH_MAX];
    if (snprintf(key, sizeof key, "%s/.%s", dir, name) >= (int)sizeof key) return util_fail(UTIL_EINVAL, "%s: path too long", dir);
    int status = util_mkdirs(dir);
    if (status || (status = util_lock_output(key))) return status;
    util_remove_stale_temps(key);
    if (snprintf(tmp, cap, "%s.tmp.%ld", key, (long)getpid()) >= (int)cap) {
        util_unlock_output(key);
        return util_fail(UTIL_EINVAL, "%s: path too long", dir);
    }
    util_remove_tree(tmp);
    if (mkdir(tmp, 0777) != 0) {
        status = util_fail(UTIL_EIO, "%s: cannot create the temporary directory %s (%s)", dir, tmp, strerror(errno));
        util_unlock_output(key);
        return status;
    }
    do_register(tmp, 2);
    return UTIL_OK;
}

/* Every file is complete in the temporary directory before the first is
 * moved; the moves are renames within one file system (no space needed). */
int util_outdir_commit(const char *dir, const char *name, const char *tmp) {
    int status = UTIL_OK;
    DIR *d = opendir(tmp);
    if (!d) status = util_fail(UTIL_EIO, "%s: cannot read %s", dir, tmp);
    for (struct dirent *e; d && !status && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char from[PATH_MAX], to[PATH_MAX];
        if (snprintf(from, sizeof from, "%s/%s", tmp, e->d_name) >= (int)sizeof from ||
            snprintf(to, sizeof to, "%s/%s", dir, e->d_name) >= (int)sizeof to) {
            status = util_fail(UTIL_EINVAL, "%s: path too long", dir);
            break;
        }
        struct stat st;
        /* a directory of an earlier run (a report's data/) is replaced as a whole */
        if (rename(from, to) != 0 && (errno != ENOTEMPTY && errno != EEXIST ? 1
                                      : lstat(to, &st) != 0 || !S_ISDIR(st.st_mode) || util_remove_tree(to) || rename(from, to) != 0))
            status = util_fail(UTIL_EIO, "%s: cannot move %s into place (%s)", to, from, strerror(errno));
    }
    if (d) closedir(d);
    util_outdir_abort(dir, name, tmp);
    return status;
}

void util_outdir_abort(const char *dir, const char *name, const char *tmp) {
    char key[PATH_MAX];
    util_remove_tree(tmp);
    util_temp_unregister(tmp);
    if (snprintf(key, sizeof key, "%s/.%s", dir, name) < (int)sizeof key) util_unlock_output(key);
}

int util_file_starts_with(const char *path, const void *magic, size_t n) {
    unsigned char b[16];
    if (n > sizeof b) return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t got = fread(b, 1, n, fp);
    fclose(fp);
    return got == n && memcmp(b, magic, n) == 0;
}

/* What a file is, by its first bytes: for a message about a file that is
 * not of the kind an output may replace. */
static const char *file_kind(const char *path) {
    unsigned char b[8] = {0};
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(b, 1, sizeof b, fp) : 0;
    if (fp) fclose(fp);
    if (n >= 8 && !memcmp(b, "\x89HDF\r\n\x1a\n", 8)) return "an HDF5 or NetCDF-4 file";
    if (n >= 4 && !memcmp(b, "CDF", 3) && (b[3] == 1 || b[3] == 2 || b[3] == 5)) return "a NetCDF-3 file";
    if (n >= 4 && !memcmp(b, "GRIB", 4)) return "a GRIB file";
    if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) return "a .npy file";
    return n == 0 ? "an empty file" : "a file of another kind";
}

int util_output_check(const char *output, const util_paths *inputs, int nlists, const char *kind,
                      int (*is_kind)(const char *path)) {
    int status = UTIL_OK;
    if (!output) return UTIL_OK;
    for (int l = 0; l < nlists && !status; l++)
        if (inputs[l].paths) status = util_check_output(output, inputs[l].paths, inputs[l].n);
    if (!status && nlists == 0) status = util_check_output(output, NULL, 0);
    struct stat st;
    if (!status && is_kind && stat(output, &st) == 0 && !is_kind(output))
        status = util_fail(UTIL_EINVAL, "%s: exists and is not a %s (%s): an output replaces only a %s, even with "
                                        "--overwrite; remove it or choose another output",
                           output, kind, file_kind(output), kind);
    return status;
}
