/* model window: the geometry of the Earth-specific blocks' windows (which
 * token each window row is, the shifted-window mask regions, the
 * Earth-specific bias index and its gather). Plain C, no calls into the
 * rest of model/. */
#include <string.h>

#include "internal.h"

static int ceil_to(int n, int m) { return (n + m - 1) / m * m; }

static int mod(int a, int n) { return ((a % n) + n) % n; }

void model_bias_index(int *idx, const int window[3]) {
    int wz = window[0], wh = window[1], ww = window[2], N = wz * wh * ww;
    for (int i = 0; i < N; i++) {
        int zi = i / (wh * ww), hi = i / ww % wh, wi = i % ww;
        for (int j = 0; j < N; j++) {
            int zj = j / (wh * ww), hj = j / ww % wh, wj = j % ww;
            idx[i * N + j] = (zi + wz * zj) * (wh * wh * (2 * ww - 1)) + (hi + wh * hj) * (2 * ww - 1) +
                             (wi - wj + ww - 1);
        }
    }
}

/* Python slice [start, stop) bounds on an axis of n, None given as INT_MIN. */
static void py_slice(int start, int stop, int has_stop, int n, int *lo, int *hi) {
    if (start < 0) start += n;
    if (start < 0) start = 0;
    if (start > n) start = n;
    if (!has_stop) stop = n;
    else {
        if (stop < 0) stop += n;
        if (stop < 0) stop = 0;
        if (stop > n) stop = n;
    }
    *lo = start;
    *hi = stop > start ? stop : start;
}

/* Swin region of padded position (zp, hp): the last of the reference's nine
 * slice pairs ([0, -w), [-w, -w/2), [-w/2, end) per axis, assigned in order)
 * that covers it. */
static int shift_label(int zp, int hp, int Zp, int Hp, int wz, int wh) {
    int label = 0, cnt = 0;
    for (int sz = 0; sz < 3; sz++) {
        int zlo, zhi;
        if (sz == 0) py_slice(0, -wz, 1, Zp, &zlo, &zhi);
        else if (sz == 1) py_slice(-wz, -(wz / 2), 1, Zp, &zlo, &zhi);
        else py_slice(-(wz / 2), 0, 0, Zp, &zlo, &zhi);
        for (int sh = 0; sh < 3; sh++, cnt++) {
            int hlo, hhi;
            if (sh == 0) py_slice(0, -wh, 1, Hp, &hlo, &hhi);
            else if (sh == 1) py_slice(-wh, -(wh / 2), 1, Hp, &hlo, &hhi);
            else py_slice(-(wh / 2), 0, 0, Hp, &hlo, &hhi);
            if (zp >= zlo && zp < zhi && hp >= hlo && hp < hhi) label = cnt;
        }
    }
    return label;
}

void model_shift_labels(int *labels, int Zp, int Hp, const int window[3]) {
    for (int z = 0; z < Zp; z++)
        for (int h = 0; h < Hp; h++) labels[z * Hp + h] = shift_label(z, h, Zp, Hp, window[0], window[1]);
}

void model_window_labels(int *labels, int type, int Zp, int Hp, const int window[3]) {
    int nWh = Hp / window[1], tz = type / nWh, th = type % nWh, N = window[0] * window[1] * window[2];
    for (int i = 0; i < N; i++)
        labels[i] = shift_label(tz * window[0] + i / (window[1] * window[2]), th * window[1] + i / window[2] % window[1],
                                Zp, Hp, window[0], window[1]);
}

long model_window_token(int type, int r, int Z, int Hl, int Wl, const int window[3], const int shift[3]) {
    int wz = window[0], wh = window[1], ww = window[2], N = wz * wh * ww;
    int Zp = ceil_to(Z, wz), Hp = ceil_to(Hl, wh), nWh = Hp / wh;
    int w = r / N, i = r % N;
    int zp = type / nWh * wz + i / (wh * ww), hp = type % nWh * wh + i / ww % wh, wp = w * ww + i % ww;
    int z = mod(zp + shift[0], Zp), h = mod(hp + shift[1], Hp), x = mod(wp + shift[2], Wl);
    if (z >= Z || h >= Hl) return -1;
    return ((long)z * Hl + h) * Wl + x;
}

void model_window_gather(float *out, const float *x, int type, int Z, int Hl, int Wl, int C,
                         const int window[3], const int shift[3]) {
    int N = window[0] * window[1] * window[2], rows = Wl / window[2] * N;
    for (int r = 0; r < rows; r++) {
        long t = model_window_token(type, r, Z, Hl, Wl, window, shift);
        float *o = out + (size_t)r * C;
        if (t < 0) memset(o, 0, sizeof(float) * C);
        else memcpy(o, x + (size_t)t * C, sizeof(float) * C);
    }
}

void model_bias_gather(float *out, const float *bias, const int *index, int type, int types, int heads, int N) {
    /* position outer: each table row's heads are contiguous, each head's output a sequential stream */
    size_t NN = (size_t)N * N;
    for (size_t p = 0; p < NN; p++) {
        const float *row = bias + ((size_t)index[p] * types + type) * heads;
        for (int h = 0; h < heads; h++) out[(size_t)h * NN + p] = row[h];
    }
}

size_t model_bias_table_rows(const int window[3]) {
    return (size_t)window[0] * window[0] * window[1] * window[1] * (2 * window[2] - 1);
}

void model_bias_gather_staged(float *out, float *table, const float *bias, const int *index, int type, int types,
                              int heads, int N, const int window[3]) {
    /* The table's rows for this type are types * heads floats apart, so a
     * gather straight from it waits on a cache miss per (position, head)
     * (a few % of the step). Copied per head into one contiguous column
     * first (tens of KB, in L1/L2), each head's gather then hits cache. */
    size_t rows = model_bias_table_rows(window), NN = (size_t)N * N;
    enum { AHEAD = 16 }; /* rows ahead: the table is larger than the caches, its lines come from memory */
    for (size_t i = 0; i < rows; i++) {
        const float *row = bias + (i * types + type) * heads;
        if (i + AHEAD < rows) __builtin_prefetch(row + (size_t)AHEAD * types * heads);
        for (int h = 0; h < heads; h++) table[(size_t)h * rows + i] = row[h];
    }
    for (int h = 0; h < heads; h++) {
        const float *col = table + (size_t)h * rows;
        float *o = out + (size_t)h * NN;
        for (size_t p = 0; p < NN; p++) o[p] = col[index[p]];
    }
}

const float *model_block_bias(float *scratch, float *table, const float *bias, int full_bias, const int *index,
                              int type, int types, int heads, int N, const int window[3]) {
    if (full_bias) return bias + (size_t)type * heads * N * N; /* stored as the attention adds it */
    if (table) model_bias_gather_staged(scratch, table, bias, index, type, types, heads, N, window);
    else model_bias_gather(scratch, bias, index, type, types, heads, N);
    return scratch;
}
