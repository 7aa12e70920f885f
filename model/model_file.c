/* model file: the HDF5 layout of pangu_ref.py (one float32 dataset per
 * tensor at the root, configuration as root attributes). Every HDF5 call is
 * checked; one cleanup path per function. */
#define _DEFAULT_SOURCE
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/util.h"
#include "internal.h"

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Read a string attribute (fixed or variable length) into buf. */
static int read_string_attr(hid_t file, const char *path, const char *name, char *buf, size_t cap) {
    int status = UTIL_OK;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    if (H5Aexists(file, name) <= 0) return util_fail(UTIL_EFORMAT, "%s: attribute '%s' missing", path, name);
    if ((attr = H5Aopen(file, name, H5P_DEFAULT)) < 0 || (type = H5Aget_type(attr)) < 0) {
        status = util_fail(UTIL_EFORMAT, "%s: cannot open attribute '%s'", path, name);
        goto done;
    }
    if (H5Tget_class(type) != H5T_STRING) {
        status = util_fail(UTIL_EFORMAT, "%s: attribute '%s' should be a string", path, name);
        goto done;
    }
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        mem = H5Tcopy(H5T_C_S1);
        if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Tset_cset(mem, H5Tget_cset(type)) < 0 ||
            H5Aread(attr, mem, &s) < 0) {
            status = util_fail(UTIL_EFORMAT, "%s: cannot read attribute '%s'", path, name);
            goto done;
        }
        snprintf(buf, cap, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        size_t n = H5Tget_size(type);
        char *s = calloc(n + 1, 1);
        if (!s) {
            status = util_fail(UTIL_ENOMEM, "out of memory");
            goto done;
        }
        if (H5Aread(attr, type, s) < 0) {
            free(s);
            status = util_fail(UTIL_EFORMAT, "%s: cannot read attribute '%s'", path, name);
            goto done;
        }
        snprintf(buf, cap, "%s", s);
        free(s);
    }
done:
    if (mem >= 0) H5Tclose(mem);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return status;
}

/* Read a numeric attribute of n values (scalar when n == 1) as mem_type. */
static int read_num_attr(hid_t file, const char *path, const char *name, hid_t mem_type, void *out, int n) {
    int status = UTIL_OK;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    if (H5Aexists(file, name) <= 0) return util_fail(UTIL_EFORMAT, "%s: attribute '%s' missing", path, name);
    if ((attr = H5Aopen(file, name, H5P_DEFAULT)) < 0 || (space = H5Aget_space(attr)) < 0 ||
        (type = H5Aget_type(attr)) < 0) {
        status = util_fail(UTIL_EFORMAT, "%s: cannot open attribute '%s'", path, name);
        goto done;
    }
    H5T_class_t cls = H5Tget_class(type);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        status = util_fail(UTIL_EFORMAT, "%s: attribute '%s' should be numeric", path, name);
        goto done;
    }
    if (count != n) {
        status = util_fail(UTIL_EFORMAT, "%s: attribute '%s' has %lld values, expected %d", path, name,
                           (long long)count, n);
        goto done;
    }
    if (H5Aread(attr, mem_type, out) < 0) status = util_fail(UTIL_EFORMAT, "%s: cannot read attribute '%s'", path, name);
done:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (attr >= 0) H5Aclose(attr);
    return status;
}

static int attr_count(hid_t file, const char *name) {
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    if (attr < 0) return -1;
    hid_t space = H5Aget_space(attr);
    int n = space < 0 ? -1 : (int)H5Sget_simple_extent_npoints(space);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    return n;
}

static int check_names(hid_t file, const char *path, const char *attr, const char *const *names, int n) {
    char buf[256], want[256] = "";
    int status = read_string_attr(file, path, attr, buf, sizeof buf);
    if (status) return status;
    for (int i = 0; i < n; i++) {
        strcat(want, names[i]);
        if (i + 1 < n) strcat(want, " ");
    }
    if (strcmp(buf, want) != 0)
        return util_fail(UTIL_EFORMAT, "%s: attribute '%s' is '%s', expected '%s'", path, attr, buf, want);
    return UTIL_OK;
}

/* Rank and dimensions of dataset `name`, or -1 when it is missing or unreadable. */
static int dataset_dims(hid_t file, const char *name, hsize_t dims[8]) {
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return -1;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t space = H5Dget_space(ds);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (rank > 8 || (rank >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0)) rank = -1;
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return rank;
}

/* The version-2 parts of a model file (ARCHITECTURE.md, "The released
 * models"): the attributes upper_constant_fields and recovery_bias, and the
 * forms that the shapes of patch_embed.constants and the Earth-specific
 * biases take. c holds the derived version-1 configuration. */
static int read_variant(hid_t file, const char *path, int version, model_config *c) {
    char buf[256];
    int status;
    if (version == 2) {
        if ((status = read_string_attr(file, path, "upper_constant_fields", buf, sizeof buf))) return status;
        if (strcmp(buf, "const_h") == 0) c->upper_constants = 1;
        else if (buf[0]) return util_fail(UTIL_EFORMAT, "%s: upper_constant_fields is '%s', expected 'const_h' or ''", path, buf);
        if ((status = read_string_attr(file, path, "recovery_bias", buf, sizeof buf))) return status;
        if (strcmp(buf, "position") == 0) c->recovery_bias_position = 1;
        else if (strcmp(buf, "variable") != 0)
            return util_fail(UTIL_EFORMAT, "%s: recovery_bias is '%s', expected 'variable' or 'position'", path, buf);
    }
    hsize_t d[8];
    int rank = dataset_dims(file, "patch_embed.constants", d);
    if (rank == 3 && d[0] == MODEL_NCONST && d[1] == (hsize_t)c->Hp && d[2] == (hsize_t)c->Wp &&
        (c->Hp != c->H || c->Wp != c->W))
        c->padded_constants = 1;
    /* the first block's bias says which form every block's takes */
    for (int l = 0; l < 4; l++)
        if (c->depths[l] > 0) {
            snprintf(buf, sizeof buf, "layers.%d.blocks.0.attn.earth_specific_bias", l);
            c->full_bias = dataset_dims(file, buf, d) == 4;
            break;
        }
    if (version == 1 && model_config_format_version(c) != 1)
        return util_fail(UTIL_EFORMAT, "%s: format_version is 1 but the file has %s (a version-2 part)", path,
                         c->padded_constants ? "constants on the padded grid" : "a full Earth-specific bias");
    return UTIL_OK;
}

/* 1 when dataset ds carries HDF5's Fletcher-32 checksum filter. */
static int has_checksum(hid_t ds) {
    hid_t plist = H5Dget_create_plist(ds);
    if (plist < 0) return 0;
    unsigned flags;
    size_t nelmts = 0;
    char name[32];
    unsigned config;
    int yes = H5Pget_filter_by_id2(plist, H5Z_FILTER_FLETCHER32, &flags, &nelmts, NULL, sizeof name, name, &config) >= 0;
    H5Pclose(plist);
    return yes;
}

static int read_tensor(hid_t file, const char *path, const model_tensor *t, float *dst, int *checksummed) {
    int status = UTIL_OK;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t dims[8];
    char want[64] = "", got[64] = "";
    if (H5Lexists(file, t->name, H5P_DEFAULT) <= 0)
        return util_fail(UTIL_EFORMAT, "%s: tensor '%s' missing", path, t->name);
    if ((ds = H5Dopen2(file, t->name, H5P_DEFAULT)) < 0 || (space = H5Dget_space(ds)) < 0 ||
        (type = H5Dget_type(ds)) < 0) {
        status = util_fail(UTIL_EFORMAT, "%s: cannot open tensor '%s'", path, t->name);
        goto done;
    }
    if (H5Tget_class(type) != H5T_FLOAT) {
        status = util_fail(UTIL_EFORMAT, "%s: tensor '%s' is not floating point", path, t->name);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    int same = rank == t->rank;
    if (rank < 0 || rank > 8) {
        status = util_fail(UTIL_EFORMAT, "%s: tensor '%s' has an unreadable shape", path, t->name);
        goto done;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < rank; i++) {
        snprintf(got + strlen(got), sizeof got - strlen(got), i ? ",%llu" : "%llu", (unsigned long long)dims[i]);
        if (same && dims[i] != (hsize_t)t->shape[i]) same = 0;
    }
    for (int i = 0; i < t->rank; i++) snprintf(want + strlen(want), sizeof want - strlen(want), i ? ",%d" : "%d", t->shape[i]);
    if (!same) {
        status = util_fail(UTIL_EFORMAT, "%s: tensor '%s' has shape (%s), expected (%s)", path, t->name, got, want);
        goto done;
    }
    int sum = has_checksum(ds);
    if (checksummed) *checksummed &= sum;
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        status = util_fail(UTIL_EFORMAT, sum ? "%s: tensor '%s' fails its checksum: the file is damaged"
                                             : "%s: cannot read tensor '%s' (damaged file?)",
                           path, t->name);
        goto done;
    }
    for (size_t i = 0; i < t->count; i++)
        if (!isfinite(dst[i])) {
            status = util_fail(UTIL_ENAN, "%s: tensor '%s' holds a non-finite value at element %zu", path, t->name, i);
            goto done;
        }
done:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (ds >= 0) H5Dclose(ds);
    return status;
}

int model_load(model *m, const char *path) {
    int status = UTIL_OK, version = 0;
    char fmt[128];
    model_config c;
    memset(m, 0, sizeof *m);
    memset(&c, 0, sizeof c);
    quiet_hdf5();
    if (access(path, R_OK) != 0) return util_fail(UTIL_EIO, "%s: cannot read the model file: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return util_fail(UTIL_EFORMAT, "%s: not an HDF5 model file", path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return util_fail(UTIL_EFORMAT, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
    if ((status = read_string_attr(file, path, "format", fmt, sizeof fmt))) goto done;
    if (strcmp(fmt, MODEL_FORMAT) != 0) {
        status = util_fail(UTIL_EFORMAT, "%s: format is '%s', expected '%s'", path, fmt, MODEL_FORMAT);
        goto done;
    }
    if ((status = read_num_attr(file, path, "format_version", H5T_NATIVE_INT, &version, 1))) goto done;
    if (version != 1 && version != 2) {
        status = util_fail(UTIL_EFORMAT, "%s: format_version is %d, expected 1 or 2", path, version);
        goto done;
    }
    int grid[2];
    int nlev = attr_count(file, "levels");
    if (nlev < 1 || nlev > MODEL_MAX_LEVELS) {
        status = util_fail(UTIL_EFORMAT, "%s: attribute 'levels' missing or with %d values (expected 1 to %d)", path,
                           nlev, MODEL_MAX_LEVELS);
        goto done;
    }
    c.nlev = nlev;
    if ((status = read_num_attr(file, path, "lead_time_hours", H5T_NATIVE_INT, &c.lead_hours, 1)) ||
        (status = read_num_attr(file, path, "grid", H5T_NATIVE_INT, grid, 2)) ||
        (status = read_num_attr(file, path, "levels", H5T_NATIVE_FLOAT, c.levels, nlev)) ||
        (status = read_num_attr(file, path, "dim", H5T_NATIVE_INT, &c.dim, 1)) ||
        (status = read_num_attr(file, path, "depths", H5T_NATIVE_INT, c.depths, 4)) ||
        (status = read_num_attr(file, path, "heads", H5T_NATIVE_INT, c.heads, 4)) ||
        (status = read_num_attr(file, path, "window", H5T_NATIVE_INT, c.window, 3)) ||
        (status = read_num_attr(file, path, "patch", H5T_NATIVE_INT, c.patch, 3)) ||
        (status = check_names(file, path, "upper_variables", model_upper_names, MODEL_NUPPER)) ||
        (status = check_names(file, path, "surface_variables", model_surface_names, MODEL_NSURFACE)) ||
        (status = check_names(file, path, "constant_fields", model_constant_names, MODEL_NCONST)))
        goto done;
    c.H = grid[0], c.W = grid[1];
    if ((status = model_config_derive(&c))) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", util_last_message());
        status = util_fail(UTIL_EFORMAT, "%s: invalid configuration: %s", path, msg);
        goto done;
    }
    if ((status = read_variant(file, path, version, &c))) goto done;
    if ((status = model_create(m, &c))) goto done;
    int checksummed = 1;
    for (int i = 0; i < m->ntensors; i++)
        if ((status = read_tensor(file, path, &m->tensors[i], m->params + m->tensors[i].offset, &checksummed)))
            goto done;
    if (!checksummed)
        util_warn("%s carries no checksums (written by an older pangu-c or another tool): damage to it would go "
                  "unnoticed; pangu-c writes every tensor with a Fletcher-32 checksum", path);
    for (int i = 0; i < MODEL_NUPPER * c.nlev; i++)
        if (!(m->upper_std[i] > 0)) {
            status = util_fail(UTIL_EFORMAT, "%s: normalization.upper_std[%s, level %g] is %g, expected > 0", path,
                               model_upper_names[i / c.nlev], c.levels[i % c.nlev], m->upper_std[i]);
            goto done;
        }
    for (int i = 0; i < MODEL_NSURFACE; i++)
        if (!(m->surface_std[i] > 0)) {
            status = util_fail(UTIL_EFORMAT, "%s: normalization.surface_std[%s] is %g, expected > 0", path,
                               model_surface_names[i], m->surface_std[i]);
            goto done;
        }
done:
    if (H5Fclose(file) < 0 && !status) status = util_fail(UTIL_EIO, "%s: error closing the file", path);
    if (status && m->params) model_free(m);
    return status;
}

int model_open(model *m, const char *path, int lead_hours) {
    size_t n = strlen(path);
    if (n > 5 && strcasecmp(path + n - 5, ".onnx") == 0) return model_onnx_import(m, path, lead_hours);
    return model_load(m, path);
}

/* ---- writing ---- */

/* attribute `name` of n values (a scalar when scalar), stored as file_type */
static int write_attr(hid_t file, const char *name, hid_t file_type, hid_t mem_type, const void *v, int n, int scalar) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    if (space < 0) return -1;
    hid_t attr = H5Acreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = attr < 0 || H5Awrite(attr, mem_type, v) < 0 ? -1 : 0;
    if (attr >= 0 && H5Aclose(attr) < 0) rc = -1;
    H5Sclose(space);
    return rc;
}

static int write_int_attr(hid_t file, const char *name, const int *v, int n, int scalar) {
    return write_attr(file, name, H5T_STD_I32LE, H5T_NATIVE_INT, v, n, scalar);
}

static int write_float_attr(hid_t file, const char *name, const float *v, int n) {
    return write_attr(file, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, n, 0);
}

/* Variable-length UTF-8, as h5py writes Python strings. */
static int write_string_attr(hid_t file, const char *name, const char *value) {
    hid_t space = H5Screate(H5S_SCALAR), type = H5Tcopy(H5T_C_S1);
    int rc = -1;
    if (space >= 0 && type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0) {
        hid_t attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) {
            rc = H5Awrite(attr, type, &value) < 0 ? -1 : 0;
            if (H5Aclose(attr) < 0) rc = -1;
        }
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    return rc;
}

static int write_names_attr(hid_t file, const char *name, const char *const *names, int n) {
    char buf[256] = "";
    for (int i = 0; i < n; i++) {
        strcat(buf, names[i]);
        if (i + 1 < n) strcat(buf, " ");
    }
    return write_string_attr(file, name, buf);
}


static int write_model_file(const char *path, const model *m, const float *block, double loss, int trainable_only,
                            int (*extra)(hid_t file, const void *ctx), const void *ctx);

int model_save(const model *m, const char *path) { return model_write_tensors(path, m, m->params, NAN, 0); }

int model_write_tensors(const char *path, const model *m, const float *block, double loss, int trainable_only) {
    return write_model_file(path, m, block, loss, trainable_only, NULL, NULL);
}

/* ---- checkpoints: a model file plus the optimiser state ---- */

typedef struct {
    const model *m;
    const float *m1, *m2;
    long long step;
    const char *note;
} ckpt;

/* Every tensor is one chunk with a Fletcher-32 checksum, verified by HDF5 at
 * every read: a damaged model file fails to load instead of stepping to a
 * wrong answer. */
static hid_t checksummed_plist(int rank, const hsize_t *dims) {
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    if (plist < 0) return -1;
    hsize_t chunk[8];
    for (int i = 0; i < rank; i++) chunk[i] = dims[i] ? dims[i] : 1;
    if (H5Pset_chunk(plist, rank, chunk) < 0 || H5Pset_fletcher32(plist) < 0) {
        H5Pclose(plist);
        return -1;
    }
    return plist;
}

static int write_flat(hid_t file, const char *name, const float *x, size_t n) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL), plist = checksummed_plist(1, dims);
    hid_t ds = space < 0 || plist < 0 ? -1 : H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    if (plist >= 0) H5Pclose(plist);
    int bad = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0;
    if (ds >= 0 && H5Dclose(ds) < 0) bad = 1;
    if (space >= 0) H5Sclose(space);
    return bad ? -1 : 0;
}

static int write_checkpoint_extra(hid_t file, const void *ctx) {
    const ckpt *k = ctx;
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(file, "checkpoint_step", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    int bad = attr < 0 || H5Awrite(attr, H5T_NATIVE_LLONG, &k->step) < 0;
    if (attr >= 0 && H5Aclose(attr) < 0) bad = 1;
    if (space >= 0) H5Sclose(space);
    if (bad || write_flat(file, "optimizer.adam_m", k->m1, k->m->nparams) ||
        write_flat(file, "optimizer.adam_v", k->m2, k->m->nparams) ||
        (k->note && write_string_attr(file, "checkpoint_config", k->note)))
        return -1;
    return 0;
}

int model_checkpoint_save(const char *path, const model *m, const float *adam_m, const float *adam_v, long long step,
                          const char *config_text) {
    ckpt k = {m, adam_m, adam_v, step, config_text};
    return write_model_file(path, m, m->params, NAN, 0, write_checkpoint_extra, &k);
}

static int read_flat(hid_t file, const char *path, const char *name, float *x, size_t n) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return util_fail(UTIL_EFORMAT, "%s: '%s' missing (not a training checkpoint?)", path, name);
    hid_t space = H5Dget_space(ds);
    hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    int status = UTIL_OK;
    if (count != (hssize_t)n) status = util_fail(UTIL_EFORMAT, "%s: '%s' has %lld values, expected %zu", path, name, (long long)count, n);
    else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        status = util_fail(UTIL_EFORMAT, "%s: cannot read '%s' (damaged file? it fails its checksum)", path, name);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return status;
}

int model_checkpoint_load(const char *path, model *m, float **adam_m, float **adam_v, long long *step) {
    int status = model_load(m, path);
    *adam_m = *adam_v = NULL;
    if (status) return status;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        model_free(m);
        return util_fail(UTIL_EFORMAT, "%s: cannot open", path);
    }
    *adam_m = util_aligned_alloc(sizeof(float) * m->nparams);
    *adam_v = util_aligned_alloc(sizeof(float) * m->nparams);
    if (!*adam_m || !*adam_v) status = util_fail(UTIL_ENOMEM, "out of memory");
    if (!status && H5Aexists(file, "checkpoint_step") <= 0)
        status = util_fail(UTIL_EFORMAT, "%s: no checkpoint_step (a model file, not a training checkpoint)", path);
    if (!status) {
        hid_t attr = H5Aopen(file, "checkpoint_step", H5P_DEFAULT);
        if (attr < 0 || H5Aread(attr, H5T_NATIVE_LLONG, step) < 0) status = util_fail(UTIL_EFORMAT, "%s: bad checkpoint_step", path);
        if (attr >= 0) H5Aclose(attr);
    }
    if (!status) status = read_flat(file, path, "optimizer.adam_m", *adam_m, m->nparams);
    if (!status) status = read_flat(file, path, "optimizer.adam_v", *adam_v, m->nparams);
    H5Fclose(file);
    if (status) {
        free(*adam_m), free(*adam_v);
        *adam_m = *adam_v = NULL;
        model_free(m);
    }
    return status;
}

/* Write the configuration attributes and the tensors of `block` (laid out as
 * m->params) to path via a temporary file; `loss` is stored as a root
 * attribute unless NaN; `extra` adds more. Shared by model, gradient and
 * checkpoint files. */
static int write_model_file(const char *path, const model *m, const float *block, double loss, int trainable_only,
                            int (*extra)(hid_t file, const void *ctx), const void *ctx) {
    const model_config *c = &m->cfg;
    int status = UTIL_OK, version = model_config_format_version(c);
    char tmp[4200];
    quiet_hdf5();
    if ((status = util_output_begin(path, tmp, sizeof tmp))) return status;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        util_output_abort(path, tmp);
        return util_fail(UTIL_EIO, "%s: cannot create the file", path);
    }
    int grid[2] = {c->H, c->W};
    if (write_string_attr(file, "format", MODEL_FORMAT) || write_int_attr(file, "format_version", &version, 1, 1) ||
        write_int_attr(file, "lead_time_hours", &c->lead_hours, 1, 1) || write_int_attr(file, "grid", grid, 2, 0) ||
        write_float_attr(file, "levels", c->levels, c->nlev) || write_int_attr(file, "dim", &c->dim, 1, 1) ||
        write_int_attr(file, "depths", c->depths, 4, 0) || write_int_attr(file, "heads", c->heads, 4, 0) ||
        write_int_attr(file, "window", c->window, 3, 0) || write_int_attr(file, "patch", c->patch, 3, 0) ||
        write_names_attr(file, "upper_variables", model_upper_names, MODEL_NUPPER) ||
        write_names_attr(file, "surface_variables", model_surface_names, MODEL_NSURFACE) ||
        write_names_attr(file, "constant_fields", model_constant_names, MODEL_NCONST)) {
        status = util_fail(UTIL_EIO, "%s: cannot write the attributes", path);
        goto done;
    }
    if (version == 2 && (write_string_attr(file, "upper_constant_fields", c->upper_constants ? "const_h" : "") ||
                         write_string_attr(file, "recovery_bias", c->recovery_bias_position ? "position" : "variable"))) {
        status = util_fail(UTIL_EIO, "%s: cannot write the attributes", path);
        goto done;
    }
    if (!isnan(loss)) {
        hid_t space = H5Screate(H5S_SCALAR);
        hid_t attr = space < 0 ? -1 : H5Acreate2(file, "loss", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        int bad = attr < 0 || H5Awrite(attr, H5T_NATIVE_DOUBLE, &loss) < 0;
        if (attr >= 0 && H5Aclose(attr) < 0) bad = 1;
        if (space >= 0) H5Sclose(space);
        if (bad) {
            status = util_fail(UTIL_EIO, "%s: cannot write the loss attribute", path);
            goto done;
        }
    }
    for (int i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (trainable_only && !t->trainable) continue;
        hsize_t dims[5];
        for (int k = 0; k < t->rank; k++) dims[k] = (hsize_t)t->shape[k];
        hid_t space = H5Screate_simple(t->rank, dims, NULL), plist = checksummed_plist(t->rank, dims);
        hid_t ds = space < 0 || plist < 0 ? -1
                                          : H5Dcreate2(file, t->name, H5T_IEEE_F32LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
        if (plist >= 0) H5Pclose(plist);
        int bad = ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, block + t->offset) < 0;
        if (ds >= 0 && H5Dclose(ds) < 0) bad = 1;
        if (space >= 0) H5Sclose(space);
        if (bad) {
            status = util_fail(UTIL_EIO, "%s: cannot write tensor '%s' (disk full?)", path, t->name);
            goto done;
        }
    }
    if (extra && extra(file, ctx)) {
        status = util_fail(UTIL_EIO, "%s: cannot write the optimiser state (disk full?)", path);
        goto done;
    }
done:
    if (H5Fclose(file) < 0 && !status) status = util_fail(UTIL_EIO, "%s: cannot finish writing (disk full?)", path);
    if (status) util_output_abort(path, tmp);
    else status = util_output_commit(path, tmp);
    return status;
}
