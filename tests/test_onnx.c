/* Suite "onnx": the released models' layout. Import of files written by
 * pangu_ref.py official-onnx against the reference's import and step (both
 * bias forms), the same model from raw_data, float_data and external data,
 * the lead from the file name, and every kind of bad file, each made by
 * editing a good one with protobuf-c. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#include "io/io.h"
#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

static char dir[256];

static const char *fx(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tests_fixture_dir(), name);
    return b;
}

static const char *tmp(const char *name) {
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) free(b), b = NULL;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static Onnx__ModelProto *parse(const char *path) {
    size_t len;
    unsigned char *b = slurp(path, &len);
    CU_ASSERT_FATAL(b != NULL);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, b);
    free(b);
    CU_ASSERT_FATAL(m != NULL);
    return m;
}

static void save(const Onnx__ModelProto *m, const char *path) {
    size_t len = onnx__model_proto__get_packed_size(m);
    unsigned char *b = malloc(len);
    CU_ASSERT_FATAL(b != NULL);
    onnx__model_proto__pack(m, b);
    spit(path, b, len);
    free(b);
}

/* The tensor named `name`: an initializer or a Constant node's value. */
static Onnx__TensorProto *tensor(Onnx__ModelProto *m, const char *name) {
    Onnx__GraphProto *g = m->graph;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    for (size_t i = 0; i < g->n_node; i++)
        if (g->node[i]->name && !strcmp(g->node[i]->name, name))
            for (size_t a = 0; a < g->node[i]->n_attribute; a++)
                if (!strcmp(g->node[i]->attribute[a]->name, "value")) return g->node[i]->attribute[a]->t;
    CU_FAIL_FATAL("fixture tensor missing");
    return NULL;
}

/* Import must fail with `code` and a message holding both strings. */
static int import_fails(const char *path, int lead, int code, const char *a, const char *b) {
    model m;
    int status = model_onnx_import(&m, path, lead);
    const char *msg = util_last_message();
    int ok = status == code && (!a || strstr(msg, a)) && (!b || strstr(msg, b));
    if (!ok) fprintf(stderr, "\n  %s: status %d (expected %d): %s\n", path, status, code, status ? msg : "");
    if (!status) model_free(&m);
    return ok;
}

/* Largest |step - reference| in units of each variable's std. */
static double step_error(model *m, const char *in_name, const char *out_name) {
    const model_config *c = &m->cfg;
    io_state in, ref, out;
    const char *ip = fx(in_name), *op = fx(out_name);
    CU_ASSERT_FATAL(io_state_read(&in, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_read(&ref, &op, 1, 0, c->H, c->W, c->levels, c->nlev) == 0);
    CU_ASSERT_FATAL(io_state_alloc(&out, c->H, c->W, c->levels, c->nlev, &in) == 0);
    CU_ASSERT_FATAL(model_step(m, out.upper, out.surface, in.upper, in.surface) == 0);
    size_t HW = (size_t)c->H * c->W;
    double worst = 0, moved = 0;
    for (int s = 0; s < MODEL_NUPPER * c->nlev; s++)
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(out.upper[s * HW + i] - ref.upper[s * HW + i]) / m->upper_std[s];
            if (!(e <= worst)) worst = e;
        }
    for (int v = 0; v < MODEL_NSURFACE; v++)
        for (size_t i = 0; i < HW; i++) {
            double e = fabs(out.surface[v * HW + i] - ref.surface[v * HW + i]) / m->surface_std[v];
            if (!(e <= worst)) worst = e;
            moved += fabs(ref.surface[v * HW + i] - in.surface[v * HW + i]);
        }
    CU_ASSERT(moved > 0);
    io_state_free(&in);
    io_state_free(&ref);
    io_state_free(&out);
    return worst;
}

/* Every path of the step: OpenBLAS on the floats, then the packed kernels. */
static void check_steps(model *m, const char *in_name, const char *out_name) {
    for (int packed = 0; packed < 2; packed++) {
        if (packed) CU_ASSERT_FATAL(model_set_precision(m, MODEL_FP32) == 0);
        double e = step_error(m, in_name, out_name);
        CU_ASSERT(e <= 1e-4);
        if (!(e <= 1e-4)) fprintf(stderr, "\n  %s (%s): max error %.3g std\n", out_name, packed ? "packed" : "OpenBLAS", e);
    }
    model_release_packs(m);
}

static int same_params(const model *a, const model *b) {
    if (a->nparams != b->nparams || a->ntensors != b->ntensors) return 0;
    for (int i = 0; i < a->ntensors; i++) {
        const model_tensor *t = &a->tensors[i], *u = model_find_tensor(b, t->name);
        if (!u || u->count != t->count || memcmp(a->params + t->offset, b->params + u->offset, sizeof(float) * t->count)) {
            fprintf(stderr, "\n  tensor %s differs\n", t->name);
            return 0;
        }
    }
    return 1;
}

static void test_import_compact(void) {
    model m, ref;
    CU_ASSERT_FATAL(model_onnx_import(&m, fx("released/pangu_weather_24.onnx"), 0) == 0);
    const model_config *c = &m.cfg;
    CU_ASSERT(c->lead_hours == 24); /* from the file name */
    CU_ASSERT(c->H == 9 && c->W == 96 && c->nlev == 13 && c->dim == 4);
    CU_ASSERT(c->heads[0] == 1 && c->heads[1] == 2 && c->heads[2] == 1 && c->heads[3] == 1);
    CU_ASSERT(c->upper_constants == 1 && c->recovery_bias_position == 1 && c->padded_constants == 1);
    CU_ASSERT(c->full_bias == 0); /* the expanded biases have the compact structure */
    /* the same tensors, to the bit, as pangu_ref.py import wrote */
    CU_ASSERT_FATAL(model_load(&ref, fx("released_ref.h5")) == 0);
    CU_ASSERT(memcmp(&ref.cfg, &m.cfg, sizeof m.cfg) == 0);
    CU_ASSERT(same_params(&m, &ref));
    model_free(&ref);
    check_steps(&m, "released_in.nc", "released_out.nc");
    /* written and read back: format 2, the same model */
    CU_ASSERT_FATAL(model_save(&m, tmp("imported.h5")) == 0);
    CU_ASSERT_FATAL(model_load(&ref, tmp("imported.h5")) == 0);
    CU_ASSERT(same_params(&m, &ref) && memcmp(&ref.cfg, &m.cfg, sizeof m.cfg) == 0);
    model_free(&ref);
    /* model_open takes either */
    CU_ASSERT_FATAL(model_open(&ref, fx("released/pangu_weather_24.onnx"), 0) == 0);
    CU_ASSERT(same_params(&m, &ref));
    model_free(&ref);
    model_free(&m);
}

static void test_import_full(void) {
    model m;
    CU_ASSERT_FATAL(model_onnx_import(&m, fx("released_full/pangu_weather_6.onnx"), 0) == 0);
    CU_ASSERT(m.cfg.lead_hours == 6 && m.cfg.full_bias == 1 && m.cfg.H == 10);
    const model_tensor *t = model_find_tensor(&m, "layers.1.blocks.3.attn.earth_specific_bias");
    CU_ASSERT(t && t->rank == 4 && t->shape[2] == 144 && t->shape[3] == 144);
    check_steps(&m, "released_full_in.nc", "released_full_out.nc");
    if (model_bf16_available()) { /* BF16 runs the full bias too, within its documented error */
        CU_ASSERT_FATAL(model_set_precision(&m, MODEL_BF16) == 0);
        double e = step_error(&m, "released_full_in.nc", "released_full_out.nc");
        CU_ASSERT(e <= 5e-2);
        model_release_packs(&m);
    }
    model_free(&m);
}

/* The ONNX name of a model tensor. */
static const char *onnx_name_of(const char *tensor_name) {
    const char *onnx_name, *t;
    for (int i = 0; (t = model_onnx_tensor_name(i, &onnx_name, NULL)); i++)
        if (!strcmp(t, tensor_name)) return onnx_name;
    CU_FAIL_FATAL("no such tensor");
    return NULL;
}

/* One value changed in an expanded bias breaks the compact structure: the full form is kept. */
static void test_almost_compact_stays_full(void) {
    Onnx__ModelProto *p = parse(fx("released/pangu_weather_24.onnx"));
    Onnx__TensorProto *t = tensor(p, onnx_name_of("layers.2.blocks.5.attn.earth_specific_bias"));
    float v;
    memcpy(&v, t->raw_data.data + 4 * 1000, 4);
    v = nextafterf(v, INFINITY);
    memcpy(t->raw_data.data + 4 * 1000, &v, 4);
    save(p, tmp("pangu_weather_24.onnx"));
    onnx__model_proto__free_unpacked(p, NULL);
    model m;
    CU_ASSERT_FATAL(model_onnx_import(&m, tmp("pangu_weather_24.onnx"), 0) == 0);
    CU_ASSERT(m.cfg.full_bias == 1);
    const model_tensor *b = model_find_tensor(&m, "layers.2.blocks.5.attn.earth_specific_bias");
    CU_ASSERT(b && m.params[b->offset + 1000] == v);
    model_free(&m);
}

/* The released fixture with every initializer in one external data file
 * (data_path), as onnx.save_model(..., save_as_external_data=True) writes it:
 * location, offset and length as strings. Returns the data file's size. */
static long save_external(const char *onnx_path, const char *data_path, const char *location) {
    Onnx__ModelProto *p = parse(fx("released/pangu_weather_24.onnx"));
    FILE *data = fopen(data_path, "wb");
    CU_ASSERT_FATAL(data != NULL);
    long offset = 0;
    static Onnx__StringStringEntryProto entries[256][3];
    static Onnx__StringStringEntryProto *lists[256][3];
    static char values[256][2][32];
    int ne = 0;
    for (size_t i = 0; i < p->graph->n_initializer && ne < 256; i++, ne++) {
        Onnx__TensorProto *t = p->graph->initializer[i];
        CU_ASSERT_FATAL(fwrite(t->raw_data.data, 1, t->raw_data.len, data) == t->raw_data.len);
        snprintf(values[ne][0], 32, "%ld", offset);
        snprintf(values[ne][1], 32, "%zu", t->raw_data.len);
        offset += (long)t->raw_data.len;
        const char *keys[3] = {"location", "offset", "length"};
        const char *vals[3] = {location, values[ne][0], values[ne][1]};
        for (int k = 0; k < 3; k++) {
            onnx__string_string_entry_proto__init(&entries[ne][k]);
            entries[ne][k].key = (char *)keys[k], entries[ne][k].value = (char *)vals[k];
            lists[ne][k] = &entries[ne][k];
        }
        free(t->raw_data.data);
        t->raw_data.data = NULL, t->raw_data.len = 0, t->has_raw_data = 0;
        t->has_data_location = 1, t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        t->external_data = lists[ne], t->n_external_data = 3;
    }
    CU_ASSERT_FATAL(fclose(data) == 0);
    save(p, onnx_path);
    for (size_t i = 0; i < p->graph->n_initializer; i++) /* the entries are static, not the message's */
        p->graph->initializer[i]->external_data = NULL, p->graph->initializer[i]->n_external_data = 0;
    onnx__model_proto__free_unpacked(p, NULL);
    return offset;
}

/* float_data instead of raw_data, and external data beside the file, give the same model. */
static void test_storage_forms(void) {
    model ref, m;
    CU_ASSERT_FATAL(model_onnx_import(&ref, fx("released/pangu_weather_24.onnx"), 0) == 0);
    Onnx__ModelProto *p = parse(fx("released/pangu_weather_24.onnx"));
    /* float_data: every tensor */
    const char *onnx_name;
    for (int i = 0; model_onnx_tensor_name(i, &onnx_name, NULL); i++) {
        Onnx__TensorProto *t = tensor(p, onnx_name);
        if (!t->raw_data.len) continue;
        size_t n = t->raw_data.len / 4;
        t->float_data = malloc(t->raw_data.len);
        memcpy(t->float_data, t->raw_data.data, t->raw_data.len);
        t->n_float_data = n;
        free(t->raw_data.data);
        t->raw_data.data = NULL, t->raw_data.len = 0, t->has_raw_data = 0;
    }
    save(p, tmp("floats.onnx"));
    CU_ASSERT_FATAL(model_onnx_import(&m, tmp("floats.onnx"), 24) == 0);
    CU_ASSERT(same_params(&ref, &m));
    model_free(&m);
    onnx__model_proto__free_unpacked(p, NULL);
    long offset = save_external(tmp("external.onnx"), tmp("weights.bin"), "weights.bin");
    CU_ASSERT_FATAL(model_onnx_import(&m, tmp("external.onnx"), 24) == 0);
    CU_ASSERT(same_params(&ref, &m));
    model_free(&m);
    /* a short external data file */
    CU_ASSERT_FATAL(truncate(tmp("weights.bin"), offset - 100) == 0);
    CU_ASSERT(import_fails(tmp("external.onnx"), 24, UTIL_EFORMAT, "weights.bin", "needs"));
    unlink(tmp("weights.bin"));
    CU_ASSERT(import_fails(tmp("external.onnx"), 24, UTIL_EIO, "cannot open its external data file", "weights.bin"));
    model_free(&ref);
}

static void test_lead(void) {
    int lead = 0;
    CU_ASSERT(model_onnx_lead_from_name("/a/b/pangu_weather_3.onnx", &lead) == 0 && lead == 3);
    CU_ASSERT(model_onnx_lead_from_name("pangu_weather_24.onnx", &lead) == 0 && lead == 24);
    CU_ASSERT(model_onnx_lead_from_name("pangu_weather_.onnx", &lead) != 0);
    CU_ASSERT(model_onnx_lead_from_name("pangu_weather_6x.onnx", &lead) != 0);
    CU_ASSERT(model_onnx_lead_from_name("pangu_weather_6.onnx.bak", &lead) != 0);
    CU_ASSERT(model_onnx_lead_from_name("my_model.onnx", &lead) != 0);
    CU_ASSERT(model_onnx_lead_from_name("pangu_weather_0.onnx", &lead) != 0);
    size_t len;
    unsigned char *b = slurp(fx("released/pangu_weather_24.onnx"), &len);
    spit(tmp("fine_tuned.onnx"), b, len);
    free(b);
    CU_ASSERT(import_fails(tmp("fine_tuned.onnx"), 0, UTIL_EINVAL, "fine_tuned.onnx", "cannot tell the lead time"));
    model m;
    CU_ASSERT_FATAL(model_onnx_import(&m, tmp("fine_tuned.onnx"), 12) == 0);
    CU_ASSERT(m.cfg.lead_hours == 12);
    model_free(&m);
}

static void edit_and_expect(const char *label, void (*edit)(Onnx__ModelProto *), int code, const char *a,
                            const char *b) {
    Onnx__ModelProto *p = parse(fx("released/pangu_weather_24.onnx"));
    edit(p);
    save(p, tmp("bad.onnx"));
    onnx__model_proto__free_unpacked(p, NULL);
    int ok = import_fails(tmp("bad.onnx"), 24, code, a, b);
    if (!ok) fprintf(stderr, "  (case: %s)\n", label);
    CU_ASSERT(ok);
}

static void rename_tensor(Onnx__ModelProto *p) {
    Onnx__TensorProto *t = tensor(p, "onnx::MatMul_9078");
    free(t->name);
    t->name = strdup("renamed");
}
static void reshape_tensor(Onnx__ModelProto *p) { tensor(p, "b1.a142.bias")->dims[0] = 80; }
static void retype_tensor(Onnx__ModelProto *p) { tensor(p, "b1.a33.weight")->data_type = 11; /* DOUBLE */ }
static void shorten_data(Onnx__ModelProto *p) { tensor(p, "b1.a80.bias")->raw_data.len -= 4; }
static void nan_value(Onnx__ModelProto *p) {
    float v = NAN;
    memcpy(tensor(p, "b1.a26.weight")->raw_data.data + 8, &v, 4);
}
static void disagreeing_statistics(Onnx__ModelProto *p) {
    Onnx__TensorProto *t = tensor(p, "/b1/Constant_3293"); /* output surface std */
    float v;
    memcpy(&v, t->raw_data.data + 4, 4);
    v *= 1.01f;
    memcpy(t->raw_data.data + 4, &v, 4);
}
static void duplicate_tensor(Onnx__ModelProto *p) {
    Onnx__GraphProto *g = p->graph;
    free(g->initializer[1]->name);
    g->initializer[1]->name = strdup(g->initializer[0]->name);
}
static void bad_bias_shape(Onnx__ModelProto *p) {
    tensor(p, onnx_name_of("layers.0.blocks.1.attn.earth_specific_bias"))->dims[3] = 72;
}
static void no_graph(Onnx__ModelProto *p) {
    onnx__graph_proto__free_unpacked(p->graph, NULL);
    p->graph = NULL;
}

static void test_bad_files(void) {
    CU_ASSERT(import_fails(tmp("absent_24.onnx"), 24, UTIL_EIO, "absent_24.onnx", "cannot open"));
    spit(tmp("empty.onnx"), "", 0);
    CU_ASSERT(import_fails(tmp("empty.onnx"), 24, UTIL_EFORMAT, "empty.onnx", "empty"));
    spit(tmp("text.onnx"), "this is not an ONNX model at all\n", 33);
    CU_ASSERT(import_fails(tmp("text.onnx"), 24, UTIL_EFORMAT, "text.onnx", "not an ONNX model"));
    size_t len;
    unsigned char *b = slurp(fx("released/pangu_weather_24.onnx"), &len);
    spit(tmp("cut.onnx"), b, len / 2); /* truncated */
    CU_ASSERT(import_fails(tmp("cut.onnx"), 24, UTIL_EFORMAT, "cut.onnx", "not an ONNX model"));
    free(b);
    b = slurp(fx("official.h5"), &len); /* an HDF5 model named .onnx */
    spit(tmp("hdf5.onnx"), b, len);
    CU_ASSERT(import_fails(tmp("hdf5.onnx"), 24, UTIL_EFORMAT, "hdf5.onnx", NULL));
    free(b);
    edit_and_expect("missing tensor", rename_tensor, UTIL_EFORMAT, "not a Pangu-Weather ONNX file", "onnx::MatMul_9078");
    edit_and_expect("wrong shape", reshape_tensor, UTIL_EFORMAT, "'b1.a142.bias'", "shape (80), expected (160)");
    edit_and_expect("wrong type", retype_tensor, UTIL_EFORMAT, "'b1.a33.weight'", "expected FLOAT");
    edit_and_expect("short data", shorten_data, UTIL_EFORMAT, "'b1.a80.bias'", "bytes, expected");
    edit_and_expect("non-finite", nan_value, UTIL_ENAN, "'b1.a26.weight'", "non-finite");
    edit_and_expect("statistics", disagreeing_statistics, UTIL_EFORMAT, "/b1/Constant_3293",
                    "disagree with the input statistics normalization.surface_std");
    edit_and_expect("duplicate", duplicate_tensor, UTIL_EFORMAT, "appears twice", NULL);
    edit_and_expect("bias shape", bad_bias_shape, UTIL_EFORMAT, "earth_specific_bias", "expected (1, 4, 1, 144, 144)");
    edit_and_expect("no graph", no_graph, UTIL_EFORMAT, "without a graph", NULL);
    /* a real ONNX model that is not Pangu-Weather */
    Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    mp.graph = &g;
    save(&mp, tmp("other.onnx"));
    CU_ASSERT(import_fails(tmp("other.onnx"), 24, UTIL_EFORMAT, "not a Pangu-Weather ONNX file", "233 tensors missing"));
}

/* External data only as a regular file in the model's folder, links
 * resolved, as the onnx project's checker (onnx/onnx onnx/checker.cc,
 * resolve_external_data_location, open_external_data) opens it. */
static int external_fails(const char *location, const char *a, const char *b) {
    char model_path[600];
    snprintf(model_path, sizeof model_path, "%s/folder/model.onnx", dir);
    save_external(model_path, tmp("folder/scratch.bin"), location);
    unlink(tmp("folder/scratch.bin"));
    alarm(20); /* a FIFO opened for reading would block: SIGALRM ends the suite instead */
    int ok = import_fails(model_path, 24, UTIL_EFORMAT, a, b);
    alarm(0);
    if (!ok) fprintf(stderr, "  (location %s)\n", location);
    return ok;
}

static void test_external_links(void) {
    model ref, m;
    CU_ASSERT_FATAL(model_onnx_import(&ref, fx("released/pangu_weather_24.onnx"), 0) == 0);
    CU_ASSERT_FATAL(mkdir(tmp("folder"), 0700) == 0 && mkdir(tmp("outside"), 0700) == 0);
    CU_ASSERT_FATAL(mkdir(tmp("folder/sub"), 0700) == 0);
    char model_path[600];
    snprintf(model_path, sizeof model_path, "%s/folder/model.onnx", dir);
    /* the weights outside the folder, reached through a link: by name, by a linked folder */
    save_external(model_path, tmp("outside/w.bin"), "w.bin");
    CU_ASSERT_FATAL(symlink("../outside/w.bin", tmp("folder/w.bin")) == 0);
    CU_ASSERT_FATAL(symlink("../outside", tmp("folder/linked")) == 0);
    CU_ASSERT(external_fails("w.bin", "folder/w.bin leads to", "outside the model's folder"));
    CU_ASSERT(external_fails("linked/w.bin", "folder/linked/w.bin leads to", "outside the model's folder"));
    /* a device through a link, and as the file itself (a model read from memory with /dev as its folder) */
    CU_ASSERT_FATAL(symlink("/dev/zero", tmp("folder/zero.bin")) == 0);
    CU_ASSERT(external_fails("zero.bin", "leads to /dev/zero", "outside the model's folder"));
    save_external(model_path, tmp("folder/scratch.bin"), "zero");
    size_t len;
    unsigned char *bytes = slurp(model_path, &len);
    CU_ASSERT_FATAL(bytes != NULL);
    alarm(20);
    CU_ASSERT(model_onnx_import_memory(&m, bytes, len, "memory.onnx", "/dev", 24) == UTIL_EFORMAT);
    alarm(0);
    CU_ASSERT(strstr(util_last_message(), "/dev/zero: not a regular file") != NULL);
    free(bytes);
    /* a FIFO in the folder: refused at once, not waited on */
    CU_ASSERT_FATAL(mkfifo(tmp("folder/fifo.bin"), 0600) == 0);
    CU_ASSERT(external_fails("fifo.bin", "fifo.bin: not a regular file", NULL));
    CU_ASSERT(external_fails("sub", "folder/sub: not a regular file", NULL));
    /* inside the folder but a link, or a hard link: refused as the onnx checker refuses them */
    save_external(model_path, tmp("folder/sub/real.bin"), "sub/real.bin");
    CU_ASSERT_FATAL(symlink("sub/real.bin", tmp("folder/inner.bin")) == 0);
    CU_ASSERT(external_fails("inner.bin", "inner.bin: a symbolic link", NULL));
    CU_ASSERT_FATAL(link(tmp("folder/sub/real.bin"), tmp("folder/hard.bin")) == 0);
    CU_ASSERT(external_fails("sub/real.bin", "several hard links", NULL));
    CU_ASSERT_FATAL(unlink(tmp("folder/hard.bin")) == 0);
    /* a regular file in a subfolder, the folder named relatively through a link: read */
    save_external(model_path, tmp("folder/sub/real.bin"), "sub/real.bin");
    CU_ASSERT_FATAL(symlink("folder", tmp("alias")) == 0);
    CU_ASSERT_FATAL(model_onnx_import(&m, tmp("alias/model.onnx"), 24) == 0);
    CU_ASSERT(same_params(&ref, &m));
    model_free(&m);
    model_free(&ref);
}

/* Shapes of a model with 2,500 times the channels (C = 10,000: about 230
 * GB), its weights in an external file that is not there: refused from the
 * file's entries before the model is allocated (each released dimension
 * that is a multiple of C, 4 in the fixture, scaled; the attention biases,
 * whose dimensions do not depend on C, kept in the file). */
static void test_external_checked_first(void) {
    Onnx__ModelProto *p = parse(fx("released/pangu_weather_24.onnx"));
    static Onnx__StringStringEntryProto location = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    static Onnx__StringStringEntryProto *list[1] = {&location};
    location.key = "location", location.value = "absent.bin";
    for (size_t i = 0; i < p->graph->n_initializer; i++) {
        Onnx__TensorProto *t = p->graph->initializer[i];
        if (t->n_dims == 5) continue;
        for (size_t d = 0; d < t->n_dims; d++)
            if (t->dims[d] == 4 || t->dims[d] == 8 || t->dims[d] == 12 || t->dims[d] == 16 || t->dims[d] == 24 ||
                t->dims[d] == 32)
                t->dims[d] *= 2500;
        free(t->raw_data.data);
        t->raw_data.data = NULL, t->raw_data.len = 0, t->has_raw_data = 0;
        t->has_data_location = 1, t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        t->external_data = list, t->n_external_data = 1;
    }
    save(p, tmp("huge.onnx"));
    for (size_t i = 0; i < p->graph->n_initializer; i++) /* the entry is static, not the message's */
        p->graph->initializer[i]->external_data = NULL, p->graph->initializer[i]->n_external_data = 0;
    onnx__model_proto__free_unpacked(p, NULL);
    CU_ASSERT(import_fails(tmp("huge.onnx"), 24, UTIL_EIO, "cannot open its external data file", "absent.bin"));
}

/* Writes backwards from *at: field `number` holding the len bytes now at *at. */
static void wrap_field(unsigned char **at, int number, size_t len) {
    unsigned char v[10];
    int n = 0;
    do v[n++] = (unsigned char)((len & 0x7f) | (len > 0x7f ? 0x80 : 0)), len >>= 7;
    while (len);
    while (n) *--*at = v[--n];
    *--*at = (unsigned char)(number << 3 | 2);
}

/* A ModelProto whose graph holds a node whose attribute holds a graph ...
 * `levels` deep (GraphProto.node 1, NodeProto.attribute 5, AttributeProto.g
 * 6, ModelProto.graph 7); *len gets its size. */
static unsigned char *nested_model(int levels, size_t *len) {
    size_t cap = (size_t)levels * 12 + 32;
    unsigned char *buf = malloc(cap), *end = buf + cap, *at = end;
    CU_ASSERT_FATAL(buf != NULL);
    for (int i = 0; i < levels; i++) {
        wrap_field(&at, 6, (size_t)(end - at)); /* the attribute's graph */
        wrap_field(&at, 5, (size_t)(end - at)); /* the node's attribute */
        wrap_field(&at, 1, (size_t)(end - at)); /* the graph's node */
    }
    wrap_field(&at, 7, (size_t)(end - at));
    *len = (size_t)(end - at);
    memmove(buf, at, *len);
    return buf;
}

/* Nesting is limited to protobuf's default recursion limit of 100 messages
 * before protobuf-c recurses: 33 levels put the innermost graph at depth 100
 * (onnx.load of onnx 1.12 with protobuf 4.21's C++ parser reads it and
 * refuses 34), 5,000 levels overflowed the stack. */
static void test_nesting(void) {
    size_t len;
    unsigned char *b = nested_model(5000, &len);
    CU_ASSERT(len < 65536); /* within make fuzz's -max_len */
    spit(tmp("nested.onnx"), b, len);
    CU_ASSERT(import_fails(tmp("nested.onnx"), 24, UTIL_EFORMAT, "nested.onnx", "nested more than 100 deep"));
    model m;
    CU_ASSERT(model_onnx_import_memory(&m, b, len, "memory.onnx", NULL, 24) == UTIL_EFORMAT);
    CU_ASSERT(strstr(util_last_message(), "memory.onnx: ONNX messages nested more than 100 deep") != NULL);
    free(b);
    b = nested_model(34, &len);
    spit(tmp("nested34.onnx"), b, len);
    CU_ASSERT(import_fails(tmp("nested34.onnx"), 24, UTIL_EFORMAT, "nested34.onnx", "nested more than 100 deep"));
    free(b);
    b = nested_model(33, &len);
    spit(tmp("nested33.onnx"), b, len);
    CU_ASSERT(import_fails(tmp("nested33.onnx"), 24, UTIL_EFORMAT, "nested33.onnx", "not a Pangu-Weather ONNX file"));
    free(b);
}

/* The importer's table is official_onnx_names.csv, row by row (when the
 * reference is beside the repository, as in CI). */
static void test_table_matches_reference(void) {
    const char *csv = "../shared/reference/official_onnx_names.csv";
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, " (skipped: no %s) ", csv);
        return;
    }
    char line[512];
    int row = 0, bad = 0;
    CU_ASSERT_FATAL(fgets(line, sizeof line, f) != NULL); /* header */
    while (fgets(line, sizeof line, f)) {
        char tensor_name[128], onnx_name[128], kind[64];
        if (sscanf(line, "%127[^,],%127[^,],%63[^,],", tensor_name, onnx_name, kind) != 3) continue;
        const char *o;
        int constant;
        const char *t = model_onnx_tensor_name(row, &o, &constant);
        if (!t || strcmp(t, tensor_name) || strcmp(o, onnx_name) || constant != !strcmp(kind, "Constant node")) bad++;
        row++;
    }
    fclose(f);
    CU_ASSERT(bad == 0);
    CU_ASSERT(row == 233 && model_onnx_tensor_name(row, NULL, NULL) == NULL);
}

static int setup(void) {
    snprintf(dir, sizeof dir, "/tmp/pangu-onnx-test.%d", (int)getpid());
    return mkdir(dir, 0700);
}
static int teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int tests_register_onnx(void) {
    CU_pSuite s = CU_add_suite("onnx", setup, teardown);
    if (!s) return -1;
    if (!CU_add_test(s, "released layout, compact bias: equals pangu_ref.py import and step", test_import_compact) ||
        !CU_add_test(s, "released layout, full bias: kept full, step matches the reference", test_import_full) ||
        !CU_add_test(s, "one value off the compact structure keeps the full bias", test_almost_compact_stays_full) ||
        !CU_add_test(s, "float_data and external data give the same model", test_storage_forms) ||
        !CU_add_test(s, "lead time from --lead or the file name", test_lead) ||
        !CU_add_test(s, "bad files: one clear error each", test_bad_files) ||
        !CU_add_test(s, "external data: regular files in the model's folder only", test_external_links) ||
        !CU_add_test(s, "external data checked before the model is allocated", test_external_checked_first) ||
        !CU_add_test(s, "nesting deeper than 100 messages refused before unpacking", test_nesting) ||
        !CU_add_test(s, "tensor table equals official_onnx_names.csv", test_table_matches_reference))
        return -1;
    return 0;
}
