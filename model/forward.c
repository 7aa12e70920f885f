/* model forward: one step of the whole network in one work arena. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

#include "../util/threads.h"
#include "../util/util.h"
#include "internal.h"

size_t model_workspace_bytes(const model_config *c, int nthreads) {
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, T2 = (size_t)c->Z * c->H2 * c->W2, C = c->dim;
    size_t b = util_align_up(sizeof(float) * T1 * C) * 2 + util_align_up(sizeof(float) * T2 * 2 * C);
    b += util_align_up(sizeof(float) * model_scratch_floats(c) * (size_t)nthreads);
    return b;
}

int model_step_in(const model *m, model_workspace *ws, float *upper_out, float *surface_out,
                  const float *upper_in, const float *surface_in) {
    const model_config *c = &m->cfg;
    size_t T1 = (size_t)c->Z * c->Ht * c->Wt, T2 = (size_t)c->Z * c->H2 * c->W2, C = c->dim;
    int nthreads = omp_get_max_threads();
    size_t need = model_workspace_bytes(c, nthreads);
    if (!ws->base || ws->size < need) {
        model_workspace_free(ws);
        util_arena fresh;
        int status = util_arena_init(&fresh, need);
        if (status) return status;
        ws->base = fresh.base, ws->size = fresh.size;
    }
    util_arena arena = {ws->base, ws->size, 0, 0};
    /* BLAS runs single-threaded inside our OpenMP loops over disjoint rows. */
    util_blas_serial();
    float *x1 = util_arena_alloc(&arena, sizeof(float) * T1 * C);     // (Z, Ht, Wt, C), the skip
    float *x2 = util_arena_alloc(&arena, sizeof(float) * T2 * 2 * C); // (Z, H2, W2, 2C)
    float *x4 = util_arena_alloc(&arena, sizeof(float) * T1 * C);     // (Z, Ht, Wt, C)
    size_t stride = model_scratch_floats(c);
    float *scratch = util_arena_alloc(&arena, sizeof(float) * stride * nthreads);

    const model_ops *ops = model_ops_of(m); /* chosen once for the step */
    model_patch_embed_forward(x1, m, upper_in, surface_in, scratch, stride);
    for (int b = 0; b < c->depths[0]; b++)
        model_block_forward(x1, &m->blocks[0][b], c, 0, b % 2, m->bias_index, scratch, stride, ops);
    model_downsample_forward(x2, m, x1, scratch, stride);
    for (int l = 1; l <= 2; l++)
        for (int b = 0; b < c->depths[l]; b++)
            model_block_forward(x2, &m->blocks[l][b], c, l, b % 2, m->bias_index, scratch, stride, ops);
    model_upsample_forward(x4, m, x2, scratch, stride);
    for (int b = 0; b < c->depths[3]; b++)
        model_block_forward(x4, &m->blocks[3][b], c, 3, b % 2, m->bias_index, scratch, stride, ops);
    model_patch_recovery_forward(upper_out, surface_out, m, x1, x4, scratch, stride);
    return UTIL_OK;
}

int model_step(const model *m, float *upper_out, float *surface_out,
               const float *upper_in, const float *surface_in) {
    model_workspace ws = {NULL, 0};
    int status = model_step_in(m, &ws, upper_out, surface_out, upper_in, surface_in);
    model_workspace_free(&ws);
    return status;
}

void model_workspace_free(model_workspace *ws) {
    free(ws->base);
    ws->base = NULL;
    ws->size = 0;
}
