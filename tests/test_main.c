/* pangu-tests: every CUnit suite. Exit status 0 only if all pass. */
#include <CUnit/Basic.h>
#include <stdlib.h>

#include "tests.h"

const char *tests_fixture_dir(void) {
    const char *d = getenv("PANGU_FIXTURES");
    return d ? d : "tests/fixtures";
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    if (tests_register_kernels() || tests_register_model() || tests_register_train() || tests_register_eval() ||
        tests_register_io() || tests_register_grib() || tests_register_regrid() ||
        tests_register_bf16() || tests_register_f32() || tests_register_avx2() || tests_register_tune() || tests_register_onnx() ||
        tests_register_fetch() || tests_register_api() ||
        tests_register_fetch_models() || tests_register_util() || tests_register_stats() || tests_register_plan() ||
        tests_register_cfg() || tests_register_perturb() || tests_register_http() ||
        tests_register_track() || tests_register_trackeval() || tests_register_coast() || tests_register_scorecard()) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return failed || run == 0 ? 1 : 0;
}
