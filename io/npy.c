/* io npy: the NumPy .npy header (format versions 1, 2 and 3). A small,
 * strict parser: it is fed untrusted bytes and is fuzzed (make fuzz). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "io.h"

/* Find `key` (quoted with ' or ") in the dict text; return pointer to the
 * character after the following ':' and spaces, or NULL. */
static const char *dict_value(const char *dict, size_t n, const char *key) {
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 2 <= n; i++) {
        char q = dict[i];
        if ((q == '\'' || q == '"') && memcmp(dict + i + 1, key, klen) == 0 && dict[i + 1 + klen] == q) {
            size_t j = i + klen + 2;
            while (j < n && dict[j] == ' ') j++;
            if (j >= n || dict[j] != ':') return NULL;
            j++;
            while (j < n && dict[j] == ' ') j++;
            return j < n ? dict + j : NULL;
        }
    }
    return NULL;
}

int io_npy_parse(io_npy_header *h, const unsigned char *buf, size_t n, const char *path) {
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return util_fail(UTIL_EFORMAT, "%s: not a NumPy .npy file", path);
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) return util_fail(UTIL_EFORMAT, "%s: truncated .npy header", path);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        return util_fail(UTIL_EFORMAT, "%s: .npy format version %d is not supported (expected 1, 2 or 3)", path, major);
    }
    if (hlen > n - start) return util_fail(UTIL_EFORMAT, "%s: truncated .npy header", path);
    const char *d = (const char *)buf + start;
    const char *end = d + hlen;
    const char *v = dict_value(d, hlen, "descr");
    if (!v || (*v != '\'' && *v != '"')) return util_fail(UTIL_EFORMAT, "%s: .npy header has no 'descr'", path);
    char q = *v++;
    const char *close = memchr(v, q, (size_t)(end - v));
    if (!close || close - v != 3) return util_fail(UTIL_EFORMAT, "%s: .npy 'descr' not understood", path);
    if (v[1] != 'f' || (v[2] != '4' && v[2] != '8') || (v[0] != '<' && v[0] != '>' && v[0] != '='))
        return util_fail(UTIL_EFORMAT, "%s: .npy dtype '%.3s': expected float32 or float64 ('<f4', '<f8')", path, v);
    h->word = v[2] - '0';
    h->big_endian = v[0] == '>';
    v = dict_value(d, hlen, "fortran_order");
    if (!v) return util_fail(UTIL_EFORMAT, "%s: .npy header has no 'fortran_order'", path);
    if ((size_t)(end - v) >= 4 && memcmp(v, "True", 4) == 0)
        return util_fail(UTIL_EFORMAT, "%s: Fortran-ordered .npy arrays are not supported (save with C order)", path);
    if ((size_t)(end - v) < 5 || memcmp(v, "False", 5) != 0)
        return util_fail(UTIL_EFORMAT, "%s: .npy 'fortran_order' not understood", path);
    v = dict_value(d, hlen, "shape");
    if (!v || *v != '(') return util_fail(UTIL_EFORMAT, "%s: .npy header has no 'shape'", path);
    v++;
    size_t total = 1;
    for (;;) {
        while (v < end && *v == ' ') v++;
        if (v < end && *v == ')') break;
        if (v >= end || *v < '0' || *v > '9' || h->rank == 8)
            return util_fail(UTIL_EFORMAT, "%s: .npy 'shape' not understood", path);
        size_t dim = 0;
        while (v < end && *v >= '0' && *v <= '9') {
            if (dim > ((size_t)1 << 40)) return util_fail(UTIL_EFORMAT, "%s: .npy dimension too large", path);
            dim = dim * 10 + (size_t)(*v++ - '0');
        }
        if (dim && total > ((size_t)1 << 50) / dim) return util_fail(UTIL_EFORMAT, "%s: .npy array too large", path);
        total *= dim;
        h->shape[h->rank++] = dim;
        while (v < end && *v == ' ') v++;
        if (v < end && *v == ',') v++;
    }
    h->data_offset = start + hlen;
    return UTIL_OK;
}
