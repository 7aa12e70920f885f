/* Suite "util": SHA-256 (util/sha256.c) against FIPS 180-2's vectors, and
 * the output protocol of util/output.c: a file appears whole or not at all
 * (PATH.tmp.PID renamed over PATH), a second job writing the same file is
 * refused naming its pid, temporaries of killed runs are removed, names the
 * file system cannot take (with the temporaries' suffix) are refused before
 * anything is created, outputs never replace inputs or files of another kind. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"
#include "util/util.h"

static char tmpdir[256];

static const char *tmp(const char *name) {
    static char buf[16][1024];
    static int next;
    char *b = buf[next++ % 16];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    CU_ASSERT_FATAL(fp != NULL);
    fputs(text, fp);
    CU_ASSERT_FATAL(fclose(fp) == 0);
}

static int file_is(const char *path, const char *text) {
    char buf[256] = "";
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strcmp(buf, text) == 0;
}

/* SHA-256 against FIPS 180-2's test vectors, of buffers and of files
 * (read in blocks: a million bytes crosses block and buffer boundaries). */
static void test_sha256(void) {
    static const struct {
        const char *text, *hex;
    } vec[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        unsigned char d[32];
        char hex[65];
        util_sha256(vec[i].text, strlen(vec[i].text), d);
        for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
        CU_ASSERT_STRING_EQUAL(hex, vec[i].hex);
        FILE *fp = fopen(tmp("sha.txt"), "wb");
        CU_ASSERT_FATAL(fp != NULL);
        fputs(vec[i].text, fp);
        fclose(fp);
        CU_ASSERT(util_sha256_file(tmp("sha.txt"), hex) == 0);
        CU_ASSERT_STRING_EQUAL(hex, vec[i].hex);
    }
    FILE *fp = fopen(tmp("sha.txt"), "wb");
    CU_ASSERT_FATAL(fp != NULL);
    for (int i = 0; i < 1000000; i++) fputc('a', fp);
    fclose(fp);
    char hex[65];
    CU_ASSERT(util_sha256_file(tmp("sha.txt"), hex) == 0);
    CU_ASSERT_STRING_EQUAL(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CU_ASSERT(util_sha256_file(tmp("no_such_file"), hex) == UTIL_EIO && strstr(util_last_message(), "no_such_file"));
    /* milliseconds since, as the valid_time of forecast files */
    double unit, epoch;
    CU_ASSERT(util_time_units("milliseconds since 1970-01-01 00:00:00", &unit, &epoch) == 0 && unit == 1e-3 && epoch == 0);
}

/* begin gives PATH.tmp.PID and holds PATH.lock (holding our pid); commit
 * renames the temporary over PATH and releases the lock; abort leaves
 * neither the temporary nor PATH. */
static void test_output_commit_abort(void) {
    const char *path = tmp("out.nc"), *lock = tmp("out.nc.lock");
    char t[1024], want[1024], pid[32];
    snprintf(want, sizeof want, "%s.tmp.%ld", path, (long)getpid());
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    CU_ASSERT_FATAL(util_output_begin(path, t, sizeof t) == 0);
    CU_ASSERT_STRING_EQUAL(t, want);
    CU_ASSERT(file_is(lock, pid));
    write_text(t, "whole");
    CU_ASSERT(!exists(path));
    CU_ASSERT(util_output_commit(path, t) == 0);
    CU_ASSERT(file_is(path, "whole") && !exists(t) && !exists(lock));
    CU_ASSERT_FATAL(util_output_begin(path, t, sizeof t) == 0);
    write_text(t, "half");
    util_output_abort(path, t);
    CU_ASSERT(file_is(path, "whole") && !exists(t) && !exists(lock));
    unlink(path);
}

/* pangu track --atcf holds tracks.csv and every storm's a-deck open until
 * all are written (a season of global storms: a hundred or more): so many
 * outputs begin at once, each lock and temporary held, and all abort clean. */
static void test_output_many_open(void) {
    enum { MANY = 300 };
    static char t[MANY][1024];
    char name[64];
    int began = 0;
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "many%03d.dat", i);
        if (util_output_begin(tmp(name), t[i], sizeof t[i]) != 0) break;
        write_text(t[i], "part");
        began++;
    }
    CU_ASSERT(began == MANY);
    /* the signal handler's registry still takes one more temporary */
    CU_ASSERT(util_temp_register(tmp("one_more.tmp")) == 0);
    util_temp_unregister(tmp("one_more.tmp"));
    for (int i = 0; i < began; i++) {
        snprintf(name, sizeof name, "many%03d.dat", i);
        util_output_abort(tmp(name), t[i]);
        CU_ASSERT(!exists(t[i]) && !exists(tmp(name)));
    }
    snprintf(name, sizeof name, "many%03d.dat.lock", MANY - 1);
    CU_ASSERT(!exists(tmp(name)));
}

/* A lock another process holds is refused at once, naming that process's
 * pid; the holder's own job may take it again (counted). The child takes the
 * lock (a fresh lock table: a forked copy of ours would count as ours). */
static void test_output_lock(void) {
    const char *path = tmp("locked.nc");
    int taken[2], done[2];
    CU_ASSERT_FATAL(pipe(taken) == 0 && pipe(done) == 0);
    fflush(NULL);
    pid_t child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        char c = util_lock_output(path) == 0 ? 'y' : 'n';
        if (write(taken[1], &c, 1) != 1 || read(done[0], &c, 1) != 1) _exit(1);
        util_unlock_output(path);
        _exit(0);
    }
    char c = 0, want[64];
    CU_ASSERT(read(taken[0], &c, 1) == 1 && c == 'y');
    snprintf(want, sizeof want, "pid %ld", (long)child);
    CU_ASSERT(util_lock_output(path) == UTIL_EIO && strstr(util_last_message(), "being written by another job") &&
              strstr(util_last_message(), want));
    CU_ASSERT(write(done[1], "x", 1) == 1);
    int ws = 0;
    CU_ASSERT(waitpid(child, &ws, 0) == child && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    close(taken[0]), close(taken[1]), close(done[0]), close(done[1]);
    CU_ASSERT(!exists(tmp("locked.nc.lock")));
    CU_ASSERT_FATAL(util_lock_output(path) == 0);
    CU_ASSERT(util_lock_output(path) == 0); /* counted: released after two unlocks */
    util_unlock_output(path);
    CU_ASSERT(exists(tmp("locked.nc.lock")));
    util_unlock_output(path);
    CU_ASSERT(!exists(tmp("locked.nc.lock")));
}

/* PATH.tmp.PID of a process that is gone is removed by the next begin;
 * other names and live processes' temporaries are kept. */
static void test_output_stale_temps(void) {
    const char *path = tmp("stale.nc");
    fflush(NULL);
    pid_t gone = fork();
    CU_ASSERT_FATAL(gone >= 0);
    if (gone == 0) _exit(0);
    CU_ASSERT_FATAL(waitpid(gone, NULL, 0) == gone);
    char dead[1024], alive[1024], other[1024], t[1024];
    snprintf(dead, sizeof dead, "%s.tmp.%ld", path, (long)gone);
    snprintf(alive, sizeof alive, "%s.tmp.%ld", path, (long)getppid());
    snprintf(other, sizeof other, "%s.tmp.notapid", path);
    write_text(dead, "x"), write_text(alive, "x"), write_text(other, "x");
    CU_ASSERT_FATAL(util_output_begin(path, t, sizeof t) == 0);
    CU_ASSERT(!exists(dead) && exists(alive) && exists(other));
    util_output_abort(path, t);
    unlink(alive), unlink(other);
}

/* A name too long for the file system, or too long once the temporaries'
 * suffix (.part.tmp.PID) is added, is refused as such; nothing is created. */
static void test_output_name_length(void) {
    char name[300], t[1024];
    long max = pathconf(tmpdir, _PC_NAME_MAX);
    CU_ASSERT_FATAL(max > 20 && max < 280);
    memset(name, 'a', (size_t)max + 1), name[max + 1] = 0;
    CU_ASSERT(util_output_begin(tmp(name), t, sizeof t) == UTIL_EINVAL && strstr(util_last_message(), "longer than NAME_MAX"));
    name[max - 3] = 0; /* fits, but NAME.part.tmp.PID would not */
    CU_ASSERT(util_output_begin(tmp(name), t, sizeof t) == UTIL_EINVAL && strstr(util_last_message(), "its temporary files"));
    name[max - 30] = 0;
    CU_ASSERT(util_output_begin(tmp(name), t, sizeof t) == 0);
    util_output_abort(tmp(name), t);
    char lock[1100];
    snprintf(lock, sizeof lock, "%s.lock", tmp(name));
    CU_ASSERT(!exists(lock) && !exists(tmp(name)));
    CU_ASSERT(util_output_begin(tmp("no_such_dir/x.nc"), t, sizeof t) == UTIL_EIO &&
              strstr(util_last_message(), "cannot create the output file"));
}

static int is_text(const char *path) { return file_is(path, "text"); }

/* An output never names an input (links followed), a directory, or a file
 * of another kind. */
static void test_output_check(void) {
    const char *in = tmp("input.nc"), *link = tmp("link.nc"), *grib = tmp("f.grib");
    write_text(in, "text");
    CU_ASSERT_FATAL(symlink(in, link) == 0);
    const char *inputs[] = {NULL, in};
    util_paths lists[] = {{inputs, 2}};
    CU_ASSERT(util_output_check(link, lists, 1, NULL, NULL) == UTIL_EINVAL && strstr(util_last_message(), "input.nc"));
    CU_ASSERT(util_output_check(tmp("new.nc"), lists, 1, NULL, NULL) == 0);
    CU_ASSERT(util_output_check(tmpdir, lists, 1, NULL, NULL) == UTIL_EINVAL);
    write_text(grib, "GRIB....");
    CU_ASSERT(util_output_check(grib, NULL, 0, "text file", is_text) == UTIL_EINVAL &&
              strstr(util_last_message(), "is not a text file (a GRIB file)"));
    CU_ASSERT(util_output_check(in, NULL, 0, "text file", is_text) == 0);
    CU_ASSERT(util_check_distinct_outputs("--a", in, "--b", link) == UTIL_EINVAL);
    unlink(link), unlink(in), unlink(grib);
}

/* Several files: written into DIR/.NAME.tmp.PID, moved into DIR on commit. */
static void test_outdir(void) {
    char t[1024], f[1100], dir[600];
    snprintf(dir, sizeof dir, "%s/report", tmpdir);
    CU_ASSERT_FATAL(util_outdir_begin(dir, "report", t, sizeof t) == 0);
    snprintf(f, sizeof f, "%s/a.txt", t);
    write_text(f, "text");
    CU_ASSERT(!exists(tmp("report/a.txt")));
    CU_ASSERT(util_outdir_commit(dir, "report", t) == 0);
    CU_ASSERT(file_is(tmp("report/a.txt"), "text") && !exists(t) && !exists(tmp("report/.report.lock")));
    CU_ASSERT_FATAL(util_outdir_begin(dir, "report", t, sizeof t) == 0);
    snprintf(f, sizeof f, "%s/b.txt", t);
    write_text(f, "text");
    util_outdir_abort(dir, "report", t);
    CU_ASSERT(!exists(tmp("report/b.txt")) && !exists(t));
}

static int suite_init(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pangu-util-tests-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* util_time_parse: the documented forms (YYYY-MM-DD, T or a blank, then HH,
 * HH:MM, HH:MM:SS) with fixed digits and whole seconds; anything else
 * refused (1e300 seconds was undefined behaviour, fuzz_tracks). A CF units
 * reference date stays lenient as UDUNITS writes it ("1990-1-1 0:0:0"). */
static void test_time_parse(void) {
    double t = -1, u;
    const char *good[] = {"2017-09-01", "2017-09-01T06", "2017-09-01T06:30", "2017-09-01T06:30:15", "2017-09-01 06:30:15"};
    const double want[] = {1504224000, 1504224000 + 21600, 1504224000 + 23400, 1504224000 + 23415, 1504224000 + 23415};
    for (int i = 0; i < 5; i++) CU_ASSERT(util_time_parse(good[i], &t) == 0 && t == want[i]);
    const char *bad[] = {"2017-9-1T0:0:0.9", " 2017-09-01", "+2017-09-01", "2017-09-01T00Z", "2017-09-01T00:00:00.9",
                         "2017-09-01T24", "2017-09-01T23:60", "2017-09-01T23:59:60", "2018-09-01T00:00:1e300",
                         "2017-09-01T", "2017-09-01T00:", "217-09-01", "2017-09-01T00:00:00 ", "2017-09-01x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = -1;
        CU_ASSERT(util_time_parse(bad[i], &t) == UTIL_EINVAL && t == -1);
        CU_ASSERT(strstr(util_last_message(), bad[i]) != NULL);
    }
    CU_ASSERT(util_time_units("days since 1990-1-1 0:0:0", &u, &t) == 0 && t == 631152000);
    CU_ASSERT(util_time_units("seconds since 1970-01-01T00:00:00Z", &u, &t) == 0 && t == 0);
    CU_ASSERT(util_time_units("hours since 1900-01-01 00:00:00.0", &u, &t) == 0 && t == -2208988800.0);
}

static int suite_clean(void) { return util_remove_tree(tmpdir) == 0 ? 0 : -1; }

int tests_register_util(void) {
    CU_pSuite s = CU_add_suite("util", suite_init, suite_clean);
    if (!s) return -1;
    struct { const char *name; void (*fn)(void); } tests[] = {
        {"SHA-256 test vectors, buffers and files", test_sha256},
        {"output: temporary renamed on commit, removed on abort, lock released", test_output_commit_abort},
        {"output: hundreds open at once (track's a-decks), all locked and registered", test_output_many_open},
        {"output: another process refused the lock, named by pid", test_output_lock},
        {"output: temporaries of dead processes removed, others kept", test_output_stale_temps},
        {"output: names too long (with the temporaries' suffix) refused", test_output_name_length},
        {"output: never an input, a directory or a file of another kind", test_output_check},
        {"output directories: moved in on commit, nothing on abort", test_outdir},
        {"times: YYYY-MM-DD[THH[:MM[:SS]]] strictly, CF reference dates leniently", test_time_parse},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
