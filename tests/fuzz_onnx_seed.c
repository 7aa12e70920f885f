/* A seed for fuzz_onnx: a released-layout fixture with every tensor's data
 * cut to a few bytes (the names, shapes and graph kept), so that the fuzzer
 * starts near the importer's checks instead of inside 7 MB of weights.
 * Usage: fuzz_onnx_seed IN.onnx OUT.onnx */
#include <stdio.h>
#include <stdlib.h>

#include "onnx.pb-c.h"

static void cut(Onnx__TensorProto *t) {
    if (t && t->raw_data.len > 16) t->raw_data.len = 16;
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: fuzz_onnx_seed IN.onnx OUT.onnx\n"), 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return perror(argv[1]), 2;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) return fprintf(stderr, "cannot read %s\n", argv[1]), 2;
    fclose(f);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, (size_t)n, b);
    if (!m || !m->graph) return fprintf(stderr, "%s: not ONNX\n", argv[1]), 2;
    for (size_t i = 0; i < m->graph->n_initializer; i++) cut(m->graph->initializer[i]);
    for (size_t i = 0; i < m->graph->n_node; i++)
        for (size_t a = 0; a < m->graph->node[i]->n_attribute; a++) cut(m->graph->node[i]->attribute[a]->t);
    size_t len = onnx__model_proto__get_packed_size(m);
    unsigned char *o = malloc(len);
    onnx__model_proto__pack(m, o);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(o, 1, len, f) != len || fclose(f)) return fprintf(stderr, "cannot write %s\n", argv[2]), 2;
    return 0;
}
