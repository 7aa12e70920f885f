/* Suite "api": the public C API (lib/pangu.h) in the build tree: error codes
 * and messages naming the file or option, the model's shape, pangu_step
 * against model_step and against bad arrays, the forecast job's checks and
 * its dry run. (tests/install_test.sh runs an example against the installed
 * copy.) */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pangu.h"
#include "model/model.h"
#include "tests.h"

static char path_tiny[512], path_in[512];

static int suite_init(void) {
    snprintf(path_tiny, sizeof path_tiny, "%s/tiny.h5", tests_fixture_dir());
    snprintf(path_in, sizeof path_in, "%s/tiny_in.nc", tests_fixture_dir());
    return 0;
}

static void test_errors(void) {
    CU_ASSERT_STRING_EQUAL(pangu_version(), "1.0");
    pangu_model *m = (pangu_model *)1;
    int status = pangu_model_open(&m, "/nonexistent/dir/model.h5", 0);
    CU_ASSERT_EQUAL(status, PANGU_EIO);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "/nonexistent/dir/model.h5"));
    CU_ASSERT_STRING_NOT_EQUAL(pangu_strerror(status), pangu_strerror(PANGU_OK));
    /* not a model: a NetCDF state file */
    CU_ASSERT_NOT_EQUAL(pangu_model_open(&m, path_in, 0), PANGU_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "tiny_in.nc"));
    /* the wrong lead */
    CU_ASSERT_EQUAL(pangu_model_open(&m, path_tiny, 24), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "is a 6 h model"));
    CU_ASSERT_EQUAL(pangu_set_threads(-1), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "pangu_set_threads"));
    CU_ASSERT_PTR_NULL(pangu_variable_name(9));
    CU_ASSERT_STRING_EQUAL(pangu_variable_name(8), "t2m");
    pangu_model_close(NULL);
}

static void test_step(void) {
    pangu_model *m;
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&m, path_tiny, 6), PANGU_OK);
    int H, W, L;
    pangu_model_shape(m, &H, &W, &L);
    CU_ASSERT(H == 24 && W == 48 && L == 5);
    float lev[PANGU_MAX_LEVELS];
    CU_ASSERT_EQUAL(pangu_model_levels(m, lev, 2), 5);
    CU_ASSERT(lev[0] == 1000);
    CU_ASSERT_EQUAL(pangu_model_lead_hours(m), 6);
    CU_ASSERT_EQUAL(pangu_model_format(m), 1);
    CU_ASSERT_PTR_NULL(pangu_model_licence(m));
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    CU_ASSERT(nu == (size_t)5 * 5 * 24 * 48 && ns == (size_t)4 * 24 * 48);
    float *u = malloc(sizeof(float) * nu), *s = malloc(sizeof(float) * ns);
    float *uo = malloc(sizeof(float) * nu), *so = malloc(sizeof(float) * ns);
    float *ur = malloc(sizeof(float) * nu), *sr = malloc(sizeof(float) * ns);
    CU_ASSERT_FATAL(u && s && uo && so && ur && sr);
    double valid = 0;
    const char *in[1] = {path_in};
    CU_ASSERT_EQUAL_FATAL(pangu_read_input(m, in, 1, NULL, u, s, &valid), PANGU_OK);
    CU_ASSERT_EQUAL(valid, -2208988800.0); /* 1900-01-01 */
    CU_ASSERT_NOT_EQUAL(pangu_read_input(m, in, 1, "1900-01-02T00", u, s, NULL), PANGU_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "tiny_in.nc"));
    CU_ASSERT_EQUAL_FATAL(pangu_read_input(m, in, 1, "1900-01-01T00", u, s, NULL), PANGU_OK);
    /* the step equals the internal model's, as `pangu step` runs it (FP32 packing) */
    CU_ASSERT_EQUAL(pangu_step(m, uo, so, u, s), PANGU_OK);
    model ref;
    CU_ASSERT_EQUAL_FATAL(model_open(&ref, path_tiny, 6), 0);
    CU_ASSERT_EQUAL(model_set_precision(&ref, MODEL_FP32), 0);
    CU_ASSERT_EQUAL(model_step(&ref, ur, sr, u, s), 0);
    model_free(&ref);
    CU_ASSERT(memcmp(uo, ur, sizeof(float) * nu) == 0 && memcmp(so, sr, sizeof(float) * ns) == 0);
    /* outputs aliasing inputs, NaN, implausible units */
    CU_ASSERT_EQUAL(pangu_step(m, u, so, u, s), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "overlap"));
    CU_ASSERT_EQUAL(pangu_step(m, uo, so, u, NULL), PANGU_EINVAL);
    float keep = s[3];
    s[3] = NAN;
    CU_ASSERT_EQUAL(pangu_step(m, uo, so, u, s), PANGU_ENAN);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "msl"));
    s[3] = keep;
    for (size_t i = 0; i < (size_t)H * W; i++) s[i] /= 100; /* msl in hPa */
    CU_ASSERT_EQUAL(pangu_step(m, uo, so, u, s), PANGU_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "msl looks like hPa"));
    pangu_set_plausibility_check(0);
    CU_ASSERT_EQUAL(pangu_step(m, uo, so, u, s), PANGU_OK);
    pangu_set_plausibility_check(1);
    CU_ASSERT_EQUAL(pangu_model_set_precision(m, 7), PANGU_EINVAL);
    free(u), free(s), free(uo), free(so), free(ur), free(sr);
    pangu_model_close(m);
}

/* One step of the model at `path` through the API (the shared arena) and
 * through model_step (a fresh arena): bit-identical. */
static int step_matches_fresh(pangu_model *m, const char *path, const char *input) {
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    float *u = malloc(sizeof(float) * nu), *s = malloc(sizeof(float) * ns);
    float *uo = malloc(sizeof(float) * nu), *so = malloc(sizeof(float) * ns);
    float *ur = malloc(sizeof(float) * nu), *sr = malloc(sizeof(float) * ns);
    const char *in[1] = {input};
    model ref = {0};
    int ok = u && s && uo && so && ur && sr && pangu_read_input(m, in, 1, NULL, u, s, NULL) == PANGU_OK &&
             pangu_step(m, uo, so, u, s) == PANGU_OK && model_open(&ref, path, 0) == 0 &&
             model_set_precision(&ref, MODEL_FP32) == 0 && model_step(&ref, ur, sr, u, s) == 0 &&
             memcmp(uo, ur, sizeof(float) * nu) == 0 && memcmp(so, sr, sizeof(float) * ns) == 0;
    model_free(&ref);
    free(u), free(s), free(uo), free(so), free(ur), free(sr);
    return ok;
}

/* pangu_step's arena is shared by the open models and kept between calls:
 * a small model, a larger one (the arena grows), the small one again, then
 * the larger one after every model was closed (the arena freed and made
 * anew) all step as with a fresh arena. */
static void test_step_shared_arena(void) {
    char path_small[512], path_small_in[512];
    snprintf(path_small, sizeof path_small, "%s/small.h5", tests_fixture_dir());
    snprintf(path_small_in, sizeof path_small_in, "%s/small_in.nc", tests_fixture_dir());
    pangu_model *tiny, *small;
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&tiny, path_tiny, 0), PANGU_OK);
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&small, path_small, 0), PANGU_OK);
    CU_ASSERT(pangu_model_upper_size(small) > pangu_model_upper_size(tiny));
    CU_ASSERT(step_matches_fresh(tiny, path_tiny, path_in));
    CU_ASSERT(step_matches_fresh(small, path_small, path_small_in));
    CU_ASSERT(step_matches_fresh(tiny, path_tiny, path_in));
    pangu_model_close(tiny);
    CU_ASSERT(step_matches_fresh(small, path_small, path_small_in));
    pangu_model_close(small);
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&small, path_small, 0), PANGU_OK);
    CU_ASSERT(step_matches_fresh(small, path_small, path_small_in));
    pangu_model_close(small);
}

static void test_forecast_options(void) {
    pangu_forecast_options o;
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL); /* not initialised */
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "pangu_forecast_options_init"));
    pangu_forecast_options_init(&o);
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "no models"));
    const char *models[1] = {path_tiny}, *in[1] = {path_in};
    int leads[1] = {6};
    o.nmodels = 1, o.model_files = models, o.model_leads = leads;
    o.ninputs = 1, o.input_files = in;
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "no initial times"));
    o.init = "1900-01-01T00", o.leads = "6,12";
    o.members = 3;
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "perlin"));
    o.members = 0, o.layout = "zarr";
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "zarr"));
    o.layout = NULL, o.variables = "z,rh";
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "'rh'"));
    leads[0] = 24; /* tiny.h5 is a 6 h model */
    o.variables = NULL, o.leads = "24";
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "is a 6 h model"));
    leads[0] = 6;
    models[0] = "/nonexistent/m6.h5", o.leads = "6";
    CU_ASSERT_NOT_EQUAL(pangu_forecast(&o), PANGU_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "/nonexistent/m6.h5"));
    /* the dry run: one line per file, the plan, nothing written */
    models[0] = path_tiny, o.leads = "6,12,24", o.output = "/nonexistent/out/fc_{init:%Y%m%d%H}.nc", o.dry_run = 1;
    FILE *plan = tmpfile();
    CU_ASSERT_FATAL(plan != NULL);
    o.plan = plan;
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_OK);
    char text[4096] = "";
    rewind(plan);
    size_t n = fread(text, 1, sizeof text - 1, plan);
    text[n] = 0;
    fclose(plan);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "1900-01-01T00:00:00  /nonexistent/out/fc_1900010100.nc  4 model calls  to write"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "plan: 1 initial times x 4 model calls"));
}

int tests_register_api(void) {
    CU_pSuite s = CU_add_suite("api", suite_init, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "error codes and messages naming the file", test_errors) ||
        !CU_add_test(s, "model shape, reading, pangu_step = model_step, bad arrays", test_step) ||
        !CU_add_test(s, "pangu_step: one arena kept and shared by the open models", test_step_shared_arena) ||
        !CU_add_test(s, "forecast job: options checked, dry run", test_forecast_options))
        return -1;
    return 0;
}
