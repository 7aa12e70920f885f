/* model: the 3D Earth-Specific Transformer of Pangu-Weather (Bi et al. 2023).
 * Configuration, parameters (one contiguous block), the HDF5 model file, and
 * the forward step. Conventions: ../shared/reference/ARCHITECTURE.md. */
#ifndef PANGU_MODEL_H
#define PANGU_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MODEL_NUPPER 5      /* z q t u v */
#define MODEL_NSURFACE 4    /* msl u10 v10 t2m */
#define MODEL_NCONST 3      /* land_sea_mask soil_type orography */
#define MODEL_MAX_LEVELS 64
#define MODEL_FORMAT "pangu-weather-c"
#define MODEL_FORMAT_VERSION 2 /* written when a model has a version-2 part; plain models stay version 1 */
#define MODEL_MAX_UPPER_CONSTANTS 1 /* const_h of the released models */

extern const char *const model_upper_names[MODEL_NUPPER];
extern const char *const model_surface_names[MODEL_NSURFACE];
extern const char *const model_constant_names[MODEL_NCONST];

typedef struct {
    int H, W;                     /* grid (latitude, longitude) */
    int nlev;                     /* pressure levels L */
    float levels[MODEL_MAX_LEVELS]; /* hPa, model order */
    int dim;                      /* C */
    int depths[4], heads[4];
    int window[3];                /* (wz, wh, ww) */
    int patch[3];                 /* (pz, ph, pw) */
    int lead_hours;
    /* The released models' variant (format version 2; all 0 in version 1):
     * upper_constants: constant upper-air channels appended to the five
     * normalised variables before the padding (1: const_h), so the upper
     * patch embedding takes 5 + upper_constants channels;
     * recovery_bias_position: patch recovery bias per variable and patch
     * position, (5, pz, ph, pw) and (4, ph, pw), instead of (5) and (4);
     * padded_constants: the constant masks given on the padded grid (3, Hp, Wp),
     * their padding used as given, instead of (3, H, W) zero-padded;
     * full_bias: each Earth-specific bias stored expanded, (types, heads, N, N),
     * instead of the compact table (wz^2 wh^2 (2ww-1), types, heads). */
    int upper_constants;
    int recovery_bias_position;
    int padded_constants;
    int full_bias;
    /* derived by model_config_derive */
    int Lp, Hp, Wp;               /* padded levels, latitudes, longitudes */
    int Z, Ht, Wt;                /* token grid, surface at z = 0 */
    int H2, W2;                   /* token grid after down-sampling */
} model_config;

/* Channels of the upper-air patch embedding: the 5 variables and the constants. */
static inline int model_upper_channels(const model_config *c) { return MODEL_NUPPER + c->upper_constants; }
/* 2 when any part of the released models' variant is on, else 1. */
int model_config_format_version(const model_config *c);
/* The terms of the released Pangu-Weather weights, for outputs of a model of
 * their variant (format 2), else NULL. */
const char *model_licence(const model_config *c);
/* Fill the derived fields and check every rule of the architecture;
 * returns UTIL_EINVAL with a message naming the broken rule. */
int model_config_derive(model_config *c);
/* Named presets: "tiny", "small", "full" (as in pangu_ref.py). */
int model_config_preset(model_config *c, const char *name);

/* A weight matrix W (n, k) of y = x W^T packed for the BF16 kernel
 * (model/bf16.c): panels of MODEL_BF16_PANEL output columns, each holding
 * per input pair (2q, 2q+1) one 32-bit word per column, bf16(W[j][2q]) in the
 * low half and bf16(W[j][2q+1]) in the high half; zeros past n and k. */
#define MODEL_BF16_PANEL 32
typedef struct {
    int n, k, kp, panels; /* kp = ceil(k / 2) pairs */
    uint32_t *data;       /* panels * kp * MODEL_BF16_PANEL words, 64-byte aligned */
} model_bf16_matrix;

/* A weight matrix W (n, k) of y = x W^T packed for the FP32 kernels: panels
 * of MODEL_F32_PANEL output columns (model/f32.c, AVX-512) or of
 * MODEL_AVX2_PANEL (model/avx2.c, AVX2 + FMA), each holding per input i the
 * floats W[j][i] of its columns; zeros past n. */
#define MODEL_F32_PANEL 32
#define MODEL_AVX2_PANEL 16
typedef struct {
    int n, k, panels;
    float *data; /* panels * k * MODEL_F32_PANEL floats, 64-byte aligned */
    int kernel;  /* MODEL_KERNEL_AVX512 or MODEL_KERNEL_AVX2: which kernel runs it (model_kernel() when packed) */
} model_f32_matrix;

/* One Earth-specific block's parameters (pointers into the block). */
typedef struct {
    float *norm1_w, *norm1_b;   /* (C) */
    float *norm2_w, *norm2_b;   /* (C) */
    float *bias;                /* (wz^2 wh^2 (2ww-1), types, heads), or (types, heads, N, N) with full_bias */
    float *qkv_w, *qkv_b;       /* (3C, C), (3C) */
    float *proj_w, *proj_b;     /* (C, C), (C) */
    float *fc1_w, *fc1_b;       /* (4C, C), (4C) */
    float *fc2_w, *fc2_b;       /* (C, 4C), (C) */
    /* BF16 copies of the four matrices, NULL in FP32 (model_set_precision) */
    const model_bf16_matrix *qkv_h, *proj_h, *fc1_h, *fc2_h;
    /* packed FP32 copies for the AVX-512 or AVX2 kernel, NULL on the blas path or in BF16 */
    const model_f32_matrix *qkv_f, *proj_f, *fc1_f, *fc2_f;
    int bf16_attention; /* BF16 path: q k^T and p v in BF16 too */
} model_block;

/* One named tensor of the model file. */
typedef struct {
    char name[96];
    int rank;
    int shape[5];
    size_t offset;              /* in floats from the start of the block */
    size_t count;
    int trainable;              /* 0 for constants and normalisation */
} model_tensor;

typedef struct {
    model_config cfg;
    float *params;              /* every tensor, one 64-byte aligned block */
    size_t nparams;             /* floats in params */
    model_tensor *tensors;
    int ntensors;
    /* views into params */
    float *embed_w, *embed_b;           /* (C, 5 + upper_constants, pz, ph, pw), (C) */
    float *embed_sw, *embed_sb;         /* (C, 7, ph, pw), (C) */
    float *constants;                   /* (3, H, W) normalised, or (3, Hp, Wp) with padded_constants */
    float *upper_constants;             /* (upper_constants, L, H, W), NULL without */
    model_block *blocks[4];             /* blocks[layer][depth] */
    float *down_norm_w, *down_norm_b;   /* (4C) */
    float *down_w;                      /* (2C, 4C) */
    float *up_w1;                       /* (4C, 2C) */
    float *up_w2;                       /* (C, C) */
    float *up_norm_w, *up_norm_b;       /* (C) */
    float *rec_w, *rec_b;               /* (2C, 5, pz, ph, pw), (5) or (5, pz, ph, pw) */
    float *rec_sw, *rec_sb;             /* (2C, 4, ph, pw), (4) or (4, ph, pw) */
    float *upper_mean, *upper_std;      /* (5, L) */
    float *surface_mean, *surface_std;  /* (4) */
    int *bias_index;                    /* (N*N) into the bias table rows */
    /* precision of the GEMMs in model_step: MODEL_FP32 (default) or
     * MODEL_BF16, whose packed weights follow (NULL in FP32) */
    int precision;
    model_bf16_matrix *bf16;
    int nbf16;
    const model_bf16_matrix *embed_h, *embed_sh, *down_h, *up1_h, *up2_h;
    const model_bf16_matrix *rec_h[2], *rec_sh[2]; /* patch recovery: the skip's rows, then x's */
    /* MODEL_FP32 with the avx512 or avx2 kernel: the weights packed for
     * model/f32.c or model/avx2.c (NULL on the blas path) */
    model_f32_matrix *f32;
    int nf32;
    const model_f32_matrix *embed_f, *embed_sf, *down_f, *up1_f, *up2_f;
    const model_f32_matrix *rec_f[2], *rec_sf[2];
} model;

/* Window types (rows of windows) of a layer on a token grid of Z x Hl. */
int model_window_types(const model_config *c, int Hl);

/* Build the tensor table and allocate zeroed parameters for cfg. */
int model_create(model *m, const model_config *cfg);
/* Only the tensor table (names, shapes, nparams), no parameters: to check a
 * file against a configuration before allocating for it; model_free frees it. */
int model_create_table(model *m, const model_config *cfg);
void model_free(model *m);
const model_tensor *model_find_tensor(const model *m, const char *name);
size_t model_trainable_count(const model *m);
double model_flops_per_step(const model_config *c);

/* HDF5 model file: strict validation of format, version, shapes. */
int model_load(model *m, const char *path);
int model_save(const model *m, const char *path); /* temporary file, then rename */
/* Write the configuration and tensors laid out like m->params from `block`
 * (parameters, or gradients with trainable_only); `loss` becomes a root
 * attribute unless NaN. Temporary file, then rename. */
int model_write_tensors(const char *path, const model *m, const float *block, double loss, int trainable_only);
/* Training checkpoints: a model file (model_load reads it) plus the AdamW
 * moments (nparams floats each), the step and the training configuration. */
int model_checkpoint_save(const char *path, const model *m, const float *adam_m, const float *adam_v, long long step,
                          const char *config_text);
int model_checkpoint_load(const char *path, model *m, float **adam_m, float **adam_v, long long *step);

/* ---- the released models (model/onnx.c) ----
 * A file in the released Pangu-Weather ONNX layout (pangu_weather_N.onnx, the
 * tensors of ../shared/reference/official_onnx_names.csv, as initializers or
 * Constant nodes, raw_data or float_data, external data beside the file) into
 * a model of format 2: const_h, recovery bias per position, padded constants,
 * each Earth-specific bias compact where its expanded form has the compact
 * structure exactly, else full. lead_hours > 0 gives the lead time, else it
 * comes from the name pangu_weather_N.onnx. */
int model_onnx_import(model *m, const char *path, int lead_hours);
/* The same from a buffer (name for messages; dir: where external data files
 * are, NULL to refuse external data); lead_hours must be given. */
int model_onnx_import_memory(model *m, const void *data, size_t len, const char *name, const char *dir,
                             int lead_hours);
/* N of a file named pangu_weather_N.onnx; UTIL_EINVAL for another name. */
int model_onnx_lead_from_name(const char *path, int *lead_hours);
/* Row i of the table of released tensors: the model tensor's name, the
 * ONNX name and whether it is a Constant node; NULL past the end. */
const char *model_onnx_tensor_name(int i, const char **onnx_name, int *constant_node);
/* A model from an HDF5 model file, or from a released ONNX file (a name
 * ending in .onnx) imported in memory (lead_hours as model_onnx_import). */
int model_open(model *m, const char *path, int lead_hours);

/* AdamW (model/train.c): one update of every trainable tensor from grad
 * (already averaged over the batch); decoupled weight decay on matrices and
 * the Earth-specific bias, not on biases, LayerNorm parameters or constants. */
void model_adamw_step(model *m, const float *grad, float *adam_m, float *adam_v, long long step, float lr,
                      float weight_decay, float beta1, float beta2, float eps);

/* Random initialisation (truncated normal, std, LayerNorm weight 1, biases 0)
 * and plausible normalisation statistics for an untrained model. */
void model_init_random(model *m, unsigned long long seed, float std);

/* One forward step in physical units.
 * upper_in/out are (5, L, H, W); surface_in/out are (4, H, W).
 * in and out may not alias. Returns a status; needs no other allocation
 * than one work arena sized by model_workspace_bytes. */
size_t model_workspace_bytes(const model_config *c, int nthreads);
/* Step profile (model_profile_enable(1), e.g. `pangu step --profile`):
 * per-thread time and FLOPs inside the linear-layer GEMMs and inside window
 * attention (its GEMMs, bias, mask and softmax), summed over threads; each
 * OpenMP thread adds to its own slot, so reading it between steps is exact.
 * Off by default: two clock reads per GEMM call otherwise. */
typedef struct {
    double gemm_seconds, gemm_flops;           /* linear layers */
    double attention_seconds, attention_flops; /* q k^T, p v and the softmax */
} model_profile;
void model_profile_enable(int on);
void model_profile_reset(void);
void model_profile_get(model_profile *p);

int model_step(const model *m, float *upper_out, float *surface_out,
               const float *upper_in, const float *surface_in);
/* The same step in a work arena kept from one call to the next (a
 * forecast's steps, `pangu step --repeat`): its pages are faulted in and
 * zeroed by the kernel once instead of at every step (about 2 s of a 25 s
 * step at 721 x 1440 for the fresh 1 GB arena). Start from a zeroed
 * model_workspace; it grows when a model or thread count needs more. One
 * step at a time per workspace; free with model_workspace_free. */
typedef struct {
    unsigned char *base;
    size_t size;
} model_workspace;
int model_step_in(const model *m, model_workspace *ws, float *upper_out, float *surface_out,
                  const float *upper_in, const float *surface_in);
void model_workspace_free(model_workspace *ws);


/* ---- training (model/train.c) ----
 * Loss of one sample, as pangu_ref.py's training_loss: mean |out - target| /
 * std over upper-air values plus surface_weight (0.25) times the same over
 * surface values; grad (laid out like params, nparams floats) accumulates
 * (+=) the gradient of every trainable tensor. drop (2 per block, in layer
 * order: attention and MLP branch scales, 0 for a dropped path and
 * 1/(1-p) for a kept one) or NULL for none. Activations are recomputed per
 * block, so memory is one block's activations plus every block's input. */
int model_grad(const model *m, float *grad, double *loss, const float *upper_in, const float *surface_in,
               const float *upper_target, const float *surface_target, const float *drop, float surface_weight);

/* ---- lead-time hierarchy (model/plan.c) ----
 * Each lead is reached greedily (as many of the longest model as fit, then
 * the next); the calls form a tree whose shared prefixes are computed once.
 * calls[] is in depth-first execution order: call i reads the state its
 * parent produced (parent -1: the initial state) at depth - 1, so a runner
 * needs one state per depth level. */
#define MODEL_PLAN_MAX_MODELS 16
typedef struct {
    int from, to, model; /* hours */
    int parent;          /* index of the call producing the input, -1 for the initial state */
    int depth;           /* 1 for calls on the initial state */
    int writes;          /* 1 when `to` is a requested lead */
} model_plan_call;

typedef struct {
    int nmodels, models[MODEL_PLAN_MAX_MODELS]; /* descending */
    int nleads, *leads;                          /* requested, ascending, unique */
    int ncalls;
    model_plan_call *calls;
    int max_depth;
} model_plan;

/* "6-168/6,240" -> sorted unique hours; ranges START-END/STEP (STEP default 1). */
int model_plan_parse_leads(const char *spec, int **leads, int *nleads);
int model_plan_build(model_plan *p, const int *models, int nmodels, const int *leads, int nleads);
void model_plan_free(model_plan *p);

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
/* Earth-specific block on x (Z, Hl, Wl, C), in place; roll for odd blocks.
 * scratch holds nthreads * model_scratch_floats floats. */
void model_block_forward(float *x, const model_block *blk, const model_config *c, int layer, int roll,
                         const int *bias_index, float *scratch, size_t scratch_stride);
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

/* ---- reduced precision (model/bf16.c) ----
 * `--precision bf16`: every linear layer (qkv, proj, fc1, fc2, patch
 * embedding, down- and up-sampling, patch recovery) multiplies bf16 weights
 * (packed once by model_set_precision) by activations rounded to bf16 as they
 * enter the GEMM, accumulating in FP32 with AVX512_BF16; everything else is
 * FP32. Rounding: nearest, ties to even, denormals to signed zero, NaN quiet
 * (as VCVTNE2PS2BF16). */
enum { MODEL_FP32 = 0, MODEL_BF16 = 1 };
/* 1 when the CPU (and OS) run AVX512_BF16, and PANGU_NO_BF16 is unset or 0. */
int model_bf16_available(void);
/* "fp32" or "bf16" -> MODEL_FP32 / MODEL_BF16; UTIL_EINVAL otherwise. */
int model_precision_parse(const char *text, int *precision);
const char *model_precision_name(int precision);
/* UTIL_OK when this CPU runs `precision`; for bf16 without AVX512_BF16,
 * UTIL_EINVAL with a message saying so. */
int model_precision_check(int precision);
/* Pack the weights for the step's GEMMs: bf16 (MODEL_BF16), or FP32 panels
 * for model/f32.c or model/avx2.c (MODEL_FP32 with the avx512 or avx2 kernel;
 * on the blas path nothing is packed and OpenBLAS runs the GEMMs); UTIL_EINVAL with
 * a clear message for bf16 on a CPU without AVX512_BF16. Inference only:
 * repack after changing the parameters; model_grad refuses a BF16 model. */
int model_set_precision(model *m, int precision);
/* Frees every packed copy of the weights, BF16 and packed FP32 alike: back to
 * unpacked FP32 on OpenBLAS (model_free calls it). */
void model_release_packs(model *m);

uint16_t model_bf16_round(float x); /* scalar twin of the hardware rounding */
float model_bf16_float(uint16_t h);
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
/* GELU and LayerNorm, AVX-512 (model/f32.c; twins: model_gelu_forward,
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
/* Intel AMX: where the CPU has AMX-TILE and AMX-BF16, Linux grants the tile
 * state (arch_prctl, 5.16+) and the tile path matches the scalar twin on a
 * test GEMM at first use, every BF16 GEMM above (linear layers, attention's
 * q k^T and p v) runs on the tile unit; otherwise on AVX512_BF16. The
 * packed layout is the same. PANGU_NO_AMX=1 keeps AVX512_BF16;
 * PANGU_AMX_EMULATE=1 (tests) runs the tile path with each tile instruction
 * emulated in C, on any AVX512_BF16 CPU. */
enum { MODEL_AMX_OFF = 0, MODEL_AMX_ON = 1, MODEL_AMX_EMULATED = 2 };
int model_bf16_amx(void);                /* the mode in use (decided at the first call) */
const char *model_bf16_amx_status(void); /* "on: ...", "no: <why>", "off: ...", "emulated: ..." */
/* Tests: force MODEL_AMX_OFF or MODEL_AMX_EMULATED (MODEL_AMX_ON only where
 * detected), -1 back to the detected mode. Not while GEMMs run. */
int model_bf16_amx_select(int mode);
/* The tile path (emulate: in C) against model_bf16_linear_ref on one GEMM
 * with every edge: the largest error relative to sum |x w| (INFINITY
 * without AVX512_BF16). The first-use check on AMX hardware. */
double model_bf16_amx_check(int emulate);
/* Scalar twin of model_bf16_window_attention with bf16_gemms (scores: N*N floats). */
void model_bf16_window_attention_ref(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                     int C, int heads, float *scores);
/* ---- kernel choice (model/f32.c) ----
 * The FP32 step runs one of three kernel sets, the widest this CPU runs:
 * avx512 (model/f32.c: AVX-512F/BW/VL/DQ), avx2 (model/avx2.c: AVX2 + FMA),
 * blas (OpenBLAS SGEMM and scalar loops, model/kernels.c: the plain twins).
 * PANGU_NO_AVX512=1 acts as a CPU without AVX-512 (avx2; no BF16 either),
 * PANGU_NO_AVX2=1 as one without AVX2 (blas), so every path runs on one
 * machine. Read from the environment at each call. The BF16 GEMMs' AMX
 * path: model_bf16_amx() above; model_cpu_amx() reports the CPUID bit. */
enum { MODEL_KERNEL_BLAS = 0, MODEL_KERNEL_AVX2 = 1, MODEL_KERNEL_AVX512 = 2 };
int model_kernel(void);
const char *model_kernel_name(int kernel); /* "blas", "avx2", "avx512" */
int model_cpu_amx(void);                   /* 1 when CPUID reports amx_bf16 */

/* ---- blocking of the packed kernels (model/tune.c) ----
 * mc rows by kc inputs per block of activations (mc is rounded down to the
 * kernel's micro-tile, kc at most MODEL_KC_MAX). Defaults derived from the
 * cache sizes (sysconf, else CPUID); `pangu tune` measures a few candidates
 * and caches the best per CPU model; model_tune_load applies the cache.
 * Results do not depend on the blocking (sums in input order either way). */
#define MODEL_KC_MAX 1024
typedef struct {
    int mc, kc;
} model_blocking;
void model_blocking_get(int kernel, model_blocking *b);
/* UTIL_EINVAL for values out of range (mc 1..4096, kc 8..MODEL_KC_MAX);
 * NULL: back to the default. Set before a step, not during one. */
int model_blocking_set(int kernel, const model_blocking *b);
/* Data or unified cache of level 1, 2 or 3 in bytes (sysconf, else CPUID, else a typical size). */
long model_cache_bytes(int level);
/* Windows of one type attended together in a block (from the L2 size, or
 * about `rows` rows after model_attention_rows_set(rows); 0 restores the
 * default). The step's results are the same for any grouping. */
int model_attention_group(int N, int C, int nW);
void model_attention_rows_set(int rows);
/* The CPU's model string (CPUID brand string, else /proc/cpuinfo), blanks trimmed. */
void model_cpu_name(char *buf, size_t len);

/* Autotuning (`pangu tune`): the measured blockings and rates of this CPU. */
typedef struct {
    char cpu[128];
    int kernel, threads;            /* the step's kernel and the threads when measured */
    model_blocking blocking[3];     /* per MODEL_KERNEL_*; kc 0: not measured */
    double gflops[3];               /* at that blocking */
    double fp32_gflops, bf16_gflops; /* the step's FP32 kernel and BF16; 0: not measured */
} model_tune;
/* GFLOP/s of the linear layers of a C = 192 block (2880 rows over the
 * OpenMP threads) through `kernel` (MODEL_KERNEL_AVX512 or _AVX2) at
 * blocking b (NULL: the current one), or BF16 (kernel -1), for `seconds`. */
int model_tune_rate(double *gflops, int kernel, const model_blocking *b, double seconds);
/* Measure up to 9 blockings around the default per packed kernel this CPU
 * runs (and BF16), about `seconds` in all; one line per candidate on log. */
int model_tune_run(model_tune *t, double seconds, FILE *log);
/* $XDG_CACHE_HOME/pangu-c/tune-CPU.txt, else $HOME/.cache/pangu-c/tune-CPU.txt
 * (CPU: model_cpu_name with other characters than [A-Za-z0-9.-] as _). */
int model_tune_path(char *buf, size_t len);
/* key=value lines (cpu, kernel, threads, avx512_mc, avx512_kc,
 * avx512_gflops, avx2_mc, avx2_kc, avx2_gflops, fp32_gflops, bf16_gflops);
 * written to a temporary and renamed. path NULL: model_tune_path. */
int model_tune_save(const model_tune *t, const char *path);
/* Strict: an unknown or repeated key, a number out of range or a file of
 * another CPU is UTIL_EFORMAT naming the file and line. No file: UTIL_OK
 * with t->cpu empty. */
int model_tune_read(model_tune *t, const char *path);
/* Read the cache and apply its blockings (every command, unless --no-tune). */
int model_tune_load(const char *path);
/* --no-tune: the blockings derived from the caches only, the tune cache
 * neither read nor written (reproducible timing). */
void model_tune_disable(void);
int model_tune_enabled(void);

/* `--precision auto`: BF16 only where allowed (allow_bf16), the CPU runs
 * AVX512_BF16 and its measured BF16 rate beats FP32's by 10% (the rates of
 * the linear layers' GEMMs: pangu tune's, else measured here, about half a
 * second, and cached), else FP32. Nothing is measured when not allowed. */
int model_precision_auto(int *precision, int allow_bf16);
/* The FP32 (the step's kernel) and BF16 GEMM rates, cached or measured
 * (and then cached if save); both 0 where this CPU has no BF16. */
int model_precision_rates(double *fp32, double *bf16, int save);
/* An explicit bf16 where the CPU runs it slower than FP32: one warning
 * line with both rates on log, once per process (rates cached, else
 * measured and not cached). */
int model_precision_warn(int precision, FILE *log);
/* The blocking derived from the caches, without tuning. */
void model_blocking_default(int kernel, model_blocking *b);

/* ---- packed FP32 GEMMs (model/f32.c, model/avx2.c) ----
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
int model_f32_panel_width(int kernel); /* columns per panel of `kernel`'s packing */
void model_f32_matrix_free(model_f32_matrix *p);
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
/* The plain twin, summing in double. */
void model_f32_linear_ref(float *out, size_t ldo, const float *in, size_t ldi, const float *w, size_t sn, size_t sk,
                          const float *b, int rows, int k, int n, int accumulate);
/* model_window_attention with q k^T and p v through the packed kernel and
 * an AVX-512 softmax; packs: model_f32_attention_floats(N, C / heads) floats
 * of scratch. */
size_t model_f32_attention_floats(int N, int d);
void model_f32_window_attention(float *out, const float *qkv, const float *bias_t, const int *labels, int nW, int N,
                                int C, int heads, float *scores, float *packs);

/* The AVX2 + FMA kernels (model/avx2.c) on the same panels, with the
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
void model_layernorm_forward_avx2(float *out, const float *in, const float *w, const float *b, int rows, int C);
void model_layernorm_add_avx2(float *x, const float *y, const float *w, const float *b, int C);

/* The plain scalar twin: the same sum in k order from the float W. */
void model_bf16_linear_ref(float *out, size_t ldo, const float *in, size_t ldi, const float *w, size_t sn, size_t sk,
                           const float *b, int rows, int k, int n, int accumulate);

#endif
