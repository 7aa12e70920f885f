/* libFuzzer target: the ONNX importer of the released models on arbitrary
 * bytes, external data looked up in the folder FUZZ_ONNX_DATA (default
 * out/fuzz/onnx-data, made by fuzz_onnx_seed: the real weights, a FIFO, links
 * to /dev/zero and out of the folder, a subfolder). Must never crash or
 * block; every input is either a model or a clean error. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model/model.h"

static const char *data_dir = "out/fuzz/onnx-data";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (getenv("FUZZ_ONNX_DATA")) data_dir = getenv("FUZZ_ONNX_DATA");
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    model m;
    double start = now();
    if (model_onnx_import_memory(&m, data, size, "fuzz.onnx", data_dir, 24) == 0) model_free(&m);
    /* libFuzzer's -timeout alarm interrupts a blocked open() (EINTR), which
     * then looks like a clean error: a blocked import is caught here. */
    if (now() - start > 5) {
        fprintf(stderr, "fuzz_onnx: one import took %.1f s: it blocked\n", now() - start);
        __builtin_trap();
    }
    return 0;
}
