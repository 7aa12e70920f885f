/* CUnit suites of pangu-c; each registers its suite and returns 0 on success. */
#ifndef PANGU_TESTS_H
#define PANGU_TESTS_H

int tests_register_kernels(void); /* tests/test_kernels.c */
int tests_register_model(void);   /* tests/test_model.c */
int tests_register_train(void);   /* tests/test_train.c */
int tests_register_eval(void);    /* tests/test_eval.c */
int tests_register_io(void);      /* tests/test_io.c */
int tests_register_grib(void);    /* tests/test_grib.c */
int tests_register_regrid(void);  /* tests/test_regrid.c */
int tests_register_bf16(void);    /* tests/test_bf16.c */
int tests_register_f32(void);     /* tests/test_f32.c */
int tests_register_avx2(void);    /* tests/test_avx2.c */
int tests_register_tune(void);    /* tests/test_tune.c */
int tests_register_onnx(void);    /* tests/test_onnx.c */
int tests_register_fetch(void);   /* tests/test_fetch.c */
int tests_register_api(void);     /* tests/test_api.c */
int tests_register_fetch_models(void); /* tests/test_fetch_models.c */
int tests_register_util(void);    /* tests/test_util.c */
int tests_register_stats(void);   /* tests/test_stats.c */
int tests_register_plan(void);    /* tests/test_plan.c */
int tests_register_cfg(void);     /* tests/test_cfg.c */
int tests_register_perturb(void); /* tests/test_perturb.c */
int tests_register_http(void);    /* tests/test_http.c */
int tests_register_track(void);   /* tests/test_track.c */
int tests_register_trackeval(void); /* tests/test_trackeval.c */
int tests_register_coast(void);   /* tests/test_coast.c */
int tests_register_scorecard(void); /* tests/test_scorecard.c */

/* Directory holding the committed fixtures (tests/fixtures by default,
 * PANGU_FIXTURES overrides). */
const char *tests_fixture_dir(void);

#endif
