/* Suite "kernels": every kernel of the forward pass (model/kernels.c)
 * against values computed by hand or against a plain twin written here as a
 * literal transcription of ../shared/reference/pangu_ref.py (F.pad, torch.roll,
 * partition / unpartition as view + permute, shift_mask's Python slices,
 * bias_index's meshgrid, EarthAttention3D, the block, Conv3d / Conv2d,
 * DownSample, UpSample, ConvTranspose3d / 2d). The twins compute in double
 * and never call the code under test; float32 results must agree to
 * max |got - want| <= tol * (1 + max |want|), exact where no arithmetic is
 * involved (gathers, indices, labels). */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

/* ---- helpers ---- */

static util_rng rng;
static void seed(unsigned long long s) { util_rng_seed(&rng, s); }
static double randn(void) { return util_rng_normal(&rng); }

static void fill(float *x, size_t n, double mean, double sd) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(mean + sd * randn());
}
/* Outputs start as NaN so an element the kernel never writes fails. */
static float *falloc(size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (p)
        for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}
static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static int *ialloc(size_t n) { return calloc(n ? n : 1, sizeof(int)); }
static int ceil_to(int n, int m) { return (n + m - 1) / m * m; }
static int pmod(int a, int n) { return ((a % n) + n) % n; }

/* max |got - want| <= tol * (1 + max |want|), every value finite; prints the
 * worst element on failure. */
static int check_close(const char *what, const float *got, const double *want, size_t n, double tol) {
    double maxb = 0, maxd = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(want[i])) {
            fprintf(stderr, "\n    %s: element %zu not finite (got %g, want %g)\n", what, i, got[i], want[i]);
            return 0;
        }
        double d = fabs((double)got[i] - want[i]);
        if (fabs(want[i]) > maxb) maxb = fabs(want[i]);
        if (d > maxd) maxd = d, at = i;
    }
    int ok = maxd <= tol * (1 + maxb);
#ifdef KERNELS_VERBOSE
    fprintf(stderr, "\n    %s: max |diff| %.3g (max |want| %.3g)", what, maxd, maxb);
#endif
    if (!ok)
        fprintf(stderr, "\n    %s: max |diff| %.3g at %zu (got %.9g, want %.9g), allowed %.3g\n", what, maxd, at,
                got[at], want[at], tol * (1 + maxb));
    return ok;
}
static int check_exact(const char *what, const float *got, const double *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((double)got[i] == want[i])) {
            fprintf(stderr, "\n    %s: element %zu is %.9g, want %.9g\n", what, i, got[i], want[i]);
            return 0;
        }
    return 1;
}
static void to_double(double *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = in[i];
}

/* ---- plain twins of the reference (double precision) ---- */

/* nn.LayerNorm(C, eps=1e-5) on one row: biased variance. */
static void twin_layernorm(double *y, const double *x, const float *w, const float *b, int C) {
    double mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    for (int i = 0; i < C; i++) y[i] = (x[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i];
}
static void twin_layernorm_rows(double *y, const double *x, const float *w, const float *b, size_t rows, int C) {
    for (size_t r = 0; r < rows; r++) twin_layernorm(y + r * C, x + r * C, w, b, C);
}

/* F.gelu (exact, erf). */
static double twin_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

/* nn.Linear: out (rows, O) = in (rows, I) @ w^T + b, w (O, I), b may be NULL. */
static void twin_linear(double *out, const double *in, const float *w, const float *b, size_t rows, int I, int O) {
    for (size_t r = 0; r < rows; r++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < I; i++) s += in[r * I + i] * (double)w[(size_t)o * I + i];
            out[r * O + o] = s;
        }
}

/* bias_index: zi, hi, wi = meshgrid(arange(wz), arange(wh), arange(ww), "ij"),
 * raveled; idx[q, k] = (zi[q] + wz zi[k]) (wh^2 (2ww-1)) + (hi[q] + wh hi[k]) (2ww-1)
 * + (wi[q] - wi[k] + ww - 1). */
static void twin_bias_index(int *idx, int wz, int wh, int ww) {
    int N = wz * wh * ww, *zi = ialloc(N), *hi = ialloc(N), *wi = ialloc(N), n = 0;
    for (int a = 0; a < wz; a++)
        for (int b = 0; b < wh; b++)
            for (int c = 0; c < ww; c++, n++) zi[n] = a, hi[n] = b, wi[n] = c;
    for (int q = 0; q < N; q++)
        for (int k = 0; k < N; k++)
            idx[q * N + k] = (zi[q] + wz * zi[k]) * (wh * wh * (2 * ww - 1)) + (hi[q] + wh * hi[k]) * (2 * ww - 1) +
                             (wi[q] - wi[k] + ww - 1);
    free(zi), free(hi), free(wi);
}

/* Python slice(start, stop) (step 1) on a sequence of n; stop_none for None. */
static void py_slice(int start, int stop, int stop_none, int n, int *lo, int *hi) {
    int a = start, b = stop;
    if (a < 0) {
        a += n;
        if (a < 0) a = 0;
    } else if (a > n)
        a = n;
    if (stop_none)
        b = n;
    else if (b < 0) {
        b += n;
        if (b < 0) b = 0;
    } else if (b > n)
        b = n;
    *lo = a, *hi = b < a ? a : b;
}

/* shift_mask's img (Zp, Hp) (constant along W): zeros, then
 *   for zs in (slice(0, -wz), slice(-wz, -(wz // 2)), slice(-(wz // 2), None)):
 *     for hs in (... the same with wh ...): img[zs, hs] = cnt; cnt += 1 */
static void twin_shift_img(int *img, int Zp, int Hp, int wz, int wh) {
    const int zs[3][3] = {{0, -wz, 0}, {-wz, -(wz / 2), 0}, {-(wz / 2), 0, 1}};
    const int hs[3][3] = {{0, -wh, 0}, {-wh, -(wh / 2), 0}, {-(wh / 2), 0, 1}};
    memset(img, 0, sizeof(int) * Zp * Hp);
    int cnt = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int z0, z1, h0, h1;
            py_slice(zs[a][0], zs[a][1], zs[a][2], Zp, &z0, &z1);
            py_slice(hs[b][0], hs[b][1], hs[b][2], Hp, &h0, &h1);
            for (int z = z0; z < z1; z++)
                for (int h = h0; h < h1; h++) img[z * Hp + h] = cnt;
            cnt++;
        }
}

/* F.pad with zeros at the end of the first two axes: (Z, H, W, C) -> (Zp, Hp, W, C). */
static void twin_pad(double *out, const double *in, int Z, int H, int W, int C, int Zp, int Hp) {
    memset(out, 0, sizeof(double) * Zp * Hp * W * C);
    for (int z = 0; z < Z; z++)
        for (int h = 0; h < H; h++)
            memcpy(out + ((size_t)z * Hp + h) * W * C, in + ((size_t)z * H + h) * W * C, sizeof(double) * W * C);
}
/* x[:Z, :H] of (Zp, Hp, W, C). */
static void twin_crop(double *out, const double *in, int Zp, int Hp, int W, int C, int Z, int H) {
    (void)Zp;
    for (int z = 0; z < Z; z++)
        for (int h = 0; h < H; h++)
            memcpy(out + ((size_t)z * H + h) * W * C, in + ((size_t)z * Hp + h) * W * C, sizeof(double) * W * C);
}
/* torch.roll(x, shifts=(s0, s1, s2), dims=(0, 1, 2)): out[(i + s) mod n] = in[i]. */
static void twin_roll(double *out, const double *in, int Z, int H, int W, int C, int s0, int s1, int s2) {
    for (int z = 0; z < Z; z++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                memcpy(out + (((size_t)pmod(z + s0, Z) * H + pmod(h + s1, H)) * W + pmod(w + s2, W)) * C,
                       in + (((size_t)z * H + h) * W + w) * C, sizeof(double) * C);
}
/* partition: x.view(Zp/wz, wz, Hp/wh, wh, W/ww, ww, C).permute(0, 2, 4, 1, 3, 5, 6)
 * -> (types, nW, N, C). */
static void twin_partition(double *out, const double *in, int Zp, int Hp, int W, int C, const int win[3]) {
    int A = Zp / win[0], B = Hp / win[1], D = W / win[2];
    size_t o = 0;
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int d = 0; d < D; d++)
                for (int i = 0; i < win[0]; i++)
                    for (int j = 0; j < win[1]; j++)
                        for (int k = 0; k < win[2]; k++, o += C) {
                            int z = a * win[0] + i, h = b * win[1] + j, w = d * win[2] + k;
                            memcpy(out + o, in + (((size_t)z * Hp + h) * W + w) * C, sizeof(double) * C);
                        }
}
/* unpartition: x.view(Zp/wz, Hp/wh, W/ww, wz, wh, ww, C).permute(0, 3, 1, 4, 2, 5, 6). */
static void twin_unpartition(double *out, const double *in, int Zp, int Hp, int W, int C, const int win[3]) {
    int A = Zp / win[0], B = Hp / win[1], D = W / win[2];
    for (int a = 0; a < A; a++)
        for (int i = 0; i < win[0]; i++)
            for (int b = 0; b < B; b++)
                for (int j = 0; j < win[1]; j++)
                    for (int d = 0; d < D; d++)
                        for (int k = 0; k < win[2]; k++) {
                            size_t src = ((((((size_t)a * B + b) * D + d) * win[0] + i) * win[1] + j) * win[2] + k) * C;
                            int z = a * win[0] + i, h = b * win[1] + j, w = d * win[2] + k;
                            memcpy(out + (((size_t)z * Hp + h) * W + w) * C, in + src, sizeof(double) * C);
                        }
}
/* Block front end: pad, roll by -shift, partition -> (types, nW, N, C). */
static void twin_windows(double *out, const double *x, int Z, int H, int W, int C, const int win[3], const int sh[3]) {
    int Zp = ceil_to(Z, win[0]), Hp = ceil_to(H, win[1]);
    size_t n = (size_t)Zp * Hp * W * C;
    double *p = dalloc(n), *r = dalloc(n);
    twin_pad(p, x, Z, H, W, C, Zp, Hp);
    twin_roll(r, p, Zp, Hp, W, C, -sh[0], -sh[1], -sh[2]);
    twin_partition(out, r, Zp, Hp, W, C, win);
    free(p), free(r);
}
/* Block back end: unpartition, roll by +shift, crop -> (Z, H, W, C). */
static void twin_unwindows(double *out, const double *wins, int Z, int H, int W, int C, const int win[3],
                           const int sh[3]) {
    int Zp = ceil_to(Z, win[0]), Hp = ceil_to(H, win[1]);
    size_t n = (size_t)Zp * Hp * W * C;
    double *u = dalloc(n), *r = dalloc(n);
    twin_unpartition(u, wins, Zp, Hp, W, C, win);
    twin_roll(r, u, Zp, Hp, W, C, sh[0], sh[1], sh[2]);
    twin_crop(out, r, Zp, Hp, W, C, Z, H);
    free(u), free(r);
}

/* EarthAttention3D's core for one window: qkv (N, 3C) split as (3, heads, d);
 * attn = (q * d^-0.5) @ k^T + bias (heads, N, N) [+ -100 where labels differ];
 * softmax over keys; out (N, C) = attn @ v with heads concatenated. */
static void twin_attention_window(double *out, const double *qkv, const double *bias, const int *lab, int N, int C,
                                  int heads) {
    int d = C / heads;
    double scale = pow((double)d, -0.5), *s = dalloc(N);
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < N; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < N; j++) {
                double a = 0;
                const double *q = qkv + (size_t)i * 3 * C + h * d, *kk = qkv + (size_t)j * 3 * C + C + h * d;
                for (int k = 0; k < d; k++) a += q[k] * scale * kk[k];
                a += bias[((size_t)h * N + i) * N + j];
                if (lab && lab[j] - lab[i] != 0) a += -100.0;
                s[j] = a;
                if (a > mx) mx = a;
            }
            for (int j = 0; j < N; j++) sum += s[j] = exp(s[j] - mx);
            for (int k = 0; k < d; k++) {
                double o = 0;
                for (int j = 0; j < N; j++) o += s[j] / sum * qkv[(size_t)j * 3 * C + 2 * C + h * d + k];
                out[(size_t)i * C + h * d + k] = o;
            }
        }
    free(s);
}

/* ---- models for the layer tests ---- */

static int make_cfg(model_config *c, int H, int W, int nlev, int dim, const int win[3], const int patch[3]) {
    if (model_config_preset(c, "tiny")) return -1;
    c->H = H, c->W = W, c->nlev = nlev, c->dim = dim;
    for (int i = 0; i < nlev; i++) c->levels[i] = (float)(1000 - 40 * i);
    memcpy(c->window, win, sizeof c->window);
    memcpy(c->patch, patch, sizeof c->patch);
    return model_config_derive(c);
}

/* Every parameter random (LayerNorm weights near 1), random statistics. */
static void randomise(model *m) {
    fill(m->params, m->nparams, 0, 0.2);
    for (int i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        size_t len = strlen(t->name);
        if (t->trainable && strstr(t->name, "norm") && len > 7 && strcmp(t->name + len - 7, ".weight") == 0)
            fill(m->params + t->offset, t->count, 1, 0.1);
    }
    const model_config *c = &m->cfg;
    for (int s = 0; s < MODEL_NUPPER * c->nlev; s++)
        m->upper_mean[s] = (float)(10 * randn()), m->upper_std[s] = (float)(0.5 + 2 * util_rng_uniform(&rng));
    for (int s = 0; s < MODEL_NSURFACE; s++)
        m->surface_mean[s] = (float)(10 * randn()), m->surface_std[s] = (float)(0.5 + 2 * util_rng_uniform(&rng));
}

static float *scratch_for(const model_config *c, size_t *stride) {
    *stride = model_scratch_floats(c);
    return falloc(*stride * (size_t)omp_get_max_threads());
}

/* ---- layernorm, GELU, linear ---- */

static void test_layernorm(void) {
    /* by hand: x = (1, 2, 3, 4), mean 2.5, variance 1.25, r = 1 / sqrt(1.25 + 1e-5) */
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 2, 1, 1}, b[4] = {0, 0, 1, -1}, y[4];
    double want[4] = {-1.3416354199689269, -0.894423613312618, 1.447211806656309, 0.3416354199689269};
    model_layernorm_forward(y, x, w, b, 1, 4);
    CU_ASSERT(check_close("layernorm hand row", y, want, 4, 1e-6));
    model_layernorm_forward(x, x, w, b, 1, 4);
    CU_ASSERT(check_close("layernorm hand row in place", x, want, 4, 1e-6));
    /* a constant row has variance 0: the output is b */
    float k[3] = {3, 3, 3}, kw[3] = {2, 2, 2}, kb[3] = {0.5f, -1, 0}, ky[3];
    double kwant[3] = {0.5, -1, 0};
    model_layernorm_forward(ky, k, kw, kb, 1, 3);
    CU_ASSERT(check_close("layernorm constant row", ky, kwant, 3, 1e-7));

    /* several rows of odd width against the twin, then in place */
    seed(101);
    int rows = 5, C = 37;
    float *in = falloc(rows * C), *out = falloc(rows * C), *g = falloc(C), *be = falloc(C);
    double *xd = dalloc(rows * C), *wd = dalloc(rows * C);
    fill(in, rows * C, 3, 2), fill(g, C, 1, 0.3), fill(be, C, 0, 0.5);
    to_double(xd, in, rows * C);
    twin_layernorm_rows(wd, xd, g, be, rows, C);
    model_layernorm_forward(out, in, g, be, rows, C);
    CU_ASSERT(check_close("layernorm rows", out, wd, rows * C, 1e-5));
    model_layernorm_forward(in, in, g, be, rows, C);
    CU_ASSERT(check_close("layernorm rows in place", in, wd, rows * C, 1e-5));
    free(in), free(out), free(g), free(be), free(xd), free(wd);
}

static void test_gelu(void) {
    float x[6] = {1, -1, 0, 2, -3, 0.5f}, y[6];
    double want[6] = {0.8413447460685429, -0.15865525393145707, 0, 1.9544997361036416, -0.00404969409489031,
                      0.34573123063700656};
    model_gelu_forward(y, x, 6);
    CU_ASSERT(check_close("gelu hand values", y, want, 6, 2e-7));
    CU_ASSERT(y[2] == 0.0f);
    /* a sweep of [-8, 8] against erf in double, out of place and in place */
    enum { n = 1601 };
    float *in = falloc(n), *out = falloc(n);
    double *wd = dalloc(n);
    for (int i = 0; i < n; i++) in[i] = (float)(-8 + 0.01 * i), wd[i] = twin_gelu(in[i]);
    model_gelu_forward(out, in, n);
    CU_ASSERT(check_close("gelu sweep", out, wd, n, 1e-6));
    model_gelu_forward(in, in, n);
    CU_ASSERT(check_close("gelu sweep in place", in, wd, n, 1e-6));
    free(in), free(out), free(wd);
}

static void test_linear(void) {
    seed(102);
    const int sizes[][3] = {{7, 13, 5}, {1, 1, 1}, {3, 17, 11}, {33, 9, 31}, {2, 64, 3}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int R = sizes[s][0], I = sizes[s][1], O = sizes[s][2];
        float *in = falloc(R * I), *w = falloc(O * I), *b = falloc(O), *out = falloc(R * O);
        double *xd = dalloc(R * I), *wd = dalloc(R * O);
        fill(in, R * I, 0, 1), fill(w, O * I, 0, 1), fill(b, O, 0, 1);
        to_double(xd, in, R * I);
        for (int pass = 0; pass < 2; pass++) {
            /* naive triple loop */
            for (int r = 0; r < R; r++)
                for (int o = 0; o < O; o++) {
                    double acc = pass ? b[o] : 0;
                    for (int i = 0; i < I; i++) acc += xd[r * I + i] * w[o * I + i];
                    wd[r * O + o] = acc;
                }
            for (int i = 0; i < R * O; i++) out[i] = NAN;
            model_linear_forward(out, in, w, pass ? b : NULL, R, I, O);
            char what[64];
            snprintf(what, sizeof what, "linear %dx%d->%d %s bias", R, I, O, pass ? "with" : "without");
            CU_ASSERT(check_close(what, out, wd, R * O, 1e-5));
        }
        /* zero rows: nothing written */
        out[0] = 12345;
        model_linear_forward(out, in, w, b, 0, I, O);
        CU_ASSERT(out[0] == 12345);
        free(in), free(w), free(b), free(out), free(xd), free(wd);
    }
}

/* ---- bias index, shift labels ---- */

/* The staged gather (the forward's) against the direct one, bit for bit,
 * and both against the table read by hand at a few positions. */
static void test_bias_gather(void) {
    const int wins[][3] = {{2, 6, 12}, {2, 3, 6}, {1, 1, 1}, {3, 2, 5}, {1, 3, 2}};
    const int shapes[][2] = {{3, 6}, {1, 1}, {5, 4}, {2, 12}, {7, 3}}; /* (types, heads) */
    for (size_t k = 0; k < sizeof wins / sizeof wins[0]; k++) {
        int types = shapes[k][0], heads = shapes[k][1], N = wins[k][0] * wins[k][1] * wins[k][2];
        size_t rows = model_bias_table_rows(wins[k]), NN = (size_t)N * N;
        CU_ASSERT(rows == (size_t)wins[k][0] * wins[k][0] * wins[k][1] * wins[k][1] * (2 * wins[k][2] - 1));
        float *bias = falloc(rows * types * heads), *table = falloc((size_t)heads * rows);
        float *direct = falloc((size_t)heads * NN), *staged = falloc((size_t)heads * NN);
        int *idx = ialloc(NN);
        for (size_t i = 0; i < rows * types * heads; i++) bias[i] = (float)i * 0.5f - 7.0f;
        model_bias_index(idx, wins[k]);
        for (int t = 0; t < types; t++) {
            memset(staged, 0xff, sizeof(float) * heads * NN); /* NaN: every entry must be written */
            model_bias_gather(direct, bias, idx, t, types, heads, N);
            model_bias_gather_staged(staged, table, bias, idx, t, types, heads, N, wins[k]);
            CU_ASSERT(memcmp(direct, staged, sizeof(float) * heads * NN) == 0);
            int h = heads - 1;
            size_t p = NN - 1;
            CU_ASSERT(staged[h * NN + p] == bias[((size_t)idx[p] * types + t) * heads + h]);
            CU_ASSERT(staged[0] == bias[((size_t)idx[0] * types + t) * heads]);
            const float *view = model_block_bias(staged, table, bias, 0, idx, t, types, heads, N, wins[k]);
            CU_ASSERT(view == staged && memcmp(direct, staged, sizeof(float) * heads * NN) == 0);
            view = model_block_bias(staged, NULL, bias, 1, idx, t, types, heads, N, wins[k]); /* a full bias */
            CU_ASSERT(view == bias + (size_t)t * heads * NN);
        }
        free(bias), free(table), free(direct), free(staged), free(idx);
    }
}

static void test_bias_index(void) {
    /* tiny case by hand: window (1, 1, 2), N = 2: only wi - wj + 1 */
    int w112[3] = {1, 1, 2}, small[4];
    model_bias_index(small, w112);
    CU_ASSERT(small[0] == 1 && small[1] == 0 && small[2] == 2 && small[3] == 1);

    /* window (2, 2, 3): per (zi + 2 zj) step 2*2*5 = 20 rows, per (hi + 2 hj) step 5 */
    int w223[3] = {2, 2, 3}, idx[144];
    model_bias_index(idx, w223);
    CU_ASSERT(idx[0] == 2);            /* q (0,0,0), k (0,0,0): 0 + 0 + (0-0+2) */
    CU_ASSERT(idx[11 * 12 + 3] == 39); /* q (1,1,2), k (0,1,0): 1*20 + 3*5 + 4 */
    CU_ASSERT(idx[3 * 12 + 8] == 45);  /* q (0,1,0), k (1,0,2): 2*20 + 1*5 + 0 */

    /* the full model's window (2, 6, 12): N = 144, 2*2*6*6*23 = 3312 rows */
    int full[3] = {2, 6, 12}, *big = ialloc(144 * 144);
    model_bias_index(big, full);
    CU_ASSERT(big[0] == 11);                /* q = k = (0,0,0): wi - wj + 11 */
    CU_ASSERT(big[143 * 144 + 0] == 965);   /* q (1,5,11), k (0,0,0): 1*828 + 5*23 + 22 */
    CU_ASSERT(big[0 * 144 + 143] == 2346);  /* q (0,0,0), k (1,5,11): 2*828 + 30*23 + 0 */
    CU_ASSERT(big[143 * 144 + 143] == 3300); /* q = k = (1,5,11): 3*828 + 35*23 + 11 */
    CU_ASSERT(big[143 * 144 + 132] == 3311); /* q (1,5,11), k (1,5,0): 3*828 + 35*23 + 22, the last row */
    /* every row of the (3312, types, heads) table is used, none outside */
    int *used = ialloc(3312), outside = 0;
    for (int i = 0; i < 144 * 144; i++) {
        if (big[i] < 0 || big[i] >= 3312) outside++;
        else used[big[i]]++;
    }
    int unused = 0;
    for (int i = 0; i < 3312; i++) unused += used[i] == 0;
    CU_ASSERT(outside == 0 && unused == 0);
    free(used), free(big);

    /* against the meshgrid formula for several windows */
    const int wins[][3] = {{2, 6, 12}, {2, 3, 6}, {2, 2, 3}, {1, 1, 1}, {3, 2, 5}, {1, 3, 2}, {2, 4, 8}};
    for (size_t k = 0; k < sizeof wins / sizeof wins[0]; k++) {
        int N = wins[k][0] * wins[k][1] * wins[k][2], *got = ialloc(N * N), *want = ialloc(N * N), bad = 0;
        model_bias_index(got, wins[k]);
        twin_bias_index(want, wins[k][0], wins[k][1], wins[k][2]);
        for (int i = 0; i < N * N; i++) bad += got[i] != want[i];
        CU_ASSERT(bad == 0);
        if (bad)
            fprintf(stderr, "\n    bias index (%d,%d,%d): %d entries differ\n", wins[k][0], wins[k][1], wins[k][2],
                    bad);
        free(got), free(want);
    }
}

static void test_shift_labels(void) {
    /* by hand, Zp 4, Hp 6, window (2, 3, 6): z slices [0,2) [2,3) [3,4), h slices [0,3) [3,5) [5,6) */
    int w236[3] = {2, 3, 6}, lab[24];
    const int hand[24] = {0, 0, 0, 1, 1, 2, 0, 0, 0, 1, 1, 2, 3, 3, 3, 4, 4, 5, 6, 6, 6, 7, 7, 8};
    model_shift_labels(lab, 4, 6, w236);
    CU_ASSERT(memcmp(lab, hand, sizeof hand) == 0);
    /* wz = 1: slice(-1, -0) is empty and slice(-0, None) covers every level, so
     * the z region is 2 everywhere; h as above */
    int w136[3] = {1, 3, 6}, lab1[18];
    model_shift_labels(lab1, 3, 6, w136);
    int bad1 = 0;
    for (int z = 0; z < 3; z++)
        for (int h = 0; h < 6; h++) bad1 += lab1[z * 6 + h] != 6 + hand[h];
    CU_ASSERT(bad1 == 0);

    /* against the literal slice assignments; (Zp, Hp, wz, wh, ww) */
    const int cases[][5] = {{8, 186, 2, 6, 12}, {4, 6, 2, 3, 6},  {6, 10, 2, 5, 3}, {4, 8, 1, 4, 4}, {2, 3, 2, 3, 3},
                            {3, 7, 3, 7, 2},    {9, 9, 3, 3, 3},  {1, 4, 1, 2, 2},  {4, 6, 1, 1, 1}, {3, 10, 1, 5, 2},
                            {6, 15, 3, 5, 1},   {2, 2, 2, 2, 2},  {5, 7, 2, 3, 3} /* not multiples: slices only */};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int Zp = cases[k][0], Hp = cases[k][1], win[3] = {cases[k][2], cases[k][3], cases[k][4]};
        int *got = ialloc(Zp * Hp), *img = ialloc(Zp * Hp), bad = 0;
        model_shift_labels(got, Zp, Hp, win);
        twin_shift_img(img, Zp, Hp, win[0], win[1]);
        for (int i = 0; i < Zp * Hp; i++) bad += got[i] != img[i];
        CU_ASSERT(bad == 0);
        if (bad)
            fprintf(stderr, "\n    shift labels %dx%d window (%d,%d,%d): %d differ\n", Zp, Hp, win[0], win[1], win[2],
                    bad);
        /* model_window_labels: the partitioned img, as shift_mask's `win` */
        if (Zp % win[0] == 0 && Hp % win[1] == 0) {
            int N = win[0] * win[1] * win[2], types = (Zp / win[0]) * (Hp / win[1]), wbad = 0;
            double *field = dalloc((size_t)Zp * Hp * win[2]), *part = dalloc((size_t)Zp * Hp * win[2]);
            for (int z = 0; z < Zp; z++)
                for (int h = 0; h < Hp; h++)
                    for (int w = 0; w < win[2]; w++) field[((size_t)z * Hp + h) * win[2] + w] = img[z * Hp + h];
            twin_partition(part, field, Zp, Hp, win[2], 1, win); /* (types, 1, N) */
            int *wl = ialloc(N);
            for (int t = 0; t < types; t++) {
                model_window_labels(wl, t, Zp, Hp, win);
                for (int i = 0; i < N; i++) wbad += wl[i] != (int)part[(size_t)t * N + i];
            }
            CU_ASSERT(wbad == 0);
            free(field), free(part), free(wl);
        }
        free(got), free(img);
    }
}

/* ---- window partition and roll ---- */

static void test_window_partition(void) {
    seed(103);
    /* Z, H, W, C, window, shift */
    const int cases[][10] = {
        {5, 7, 12, 3, 2, 3, 4, 0, 0, 0}, {5, 7, 12, 3, 2, 3, 4, 1, 1, 2}, {5, 7, 12, 3, 2, 3, 4, 1, 2, 5},
        {4, 6, 12, 2, 2, 3, 6, 0, 0, 0}, {4, 6, 12, 2, 2, 3, 6, 1, 1, 3}, {3, 5, 6, 2, 3, 5, 3, 1, 2, 1},
        {4, 3, 4, 2, 1, 2, 2, 0, 1, 1},  {4, 3, 4, 2, 1, 2, 2, 0, 0, 0},  {3, 11, 15, 1, 2, 3, 1, 1, 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int Z = cases[k][0], H = cases[k][1], W = cases[k][2], C = cases[k][3];
        int win[3] = {cases[k][4], cases[k][5], cases[k][6]}, sh[3] = {cases[k][7], cases[k][8], cases[k][9]};
        int Zp = ceil_to(Z, win[0]), Hp = ceil_to(H, win[1]), types = (Zp / win[0]) * (Hp / win[1]);
        int N = win[0] * win[1] * win[2], rows = W / win[2] * N;
        size_t T = (size_t)Z * H * W;
        float *x = falloc(T * C), *got = falloc((size_t)rows * C), *back = falloc(T * C);
        double *xd = dalloc(T * C), *want = dalloc((size_t)types * rows * C), *ids = dalloc(T);
        double *want_ids = dalloc((size_t)types * rows), *undone = dalloc(T * C);
        int *count = ialloc(T);
        fill(x, T * C, 0, 1);
        to_double(xd, x, T * C);
        for (size_t i = 0; i < T; i++) ids[i] = (double)i + 1; /* padding becomes 0 */
        twin_windows(want, xd, Z, H, W, C, win, sh);
        twin_windows(want_ids, ids, Z, H, W, 1, win, sh);
        /* the twin undoes itself: unpartition, roll back, crop */
        twin_unwindows(undone, want, Z, H, W, C, win, sh);
        CU_ASSERT(memcmp(undone, xd, sizeof(double) * T * C) == 0);

        int bad_gather = 0, bad_token = 0, bad_pad = 0, pads = 0;
        for (int t = 0; t < types; t++) {
            for (size_t i = 0; i < (size_t)rows * C; i++) got[i] = NAN;
            model_window_gather(got, x, t, Z, H, W, C, win, sh);
            bad_gather += !check_exact("window gather", got, want + (size_t)t * rows * C, (size_t)rows * C);
            for (int r = 0; r < rows; r++) {
                long tok = model_window_token(t, r, Z, H, W, win, sh);
                bad_token += tok != (long)want_ids[(size_t)t * rows + r] - 1;
                if (tok < 0) {
                    pads++;
                    for (int c = 0; c < C; c++) bad_pad += got[(size_t)r * C + c] != 0.0f;
                } else if (tok < (long)T) {
                    count[tok]++;
                    memcpy(back + (size_t)tok * C, got + (size_t)r * C, sizeof(float) * C);
                }
            }
        }
        int bad_count = 0;
        for (size_t i = 0; i < T; i++) bad_count += count[i] != 1;
        CU_ASSERT(bad_gather == 0);
        CU_ASSERT(bad_token == 0);
        CU_ASSERT(bad_pad == 0);
        CU_ASSERT(pads == (Zp * Hp - Z * H) * W);
        CU_ASSERT(bad_count == 0);
        CU_ASSERT(memcmp(back, x, sizeof(float) * T * C) == 0); /* scattered back: the input exactly */
        if (bad_gather || bad_token || bad_pad || bad_count)
            fprintf(stderr, "\n    window case %zu: %d gathers, %d tokens, %d padding values, %d counts wrong\n", k,
                    bad_gather, bad_token, bad_pad, bad_count);
        free(x), free(got), free(back), free(xd), free(want), free(ids), free(want_ids), free(undone), free(count);
    }
}

/* ---- attention ---- */

static void test_attention(void) {
    seed(104);
    /* N, C, heads */
    const int cases[][3] = {{12, 12, 1}, {12, 12, 2}, {12, 12, 3}, {12, 12, 4}, {18, 8, 2}, {8, 24, 6}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int nW = 2, N = cases[k][0], C = cases[k][1], heads = cases[k][2];
        size_t nq = (size_t)nW * N * 3 * C, no = (size_t)nW * N * C, nb = (size_t)heads * N * N;
        float *qkv = falloc(nq), *bias = falloc(nb), *out = falloc(no), *plain = falloc(no);
        float *sc = falloc((size_t)N * N); /* exactly N*N: an overrun trips AddressSanitizer */
        double *qd = dalloc(nq), *bd = dalloc(nb), *want = dalloc(no);
        int *lab = ialloc(N), *same = ialloc(N);
        fill(qkv, nq, 0, 1), fill(bias, nb, 0, 0.5);
        to_double(qd, qkv, nq), to_double(bd, bias, nb);
        for (int i = 0; i < N; i++) lab[i] = (i * 7 / 3) % 4, same[i] = 5;
        for (int masked = 0; masked < 2; masked++) {
            for (int w = 0; w < nW; w++)
                twin_attention_window(want + (size_t)w * N * C, qd + (size_t)w * N * 3 * C, bd, masked ? lab : NULL,
                                      N, C, heads);
            float *o = masked ? out : plain;
            model_window_attention(o, qkv, bias, masked ? lab : NULL, nW, N, C, heads, sc);
            char what[80];
            snprintf(what, sizeof what, "attention N %d C %d heads %d %s", N, C, heads, masked ? "masked" : "unmasked");
            CU_ASSERT(check_close(what, o, want, no, 1e-5));
        }
        /* the mask matters, and identical labels mask nothing */
        double d = 0;
        for (size_t i = 0; i < no; i++) d = fmax(d, fabs(out[i] - plain[i]));
        CU_ASSERT(d > 1e-2);
        float *o2 = falloc(no);
        model_window_attention(o2, qkv, bias, same, nW, N, C, heads, sc);
        double *pd = dalloc(no);
        to_double(pd, plain, no);
        CU_ASSERT(check_close("attention, one label", o2, pd, no, 1e-6));
        free(o2), free(pd);
        free(qkv), free(bias), free(out), free(plain), free(sc), free(qd), free(bd), free(want), free(lab), free(same);
    }
}

/* ---- the Earth-specific block ---- */

/* EarthSpecificBlock.forward on x (Z, Hl, Wl, C) of `layer`, in double. */
static void twin_block(double *out, const float *xin, const model *m, int layer, int roll) {
    const model_config *c = &m->cfg;
    const model_block *blk = &m->blocks[layer][roll];
    int mid = layer == 1 || layer == 2;
    int Z = c->Z, Hl = mid ? c->H2 : c->Ht, Wl = mid ? c->W2 : c->Wt, C = mid ? 2 * c->dim : c->dim;
    int heads = c->heads[layer], wz = c->window[0], wh = c->window[1], ww = c->window[2], N = wz * wh * ww;
    int Zp = ceil_to(Z, wz), Hp = ceil_to(Hl, wh), types = (Zp / wz) * (Hp / wh), nW = Wl / ww;
    int sh[3] = {roll ? wz / 2 : 0, roll ? wh / 2 : 0, roll ? ww / 2 : 0};
    size_t T = (size_t)Z * Hl * Wl, R = (size_t)types * nW * N;
    double *x = dalloc(T * C), *wins = dalloc(R * C), *att = dalloc(R * C), *qkv = dalloc((size_t)N * 3 * C);
    double *a = dalloc((size_t)N * C), *bias = dalloc((size_t)heads * N * N), *y = dalloc(T * C);
    double *x1 = dalloc(T * C), *hid = dalloc(T * 4 * C), *f = dalloc(T * C), *ln = dalloc(T * C);
    int *idx = ialloc(N * N), *img = ialloc(Zp * Hp), *lab = ialloc(N);
    double *field = dalloc((size_t)Zp * Hp * Wl), *labw = dalloc((size_t)Zp * Hp * Wl);
    to_double(x, xin, T * C);
    twin_bias_index(idx, wz, wh, ww);
    /* shift_mask: img over (Zp, Hp, W) partitioned to (types, nW, N) */
    twin_shift_img(img, Zp, Hp, wz, wh);
    for (int z = 0; z < Zp; z++)
        for (int h = 0; h < Hp; h++)
            for (int w = 0; w < Wl; w++) field[((size_t)z * Hp + h) * Wl + w] = img[z * Hp + h];
    twin_partition(labw, field, Zp, Hp, Wl, 1, c->window);

    twin_windows(wins, x, Z, Hl, Wl, C, c->window, sh);
    for (int t = 0; t < types; t++) {
        /* earth_specific_bias[index].view(N, N, T, h).permute(2, 3, 0, 1)[t] */
        for (int h = 0; h < heads; h++)
            for (int p = 0; p < N * N; p++)
                bias[(size_t)h * N * N + p] = blk->bias[((size_t)idx[p] * types + t) * heads + h];
        for (int w = 0; w < nW; w++) {
            size_t at = ((size_t)t * nW + w) * N;
            for (int i = 0; i < N; i++) lab[i] = (int)labw[at + i];
            twin_linear(qkv, wins + at * C, blk->qkv_w, blk->qkv_b, N, C, 3 * C);
            twin_attention_window(a, qkv, bias, roll ? lab : NULL, N, C, heads);
            twin_linear(att + at * C, a, blk->proj_w, blk->proj_b, N, C, C);
        }
    }
    twin_unwindows(y, att, Z, Hl, Wl, C, c->window, sh);
    /* x = shortcut + norm1(x); x = x + norm2(mlp(x)) */
    twin_layernorm_rows(ln, y, blk->norm1_w, blk->norm1_b, T, C);
    for (size_t i = 0; i < T * C; i++) x1[i] = x[i] + ln[i];
    twin_linear(hid, x1, blk->fc1_w, blk->fc1_b, T, C, 4 * C);
    for (size_t i = 0; i < T * 4 * C; i++) hid[i] = twin_gelu(hid[i]);
    twin_linear(f, hid, blk->fc2_w, blk->fc2_b, T, 4 * C, C);
    twin_layernorm_rows(ln, f, blk->norm2_w, blk->norm2_b, T, C);
    for (size_t i = 0; i < T * C; i++) out[i] = x1[i] + ln[i];
    free(x), free(wins), free(att), free(qkv), free(a), free(bias), free(y), free(x1), free(hid), free(f), free(ln);
    free(idx), free(img), free(lab), free(field), free(labw);
}

static void test_block(void) {
    /* the "tiny" preset (no padding at all), then tiny variants: padding in
     * levels and latitudes; a window of width 1 with odd token grids; odd
     * windows (3, 3, 3), where rolling by +1 and -1 differ */
    for (int variant = 0; variant < 4; variant++) {
        seed(105 + variant);
        model_config c;
        CU_ASSERT_FATAL(model_config_preset(&c, "tiny") == 0);
        if (variant == 1) { /* Z 3 -> 4, Ht 7 -> 9, H2 4 -> 6 */
            c.H = 28, c.nlev = 3;
            CU_ASSERT_FATAL(model_config_derive(&c) == 0);
        } else if (variant == 2) { /* Z 4, Ht 11 -> 12, H2 6, Wt 15, W2 8 */
            const int win[3] = {2, 3, 1}, patch[3] = {3, 2, 4};
            CU_ASSERT_FATAL(make_cfg(&c, 21, 57, 7, 8, win, patch) == 0);
        } else if (variant == 3) { /* Z 4 -> 6, Ht 6, Wt 12, H2 3, W2 6 */
            c.window[0] = c.window[1] = c.window[2] = 3;
            CU_ASSERT_FATAL(model_config_derive(&c) == 0);
        }
        model m;
        CU_ASSERT_FATAL(model_create(&m, &c) == 0);
        model_init_random(&m, 7 + variant, 0.1f);
        for (int i = 0; i < m.ntensors; i++) { /* nonzero biases, LayerNorm parameters away from (1, 0) */
            const model_tensor *t = &m.tensors[i];
            size_t len = strlen(t->name);
            if (!t->trainable) continue;
            if (len > 5 && strcmp(t->name + len - 5, ".bias") == 0) fill(m.params + t->offset, t->count, 0, 0.1);
            else if (strstr(t->name, "norm") && len > 7 && strcmp(t->name + len - 7, ".weight") == 0)
                fill(m.params + t->offset, t->count, 1, 0.1);
        }
        size_t stride;
        float *s = scratch_for(&c, &stride);
        /* pass 0: the unpacked weights (OpenBLAS); pass 1: the packed FP32
         * kernel with its fused epilogues (the projection's token map with
         * padded and shifted windows), where this CPU has one */
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1 && (!model_f32_available() || model_set_precision(&m, MODEL_FP32) != 0 || !m.blocks[0][0].qkv_f))
                break;
            for (int layer = 0; layer < 2; layer++)
                for (int roll = 0; roll < 2; roll++) {
                    int mid = layer == 1;
                    int Hl = mid ? c.H2 : c.Ht, Wl = mid ? c.W2 : c.Wt, C = mid ? 2 * c.dim : c.dim;
                    size_t T = (size_t)c.Z * Hl * Wl;
                    float *x = falloc(T * C);
                    double *want = dalloc(T * C);
                    fill(x, T * C, 0, 1);
                    twin_block(want, x, &m, layer, roll);
                    model_block_forward(x, &m.blocks[layer][roll], &c, layer, roll, m.bias_index, s, stride, model_ops_of(&m));
                    char what[112];
                    snprintf(what, sizeof what, "block variant %d layer %d roll %d (%dx%dx%d, C %d)%s", variant, layer,
                             roll, c.Z, Hl, Wl, C, pass ? ", packed FP32" : "");
                    CU_ASSERT(check_close(what, x, want, T * C, 1e-5));
                    free(x), free(want);
                }
        }
        free(s);
        model_free(&m);
    }
}

/* ---- patch embedding, sampling, patch recovery ---- */

/* Non-preset grids: H, W and L not multiples of the patch. */
static const int layer_cfgs[][11] = {
    /* H, W, nlev, dim, window, patch */
    {22, 45, 5, 8, 2, 3, 3, 2, 4, 4},  /* Ht 6, Wt 12, Z 4 */
    {21, 57, 7, 6, 2, 3, 1, 3, 2, 4},  /* Ht 11 (odd), Wt 15 (odd), Z 4 */
    {18, 46, 3, 4, 2, 3, 3, 2, 4, 4},  /* Ht 5 (odd), Wt 12, Z 3 */
};
enum { NLAYER_CFGS = sizeof layer_cfgs / sizeof layer_cfgs[0] };

static int layer_model(model *m, int k) {
    const int *p = layer_cfgs[k];
    model_config c;
    int win[3] = {p[4], p[5], p[6]}, patch[3] = {p[7], p[8], p[9]};
    if (make_cfg(&c, p[0], p[1], p[2], p[3], win, patch)) return -1;
    if (model_create(m, &c)) return -1;
    randomise(m);
    return 0;
}

static void test_patch_embed(void) {
    for (int k = 0; k < NLAYER_CFGS; k++) {
        seed(110 + k);
        model m;
        CU_ASSERT_FATAL(layer_model(&m, k) == 0);
        const model_config *c = &m.cfg;
        int C = c->dim, L = c->nlev, H = c->H, W = c->W, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
        int Lp = c->Lp, Hp = c->Hp, Wp = c->Wp, Ht = c->Ht, Wt = c->Wt, Z = c->Z;
        CU_ASSERT(L % pz != 0 && H % ph != 0 && W % pw != 0);
        size_t HW = (size_t)H * W, T = (size_t)Z * Ht * Wt, stride;
        float *up = falloc(5 * L * HW), *sf = falloc(4 * HW), *x = falloc(T * C), *s = scratch_for(c, &stride);
        for (int v = 0; v < 5; v++)
            for (int l = 0; l < L; l++)
                fill(up + ((size_t)v * L + l) * HW, HW, m.upper_mean[v * L + l], m.upper_std[v * L + l]);
        for (int v = 0; v < 4; v++) fill(sf + v * HW, HW, m.surface_mean[v], m.surface_std[v]);
        model_patch_embed_forward(x, &m, up, sf, s, stride);

        /* normalise, F.pad at the ends, concatenate the constants after the 4 surface variables */
        double *upn = dalloc((size_t)5 * Lp * Hp * Wp), *sfn = dalloc((size_t)7 * Hp * Wp);
        for (int v = 0; v < 5; v++)
            for (int l = 0; l < L; l++)
                for (int y = 0; y < H; y++)
                    for (int xx = 0; xx < W; xx++)
                        upn[(((size_t)v * Lp + l) * Hp + y) * Wp + xx] =
                            ((double)up[((size_t)v * L + l) * HW + (size_t)y * W + xx] - m.upper_mean[v * L + l]) /
                            m.upper_std[v * L + l];
        for (int ch = 0; ch < 7; ch++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++)
                    sfn[((size_t)ch * Hp + y) * Wp + xx] =
                        ch < 4 ? ((double)sf[ch * HW + (size_t)y * W + xx] - m.surface_mean[ch]) / m.surface_std[ch]
                               : m.constants[(ch - 4) * HW + (size_t)y * W + xx];
        /* Conv3d(5, C, patch, stride=patch) -> (C, Lp/pz, Ht, Wt); Conv2d(7, C) -> (C, Ht, Wt) */
        double *c3 = dalloc((size_t)C * (Z - 1) * Ht * Wt), *c2 = dalloc((size_t)C * Ht * Wt), *want = dalloc(T * C);
        for (int o = 0; o < C; o++)
            for (int a = 0; a < Z - 1; a++)
                for (int b = 0; b < Ht; b++)
                    for (int d = 0; d < Wt; d++) {
                        double acc = m.embed_b[o];
                        for (int v = 0; v < 5; v++)
                            for (int kz = 0; kz < pz; kz++)
                                for (int kh = 0; kh < ph; kh++) {
                                    const float *wk = m.embed_w + ((((size_t)o * 5 + v) * pz + kz) * ph + kh) * pw;
                                    const double *in = upn + (((size_t)v * Lp + a * pz + kz) * Hp + b * ph + kh) * Wp;
                                    for (int kw = 0; kw < pw; kw++) acc += (double)wk[kw] * in[d * pw + kw];
                                }
                        c3[(((size_t)o * (Z - 1) + a) * Ht + b) * Wt + d] = acc;
                    }
        for (int o = 0; o < C; o++)
            for (int b = 0; b < Ht; b++)
                for (int d = 0; d < Wt; d++) {
                    double acc = m.embed_sb[o];
                    for (int ch = 0; ch < 7; ch++)
                        for (int kh = 0; kh < ph; kh++)
                            for (int kw = 0; kw < pw; kw++)
                                acc += (double)m.embed_sw[(((size_t)o * 7 + ch) * ph + kh) * pw + kw] *
                                       sfn[((size_t)ch * Hp + b * ph + kh) * Wp + d * pw + kw];
                    c2[((size_t)o * Ht + b) * Wt + d] = acc;
                }
        /* torch.cat([sf[:, None], up], 1).permute(1, 2, 3, 0): surface at z = 0 */
        for (int z = 0; z < Z; z++)
            for (int b = 0; b < Ht; b++)
                for (int d = 0; d < Wt; d++)
                    for (int o = 0; o < C; o++)
                        want[(((size_t)z * Ht + b) * Wt + d) * C + o] =
                            z == 0 ? c2[((size_t)o * Ht + b) * Wt + d]
                                   : c3[(((size_t)o * (Z - 1) + z - 1) * Ht + b) * Wt + d];
        char what[64];
        snprintf(what, sizeof what, "patch embedding config %d", k);
        CU_ASSERT(check_close(what, x, want, T * C, 1e-5));
        free(up), free(sf), free(x), free(s), free(upn), free(sfn), free(c3), free(c2), free(want);
        model_free(&m);
    }
}

static void test_downsample(void) {
    for (int k = 0; k < NLAYER_CFGS; k++) {
        seed(120 + k);
        model m;
        CU_ASSERT_FATAL(layer_model(&m, k) == 0);
        const model_config *c = &m.cfg;
        int C = c->dim, Z = c->Z, Ht = c->Ht, Wt = c->Wt, H2 = c->H2, W2 = c->W2;
        int Hq = Ht + Ht % 2, Wq = Wt + Wt % 2; /* F.pad(x, (0, 0, 0, W % 2, 0, H % 2)) */
        size_t T1 = (size_t)Z * Ht * Wt, T2 = (size_t)Z * H2 * W2, stride;
        float *x = falloc(T1 * C), *out = falloc(T2 * 2 * C), *s = scratch_for(c, &stride);
        double *xd = dalloc(T1 * C), *xp = dalloc((size_t)Z * Hq * Wq * C), *g = dalloc(T2 * 4 * C);
        double *n = dalloc(T2 * 4 * C), *want = dalloc(T2 * 2 * C);
        fill(x, T1 * C, 0, 1);
        model_downsample_forward(out, &m, x, s, stride);
        to_double(xd, x, T1 * C);
        memset(xp, 0, sizeof(double) * Z * Hq * Wq * C);
        for (int z = 0; z < Z; z++)
            for (int h = 0; h < Ht; h++)
                for (int w = 0; w < Wt; w++)
                    memcpy(xp + (((size_t)z * Hq + h) * Wq + w) * C, xd + (((size_t)z * Ht + h) * Wt + w) * C,
                           sizeof(double) * C);
        /* view(Z, H2, 2, W2, 2, C).permute(0, 1, 3, 2, 4, 5).reshape(Z*H2*W2, 4C) */
        for (int z = 0; z < Z; z++)
            for (int a = 0; a < H2; a++)
                for (int b = 0; b < W2; b++)
                    for (int dh = 0; dh < 2; dh++)
                        for (int dw = 0; dw < 2; dw++)
                            memcpy(g + (((size_t)z * H2 + a) * W2 + b) * 4 * C + (dh * 2 + dw) * C,
                                   xp + (((size_t)z * Hq + 2 * a + dh) * Wq + 2 * b + dw) * C, sizeof(double) * C);
        twin_layernorm_rows(n, g, m.down_norm_w, m.down_norm_b, T2, 4 * C);
        twin_linear(want, n, m.down_w, NULL, T2, 4 * C, 2 * C);
        char what[64];
        snprintf(what, sizeof what, "down-sampling config %d (Ht %d, Wt %d)", k, Ht, Wt);
        CU_ASSERT(check_close(what, out, want, T2 * 2 * C, 1e-5));
        free(x), free(out), free(s), free(xd), free(xp), free(g), free(n), free(want);
        model_free(&m);
    }
}

static void test_upsample(void) {
    for (int k = 0; k < NLAYER_CFGS; k++) {
        seed(130 + k);
        model m;
        CU_ASSERT_FATAL(layer_model(&m, k) == 0);
        const model_config *c = &m.cfg;
        int C = c->dim, Z = c->Z, Ht = c->Ht, Wt = c->Wt, H2 = c->H2, W2 = c->W2;
        size_t T1 = (size_t)Z * Ht * Wt, T2 = (size_t)Z * H2 * W2, stride;
        float *in = falloc(T2 * 2 * C), *out = falloc(T1 * C), *s = scratch_for(c, &stride);
        double *ind = dalloc(T2 * 2 * C), *y = dalloc(T2 * 4 * C), *fine = dalloc((size_t)Z * 2 * H2 * 2 * W2 * C);
        double *crop = dalloc(T1 * C), *n = dalloc(T1 * C), *want = dalloc(T1 * C);
        fill(in, T2 * 2 * C, 0, 1);
        model_upsample_forward(out, &m, in, s, stride);
        to_double(ind, in, T2 * 2 * C);
        twin_linear(y, ind, m.up_w1, NULL, T2, 2 * C, 4 * C);
        /* view(Z, H2, W2, 2, 2, C).permute(0, 1, 3, 2, 4, 5).reshape(Z, 2 H2, 2 W2, C) */
        for (int z = 0; z < Z; z++)
            for (int a = 0; a < H2; a++)
                for (int dh = 0; dh < 2; dh++)
                    for (int b = 0; b < W2; b++)
                        for (int dw = 0; dw < 2; dw++)
                            memcpy(fine + (((size_t)z * 2 * H2 + 2 * a + dh) * 2 * W2 + 2 * b + dw) * C,
                                   y + (((size_t)z * H2 + a) * W2 + b) * 4 * C + (dh * 2 + dw) * C, sizeof(double) * C);
        /* x[:, :H, :W] */
        for (int z = 0; z < Z; z++)
            for (int h = 0; h < Ht; h++)
                memcpy(crop + ((size_t)z * Ht + h) * Wt * C, fine + ((size_t)z * 2 * H2 + h) * 2 * W2 * C,
                       sizeof(double) * Wt * C);
        twin_layernorm_rows(n, crop, m.up_norm_w, m.up_norm_b, T1, C);
        twin_linear(want, n, m.up_w2, NULL, T1, C, C);
        char what[64];
        snprintf(what, sizeof what, "up-sampling config %d (Ht %d, Wt %d)", k, Ht, Wt);
        CU_ASSERT(check_close(what, out, want, T1 * C, 1e-5));
        free(in), free(out), free(s), free(ind), free(y), free(fine), free(crop), free(n), free(want);
        model_free(&m);
    }
}

static void test_patch_recovery(void) {
    for (int k = 0; k < NLAYER_CFGS; k++) {
        seed(140 + k);
        model m;
        CU_ASSERT_FATAL(layer_model(&m, k) == 0);
        const model_config *c = &m.cfg;
        int C = c->dim, C2 = 2 * C, L = c->nlev, H = c->H, W = c->W;
        int pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
        int Z = c->Z, Ht = c->Ht, Wt = c->Wt, Lp = c->Lp, Hp = c->Hp, Wp = c->Wp;
        size_t T = (size_t)Z * Ht * Wt, HW = (size_t)H * W, stride;
        float *skip = falloc(T * C), *x = falloc(T * C), *s = scratch_for(c, &stride);
        float *up = falloc(5 * L * HW), *sf = falloc(4 * HW);
        double *cat = dalloc(T * C2), *o3 = dalloc((size_t)5 * Lp * Hp * Wp), *o2 = dalloc((size_t)4 * Hp * Wp);
        double *wu = dalloc(5 * L * HW), *ws = dalloc(4 * HW);
        fill(skip, T * C, 0, 1), fill(x, T * C, 0, 1);
        model_patch_recovery_forward(up, sf, &m, skip, x, s, stride);
        /* torch.cat([skip, x], -1) */
        for (size_t t = 0; t < T; t++)
            for (int i = 0; i < C2; i++) cat[t * C2 + i] = i < C ? skip[t * C + i] : x[t * C + i - C];
        /* ConvTranspose3d(2C, 5, patch, stride=patch) on tokens z >= 1: bias, then
         * every input adds in[i] * w[i, v, kz, kh, kw] at (a pz + kz, b ph + kh, d pw + kw) */
        for (int v = 0; v < 5; v++)
            for (size_t i = 0; i < (size_t)Lp * Hp * Wp; i++) o3[v * (size_t)Lp * Hp * Wp + i] = m.rec_b[v];
        for (int v = 0; v < 4; v++)
            for (size_t i = 0; i < (size_t)Hp * Wp; i++) o2[v * (size_t)Hp * Wp + i] = m.rec_sb[v];
        for (int z = 0; z < Z; z++)
            for (int b = 0; b < Ht; b++)
                for (int d = 0; d < Wt; d++) {
                    const double *in = cat + (((size_t)z * Ht + b) * Wt + d) * C2;
                    for (int i = 0; i < C2; i++)
                        if (z == 0) {
                            for (int v = 0; v < 4; v++)
                                for (int kh = 0; kh < ph; kh++)
                                    for (int kw = 0; kw < pw; kw++)
                                        o2[((size_t)v * Hp + b * ph + kh) * Wp + d * pw + kw] +=
                                            in[i] * m.rec_sw[(((size_t)i * 4 + v) * ph + kh) * pw + kw];
                        } else {
                            int a = z - 1;
                            for (int v = 0; v < 5; v++)
                                for (int kz = 0; kz < pz; kz++)
                                    for (int kh = 0; kh < ph; kh++) {
                                        double *o = o3 + (((size_t)v * Lp + a * pz + kz) * Hp + b * ph + kh) * Wp;
                                        const float *wk = m.rec_w + ((((size_t)i * 5 + v) * pz + kz) * ph + kh) * pw;
                                        for (int kw = 0; kw < pw; kw++) o[d * pw + kw] += in[i] * wk[kw];
                                    }
                        }
                }
        /* [:, :L, :H, :W], then up * std + mean */
        for (int v = 0; v < 5; v++)
            for (int l = 0; l < L; l++)
                for (int y = 0; y < H; y++)
                    for (int xx = 0; xx < W; xx++)
                        wu[((size_t)v * L + l) * HW + (size_t)y * W + xx] =
                            o3[(((size_t)v * Lp + l) * Hp + y) * Wp + xx] * m.upper_std[v * L + l] +
                            m.upper_mean[v * L + l];
        for (int v = 0; v < 4; v++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++)
                    ws[v * HW + (size_t)y * W + xx] =
                        o2[((size_t)v * Hp + y) * Wp + xx] * m.surface_std[v] + m.surface_mean[v];
        char what[64];
        snprintf(what, sizeof what, "patch recovery upper, config %d", k);
        CU_ASSERT(check_close(what, up, wu, 5 * L * HW, 1e-5));
        snprintf(what, sizeof what, "patch recovery surface, config %d", k);
        CU_ASSERT(check_close(what, sf, ws, 4 * HW, 1e-5));
        free(skip), free(x), free(s), free(up), free(sf), free(cat), free(o3), free(o2), free(wu), free(ws);
        model_free(&m);
    }
}

int tests_register_kernels(void) {
    CU_pSuite s = CU_add_suite("kernels", NULL, NULL);
    if (!s) return -1;
    struct {
        const char *name;
        void (*fn)(void);
    } t[] = {
        {"layernorm: hand values, rows against a twin, in place", test_layernorm},
        {"exact GELU: hand values and erf sweep, in place", test_gelu},
        {"linear against a triple loop, with and without bias", test_linear},
        {"Earth-specific bias index: hand values and meshgrid formula", test_bias_index},
        {"Earth-specific bias gather: staged equals direct, bit for bit", test_bias_gather},
        {"shift-mask labels against Python slices (and per window type)", test_shift_labels},
        {"window gather and token map against pad/roll/partition and inverse", test_window_partition},
        {"window attention against a naive twin, with and without labels", test_attention},
        {"Earth-specific block against its composed definition", test_block},
        {"patch embedding against naive Conv3d/Conv2d", test_patch_embed},
        {"down-sampling against a naive twin (odd token grids)", test_downsample},
        {"up-sampling against a naive twin (odd token grids)", test_upsample},
        {"patch recovery against naive transposed convolutions", test_patch_recovery},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!CU_add_test(s, t[i].name, t[i].fn)) return -1;
    return 0;
}
