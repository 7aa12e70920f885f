/* Suite "train": gradients against pangu_ref.py grad fixtures and against
 * finite differences; drop path; accumulation. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

typedef struct {
    model m;
    io_state x, y;
} sample;

static int load_sample(sample *s, const char *name) {
    char path[512], in[512], tgt[512];
    snprintf(path, sizeof path, "%s/%s.h5", tests_fixture_dir(), name);
    snprintf(in, sizeof in, "%s/%s_in.nc", tests_fixture_dir(), name);
    snprintf(tgt, sizeof tgt, "%s/%s_target.nc", tests_fixture_dir(), name);
    const char *ip = in, *tp = tgt;
    if (model_load(&s->m, path)) return -1;
    const model_config *c = &s->m.cfg;
    if (io_state_read(&s->x, &ip, 1, 0, c->H, c->W, c->levels, c->nlev) ||
        io_state_read(&s->y, &tp, 1, 0, c->H, c->W, c->levels, c->nlev))
        return -1;
    return 0;
}

static void free_sample(sample *s) {
    io_state_free(&s->x);
    io_state_free(&s->y);
    model_free(&s->m);
}

static double loss_of(sample *s, float *scratch, const float *drop) {
    double loss;
    memset(scratch, 0, sizeof(float) * s->m.nparams);
    CU_ASSERT_FATAL(model_grad(&s->m, scratch, &loss, s->x.upper, s->x.surface, s->y.upper, s->y.surface, drop, 0.25f) == 0);
    return loss;
}

/* Every tensor within 1e-3 of the reference, relative to its largest value. */
static void check_against_reference(const char *name) {
    sample s;
    CU_ASSERT_FATAL(load_sample(&s, name) == 0);
    float *g = util_aligned_alloc(sizeof(float) * s.m.nparams);
    double loss;
    CU_ASSERT_FATAL(model_grad(&s.m, g, &loss, s.x.upper, s.x.surface, s.y.upper, s.y.surface, NULL, 0.25f) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s_grad.h5", tests_fixture_dir(), name);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    double ref_loss;
    hid_t a = H5Aopen(f, "loss", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &ref_loss);
    H5Aclose(a);
    CU_ASSERT(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));
    int checked = 0;
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < s.m.ntensors; i++) {
        const model_tensor *t = &s.m.tensors[i];
        if (!t->trainable) continue;
        float *ref = malloc(sizeof(float) * t->count);
        hid_t d = H5Dopen2(f, t->name, H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0 && ref);
        H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ref);
        H5Dclose(d);
        double mx = 0, err = 0;
        for (size_t k = 0; k < t->count; k++) {
            mx = fmax(mx, fabs(ref[k]));
            err = fmax(err, fabs(ref[k] - g[t->offset + k]));
        }
        double rel = err / (mx > 0 ? mx : 1);
        if (!(rel <= worst)) worst = rel, worst_name = t->name;
        checked++;
        free(ref);
    }
    H5Fclose(f);
    CU_ASSERT(checked > 20);
    CU_ASSERT(worst <= 1e-3);
    if (!(worst <= 1e-3)) fprintf(stderr, "\n  %s: worst %.3g in %s\n", name, worst, worst_name);
    free(g);
    free_sample(&s);
}

static void test_grad_tiny(void) { check_against_reference("tiny"); }
static void test_grad_custom(void) { check_against_reference("custom"); }
/* the released models' variant: const_h, recovery bias per position, padded constants; compact and full bias */
static void test_grad_official(void) { check_against_reference("official"); }
static void test_grad_official_full(void) { check_against_reference("official_full"); }

/* Central differences on the tiny model for the largest gradient entry of
 * several tensors of every kind. */
static void test_finite_differences(void) {
    sample s;
    CU_ASSERT_FATAL(load_sample(&s, "tiny") == 0);
    float *g = util_aligned_alloc(sizeof(float) * s.m.nparams), *tmp = util_aligned_alloc(sizeof(float) * s.m.nparams);
    double loss;
    CU_ASSERT_FATAL(model_grad(&s.m, g, &loss, s.x.upper, s.x.surface, s.y.upper, s.y.surface, NULL, 0.25f) == 0);
    const char *names[] = {"patch_embed.conv.weight", "patch_embed.conv_surface.bias", "layers.0.blocks.1.attn.qkv.weight",
                           "layers.0.blocks.1.attn.earth_specific_bias", "layers.1.blocks.0.mlp.fc1.weight",
                           "layers.2.blocks.1.norm1.weight", "downsample.linear.weight", "upsample.linear1.weight",
                           "upsample.norm.bias", "layers.3.blocks.0.attn.proj.bias", "patch_recovery.conv.weight"};
    int good = 0, n = (int)(sizeof names / sizeof names[0]);
    for (int i = 0; i < n; i++) {
        const model_tensor *t = model_find_tensor(&s.m, names[i]);
        CU_ASSERT_FATAL(t != NULL);
        size_t best = 0;
        for (size_t k = 0; k < t->count; k++)
            if (fabsf(g[t->offset + k]) > fabsf(g[t->offset + best])) best = k;
        float *p = s.m.params + t->offset + best, keep = *p;
        double eps = 1e-2 * fmax(fabs(keep), 0.05);
        *p = (float)(keep + eps);
        double up = loss_of(&s, tmp, NULL);
        *p = (float)(keep - eps);
        double down = loss_of(&s, tmp, NULL);
        *p = keep;
        double fd = (up - down) / (2 * eps), an = g[t->offset + best];
        int ok = fabs(fd - an) <= 0.05 * fabs(an) + 1e-6;
        if (!ok) fprintf(stderr, "\n  %s[%zu]: analytic %.6g, finite difference %.6g\n", names[i], best, an, fd);
        good += ok;
    }
    /* MAE kinks can spoil a rare difference; all but one must agree. */
    CU_ASSERT(good >= n - 1);
    free(g);
    free(tmp);
    free_sample(&s);
}

/* Drop path: scales of 1 change nothing; a dropped branch has no gradient
 * into that branch's parameters; gradients accumulate. */
/* The block geometry every block function shares, against its definition:
 * windows tile the zero-padded grid, odd blocks roll by half a window. */
static void test_block_shape(void) {
    sample s;
    CU_ASSERT_FATAL(load_sample(&s, "official") == 0);
    const model_config *c = &s.m.cfg;
    for (int layer = 0; layer < 4; layer++)
        for (int roll = 0; roll < 2; roll++) {
            model_block_shape sh = model_block_shape_of(c, layer, roll);
            int Hl = layer == 1 || layer == 2 ? c->H2 : c->Ht, Wl = layer == 1 || layer == 2 ? c->W2 : c->Wt;
            CU_ASSERT(sh.Hl == Hl && sh.Wl == Wl && sh.C == (layer == 1 || layer == 2 ? 2 : 1) * c->dim);
            CU_ASSERT(sh.N == c->window[0] * c->window[1] * c->window[2] && sh.nW * c->window[2] == Wl);
            CU_ASSERT(sh.types == model_window_types(c, Hl));
            CU_ASSERT(sh.Zp % c->window[0] == 0 && sh.Zp >= c->Z && sh.Zp - c->Z < c->window[0]);
            CU_ASSERT(sh.Hp % c->window[1] == 0 && sh.Hp >= Hl && sh.Hp - Hl < c->window[1]);
            CU_ASSERT(sh.T == (long)c->Z * Hl * Wl && sh.Tp == (long)sh.Zp * sh.Hp * Wl);
            for (int i = 0; i < 3; i++) CU_ASSERT(sh.shift[i] == (roll ? c->window[i] / 2 : 0));
        }
    free_sample(&s);
}

static void test_drop_path_and_accumulation(void) {
    sample s;
    CU_ASSERT_FATAL(load_sample(&s, "tiny") == 0);
    const model_config *c = &s.m.cfg;
    int nb = c->depths[0] + c->depths[1] + c->depths[2] + c->depths[3];
    float *ones = malloc(sizeof(float) * 2 * nb);
    for (int i = 0; i < 2 * nb; i++) ones[i] = 1.0f;
    float *a = util_aligned_alloc(sizeof(float) * s.m.nparams), *b = util_aligned_alloc(sizeof(float) * s.m.nparams);
    double la = loss_of(&s, a, NULL), lb = loss_of(&s, b, ones);
    CU_ASSERT(fabs(la - lb) <= 1e-6 * la);
    double diff = 0, mx = 0;
    for (size_t i = 0; i < s.m.nparams; i++) diff = fmax(diff, fabs(a[i] - b[i])), mx = fmax(mx, fabs(a[i]));
    CU_ASSERT(diff <= 1e-4 * mx);
    ones[0] = 0.0f; /* drop the attention branch of layer 0, block 0 */
    ones[3] = 1.25f;
    double lc = loss_of(&s, b, ones);
    CU_ASSERT(lc != la);
    const model_tensor *t = model_find_tensor(&s.m, "layers.0.blocks.0.attn.qkv.weight");
    double gq = 0;
    for (size_t k = 0; k < t->count; k++) gq = fmax(gq, fabs(b[t->offset + k]));
    CU_ASSERT(gq == 0);
    t = model_find_tensor(&s.m, "layers.0.blocks.0.mlp.fc1.weight");
    gq = 0;
    for (size_t k = 0; k < t->count; k++) gq = fmax(gq, fabs(b[t->offset + k]));
    CU_ASSERT(gq > 0);
    /* accumulation: two calls without zeroing give twice the gradient */
    double l2;
    memset(b, 0, sizeof(float) * s.m.nparams);
    model_grad(&s.m, b, &l2, s.x.upper, s.x.surface, s.y.upper, s.y.surface, NULL, 0.25f);
    model_grad(&s.m, b, &l2, s.x.upper, s.x.surface, s.y.upper, s.y.surface, NULL, 0.25f);
    diff = 0;
    for (size_t i = 0; i < s.m.nparams; i++) diff = fmax(diff, fabs(b[i] - 2 * a[i]));
    CU_ASSERT(diff <= 1e-4 * mx);
    free(ones);
    free(a);
    free(b);
    free_sample(&s);
}

int tests_register_train(void) {
    CU_pSuite s = CU_add_suite("train", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "gradients match reference: tiny", test_grad_tiny) ||
        !CU_add_test(s, "gradients match reference: custom", test_grad_custom) ||
        !CU_add_test(s, "gradients match reference: released variant, compact bias", test_grad_official) ||
        !CU_add_test(s, "gradients match reference: released variant, full bias", test_grad_official_full) ||
        !CU_add_test(s, "gradients match finite differences", test_finite_differences) ||
        !CU_add_test(s, "drop path and accumulation", test_drop_path_and_accumulation) ||
        !CU_add_test(s, "block geometry: padded window tiling, roll of odd blocks", test_block_shape))
        return -1;
    return 0;
}
