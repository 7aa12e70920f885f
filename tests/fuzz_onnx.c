/* libFuzzer target: the ONNX importer of the released models on arbitrary
 * bytes, external data looked up in the folder FUZZ_ONNX_DATA (default
 * out/fuzz/onnx-data, made by fuzz_onnx_seed: the real weights, a FIFO, links
 * to /dev/zero and out of the folder, a subfolder). Must never crash or
 * block; every input is either a model or a clean error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/model.h"

static const char *data_dir = "out/fuzz/onnx-data";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (getenv("FUZZ_ONNX_DATA")) data_dir = getenv("FUZZ_ONNX_DATA");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    model m;
    if (model_onnx_import_memory(&m, data, size, "fuzz.onnx", data_dir, 24) == 0) model_free(&m);
    return 0;
}
