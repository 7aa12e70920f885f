/* Suite "model": the whole step against the PyTorch reference's fixtures,
 * the model and state files (round trips, orientation), and bad input. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <math.h>
#include <netcdf.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

static char *fixture(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tests_fixture_dir(), name);
    return b;
}

/* Largest |C - reference| in units of each variable's (and level's)
 * normalisation std, over the whole state. */
static double step_error(const char *name, int packed) {
    char mpath[64], ipath[64], opath[64];
    snprintf(mpath, sizeof mpath, "%s.h5", name);
    snprintf(ipath, sizeof ipath, "%s_in.nc", name);
    snprintf(opath, sizeof opath, "%s_out.nc", name);
    model m;
    io_state in, ref, out;
    const char *ip = fixture(ipath), *op = fixture(opath);
    CU_ASSERT_FATAL(model_load(&m, fixture(mpath)) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_read(&ref, &op, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&out, c->H, c->W, c->levels, c->nlev, &in) == 0);
    /* packed: as pangu runs it (model/fast/avx512.c where the CPU has AVX-512);
     * otherwise OpenBLAS on the weights as loaded */
    if (packed) CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
    CU_ASSERT((m.f32 != NULL) == (packed && model_f32_available()));
    CU_ASSERT_FATAL(model_step(&m, out.upper, out.surface, in.upper, in.surface) == 0);
    size_t HW = (size_t)c->H * c->W;
    double worst = 0;
    for (int s = 0; s < MODEL_NUPPER * c->nlev; s++)
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(out.upper[s * HW + i] - ref.upper[s * HW + i]) / m.upper_std[s];
            if (!(e <= worst)) worst = e; /* NaN wins */
        }
    for (int v = 0; v < MODEL_NSURFACE; v++)
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(out.surface[v * HW + i] - ref.surface[v * HW + i]) / m.surface_std[v];
            if (!(e <= worst)) worst = e;
        }
    /* The reference's output must differ from its input: a step that copied
     * its input through would otherwise be judged only by the tolerance. */
    double moved = 0;
    for (size_t i = 0; i < HW; i++) moved += fabs(ref.surface[i] - in.surface[i]);
    CU_ASSERT(moved > 0);
    io_state_free(&in);
    io_state_free(&ref);
    io_state_free(&out);
    model_free(&m);
    return worst;
}

static void test_step_tiny(void) {
    for (int packed = 0; packed < 2; packed++) {
        double e = step_error("tiny", packed);
        CU_ASSERT(e <= 1e-4);
        if (!(e <= 1e-4)) fprintf(stderr, "\n  tiny (%s): max error %.3g std\n", packed ? "packed" : "OpenBLAS", e);
    }
}
static void test_step_small(void) {
    for (int packed = 0; packed < 2; packed++) {
        double e = step_error("small", packed);
        CU_ASSERT(e <= 1e-4);
        if (!(e <= 1e-4)) fprintf(stderr, "\n  small (%s): max error %.3g std\n", packed ? "packed" : "OpenBLAS", e);
    }
}
static void test_step_custom(void) {
    for (int packed = 0; packed < 2; packed++) {
        double e = step_error("custom", packed);
        CU_ASSERT(e <= 1e-4);
        if (!(e <= 1e-4)) fprintf(stderr, "\n  custom (%s): max error %.3g std\n", packed ? "packed" : "OpenBLAS", e);
    }
}

/* The released models' variant (format 2) from pangu_ref.py init: compact and full bias. */
static void test_step_official(void) {
    const char *names[2] = {"official", "official_full"};
    for (int k = 0; k < 2; k++)
        for (int packed = 0; packed < 2; packed++) {
            double e = step_error(names[k], packed);
            CU_ASSERT(e <= 1e-4);
            if (!(e <= 1e-4)) fprintf(stderr, "\n  %s (%s): max error %.3g std\n", names[k], packed ? "packed" : "OpenBLAS", e);
        }
}

/* The step does not depend on the number of OpenMP threads. */
static void test_step_threads(void) {
    model m;
    io_state in, a, b;
    const char *ip = fixture("custom_in.nc");
    CU_ASSERT_FATAL(model_load(&m, fixture("custom.h5")) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&a, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&b, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
    int nt = omp_get_max_threads();
    CU_ASSERT_FATAL(model_step(&m, a.upper, a.surface, in.upper, in.surface) == 0);
    omp_set_num_threads(1);
    CU_ASSERT_FATAL(model_step(&m, b.upper, b.surface, in.upper, in.surface) == 0);
    omp_set_num_threads(nt);
    size_t n = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W;
    CU_ASSERT(memcmp(a.upper, b.upper, n * sizeof(float)) == 0);
    CU_ASSERT(memcmp(a.surface, b.surface, (size_t)MODEL_NSURFACE * c->H * c->W * sizeof(float)) == 0);
    io_state_free(&in);
    io_state_free(&a);
    io_state_free(&b);
    model_free(&m);
}

/* One precision's step on `in` with the attention's windows grouped by
 * about `rows` rows (0: from the L2 size). */
static void step_grouped(model *m, io_state *out, const io_state *in, int rows) {
    model_attention_rows_set(rows);
    CU_ASSERT_FATAL(model_step(m, out->upper, out->surface, in->upper, in->surface) == 0);
    model_attention_rows_set(0);
}

/* The attention's window groups change where each row is computed, not
 * what: one window per group, whole window types and the L2-derived default
 * give the same bits in OpenBLAS, packed FP32 and (where the CPU has it)
 * BF16, on a configuration with several windows per type and on the
 * released variant's full Earth-specific bias. */
static void test_step_attention_groups(void) {
    const char *names[2] = {"custom", "official_full"};
    for (int k = 0; k < 2; k++) {
        char mp[64], ipn[64];
        snprintf(mp, sizeof mp, "%s.h5", names[k]);
        snprintf(ipn, sizeof ipn, "%s_in.nc", names[k]);
        for (int prec = -1; prec <= MODEL_BF16; prec++) { /* -1: OpenBLAS on the loaded weights */
            if (prec == MODEL_BF16 && !model_bf16_available()) continue;
            model m;
            io_state in, a, b, d;
            const char *ip = fixture(ipn);
            CU_ASSERT_FATAL(model_load(&m, fixture(mp)) == 0);
            const model_config *c = &m.cfg;
            CU_ASSERT_FATAL(c->Wt / c->window[2] >= 2); /* several windows per type: groups differ */
            CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
            CU_ASSERT_FATAL(io_state_alloc(&a, c->H, c->W, c->levels, c->nlev, &in) == 0);
            CU_ASSERT_FATAL(io_state_alloc(&b, c->H, c->W, c->levels, c->nlev, &in) == 0);
            CU_ASSERT_FATAL(io_state_alloc(&d, c->H, c->W, c->levels, c->nlev, &in) == 0);
            if (prec >= 0) CU_ASSERT_FATAL(model_set_precision(&m, prec) == 0);
            int N = c->window[0] * c->window[1] * c->window[2];
            CU_ASSERT(model_attention_group(N, c->dim, 4) == 4 || model_cache_bytes(2) < 16L * c->dim * 4 * N);
            model_attention_rows_set(1);
            CU_ASSERT(model_attention_group(N, c->dim, 4) == 1);
            model_attention_rows_set(3 * N);
            CU_ASSERT(model_attention_group(N, c->dim, 4) == 2); /* 3 + 1 windows rebalanced as 2 + 2 */
            model_attention_rows_set(0);
            step_grouped(&m, &a, &in, 1);
            step_grouped(&m, &b, &in, 1 << 30);
            step_grouped(&m, &d, &in, 0);
            size_t nu = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W, ns = (size_t)MODEL_NSURFACE * c->H * c->W;
            CU_ASSERT(memcmp(a.upper, b.upper, nu * sizeof(float)) == 0);
            CU_ASSERT(memcmp(a.surface, b.surface, ns * sizeof(float)) == 0);
            CU_ASSERT(memcmp(a.upper, d.upper, nu * sizeof(float)) == 0);
            CU_ASSERT(memcmp(a.surface, d.surface, ns * sizeof(float)) == 0);
            io_state_free(&in);
            io_state_free(&a);
            io_state_free(&b);
            io_state_free(&d);
            model_free(&m);
        }
    }
}

/* A workspace kept across steps (model_step_in) gives a fresh arena's
 * results: the step reads nothing it did not write in the same step (the
 * workspace is filled with NaN bytes between the steps), on two inputs in
 * turn, in packed FP32 and OpenBLAS. */
static void test_step_workspace(void) {
    for (int packed = 0; packed <= 1; packed++) {
        model m;
        io_state in[2], fresh, kept;
        const char *paths[2] = {fixture("custom_in.nc"), fixture("custom_target.nc")};
        CU_ASSERT_FATAL(model_load(&m, fixture("custom.h5")) == 0);
        const model_config *c = &m.cfg;
        for (int i = 0; i < 2; i++)
            CU_ASSERT_FATAL(io_state_read(&in[i], &paths[i], 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
        CU_ASSERT_FATAL(io_state_alloc(&fresh, c->H, c->W, c->levels, c->nlev, &in[0]) == 0);
        CU_ASSERT_FATAL(io_state_alloc(&kept, c->H, c->W, c->levels, c->nlev, &in[0]) == 0);
        if (packed) CU_ASSERT_FATAL(model_set_precision(&m, MODEL_FP32) == 0);
        model_workspace ws = {NULL, 0};
        size_t nu = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W, ns = (size_t)MODEL_NSURFACE * c->H * c->W;
        for (int step = 0; step < 4; step++) {
            const io_state *x = &in[step % 2];
            CU_ASSERT_FATAL(model_step(&m, fresh.upper, fresh.surface, x->upper, x->surface) == 0);
            CU_ASSERT_FATAL(model_step_in(&m, &ws, kept.upper, kept.surface, x->upper, x->surface) == 0);
            CU_ASSERT_FATAL(ws.base != NULL && ws.size >= model_workspace_bytes(c, omp_get_max_threads()));
            CU_ASSERT(memcmp(fresh.upper, kept.upper, nu * sizeof(float)) == 0);
            CU_ASSERT(memcmp(fresh.surface, kept.surface, ns * sizeof(float)) == 0);
            memset(ws.base, 0xff, ws.size);
        }
        model_workspace_free(&ws);
        CU_ASSERT(ws.base == NULL && ws.size == 0);
        for (int i = 0; i < 2; i++) io_state_free(&in[i]);
        io_state_free(&fresh);
        io_state_free(&kept);
        model_free(&m);
    }
}

/* ---- model file ---- */

static char tmpdir[256];

static const char *tmp(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    CU_ASSERT_FATAL(a && b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) CU_ASSERT_FATAL(fwrite(buf, 1, n, b) == n);
    fclose(a);
    fclose(b);
}

static void test_model_roundtrip(void) {
    model a, b;
    CU_ASSERT_FATAL(model_load(&a, fixture("custom.h5")) == 0);
    CU_ASSERT_FATAL(model_save(&a, tmp("copy.h5")) == 0);
    CU_ASSERT_FATAL(model_load(&b, tmp("copy.h5")) == 0);
    CU_ASSERT(memcmp(&a.cfg, &b.cfg, sizeof a.cfg) == 0);
    CU_ASSERT(a.nparams == b.nparams);
    CU_ASSERT(memcmp(a.params, b.params, sizeof(float) * a.nparams) == 0);
    model_free(&a);
    model_free(&b);
}

/* A model file pangu-c writes carries a Fletcher-32 checksum per tensor: 4 KiB of
 * flipped bits inside one tensor's data make the load fail, naming the tensor. */
static int load_fails(const char *path, int code, const char *needle1, const char *needle2);
static void test_model_checksums(void) {
    model a;
    CU_ASSERT_FATAL(model_load(&a, fixture("tiny.h5")) == 0);
    CU_ASSERT_FATAL(model_save(&a, tmp("sum.h5")) == 0);
    model_free(&a);
    const char *name = "layers.1.blocks.0.mlp.fc1.weight";
    hid_t f = H5Fopen(tmp("sum.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    unsigned mask;
    hid_t space = H5Dget_space(d);
    CU_ASSERT_FATAL(H5Dget_chunk_info(d, space, 0, NULL, &mask, &addr, &size) >= 0 && size > 8192);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    FILE *fp = fopen(tmp("sum.h5"), "r+b");
    CU_ASSERT_FATAL(fp && fseek(fp, (long)addr + 2048, SEEK_SET) == 0);
    unsigned char buf[4096];
    CU_ASSERT_FATAL(fread(buf, 1, sizeof buf, fp) == sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] ^= 0x5a;
    CU_ASSERT_FATAL(fseek(fp, (long)addr + 2048, SEEK_SET) == 0 && fwrite(buf, 1, sizeof buf, fp) == sizeof buf);
    fclose(fp);
    CU_ASSERT(load_fails(tmp("sum.h5"), UTIL_EFORMAT, name, "fails its checksum: the file is damaged"));
}

static void test_init_random(void) {
    model_config c;
    model a, b;
    CU_ASSERT_FATAL(model_config_preset(&c, "tiny") == 0);
    CU_ASSERT_FATAL(model_create(&a, &c) == 0);
    CU_ASSERT_FATAL(model_create(&b, &c) == 0);
    model_init_random(&a, 7, 0.02f);
    model_init_random(&b, 7, 0.02f);
    CU_ASSERT(memcmp(a.params, b.params, sizeof(float) * a.nparams) == 0); /* seeded */
    const model_tensor *t = model_find_tensor(&a, "layers.0.blocks.0.attn.qkv.weight");
    CU_ASSERT_FATAL(t != NULL);
    double sum = 0, sq = 0, mx = 0;
    for (size_t i = 0; i < t->count; i++) {
        double v = a.params[t->offset + i];
        sum += v, sq += v * v;
        if (fabs(v) > mx) mx = fabs(v);
    }
    double sd = sqrt(sq / t->count - (sum / t->count) * (sum / t->count));
    CU_ASSERT(sd > 0.015 && sd < 0.02);  /* truncated at 2 std: about 0.88 * 0.02 */
    CU_ASSERT(mx <= 0.04 + 1e-7);
    CU_ASSERT(a.blocks[0][0].norm1_w[3] == 1.0f && a.blocks[0][0].norm1_b[3] == 0.0f);
    CU_ASSERT(a.upper_std[0] > 0 && a.surface_std[3] > 0);
    model_free(&a);
    model_free(&b);
}

/* Replace dataset `name` of an HDF5 file by one of shape dims (or delete it). */
static void h5_replace(const char *path, const char *name, int rank, const hsize_t *dims) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT_FATAL(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    if (rank > 0) {
        hid_t s = H5Screate_simple(rank, dims, NULL);
        hid_t d = H5Dcreate2(f, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0);
        H5Dclose(d);
        H5Sclose(s);
    }
    H5Fclose(f);
}

static void h5_set_int_attr(const char *path, const char *name, const int *v, int n) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    H5Adelete(f, name);
    hsize_t d = (hsize_t)n;
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(a >= 0);
    H5Awrite(a, H5T_NATIVE_INT, v);
    H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
}

static int load_fails(const char *path, int code, const char *needle1, const char *needle2) {
    model m;
    int status = model_load(&m, path);
    if (status == 0) {
        model_free(&m);
        return 0;
    }
    const char *msg = util_last_message();
    int ok = status == code && strstr(msg, needle1) && (!needle2 || strstr(msg, needle2));
    if (!ok) fprintf(stderr, "\n  unexpected: status %d, message '%s'\n", status, msg);
    return ok;
}

static void test_model_bad_files(void) {
    CU_ASSERT(load_fails(tmp("absent.h5"), UTIL_EIO, "absent.h5", NULL));
    FILE *f = fopen(tmp("garbage.h5"), "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    CU_ASSERT(load_fails(tmp("garbage.h5"), UTIL_EFORMAT, "garbage.h5", "not an HDF5"));

    /* A truncated copy of a real model file. */
    copy_file(fixture("tiny.h5"), tmp("cut.h5"));
    CU_ASSERT_FATAL(truncate(tmp("cut.h5"), 200000) == 0);
    CU_ASSERT(load_fails(tmp("cut.h5"), UTIL_EFORMAT, "cut.h5", NULL));

    copy_file(fixture("tiny.h5"), tmp("shape.h5"));
    hsize_t dims[2] = {48, 17};
    h5_replace(tmp("shape.h5"), "layers.0.blocks.0.attn.qkv.weight", 2, dims);
    CU_ASSERT(load_fails(tmp("shape.h5"), UTIL_EFORMAT, "layers.0.blocks.0.attn.qkv.weight", "(48,17), expected (48,16)"));

    copy_file(fixture("tiny.h5"), tmp("missing.h5"));
    h5_replace(tmp("missing.h5"), "patch_recovery.conv.bias", 0, NULL);
    CU_ASSERT(load_fails(tmp("missing.h5"), UTIL_EFORMAT, "patch_recovery.conv.bias", "missing"));

    copy_file(fixture("tiny.h5"), tmp("window.h5"));
    int window[3] = {2, 3, 5};
    h5_set_int_attr(tmp("window.h5"), "window", window, 3);
    CU_ASSERT(load_fails(tmp("window.h5"), UTIL_EFORMAT, "window.h5", "not divisible by window 5"));

    copy_file(fixture("tiny.h5"), tmp("heads.h5"));
    int heads[4] = {3, 4, 4, 2};
    h5_set_int_attr(tmp("heads.h5"), "heads", heads, 4);
    CU_ASSERT(load_fails(tmp("heads.h5"), UTIL_EFORMAT, "heads.h5", "heads[0] = 3 must divide the layer width 16"));

    copy_file(fixture("tiny.h5"), tmp("version.h5"));
    int version = 3;
    h5_set_int_attr(tmp("version.h5"), "format_version", &version, 1);
    CU_ASSERT(load_fails(tmp("version.h5"), UTIL_EFORMAT, "format_version is 3", "expected 1 or 2"));
    /* version 2 names its parts: a version-1 file relabelled lacks them */
    version = 2;
    h5_set_int_attr(tmp("version.h5"), "format_version", &version, 1);
    CU_ASSERT(load_fails(tmp("version.h5"), UTIL_EFORMAT, "version.h5", "'upper_constant_fields' missing"));
}

static void test_config_rules(void) {
    model_config c;
    CU_ASSERT_FATAL(model_config_preset(&c, "full") == 0);
    CU_ASSERT(c.Z == 8 && c.Ht == 181 && c.Wt == 360 && c.H2 == 91 && c.W2 == 180);
    CU_ASSERT(model_window_types(&c, c.Ht) == 124 && model_window_types(&c, c.H2) == 64);
    double tflop = model_flops_per_step(&c) / 1e12;
    CU_ASSERT(tflop > 7.5 && tflop < 9.0); /* about 8.2 TFLOP (issue 7) */
    CU_ASSERT(model_config_preset(&c, "huge") == UTIL_EINVAL);
    CU_ASSERT_FATAL(model_config_preset(&c, "tiny") == 0);
    c.W = 52; /* 13 longitude tokens: no window of 6 fits */
    CU_ASSERT(model_config_derive(&c) == UTIL_EINVAL);
    CU_ASSERT(strstr(util_last_message(), "longitude tokens 13") != NULL);
}

/* ---- state files ---- */

static void test_state_roundtrip_and_time(void) {
    model m;
    io_state in, back;
    const char *ip = fixture("custom_in.nc"), *op = tmp("state.nc");
    CU_ASSERT_FATAL(model_load(&m, fixture("custom.h5")) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT(in.lat[0] == 90.0 && in.lat[c->H - 1] == -90.0);
    CU_ASSERT_FATAL(io_time_add_hours(&in, 6) == 0);
    CU_ASSERT_FATAL(io_state_write(op, &in, "test") == 0);
    CU_ASSERT_FATAL(io_state_read(&back, &op, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT(back.time == IO_EPOCH_1900 + 6 * 3600.0);
    size_t n = (size_t)MODEL_NUPPER * c->nlev * c->H * c->W;
    CU_ASSERT(memcmp(in.upper, back.upper, n * sizeof(float)) == 0);
    CU_ASSERT(access(tmp("state.nc"), F_OK) == 0);
    io_state_free(&back);

    /* Levels in another order come back in the requested order. */
    float rev[MODEL_MAX_LEVELS];
    for (int k = 0; k < c->nlev; k++) rev[k] = c->levels[c->nlev - 1 - k];
    CU_ASSERT_FATAL(io_state_read(&back, &op, 1, 0, c->H, c->W, rev, c->nlev) == 0);
    size_t HW = (size_t)c->H * c->W;
    CU_ASSERT(memcmp(back.upper, in.upper + (size_t)(c->nlev - 1) * HW, HW * sizeof(float)) == 0);
    io_state_free(&back);

    /* A level the file lacks, and a grid the model does not have. */
    float wrong[2] = {1000, 777};
    CU_ASSERT(io_state_read(&back, &op, 1, 0, c->H, c->W, wrong, 2) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "level 777 hPa missing") != NULL);
    CU_ASSERT(io_state_read(&back, &op, 1, 0, c->H + 1, c->W, c->levels, c->nlev) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "grid is 27 x 93") != NULL);
    CU_ASSERT(io_state_read(&back, &op, 1, 3, c->H, c->W, c->levels, c->nlev) == UTIL_EFORMAT);
    io_state_free(&in);
    model_free(&m);
}

/* A file stored south to north reads as the same state. */
static void test_state_flipped_latitude(void) {
    model m;
    io_state in, flipped;
    const char *ip = fixture("tiny_in.nc"), *fp = tmp("flipped.nc");
    CU_ASSERT_FATAL(model_load(&m, fixture("tiny.h5")) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    io_state s;
    CU_ASSERT_FATAL(io_state_alloc(&s, c->H, c->W, c->levels, c->nlev, &in) == 0);
    size_t HW = (size_t)c->H * c->W;
    for (int i = 0; i < c->H; i++) {
        s.lat[i] = in.lat[c->H - 1 - i];
        for (int f = 0; f < MODEL_NUPPER * c->nlev; f++)
            memcpy(s.upper + f * HW + (size_t)i * c->W, in.upper + f * HW + (size_t)(c->H - 1 - i) * c->W,
                   sizeof(float) * c->W);
        for (int f = 0; f < MODEL_NSURFACE; f++)
            memcpy(s.surface + f * HW + (size_t)i * c->W, in.surface + f * HW + (size_t)(c->H - 1 - i) * c->W,
                   sizeof(float) * c->W);
    }
    CU_ASSERT_FATAL(io_state_write(fp, &s, "test") == 0);
    CU_ASSERT_FATAL(io_state_read(&flipped, &fp, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT(flipped.lat[0] == 90.0);
    CU_ASSERT(memcmp(flipped.upper, in.upper, sizeof(float) * MODEL_NUPPER * c->nlev * HW) == 0);
    CU_ASSERT(memcmp(flipped.surface, in.surface, sizeof(float) * MODEL_NSURFACE * HW) == 0);
    io_state_free(&s);
    io_state_free(&in);
    io_state_free(&flipped);
    model_free(&m);
}

static void test_state_nan(void) {
    model m;
    io_state in, back;
    const char *ip = fixture("tiny_in.nc"), *op = tmp("nan.nc");
    CU_ASSERT_FATAL(model_load(&m, fixture("tiny.h5")) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT(io_state_check_finite(&in, ip) == 0);
    in.surface[3 * (size_t)c->H * c->W + 5] = NAN; /* t2m */
    CU_ASSERT_FATAL(io_state_write(op, &in, "test") == 0);
    CU_ASSERT_FATAL(io_state_read(&back, &op, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT(io_state_check_finite(&back, op) == UTIL_ENAN);
    CU_ASSERT(strstr(util_last_message(), "'t2m'") != NULL);
    io_state_free(&in);
    io_state_free(&back);
    model_free(&m);
}

/* Packed shorts with scale_factor/add_offset and _FillValue, as the CDS
 * delivered NetCDF-3 until 2024. */
static void test_state_packed(void) {
    model m;
    io_state in, packed;
    const char *ip = fixture("tiny_in.nc"), *pp = tmp("packed.nc");
    CU_ASSERT_FATAL(model_load(&m, fixture("tiny.h5")) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    int nc, dt, dl, dy, dx, v;
    CU_ASSERT_FATAL(nc_create(pp, NC_CLOBBER, &nc) == NC_NOERR);
    nc_def_dim(nc, "time", NC_UNLIMITED, &dt);
    nc_def_dim(nc, "level", (size_t)c->nlev, &dl);
    nc_def_dim(nc, "latitude", (size_t)c->H, &dy);
    nc_def_dim(nc, "longitude", (size_t)c->W, &dx);
    int vt, vl, vy, vx, vars[9];
    nc_def_var(nc, "time", NC_INT, 1, &dt, &vt);
    nc_put_att_text(nc, vt, "units", 31, "hours since 1900-01-01 00:00:00");
    nc_def_var(nc, "level", NC_INT, 1, &dl, &vl);
    nc_put_att_text(nc, vl, "units", 9, "millibars");
    nc_def_var(nc, "latitude", NC_FLOAT, 1, &dy, &vy);
    nc_def_var(nc, "longitude", NC_FLOAT, 1, &dx, &vx);
    double scale[9], offset[9];
    size_t HW = (size_t)c->H * c->W;
    for (v = 0; v < 9; v++) {
        const float *src = v < 5 ? in.upper + (size_t)v * c->nlev * HW : in.surface + (size_t)(v - 5) * HW;
        size_t n = v < 5 ? (size_t)c->nlev * HW : HW;
        float lo = src[0], hi = src[0];
        for (size_t i = 0; i < n; i++) lo = fminf(lo, src[i]), hi = fmaxf(hi, src[i]);
        scale[v] = (hi - lo) / 65000.0, offset[v] = (hi + lo) / 2;
        int dims4[4] = {dt, dl, dy, dx}, dims3[3] = {dt, dy, dx};
        nc_def_var(nc, v < 5 ? io_upper_names[v] : io_surface_names[v - 5], NC_SHORT, v < 5 ? 4 : 3,
                   v < 5 ? dims4 : dims3, &vars[v]);
        nc_put_att_double(nc, vars[v], "scale_factor", NC_DOUBLE, 1, &scale[v]);
        nc_put_att_double(nc, vars[v], "add_offset", NC_DOUBLE, 1, &offset[v]);
        short fill = -32767;
        nc_put_att_short(nc, vars[v], "_FillValue", NC_SHORT, 1, &fill);
        nc_put_att_short(nc, vars[v], "missing_value", NC_SHORT, 1, &fill);
    }
    CU_ASSERT_FATAL(nc_enddef(nc) == NC_NOERR);
    int lev[MODEL_MAX_LEVELS], t0 = 1000000;
    size_t zero = 0;
    for (int k = 0; k < c->nlev; k++) lev[k] = (int)c->levels[k];
    nc_put_var1_int(nc, vt, &zero, &t0);
    nc_put_var_int(nc, vl, lev);
    float lat[64], lon[64];
    for (int i = 0; i < c->H; i++) lat[i] = (float)in.lat[i];
    for (int i = 0; i < c->W; i++) lon[i] = (float)in.lon[i];
    nc_put_var_float(nc, vy, lat);
    nc_put_var_float(nc, vx, lon);
    for (v = 0; v < 9; v++) {
        const float *src = v < 5 ? in.upper + (size_t)v * c->nlev * HW : in.surface + (size_t)(v - 5) * HW;
        size_t n = v < 5 ? (size_t)c->nlev * HW : HW;
        short *q = malloc(n * sizeof(short));
        for (size_t i = 0; i < n; i++) q[i] = (short)lrint((src[i] - offset[v]) / scale[v]);
        if (v == 8) q[7] = -32767; /* one missing t2m value */
        size_t start[4] = {0, 0, 0, 0}, count[4] = {1, (size_t)c->nlev, (size_t)c->H, (size_t)c->W};
        size_t count3[3] = {1, (size_t)c->H, (size_t)c->W};
        CU_ASSERT(nc_put_vara_short(nc, vars[v], start, v < 5 ? count : count3, q) == NC_NOERR);
        free(q);
    }
    CU_ASSERT_FATAL(nc_close(nc) == NC_NOERR);
    CU_ASSERT_FATAL(io_state_read(&packed, &pp, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT(packed.time == IO_EPOCH_1900 + 1000000.0 * 3600);
    double worst = 0;
    for (v = 0; v < 5; v++)
        for (size_t i = 0; i < (size_t)c->nlev * HW; i++)
            worst = fmax(worst, fabs(packed.upper[v * c->nlev * HW + i] - in.upper[v * c->nlev * HW + i]) / scale[v]);
    CU_ASSERT(worst <= 0.51); /* within half a packing step */
    if (!(worst <= 0.51)) fprintf(stderr, "\n  packed: worst %g steps\n", worst);
    CU_ASSERT(isnan(packed.surface[3 * HW + 7]));
    CU_ASSERT(fabs(packed.surface[3 * HW + 8] - in.surface[3 * HW + 8]) <= 0.51 * scale[8]);
    io_state_free(&in);
    io_state_free(&packed);
    model_free(&m);
}

static int suite_init(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pangu-tests-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int tests_register_model(void) {
    CU_pSuite s = CU_add_suite("model", suite_init, suite_clean);
    if (!s) return -1;
    struct { const char *name; void (*fn)(void); } tests[] = {
        {"step matches reference (OpenBLAS and packed FP32): tiny preset", test_step_tiny},
        {"step matches reference (OpenBLAS and packed FP32): small preset", test_step_small},
        {"step matches reference (OpenBLAS and packed FP32): custom configuration", test_step_custom},
        {"step matches reference (OpenBLAS and packed FP32): released variant, both bias forms", test_step_official},
        {"model files carry checksums: a damaged tensor fails to load", test_model_checksums},
        {"step independent of thread count", test_step_threads},
        {"step independent of the attention's window groups", test_step_attention_groups},
        {"step in a kept workspace equals a fresh arena's", test_step_workspace},
        {"model file round trip", test_model_roundtrip},
        {"random initialisation", test_init_random},
        {"bad model files", test_model_bad_files},
        {"configuration rules", test_config_rules},
        {"state round trip, time, levels, grid", test_state_roundtrip_and_time},
        {"state stored south to north", test_state_flipped_latitude},
        {"NaN in a state", test_state_nan},
        {"packed NetCDF-3 state", test_state_packed},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
