/* io ncw: the scaffolding every NetCDF writer shares (forecast and state
 * files, synth, stats, regrid): checked calls whose failure names the file
 * and what was being written, text attributes, coordinate variables, and a
 * file written under a temporary name and renamed only when complete. */
#ifndef PANGU_IO_NCW_H
#define PANGU_IO_NCW_H
#include <netcdf.h>
#include <stddef.h>

/* util_fail(UTIL_EIO, "<fmt ...> (<NetCDF's reason>)"): returns UTIL_EIO. */
int ncw_fail(int nc_status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A NetCDF call that must succeed, in a function with an int `status` and a
 * `done:` cleanup label: on failure status = ncw_fail(rc, FMT, ...). */
#define NCW_CHECK(call, ...)                                                                                           \
    do {                                                                                                               \
        int ncw_rc_ = (call);                                                                                          \
        if (ncw_rc_ != NC_NOERR) {                                                                                     \
            status = ncw_fail(ncw_rc_, __VA_ARGS__);                                                                   \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* For code that reports NetCDF's own code instead (a writer thread, which
 * must not touch the caller's error message): an int `rc` and a `fail:` label. */
#define NCW_RC(call)                                                                                                   \
    do {                                                                                                               \
        if ((rc = (call)) != NC_NOERR) goto fail;                                                                      \
    } while (0)

/* A text attribute (without terminator): NetCDF's status. */
int ncw_text(int nc, int varid, const char *name, const char *value);
/* Text attributes from name, value pairs ending with a NULL name, written
 * in that order (the order is part of the file). NetCDF's status. */
int ncw_texts(int nc, int varid, ...) __attribute__((sentinel));
/* nc_def_var, then its text attributes as ncw_texts. NetCDF's status. */
int ncw_def(int nc, const char *name, nc_type type, int ndims, const int *dims, int *id, ...) __attribute__((sentinel));
/* A variable with standard_name, long_name, units and axis, in that order;
 * NULL standard_name, units or axis are left out. NetCDF's status. */
int ncw_coord(int nc, const char *name, nc_type type, int ndims, const int *dims, const char *standard_name,
              const char *long_name, const char *units, const char *axis, int *id);

/* One output file: created as tmp, renamed over path by ncw_commit. */
typedef struct {
    const char *path;
    char tmp[4200];
    int nc;    /* the open file, -1: none */
    int begun; /* util_output_begin done: tmp to remove on failure */
} ncw_file;

/* util_output_begin (the output's lock, its temporary name): call first. */
int ncw_begin(ncw_file *f, const char *path);
/* nc_create of the temporary file with NetCDF's cmode (NC_NETCDF4, ...). */
int ncw_create(ncw_file *f, int cmode);
/* Close the file and move it into place: the one way a writer finishes. */
int ncw_commit(ncw_file *f);
/* After a failure, or after ncw_commit (then a no-op): close, remove tmp. */
void ncw_discard(ncw_file *f);

#endif
