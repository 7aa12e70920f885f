/* libFuzzer harness of the tracks.csv reader of pangu eval --tracks (make
 * fuzz): arbitrary text through trackeval_read_tracks, then what
 * trackeval.h promises of a row: numbers in range, valid = init + lead. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/fuzz_file.h"

#include "eval/trackeval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    if (fuzz_file("tracks", data, size, path, sizeof path)) return 0;
    trackeval_rows rows = {0};
    if (trackeval_read_tracks(path, &rows) == 0) {
        for (int i = 0; i < rows.n; i++) {
            const trackeval_row *w = &rows.rows[i];
            if (!(w->lat >= -90 && w->lat <= 90 && w->lon >= -180 && w->lon <= 360 && w->lead_hours >= 0) ||
                !(fabs(w->init + w->lead_hours * 3600 - w->valid) <= 0.5) || !w->source[0] || !w->sid[0])
                __builtin_trap();
        }
    }
    trackeval_rows_free(&rows);
    unlink(path);
    return 0;
}
