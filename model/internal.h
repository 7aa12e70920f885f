/* model internal: what the files of model/ share and nothing outside it
 * needs (tests aside): the layers, the plain twins (model/ref.c), the
 * window geometry (model/window.c), the packed weights (model/pack.c), the
 * table of operations (model/ops.c) and the fast kernels (model/fast/).
 *
 * Layers, each calling only the ones below it:
 *   forward.c, train.c            the step and its gradient
 *   kernels.c                     the layers, one function per layer
 *   ops.c                         the table per precision and kernel set
 *   fast/bf16.c avx512.c avx2.c   the vectorised kernels, each above the next
 *                                 (avx2.c packs the attention's keys and
 *                                 values for both FP32 kernels)
 *   pack.c                        packing
 *   window.c ref.c cpu.c          window geometry; plain twins; CPU features,
 *                                 kernel choice, blocking
 * (tune.c measures the kernels through ops.c and fast/bf16.c;
 * tests/layers_test.sh checks the order and prints it.) */
#ifndef PANGU_MODEL_INTERNAL_H
#define PANGU_MODEL_INTERNAL_H

#include <string.h>

#include "model.h"

/* ---- layer geometry: layer l's channels, latitude and longitude tokens ---- */
static inline int model_ceil_to(int n, int m) { return (n + m - 1) / m * m; }
static inline int model_layer_channels(const model_config *c, int l) { return (l == 1 || l == 2) ? 2 * c->dim : c->dim; }
static inline int model_layer_lat_tokens(const model_config *c, int l) { return (l == 1 || l == 2) ? c->H2 : c->Ht; }
static inline int model_layer_lon_tokens(const model_config *c, int l) { return (l == 1 || l == 2) ? c->W2 : c->Wt; }

/* ---- kernels (model/kernels.c), one per layer and direction ----
 * The plain twins (LayerNorm, GELU, linear, window attention, the window
 * geometry) are single-threaded and allocation-free; callers parallelise
 * over disjoint rows. The layer functions (model_block_forward, the patch
 * embedding, down- and up-sampling, patch recovery) run OpenMP loops
 * themselves over their own rows, each thread in its slice of scratch.
 * Token tensors are (rows, C) with channels last. */

/* out (rows, C) = LayerNorm(in) * w + b, eps 1e-5; out may equal in. */
void model_layernorm_forward(float *out, const float *in, const float *w, const float *b, int rows, int C);
/* x (C) += LayerNorm(y) * w + b: the post-norm residual add, no scratch. */
void model_layernorm_add(float *x, const float *y, const float *w, const float *b, int C);
/* exact (erf) GELU, elementwise; out may equal in. */
void model_gelu_forward(float *out, const float *in, size_t n);
/* out (rows, out_dim) = in (rows, in_dim) @ w^T (w is (out_dim, in_dim)) + b (may be NULL). */
void model_linear_forward(float *out, const float *in, const float *w, const float *b,
                          int rows, int in_dim, int out_dim);
/* idx (N*N): Earth-specific bias table row for each (query, key) pair. */
void model_bias_index(int *idx, const int window[3]);
/* labels (Zp, Hp): Swin region of each padded (level, latitude) token in
 * the rolled frame; keys whose label differs from the query's are masked. */
void model_shift_labels(int *labels, int Zp, int Hp, const int window[3]);
/* Gather the nW windows of window type `type` from x (Z, Hl, Wl, C) into
 * out (nW*N, C): zero padding at the end of z and h, then a roll by -shift
 * (periodic in longitude), then window order (z, h, w) inside a window. */
void model_window_gather(float *out, const float *x, int type, int Z, int Hl, int Wl, int C,
                         const int window[3], const int shift[3]);
/* labels (N): the shift-mask region of each token of a window of type `type`. */
void model_window_labels(int *labels, int type, int Zp, int Hp, const int window[3]);
/* Token index in (Z, Hl, Wl) of row r of type `type`'s gathered windows, or
 * -1 for a padding token. */
long model_window_token(int type, int r, int Z, int Hl, int Wl, const int window[3], const int shift[3]);
/* Gather the bias of one window type: out (heads, N, N). */
void model_bias_gather(float *out, const float *bias, const int *index, int type, int types, int heads, int N);
/* Rows of the compact Earth-specific bias table: wz^2 wh^2 (2ww-1). */
size_t model_bias_table_rows(const int window[3]);
/* model_bias_gather's result (bit for bit) by way of table (heads *
 * model_bias_table_rows floats): the type's column copied contiguous first. */
void model_bias_gather_staged(float *out, float *table, const float *bias, const int *index, int type, int types,
                              int heads, int N, const int window[3]);
/* The bias of window type `type` as (heads, N, N): a view into a full bias,
 * or the compact table gathered into scratch (heads * N * N floats), staged
 * through table when it is not NULL. */
const float *model_block_bias(float *scratch, float *table, const float *bias, int full_bias, const int *index,
                              int type, int types, int heads, int N, const int window[3]);
/* Attention of nW windows of one type.
 * out (nW*N, C); qkv (nW*N, 3C) with q, k, v channel slices; bias_t (heads, N, N);
 * labels (N) region of each window token, or NULL for unshifted blocks;
 * scores is scratch of N*N floats. */
void model_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels,
                            int nW, int N, int C, int heads, float *scores);

/* Per-thread scratch (floats) that the layer functions below need. */
size_t model_scratch_floats(const model_config *c);
/* One block's window geometry, shared by its forward (inference and
 * training) and its backward: tokens (Z, Hl, Wl) of C channels, T of them;
 * windows of N tokens, nW of a type side by side in longitude, rows = nW * N
 * rows per type; types window types on the padded (Zp, Hp) grid, Tp = types
 * * rows window rows; shift the roll of odd blocks (zero otherwise). */
typedef struct {
    int Z, Hl, Wl, C, heads, N, nW, rows, Zp, Hp, types, shift[3];
    long T, Tp;
} model_block_shape;
model_block_shape model_block_shape_of(const model_config *c, int layer, int roll);
typedef struct model_ops model_ops; /* the table of operations, below */
/* Earth-specific block on x (Z, Hl, Wl, C), in place; roll for odd blocks.
 * scratch holds nthreads * model_scratch_floats floats. */
void model_block_forward(float *x, const model_block *blk, const model_config *c, int layer, int roll,
                         const int *bias_index, float *scratch, size_t scratch_stride, const model_ops *ops);
/* The normalised, zero-padded patches of token row `row` (z * Ht + ht):
 * p (Wt, ld) holds (7, ph, pw) values for z = 0 and (5, pz, ph, pw) above. */
void model_patch_gather(float *p, size_t ld, const model *m, const float *upper, const float *surface, int row);
/* x (Z, Ht, Wt, C) from normalising and embedding upper (5, L, H, W) and surface (4, H, W). */
void model_patch_embed_forward(float *x, const model *m, const float *upper, const float *surface,
                               float *scratch, size_t scratch_stride);
/* out (Z, H2, W2, 2C) from in (Z, Ht, Wt, C). */
void model_downsample_forward(float *out, const model *m, const float *in, float *scratch, size_t scratch_stride);
/* out (Z, Ht, Wt, C) from in (Z, H2, W2, 2C). */
void model_upsample_forward(float *out, const model *m, const float *in, float *scratch, size_t scratch_stride);
/* upper (5, L, H, W), surface (4, H, W) in physical units from the skip
 * (Z, Ht, Wt, C) and layer-4 output x (Z, Ht, Wt, C), concatenated [skip, x]. */
void model_patch_recovery_forward(float *upper, float *surface, const model *m, const float *skip,
                                  const float *x, float *scratch, size_t scratch_stride);

/* Windows of one type attended together in a block (from the L2 size, or
 * about `rows` rows after model_attention_rows_set(rows); 0 restores the
 * default). The step's results are the same for any grouping. */
int model_attention_group(int N, int C, int nW);
void model_attention_rows_set(int rows);

/* ---- BF16 internals (model/fast/bf16.c; twins in model/ref.c) ---- */
/* The scalar twin of the hardware rounding (VCVTNE2PS2BF16): nearest, ties
 * to even; denormals to signed zero; NaN kept quiet. Inline: the packers
 * (model/pack.c) round every weight, key and value with it. */
static inline uint16_t model_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN, quiet */
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);      /* zero, denormal: signed zero */
    u += 0x7fffu + ((u >> 16) & 1u);                                          /* nearest, ties to even */
    return (uint16_t)(u >> 16);
}
static inline float model_bf16_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
void model_bf16_convert(uint16_t *dst, const float *src, size_t n);     /* AVX512_BF16 */
void model_bf16_convert_ref(uint16_t *dst, const float *src, size_t n); /* scalar twin */
/* Pack W (n, k), element (j, i) at w[j * sn + i * sk]; allocates p->data. */
size_t model_bf16_packed_words(int n, int k);
void model_bf16_pack_into(uint32_t *dst, const float *w, int n, int k, size_t sn, size_t sk);
int model_bf16_pack(model_bf16_matrix *p, const float *w, int n, int k, size_t sn, size_t sk);
void model_bf16_matrix_free(model_bf16_matrix *p);
/* out (rows, n; row stride ldo) = [out if accumulate] + [b] + bf16(in) bf16(W)^T
 * with in (rows, k; row stride ldi), FP32 accumulation. Single-threaded,
 * no allocation; needs model_bf16_available(). */
void model_bf16_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                               const float *b, int rows, int accumulate);
/* The MLP's layers with GELU, and with the post-norm residual add, fused
 * (as model_f32_linear_gelu_forward and model_f32_linear_norm_add_forward). */
void model_bf16_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_bf16_matrix *w,
                                    const float *b, int rows);
void model_bf16_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_bf16_matrix *w,
                                        const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok);
/* GELU and LayerNorm, AVX-512 (model/fast/avx512.c; twins: model_gelu_forward,
 * model_layernorm_forward); need model_f32_available(). */
void model_gelu_forward_avx512(float *out, const float *in, size_t n);
void model_layernorm_forward_avx512(float *out, const float *in, const float *w, const float *b, int rows, int C);
/* x (C) += LayerNorm(y) */
void model_layernorm_add_avx512(float *x, const float *y, const float *w, const float *b, int C);
/* model_window_attention for the BF16 path: AVX-512 softmax; q k^T and p v
 * in BF16 (q, k, p, v rounded, FP32 accumulation) when bf16_gemms, else SGEMM.
 * packs: model_bf16_attention_words(N, C / heads) words of scratch. */
size_t model_bf16_attention_words(int N, int d);
void model_bf16_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                 int C, int heads, float *scores, uint32_t *packs, int bf16_gemms);
/* The BF16 GEMMs and attention above on one kernel each, for the table of
 * operations (model/ops.c), which picks them once: _dot_ on AVX512_BF16's
 * dot products, _tile_ on the AMX tile unit (after model_bf16_amx() said
 * MODEL_AMX_ON), _emulated_tile_ on its C emulation. The unprefixed ones
 * above pick at each call from model_bf16_amx() (tests, tune). */
#define MODEL_BF16_KERNEL_DECLARE(kind)                                                                             \
    void model_bf16_##kind##_linear_forward(float *out, size_t ldo, const float *in, size_t ldi,                    \
                                            const model_bf16_matrix *w, const float *b, int rows, int accumulate);  \
    void model_bf16_##kind##_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi,               \
                                                 const model_bf16_matrix *w, const float *b, int rows);             \
    void model_bf16_##kind##_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi,               \
                                                     const model_bf16_matrix *w, const float *b, const float *norm_w, \
                                                     const float *norm_b, int rows, const long *tok);               \
    void model_bf16_##kind##_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, \
                                              int nW, int N, int C, int heads, float *scores, uint32_t *packs,      \
                                              int bf16_gemms);
MODEL_BF16_KERNEL_DECLARE(dot)
MODEL_BF16_KERNEL_DECLARE(tile)
MODEL_BF16_KERNEL_DECLARE(emulated_tile)
#undef MODEL_BF16_KERNEL_DECLARE
/* The tile path (emulate: in C) against model_ref_gemm (bf16) on one GEMM
 * with every edge: the largest error relative to sum |x w| (INFINITY
 * without AVX512_BF16). The first-use check on AMX hardware. */
double model_bf16_amx_check(int emulate);
/* Scalar twin of model_bf16_window_attention with bf16_gemms (scores: N*N floats). */
void model_bf16_window_attention_ref(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                     int C, int heads, float *scores);
/* ---- packed FP32 GEMMs (routed by model/ops.c to model/fast/avx512.c, avx2.c or the twin) ----
 * 1 when model_kernel() is avx512 or avx2: the weights are packed. */
int model_f32_available(void);
size_t model_f32_packed_floats(int n, int k);
/* Pack W (n, k), element (j, i) at w[j * sn + i * sk]; allocates p->data
 * (model_f32_packed_floats(n, k) floats, enough for either width).
 * model_f32_pack packs for model_kernel(), _pack_for for a given kernel;
 * _pack_into_width writes nr-column panels. */
void model_f32_pack_into_width(float *dst, int nr, const float *w, int n, int k, size_t sn, size_t sk);
int model_f32_pack(model_f32_matrix *p, const float *w, int n, int k, size_t sn, size_t sk);
int model_f32_pack_for(model_f32_matrix *p, int kernel, const float *w, int n, int k, size_t sn, size_t sk);
/* columns per panel of `kernel`'s packing */
static inline int model_f32_panel_width(int kernel) { return kernel == MODEL_KERNEL_AVX2 ? MODEL_AVX2_PANEL : MODEL_F32_PANEL; }
void model_f32_matrix_free(model_f32_matrix *p);

/* ---- the one reference GEMM (model/ref.c) ----
 * W (n, k) as model_ref_gemm reads it: element (j, i) at
 * f[(j / nr) * panel + (j % nr) * col + i * step] (a row-major W: nr 1; a
 * packed FP32 matrix: its panels), or, for a packed BF16 matrix, half i % 2
 * of words[(j / nr) * panel + (j % nr) * col + (i / 2) * step].
 * bf16: both operands rounded to bf16 before they are multiplied. */
typedef struct {
    const float *f;
    const uint32_t *words;
    int n, k, nr, bf16;
    size_t panel, col, step;
} model_ref_matrix;
/* W (n, k), element (j, i) at w[j * sn + i * sk] */
static inline model_ref_matrix model_ref_plain(const float *w, int n, int k, size_t sn, size_t sk, int bf16) {
    return (model_ref_matrix){w, NULL, n, k, 1, bf16, sn, 0, sk};
}
static inline model_ref_matrix model_ref_f32(const model_f32_matrix *p) {
    int nr = model_f32_panel_width(p->kernel);
    return (model_ref_matrix){p->data, NULL, p->n, p->k, nr, 0, (size_t)p->k * (size_t)nr, 1, (size_t)nr};
}
static inline model_ref_matrix model_ref_bf16(const model_bf16_matrix *p) {
    return (model_ref_matrix){NULL, p->data, p->n, p->k, MODEL_BF16_PANEL, 1, (size_t)p->kp * MODEL_BF16_PANEL, 1,
                              MODEL_BF16_PANEL};
}
/* out (rows, n; row stride ldo) = [b] + [out if accumulate] + in W^T, each
 * output summed in input order with fmaf: the packed kernels' order (the FP32
 * kernels give these bits; the BF16 ones these values to summation-order
 * rounding). Single-threaded, no allocation. */
void model_ref_gemm(float *out, size_t ldo, const float *in, size_t ldi, const model_ref_matrix *w, const float *b,
                    int rows, int accumulate);
/* Then GELU (model_gelu_forward); and x (tok[r] or r; none where < 0) +=
 * LayerNorm(y) with y (rows, n) the GEMM's output: the fused forms' twins. */
void model_ref_gemm_gelu(float *out, size_t ldo, const float *in, size_t ldi, const model_ref_matrix *w, const float *b,
                         int rows);
void model_ref_gemm_norm_add(float *x, float *y, const float *in, size_t ldi, const model_ref_matrix *w, const float *b,
                             const float *norm_w, const float *norm_b, int rows, const long *tok);
/* out (rows, n; row stride ldo) = [out if accumulate] + [b] + in W^T with in
 * (rows, k; row stride ldi). Single-threaded, no allocation; needs
 * model_f32_available(). */
void model_f32_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                              const float *b, int rows, int accumulate);
/* out = GELU(b + in W^T): the MLP's first layer with its activation fused
 * (the same values as model_f32_linear_forward then model_gelu_forward_avx512). */
void model_f32_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                   const float *b, int rows);
/* x (rows, n) += LayerNorm(b + in W^T) with norm_w, norm_b: the MLP's
 * second layer with the block's post-norm residual add fused; y (rows, n)
 * receives the GEMM's output (the same values as model_f32_linear_forward
 * then model_layernorm_add_avx512 row by row). With tok (rows) not NULL,
 * GEMM row r is added to x's row tok[r] instead, and to none where
 * tok[r] < 0 (the attention projection: window rows back to their tokens). */
void model_f32_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_f32_matrix *w,
                                       const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok);
/* model_window_attention with q k^T and p v through the packed kernel and
 * an AVX-512 softmax; packs: model_f32_attention_floats(N, C / heads) floats
 * of scratch. */
size_t model_f32_attention_floats(int N, int d);
void model_f32_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                int C, int heads, float *scores, float *packs);

/* The AVX2 + FMA kernels (model/fast/avx2.c) on the same panels, with the
 * contracts of the model_f32_ and _avx512 functions above; need AVX2 and FMA.
 * model_f32_linear_forward and its fused forms run a matrix packed for avx2
 * through these. */
void model_avx2_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                               const float *b, int rows, int accumulate);
void model_avx2_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                    const float *b, int rows);
void model_avx2_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_f32_matrix *w,
                                        const float *b, const float *norm_w, const float *norm_b, int rows, const long *tok);
void model_avx2_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                 int C, int heads, float *scores, float *packs);
void model_gelu_forward_avx2(float *out, const float *in, size_t n);
/* A head's keys (N rows of d channels, ld apart) as the packed W (n = key,
 * k = channel) of q k^T, and its values as the W (n = channel, k = key) of
 * p v, in nr-column panels (nr a multiple of 8): model_f32_pack_into_width's
 * panels, vectorised (AVX2, so on either FP32 kernel's CPUs). */
void model_f32_pack_keys(float *dst, int nr, const float *k, size_t ld, int N, int d);
void model_f32_pack_values(float *dst, int nr, const float *v, size_t ld, int N, int d);
void model_layernorm_forward_avx2(float *out, const float *in, const float *w, const float *b, int rows, int C);
void model_layernorm_add_avx2(float *x, const float *y, const float *w, const float *b, int C);

/* The AVX-512 kernels of the packed FP32 GEMM (model/fast/avx512.c), with
 * the contracts of model_f32_linear_forward and its fused forms. */
void model_avx512_linear_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                 const float *b, int rows, int accumulate);
void model_avx512_linear_gelu_forward(float *out, size_t ldo, const float *in, size_t ldi, const model_f32_matrix *w,
                                      const float *b, int rows);
void model_avx512_linear_norm_add_forward(float *x, float *y, const float *in, size_t ldi, const model_f32_matrix *w,
                                          const float *b, const float *norm_w, const float *norm_b, int rows,
                                          const long *tok);
/* 1 when a blocking was set for `kernel` (model_blocking_set), 0 on the default (model/cpu.c). */
int model_blocking_is_set(int kernel);

/* ---- the table of operations (model/ops.c) ---- */
/* One linear layer's weights as the layers hand them to a table: every copy
 * the model may hold, of which a table reads its own precision's (OpenBLAS:
 * plain; packed FP32: f32; BF16: bf16). plain is W (n, k) row-major, or
 * (k, n) when plain_kn (the patch recovery's halves). */
typedef struct {
    const float *plain;
    int n, k, plain_kn;
    const model_f32_matrix *f32;
    const model_bf16_matrix *bf16;
} model_weight;
struct model_ops {
    int precision; /* MODEL_FP32 or MODEL_BF16 */
    int kernel;    /* MODEL_KERNEL_*: the kernel set of the elementwise steps */
    /* the contracts of model_f32_linear_forward and its fused forms; for
     * OpenBLAS, the fused forms are the GEMM then the elementwise step */
    void (*linear)(float *out, size_t ldo, const float *in, size_t ldi, const model_weight *w, const float *b,
                   int rows, int accumulate);
    void (*linear_gelu)(float *out, size_t ldo, const float *in, size_t ldi, const model_weight *w, const float *b,
                        int rows);
    void (*linear_norm_add)(float *x, float *y, const float *in, size_t ldi, const model_weight *w, const float *b,
                            const float *norm_w, const float *norm_b, int rows, const long *tok);
    /* model_window_attention; packs: the kernel's scratch; bf16_gemms: BF16's q k^T and p v in BF16 */
    void (*attention)(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N, int C,
                      int heads, float *scores, float *packs, int bf16_gemms);
    void (*gelu)(float *out, const float *in, size_t n);
    void (*layernorm)(float *out, const float *in, const float *w, const float *b, int rows, int C);
    void (*layernorm_add)(float *x, const float *y, const float *w, const float *b, int C);
};
/* The FP32 table of MODEL_KERNEL_* `kernel` (blas: the plain twins and OpenBLAS). */
const model_ops *model_ops_for(int kernel);
/* The table of the model's precision and of the kernel its weights were packed for. */
const model_ops *model_ops_of(const model *m);

#endif
