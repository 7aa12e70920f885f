/* Suite "api": the public C API (lib/pangu.h) in the build tree: error codes
 * and messages naming the file or option, the model's shape, pangu_step
 * against model_step and against bad arrays, the forecast job's checks and
 * its dry run; NULL pointers, arrays of another grid and empty input lists
 * refused. (tests/install_test.sh runs an example against the installed
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
    CU_ASSERT_STRING_EQUAL(pangu_version(), "1.1");
    /* the number agrees with the string and with the header compiled against */
    char numbered[32];
    snprintf(numbered, sizeof numbered, "%d.%d", pangu_version_number() / 10000, pangu_version_number() / 100 % 100);
    CU_ASSERT_STRING_EQUAL(numbered, pangu_version());
    CU_ASSERT_EQUAL(pangu_version_number(), PANGU_VERSION_NUMBER);
    pangu_model *m = (pangu_model *)1;
    int status = pangu_model_open(&m, "/nonexistent/dir/model.h5", 0);
    CU_ASSERT_EQUAL(status, PANGU_EIO);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "/nonexistent/dir/model.h5"));
    /* the operating system's reason, as pangu.h promises */
    CU_ASSERT_PTR_NOT_NULL(strstr(pangu_last_error(), "No such file or directory"));
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

/* The last error names the function and says what was wrong. */
static int said(const char *function, const char *what) {
    return strstr(pangu_last_error(), function) && strstr(pangu_last_error(), what);
}

/* Issue 28: a NULL model, NULL arrays or a bad capacity are PANGU_EINVAL
 * (or the documented value) with a message, not a crash. */
static void test_null_arguments(void) {
    int H = 1, W = 1, L = 1;
    CU_ASSERT_EQUAL(pangu_model_set_precision(NULL, PANGU_FP32), PANGU_EINVAL);
    CU_ASSERT(said("pangu_model_set_precision", "model is NULL"));
    CU_ASSERT_EQUAL(pangu_model_shape(NULL, &H, &W, &L), PANGU_EINVAL);
    CU_ASSERT(H == 0 && W == 0 && L == 0);
    CU_ASSERT(said("pangu_model_shape", "model is NULL"));
    CU_ASSERT_EQUAL(pangu_model_upper_size(NULL), 0);
    CU_ASSERT(said("pangu_model_upper_size", "model is NULL"));
    CU_ASSERT_EQUAL(pangu_model_surface_size(NULL), 0);
    CU_ASSERT_EQUAL(pangu_model_lead_hours(NULL), -PANGU_EINVAL);
    CU_ASSERT_EQUAL(pangu_model_format(NULL), -PANGU_EINVAL);
    CU_ASSERT_PTR_NULL(pangu_model_licence(NULL));
    CU_ASSERT(said("pangu_model_licence", "model is NULL"));
    float lev[13] = {0}, x = 0;
    CU_ASSERT_EQUAL(pangu_model_levels(NULL, lev, 13), -PANGU_EINVAL);
    const char *in[1] = {path_in};
    CU_ASSERT_EQUAL(pangu_read_input(NULL, in, 1, NULL, &x, &x, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input", "model is NULL"));
    CU_ASSERT_EQUAL(pangu_step(NULL, &x, &x, &x, &x), PANGU_EINVAL);
    CU_ASSERT(said("pangu_step", "model is NULL"));
    pangu_forecast_options_init(NULL);
    CU_ASSERT(said("pangu_forecast_options_init", "NULL"));
    CU_ASSERT_EQUAL(pangu_forecast(NULL), PANGU_EINVAL);
    pangu_model *m;
    CU_ASSERT_EQUAL(pangu_model_open(NULL, path_tiny, 0), PANGU_EINVAL);
    CU_ASSERT_EQUAL(pangu_model_open(&m, NULL, 0), PANGU_EINVAL);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&m, path_tiny, 0), PANGU_OK);
    CU_ASSERT_EQUAL(pangu_model_levels(m, NULL, 13), -PANGU_EINVAL);
    CU_ASSERT(said("pangu_model_levels", "levels NULL with cap 13"));
    CU_ASSERT_EQUAL(pangu_model_levels(m, lev, -1), -PANGU_EINVAL);
    CU_ASSERT_EQUAL(pangu_model_levels(m, NULL, 0), 5); /* only the count */
    CU_ASSERT_EQUAL(pangu_model_shape(m, NULL, NULL, &L), PANGU_OK);
    CU_ASSERT_EQUAL(L, 5);
    CU_ASSERT_EQUAL(pangu_read_input(m, in, 1, NULL, NULL, &x, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input", "upper is NULL"));
    CU_ASSERT_EQUAL(pangu_step(m, &x, NULL, &x, &x), PANGU_EINVAL);
    CU_ASSERT(said("pangu_step", "surface_out is NULL"));
    pangu_model_close(m);
}

/* Issue 28: arrays sized for another grid are refused by the sized forms,
 * naming the array and the length the model needs, before anything is
 * read or written (pangu_step overflowed the heap with them). With the
 * right sizes they equal the unsized functions to the bit. */
static void test_sized(void) {
    pangu_model *m;
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&m, path_tiny, 0), PANGU_OK);
    const size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    const size_t small_nu = (size_t)5 * 5 * 12 * 24, small_ns = (size_t)4 * 12 * 24; /* a 12 x 24 grid's */
    float *u = malloc(sizeof(float) * nu), *s = malloc(sizeof(float) * ns);
    float *uo = malloc(sizeof(float) * nu), *so = malloc(sizeof(float) * ns);
    float *uo2 = malloc(sizeof(float) * nu), *so2 = malloc(sizeof(float) * ns);
    float *su = malloc(sizeof(float) * small_nu), *ss = malloc(sizeof(float) * small_ns);
    CU_ASSERT_FATAL(u && s && uo && so && uo2 && so2 && su && ss);
    const char *in[1] = {path_in};
    CU_ASSERT_EQUAL(pangu_read_input_sized(m, in, 1, NULL, su, small_nu, ss, small_ns, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input_sized", "upper holds 7200 floats"));
    CU_ASSERT(said("pangu_read_input_sized", "needs 28800 (pangu_model_upper_size)"));
    CU_ASSERT_EQUAL(pangu_read_input_sized(m, in, 1, NULL, u, nu, ss, small_ns, NULL), PANGU_EINVAL);
    CU_ASSERT(said("surface holds 1152 floats", "needs 4608 (pangu_model_surface_size)"));
    CU_ASSERT_EQUAL_FATAL(pangu_read_input_sized(m, in, 1, NULL, u, nu, s, ns, NULL), PANGU_OK);
    CU_ASSERT_EQUAL(pangu_step_sized(m, uo, nu, so, ns, su, small_nu, ss, small_ns), PANGU_EINVAL);
    CU_ASSERT(said("pangu_step_sized: upper_in holds 7200 floats", "24 x 48 grid with 5 levels needs 28800"));
    CU_ASSERT_EQUAL(pangu_step_sized(m, uo, nu, so, ns, u, nu, ss, small_ns), PANGU_EINVAL);
    CU_ASSERT(said("surface_in holds 1152", "needs 4608"));
    CU_ASSERT_EQUAL(pangu_step_sized(m, su, small_nu, so, ns, u, nu, s, ns), PANGU_EINVAL);
    CU_ASSERT(said("upper_out holds 7200", "needs 28800"));
    CU_ASSERT_EQUAL(pangu_step_sized(m, uo, nu, ss, small_ns, u, nu, s, ns), PANGU_EINVAL);
    CU_ASSERT(said("surface_out holds 1152", "needs 4608"));
    CU_ASSERT_EQUAL(pangu_step_sized(m, uo, nu + 1, so, ns, u, nu, s, ns), PANGU_EINVAL); /* larger: another grid too */
    CU_ASSERT_EQUAL(pangu_step_sized(m, uo, nu, so, ns, u, nu, NULL, ns), PANGU_EINVAL);
    CU_ASSERT(said("pangu_step_sized", "surface_in is NULL"));
    CU_ASSERT_EQUAL(pangu_step_sized(m, uo, nu, so, ns, u, nu, s, ns), PANGU_OK);
    CU_ASSERT_EQUAL(pangu_step(m, uo2, so2, u, s), PANGU_OK);
    CU_ASSERT(memcmp(uo, uo2, sizeof(float) * nu) == 0 && memcmp(so, so2, sizeof(float) * ns) == 0);
    free(u), free(s), free(uo), free(so), free(uo2), free(so2), free(su), free(ss);
    pangu_model_close(m);
}

/* Issue 28: an input list with a NULL or empty name (paths = {NULL}) is
 * PANGU_EINVAL naming the entry, from the reader and from the forecast job
 * (NULL reached open() before). */
static void test_empty_paths(void) {
    pangu_model *m;
    CU_ASSERT_EQUAL_FATAL(pangu_model_open(&m, path_tiny, 0), PANGU_OK);
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    float *u = malloc(sizeof(float) * nu), *s = malloc(sizeof(float) * ns);
    CU_ASSERT_FATAL(u && s);
    const char *none[1] = {NULL}, *empty[1] = {""}, *second[2] = {path_in, NULL};
    CU_ASSERT_EQUAL(pangu_read_input(m, none, 1, NULL, u, s, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input", "paths[0] of 1 is NULL"));
    CU_ASSERT_EQUAL(pangu_read_input(m, empty, 1, NULL, u, s, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input", "paths[0] of 1 is empty"));
    CU_ASSERT_EQUAL(pangu_read_input(m, second, 2, NULL, u, s, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input", "paths[1] of 2 is NULL"));
    CU_ASSERT_EQUAL(pangu_read_input(m, NULL, 1, NULL, u, s, NULL), PANGU_EINVAL);
    CU_ASSERT_EQUAL(pangu_read_input(m, none, 0, NULL, u, s, NULL), PANGU_EINVAL);
    CU_ASSERT(said("pangu_read_input", "no input files"));
    /* the forecast job reads its inputs through the same reader */
    pangu_forecast_options o;
    pangu_forecast_options_init(&o);
    const char *models[1] = {path_tiny};
    int leads[1] = {6};
    o.nmodels = 1, o.model_files = models, o.model_leads = leads;
    o.ninputs = 1, o.input_files = none, o.init = "1900-01-01T00", o.leads = "6";
    o.output = "/nonexistent/fc.nc";
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT(said("input file 1 of 1", "no (NULL) name"));
    o.input_files = empty;
    CU_ASSERT_EQUAL(pangu_forecast(&o), PANGU_EINVAL);
    CU_ASSERT(said("input file 1 of 1", "an empty name"));
    free(u), free(s);
    pangu_model_close(m);
}

int tests_register_api(void) {
    CU_pSuite s = CU_add_suite("api", suite_init, NULL);
    if (!s) return -1;
    if (!CU_add_test(s, "error codes and messages naming the file", test_errors) ||
        !CU_add_test(s, "model shape, reading, pangu_step = model_step, bad arrays", test_step) ||
        !CU_add_test(s, "pangu_step: one arena kept and shared by the open models", test_step_shared_arena) ||
        !CU_add_test(s, "forecast job: options checked, dry run", test_forecast_options) ||
        !CU_add_test(s, "NULL model, arrays, capacity: PANGU_EINVAL with a message", test_null_arguments) ||
        !CU_add_test(s, "sized step and read: arrays of another grid refused, naming the array", test_sized) ||
        !CU_add_test(s, "input list with a NULL or empty name: PANGU_EINVAL", test_empty_paths))
        return -1;
    return 0;
}
