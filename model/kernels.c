/* model kernels: the forward pass one layer at a time; each layer's GEMMs
 * and elementwise steps go through the model's table of operations
 * (model/ops.c: BF16, packed FP32 on AVX-512 or AVX2, or OpenBLAS), which
 * reads its precision's copy of the weights. OpenMP over disjoint output
 * rows, BLAS single-threaded inside (the caller sets OpenBLAS to one thread). */
#define _DEFAULT_SOURCE
#include <math.h>
#include <omp.h>
#include <string.h>

#include "../util/util.h"
#include "internal.h"



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

/* A linear layer (rows, k) -> (rows, n) on the table's copy of its weights */
static void linear(const model_ops *ops, float *out, const float *in, model_weight w, const float *b, int rows) {
    double t0 = profile_start();
    ops->linear(out, (size_t)w.n, in, (size_t)w.k, &w, b, rows, 0);
    profile_add(0, t0, 2.0 * rows * w.k * w.n);
}
/* The handle of a layer's W (n, k): the float weights and the packed copies */
static model_weight weight(const float *plain, const model_bf16_matrix *h, const model_f32_matrix *f, int n, int k) {
    return (model_weight){plain, n, k, 0, f, h};
}

enum { MLP_ROWS = 1024 }; /* rows per SGEMM: smaller ones run far below the BLAS peak */


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
        size_t Cl = model_layer_channels(c, l), rows = (size_t)model_layer_lon_tokens(c, l) / c->window[2] * N;
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

model_block_shape model_block_shape_of(const model_config *c, int layer, int roll) {
    const int *win = c->window;
    model_block_shape s = {.Z = c->Z, .Hl = model_layer_lat_tokens(c, layer), .Wl = model_layer_lon_tokens(c, layer),
                           .C = model_layer_channels(c, layer), .heads = c->heads[layer]};
    s.N = win[0] * win[1] * win[2], s.nW = s.Wl / win[2], s.rows = s.nW * s.N;
    s.Zp = model_ceil_to(s.Z, win[0]), s.Hp = model_ceil_to(s.Hl, win[1]);
    s.types = (s.Zp / win[0]) * (s.Hp / win[1]);
    for (int i = 0; i < 3; i++) s.shift[i] = roll ? win[i] / 2 : 0;
    s.T = (long)s.Z * s.Hl * s.Wl, s.Tp = (long)s.types * s.rows;
    return s;
}

void model_block_forward(float *x, const model_block *blk, const model_config *c, int layer, int roll,
                         const int *bias_index, float *scratch, size_t scratch_stride, const model_ops *ops) {
    const model_block_shape sh = model_block_shape_of(c, layer, roll);
    int Z = sh.Z, Hl = sh.Hl, Wl = sh.Wl, C = sh.C, heads = sh.heads;
    const int *win = c->window, *shift = sh.shift;
    int N = sh.N, nW = sh.nW, rows = sh.rows, Zp = sh.Zp, Hp = sh.Hp, types = sh.types;

    const model_weight qkv_w = weight(blk->qkv_w, blk->qkv_h, blk->qkv_f, 3 * C, C),
                       proj_w = weight(blk->proj_w, blk->proj_h, blk->proj_f, C, C),
                       fc1_w = weight(blk->fc1_w, blk->fc1_h, blk->fc1_f, 4 * C, C),
                       fc2_w = weight(blk->fc2_w, blk->fc2_h, blk->fc2_f, C, 4 * C);
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
            linear(ops, qkv, xw, qkv_w, blk->qkv_b, grows);
            double ta = profile_start();
            ops->attention(xw, qkv, bias_t, roll ? labels : NULL, gw, N, C, heads, scores, s + at.packs,
                           blk->bf16_attention);
            profile_add(1, ta, 4.0 * gw * N * N * C);
            /* the post-norm residual add fused into the projection (packed
             * kernels: each block of rows added to its tokens while in cache) */
            double t0 = profile_start();
            ops->linear_norm_add(x, qkv, xw, (size_t)C, &proj_w, blk->proj_b, blk->norm1_w, blk->norm1_b, grows, tok);
            profile_add(0, t0, 2.0 * grows * C * C);
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
        /* GELU and the post-norm residual add fused into the GEMMs (their
         * time counted as GEMM time in the profile) */
        double t0 = profile_start();
        size_t ld = (size_t)4 * C;
        ops->linear_gelu(hid, ld, xr, (size_t)C, &fc1_w, blk->fc1_b, n);
        ops->linear_norm_add(xr, y, hid, ld, &fc2_w, blk->fc2_b, blk->norm2_w, blk->norm2_b, n, NULL);
        profile_add(0, t0, 4.0 * n * C * 4 * C);
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
    const model_ops *ops = model_ops_of(m);
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->Ht; row++) {
        int surface_row = row < c->Ht;
        float *p = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (Wt, K or Ks)
        model_patch_gather(p, surface_row ? (size_t)Ks : (size_t)K, m, upper, surface, row);
        model_weight w = surface_row ? weight(m->embed_sw, m->embed_sh, m->embed_sf, C, Ks)
                                     : weight(m->embed_w, m->embed_h, m->embed_f, C, K);
        linear(ops, x + (size_t)row * c->Wt * C, p, w, surface_row ? m->embed_sb : m->embed_b, c->Wt);
    }
}

void model_downsample_forward(float *out, const model *m, const float *in, float *scratch, size_t scratch_stride) {
    const model_config *c = &m->cfg;
    int C = c->dim;
    const model_ops *ops = model_ops_of(m);
    const model_weight w = weight(m->down_w, m->down_h, m->down_f, 2 * C, 4 * C);
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
        ops->layernorm(g, g, m->down_norm_w, m->down_norm_b, c->W2, 4 * C);
        linear(ops, out + (size_t)row * c->W2 * 2 * C, g, w, NULL, c->W2);
    }
}

void model_upsample_forward(float *out, const model *m, const float *in, float *scratch, size_t scratch_stride) {
    const model_config *c = &m->cfg;
    int C = c->dim;
    const model_ops *ops = model_ops_of(m);
    const model_weight w1 = weight(m->up_w1, m->up1_h, m->up1_f, 4 * C, 2 * C),
                       w2 = weight(m->up_w2, m->up2_h, m->up2_f, C, C);
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->H2; row++) {
        int z = row / c->H2, h2 = row % c->H2;
        float *y = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (W2, 4C)
        float *f = y + (size_t)c->W2 * 4 * C;                               // (Wt, C)
        linear(ops, y, in + (size_t)row * c->W2 * 2 * C, w1, NULL, c->W2);
        for (int dh = 0; dh < 2; dh++) {
            int h = 2 * h2 + dh;
            if (h >= c->Ht) continue;
            for (int w = 0; w < c->Wt; w++)
                /* scalar on purpose: forecasts stay bit-identical to earlier versions' (tests/files_test.sh) */
                model_layernorm_forward(f + (size_t)w * C, y + (size_t)(w / 2) * 4 * C + (dh * 2 + w % 2) * C,
                                        m->up_norm_w, m->up_norm_b, 1, C);
            linear(ops, out + ((size_t)z * c->Ht + h) * c->Wt * C, f, w2, NULL, c->Wt);
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
    const model_ops *ops = model_ops_of(m);
#pragma omp parallel for schedule(dynamic, 1)
    for (int row = 0; row < c->Z * c->Ht; row++) {
        int z = row / c->Ht, ht = row % c->Ht;
        float *y = scratch + (size_t)omp_get_thread_num() * scratch_stride; // (Wt, K or Ks)
        const float *a = skip + (size_t)row * c->Wt * C, *b = x + (size_t)row * c->Wt * C;
        int k = z == 0 ? Ks : K;
        const float *w = z == 0 ? m->rec_sw : m->rec_w; // (2C, k): the skip's C rows first
        /* [skip, x] @ W without building the 2C concatenation: W's two halves (C, k) */
        const model_bf16_matrix *const *wh = z == 0 ? m->rec_sh : m->rec_h;
        const model_f32_matrix *const *wf = z == 0 ? m->rec_sf : m->rec_f;
        model_weight skip_w = {w, k, C, 1, wf[0], wh[0]}, x_w = {w + (size_t)C * k, k, C, 1, wf[1], wh[1]};
        double t0 = profile_start();
        ops->linear(y, (size_t)k, a, (size_t)C, &skip_w, NULL, c->Wt, 0);
        ops->linear(y, (size_t)k, b, (size_t)C, &x_w, NULL, c->Wt, 1);
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
