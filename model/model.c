/* model: configuration rules, the tensor table, parameter block, random
 * initialisation and FLOP count. */
#define _DEFAULT_SOURCE
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

const char *const model_upper_names[MODEL_NUPPER] = {"z", "q", "t", "u", "v"};
const char *const model_surface_names[MODEL_NSURFACE] = {"msl", "u10", "v10", "t2m"};
const char *const model_constant_names[MODEL_NCONST] = {"land_sea_mask", "soil_type", "orography"};

static const float levels13[13] = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 50};


int model_config_preset(model_config *c, const char *name) {
    memset(c, 0, sizeof *c);
    c->patch[0] = 2, c->patch[1] = 4, c->patch[2] = 4;
    c->lead_hours = 24;
    if (strcmp(name, "tiny") == 0) {
        *c = (model_config){.H = 24, .W = 48, .nlev = 5, .dim = 16, .depths = {2, 2, 2, 2},
                            .heads = {2, 4, 4, 2}, .window = {2, 3, 6}, .patch = {2, 4, 4}, .lead_hours = 24};
    } else if (strcmp(name, "small") == 0) {
        *c = (model_config){.H = 32, .W = 64, .nlev = 13, .dim = 32, .depths = {2, 6, 6, 2},
                            .heads = {2, 4, 4, 2}, .window = {2, 4, 8}, .patch = {2, 4, 4}, .lead_hours = 24};
    } else if (strcmp(name, "full") == 0) {
        *c = (model_config){.H = 721, .W = 1440, .nlev = 13, .dim = 192, .depths = {2, 6, 6, 2},
                            .heads = {6, 12, 12, 6}, .window = {2, 6, 12}, .patch = {2, 4, 4}, .lead_hours = 24};
    } else {
        return util_fail(UTIL_EINVAL, "unknown preset '%s' (expected tiny, small or full)", name);
    }
    memcpy(c->levels, levels13, sizeof(float) * c->nlev);
    return model_config_derive(c);
}

int model_config_format_version(const model_config *c) {
    return c->upper_constants || c->recovery_bias_position || c->padded_constants || c->full_bias ? 2 : 1;
}

const char *model_licence(const model_config *c) {
    return model_config_format_version(c) == 2
               ? "the released Pangu-Weather models' variant: if its weights are the released ones (or derived from "
                 "them), they are licensed under CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), "
                 "no commercial use; see https://github.com/198808xc/Pangu-Weather"
               : NULL;
}

int model_config_derive(model_config *c) {
    if (c->H < 1 || c->W < 1) return util_fail(UTIL_EINVAL, "grid %d x %d: both sizes must be positive", c->H, c->W);
    if (c->nlev < 1 || c->nlev > MODEL_MAX_LEVELS)
        return util_fail(UTIL_EINVAL, "%d pressure levels: expected 1 to %d", c->nlev, MODEL_MAX_LEVELS);
    if (c->dim < 1) return util_fail(UTIL_EINVAL, "dim %d: expected a positive width", c->dim);
    for (int i = 0; i < 3; i++) {
        if (c->window[i] < 1) return util_fail(UTIL_EINVAL, "window[%d] = %d: expected positive", i, c->window[i]);
        if (c->patch[i] < 1) return util_fail(UTIL_EINVAL, "patch[%d] = %d: expected positive", i, c->patch[i]);
    }
    for (int i = 0; i < 4; i++) {
        int width = (i == 1 || i == 2) ? 2 * c->dim : c->dim;
        if (c->depths[i] < 0 || c->depths[i] > 64)
            return util_fail(UTIL_EINVAL, "depths[%d] = %d: expected 0 to 64", i, c->depths[i]);
        if (c->heads[i] < 1 || width % c->heads[i])
            return util_fail(UTIL_EINVAL, "heads[%d] = %d must divide the layer width %d", i, c->heads[i], width);
    }
    for (int i = 0; i < c->nlev; i++)
        if (!(c->levels[i] > 0) || !isfinite(c->levels[i]))
            return util_fail(UTIL_EINVAL, "level %d is %g hPa: expected a positive pressure", i, c->levels[i]);
    c->Lp = model_ceil_to(c->nlev, c->patch[0]);
    c->Hp = model_ceil_to(c->H, c->patch[1]);
    c->Wp = model_ceil_to(c->W, c->patch[2]);
    c->Z = c->Lp / c->patch[0] + 1;
    c->Ht = c->Hp / c->patch[1];
    c->Wt = c->Wp / c->patch[2];
    c->H2 = (c->Ht + 1) / 2;
    c->W2 = (c->Wt + 1) / 2;
    if (c->Wt % c->window[2])
        return util_fail(UTIL_EINVAL, "longitude tokens %d (W %d / patch %d) not divisible by window %d",
                         c->Wt, c->W, c->patch[2], c->window[2]);
    if (c->W2 % c->window[2])
        return util_fail(UTIL_EINVAL, "down-sampled longitude tokens %d not divisible by window %d",
                         c->W2, c->window[2]);
    if (c->lead_hours < 1) return util_fail(UTIL_EINVAL, "lead time %d h: expected positive", c->lead_hours);
    if (c->upper_constants < 0 || c->upper_constants > MODEL_MAX_UPPER_CONSTANTS)
        return util_fail(UTIL_EINVAL, "%d upper-air constant fields: expected 0 or 1 (const_h)", c->upper_constants);
    if ((c->recovery_bias_position | c->padded_constants | c->full_bias) & ~1)
        return util_fail(UTIL_EINVAL, "variant flags must be 0 or 1");
    /* a grid that needs no padding has one form of constants */
    if (c->padded_constants && c->Hp == c->H && c->Wp == c->W) c->padded_constants = 0;
    return UTIL_OK;
}

int model_window_types(const model_config *c, int Hl) {
    return (model_ceil_to(c->Z, c->window[0]) / c->window[0]) * (model_ceil_to(Hl, c->window[1]) / c->window[1]);
}

/* ---- tensor table ---- */

typedef struct {
    model_tensor *t;
    int n, cap;
    size_t total;
    int fail;
} table;

static int add(table *tb, int trainable, const char *name, int rank, int d0, int d1, int d2, int d3, int d4) {
    if (tb->n == tb->cap) {
        int cap = tb->cap ? 2 * tb->cap : 64;
        model_tensor *t = realloc(tb->t, sizeof *t * cap);
        if (!t) {
            tb->fail = 1;
            return -1;
        }
        tb->t = t, tb->cap = cap;
    }
    model_tensor *t = &tb->t[tb->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    int d[5] = {d0, d1, d2, d3, d4};
    t->rank = rank;
    t->count = 1;
    for (int i = 0; i < rank; i++) t->shape[i] = d[i], t->count *= (size_t)d[i];
    t->offset = tb->total;
    t->trainable = trainable;
    tb->total += (t->count + 15) / 16 * 16; /* keep every tensor 64-byte aligned */
    return tb->n++;
}

static size_t bias_rows(const model_config *c) {
    int wz = c->window[0], wh = c->window[1], ww = c->window[2];
    return (size_t)wz * wz * wh * wh * (2 * ww - 1);
}

/* The tensor table for cfg, and with `allocate` the zeroed parameters and views. */
static int create(model *m, const model_config *cfg, int allocate) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    table tb = {0};
    char name[96];
    int N = c->window[0] * c->window[1] * c->window[2];
    int idx_embed_w = add(&tb, 1, "patch_embed.conv.weight", 5, C, model_upper_channels(c), pz, ph, pw);
    int idx_embed_b = add(&tb, 1, "patch_embed.conv.bias", 1, C, 0, 0, 0, 0);
    int idx_embed_sw = add(&tb, 1, "patch_embed.conv_surface.weight", 4, C, MODEL_NSURFACE + MODEL_NCONST, ph, pw, 0);
    int idx_embed_sb = add(&tb, 1, "patch_embed.conv_surface.bias", 1, C, 0, 0, 0, 0);
    int idx_const = c->padded_constants ? add(&tb, 0, "patch_embed.constants", 3, MODEL_NCONST, c->Hp, c->Wp, 0, 0)
                                        : add(&tb, 0, "patch_embed.constants", 3, MODEL_NCONST, c->H, c->W, 0, 0);
    int idx_uconst = c->upper_constants
                         ? add(&tb, 0, "patch_embed.upper_constants", 4, c->upper_constants, c->nlev, c->H, c->W, 0)
                         : -1;
    int first_block[4];
    for (int l = 0; l < 4; l++) {
        int Cl = (l == 1 || l == 2) ? 2 * C : C;
        int types = model_window_types(c, (l == 1 || l == 2) ? c->H2 : c->Ht);
        first_block[l] = tb.n;
        for (int b = 0; b < c->depths[l]; b++) {
#define P(suffix) (snprintf(name, sizeof name, "layers.%d.blocks.%d.%s", l, b, suffix), name)
            add(&tb, 1, P("norm1.weight"), 1, Cl, 0, 0, 0, 0);
            add(&tb, 1, P("norm1.bias"), 1, Cl, 0, 0, 0, 0);
            add(&tb, 1, P("norm2.weight"), 1, Cl, 0, 0, 0, 0);
            add(&tb, 1, P("norm2.bias"), 1, Cl, 0, 0, 0, 0);
            if (c->full_bias) add(&tb, 1, P("attn.earth_specific_bias"), 4, types, c->heads[l], N, N, 0);
            else add(&tb, 1, P("attn.earth_specific_bias"), 3, (int)bias_rows(c), types, c->heads[l], 0, 0);
            add(&tb, 1, P("attn.qkv.weight"), 2, 3 * Cl, Cl, 0, 0, 0);
            add(&tb, 1, P("attn.qkv.bias"), 1, 3 * Cl, 0, 0, 0, 0);
            add(&tb, 1, P("attn.proj.weight"), 2, Cl, Cl, 0, 0, 0);
            add(&tb, 1, P("attn.proj.bias"), 1, Cl, 0, 0, 0, 0);
            add(&tb, 1, P("mlp.fc1.weight"), 2, 4 * Cl, Cl, 0, 0, 0);
            add(&tb, 1, P("mlp.fc1.bias"), 1, 4 * Cl, 0, 0, 0, 0);
            add(&tb, 1, P("mlp.fc2.weight"), 2, Cl, 4 * Cl, 0, 0, 0);
            add(&tb, 1, P("mlp.fc2.bias"), 1, Cl, 0, 0, 0, 0);
#undef P
        }
    }
    int idx_dn_w = add(&tb, 1, "downsample.norm.weight", 1, 4 * C, 0, 0, 0, 0);
    int idx_dn_b = add(&tb, 1, "downsample.norm.bias", 1, 4 * C, 0, 0, 0, 0);
    int idx_dl = add(&tb, 1, "downsample.linear.weight", 2, 2 * C, 4 * C, 0, 0, 0);
    int idx_u1 = add(&tb, 1, "upsample.linear1.weight", 2, 4 * C, 2 * C, 0, 0, 0);
    int idx_u2 = add(&tb, 1, "upsample.linear2.weight", 2, C, C, 0, 0, 0);
    int idx_un_w = add(&tb, 1, "upsample.norm.weight", 1, C, 0, 0, 0, 0);
    int idx_un_b = add(&tb, 1, "upsample.norm.bias", 1, C, 0, 0, 0, 0);
    int idx_rw = add(&tb, 1, "patch_recovery.conv.weight", 5, 2 * C, MODEL_NUPPER, pz, ph, pw);
    int idx_rb = c->recovery_bias_position ? add(&tb, 1, "patch_recovery.conv.bias", 4, MODEL_NUPPER, pz, ph, pw, 0)
                                           : add(&tb, 1, "patch_recovery.conv.bias", 1, MODEL_NUPPER, 0, 0, 0, 0);
    int idx_rsw = add(&tb, 1, "patch_recovery.conv_surface.weight", 4, 2 * C, MODEL_NSURFACE, ph, pw, 0);
    int idx_rsb = c->recovery_bias_position
                      ? add(&tb, 1, "patch_recovery.conv_surface.bias", 3, MODEL_NSURFACE, ph, pw, 0, 0)
                      : add(&tb, 1, "patch_recovery.conv_surface.bias", 1, MODEL_NSURFACE, 0, 0, 0, 0);
    int idx_um = add(&tb, 0, "normalization.upper_mean", 2, MODEL_NUPPER, c->nlev, 0, 0, 0);
    int idx_us = add(&tb, 0, "normalization.upper_std", 2, MODEL_NUPPER, c->nlev, 0, 0, 0);
    int idx_sm = add(&tb, 0, "normalization.surface_mean", 1, MODEL_NSURFACE, 0, 0, 0, 0);
    int idx_ss = add(&tb, 0, "normalization.surface_std", 1, MODEL_NSURFACE, 0, 0, 0, 0);
    if (tb.fail) {
        free(tb.t);
        return util_fail(UTIL_ENOMEM, "cannot allocate the tensor table");
    }
    m->tensors = tb.t;
    m->ntensors = tb.n;
    m->nparams = tb.total;
    if (!allocate) return UTIL_OK;
    char what[160];
    snprintf(what, sizeof what, "a model of %d x %d grid points, dim %d (its parameters)", c->H, c->W, c->dim);
    int status = util_check_memory(sizeof(float) * tb.total, what);
    if (status) {
        model_free(m);
        return status;
    }
    m->params = util_aligned_alloc(sizeof(float) * tb.total);
    m->bias_index = malloc(sizeof(int) * (size_t)N * N);
    for (int l = 0; l < 4; l++) m->blocks[l] = calloc(c->depths[l] ? c->depths[l] : 1, sizeof(model_block));
    if (!m->params || !m->bias_index || !m->blocks[0] || !m->blocks[1] || !m->blocks[2] || !m->blocks[3]) {
        model_free(m);
        return util_fail(UTIL_ENOMEM, "cannot allocate %.1f MB of parameters", sizeof(float) * tb.total / 1e6);
    }
#define V(i) (m->params + m->tensors[i].offset)
    m->embed_w = V(idx_embed_w), m->embed_b = V(idx_embed_b);
    m->embed_sw = V(idx_embed_sw), m->embed_sb = V(idx_embed_sb);
    m->constants = V(idx_const);
    m->upper_constants = idx_uconst >= 0 ? V(idx_uconst) : NULL;
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < c->depths[l]; b++) {
            int i = first_block[l] + 13 * b;
            model_block *k = &m->blocks[l][b];
            k->norm1_w = V(i), k->norm1_b = V(i + 1), k->norm2_w = V(i + 2), k->norm2_b = V(i + 3);
            k->bias = V(i + 4), k->qkv_w = V(i + 5), k->qkv_b = V(i + 6);
            k->proj_w = V(i + 7), k->proj_b = V(i + 8);
            k->fc1_w = V(i + 9), k->fc1_b = V(i + 10), k->fc2_w = V(i + 11), k->fc2_b = V(i + 12);
        }
    m->down_norm_w = V(idx_dn_w), m->down_norm_b = V(idx_dn_b), m->down_w = V(idx_dl);
    m->up_w1 = V(idx_u1), m->up_w2 = V(idx_u2), m->up_norm_w = V(idx_un_w), m->up_norm_b = V(idx_un_b);
    m->rec_w = V(idx_rw), m->rec_b = V(idx_rb), m->rec_sw = V(idx_rsw), m->rec_sb = V(idx_rsb);
    m->upper_mean = V(idx_um), m->upper_std = V(idx_us);
    m->surface_mean = V(idx_sm), m->surface_std = V(idx_ss);
#undef V
    for (int i = 0; i < c->nlev * MODEL_NUPPER; i++) m->upper_std[i] = 1;
    for (int i = 0; i < MODEL_NSURFACE; i++) m->surface_std[i] = 1;
    model_bias_index(m->bias_index, c->window);
    return UTIL_OK;
}

int model_create(model *m, const model_config *cfg) { return create(m, cfg, 1); }
int model_create_table(model *m, const model_config *cfg) { return create(m, cfg, 0); }

void model_free(model *m) {
    model_release_packs(m);
    free(m->params);
    free(m->tensors);
    free(m->bias_index);
    for (int l = 0; l < 4; l++) free(m->blocks[l]);
    memset(m, 0, sizeof *m);
}

const model_tensor *model_find_tensor(const model *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

size_t model_trainable_count(const model *m) {
    size_t n = 0;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].trainable) n += m->tensors[i].count;
    return n;
}

/* Multiply-adds counted twice; the attention core and every Linear layer,
 * on padded windows as computed. */
double model_flops_per_step(const model_config *c) {
    double C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    double T1 = (double)c->Z * c->Ht * c->Wt, T2 = (double)c->Z * c->H2 * c->W2;
    double N = (double)c->window[0] * c->window[1] * c->window[2];
    double f = 2 * (c->Z - 1) * (double)c->Ht * c->Wt * C * model_upper_channels(c) * pz * ph * pw;
    f += 2 * (double)c->Ht * c->Wt * C * (MODEL_NSURFACE + MODEL_NCONST) * ph * pw;
    for (int l = 0; l < 4; l++) {
        int Hl = (l == 1 || l == 2) ? c->H2 : c->Ht, Wl = (l == 1 || l == 2) ? c->W2 : c->Wt;
        double Cl = (l == 1 || l == 2) ? 2 * C : C;
        double Tp = (double)model_ceil_to(c->Z, c->window[0]) * model_ceil_to(Hl, c->window[1]) * Wl;
        double T = (double)c->Z * Hl * Wl;
        double per_block = Tp * (2 * Cl * 3 * Cl + 4 * N * Cl + 2 * Cl * Cl) + T * (2 * 8 * Cl * Cl);
        f += c->depths[l] * per_block;
    }
    f += T2 * 2 * (4 * C) * (2 * C);          /* down-sampling */
    f += T2 * 2 * (2 * C) * (4 * C);          /* up-sampling linear1 */
    f += T1 * 2 * C * C;                      /* up-sampling linear2 */
    f += (c->Z - 1) * (double)c->Ht * c->Wt * 2 * (2 * C) * MODEL_NUPPER * pz * ph * pw;
    f += (double)c->Ht * c->Wt * 2 * (2 * C) * MODEL_NSURFACE * ph * pw;
    return f;
}

/* ---- random initialisation ---- */

/* International Standard Atmosphere: height (m) and temperature (K) at
 * pressure p (hPa), for plausible normalisation statistics of untrained models. */
static void isa(double p, double *height, double *temp) {
    const double g = 9.80665, R = 287.053, T0 = 288.15, lapse = 0.0065, p11 = 226.32;
    if (p >= p11) {
        *height = T0 / lapse * (1 - pow(p / 1013.25, R * lapse / g));
        *temp = T0 - lapse * *height;
    } else {
        *height = 11000 + R * 216.65 / g * log(p11 / p);
        *temp = 216.65;
    }
}

void model_init_random(model *m, unsigned long long seed, float std) {
    util_rng r;
    util_rng_seed(&r, seed);
    for (int i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        if (!t->trainable) continue;
        size_t len = strlen(t->name);
        int is_bias = len > 5 && strcmp(t->name + len - 5, ".bias") == 0;
        int is_norm = strstr(t->name, "norm") != NULL;
        if (is_norm && !is_bias)
            for (size_t j = 0; j < t->count; j++) p[j] = 1.0f;
        else if (is_bias)
            for (size_t j = 0; j < t->count; j++) p[j] = 0.0f;
        else
            for (size_t j = 0; j < t->count; j++) p[j] = (float)util_rng_trunc_normal(&r, std, 2.0);
    }
    const model_config *c = &m->cfg;
    for (int k = 0; k < c->nlev; k++) {
        double h, T, p = c->levels[k];
        isa(p, &h, &T);
        float mean[MODEL_NUPPER] = {(float)(9.80665 * h), (float)(0.012 * pow(p / 1000.0, 3)), (float)T, 5.0f, 0.0f};
        float sd[MODEL_NUPPER] = {(float)(500 + 0.02 * 9.80665 * h), (float)(0.005 * pow(p / 1000.0, 3) + 1e-6),
                                  12.0f, 10.0f, 8.0f};
        for (int v = 0; v < MODEL_NUPPER; v++) {
            m->upper_mean[v * c->nlev + k] = mean[v];
            m->upper_std[v * c->nlev + k] = sd[v];
        }
    }
    const float smean[MODEL_NSURFACE] = {101000.0f, 0.0f, 0.0f, 280.0f};
    const float sstd[MODEL_NSURFACE] = {1200.0f, 5.0f, 4.5f, 20.0f};
    memcpy(m->surface_mean, smean, sizeof smean);
    memcpy(m->surface_std, sstd, sizeof sstd);
}
