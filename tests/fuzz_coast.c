/* libFuzzer harness of the coastline shapefile reader (make fuzz): arbitrary
 * bytes through coast_load with an explicit file and three boxes (0..360,
 * -180..180, a regional one), then what coast.h promises: every polyline of
 * two points or more, every point inside the box. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/fuzz_file.h"

#include "eval/coast.h"

static void load(const char *path, double lat0, double lat1, double lon0, double lon1) {
    coast_lines c;
    if (coast_load(&c, path, lat0, lat1, lon0, lon1) == 0) {
        if (c.n < 0 || (c.n && !c.start) || (c.n && c.start[0] != 0)) __builtin_trap();
        for (int i = 0; i < c.n; i++) {
            if (c.start[i + 1] - c.start[i] < 2) __builtin_trap();
            for (int k = c.start[i]; k < c.start[i + 1]; k++)
                if (!(c.lat[k] >= lat0 - 1e-9 && c.lat[k] <= lat1 + 1e-9 && c.lon[k] >= lon0 - 1e-9 && c.lon[k] <= lon1 + 1e-9))
                    __builtin_trap();
        }
    }
    coast_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    if (fuzz_file("coast", data, size, path, sizeof path)) return 0;
    load(path, -90, 90, 0, 360);
    load(path, -90, 90, -180, 180);
    load(path, 5, 45, 100, 180);
    unlink(path);
    return 0;
}
