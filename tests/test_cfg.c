/* Suite "cfg": the configuration files and flags (configs/cfg.c): values
 * checked against the schema when set (whole numbers and numbers parsed
 * strictly, ranges, yes/no), unknown keys and keys in the wrong section
 * refused naming the line, a key set twice in a file or a flag given twice
 * refused (except repeatable CFG_MULTI flags, kept in order), flags
 * overriding the file, aliases, wildcard keys, lines longer than libinih's
 * buffer kept whole. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "configs/cfg.h"
#include "tests.h"
#include "util/util.h"

static const cfg_key schema[] = {
    {"run", "steps", "4", "steps", CFG_INT, 1, 100, NULL},
    {"run", "scale", "0.2", "scale", CFG_REAL, 0, 1, NULL},
    {"run", "overwrite", "no", "overwrite", CFG_YESNO, 0, 0, NULL},
    {"run", "profile", "no", "profile", CFG_SWITCH, 0, 0, NULL},
    {"run", "output", NULL, "output", CFG_TEXT, 0, 0, "out"},
    {"io", "input", NULL, "inputs", CFG_MULTI, 0, 0, NULL},
    {"models", "model_*", NULL, "a model per lead", CFG_TEXT, 0, 0, NULL},
};
enum { NSCHEMA = sizeof schema / sizeof schema[0] };

static char path[64];

static int load_text(cfg *c, const char *text) {
    FILE *fp = fopen(path, "w");
    CU_ASSERT_FATAL(fp != NULL);
    fputs(text, fp);
    CU_ASSERT_FATAL(fclose(fp) == 0);
    cfg_init(c, schema, NSCHEMA);
    return cfg_load(c, path);
}

static int has(const char *text) { return strstr(util_last_message(), text) != NULL; }

static void test_file(void) {
    cfg c;
    char want[128];
    CU_ASSERT(load_text(&c, "[run]\nsteps = 12\n  scale = 0.5 ; a comment\n[models]\nmodel_24 = a.onnx\n") == 0);
    CU_ASSERT(cfg_get_int(&c, "steps") == 12 && cfg_get_real(&c, "scale") == 0.5 && cfg_get_yesno(&c, "overwrite") == 0);
    CU_ASSERT_STRING_EQUAL(cfg_get(&c, "model_24"), "a.onnx");
    CU_ASSERT(cfg_get(&c, "output") == NULL);
    cfg_free(&c);
    CU_ASSERT(load_text(&c, "[run]\nsteps = 1\nbogus = 2\n") == UTIL_EINVAL);
    snprintf(want, sizeof want, "%s:3: unknown key 'bogus' in section [run]", path);
    CU_ASSERT(has(want));
    cfg_free(&c);
    CU_ASSERT(load_text(&c, "[run]\nsteps = 1\nsteps = 2\n") == UTIL_EINVAL && has(":3: key 'steps' is set twice"));
    cfg_free(&c);
    CU_ASSERT(load_text(&c, "[io]\nsteps = 1\n") == UTIL_EINVAL && has("key 'steps' belongs in section [run], not [io]"));
    cfg_free(&c);
    CU_ASSERT(load_text(&c, "[run]\nout = x.nc\n") == 0 && !strcmp(cfg_get(&c, "output"), "x.nc"));
    cfg_free(&c);
    /* a value longer than libinih's 200-byte line buffer, whole */
    char text[600], value[400];
    memset(value, 'v', sizeof value - 1), value[sizeof value - 1] = 0;
    snprintf(text, sizeof text, "[run]\noutput = %s\nsteps = 3\n", value);
    CU_ASSERT(load_text(&c, text) == 0 && cfg_get(&c, "output") && !strcmp(cfg_get(&c, "output"), value) &&
              cfg_get_int(&c, "steps") == 3);
    cfg_free(&c);
    CU_ASSERT(load_text(&c, "steps\n") == UTIL_EINVAL && has("syntax error"));
    cfg_free(&c);
}

/* Whole numbers and numbers: the whole text, finite, in range. */
static void test_strict_numbers(void) {
    cfg c;
    cfg_init(&c, schema, NSCHEMA);
    static const char *bad_int[] = {"12abc", "", " ", "1.5", "0", "101", "1e2", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_int / sizeof bad_int[0]; i++)
        CU_ASSERT(cfg_set(&c, "steps", bad_int[i]) == UTIL_EINVAL && has("expected a whole number from 1 to 100"));
    static const char *bad_real[] = {"0.5x", "nan", "inf", "1.5", "-0.1", ""};
    for (size_t i = 0; i < sizeof bad_real / sizeof bad_real[0]; i++)
        CU_ASSERT(cfg_set(&c, "scale", bad_real[i]) == UTIL_EINVAL && has("expected a number from 0 to 1"));
    CU_ASSERT(cfg_set(&c, "overwrite", "maybe") == UTIL_EINVAL);
    CU_ASSERT(cfg_set(&c, "steps", "100") == 0 && cfg_set(&c, "scale", "1e-1") == 0 && cfg_set(&c, "overwrite", "yes") == 0);
    CU_ASSERT(cfg_get_int(&c, "steps") == 100 && cfg_get_real(&c, "scale") == 0.1 && cfg_get_yesno(&c, "overwrite") == 1);
    cfg_free(&c);
}

static void test_flags(void) {
    cfg c;
    char *args[] = {"pangu", "--input", "a.nc", "--input=b.nc", "--profile", "--model-6", "m6.onnx", "--input", "c.nc", NULL};
    cfg_init(&c, schema, NSCHEMA);
    CU_ASSERT_FATAL(cfg_parse_args(&c, 9, args) == 0);
    const char *in[4];
    CU_ASSERT(cfg_get_multi(&c, "input", in, 4) == 3 && !strcmp(in[0], "a.nc") && !strcmp(in[1], "b.nc") && !strcmp(in[2], "c.nc"));
    CU_ASSERT(cfg_get_yesno(&c, "profile") == 1 && !strcmp(cfg_get(&c, "model_6"), "m6.onnx"));
    cfg_free(&c);
    char *twice[] = {"pangu", "--steps", "2", "--steps", "3", NULL};
    cfg_init(&c, schema, NSCHEMA);
    CU_ASSERT(cfg_parse_args(&c, 5, twice) == UTIL_EINVAL && has("--steps given twice ('2' and '3')"));
    cfg_free(&c);
    char *unknown[] = {"pangu", "--stepz", "2", NULL};
    cfg_init(&c, schema, NSCHEMA);
    CU_ASSERT(cfg_parse_args(&c, 3, unknown) == UTIL_EINVAL && has("unknown option '--stepz'"));
    cfg_free(&c);
    char *novalue[] = {"pangu", "--steps", NULL};
    cfg_init(&c, schema, NSCHEMA);
    CU_ASSERT(cfg_parse_args(&c, 2, novalue) == UTIL_EINVAL && has("--steps needs a value"));
    cfg_free(&c);
    char *stray[] = {"pangu", "x.nc", NULL};
    cfg_init(&c, schema, NSCHEMA);
    CU_ASSERT(cfg_parse_args(&c, 2, stray) == UTIL_EINVAL && has("unexpected argument 'x.nc'"));
    cfg_free(&c);
}

/* --config FILE is read first, whatever its place; flags then replace its values. */
static void test_config_and_flags(void) {
    cfg c;
    CU_ASSERT_FATAL(load_text(&c, "[run]\nsteps = 7\nscale = 0.3\n[io]\ninput = f.nc\n") == 0);
    cfg_free(&c);
    char *args[] = {"pangu", "--steps", "9", "--config", path, "--input", "g.nc", NULL};
    cfg_init(&c, schema, NSCHEMA);
    CU_ASSERT_FATAL(cfg_parse_args(&c, 7, args) == 0);
    const char *in[4];
    CU_ASSERT(cfg_get_int(&c, "steps") == 9 && cfg_get_real(&c, "scale") == 0.3);
    CU_ASSERT(cfg_get_multi(&c, "input", in, 4) == 1 && !strcmp(in[0], "g.nc"));
    cfg_free(&c);
}

static int suite_init(void) {
    snprintf(path, sizeof path, "/tmp/pangu_test_cfg_%d.ini", (int)getpid());
    return 0;
}

static int suite_clean(void) {
    unlink(path);
    return 0;
}

int tests_register_cfg(void) {
    CU_pSuite s = CU_add_suite("cfg", suite_init, suite_clean);
    if (!s) return -1;
    if (!CU_add_test(s, "files: sections, unknown and repeated keys, aliases, wildcards, long lines", test_file) ||
        !CU_add_test(s, "numbers parsed strictly, ranges, yes/no", test_strict_numbers) ||
        !CU_add_test(s, "flags: repeatable CFG_MULTI in order, switches, twice, unknown, missing value", test_flags) ||
        !CU_add_test(s, "--config read first, flags override it", test_config_and_flags))
        return -1;
    return 0;
}
