/* model pack: the weights packed once for the step's precision and CPU
 * (model_set_precision): the FP32 panels of the avx512 and avx2 kernels, the
 * BF16 pairs, and freeing them; the attention kernels pack each head's
 * keys and values with the same functions. Calls model/cpu.c (which
 * kernel) only. */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "internal.h"

enum { NR = MODEL_F32_PANEL }; /* the widest FP32 panel: packed_floats holds either width */

size_t model_f32_packed_floats(int n, int k) { return ((size_t)n + NR - 1) / NR * NR * (size_t)k; }


/* Both packers visit W in the order its strides make contiguous: one row of
 * W (a panel column) at a time when sk < sn (weights, attention keys), one
 * input (a panel row) at a time otherwise (attention values); the same
 * panels either way. */
void model_f32_pack_into_width(float *dst, int nr, const float *w, int n, int k, size_t sn, size_t sk) {
    int panels = (n + nr - 1) / nr, by_row = sk < sn;
    for (int pn = 0; pn < panels; pn++)
        for (int a = 0; a < (by_row ? nr : k); a++)
            for (int b = 0; b < (by_row ? k : nr); b++) {
                int j = by_row ? a : b, i = by_row ? b : a, col = pn * nr + j;
                dst[((size_t)pn * k + i) * nr + j] = col < n ? w[(size_t)col * sn + (size_t)i * sk] : 0.0f;
            }
}

int model_f32_pack_for(model_f32_matrix *p, int kernel, const float *w, int n, int k, size_t sn, size_t sk) {
    memset(p, 0, sizeof *p);
    if (n < 1 || k < 1) return util_fail(UTIL_EINVAL, "f32 pack: empty %d x %d matrix", n, k);
    /* the AVX2 panels are narrower: never more floats than model_f32_packed_floats */
    p->data = util_aligned_alloc(sizeof(float) * model_f32_packed_floats(n, k));
    if (!p->data) return util_fail(UTIL_ENOMEM, "out of memory for packed FP32 weights");
    int nr = model_f32_panel_width(kernel);
    p->n = n, p->k = k, p->panels = (n + nr - 1) / nr, p->kernel = kernel;
    model_f32_pack_into_width(p->data, nr, w, n, k, sn, sk);
    return UTIL_OK;
}

int model_f32_pack(model_f32_matrix *p, const float *w, int n, int k, size_t sn, size_t sk) {
    /* a matrix packed while the choice is blas (tests) runs the reference GEMM (model_ref_gemm) on its panels */
    return model_f32_pack_for(p, model_kernel(), w, n, k, sn, sk);
}

void model_f32_matrix_free(model_f32_matrix *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

size_t model_bf16_packed_words(int n, int k) {
    size_t kp = ((size_t)k + 1) / 2, panels = ((size_t)n + MODEL_BF16_PANEL - 1) / MODEL_BF16_PANEL;
    return panels * kp * MODEL_BF16_PANEL;
}

void model_bf16_pack_into(uint32_t *dst, const float *w, int n, int k, size_t sn, size_t sk) {
    int kp = (k + 1) / 2, panels = (n + MODEL_BF16_PANEL - 1) / MODEL_BF16_PANEL, by_row = sk < sn;
    for (int pn = 0; pn < panels; pn++)
        for (int a = 0; a < (by_row ? MODEL_BF16_PANEL : kp); a++)
            for (int b = 0; b < (by_row ? kp : MODEL_BF16_PANEL); b++) {
                int j = by_row ? a : b, q = by_row ? b : a, col = pn * MODEL_BF16_PANEL + j;
                const float *wj = w + (size_t)col * sn;
                uint32_t lo = 0, hi = 0;
                if (col < n) {
                    lo = model_bf16_round(wj[(size_t)(2 * q) * sk]);
                    if (2 * q + 1 < k) hi = model_bf16_round(wj[(size_t)(2 * q + 1) * sk]);
                }
                dst[((size_t)pn * kp + q) * MODEL_BF16_PANEL + j] = lo | hi << 16;
            }
}

int model_bf16_pack(model_bf16_matrix *p, const float *w, int n, int k, size_t sn, size_t sk) {
    memset(p, 0, sizeof *p);
    if (n < 1 || k < 1) return util_fail(UTIL_EINVAL, "bf16 pack: empty %d x %d matrix", n, k);
    p->data = util_aligned_alloc(sizeof(uint32_t) * model_bf16_packed_words(n, k));
    if (!p->data) return util_fail(UTIL_ENOMEM, "out of memory for bf16 weights");
    p->n = n, p->k = k, p->kp = (k + 1) / 2, p->panels = (n + MODEL_BF16_PANEL - 1) / MODEL_BF16_PANEL;
    model_bf16_pack_into(p->data, w, n, k, sn, sk);
    return UTIL_OK;
}

void model_bf16_matrix_free(model_bf16_matrix *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

/* Scratch of the attention kernels: keys and values packed as weights, 16
 * spare floats or words for their own 64-byte alignment. */
size_t model_f32_attention_floats(int N, int d) { return model_f32_packed_floats(N, d) + model_f32_packed_floats(d, N) + 16; }
size_t model_bf16_attention_words(int N, int d) { return model_bf16_packed_words(N, d) + model_bf16_packed_words(d, N) + 16; }

/* ---- the model's packed weights ---- */

int model_precision_parse(const char *text, int *precision) {
    if (text && strcmp(text, "fp32") == 0) *precision = MODEL_FP32;
    else if (text && strcmp(text, "bf16") == 0) *precision = MODEL_BF16;
    else return util_fail(UTIL_EINVAL, "precision '%s': expected fp32 or bf16", text ? text : "");
    return UTIL_OK;
}

const char *model_precision_name(int precision) { return precision == MODEL_BF16 ? "bf16" : "fp32"; }

int model_precision_check(int precision) {
    if (precision == MODEL_FP32) return UTIL_OK;
    if (precision != MODEL_BF16) return util_fail(UTIL_EINVAL, "precision %d: expected fp32 or bf16", precision);
    if (!model_x86_kernels())
        return util_fail(UTIL_EINVAL, "precision bf16 needs the x86-64 kernels (AVX512_BF16), which this build lacks "
                                      "(built for another CPU, or with PANGU_PORTABLE): use precision fp32");
    if (!model_bf16_available())
        return util_fail(UTIL_EINVAL, "precision bf16 needs a CPU with AVX512_BF16 (vdpbf16ps), which this one "
                                      "lacks: use precision fp32");
    return UTIL_OK;
}

static void release(model *m) {
    for (int i = 0; i < m->nbf16; i++) model_bf16_matrix_free(&m->bf16[i]);
    free(m->bf16);
    m->bf16 = NULL, m->nbf16 = 0;
    for (int i = 0; i < m->nf32; i++) model_f32_matrix_free(&m->f32[i]);
    free(m->f32);
    m->f32 = NULL, m->nf32 = 0;
    for (int l = 0; l < 4; l++)
        for (int d = 0; m->blocks[l] && d < m->cfg.depths[l]; d++) {
            model_block *k = &m->blocks[l][d];
            k->qkv_h = k->proj_h = k->fc1_h = k->fc2_h = NULL;
            k->qkv_f = k->proj_f = k->fc1_f = k->fc2_f = NULL;
            k->bf16_attention = 0;
        }
    m->embed_h = m->embed_sh = m->down_h = m->up1_h = m->up2_h = NULL;
    m->embed_f = m->embed_sf = m->down_f = m->up1_f = m->up2_f = NULL;
    for (int i = 0; i < 2; i++) m->rec_h[i] = m->rec_sh[i] = NULL, m->rec_f[i] = m->rec_sf[i] = NULL;
    m->precision = MODEL_FP32;
}

void model_release_packs(model *m) { release(m); }

/* Pack one linear layer's W (n, k), element (j, i) at w[j * sn + i * sk],
 * for `precision` into the model's next slot and point *h or *f at it. */
static int pack_one(model *m, int precision, const model_bf16_matrix **h, const model_f32_matrix **f, const float *w,
                    int n, int k, size_t sn, size_t sk) {
    int status;
    if (precision == MODEL_BF16) {
        if (!(status = model_bf16_pack(&m->bf16[m->nbf16], w, n, k, sn, sk))) *h = &m->bf16[m->nbf16++];
    } else if (!(status = model_f32_pack(&m->f32[m->nf32], w, n, k, sn, sk)))
        *f = &m->f32[m->nf32++];
    return status;
}

/* Every linear layer of the step. */
static int pack_all(model *m, int precision) {
    const model_config *c = &m->cfg;
    int C = c->dim, pz = c->patch[0], ph = c->patch[1], pw = c->patch[2];
    int K = model_upper_channels(c) * pz * ph * pw, Ks = (MODEL_NSURFACE + MODEL_NCONST) * ph * pw;
    int Kr = MODEL_NSURFACE * ph * pw, Ku = MODEL_NUPPER * pz * ph * pw; /* recovery: the 5 variables only */
    int status = UTIL_OK;
/* PACK(m->embed_, ...) packs into m->embed_h or m->embed_f */
#define PACK(field, w, n, k, sn, sk) \
    if (!status) status = pack_one(m, precision, &field##h, &field##f, w, n, k, sn, sk)
    for (int l = 0; l < 4 && !status; l++) {
        int Cl = (l == 1 || l == 2) ? 2 * C : C;
        for (int d = 0; d < c->depths[l] && !status; d++) {
            model_block *k = &m->blocks[l][d];
            PACK(k->qkv_, k->qkv_w, 3 * Cl, Cl, Cl, 1);
            PACK(k->proj_, k->proj_w, Cl, Cl, Cl, 1);
            PACK(k->fc1_, k->fc1_w, 4 * Cl, Cl, Cl, 1);
            PACK(k->fc2_, k->fc2_w, Cl, 4 * Cl, 4 * Cl, 1);
        }
    }
    PACK(m->embed_, m->embed_w, C, K, K, 1);
    PACK(m->embed_s, m->embed_sw, C, Ks, Ks, 1);
    PACK(m->down_, m->down_w, 2 * C, 4 * C, 4 * C, 1);
    PACK(m->up1_, m->up_w1, 4 * C, 2 * C, 2 * C, 1);
    PACK(m->up2_, m->up_w2, C, C, C, 1);
    /* patch recovery: y = [skip, x] @ w with w (2C, k): W = w^T, the skip's C inputs apart */
    if (!status) status = pack_one(m, precision, &m->rec_h[0], &m->rec_f[0], m->rec_w, Ku, C, 1, Ku);
    if (!status) status = pack_one(m, precision, &m->rec_h[1], &m->rec_f[1], m->rec_w + (size_t)C * Ku, Ku, C, 1, Ku);
    if (!status) status = pack_one(m, precision, &m->rec_sh[0], &m->rec_sf[0], m->rec_sw, Kr, C, 1, Kr);
    if (!status) status = pack_one(m, precision, &m->rec_sh[1], &m->rec_sf[1], m->rec_sw + (size_t)C * Kr, Kr, C, 1, Kr);
#undef PACK
    return status;
}

int model_set_precision(model *m, int precision) {
    release(m);
    int status = model_precision_check(precision);
    if (status) return status;
    if (precision == MODEL_FP32 && !model_f32_available()) return UTIL_OK; /* OpenBLAS on the float weights */
    const model_config *c = &m->cfg;
    int total = 9;
    for (int l = 0; l < 4; l++) total += 4 * c->depths[l];
    if (precision == MODEL_BF16) {
        if (!(m->bf16 = calloc((size_t)total, sizeof(model_bf16_matrix))))
            return util_fail(UTIL_ENOMEM, "out of memory for bf16 weights");
        status = pack_all(m, MODEL_BF16);
        for (int l = 0; l < 4 && !status; l++)
            for (int d = 0; d < c->depths[l]; d++)
                m->blocks[l][d].bf16_attention = 1; /* less CPU time at the same accuracy (docs/speed.md) */
    } else {
        if (!(m->f32 = calloc((size_t)total, sizeof(model_f32_matrix))))
            return util_fail(UTIL_ENOMEM, "out of memory for packed FP32 weights");
        status = pack_all(m, MODEL_FP32);
    }
    if (status) {
        release(m);
        return status;
    }
    m->precision = precision;
    return UTIL_OK;
}
