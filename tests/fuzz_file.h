/* The fuzz input as a file, for the readers that take a path: written to
 * /tmp/pangu-fuzz-NAME-PID, its path in path; 0 on success. */
#ifndef PANGU_FUZZ_FILE_H
#define PANGU_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static int fuzz_file(const char *name, const uint8_t *data, size_t size, char *path, size_t cap) {
    snprintf(path, cap, "/tmp/pangu-fuzz-%s-%d", name, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(data, 1, size, f) != size;
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

#endif
