/* libFuzzer harness of the best-track readers (make fuzz): arbitrary text
 * through besttrack_read (IBTrACS v04 CSV when it begins "SID,", else an
 * ATCF deck), then the promises besttrack.h makes about what it read:
 * points in ascending time, no two at one time, lon in [0, 360), lat in
 * [-90, 90]; interpolation and the a-deck writer on every storm. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/fuzz_file.h"

#include "eval/besttrack.h"

static void check_storm(const besttrack_storm *s, FILE *sink) {
    for (int k = 0; k < s->n; k++) {
        const besttrack_point *p = &s->pt[k];
        if (!(p->lat >= -90 && p->lat <= 90 && p->lon >= 0 && p->lon < 360) || !isfinite(p->time)) __builtin_trap();
        if (k && !(p->time - s->pt[k - 1].time >= 0.5)) __builtin_trap();
        if (besttrack_find_time(s, p->time) != k) __builtin_trap();
    }
    if (s->n) {
        double lat, lon, t = 0.5 * (s->pt[0].time + s->pt[s->n - 1].time);
        if (besttrack_position(s, t, &lat, &lon, NULL, NULL) != 1) __builtin_trap();
        if (!(lat >= -90 && lat <= 90 && lon >= 0 && lon < 360)) __builtin_trap();
    }
    (void)besttrack_is_tropical(s, s->n ? &s->pt[0] : &(besttrack_point){0});
    (void)besttrack_atcf_basin(s->basin, s->n ? s->pt[0].lon : 0);
    if (sink && !isnan(s->init)) (void)besttrack_write_adeck(sink, s, "FUZZ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    if (fuzz_file("besttrack", data, size, path, sizeof path)) return 0;
    besttrack_set set = {0};
    if (besttrack_read(path, &set) == 0) {
        FILE *sink = fopen("/dev/null", "w");
        for (int i = 0; i < set.n; i++) {
            check_storm(&set.storm[i], sink);
            if (besttrack_find(&set, set.storm[i].sid, 0) < 0) __builtin_trap();
        }
        if (sink) fclose(sink);
    } else if (set.n || set.storm) {
        __builtin_trap(); /* a failed read leaves the set as it was (empty) */
    }
    besttrack_free(&set);
    unlink(path);
    return 0;
}
