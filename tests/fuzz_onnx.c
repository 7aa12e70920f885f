/* libFuzzer target: the ONNX importer of the released models on arbitrary
 * bytes (external data refused). Must never crash; every input is either a
 * model or a clean error. */
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    model m;
    if (model_onnx_import_memory(&m, data, size, "fuzz.onnx", NULL, 24) == 0) model_free(&m);
    return 0;
}
