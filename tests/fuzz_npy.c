/* libFuzzer harness of the .npy header parser (make fuzz). */
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    io_npy_header h;
    if (io_npy_parse(&h, data, size, "fuzz") == 0) {
        /* a parsed header must describe itself consistently */
        if (h.rank < 0 || h.rank > 8 || (h.word != 4 && h.word != 8) || h.data_offset > size) __builtin_trap();
    }
    return 0;
}
