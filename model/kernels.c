/* model kernels: the forward pass one layer at a time, and the dispatch of
 * each layer's GEMMs and elementwise steps to the chosen kernel set (BF16,
 * packed FP32 on AVX-512 or AVX2, or the plain twins here: C loops plus
 * OpenBLAS SGEMM). OpenMP over disjoint output rows, BLAS single-threaded
 * inside (the caller sets OpenBLAS to one thread). */
#define _DEFAULT_SOURCE
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "../util/util.h"
#include "model.h"

static int ceil_to(int n, int m) { return (n + m - 1) / m * m; }
static int mod(int a, int n) { return ((a % n) + n) % n; }

/* mean and 1 / sqrt(var + 1e-5) of one row, summed in double */
static void layernorm_moments(const float *x, int C, float *mean, float *rstd) {
    double m = 0, var = 0;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) var += (x[i] - m) * (x[i] - m);
    var /= C;
    *mean = (float)m, *rstd = (float)(1.0 / sqrt(var + 1e-5));
}

void model_layernorm_forward(float *out, const float *in, const float *w, const float *b, int rows, int C) {
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C, m, rstd;
        layernorm_moments(x, C, &m, &rstd);
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * rstd * w[i] + b[i];
    }
}

void model_layernorm_add(float *x, const float *y, const float *w, const float *b, int C) {
    float m, rstd;
    layernorm_moments(y, C, &m, &rstd);
    for (int i = 0; i < C; i++) x[i] += (y[i] - m) * rstd * w[i] + b[i];
}

void model_gelu_forward(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * (float)M_SQRT1_2));
}

void model_linear_forward(float *out, const float *in, const float *w, const float *b,
                          int rows, int in_dim, int out_dim) {
    if (rows <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out_dim, in_dim, 1.0f, in, in_dim, w, in_dim,
                0.0f, out, out_dim);
    if (b)
        for (int r = 0; r < rows; r++) {
            float *y = out + (size_t)r * out_dim;
            for (int j = 0; j < out_dim; j++) y[j] += b[j];
        }
}

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

void model_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels,
                            int nW, int N, int C, int heads, float *scores) {
    int d = C / heads, ld = 3 * C;
    float scale = (float)(1.0 / sqrt((double)d));
    for (int w = 0; w < nW; w++) {
        const float *base = qkv + (size_t)w * N * ld;
        for (int h = 0; h < heads; h++) {
            const float *q = base + h * d, *k = base + C + h * d, *v = base + 2 * C + h * d;
            const float *bt = bias_t + (size_t)h * N * N;
            /* scores (N, N) = (q * scale) k^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, scale, q, ld, k, ld, 0.0f, scores, N);
            for (int i = 0; i < N; i++) {
                float *s = scores + (size_t)i * N, mx = -INFINITY, sum = 0;
                for (int j = 0; j < N; j++) {
                    s[j] += bt[i * N + j];
                    if (labels && labels[i] != labels[j]) s[j] += -100.0f;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < N; j++) {
                    s[j] = expf(s[j] - mx);
                    sum += s[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < N; j++) s[j] *= inv;
            }
            /* out (N, d) = softmax(scores) v, into this head's channels */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, 1.0f, scores, N, v, ld, 0.0f,
                        out + (size_t)w * N * C + h * d, C);
        }
    }
}

/* ---- layers ---- */

/* ---- profile: one padded slot per OpenMP thread, no atomics ---- */
enum { PROFILE_SLOTS = 256 };
static struct {
    double v[4]; /* gemm s, gemm flops, attention s, attention flops */
    char pad[64 - 4 * sizeof(double)];
} profile[PROFILE_SLOTS] __attribute__((aligned(64)));
static int profiling;

void model_profile_enable(int on) { profiling = on; }
void model_profile_reset(void) { memset(profile, 0, sizeof profile); }
void model_profile_get(model_profile *p) {
    double t[4] = {0, 0, 0, 0};
    for (int i = 0; i < PROFILE_SLOTS; i++)
        for (int j = 0; j < 4; j++) t[j] += profile[i].v[j];
    p->gemm_seconds = t[0], p->gemm_flops = t[1], p->attention_seconds = t[2], p->attention_flops = t[3];
}
static double profile_start(void) { return profiling ? util_now() : 0; }
static void profile_add(int what, double t0, double flops) {
    if (!profiling) return;
    int slot = omp_get_thread_num() % PROFILE_SLOTS;
    profile[slot].v[2 * what] += util_now() - t0;
    profile[slot].v[2 * what + 1] += flops;
}

/* A linear layer in the model's precision: wh is the BF16 copy of w, wf the
 * packed FP32 one (AVX-512 or AVX2), both NULL for OpenBLAS on w. */
static void linear(float *out, const float *in, const float *w, const model_bf16_matrix *wh,
                   const model_f32_matrix *wf, const float *b, int rows, int in_dim, int out_dim) {
    double t0 = profile_start();
    if (wh) model_bf16_linear_forward(out, (size_t)out_dim, in, (size_t)in_dim, wh, b, rows, 0);
    else if (wf) model_f32_linear_forward(out, (size_t)out_dim, in, (size_t)in_dim, wf, b, rows, 0);
    else model_linear_forward(out, in, w, b, rows, in_dim, out_dim);
    profile_add(0, t0, 2.0 * rows * in_dim * out_dim);
}

/* The vectorised GELU and LayerNorms of the chosen kernel set (model_kernel()),
 * else the scalar twins. */
static void gelu(int kern, float *out, const float *in, size_t n) {
    if (kern == MODEL_KERNEL_AVX512) model_gelu_forward_avx512(out, in, n);
    else if (kern == MODEL_KERNEL_AVX2) model_gelu_forward_avx2(out, in, n);
    else model_gelu_forward(out, in, n);
}
static void layernorm(int kern, float *out, const float *in, const float *w, const float *b, int rows, int C) {
    if (kern == MODEL_KERNEL_AVX512) model_layernorm_forward_avx512(out, in, w, b, rows, C);
    else if (kern == MODEL_KERNEL_AVX2) model_layernorm_forward_avx2(out, in, w, b, rows, C);
    else model_layernorm_forward(out, in, w, b, rows, C);
}
/* x (C) += LayerNorm(y) */
static void layernorm_add(int kern, float *x, const float *y, const float *w, const float *b, int C) {
    if (kern == MODEL_KERNEL_AVX512) model_layernorm_add_avx512(x, y, w, b, C);
    else if (kern == MODEL_KERNEL_AVX2) model_layernorm_add_avx2(x, y, w, b, C);
    else model_layernorm_add(x, y, w, b, C);
}

enum { MLP_ROWS = 1024 }; /* rows per SGEMM: smaller ones run far below the BLAS peak */

static int layer_channels(const model_config *c, int l) { return (l == 1 || l == 2) ? 2 * c->dim : c->dim; }
static int layer_lat_tokens(const model_config *c, int l) { return (l == 1 || l == 2) ? c->H2 : c->Ht; }
static int layer_lon_tokens(const model_config *c, int l) { return (l == 1 || l == 2) ? c->W2 : c->Wt; }

/* One thread's attention scratch, offsets in floats from its start. The
 * attention kernels align their packs themselves (16 spare floats each). */
typedef struct {
    size_t qkv, bias, scores, packs, table, tok, total;
} attention_scratch;
static attention_scratch attention_layout(size_t rows, size_t C, int heads, int N, const int window[3]) {
    attention_scratch a;
    size_t NN = (size_t)N * N, d = C / (size_t)heads;
    size_t bpacks = model_bf16_attention_words(N, (int)d), fpacks = model_f32_attention_floats(N, (int)d);
    a.qkv = rows * C;                                  /* after xw (rows, C): (rows, 3C), later the projection */
    a.bias = a.qkv + rows * 3 * C;                     /* (heads, N, N) gathered compact bias */
    a.scores = a.bias + (size_t)heads * NN;            /* (N, N) */
    a.packs = a.scores + NN;                           /* keys and values packed (uint32 words in BF16) */
    a.table = a.packs + (bpacks > fpacks ? bpacks : fpacks) + 64; /* the staged bias table */
    a.tok = (a.table + (size_t)heads * model_bias_table_rows(window) + 15) / 16 * 16; /* (rows) longs, 64 B aligned */
    a.total = a.tok + rows * sizeof(long) / sizeof(float) + (size_t)N;
    return a;
}

size_t model_scratch_floats(const model_config *c) {
    int N = c->window[0] * c->window[1] * c->window[2];
    size_t need = 0, C = c->dim;
    for (int l = 0; l < 4; l++) {
        size_t Cl = layer_channels(c, l), rows = (size_t)layer_lon_tokens(c, l) / c->window[2] * N;
        size_t attn = attention_layout(rows, Cl, c->heads[l], N, c->window).total;
        size_t mlp = (size_t)MLP_ROWS * 5 * Cl;
        if (attn > need) need = attn;
        if (mlp > need) need = mlp;
    }
    size_t K = (size_t)model_upper_channels(c) * c->patch[0] * c->patch[1] * c->patch[2];
    size_t Ks = (size_t)(MODEL_NSURFACE + MODEL_NCONST) * c->patch[1] * c->patch[2];
    size_t embed = (size_t)c->Wt * (K > Ks ? K : Ks);
    size_t down = (size_t)c->W2 * 4 * C;
    size_t up = (size_t)c->W2 * 4 * C + 2 * (size_t)c->Wt * C;
    size_t rec = (size_t)c->Wt * (K > Ks ? K : Ks);
    size_t m = embed > down ? embed : down;
    m = m > up ? m : up;
    m = m > rec ? m : rec;
    if (m > need) need = m;
    return (need + 15) / 16 * 16;
}

/* Windows per attention group: groups whose rows fit L2 (the input and
 * q, k, v: 16 C bytes a row), because a whole type's rows overflowed L2
 * between the gather, the q, k, v GEMM, attention and the projection
 * (measurements: docs/speed.md, "Kernel design measurements"). */
static int attention_rows_forced;
void model_attention_rows_set(int rows) { attention_rows_forced = rows > 0 ? rows : 0; }
int model_attention_group(int N, int C, int nW) {
    long rows = attention_rows_forced;
    if (!rows) rows = model_cache_bytes(2) / (16L * (C > 0 ? C : 1));
    long g = N > 0 ? rows / N : 1;
    if (g < 1) g = 1;
    if (g > nW) g = nW;
    long ngroups = (nW + g - 1) / g; /* groups of a type of equal size */
    return nW > 0 ? (int)((nW + ngroups - 1) / ngroups) : 1;
}

void model_block_forward(float *x, const model_block *blk, const model_config *c, int layer, int roll,
                         const int *bias_index, float *scratch, size_t scratch_stride) {
    int Z = c->Z, Hl = layer_lat_tokens(c, layer), Wl = layer_lon_tokens(c, layer), C = layer_channels(c, layer);
    int heads = c->heads[layer];
    const int *win = c->window;
    int N = win[0] * win[1] * win[2], nW = Wl / win[2], rows = nW * N;
    int Zp = ceil_to(Z, win[0]), Hp = ceil_to(Hl, win[1]), nWh = Hp / win[1];
    int types = (Zp / win[0]) * nWh;
    int shift[3] = {0, 0, 0};
    if (roll)
        for (int i = 0; i < 3; i++) shift[i] = win[i] / 2;

    /* AVX-512 and AVX2 GELU and LayerNorm agree with their scalar twins to a
     * few 1e-7 (test_f32, test_avx2); glibc's scalar erff alone was a tenth
     * of the FP32 step. */
    int kern = model_kernel();
    int group = model_attention_group(N, C, nW);
    /* Attention: each window type owns a disjoint set of tokens, so each
     * type's rows are gathered, attended and added back in place. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < types; t++) {
        float *s = scratch + (size_t)omp_get_thread_num() * scratch_stride;
        attention_scratch at = attention_layout((size_t)rows, (size_t)C, heads, N, win);
        float *xw = s;              // (rows, C), later the attention output
        float *qkv = s + at.qkv;    // (rows, 3C), later the projection
        float *bias_s = s + at.bias; // (heads, N, N)
        float *scores = s + at.scores, *table = s + at.table;
        long *tok = (long *)(s + at.tok);
        int labels[N > 0 ? N : 1];
        const float *bias_t =
            model_block_bias(bias_s, table, blk->bias, c->full_bias, bias_index, t, types, heads, N, win);
        if (roll) model_window_labels(labels, t, Zp, Hp, win); /* the same for every window of a type */
        /* The type's windows in groups (model_attention_group): a group's
         * rows and their q, k, v stay in L2 from the gather through the two
         * GEMMs, attention and the residual add; the bias is gathered once
         * per type. Each row's arithmetic is the same in any grouping. */
        for (int w0 = 0; w0 < nW; w0 += group) {
            int gw = nW - w0 < group ? nW - w0 : group, grows = gw * N;
            for (int r = 0; r < grows; r++) tok[r] = model_window_token(t, w0 * N + r, Z, Hl, Wl, win, shift);
            for (int r = 0; r < grows; r++) {
                float *o = xw + (size_t)r * C;
                if (tok[r] < 0) memset(o, 0, sizeof(float) * C);
                else memcpy(o, x + (size_t)tok[r] * C, sizeof(float) * C);
            }
            linear(qkv, xw, blk->qkv_w, blk->qkv_h, blk->qkv_f, blk->qkv_b, grows, C, 3 * C);
            double ta = profile_start();
            if (blk->qkv_h) /* BF16 path */
                model_bf16_window_attention(xw, qkv, bias_t, roll ? labels : NULL, gw, N, C, heads, scores,
                                            (uint32_t *)(s + at.packs), blk->bf16_attention);
            else if (blk->qkv_f && blk->qkv_f->kernel == MODEL_KERNEL_AVX2) /* packed FP32 path, AVX2 */
                model_avx2_window_attention(xw, qkv, bias_t, roll ? labels : NULL, gw, N, C, heads, scores,
                                            s + at.packs);
            else if (blk->qkv_f) /* packed FP32 path, AVX-512 */
                model_f32_window_attention(xw, qkv, bias_t, roll ? labels : NULL, gw, N, C, heads, scores,
                                           s + at.packs);
            else model_window_attention(xw, qkv, bias_t, roll ? labels : NULL, gw, N, C, heads, scores);
            profile_add(1, ta, 4.0 * gw * N * N * C);
            float *pr = qkv;
            if (blk->proj_f || blk->proj_h) {
                /* packed FP32 or BF16: the post-norm residual add fused into
                 * the projection, each block of rows added to its tokens
                 * while in cache */
                double t0 = profile_start();
                if (blk->proj_f)
                    model_f32_linear_norm_add_forward(x, pr, xw, (size_t)C, blk->proj_f, blk->proj_b, blk->norm1_w,
                                                      blk->norm1_b, grows, tok);
                else
                    model_bf16_linear_norm_add_forward(x, pr, xw, (size_t)C, blk->proj_h, blk->proj_b,
                                                       blk->norm1_w, blk->norm1_b, grows, tok);
                profile_add(0, t0, 2.0 * grows * C * C);
                continue;
            }
            linear(pr, xw, blk->proj_w, blk->proj_h, blk->proj_f, blk->proj_b, grows, C, C);
            for (int r = 0; r < grows; r++)
                if (tok[r] >= 0)
                    layernorm_add(kern, x + (size_t)tok[r] * C, pr + (size_t)r * C, blk->norm1_w, blk->norm1_b, C);
        }
    }

    /* MLP in row chunks so the 4C hidden layer never exists whole. */
    /* Chunks of at most MLP_ROWS rows, as many as a multiple of the thread
     * count and of equal size, so no thread idles through a last chunk. */
    long T = (long)Z * Hl * Wl, nth = omp_get_max_threads();
    long chunks = (T + MLP_ROWS - 1) / MLP_ROWS;
    chunks = (chunks + nth - 1) / nth * nth;
    long per = (T + chunks - 1) / chunks;
    per = (per + 15) / 16 * 16; /* whole vectors; still <= MLP_ROWS (a 48 multiple for whole 12-row tiles unbalanced the chunks) */
    if (per > MLP_ROWS) per = MLP_ROWS;
    chunks = (T + per - 1) / per;
#pragma omp parallel for schedule(static)
    for (long k = 0; k < chunks; k++) {
        float *s = scratch + (size_t)omp_get_thread_num() * scratch_stride;
        int n = (int)((k + 1) * per <= T ? per : T - k * per);
        float *xr = x + (size_t)k * per * C;
        float *hid = s, *y = s + (size_t)MLP_ROWS * 4 * C;
        if ((blk->fc1_f && blk->fc2_f) || (blk->fc1_h && blk->fc2_h)) {
            /* packed FP32 or BF16: GELU and the post-norm residual add fused
             * into the GEMMs (their time counted as GEMM time in the profile) */
            double t0 = profile_start();
            size_t ld = (size_t)4 * C;
            if (blk->fc1_f) {
                model_f32_linear_gelu_forward(hid, ld, xr, (size_t)C, blk->fc1_f, blk->fc1_b, n);
                model_f32_linear_norm_add_forward(xr, y, hid, ld, blk->fc2_f, blk->fc2_b, blk->norm2_w, blk->norm2_b, n, NULL);
            } else {
                model_bf16_linear_gelu_forward(hid, ld, xr, (size_t)C, blk->fc1_h, blk->fc1_b, n);
                model_bf16_linear_norm_add_forward(xr, y, hid, ld, blk->fc2_h, blk->fc2_b, blk->norm2_w, blk->norm2_b, n, NULL);
            }
            profile_add(0, t0, 4.0 * n * C * 4 * C);
            continue;
        }
        linear(hid, xr, blk->fc1_w, blk->fc1_h, blk->fc1_f, blk->fc1_b, n, C, 4 * C);
        gelu(kern, hid, hid, (size_t)n * 4 * C);
        linear(y, hid, blk->fc2_w, blk->fc2_h, blk->fc2_f, blk->fc2_b, n, 4 * C, C);
        for (int r = 0; r < n; r++) layernorm_add(kern, xr + (size_t)r * C, y + (size_t)r * C, blk->norm2_w, blk->norm2_b, C);
    }
}

void model_patch_gather(float *p, size_t ld, const model *m, const float *upper, const float *surface, int row) {
    const model_config *c = &m->cfg;
    int L = c->nlev, H = c->H, W = c->W, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int z = row / c->Ht, ht = row % c->Ht, nch = model_upper_channels(c);
    size_t HW = (size_t)H * W;
    /* constants on the padded grid (3, Hp, Wp) are used as given, else (3, H, W) zero-padded */
    int CH = c->padded_constants ? c->Hp : H, CW = c->padded_constants ? c->Wp : W;
    for (int wt = 0; wt < c->Wt; wt++) {
        float *q = p + (size_t)wt * ld;
        if (z == 0) { /* [surface, constants] (7, ph, pw), zero-padded at the ends */
            for (int ch = 0; ch < MODEL_NSURFACE + MODEL_NCONST; ch++)
                for (int kh = 0; kh < ph; kh++)
                    for (int kw = 0; kw < pw; kw++) {
                        int lat = ht * ph + kh, lon = wt * pw + kw;
                        float v = 0;
                        if (ch < MODEL_NSURFACE) {
                            if (lat < H && lon < W)
                                v = (surface[ch * HW + (size_t)lat * W + lon] - m->surface_mean[ch]) / m->surface_std[ch];
                        } else if (lat < CH && lon < CW)
                            v = m->constants[((size_t)(ch - MODEL_NSURFACE) * CH + lat) * CW + lon];
                        q[(ch * ph + kh) * pw + kw] = v;
                    }
        } else { /* upper air (5 + constants, pz, ph, pw) of token level z */
            for (int v = 0; v < nch; v++)
                for (int kz = 0; kz < pz; kz++)
                    for (int kh = 0; kh < ph; kh++)
                        for (int kw = 0; kw < pw; kw++) {
                            int lev = (z - 1) * pz + kz, lat = ht * ph + kh, lon = wt * pw + kw;
                            float val = 0;
                            if (lev < L && lat < H && lon < W) {
                                size_t at = (size_t)lat * W + lon;
                                if (v < MODEL_NUPPER) {
                                    int s = v * L + lev;
                                    val = (upper[(size_t)s * HW + at] - m->upper_mean[s]) / m->upper_std[s];
                                } else /* const_h joins the normalised variables before the padding */
                                    val = m->upper_constants[((size_t)(v - MODEL_NUPPER) * L + lev) * HW + at];
                            }
                            q[((v * pz + kz) * ph + kh) * pw + kw] = val;
                        }
        }
    }
}

void model_patch_embed_forward(float *x, const model *m, const float *upper, const float *surface,
                               float *scratch, size_t scratch_stride) {
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = model_upper_channels(c) * pz * ph * pw, Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw;
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->Ht; row++) {
        int surface_row = row < c->Ht;
        float *p = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (Wt, K or Ks)
        model_patch_gather(p, surface_row ? (size_t)Ks : (size_t)K, m, upper, surface, row);
        linear(x + (size_t)row * c->Wt * C, p, surface_row ? m->embed_sw : m->embed_w,
               surface_row ? m->embed_sh : m->embed_h, surface_row ? m->embed_sf : m->embed_f,
               surface_row ? m->embed_sb : m->embed_b, c->Wt, surface_row ? Ks : K, C);
    }
}

void model_downsample_forward(float *out, const model *m, const float *in, float *scratch, size_t scratch_stride) {
    const model_config *c = &m->cfg;
    int C = c->dim, kern = model_kernel();
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->H2; row++) {
        int z = row / c->H2, h2 = row % c->H2;
        float *g = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (W2, 4C)
        for (int w2 = 0; w2 < c->W2; w2++)
            for (int dh = 0; dh < 2; dh++)
                for (int dw = 0; dw < 2; dw++) {
                    int h = 2 * h2 + dh, w = 2 * w2 + dw;
                    float *dst = g + (size_t)w2 * 4 * C + (dh * 2 + dw) * C;
                    if (h < c->Ht && w < c->Wt)
                        memcpy(dst, in + (((size_t)z * c->Ht + h) * c->Wt + w) * C, sizeof(float) * C);
                    else
                        memset(dst, 0, sizeof(float) * C);
                }
        layernorm(kern, g, g, m->down_norm_w, m->down_norm_b, c->W2, 4 * C);
        linear(out + (size_t)row * c->W2 * 2 * C, g, m->down_w, m->down_h, m->down_f, NULL, c->W2, 4 * C, 2 * C);
    }
}

void model_upsample_forward(float *out, const model *m, const float *in, float *scratch, size_t scratch_stride) {
    const model_config *c = &m->cfg;
    int C = c->dim;
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->H2; row++) {
        int z = row / c->H2, h2 = row % c->H2;
        float *y = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (W2, 4C)
        float *f = y + (size_t)c->W2 * 4 * C;                               // (Wt, C)
        linear(y, in + (size_t)row * c->W2 * 2 * C, m->up_w1, m->up1_h, m->up1_f, NULL, c->W2, 2 * C, 4 * C);
        for (int dh = 0; dh < 2; dh++) {
            int h = 2 * h2 + dh;
            if (h >= c->Ht) continue;
            for (int w = 0; w < c->Wt; w++)
                /* scalar on purpose: forecasts stay bit-identical to earlier versions' (tests/files_test.sh) */
                model_layernorm_forward(f + (size_t)w * C, y + (size_t)(w / 2) * 4 * C + (dh * 2 + w % 2) * C,
                                        m->up_norm_w, m->up_norm_b, 1, C);
            linear(out + ((size_t)z * c->Ht + h) * c->Wt * C, f, m->up_w2, m->up2_h, m->up2_f, NULL, c->Wt, C, C);
        }
    }
}

void model_patch_recovery_forward(float *upper, float *surface, const model *m, const float *skip,
                                  const float *x, float *scratch, size_t scratch_stride) {
    const model_config *c = &m->cfg;
    int C = c->dim, L = c->nlev, H = c->H, W = c->W, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = MODEL_NUPPER * pz * ph * pw, Ks = MODEL_NSURFACE * ph * pw;
    int pos = c->recovery_bias_position; /* bias per (variable, patch position) or per variable */
    size_t HW = (size_t)H * W;
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->Ht; row++) {
        int z = row / c->Ht, ht = row % c->Ht;
        float *y = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (Wt, K or Ks)
        const float *a = skip + (size_t)row * c->Wt * C, *b = x + (size_t)row * c->Wt * C;
        int k = z == 0 ? Ks : K;
        const float *w = z == 0 ? m->rec_sw : m->rec_w; // (2C, k): the skip's C rows first
        /* [skip, x] @ W without building the 2C concatenation. */
        const model_bf16_matrix *const *wh = z == 0 ? m->rec_sh : m->rec_h;
        const model_f32_matrix *const *wf = z == 0 ? m->rec_sf : m->rec_f;
        double t0 = profile_start();
        if (wh[0]) {
            model_bf16_linear_forward(y, (size_t)k, a, (size_t)C, wh[0], NULL, c->Wt, 0);
            model_bf16_linear_forward(y, (size_t)k, b, (size_t)C, wh[1], NULL, c->Wt, 1);
        } else if (wf[0]) {
            model_f32_linear_forward(y, (size_t)k, a, (size_t)C, wf[0], NULL, c->Wt, 0);
            model_f32_linear_forward(y, (size_t)k, b, (size_t)C, wf[1], NULL, c->Wt, 1);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->Wt, k, C, 1.0f, a, C, w, k, 0.0f, y, k);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->Wt, k, C, 1.0f, b, C, w + (size_t)C * k, k,
                        1.0f, y, k);
        }
        profile_add(0, t0, 4.0 * c->Wt * C * k);
        for (int wt = 0; wt < c->Wt; wt++) {
            const float *yt = y + (size_t)wt * k;
            if (z == 0) {
                for (int v = 0; v < MODEL_NSURFACE; v++)
                    for (int kh = 0; kh < ph; kh++)
                        for (int kw = 0; kw < pw; kw++) {
                            int lat = ht * ph + kh, lon = wt * pw + kw;
                            if (lat >= H || lon >= W) continue;
                            int e = (v * ph + kh) * pw + kw;
                            float val = yt[e] + m->rec_sb[pos ? e : v];
                            surface[v * HW + (size_t)lat * W + lon] = val * m->surface_std[v] + m->surface_mean[v];
                        }
            } else {
                for (int v = 0; v < MODEL_NUPPER; v++)
                    for (int kz = 0; kz < pz; kz++)
                        for (int kh = 0; kh < ph; kh++)
                            for (int kw = 0; kw < pw; kw++) {
                                int lev = (z - 1) * pz + kz, lat = ht * ph + kh, lon = wt * pw + kw;
                                if (lev >= L || lat >= H || lon >= W) continue;
                                int s = v * L + lev;
                                int e = ((v * pz + kz) * ph + kh) * pw + kw;
                                float val = yt[e] + m->rec_b[pos ? e : v];
                                upper[(size_t)s * HW + (size_t)lat * W + lon] = val * m->upper_std[s] + m->upper_mean[s];
                            }
            }
        }
    }
}
