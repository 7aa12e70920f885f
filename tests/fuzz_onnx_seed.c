/* Seeds for fuzz_onnx, and the folder its external data is looked up in.
 * Usage: fuzz_onnx_seed IN.onnx CORPUS_DIR DATA_DIR
 * CORPUS_DIR gets
 *   seed           the released-layout fixture with every tensor's data cut
 *                  to a few bytes (names, shapes and graph kept), so that the
 *                  fuzzer starts near the importer's checks instead of inside
 *                  7 MB of weights;
 *   external_*     the same model with every tensor in external data, as
 *                  onnx.save_model(..., save_as_external_data=True) writes it
 *                  (location, offset, length), named w.bin (the real weights),
 *                  fifo, zero (a link to /dev/zero), out.bin (a link to
 *                  ../outside.bin) and sub (a folder);
 *   nested         a graph in an attribute in a node ... 5,000 levels deep.
 * DATA_DIR gets w.bin, fifo, zero, out.bin and sub/ (made afresh). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

static int fail(const char *what, const char *path) {
    fprintf(stderr, "fuzz_onnx_seed: %s %s: %s\n", what, path, strerror(errno));
    return 2;
}

static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) return fail("cannot write", path);
    return 0;
}

static int save(const Onnx__ModelProto *m, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = onnx__model_proto__get_packed_size(m);
    unsigned char *o = malloc(len ? len : 1);
    if (!o) return fail("out of memory for", path);
    onnx__model_proto__pack(m, o);
    int status = write_file(path, o, len);
    free(o);
    return status;
}

static Onnx__ModelProto *load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n > 0 ? malloc((size_t)n) : NULL;
    Onnx__ModelProto *m = NULL;
    if (b && fread(b, 1, (size_t)n, f) == (size_t)n) m = onnx__model_proto__unpack(NULL, (size_t)n, b);
    free(b);
    fclose(f);
    return m && m->graph ? m : NULL;
}

/* Every tensor: the initializers and the Constant nodes' values. */
static size_t tensors(Onnx__ModelProto *m, Onnx__TensorProto **out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < m->graph->n_initializer && n < cap; i++) out[n++] = m->graph->initializer[i];
    for (size_t i = 0; i < m->graph->n_node; i++)
        for (size_t a = 0; a < m->graph->node[i]->n_attribute && n < cap; a++)
            if (m->graph->node[i]->attribute[a]->t) out[n++] = m->graph->node[i]->attribute[a]->t;
    return n;
}

static int cut_seed(const char *in, const char *corpus) {
    Onnx__ModelProto *m = load(in);
    if (!m) return fail("not an ONNX model:", in);
    Onnx__TensorProto *t[1024];
    size_t n = tensors(m, t, 1024);
    for (size_t i = 0; i < n; i++)
        if (t[i]->raw_data.len > 16) t[i]->raw_data.len = 16;
    int status = save(m, corpus, "seed");
    onnx__model_proto__free_unpacked(m, NULL);
    return status;
}

static Onnx__StringStringEntryProto *entry(const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = malloc(sizeof *e);
    if (!e) return NULL;
    onnx__string_string_entry_proto__init(e);
    e->key = strdup(key), e->value = strdup(value);
    return e->key && e->value ? e : NULL;
}

/* Every tensor's bytes into data_dir/w.bin, the tensor pointing there. */
static int externalise(Onnx__ModelProto *m, const char *data_dir) {
    char path[4096], text[32];
    snprintf(path, sizeof path, "%s/w.bin", data_dir);
    FILE *f = fopen(path, "wb");
    if (!f) return fail("cannot write", path);
    Onnx__TensorProto *t[1024];
    size_t n = tensors(m, t, 1024);
    long offset = 0;
    for (size_t i = 0; i < n; i++) {
        if (fwrite(t[i]->raw_data.data, 1, t[i]->raw_data.len, f) != t[i]->raw_data.len) return fail("cannot write", path);
        t[i]->external_data = malloc(3 * sizeof *t[i]->external_data);
        if (!t[i]->external_data) return fail("out of memory for", path);
        t[i]->n_external_data = 3;
        t[i]->external_data[0] = entry("location", "w.bin");
        snprintf(text, sizeof text, "%ld", offset);
        t[i]->external_data[1] = entry("offset", text);
        snprintf(text, sizeof text, "%zu", t[i]->raw_data.len);
        t[i]->external_data[2] = entry("length", text);
        if (!t[i]->external_data[0] || !t[i]->external_data[1] || !t[i]->external_data[2])
            return fail("out of memory for", path);
        offset += (long)t[i]->raw_data.len;
        free(t[i]->raw_data.data);
        t[i]->raw_data.data = NULL, t[i]->raw_data.len = 0, t[i]->has_raw_data = 0;
        t[i]->has_data_location = 1, t[i]->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    }
    return fclose(f) ? fail("cannot write", path) : 0;
}

static int set_location(Onnx__ModelProto *m, const char *location) {
    Onnx__TensorProto *t[1024];
    size_t n = tensors(m, t, 1024);
    for (size_t i = 0; i < n; i++) {
        free(t[i]->external_data[0]->value);
        if (!(t[i]->external_data[0]->value = strdup(location))) return 2;
    }
    return 0;
}

/* The folder: the real weights, and what the importer must refuse. */
static int make_data_dir(const char *data_dir) {
    char path[4096], outside[4096];
    const char *names[] = {"fifo", "zero", "out.bin", "w.bin", "sub"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", data_dir, names[i]);
        if (unlink(path) != 0 && rmdir(path) != 0 && errno != ENOENT) return fail("cannot remove", path);
    }
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST) return fail("cannot make", data_dir);
    snprintf(path, sizeof path, "%s/fifo", data_dir);
    if (mkfifo(path, 0600) != 0) return fail("cannot make the FIFO", path);
    snprintf(path, sizeof path, "%s/zero", data_dir);
    if (symlink("/dev/zero", path) != 0) return fail("cannot link", path);
    snprintf(outside, sizeof outside, "%s/../outside.bin", data_dir);
    if (write_file(outside, "outside", 7)) return 2;
    snprintf(path, sizeof path, "%s/out.bin", data_dir);
    if (symlink("../outside.bin", path) != 0) return fail("cannot link", path);
    snprintf(path, sizeof path, "%s/sub", data_dir);
    return mkdir(path, 0755) != 0 ? fail("cannot make", path) : 0;
}

static int external_seeds(const char *in, const char *corpus, const char *data_dir) {
    Onnx__ModelProto *m = load(in);
    if (!m) return fail("not an ONNX model:", in);
    int status = make_data_dir(data_dir) || externalise(m, data_dir);
    const char *locations[] = {"w.bin", "fifo", "zero", "out.bin", "sub"};
    char name[64];
    for (int i = 0; i < 5 && !status; i++) {
        snprintf(name, sizeof name, "external_%s", locations[i]);
        status = set_location(m, locations[i]) || save(m, corpus, name);
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return status ? 2 : 0;
}

/* Writes backwards from *at: field `number` holding the bytes from *at to end. */
static void wrap_field(unsigned char **at, const unsigned char *end, int number) {
    size_t len = (size_t)(end - *at);
    unsigned char v[10];
    int n = 0;
    do v[n++] = (unsigned char)((len & 0x7f) | (len > 0x7f ? 0x80 : 0)), len >>= 7;
    while (len);
    while (n) *--*at = v[--n];
    *--*at = (unsigned char)(number << 3 | 2);
}

/* ModelProto.graph (7) -> GraphProto.node (1) -> NodeProto.attribute (5)
 * -> AttributeProto.g (6) -> GraphProto.node ... */
static int nested_seed(const char *corpus, int levels) {
    size_t cap = (size_t)levels * 12 + 32;
    unsigned char *buf = malloc(cap), *end = buf + cap, *at = end;
    if (!buf) return fail("out of memory for", "nested");
    for (int i = 0; i < levels; i++) {
        wrap_field(&at, end, 6);
        wrap_field(&at, end, 5);
        wrap_field(&at, end, 1);
    }
    wrap_field(&at, end, 7);
    char path[4096];
    snprintf(path, sizeof path, "%s/nested", corpus);
    int status = write_file(path, at, (size_t)(end - at));
    free(buf);
    return status;
}

int main(int argc, char **argv) {
    if (argc != 4) return fprintf(stderr, "usage: fuzz_onnx_seed IN.onnx CORPUS_DIR DATA_DIR\n"), 2;
    if (cut_seed(argv[1], argv[2]) || external_seeds(argv[1], argv[2], argv[3]) || nested_seed(argv[2], 5000))
        return 2;
    return 0;
}
