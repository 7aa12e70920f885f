/* pangu plan: print the hierarchical lead-time plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/model.h"
#include "../util/util.h"
#include "cli.h"

int cli_parse_models(const char *s, int *models, int *n) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 10000 || *n == MODEL_PLAN_MAX_MODELS) return -1;
        models[(*n)++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return *n ? 0 : -1;
}

static const cfg_key plan_keys[] = {
    {"plan", "leads", NULL, "lead times in hours: a list and ranges START-END/STEP, e.g. 6-168/6,240"},
    {"plan", "models", "1,3,6,24", "the models' lead times in hours"},
};

int cli_plan(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, plan_keys, argc, argv, "plan", "--leads SPEC [--models 1,3,6,24]",
                      "The hierarchical lead-time plan: one line per model call, in execution order.");
    if (rc) return rc < 0 ? 0 : rc;
    static const char *const need[] = {"leads"};
    if (cli_require(&opt, "plan", need, 1)) return 2;
    const char *models_arg = cfg_get(&opt, "models"), *leads_arg = cfg_get(&opt, "leads");
    int models[MODEL_PLAN_MAX_MODELS], nmodels, *leads, nleads, status;
    if (cli_parse_models(models_arg, models, &nmodels))
        return fprintf(stderr, "pangu plan: --models '%s': expected hours like 1,3,6,24\n", models_arg), 2;
    if ((status = model_plan_parse_leads(leads_arg, &leads, &nleads))) return cli_error("plan", status);
    model_plan p;
    status = model_plan_build(&p, models, nmodels, leads, nleads);
    free(leads);
    if (status) return cli_error("plan", status);
    for (int i = 0; i < p.ncalls; i++)
        printf("%dh -> %dh (%dh model)\n", p.calls[i].from, p.calls[i].to, p.calls[i].model);
    printf("calls: %d\n", p.ncalls);
    model_plan_free(&p);
    cfg_free(&opt);
    return 0;
}
