/* model train: loss and gradients of every trainable parameter for one
 * sample (llm.c style: one backward per layer, outputs first). The forward
 * keeps only each block's input; a block's activations are recomputed just
 * before its backward, so activation memory is one block plus the block
 * inputs. Weight gradients accumulate (+=) so batches sum. */
#define _DEFAULT_SOURCE
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../util/threads.h"
#include "../util/util.h"
#include "internal.h"


/* ---- row-parallel GEMMs (BLAS single-threaded inside) ---- */

/* out (M, N) = in (M, K) @ w^T (w is (N, K)) + b */
static void par_linear(float *out, const float *in, const float *w, const float *b, long M, int K, int N) {
    long chunk = 512, nchunks = (M + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nchunks; c++) {
        long r0 = c * chunk, n = M - r0 < chunk ? M - r0 : chunk;
        model_linear_forward(out + r0 * N, in + r0 * K, w, b, (int)n, K, N);
    }
}

/* din (M, K) (+)= dout (M, N) @ w (w is (N, K)) */
static void par_linear_dinput(float *din, const float *dout, const float *w, long M, int K, int N, float beta) {
    long chunk = 512, nchunks = (M + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nchunks; c++) {
        long r0 = c * chunk, n = M - r0 < chunk ? M - r0 : chunk;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, K, N, 1.0f, dout + r0 * N, N, w, K, beta,
                    din + r0 * K, K);
    }
}

/* dw (N, K) += dout^T (dout is (M, N)) @ in (M, K); db (N) += column sums of dout.
 * Split over the N output rows: disjoint writes, no atomics. */
static void par_linear_dweight(float *dw, float *db, const float *dout, const float *in, long M, int K, int N) {
    int nt = omp_get_max_threads(), per = (N + nt - 1) / nt;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < nt; t++) {
        int n0 = t * per, n = N - n0 < per ? N - n0 : per;
        if (n <= 0) continue;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, K, (int)M, 1.0f, dout + n0, N, in, K, 1.0f,
                    dw + (size_t)n0 * K, K);
        if (db)
            for (int j = n0; j < n0 + n; j++) {
                double s = 0;
                for (long r = 0; r < M; r++) s += dout[r * N + j];
                db[j] += (float)s;
            }
    }
}

/* LayerNorm backward of one row: dx (+)= ..., dw/db accumulate. */
static void layernorm_backward_row(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                   int C, int accumulate) {
    double mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    double rstd = 1.0 / sqrt(var + 1e-5), a = 0, b = 0;
    for (int i = 0; i < C; i++) {
        double xhat = (x[i] - mean) * rstd, g = (double)dy[i] * w[i];
        a += g, b += g * xhat;
        dw[i] += (float)(dy[i] * xhat);
        db[i] += dy[i];
    }
    a /= C, b /= C;
    for (int i = 0; i < C; i++) {
        double xhat = (x[i] - mean) * rstd;
        float v = (float)(rstd * ((double)dy[i] * w[i] - a - xhat * b));
        dx[i] = accumulate ? dx[i] + v : v;
    }
}

/* Per-thread partial LayerNorm parameter gradients, summed at the end. */
typedef struct {
    float *buf; /* (nthreads, 2, C) */
    int C, nt;
} ln_acc;

static void ln_acc_reduce(const ln_acc *a, float *dw, float *db) {
    for (int t = 0; t < a->nt; t++)
        for (int i = 0; i < a->C; i++) {
            dw[i] += a->buf[(size_t)t * 2 * a->C + i];
            db[i] += a->buf[(size_t)t * 2 * a->C + a->C + i];
        }
}

/* ---- gradients laid out like the parameters ---- */
typedef struct {
    const model *m;
    float *g; /* nparams */
} grads;

static float *G(const grads *gr, const float *param) { return gr->g + (param - gr->m->params); }

/* ---- one Earth-specific block: forward with cache, backward ---- */

typedef struct {
    float *xw, *qkv, *att, *pr; /* (Tp, C), (Tp, 3C), (Tp, C), (Tp, C) */
    float *xmid, *h, *y;        /* (T, C), (T, 4C), (T, C) */
    float *tmp4;                /* (T, 4C) gelu output / hidden gradients */
    float *d1, *d2;             /* (Tp, 3C), (Tp, C) */
    float *scores;              /* nthreads * (heads+2) * N * N */
    float *lnbuf;               /* nthreads * 2 * C */
} block_cache;

/* The block forward that keeps the activations the backward reads. It is
 * apart from model_block_forward on purpose: inference fuses GELU and the
 * norm-add into packed GEMMs, uses the SIMD GELU/LayerNorm and never holds
 * the (T, 4C) hidden layer or the pre-norm projection whole; the backward
 * needs those, in the scalar arithmetic the gradient fixtures were checked
 * with, and the drop-path scales inference has no use for. */
static void block_forward_cached(float *xout, const float *xin, const model_block *blk, const model_config *c, int layer,
                                 int roll, const int *bias_index, block_cache *bc, const float *drop) {
    const model_block_shape sh = model_block_shape_of(c, layer, roll);
    int C = sh.C, N = sh.N;
    float s_attn = drop ? drop[0] : 1.0f, s_mlp = drop ? drop[1] : 1.0f;
    for (int t = 0; t < sh.types; t++)
        model_window_gather(bc->xw + (size_t)t * sh.rows * C, xin, t, sh.Z, sh.Hl, sh.Wl, C, c->window, sh.shift);
    par_linear(bc->qkv, bc->xw, blk->qkv_w, blk->qkv_b, sh.Tp, C, 3 * C);
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < sh.types; t++) {
        float *sc = bc->scores + (size_t)omp_get_thread_num() * (sh.heads + 2) * N * N;
        int labels[N];
        model_window_labels(labels, t, sh.Zp, sh.Hp, c->window);
        const float *bias_t = model_block_bias(sc + (size_t)N * N, NULL, blk->bias, c->full_bias, bias_index, t,
                                               sh.types, sh.heads, N, c->window);
        model_window_attention(bc->att + (size_t)t * sh.rows * C, bc->qkv + (size_t)t * sh.rows * 3 * C, bias_t,
                               roll ? labels : NULL, sh.nW, N, C, sh.heads, sc);
    }
    par_linear(bc->pr, bc->att, blk->proj_w, blk->proj_b, sh.Tp, C, C);
    memcpy(bc->xmid, xin, sizeof(float) * sh.T * C);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < sh.Tp; r++) {
        long tok = model_window_token((int)(r / sh.rows), (int)(r % sh.rows), sh.Z, sh.Hl, sh.Wl, c->window, sh.shift);
        if (tok < 0) continue;
        float y[C];
        model_layernorm_forward(y, bc->pr + r * C, blk->norm1_w, blk->norm1_b, 1, C);
        for (int i = 0; i < C; i++) bc->xmid[tok * C + i] += s_attn * y[i];
    }
    par_linear(bc->h, bc->xmid, blk->fc1_w, blk->fc1_b, sh.T, C, 4 * C);
    model_gelu_forward(bc->tmp4, bc->h, (size_t)sh.T * 4 * C);
    par_linear(bc->y, bc->tmp4, blk->fc2_w, blk->fc2_b, sh.T, 4 * C, C);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < sh.T; r++) {
        float z[C];
        model_layernorm_forward(z, bc->y + r * C, blk->norm2_w, blk->norm2_b, 1, C);
        for (int i = 0; i < C; i++) xout[r * C + i] = bc->xmid[r * C + i] + s_mlp * z[i];
    }
}

/* Attention backward of the nW windows of one type. dqkv (rows, 3C) from
 * datt (rows, C); dbias_t (heads, N, N) accumulates the pre-softmax score
 * gradients. sc holds 2 * N * N floats. */
static void attention_backward(float *dqkv, float *dbias_t, const float *datt, const float *qkv, const float *bias_t,
                               const int *labels, int nW, int N, int C, int heads, float *sc) {
    int d = C / heads, ld = 3 * C;
    float scale = (float)(1.0 / sqrt((double)d));
    float *P = sc, *dP = sc + (size_t)N * N;
    for (int w = 0; w < nW; w++) {
        const float *base = qkv + (size_t)w * N * ld;
        float *dbase = dqkv + (size_t)w * N * ld;
        for (int h = 0; h < heads; h++) {
            const float *q = base + h * d, *k = base + C + h * d, *v = base + 2 * C + h * d;
            const float *dO = datt + (size_t)w * N * C + h * d;
            const float *bt = bias_t + (size_t)h * N * N;
            /* P = softmax(scale q k^T + bias + mask), recomputed */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, scale, q, ld, k, ld, 0.0f, P, N);
            for (int i = 0; i < N; i++) {
                float *s = P + (size_t)i * N, mx = -INFINITY, sum = 0;
                for (int j = 0; j < N; j++) {
                    s[j] += bt[i * N + j];
                    if (labels && labels[i] != labels[j]) s[j] += -100.0f;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < N; j++) sum += (s[j] = expf(s[j] - mx));
                for (int j = 0; j < N; j++) s[j] /= sum;
            }
            /* dv = P^T dO; dP = dO v^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, d, N, 1.0f, P, N, dO, C, 0.0f, dbase + 2 * C + h * d, ld);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, 1.0f, dO, C, v, ld, 0.0f, dP, N);
            /* dS = P * (dP - rowsum(dP * P)) */
            for (int i = 0; i < N; i++) {
                float *p = P + (size_t)i * N, *dp = dP + (size_t)i * N;
                double dot = 0;
                for (int j = 0; j < N; j++) dot += (double)dp[j] * p[j];
                for (int j = 0; j < N; j++) dp[j] = p[j] * (dp[j] - (float)dot);
            }
            float *db = dbias_t + (size_t)h * N * N;
            for (int i = 0; i < N * N; i++) db[i] += dP[i];
            /* dq = scale dS k; dk = scale dS^T q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, scale, dP, N, k, ld, 0.0f, dbase + h * d, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, d, N, scale, dP, N, q, ld, 0.0f, dbase + C + h * d, ld);
        }
    }
}

/* dx (T, C) = gradient wrt the block input, given dxout (T, C) (may alias dx). */
static void block_backward(float *dx, const float *dxout, const float *xin, const model_block *blk, const grads *gr,
                           const model_config *c, int layer, int roll, const int *bias_index, block_cache *bc,
                           const float *drop) {
    const model_block_shape sh = model_block_shape_of(c, layer, roll);
    int C = sh.C, N = sh.N;
    float s_attn = drop ? drop[0] : 1.0f, s_mlp = drop ? drop[1] : 1.0f;
    int nt = omp_get_max_threads();
    ln_acc acc = {bc->lnbuf, C, nt};
    float *dxmid = bc->d2 + 0; /* reuse: (T, C) fits in (Tp, C) */
    /* MLP branch: xout = xmid + s * LN2(y) */
    float *dy = bc->d1; /* (T, C) */
    memset(acc.buf, 0, sizeof(float) * 2 * C * nt);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < sh.T; r++) {
        float *a = acc.buf + (size_t)omp_get_thread_num() * 2 * C, g[C];
        for (int i = 0; i < C; i++) g[i] = s_mlp * dxout[r * C + i];
        layernorm_backward_row(dy + r * C, a, a + C, g, bc->y + r * C, blk->norm2_w, C, 0);
    }
    ln_acc_reduce(&acc, G(gr, blk->norm2_w), G(gr, blk->norm2_b));
    model_gelu_forward(bc->tmp4, bc->h, (size_t)sh.T * 4 * C);
    par_linear_dweight(G(gr, blk->fc2_w), G(gr, blk->fc2_b), dy, bc->tmp4, sh.T, 4 * C, C);
    par_linear_dinput(bc->tmp4, dy, blk->fc2_w, sh.T, 4 * C, C, 0.0f); /* d gelu output */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < sh.T * 4 * C; i++) {
        double x = bc->h[i];
        double dg = 0.5 * (1 + erf(x * M_SQRT1_2)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
        bc->tmp4[i] = (float)(bc->tmp4[i] * dg);
    }
    par_linear_dweight(G(gr, blk->fc1_w), G(gr, blk->fc1_b), bc->tmp4, bc->xmid, sh.T, C, 4 * C);
    memcpy(dxmid, dxout, sizeof(float) * sh.T * C);
    par_linear_dinput(dxmid, bc->tmp4, blk->fc1_w, sh.T, C, 4 * C, 1.0f);
    /* Attention branch: xmid = xin + s * LN1(pr) at each token's window row. */
    float *dpr = bc->d1; /* (Tp, C) */
    memset(acc.buf, 0, sizeof(float) * 2 * C * nt);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < sh.Tp; r++) {
        long tok = model_window_token((int)(r / sh.rows), (int)(r % sh.rows), sh.Z, sh.Hl, sh.Wl, c->window, sh.shift);
        if (tok < 0) {
            memset(dpr + r * C, 0, sizeof(float) * C);
            continue;
        }
        float *a = acc.buf + (size_t)omp_get_thread_num() * 2 * C, g[C];
        for (int i = 0; i < C; i++) g[i] = s_attn * dxmid[tok * C + i];
        layernorm_backward_row(dpr + r * C, a, a + C, g, bc->pr + r * C, blk->norm1_w, C, 0);
    }
    ln_acc_reduce(&acc, G(gr, blk->norm1_w), G(gr, blk->norm1_b));
    par_linear_dweight(G(gr, blk->proj_w), G(gr, blk->proj_b), dpr, bc->att, sh.Tp, C, C);
    float *datt = bc->att; /* the attention output is no longer needed */
    par_linear_dinput(datt, dpr, blk->proj_w, sh.Tp, C, C, 0.0f);
    float *dqkv = bc->d1; /* (Tp, 3C): the projection gradient is no longer needed */
    float *dbias = G(gr, blk->bias);
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < sh.types; t++) {
        float *sc = bc->scores + (size_t)omp_get_thread_num() * (sh.heads + 2) * N * N;
        /* a full bias's gradient accumulates in place: each type owns its slice */
        float *dbias_t = c->full_bias ? dbias + (size_t)t * sh.heads * N * N
                                      : bc->scores + (size_t)nt * (sh.heads + 2) * N * N + (size_t)t * sh.heads * N * N;
        int labels[N];
        model_window_labels(labels, t, sh.Zp, sh.Hp, c->window);
        const float *bias_t =
            model_block_bias(sc + 2 * (size_t)N * N, NULL, blk->bias, c->full_bias, bias_index, t, sh.types, sh.heads,
                             N, c->window);
        if (!c->full_bias) memset(dbias_t, 0, sizeof(float) * sh.heads * N * N);
        attention_backward(dqkv + (size_t)t * sh.rows * 3 * C, dbias_t, datt + (size_t)t * sh.rows * C,
                           bc->qkv + (size_t)t * sh.rows * 3 * C, bias_t, roll ? labels : NULL, sh.nW, N, C, sh.heads,
                           sc);
        /* Scatter into the bias table: each type owns its column, so threads never collide. */
        if (!c->full_bias)
            for (int h = 0; h < sh.heads; h++)
                for (int p = 0; p < N * N; p++)
                    dbias[((size_t)bias_index[p] * sh.types + t) * sh.heads + h] += dbias_t[(size_t)h * N * N + p];
    }
    par_linear_dweight(G(gr, blk->qkv_w), G(gr, blk->qkv_b), dqkv, bc->xw, sh.Tp, C, 3 * C);
    float *dxw = bc->xw; /* (Tp, C) */
    par_linear_dinput(dxw, dqkv, blk->qkv_w, sh.Tp, C, 3 * C, 0.0f);
    /* dx = dxmid (residual) + window rows scattered back to their tokens. */
    if (dx != dxmid) memcpy(dx, dxmid, sizeof(float) * sh.T * C);
#pragma omp parallel for schedule(static)
    for (long r = 0; r < sh.Tp; r++) {
        long tok = model_window_token((int)(r / sh.rows), (int)(r % sh.rows), sh.Z, sh.Hl, sh.Wl, c->window, sh.shift);
        if (tok < 0) continue;
        for (int i = 0; i < C; i++) dx[tok * C + i] += dxw[r * C + i];
    }
    (void)xin;
}

/* Lay out one block's cache at base; returns the floats it spans (base may
 * be NULL to only measure). */
static size_t block_cache_carve(block_cache *bc, float *base, const model_config *c, int layer, int nt) {
    int Hl = model_layer_lat_tokens(c, layer), Wl = model_layer_lon_tokens(c, layer), N = c->window[0] * c->window[1] * c->window[2];
    size_t C = model_layer_channels(c, layer), T = (size_t)c->Z * Hl * Wl;
    size_t types = (size_t)model_window_types(c, Hl), Tp = types * (Wl / c->window[2]) * N;
    size_t big = Tp > T ? Tp : T;
    size_t used = 0;
#define TAKE(ptr, n) (ptr = base ? base + used : NULL, used += ((n) + 15) / 16 * 16)
    TAKE(bc->xw, big * C);
    TAKE(bc->qkv, Tp * 3 * C);
    TAKE(bc->att, big * C);
    TAKE(bc->pr, Tp * C);
    TAKE(bc->xmid, T * C);
    TAKE(bc->h, T * 4 * C);
    TAKE(bc->y, T * C);
    TAKE(bc->tmp4, T * 4 * C);
    TAKE(bc->d1, big * 3 * C);
    TAKE(bc->d2, big * C);
    TAKE(bc->scores, (size_t)(nt * (c->heads[layer] + 2) + types * c->heads[layer]) * N * N);
    TAKE(bc->lnbuf, (size_t)nt * 2 * C);
#undef TAKE
    return used;
}

static size_t block_cache_floats(const model_config *c, int nt) {
    block_cache bc;
    size_t need = 0;
    for (int l = 0; l < 4; l++) {
        size_t n = block_cache_carve(&bc, NULL, c, l, nt);
        if (n > need) need = n;
    }
    return need;
}

/* ---- one function per layer and direction, outputs first ---- */

static const float *drop_at(const float *drop, int block_index) { return drop ? drop + 2 * block_index : NULL; }

/* One block forward in training: x (T, C) = block(xin). With drop path the
 * activations go through the cached forward, so that the drop scales apply;
 * without, through the inference forward. */
static void block_forward_train(float *x, const float *xin, const model *m, int layer, int b, const float *drop_b,
                                float *cache, int nt, float *scratch, size_t stride) {
    const model_config *c = &m->cfg;
    if (drop_b) {
        block_cache bc;
        block_cache_carve(&bc, cache, c, layer, nt);
        block_forward_cached(x, xin, &m->blocks[layer][b], c, layer, b % 2, m->bias_index, &bc, drop_b);
    } else
        model_block_forward(x, &m->blocks[layer][b], c, layer, b % 2, m->bias_index, scratch, stride, model_ops_of(m));
}

/* dx (T, C) in place: recompute the block's activations from its input xin,
 * then its backward. tmp (T, C) takes the recomputed output. */
static void block_recompute_backward(float *dx, float *tmp, const float *xin, const grads *gr, int layer, int b,
                                     const float *drop_b, float *cache, int nt) {
    const model *m = gr->m;
    block_cache bc;
    block_cache_carve(&bc, cache, &m->cfg, layer, nt);
    block_forward_cached(tmp, xin, &m->blocks[layer][b], &m->cfg, layer, b % 2, m->bias_index, &bc, drop_b);
    block_backward(dx, dx, xin, &m->blocks[layer][b], gr, &m->cfg, layer, b % 2, m->bias_index, &bc, drop_b);
}

/* Patch recovery forward, the loss and its gradient. skip, x4 are
 * (Z, Ht, Wt, C); dY is (Z * Ht * Wt, Kr): each token's recovered patch
 * gradient (k used entries of Kr). Returns the loss. */
static double recovery_loss_backward(float *dY, const model *m, const float *skip, const float *x4,
                                     const float *upper_tgt, const float *surface_tgt, float surface_weight,
                                     float *scratch, size_t stride) {
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2], L = c->nlev, H = c->H, W = c->W;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, HW = (size_t)H * W;
    int K = model_upper_channels(c) * pz * ph * pw, Ku = MODEL_NUPPER * pz * ph * pw;
    int Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw, Kr = Ks > K ? Ks : K;
    int pos = c->recovery_bias_position;
    double loss_u = 0, loss_s = 0;
    size_t nu = (size_t)MODEL_NUPPER * L * HW, ns = (size_t)MODEL_NSURFACE * HW;
    memset(dY, 0, sizeof(float) * T1 * Kr);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : loss_u, loss_s)
    for (size_t row = 0; row < (size_t)c->Z * c->Ht; row++) {
        int z = (int)(row / c->Ht), ht = (int)(row % c->Ht);
        int k = z == 0 ? MODEL_NSURFACE * ph * pw : Ku;
        const float *w = z == 0 ? m->rec_sw : m->rec_w;
        float *y = scratch + (size_t)omp_get_thread_num() * stride;
        const float *a = skip + row * c->Wt * C, *b = x4 + row * c->Wt * C;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->Wt, k, C, 1.0f, a, C, w, k, 0.0f, y, k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->Wt, k, C, 1.0f, b, C, w + (size_t)C * k, k, 1.0f, y, k);
        float *dyr = dY + row * c->Wt * Kr;
        for (int wt = 0; wt < c->Wt; wt++)
            for (int e = 0; e < k; e++) {
                int v, lev = 0, kh, kw;
                if (z == 0) v = e / (ph * pw), kh = e / pw % ph, kw = e % pw;
                else v = e / (pz * ph * pw), lev = (z - 1) * pz + e / (ph * pw) % pz, kh = e / pw % ph, kw = e % pw;
                int lat = ht * ph + kh, lon = wt * pw + kw;
                if (lat >= H || lon >= W || (z > 0 && lev >= L)) continue;
                size_t at = (size_t)lat * W + lon;
                float out, tgt, sd, mean;
                if (z == 0) {
                    sd = m->surface_std[v], mean = m->surface_mean[v], tgt = surface_tgt[v * HW + at];
                    out = (y[(size_t)wt * k + e] + m->rec_sb[pos ? e : v]) * sd + mean;
                } else {
                    int s = v * L + lev;
                    sd = m->upper_std[s], mean = m->upper_mean[s], tgt = upper_tgt[(size_t)s * HW + at];
                    out = (y[(size_t)wt * k + e] + m->rec_b[pos ? e : v]) * sd + mean;
                }
                /* The reference's loss: mean |(out - target) / std|, surface weighted. */
                float dn = (out - tgt) / sd;
                float sg = dn > 0 ? 1.0f : dn < 0 ? -1.0f : 0.0f;
                if (z == 0) {
                    loss_s += fabsf(dn);
                    dyr[(size_t)wt * Kr + e] = surface_weight * sg / (float)ns;
                } else {
                    loss_u += fabsf(dn);
                    dyr[(size_t)wt * Kr + e] = sg / (float)nu;
                }
            }
    }
    return loss_u / nu + surface_weight * loss_s / ns;
}

/* Patch recovery backward: weight and bias gradients, and dskip, dx4
 * (Z, Ht, Wt, C) from dY (Z * Ht * Wt, Kr). Rows of z = 0 use the surface
 * kernel (ks of Kr used), the others the upper-air one (Ku). */
static void recovery_backward(float *dskip, float *dx4, const grads *gr, const float *dY, const float *skip,
                              const float *x4) {
    const model *m = gr->m;
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = model_upper_channels(c) * pz * ph * pw, Ku = MODEL_NUPPER * pz * ph * pw;
    int Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw, Kr = Ks > K ? Ks : K;
    int pos = c->recovery_bias_position;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, rows0 = (size_t)c->Ht * c->Wt, ks = (size_t)MODEL_NSURFACE * ph * pw;
    float *Ws = G(gr, m->rec_sw), *Wu = G(gr, m->rec_w);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)ks, (int)rows0, 1.0f, skip, C, dY, Kr, 1.0f, Ws, (int)ks);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)ks, (int)rows0, 1.0f, x4, C, dY, Kr, 1.0f,
                Ws + (size_t)C * ks, (int)ks);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, Ku, (int)(T1 - rows0), 1.0f, skip + rows0 * C, C,
                dY + rows0 * Kr, Kr, 1.0f, Wu, Ku);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, Ku, (int)(T1 - rows0), 1.0f, x4 + rows0 * C, C,
                dY + rows0 * Kr, Kr, 1.0f, Wu + (size_t)C * Ku, Ku);
    float *bs = G(gr, m->rec_sb), *bu = G(gr, m->rec_b);
    for (size_t r = 0; r < T1; r++)
        for (int e = 0; e < (r < rows0 ? (int)ks : Ku); e++) {
            float g = dY[r * Kr + e];
            if (r < rows0) bs[pos ? e : e / (ph * pw)] += g;
            else bu[pos ? e : e / (pz * ph * pw)] += g;
        }
    /* d[skip, x4] = dY @ W^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows0, C, (int)ks, 1.0f, dY, Kr, m->rec_sw, (int)ks, 0.0f,
                dskip, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows0, C, (int)ks, 1.0f, dY, Kr, m->rec_sw + (size_t)C * ks,
                (int)ks, 0.0f, dx4, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(T1 - rows0), C, Ku, 1.0f, dY + rows0 * Kr, Kr, m->rec_w,
                Ku, 0.0f, dskip + rows0 * C, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(T1 - rows0), C, Ku, 1.0f, dY + rows0 * Kr, Kr,
                m->rec_w + (size_t)C * Ku, Ku, 0.0f, dx4 + rows0 * C, C);
}

/* Offset in (Z, H2, W2, 4C) of token (z, h, w) of (Z, Ht, Wt, C): up-sampling
 * spreads each coarse token's 4C over a 2 x 2 patch. */
static size_t upsample_source(const model_config *c, size_t z, int h, int w) {
    return ((z * c->H2 + h / 2) * c->W2 + w / 2) * 4 * c->dim + (size_t)((h % 2) * 2 + w % 2) * c->dim;
}

/* Up-sampling backward: dx2 (Z, H2, W2, 2C) from dx4 (Z, Ht, Wt, C); xin is
 * its input (Z, H2, W2, 2C). Work: ybuf, gbuf (Z, H2, W2, 4C), fbuf, df
 * (Z, Ht, Wt, C). */
static void upsample_backward(float *dx2, const grads *gr, const float *dx4, const float *xin, float *ybuf,
                              float *gbuf, float *fbuf, float *df) {
    const model *m = gr->m;
    const model_config *c = &m->cfg;
    int C = c->dim;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, T2 = (size_t)c->Z * c->H2 * c->W2;
    /* recompute y = xin W1^T and f = LN(y scattered, cropped) */
    par_linear(ybuf, xin, m->up_w1, NULL, (long)T2, 2 * C, 4 * C);
    for (size_t z = 0; z < (size_t)c->Z; z++)
        for (int h = 0; h < c->Ht; h++)
            for (int w = 0; w < c->Wt; w++)
                model_layernorm_forward(fbuf + ((z * c->Ht + h) * c->Wt + w) * C, ybuf + upsample_source(c, z, h, w),
                                        m->up_norm_w, m->up_norm_b, 1, C);
    par_linear_dweight(G(gr, m->up_w2), NULL, dx4, fbuf, (long)T1, C, C);
    par_linear_dinput(df, dx4, m->up_w2, (long)T1, C, C, 0.0f);
    memset(gbuf, 0, sizeof(float) * T2 * 4 * C); /* d y */
    float *dnw = G(gr, m->up_norm_w), *dnb = G(gr, m->up_norm_b);
    for (size_t z = 0; z < (size_t)c->Z; z++)
        for (int h = 0; h < c->Ht; h++)
            for (int w = 0; w < c->Wt; w++) {
                size_t src = upsample_source(c, z, h, w);
                layernorm_backward_row(gbuf + src, dnw, dnb, df + ((z * c->Ht + h) * c->Wt + w) * C, ybuf + src,
                                       m->up_norm_w, C, 0);
            }
    par_linear_dweight(G(gr, m->up_w1), NULL, gbuf, xin, (long)T2, 2 * C, 4 * C);
    par_linear_dinput(dx2, gbuf, m->up_w1, (long)T2, 2 * C, 4 * C, 0.0f);
}

/* g (Z, H2, W2, 4C) = each 2 x 2 patch of skip (Z, Ht, Wt, C), zero past the edges. */
static void downsample_gather(float *g, const model_config *c, const float *skip) {
    int C = c->dim;
    for (size_t z = 0; z < (size_t)c->Z; z++)
        for (int h2 = 0; h2 < c->H2; h2++)
            for (int w2 = 0; w2 < c->W2; w2++)
                for (int q = 0; q < 4; q++) {
                    int h = 2 * h2 + q / 2, w = 2 * w2 + q % 2;
                    float *dst = g + (((z * c->H2 + h2) * c->W2 + w2) * 4 + q) * C;
                    if (h < c->Ht && w < c->Wt) memcpy(dst, skip + ((z * c->Ht + h) * c->Wt + w) * C, sizeof(float) * C);
                    else memset(dst, 0, sizeof(float) * C);
                }
}

/* Down-sampling backward: dx1 (Z, Ht, Wt, C) = dskip + the gradient through
 * the down-sampling of skip, from dx2 (Z, H2, W2, 2C). Work: gbuf, ybuf
 * (Z, H2, W2, 4C). */
static void downsample_backward(float *dx1, const grads *gr, const float *dskip, const float *dx2, const float *skip,
                                float *gbuf, float *ybuf) {
    const model *m = gr->m;
    const model_config *c = &m->cfg;
    int C = c->dim;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, T2 = (size_t)c->Z * c->H2 * c->W2;
    /* recompute g = gather(skip) and n = LN(g) */
    downsample_gather(gbuf, c, skip);
    model_layernorm_forward(ybuf, gbuf, m->down_norm_w, m->down_norm_b, (int)T2, 4 * C);
    par_linear_dweight(G(gr, m->down_w), NULL, dx2, ybuf, (long)T2, 4 * C, 2 * C);
    par_linear_dinput(ybuf, dx2, m->down_w, (long)T2, 4 * C, 2 * C, 0.0f); /* d n, overwrites n */
    float *dnw = G(gr, m->down_norm_w), *dnb = G(gr, m->down_norm_b);
    memcpy(dx1, dskip, sizeof(float) * T1 * C);
    float g4[4 * C];
    for (size_t r = 0; r < T2; r++) {
        layernorm_backward_row(g4, dnw, dnb, ybuf + r * 4 * C, gbuf + r * 4 * C, m->down_norm_w, 4 * C, 0);
        size_t z = r / ((size_t)c->H2 * c->W2);
        int h2 = (int)(r / c->W2 % c->H2), w2 = (int)(r % c->W2);
        for (int q = 0; q < 4; q++) {
            int h = 2 * h2 + q / 2, w = 2 * w2 + q % 2;
            if (h >= c->Ht || w >= c->Wt) continue;
            float *d = dx1 + ((z * c->Ht + h) * c->Wt + w) * C;
            for (int i = 0; i < C; i++) d[i] += g4[q * C + i];
        }
    }
}

/* Patch embedding backward: weight and bias gradients from dx1 (Z, Ht, Wt, C)
 * and the patches, rebuilt into P (Z * Ht * Wt, Kr) as the forward gathers
 * them. The input needs no gradient. */
static void embed_backward(const grads *gr, const float *dx1, float *P, const float *upper_in, const float *surface_in) {
    const model *m = gr->m;
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = model_upper_channels(c) * pz * ph * pw, Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw, Kr = Ks > K ? Ks : K;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, rows0 = (size_t)c->Ht * c->Wt;
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->Ht; row++)
        model_patch_gather(P + (size_t)row * c->Wt * Kr, (size_t)Kr, m, upper_in, surface_in, row);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, Ks, (int)rows0, 1.0f, dx1, C, P, Kr, 1.0f,
                G(gr, m->embed_sw), Ks);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, K, (int)(T1 - rows0), 1.0f, dx1 + rows0 * C, C,
                P + rows0 * Kr, Kr, 1.0f, G(gr, m->embed_w), K);
    float *bs = G(gr, m->embed_sb), *bu = G(gr, m->embed_b);
    for (size_t r = 0; r < T1; r++)
        for (int i = 0; i < C; i++) (r < rows0 ? bs : bu)[i] += dx1[r * C + i];
}

/* ---- the whole network ---- */

/* Buffers of one gradient: the block inputs the forward keeps, the
 * gradients flowing back, work for the layers' recomputation. T1 tokens
 * are (Z, Ht, Wt), T2 tokens (Z, H2, W2). */
typedef struct {
    float *in0, *in1, *in3;   /* block inputs (then output) of layer 0 (T1, C), layers 1-2 (T2, 2C), layer 3 (T1, C) */
    float *dx1, *dx4, *dskip; /* (T1, C) gradients: layer 0, layer 3, the skip connection */
    float *dx2;               /* (T2, 2C) gradient of layers 1-2 */
    float *tmp1, *tmp2;       /* recomputed block outputs (T1, C), (T2, 2C) */
    float *gbuf, *ybuf, *fbuf; /* (T2, 4C), (T2, 4C), (T1, C) sampling work */
    float *dY;                /* (T1, Kr) recovered patch gradients, then embedding patches */
    float *cache, *scratch;   /* one block's activations; per-thread scratch of the inference layers */
    size_t stride;            /* floats per thread of scratch */
} grad_buffers;

static int grad_buffers_init(grad_buffers *gb, util_arena *arena, const model_config *c, int nt) {
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = model_upper_channels(c) * pz * ph * pw, Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw, Kr = Ks > K ? Ks : K;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, T2 = (size_t)c->Z * c->H2 * c->W2;
    size_t inputs = (size_t)(c->depths[0] + c->depths[3] + 2) * T1 * C + (size_t)(c->depths[1] + c->depths[2] + 1) * T2 * 2 * C;
    size_t total = inputs + 4 * T1 * C + 2 * T2 * 4 * C + T1 * C + T1 * (size_t)Kr + 2 * T2 * 2 * C +
                   block_cache_floats(c, nt) + (size_t)nt * model_scratch_floats(c) + 64 * 64;
    int status = util_arena_init(arena, sizeof(float) * total);
    if (status) return status;
#define ALLOC(n) ((float *)util_arena_alloc(arena, sizeof(float) * (n)))
    gb->in0 = ALLOC((size_t)(c->depths[0] + 1) * T1 * C);
    gb->in1 = ALLOC((size_t)(c->depths[1] + c->depths[2] + 1) * T2 * 2 * C);
    gb->in3 = ALLOC((size_t)(c->depths[3] + 1) * T1 * C);
    gb->dx1 = ALLOC(T1 * C), gb->dx4 = ALLOC(T1 * C), gb->tmp1 = ALLOC(T1 * C), gb->dskip = ALLOC(T1 * C);
    gb->dx2 = ALLOC(T2 * 2 * C), gb->tmp2 = ALLOC(T2 * 2 * C);
    gb->gbuf = ALLOC(T2 * 4 * C), gb->ybuf = ALLOC(T2 * 4 * C), gb->fbuf = ALLOC(T1 * C);
    gb->dY = ALLOC(T1 * (size_t)Kr);
    gb->cache = ALLOC(block_cache_floats(c, nt));
    gb->stride = model_scratch_floats(c);
    gb->scratch = ALLOC(gb->stride * nt);
#undef ALLOC
    if (!gb->scratch) {
        util_arena_free(arena);
        return util_fail(UTIL_ENOMEM, "training arena too small (internal error)");
    }
    return UTIL_OK;
}

/* The forward, keeping each block's input: block b of a layer reads
 * in[b] and writes in[b + 1]. */
static void grad_forward(grad_buffers *gb, const model *m, const float *upper_in, const float *surface_in,
                         const float *drop, int nt) {
    const model_config *c = &m->cfg;
    size_t n1 = (size_t)c->Z * c->Ht * c->Wt * c->dim, n2 = (size_t)c->Z * c->H2 * c->W2 * 2 * c->dim;
    int bi = 0, d12 = c->depths[1] + c->depths[2];
    model_patch_embed_forward(gb->in0, m, upper_in, surface_in, gb->scratch, gb->stride); /* (Z, Ht, Wt, C) */
    for (int b = 0; b < c->depths[0]; b++, bi++) {
        memcpy(gb->in0 + (b + 1) * n1, gb->in0 + b * n1, sizeof(float) * n1);
        block_forward_train(gb->in0 + (b + 1) * n1, gb->in0 + b * n1, m, 0, b, drop_at(drop, bi), gb->cache, nt,
                            gb->scratch, gb->stride);
    }
    const float *skip = gb->in0 + c->depths[0] * n1;
    model_downsample_forward(gb->in1, m, skip, gb->scratch, gb->stride); /* (Z, H2, W2, 2C) */
    for (int k = 0; k < d12; k++, bi++) {
        int l = k < c->depths[1] ? 1 : 2, b = k < c->depths[1] ? k : k - c->depths[1];
        memcpy(gb->in1 + (k + 1) * n2, gb->in1 + k * n2, sizeof(float) * n2);
        block_forward_train(gb->in1 + (k + 1) * n2, gb->in1 + k * n2, m, l, b, drop_at(drop, bi), gb->cache, nt,
                            gb->scratch, gb->stride);
    }
    model_upsample_forward(gb->in3, m, gb->in1 + d12 * n2, gb->scratch, gb->stride); /* (Z, Ht, Wt, C) */
    for (int b = 0; b < c->depths[3]; b++, bi++) {
        memcpy(gb->in3 + (b + 1) * n1, gb->in3 + b * n1, sizeof(float) * n1);
        block_forward_train(gb->in3 + (b + 1) * n1, gb->in3 + b * n1, m, 3, b, drop_at(drop, bi), gb->cache, nt,
                            gb->scratch, gb->stride);
    }
}

/* The backward, outputs first (gpt2_backward's shape): recovery, layer 3,
 * up-sampling, layers 2 and 1, down-sampling, layer 0, embedding. */
static double grad_backward(grad_buffers *gb, const grads *gr, const float *upper_in, const float *surface_in,
                            const float *upper_tgt, const float *surface_tgt, const float *drop, float surface_weight,
                            int nt) {
    const model *m = gr->m;
    const model_config *c = &m->cfg;
    size_t n1 = (size_t)c->Z * c->Ht * c->Wt * c->dim, n2 = (size_t)c->Z * c->H2 * c->W2 * 2 * c->dim;
    int d12 = c->depths[1] + c->depths[2], bi = d12 + c->depths[0] + c->depths[3] - 1;
    const float *skip = gb->in0 + c->depths[0] * n1, *x4 = gb->in3 + c->depths[3] * n1; /* (Z, Ht, Wt, C) */
    double loss = recovery_loss_backward(gb->dY, m, skip, x4, upper_tgt, surface_tgt, surface_weight, gb->scratch,
                                         gb->stride);
    recovery_backward(gb->dskip, gb->dx4, gr, gb->dY, skip, x4);
    for (int b = c->depths[3] - 1; b >= 0; b--, bi--)
        block_recompute_backward(gb->dx4, gb->tmp1, gb->in3 + b * n1, gr, 3, b, drop_at(drop, bi), gb->cache, nt);
    upsample_backward(gb->dx2, gr, gb->dx4, gb->in1 + d12 * n2, gb->ybuf, gb->gbuf, gb->fbuf, gb->tmp1);
    for (int k = d12 - 1; k >= 0; k--, bi--) {
        int l = k < c->depths[1] ? 1 : 2, b = k < c->depths[1] ? k : k - c->depths[1];
        block_recompute_backward(gb->dx2, gb->tmp2, gb->in1 + k * n2, gr, l, b, drop_at(drop, bi), gb->cache, nt);
    }
    downsample_backward(gb->dx1, gr, gb->dskip, gb->dx2, skip, gb->gbuf, gb->ybuf);
    for (int b = c->depths[0] - 1; b >= 0; b--, bi--)
        block_recompute_backward(gb->dx1, gb->tmp1, gb->in0 + b * n1, gr, 0, b, drop_at(drop, bi), gb->cache, nt);
    embed_backward(gr, gb->dx1, gb->dY, upper_in, surface_in);
    return loss;
}

int model_grad(const model *m, float *grad, double *loss_out, const float *upper_in, const float *surface_in,
               const float *upper_tgt, const float *surface_tgt, const float *drop, float surface_weight) {
    if (m->precision != MODEL_FP32)
        return util_fail(UTIL_EINVAL, "gradients are computed in FP32 only (the model is set to %s)",
                         model_precision_name(m->precision));
    int nt = omp_get_max_threads();
    grads gr = {m, grad};
    util_blas_serial();
    util_arena arena;
    grad_buffers gb;
    int status = grad_buffers_init(&gb, &arena, &m->cfg, nt);
    if (status) return status;
    grad_forward(&gb, m, upper_in, surface_in, drop, nt);
    *loss_out = grad_backward(&gb, &gr, upper_in, surface_in, upper_tgt, surface_tgt, drop, surface_weight, nt);
    util_arena_free(&arena);
    return UTIL_OK;
}

void model_adamw_step(model *m, const float *grad, float *adam_m, float *adam_v, long long step, float lr,
                      float weight_decay, float beta1, float beta2, float eps) {
    double c1 = 1 - pow(beta1, (double)step), c2 = 1 - pow(beta2, (double)step);
    for (int i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (!t->trainable) continue;
        size_t len = strlen(t->name);
        int decay = t->rank >= 2 && !(len > 5 && !strcmp(t->name + len - 5, ".bias")) && !strstr(t->name, "norm");
        float *p = m->params + t->offset, *mm = adam_m + t->offset, *vv = adam_v + t->offset;
        const float *g = grad + t->offset;
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < t->count; k++) {
            mm[k] = beta1 * mm[k] + (1 - beta1) * g[k];
            vv[k] = beta2 * vv[k] + (1 - beta2) * g[k] * g[k];
            double update = (mm[k] / c1) / (sqrt(vv[k] / c2) + eps);
            if (decay) p[k] -= lr * weight_decay * p[k];
            p[k] -= (float)(lr * update);
        }
    }
}
