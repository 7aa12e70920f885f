/* Suite "kernels": every layer of the forward pass against a plain twin
 * written here from the reference's definitions (pangu_ref.py), or against
 * values computed by hand. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "tests.h"
#include "util/util.h"

static util_rng rng;
static void fill(float *x, size_t n, double sd) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * util_rng_normal(&rng));
}
static double maxdiff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}
static double maxabs(const float *a, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i]));
    return d;
}
#define CLOSE(a, b, n, tol) (maxdiff(a, b, n) <= (tol) * (1 + maxabs(b, n)))

static void test_layernorm(void) {
    /* x = (1, 2, 3, 4): mean 2.5, var 1.25 */
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 2, 1, 1}, b[4] = {0, 0, 1, -1}, y[4];
    double r = 1 / sqrt(1.25 + 1e-5);
    float want[4] = {(float)(-1.5 * r), (float)(-0.5 * r * 2), (float)(0.5 * r + 1), (float)(1.5 * r - 1)};
    model_layernorm_forward(y, x, w, b, 1, 4);
    CU_ASSERT(maxdiff(y, want, 4) < 1e-6);
    model_layernorm_forward(x, x, w, b, 1, 4); /* in place */
    CU_ASSERT(maxdiff(x, want, 4) < 1e-6);
}

static void test_gelu(void) {
    float x[3] = {1, -1, 0}, y[3], want[3] = {0.8413447460685429f, -0.15865525393145707f, 0};
    model_gelu_forward(y, x, 3);
    CU_ASSERT(maxdiff(y, want, 3) < 1e-7);
}

static void test_linear(void) {
    int R = 7, I = 13, O = 5;
    float in[7 * 13], w[5 * 13], b[5], out[7 * 5], want[7 * 5];
    fill(in, sizeof in / 4, 1), fill(w, sizeof w / 4, 1), fill(b, 5, 1);
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < R; r++)
            for (int o = 0; o < O; o++) {
                double s = pass ? b[o] : 0;
                for (int i = 0; i < I; i++) s += (double)in[r * I + i] * w[o * I + i];
                want[r * O + o] = (float)s;
            }
        model_linear_forward(out, in, w, pass ? b : NULL, R, I, O);
        CU_ASSERT(CLOSE(out, want, 35, 1e-5));
    }
}

static void test_bias_index(void) {
    int win[3] = {2, 2, 3}, idx[144];
    model_bias_index(idx, win);
    /* by hand: rows per (zi + 2 zj) block = 2*2*5 = 20; per (hi + 2 hj) block = 5 */
    /* query 0 = (0,0,0), key 0: (0)*20 + 0*5 + (0-0+2) = 2 */
    CU_ASSERT(idx[0] == 2);
    /* query (1,1,2) = 1*6+1*3+2 = 11, key (0,1,0) = 3: (1+0)*20 + (1+2)*5 + (2-0+2) = 39 */
    CU_ASSERT(idx[11 * 12 + 3] == 39);
    /* query (0,1,0) = 3, key (1,0,2) = 8: (0+2)*20 + (1+0)*5 + (0-2+2) = 45 */
    CU_ASSERT(idx[3 * 12 + 8] == 45);
    int mx = 0;
    for (int i = 0; i < 144; i++) mx = idx[i] > mx ? idx[i] : mx;
    CU_ASSERT(mx == 2 * 2 * 2 * 2 * 5 - 1);
    int full[3] = {2, 6, 12}, *big = malloc(sizeof(int) * 144 * 144);
    model_bias_index(big, full);
    mx = 0;
    for (int i = 0; i < 144 * 144; i++) mx = big[i] > mx ? big[i] : mx;
    CU_ASSERT(mx == 3312 - 1); /* the (3312, types, heads) table of the paper */
    free(big);
}

/* Python slice [start, stop) on an axis of n, as the reference's slices. */
static void slice(int start, int stop, int none, int n, int *lo, int *hi) {
    int a = start < 0 ? (start + n < 0 ? 0 : start + n) : (start > n ? n : start);
    int b = none ? n : stop < 0 ? (stop + n < 0 ? 0 : stop + n) : (stop > n ? n : stop);
    *lo = a, *hi = b > a ? b : a;
}
/* Region of index i along one axis: the last of the three slices covering it. */
static int axis_region(int i, int n, int w) {
    int r = -1, lo, hi;
    slice(0, -w, 0, n, &lo, &hi);
    if (i >= lo && i < hi) r = 0;
    slice(-w, -(w / 2), 0, n, &lo, &hi);
    if (i >= lo && i < hi) r = 1;
    slice(-(w / 2), 0, 1, n, &lo, &hi);
    if (i >= lo && i < hi) r = 2;
    return r;
}

static void test_shift_labels(void) {
    int cases[][5] = {{8, 186, 2, 6, 12}, {4, 6, 2, 3, 6}, {6, 10, 2, 5, 3}, {4, 8, 1, 4, 4}, {2, 3, 2, 3, 3}, {3, 7, 3, 7, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int Zp = cases[c][0], Hp = cases[c][1], win[3] = {cases[c][2], cases[c][3], cases[c][4]};
        int *lab = malloc(sizeof(int) * Zp * Hp), bad = 0;
        model_shift_labels(lab, Zp, Hp, win);
        for (int z = 0; z < Zp; z++)
            for (int h = 0; h < Hp; h++) {
                int rz = axis_region(z, Zp, win[0]), rh = axis_region(h, Hp, win[1]);
                /* a point no slice covers keeps the initial 0 */
                int want = (rz < 0 || rh < 0) ? 0 : rz * 3 + rh;
                bad += lab[z * Hp + h] != want;
            }
        CU_ASSERT(bad == 0);
        free(lab);
    }
}

/* pad (zeros at the end) -> roll by -shift -> partition, literally. */
static void twin_partition(float *out, const float *x, int Z, int H, int W, int C, const int win[3], const int sh[3]) {
    int Zp = (Z + win[0] - 1) / win[0] * win[0], Hp = (H + win[1] - 1) / win[1] * win[1];
    float *pad = calloc((size_t)Zp * Hp * W * C, sizeof(float)), *rol = malloc(sizeof(float) * Zp * Hp * W * C);
    for (int z = 0; z < Z; z++)
        for (int h = 0; h < H; h++) memcpy(pad + ((size_t)(z * Hp + h) * W) * C, x + ((size_t)(z * H + h) * W) * C, sizeof(float) * W * C);
    for (int z = 0; z < Zp; z++) /* torch.roll(x, -s): out[i] = in[(i + s) mod n] */
        for (int h = 0; h < Hp; h++)
            for (int w = 0; w < W; w++)
                memcpy(rol + ((size_t)(z * Hp + h) * W + w) * C,
                       pad + ((size_t)(((z + sh[0]) % Zp) * Hp + (h + sh[1]) % Hp) * W + (w + sh[2]) % W) * C, sizeof(float) * C);
    /* view (Zp/wz, wz, Hp/wh, wh, W/ww, ww, C).permute(0, 2, 4, 1, 3, 5, 6) */
    size_t o = 0;
    for (int a = 0; a < Zp / win[0]; a++)
        for (int b = 0; b < Hp / win[1]; b++)
            for (int c = 0; c < W / win[2]; c++)
                for (int i = 0; i < win[0]; i++)
                    for (int j = 0; j < win[1]; j++)
                        for (int k = 0; k < win[2]; k++, o += C)
                            memcpy(out + o, rol + ((size_t)((a * win[0] + i) * Hp + b * win[1] + j) * W + c * win[2] + k) * C,
                                   sizeof(float) * C);
    free(pad);
    free(rol);
}

static void test_window_partition(void) {
    int Z = 5, H = 7, W = 12, C = 3, win[3] = {2, 3, 4};
    int Zp = 6, Hp = 9, types = 3 * 3, N = 24, rows = (W / 4) * N;
    float *x = malloc(sizeof(float) * Z * H * W * C), *want = malloc(sizeof(float) * types * rows * C);
    float *got = malloc(sizeof(float) * rows * C), *back = calloc((size_t)Z * H * W * C, sizeof(float));
    for (int i = 0; i < Z * H * W * C; i++) x[i] = (float)(i + 1);
    for (int roll = 0; roll < 2; roll++) {
        int sh[3] = {roll, roll * 1, roll * 2};
        twin_partition(want, x, Z, H, W, C, win, sh);
        int bad = 0, pads = 0;
        memset(back, 0, sizeof(float) * Z * H * W * C);
        for (int t = 0; t < types; t++) {
            model_window_gather(got, x, t, Z, H, W, C, win, sh);
            bad += memcmp(got, want + (size_t)t * rows * C, sizeof(float) * rows * C) != 0;
            for (int r = 0; r < rows; r++) {
                long tok = model_window_token(t, r, Z, H, W, win, sh);
                if (tok < 0) {
                    pads++;
                    bad += got[r * C] != 0;
                } else
                    for (int c = 0; c < C; c++) back[tok * C + c] += got[r * C + c];
            }
        }
        CU_ASSERT(bad == 0);
        CU_ASSERT(pads == (Zp * Hp - Z * H) * W);
        /* unpartition + roll back + crop: every token exactly once */
        CU_ASSERT(memcmp(back, x, sizeof(float) * Z * H * W * C) == 0);
    }
    free(x), free(want), free(got), free(back);
}

/* Naive attention in double: (q * scale) k^T + bias + mask, softmax, @ v. */
static void twin_attention(float *out, const float *qkv, const float *bias_t, const int *lab, int nW, int N, int C, int heads) {
    int d = C / heads;
    double *s = malloc(sizeof(double) * N);
    for (int w = 0; w < nW; w++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < N; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < N; j++) {
                    double a = 0;
                    for (int k = 0; k < d; k++)
                        a += (double)qkv[((size_t)w * N + i) * 3 * C + h * d + k] / sqrt(d) *
                             qkv[((size_t)w * N + j) * 3 * C + C + h * d + k];
                    a += bias_t[((size_t)h * N + i) * N + j] + (lab && lab[i] != lab[j] ? -100.0 : 0.0);
                    s[j] = a;
                    mx = fmax(mx, a);
                }
                for (int j = 0; j < N; j++) sum += (s[j] = exp(s[j] - mx));
                for (int k = 0; k < d; k++) {
                    double o = 0;
                    for (int j = 0; j < N; j++) o += s[j] / sum * qkv[((size_t)w * N + j) * 3 * C + 2 * C + h * d + k];
                    out[((size_t)w * N + i) * C + h * d + k] = (float)o;
                }
            }
    free(s);
}

static void test_attention(void) {
    int nW = 2, N = 12, C = 12, heads = 3;
    float *qkv = malloc(sizeof(float) * nW * N * 3 * C), *bias = malloc(sizeof(float) * heads * N * N);
    float *out = malloc(sizeof(float) * nW * N * C), *want = malloc(sizeof(float) * nW * N * C);
    float *sc = malloc(sizeof(float) * N * N);
    int lab[12] = {0, 0, 1, 1, 0, 2, 2, 0, 1, 1, 3, 3};
    fill(qkv, (size_t)nW * N * 3 * C, 1.0), fill(bias, (size_t)heads * N * N, 0.5);
    for (int masked = 0; masked < 2; masked++) {
        model_window_attention(out, qkv, bias, masked ? lab : NULL, nW, N, C, heads, sc);
        twin_attention(want, qkv, bias, masked ? lab : NULL, nW, N, C, heads);
        CU_ASSERT(CLOSE(out, want, (size_t)nW * N * C, 1e-5));
    }
    free(qkv), free(bias), free(out), free(want), free(sc);
}

/* A small non-preset model with random, non-trivial parameters. */
static void make_model(model *m, int H, int W, int nlev, int dim, const int win[3]) {
    model_config c;
    CU_ASSERT_FATAL(model_config_preset(&c, "tiny") == 0);
    c.H = H, c.W = W, c.nlev = nlev, c.dim = dim;
    memcpy(c.window, win, sizeof c.window);
    CU_ASSERT_FATAL(model_config_derive(&c) == 0);
    CU_ASSERT_FATAL(model_create(m, &c) == 0);
    fill(m->params, m->nparams, 0.2);
    for (int i = 0; i < MODEL_NUPPER * nlev; i++) m->upper_mean[i] = (float)(i + 1), m->upper_std[i] = (float)(0.5 + i % 3);
    for (int i = 0; i < MODEL_NSURFACE; i++) m->surface_mean[i] = (float)(i - 1), m->surface_std[i] = (float)(1 + i);
}

static float *scratch_for(const model *m, size_t *stride) {
    *stride = model_scratch_floats(&m->cfg);
    return malloc(sizeof(float) * *stride * omp_get_max_threads());
}

/* Zero-padded value of upper (5, L, H, W), normalised. */
static double norm_upper(const model *m, const float *up, int v, int l, int y, int x) {
    const model_config *c = &m->cfg;
    if (l >= c->nlev || y >= c->H || x >= c->W) return 0;
    int s = v * c->nlev + l;
    return ((double)up[((size_t)s * c->H + y) * c->W + x] - m->upper_mean[s]) / m->upper_std[s];
}

static void test_patch_embed(void) {
    int win[3] = {2, 3, 3};
    model m;
    make_model(&m, 22, 46, 5, 8, win); /* nothing is a multiple of the patch */
    const model_config *c = &m.cfg;
    size_t HW = (size_t)c->H * c->W, T = (size_t)c->Z * c->Ht * c->Wt, stride;
    float *up = malloc(sizeof(float) * 5 * c->nlev * HW), *sf = malloc(sizeof(float) * 4 * HW);
    float *x = malloc(sizeof(float) * T * c->dim), *want = malloc(sizeof(float) * T * c->dim), *s = scratch_for(&m, &stride);
    fill(up, 5 * c->nlev * HW, 2), fill(sf, 4 * HW, 2);
    model_patch_embed_forward(x, &m, up, sf, s, stride);
    int C = c->dim;
    for (int z = 0; z < c->Z; z++)
        for (int h = 0; h < c->Ht; h++)
            for (int w = 0; w < c->Wt; w++)
                for (int o = 0; o < C; o++) {
                    double acc;
                    if (z == 0) { /* Conv2d(7 -> C) on [surface, constants] */
                        acc = m.embed_sb[o];
                        for (int ch = 0; ch < 7; ch++)
                            for (int i = 0; i < 4; i++)
                                for (int j = 0; j < 4; j++) {
                                    int y = h * 4 + i, xx = w * 4 + j;
                                    double v = 0;
                                    if (y < c->H && xx < c->W)
                                        v = ch < 4 ? ((double)sf[ch * HW + y * c->W + xx] - m.surface_mean[ch]) / m.surface_std[ch]
                                                   : m.constants[(ch - 4) * HW + y * c->W + xx];
                                    acc += m.embed_sw[((o * 7 + ch) * 4 + i) * 4 + j] * v;
                                }
                    } else { /* Conv3d(5 -> C), kernel = stride = (2, 4, 4) */
                        acc = m.embed_b[o];
                        for (int v = 0; v < 5; v++)
                            for (int a = 0; a < 2; a++)
                                for (int i = 0; i < 4; i++)
                                    for (int j = 0; j < 4; j++)
                                        acc += m.embed_w[(((o * 5 + v) * 2 + a) * 4 + i) * 4 + j] *
                                               norm_upper(&m, up, v, (z - 1) * 2 + a, h * 4 + i, w * 4 + j);
                    }
                    want[(((size_t)z * c->Ht + h) * c->Wt + w) * C + o] = (float)acc;
                }
    CU_ASSERT(CLOSE(x, want, T * C, 1e-5));
    free(up), free(sf), free(x), free(want), free(s);
    model_free(&m);
}

static void twin_layernorm(double *y, const double *x, const float *w, const float *b, int C) {
    double mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    for (int i = 0; i < C; i++) y[i] = (x[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i];
}

static void test_down_up_sampling(void) {
    int win[3] = {2, 3, 3};
    model m;
    make_model(&m, 20, 48, 3, 6, win); /* Ht = 5: odd, so padding and cropping happen */
    const model_config *c = &m.cfg;
    CU_ASSERT_FATAL(c->Ht % 2 == 1);
    int C = c->dim;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, T2 = (size_t)c->Z * c->H2 * c->W2, stride;
    float *x = malloc(sizeof(float) * T1 * C), *d = malloc(sizeof(float) * T2 * 2 * C), *want = malloc(sizeof(float) * T2 * 2 * C);
    float *u = malloc(sizeof(float) * T1 * C), *wantu = malloc(sizeof(float) * T1 * C), *s = scratch_for(&m, &stride);
    fill(x, T1 * C, 1);
    model_downsample_forward(d, &m, x, s, stride);
    double g[4 * 64], n[4 * 64];
    for (size_t r = 0; r < T2; r++) {
        int z = (int)(r / (c->H2 * c->W2)), h2 = (int)(r / c->W2 % c->H2), w2 = (int)(r % c->W2);
        for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++)
                for (int i = 0; i < C; i++) {
                    int h = 2 * h2 + dh, w = 2 * w2 + dw;
                    g[(dh * 2 + dw) * C + i] = h < c->Ht && w < c->Wt ? x[(((size_t)z * c->Ht + h) * c->Wt + w) * C + i] : 0;
                }
        twin_layernorm(n, g, m.down_norm_w, m.down_norm_b, 4 * C);
        for (int o = 0; o < 2 * C; o++) {
            double a = 0;
            for (int i = 0; i < 4 * C; i++) a += m.down_w[o * 4 * C + i] * n[i];
            want[r * 2 * C + o] = (float)a;
        }
    }
    CU_ASSERT(CLOSE(d, want, T2 * 2 * C, 1e-5));
    model_upsample_forward(u, &m, d, s, stride);
    for (size_t r = 0; r < T1; r++) {
        int z = (int)(r / (c->Ht * c->Wt)), h = (int)(r / c->Wt % c->Ht), w = (int)(r % c->Wt);
        const float *in = d + (((size_t)z * c->H2 + h / 2) * c->W2 + w / 2) * 2 * C;
        double y[64], f[64];
        for (int i = 0; i < C; i++) { /* channel block (dh, dw) of linear1's 4C outputs */
            double a = 0;
            for (int k = 0; k < 2 * C; k++) a += m.up_w1[((h % 2 * 2 + w % 2) * C + i) * 2 * C + k] * in[k];
            y[i] = a;
        }
        twin_layernorm(f, y, m.up_norm_w, m.up_norm_b, C);
        for (int o = 0; o < C; o++) {
            double a = 0;
            for (int i = 0; i < C; i++) a += m.up_w2[o * C + i] * f[i];
            wantu[r * C + o] = (float)a;
        }
    }
    CU_ASSERT(CLOSE(u, wantu, T1 * C, 1e-5));
    free(x), free(d), free(want), free(u), free(wantu), free(s);
    model_free(&m);
}

static void test_patch_recovery(void) {
    int win[3] = {2, 3, 3};
    model m;
    make_model(&m, 22, 46, 5, 6, win);
    const model_config *c = &m.cfg;
    int C = c->dim;
    size_t T = (size_t)c->Z * c->Ht * c->Wt, HW = (size_t)c->H * c->W, stride;
    float *skip = malloc(sizeof(float) * T * C), *x = malloc(sizeof(float) * T * C), *s = scratch_for(&m, &stride);
    float *up = malloc(sizeof(float) * 5 * c->nlev * HW), *sf = malloc(sizeof(float) * 4 * HW);
    float *wu = malloc(sizeof(float) * 5 * c->nlev * HW), *ws = malloc(sizeof(float) * 4 * HW);
    fill(skip, T * C, 1), fill(x, T * C, 1);
    model_patch_recovery_forward(up, sf, &m, skip, x, s, stride);
    /* ConvTranspose with kernel = stride: each output pixel has one token. */
    for (int v = 0; v < 5; v++)
        for (int l = 0; l < c->nlev; l++)
            for (int y = 0; y < c->H; y++)
                for (int xx = 0; xx < c->W; xx++) {
                    size_t tok = (((size_t)(l / 2 + 1) * c->Ht + y / 4) * c->Wt + xx / 4);
                    double a = m.rec_b[v];
                    for (int i = 0; i < 2 * C; i++) {
                        double in = i < C ? skip[tok * C + i] : x[tok * C + i - C];
                        a += in * m.rec_w[(((size_t)i * 5 + v) * 2 + l % 2) * 16 + (y % 4) * 4 + xx % 4];
                    }
                    int st = v * c->nlev + l;
                    wu[((size_t)st * c->H + y) * c->W + xx] = (float)(a * m.upper_std[st] + m.upper_mean[st]);
                }
    for (int v = 0; v < 4; v++)
        for (int y = 0; y < c->H; y++)
            for (int xx = 0; xx < c->W; xx++) {
                size_t tok = (size_t)(y / 4) * c->Wt + xx / 4;
                double a = m.rec_sb[v];
                for (int i = 0; i < 2 * C; i++) {
                    double in = i < C ? skip[tok * C + i] : x[tok * C + i - C];
                    a += in * m.rec_sw[((size_t)i * 4 + v) * 16 + (y % 4) * 4 + xx % 4];
                }
                ws[v * HW + (size_t)y * c->W + xx] = (float)(a * m.surface_std[v] + m.surface_mean[v]);
            }
    CU_ASSERT(CLOSE(up, wu, 5 * c->nlev * HW, 1e-5));
    CU_ASSERT(CLOSE(sf, ws, 4 * HW, 1e-5));
    free(skip), free(x), free(s), free(up), free(sf), free(wu), free(ws);
    model_free(&m);
}

/* A whole block against its definition composed from the twins above. */
static void test_block(void) {
    int win[3] = {2, 3, 3};
    model m;
    make_model(&m, 20, 48, 5, 8, win);
    const model_config *c = &m.cfg;
    for (int layer = 0; layer < 2; layer++)
        for (int roll = 0; roll < 2; roll++) {
            const model_block *blk = &m.blocks[layer][roll];
            int Hl = layer ? c->H2 : c->Ht, Wl = layer ? c->W2 : c->Wt, C = layer ? 2 * c->dim : c->dim;
            int heads = c->heads[layer], N = 18, nW = Wl / 3, rows = nW * N;
            int Zp = (c->Z + 1) / 2 * 2, Hp = (Hl + 2) / 3 * 3, types = (Zp / 2) * (Hp / 3);
            size_t T = (size_t)c->Z * Hl * Wl, stride;
            float *x = malloc(sizeof(float) * T * C), *want = malloc(sizeof(float) * T * C), *s = scratch_for(&m, &stride);
            float *win_x = malloc(sizeof(float) * types * rows * C), *qkv = malloc(sizeof(float) * rows * 3 * C);
            float *att = malloc(sizeof(float) * rows * C), *bias_t = malloc(sizeof(float) * heads * N * N);
            fill(x, T * C, 1);
            int sh[3] = {roll, roll, roll}, lab[18], *labels = malloc(sizeof(int) * Zp * Hp);
            model_shift_labels(labels, Zp, Hp, win);
            twin_partition(win_x, x, c->Z, Hl, Wl, C, win, sh);
            memcpy(want, x, sizeof(float) * T * C);
            for (int t = 0; t < types; t++) {
                float *xw = win_x + (size_t)t * rows * C;
                for (int r = 0; r < rows; r++)
                    for (int o = 0; o < 3 * C; o++) {
                        double a = blk->qkv_b[o];
                        for (int i = 0; i < C; i++) a += (double)blk->qkv_w[o * C + i] * xw[r * C + i];
                        qkv[r * 3 * C + o] = (float)a;
                    }
                for (int h = 0; h < heads; h++)
                    for (int p = 0; p < N * N; p++) bias_t[h * N * N + p] = blk->bias[((size_t)m.bias_index[p] * types + t) * heads + h];
                for (int i = 0; i < N; i++)
                    lab[i] = labels[(t / (Hp / 3) * 2 + i / 9) * Hp + t % (Hp / 3) * 3 + i / 3 % 3];
                twin_attention(att, qkv, bias_t, roll ? lab : NULL, nW, N, C, heads);
                for (int r = 0; r < rows; r++) {
                    long tok = model_window_token(t, r, c->Z, Hl, Wl, win, sh);
                    if (tok < 0) continue;
                    double pr[128], y[128];
                    for (int o = 0; o < C; o++) {
                        double a = blk->proj_b[o];
                        for (int i = 0; i < C; i++) a += (double)blk->proj_w[o * C + i] * att[r * C + i];
                        pr[o] = a;
                    }
                    twin_layernorm(y, pr, blk->norm1_w, blk->norm1_b, C);
                    for (int o = 0; o < C; o++) want[tok * C + o] += (float)y[o];
                }
            }
            for (size_t r = 0; r < T; r++) {
                double hid[512], y[128], z[128];
                for (int o = 0; o < 4 * C; o++) {
                    double a = blk->fc1_b[o];
                    for (int i = 0; i < C; i++) a += (double)blk->fc1_w[o * C + i] * want[r * C + i];
                    hid[o] = 0.5 * a * (1 + erf(a / sqrt(2)));
                }
                for (int o = 0; o < C; o++) {
                    double a = blk->fc2_b[o];
                    for (int i = 0; i < 4 * C; i++) a += (double)blk->fc2_w[o * 4 * C + i] * hid[i];
                    y[o] = a;
                }
                twin_layernorm(z, y, blk->norm2_w, blk->norm2_b, C);
                for (int o = 0; o < C; o++) want[r * C + o] += (float)z[o];
            }
            model_block_forward(x, blk, c, layer, roll, m.bias_index, s, stride);
            CU_ASSERT(CLOSE(x, want, T * C, 2e-5));
            if (!CLOSE(x, want, T * C, 2e-5))
                fprintf(stderr, "\n  block layer %d roll %d: max diff %g\n", layer, roll, maxdiff(x, want, T * C));
            free(x), free(want), free(s), free(win_x), free(qkv), free(att), free(bias_t), free(labels);
        }
    model_free(&m);
}

int tests_register_kernels(void) {
    util_rng_seed(&rng, 42);
    CU_pSuite s = CU_add_suite("kernels", NULL, NULL);
    if (!s) return -1;
    struct { const char *name; void (*fn)(void); } t[] = {
        {"layernorm (hand values, in place)", test_layernorm},
        {"exact GELU (hand values)", test_gelu},
        {"linear against a triple loop", test_linear},
        {"Earth-specific bias index (hand values)", test_bias_index},
        {"shift-mask regions against Python slices", test_shift_labels},
        {"window partition, roll and inverse against pad/roll/partition", test_window_partition},
        {"window attention against a naive twin", test_attention},
        {"patch embedding against naive convolutions", test_patch_embed},
        {"down- and up-sampling against naive twins", test_down_up_sampling},
        {"patch recovery against naive transposed convolutions", test_patch_recovery},
        {"Earth-specific block against its composed definition", test_block},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!CU_add_test(s, t[i].name, t[i].fn)) return -1;
    return 0;
}
