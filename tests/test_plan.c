/* Suite "plan": the hierarchical lead-time plan (model/plan.c) as
 * docs/forecast-jobs.md describes it: leads parsed from lists and ranges,
 * each lead reached greedily (53 h = 24 + 24 + 3 + 1 + 1), shared prefixes
 * computed once, calls in depth-first order with the longest model first. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "tests.h"
#include "util/util.h"

static void test_parse_leads(void) {
    int *leads = NULL, n = 0;
    CU_ASSERT_FATAL(model_plan_parse_leads("6-24/6,3,240,12", &leads, &n) == 0);
    static const int want[] = {3, 6, 12, 18, 24, 240};
    CU_ASSERT(n == 6 && memcmp(leads, want, sizeof want) == 0);
    free(leads);
    CU_ASSERT_FATAL(model_plan_parse_leads("1-5", &leads, &n) == 0);
    CU_ASSERT(n == 5 && leads[0] == 1 && leads[4] == 5);
    free(leads);
    static const char *bad[] = {"", "x", "6-3", "6-12/0", "6;12", "0-100001", "-6"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        leads = NULL;
        CU_ASSERT(model_plan_parse_leads(bad[i], &leads, &n) == UTIL_EINVAL && strstr(util_last_message(), "expected hours"));
        CU_ASSERT(leads == NULL);
    }
}

/* One call: from, to, model, parent, depth, writes. */
static int call_is(const model_plan *p, int i, int from, int to, int model, int parent, int depth, int writes) {
    const model_plan_call *c = &p->calls[i];
    return c->from == from && c->to == to && c->model == model && c->parent == parent && c->depth == depth &&
           c->writes == writes;
}

static void test_greedy(void) {
    const int models[] = {1, 24, 3, 6}, lead[] = {53};
    model_plan p;
    CU_ASSERT_FATAL(model_plan_build(&p, models, 4, lead, 1) == 0);
    CU_ASSERT(p.nmodels == 4 && p.models[0] == 24 && p.models[3] == 1);
    CU_ASSERT_FATAL(p.ncalls == 5);
    CU_ASSERT(call_is(&p, 0, 0, 24, 24, -1, 1, 0) && call_is(&p, 1, 24, 48, 24, 0, 2, 0) && call_is(&p, 2, 48, 51, 3, 1, 3, 0) &&
              call_is(&p, 3, 51, 52, 1, 2, 4, 0) && call_is(&p, 4, 52, 53, 1, 3, 5, 1));
    CU_ASSERT(p.max_depth == 5);
    model_plan_free(&p);
}

/* 24, 48 and 53 h share the first calls; 30 h branches off after 24 h. */
static void test_shared_depth_first(void) {
    const int models[] = {24, 6, 3, 1}, leads[] = {24, 30, 48, 53};
    model_plan p;
    CU_ASSERT_FATAL(model_plan_build(&p, models, 4, leads, 4) == 0);
    CU_ASSERT_FATAL(p.ncalls == 6);
    /* depth first, longest model first: 0-24, 24-48, 48-51, 51-52, 52-53, then 24-30 */
    CU_ASSERT(call_is(&p, 0, 0, 24, 24, -1, 1, 1) && call_is(&p, 1, 24, 48, 24, 0, 2, 1) && call_is(&p, 2, 48, 51, 3, 1, 3, 0) &&
              call_is(&p, 3, 51, 52, 1, 2, 4, 0) && call_is(&p, 4, 52, 53, 1, 3, 5, 1) && call_is(&p, 5, 24, 30, 6, 0, 2, 1));
    CU_ASSERT(p.max_depth == 5 && p.nleads == 4 && p.leads[3] == 53);
    model_plan_free(&p);
}

static void test_refused(void) {
    model_plan p;
    const int models[] = {24, 6}, lead[] = {27}, twice[] = {6, 6}, none[] = {0};
    CU_ASSERT(model_plan_build(&p, models, 2, lead, 1) == UTIL_EINVAL &&
              strstr(util_last_message(), "lead 27 h cannot be reached with the 6, 24 h models"));
    CU_ASSERT(p.calls == NULL && p.leads == NULL);
    CU_ASSERT(model_plan_build(&p, twice, 2, lead, 1) == UTIL_EINVAL && strstr(util_last_message(), "distinct positive"));
    CU_ASSERT(model_plan_build(&p, none, 1, lead, 1) == UTIL_EINVAL && strstr(util_last_message(), "distinct positive"));
    CU_ASSERT(model_plan_build(&p, models, 0, lead, 1) == UTIL_EINVAL && strstr(util_last_message(), "expected 1 to"));
}

int tests_register_plan(void) {
    CU_pSuite s = CU_add_suite("plan", NULL, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "leads: lists and ranges, sorted and unique; bad specs refused", test_parse_leads) ||
        !CU_add_test(s, "greedy decomposition: 53 h = 24 + 24 + 3 + 1 + 1", test_greedy) ||
        !CU_add_test(s, "shared prefixes computed once, depth-first order", test_shared_depth_first) ||
        !CU_add_test(s, "unreachable leads and bad model sets refused", test_refused))
        return -1;
    return 0;
}
