/* model plan: the hierarchical lead-time plan (Bi et al. 2023: 24, 6, 3 and
 * 1 h models, fewest steps per lead, intermediate states shared). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "internal.h"

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int cmp_int_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

int model_plan_parse_leads(const char *spec, int **leads, int *nleads) {
    int cap = 64, n = 0;
    int *out = malloc(sizeof(int) * cap);
    if (!out) return util_fail(UTIL_ENOMEM, "out of memory");
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b, step = 1;
        if (end == p || a < 0) goto bad;
        b = a;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a) goto bad;
            p = end;
            if (*p == '/') {
                step = strtol(p + 1, &end, 10);
                if (end == p + 1 || step < 1) goto bad;
                p = end;
            }
        }
        if (b > 100000) goto bad;
        for (long h = a; h <= b; h += step) {
            if (n == cap) {
                int *grown = realloc(out, sizeof(int) * (cap *= 2));
                if (!grown) {
                    free(out);
                    return util_fail(UTIL_ENOMEM, "out of memory");
                }
                out = grown;
            }
            out[n++] = (int)h;
        }
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    if (n == 0) goto bad;
    qsort(out, n, sizeof(int), cmp_int);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || out[i] != out[u - 1]) out[u++] = out[i];
    *leads = out, *nleads = u;
    return UTIL_OK;
bad:
    free(out);
    return util_fail(UTIL_EINVAL, "leads '%s': expected hours and ranges like 6,12 or 6-168/6", spec);
}

void model_plan_free(model_plan *p) {
    free(p->leads);
    free(p->calls);
    memset(p, 0, sizeof *p);
}

/* Trie of greedy paths: node = call; children found by (parent, model). */
static int find_child(const model_plan *p, int parent, int model) {
    for (int i = 0; i < p->ncalls; i++)
        if (p->calls[i].parent == parent && p->calls[i].model == model) return i;
    return -1;
}

/* Append the depth-first order of the subtree under `parent` into order[]. */
static void dfs(const model_plan *p, const model_plan_call *nodes, int parent, int *order, int *n) {
    for (int m = 0; m < p->nmodels; m++) /* longest model first: deep chains early */
        for (int i = 0; i < p->ncalls; i++)
            if (nodes[i].parent == parent && nodes[i].model == p->models[m]) {
                order[(*n)++] = i;
                dfs(p, nodes, i, order, n);
            }
}

int model_plan_build(model_plan *p, const int *models, int nmodels, const int *leads, int nleads) {
    memset(p, 0, sizeof *p);
    if (nmodels < 1 || nmodels > MODEL_PLAN_MAX_MODELS)
        return util_fail(UTIL_EINVAL, "%d models: expected 1 to %d", nmodels, MODEL_PLAN_MAX_MODELS);
    memcpy(p->models, models, sizeof(int) * nmodels);
    p->nmodels = nmodels;
    qsort(p->models, nmodels, sizeof(int), cmp_int_desc);
    for (int i = 0; i < nmodels; i++)
        if (p->models[i] < 1 || (i && p->models[i] == p->models[i - 1]))
            return util_fail(UTIL_EINVAL, "model lead times must be distinct positive hours");
    p->leads = malloc(sizeof(int) * (nleads > 0 ? nleads : 1));
    if (!p->leads) return util_fail(UTIL_ENOMEM, "out of memory");
    memcpy(p->leads, leads, sizeof(int) * nleads);
    p->nleads = nleads;
    int cap = 0;
    for (int i = 0; i < nleads; i++) {
        int rest = leads[i], steps = 0;
        for (int m = 0; m < nmodels; m++) steps += rest / p->models[m], rest %= p->models[m];
        if (rest) {
            char list[128] = "";
            for (int m = 0; m < nmodels; m++)
                snprintf(list + strlen(list), sizeof list - strlen(list), m ? ", %d" : "%d", p->models[nmodels - 1 - m]);
            int lead = leads[i];
            model_plan_free(p);
            return util_fail(UTIL_EINVAL, "lead %d h cannot be reached with the %s h models", lead, list);
        }
        cap += steps;
    }
    model_plan_call *nodes = malloc(sizeof *nodes * (cap ? cap : 1));
    if (!nodes) {
        model_plan_free(p);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    p->calls = nodes;
    for (int i = 0; i < nleads; i++) {
        int at = 0, parent = -1, depth = 0;
        for (int m = 0; m < nmodels; m++)
            while (at + p->models[m] <= leads[i]) {
                int child = find_child(p, parent, p->models[m]);
                if (child < 0) {
                    child = p->ncalls++;
                    nodes[child] = (model_plan_call){at, at + p->models[m], p->models[m], parent, depth + 1, 0};
                }
                parent = child, at += p->models[m], depth++;
            }
        if (parent >= 0) nodes[parent].writes = 1;
        if (depth > p->max_depth) p->max_depth = depth;
    }
    /* Re-order depth first, remapping parent indices. */
    int *order = malloc(sizeof(int) * (p->ncalls ? p->ncalls : 1)), *where = malloc(sizeof(int) * (p->ncalls ? p->ncalls : 1));
    model_plan_call *sorted = malloc(sizeof *sorted * (p->ncalls ? p->ncalls : 1));
    if (!order || !where || !sorted) {
        free(order), free(where), free(sorted);
        model_plan_free(p);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    int n = 0;
    dfs(p, nodes, -1, order, &n);
    for (int i = 0; i < n; i++) where[order[i]] = i;
    for (int i = 0; i < n; i++) {
        sorted[i] = nodes[order[i]];
        if (sorted[i].parent >= 0) sorted[i].parent = where[sorted[i].parent];
    }
    free(nodes);
    free(order);
    free(where);
    p->calls = sorted;
    return UTIL_OK;
}
