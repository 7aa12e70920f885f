/* data masks: the three constant fields of the patch embedding. */
#include <math.h>
#include <stdlib.h>

#include "../io/io.h"
#include "../util/util.h"
#include "data.h"

int data_constants_read(const char *path, int H, int W, float *out) {
    static const char *const names[3] = {"lsm", "slt", "z"};
    size_t HW = (size_t)H * W;
    for (int c = 0; c < 3; c++) {
        float *x = out + (size_t)c * HW;
        int status = io_read_field(path, names[c], H, W, x);
        if (status) return status;
        double mean = 0, var = 0;
        for (size_t i = 0; i < HW; i++) {
            if (!isfinite(x[i]))
                return util_fail(UTIL_ENAN, "%s: '%s' holds NaN or fill values (constants must be complete)", path, names[c]);
            if (c == 2) x[i] /= 9.80665f; /* surface geopotential to orography in metres */
            mean += x[i];
        }
        mean /= (double)HW;
        for (size_t i = 0; i < HW; i++) var += (x[i] - mean) * (x[i] - mean);
        double sd = sqrt(var / (double)HW);
        /* A constant field (an all-sea test grid) normalises to zeros. */
        for (size_t i = 0; i < HW; i++) x[i] = sd > 0 ? (float)((x[i] - mean) / sd) : 0.0f;
    }
    return UTIL_OK;
}
