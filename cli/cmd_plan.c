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

int cli_plan(int argc, char **argv) {
    const char *models_arg = "1,3,6,24", *leads_arg = NULL;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) return fprintf(stderr, "pangu plan: option %s needs a value\n", argv[i]), 2;
        if (strcmp(argv[i], "--models") == 0) models_arg = argv[i + 1];
        else if (strcmp(argv[i], "--leads") == 0) leads_arg = argv[i + 1];
        else return fprintf(stderr, "pangu plan: unknown option '%s'\n", argv[i]), 2;
    }
    if (!leads_arg) return fprintf(stderr, "pangu plan: needs --leads SPEC (e.g. 6-168/6)\n"), 2;
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
    return 0;
}
