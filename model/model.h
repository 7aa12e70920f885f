/* model: the 3D Earth-Specific Transformer of Pangu-Weather (Bi et al. 2023).
 * Configuration, parameters (one contiguous block), the HDF5 model file, and
 * the forward step: what the rest of the product (cli/, lib/, io/, eval/,
 * data/) uses. The kernels and their internals: model/internal.h.
 * Conventions: ../shared/reference/ARCHITECTURE.md. */
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
 * (model/fast/bf16.c): panels of MODEL_BF16_PANEL output columns, each holding
 * per input pair (2q, 2q+1) one 32-bit word per column, bf16(W[j][2q]) in the
 * low half and bf16(W[j][2q+1]) in the high half; zeros past n and k. */
#define MODEL_BF16_PANEL 32
typedef struct {
    int n, k, kp, panels; /* kp = ceil(k / 2) pairs */
    uint32_t *data;       /* panels * kp * MODEL_BF16_PANEL words, 64-byte aligned */
} model_bf16_matrix;

/* A weight matrix W (n, k) of y = x W^T packed for the FP32 kernels: panels
 * of MODEL_F32_PANEL output columns (model/fast/avx512.c) or of
 * MODEL_AVX2_PANEL (model/fast/avx2.c, AVX2 + FMA), each holding per input i the
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
     * model/fast/avx512.c or avx2.c (NULL on the blas path) */
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

/* ---- reduced precision (model/fast/bf16.c, packing model/pack.c) ----
 * `--precision bf16`: every linear layer (qkv, proj, fc1, fc2, patch
 * embedding, down- and up-sampling, patch recovery) multiplies bf16 weights
 * (packed once by model_set_precision) by activations rounded to bf16 as they
 * enter the GEMM, accumulating in FP32 with AVX512_BF16; everything else is
 * FP32. Rounding: nearest, ties to even, denormals to signed zero, NaN quiet
 * (as VCVTNE2PS2BF16). */
enum { MODEL_FP32 = 0, MODEL_BF16 = 1 };
/* 1 when the CPU (and OS) run AVX512_BF16, and PANGU_NO_BF16 is unset or 0. */
int model_bf16_available(void);
/* 1 when this build has the x86-64 kernels (0: built for another CPU, or with PANGU_PORTABLE). */
int model_x86_kernels(void);
/* "fp32" or "bf16" -> MODEL_FP32 / MODEL_BF16; UTIL_EINVAL otherwise. */
int model_precision_parse(const char *text, int *precision);
const char *model_precision_name(int precision);
/* UTIL_OK when this CPU runs `precision`; for bf16 without AVX512_BF16,
 * UTIL_EINVAL with a message saying so. */
int model_precision_check(int precision);
/* Pack the weights for the step's GEMMs: bf16 (MODEL_BF16), or FP32 panels
 * for model/fast/avx512.c or avx2.c (MODEL_FP32 with the avx512 or avx2 kernel;
 * on the blas path nothing is packed and OpenBLAS runs the GEMMs); UTIL_EINVAL with
 * a clear message for bf16 on a CPU without AVX512_BF16. Inference only:
 * repack after changing the parameters; model_grad refuses a BF16 model. */
int model_set_precision(model *m, int precision);
/* Frees every packed copy of the weights, BF16 and packed FP32 alike: back to
 * unpacked FP32 on OpenBLAS (model_free calls it). */
void model_release_packs(model *m);

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
/* ---- kernel choice (model/cpu.c) ----
 * The FP32 step runs one of three kernel sets, the widest this CPU runs:
 * avx512 (model/fast/avx512.c: AVX-512F/BW/VL/DQ), avx2 (model/fast/avx2.c:
 * AVX2 + FMA), blas (OpenBLAS SGEMM and scalar loops, model/ref.c: the plain twins).
 * PANGU_NO_AVX512=1 acts as a CPU without AVX-512 (avx2; no BF16 either),
 * PANGU_NO_AVX2=1 as one without AVX2 (blas), so every path runs on one
 * machine. Read from the environment at each call. The BF16 GEMMs' AMX
 * path: model_bf16_amx() above; model_cpu_amx() reports the CPUID bit. */
enum { MODEL_KERNEL_BLAS = 0, MODEL_KERNEL_AVX2 = 1, MODEL_KERNEL_AVX512 = 2 };
int model_kernel(void);
const char *model_kernel_name(int kernel); /* "blas", "avx2", "avx512" */
int model_cpu_amx(void);                   /* 1 when CPUID reports amx_bf16 */

/* ---- blocking of the packed kernels (model/cpu.c; measured by model/tune.c) ----
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

#endif
