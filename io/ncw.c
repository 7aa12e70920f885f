/* io ncw: the NetCDF writers' shared scaffolding (see ncw.h). */
#include "ncw.h"

#include <netcdf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../util/util.h"

int ncw_fail(int nc_status, const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return util_fail(UTIL_EIO, "%s (%s)", what, nc_strerror(nc_status));
}

int ncw_text(int nc, int varid, const char *name, const char *value) {
    return nc_put_att_text(nc, varid, name, strlen(value), value);
}

static int put_texts(int nc, int varid, va_list ap) {
    for (const char *name; (name = va_arg(ap, const char *));) {
        int rc = ncw_text(nc, varid, name, va_arg(ap, const char *));
        if (rc != NC_NOERR) return rc;
    }
    return NC_NOERR;
}

int ncw_texts(int nc, int varid, ...) {
    va_list ap;
    va_start(ap, varid);
    int rc = put_texts(nc, varid, ap);
    va_end(ap);
    return rc;
}

int ncw_def(int nc, const char *name, nc_type type, int ndims, const int *dims, int *id, ...) {
    int rc = nc_def_var(nc, name, type, ndims, dims, id);
    if (rc != NC_NOERR) return rc;
    va_list ap;
    va_start(ap, id);
    rc = put_texts(nc, *id, ap);
    va_end(ap);
    return rc;
}

int ncw_coord(int nc, const char *name, nc_type type, int ndims, const int *dims, const char *standard_name,
              const char *long_name, const char *units, const char *axis, int *id) {
    int rc;
    NCW_RC(nc_def_var(nc, name, type, ndims, dims, id));
    if (standard_name) NCW_RC(ncw_text(nc, *id, "standard_name", standard_name));
    NCW_RC(ncw_text(nc, *id, "long_name", long_name));
    if (units) NCW_RC(ncw_text(nc, *id, "units", units));
    if (axis) NCW_RC(ncw_text(nc, *id, "axis", axis));
    return NC_NOERR;
fail:
    return rc;
}

int ncw_begin(ncw_file *f, const char *path) {
    f->path = path, f->nc = -1, f->begun = 0, f->tmp[0] = 0;
    int status = util_output_begin(path, f->tmp, sizeof f->tmp);
    if (status == UTIL_OK) f->begun = 1;
    return status;
}

int ncw_create(ncw_file *f, int cmode) {
    int rc = nc_create(f->tmp, NC_CLOBBER | cmode, &f->nc);
    if (rc == NC_NOERR) return UTIL_OK;
    f->nc = -1;
    return ncw_fail(rc, "%s: cannot create the output file", f->path);
}

int ncw_commit(ncw_file *f) {
    int nc = f->nc;
    f->nc = -1;
    int rc = nc_close(nc);
    if (rc != NC_NOERR) return ncw_fail(rc, "%s: cannot finish the output file (disk full?)", f->path);
    f->begun = 0;
    return util_output_commit(f->path, f->tmp);
}

void ncw_discard(ncw_file *f) {
    if (f->nc >= 0) nc_close(f->nc);
    f->nc = -1;
    if (f->begun) util_output_abort(f->path, f->tmp);
    f->begun = 0;
}
