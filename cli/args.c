/* cli args: every command's options through one schema (configs/cfg.h):
 * --help documents them, numbers are checked strictly, only options marked
 * repeatable (CFG_MULTI) may be given twice, an option that does nothing
 * with the others is refused, older spellings are aliases. */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "cli.h"

/* Options that do something only with certain values of another: each is
 * refused when it is set (flag or file) while the other is not so, as a
 * silently ignored option is a wrong result the user does not see. A new
 * option of this kind is one row here (the keys are schema keys). */
enum { WHEN_GIVEN, WHEN_NOT_GIVEN, WHEN_ONE_OF, WHEN_NONE_OF };
static const struct {
    const char *command, *option; /* refused when set, unless... */
    const char *other;            /* ...this option... */
    int when;                     /* ...is given, not given, or has one / none of values */
    const char *values;           /* comma-separated (shell patterns, case ignored; numbers compared as numbers) */
    const char *inert;            /* a value of option that is fine whatever the other (the "off" value), or NULL */
} applies[] = {
    {"forecast", "grib_bits", "format", WHEN_ONE_OF, "grib2", NULL},
    {"forecast", "grib_class", "format", WHEN_ONE_OF, "grib2", NULL},
    {"forecast", "grib_stream", "format", WHEN_ONE_OF, "grib2", NULL},
    {"forecast", "grib_expver", "format", WHEN_ONE_OF, "grib2", NULL},
    {"forecast", "layout", "format", WHEN_ONE_OF, "netcdf", NULL},
    {"forecast", "deflate", "format", WHEN_ONE_OF, "netcdf", NULL},
    {"forecast", "institution", "format", WHEN_ONE_OF, "netcdf", NULL},
    {"forecast", "perturb", "members", WHEN_NONE_OF, "0,1", "none"}, /* member 0 is the unperturbed control */
    {"forecast", "perturb_scale", "perturb", WHEN_ONE_OF, "perlin", NULL},
    {"forecast", "seed", "perturb", WHEN_ONE_OF, "perlin", NULL},
    {"forecast", "allow_bf16", "precision", WHEN_ONE_OF, "auto", "no"},
    {"step", "lead", "model", WHEN_ONE_OF, "*.onnx", "0"}, /* an HDF5 model records its lead */
    {"info", "lead", "model", WHEN_ONE_OF, "*.onnx", "0"},
    {"grad", "lead", "model", WHEN_ONE_OF, "*.onnx", "0"},
    {"stats", "smoothing", "climatology_hours", WHEN_NONE_OF, "0", NULL},
    {"synth", "noise", "forecast_from", WHEN_NOT_GIVEN, NULL, "0"}, /* forecasts are of the noise-free state */
    {"synth", "start", "forecast_from", WHEN_NOT_GIVEN, NULL, NULL},
    {"synth", "seed", "noise", WHEN_NONE_OF, "0", NULL},
    {"tune", "seconds", "show", WHEN_NONE_OF, "yes", NULL},
    {"train", "validate_every", "valid_start", WHEN_GIVEN, NULL, NULL},
    {"train", "valid_samples", "valid_start", WHEN_GIVEN, NULL, NULL},
    {"fetch", "format", "source", WHEN_ONE_OF, "cds", NULL},
    {"track", "storm", "start", WHEN_NOT_GIVEN, NULL, NULL}, /* --start follows one position, not best-track storms */
};

static const cfg_key *schema_key(const cfg *c, const char *key) {
    for (int i = 0; i < c->nschema; i++)
        if (strcmp(c->schema[i].key, key) == 0) return &c->schema[i];
    return NULL;
}

/* The value set by flag or file (not the default), else NULL. */
static const char *given(const cfg *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) return c->values[i];
    return NULL;
}

/* value equals one of the comma-separated patterns (yes/no and numbers by meaning) */
static int one_of(const cfg_key *k, const char *value, const char *patterns) {
    char copy[256];
    snprintf(copy, sizeof copy, "%s", patterns);
    for (char *save = NULL, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        int a, b;
        double x, y;
        char *end1, *end2;
        if (k->type == CFG_YESNO || k->type == CFG_SWITCH) {
            if (!util_parse_yesno(k->key, value, &a) && !util_parse_yesno(k->key, p, &b) && a == b) return 1;
        } else if ((x = strtod(value, &end1), end1 != value && !*end1) && (y = strtod(p, &end2), end2 != p && !*end2)) {
            if (x == y) return 1;
        } else if (fnmatch(p, value, FNM_CASEFOLD) == 0)
            return 1;
    }
    return 0;
}

/* key as a flag: dashes for underscores */
static void flag_of(const char *key, char *out, size_t cap) {
    snprintf(out, cap, "--%s", key);
    for (char *p = out; *p; p++)
        if (*p == '_') *p = '-';
}

/* Whether rule r's other option is as the option needs it. */
static int other_fits(const cfg *c, size_t r, const cfg_key *o) {
    const char *ov = cfg_get(c, applies[r].other);
    switch (applies[r].when) {
    case WHEN_GIVEN: return given(c, applies[r].other) != NULL;
    case WHEN_NOT_GIVEN: return given(c, applies[r].other) == NULL;
    case WHEN_ONE_OF: return ov && one_of(o, ov, applies[r].values);
    default: return !(ov && one_of(o, ov, applies[r].values));
    }
}

/* The one line for rule r, broken: both options, what the first needs. */
static int refuse(const cfg *c, size_t r, const cfg_key *o) {
    char opt[128], other[128];
    const char *ov = cfg_get(c, applies[r].other);
    flag_of(applies[r].option, opt, sizeof opt);
    flag_of(applies[r].other, other, sizeof other);
    if (applies[r].when == WHEN_GIVEN)
        return util_fail(UTIL_EINVAL, "%s does nothing without %s: give %s too, or drop %s", opt, other, other, opt);
    if (applies[r].when == WHEN_NOT_GIVEN || o->type == CFG_SWITCH)
        return util_fail(UTIL_EINVAL, "%s does nothing %s %s: drop one of them", opt,
                         applies[r].when == WHEN_ONE_OF ? "without" : "with", other);
    return util_fail(UTIL_EINVAL, "%s does nothing with %s %s: it applies only with %s %s%s", opt, other, ov ? ov : "(none)",
                     other, applies[r].when == WHEN_NONE_OF ? "other than " : "", applies[r].values);
}

static int check_applies(const cfg *c, const char *command) {
    for (size_t r = 0; r < sizeof applies / sizeof applies[0]; r++) {
        if (strcmp(applies[r].command, command) != 0) continue;
        const cfg_key *k = schema_key(c, applies[r].option), *o = schema_key(c, applies[r].other);
        if (!k || !o) /* a row that does not match the schema: found by any run of the command */
            return util_fail(UTIL_EINVAL, "internal: cli/args.c names '%s' or '%s', not options of %s", applies[r].option,
                             applies[r].other, command);
        const char *v = given(c, applies[r].option);
        if (!v || (applies[r].inert && one_of(k, v, applies[r].inert)) || other_fits(c, r, o)) continue;
        return refuse(c, r, o);
    }
    return UTIL_OK;
}

int cli_parse(cfg *c, const char *command, int argc, char **argv) {
    int status = cfg_parse_args(c, argc, argv);
    return status ? status : check_applies(c, command);
}

/* argv[i]'s value: the next argument unless that is a flag (then argv[i] is a switch) */
static const char *value_of(int argc, char **argv, int i) {
    return i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[i + 1] : NULL;
}

int cli_check_repeats(int argc, char **argv, const char *const *repeatable) {
    if (cfg_wants_help(argc, argv)) return UTIL_OK;
    for (int i = 1; i < argc; i++) {
        int multi = strncmp(argv[i], "--", 2) != 0;
        for (int r = 0; repeatable[r] && !multi; r++) multi = !strcmp(argv[i], repeatable[r]);
        for (int j = 1; j < i && !multi; j++) {
            if (strcmp(argv[j], argv[i]) != 0) continue;
            const char *a = value_of(argc, argv, j), *b = value_of(argc, argv, i);
            if (a && b)
                return util_fail(UTIL_EINVAL, "%s given twice ('%s' and '%s'): it takes one value (only options marked "
                                              "repeatable in --help accumulate)", argv[i], a, b);
            return util_fail(UTIL_EINVAL, "%s given twice: give it once", argv[i]);
        }
    }
    return UTIL_OK;
}

int cli_args(cfg *c, const cfg_key *schema, int nschema, int argc, char **argv, const char *command,
             const char *synopsis, const char *summary) {
    cfg_init(c, schema, nschema);
    if (cfg_wants_help(argc, argv)) {
        cfg_print_usage(c, command, synopsis, summary, 0);
        return -1;
    }
    int status = cli_parse(c, command, argc, argv);
    if (status) {
        fprintf(stderr, "pangu %s: %s (pangu %s --help)\n", command, util_last_message(), command);
        cfg_free(c);
        return 2;
    }
    return 0;
}

int cli_require(const cfg *c, const char *command, const char *const *keys, int n) {
    for (int i = 0; i < n; i++)
        if (!cfg_get(c, keys[i])) {
            char flag[96];
            snprintf(flag, sizeof flag, "--%s", keys[i]);
            for (char *p = flag; *p; p++)
                if (*p == '_') *p = '-';
            fprintf(stderr, "pangu %s: needs %s (pangu %s --help)\n", command, flag, command);
            return 2;
        }
    return 0;
}

int cli_expand(const cfg *c, const char *key, glob_t *g) {
    const char *occ[256];
    int n = cfg_get_multi(c, key, occ, 256), used = 0, status = UTIL_OK;
    memset(g, 0, sizeof *g);
    for (int i = 0; i < n && !status; i++) {
        char *copy = strdup(occ[i]);
        if (!copy) return util_fail(UTIL_ENOMEM, "out of memory");
        for (char *save = NULL, *tok = strtok_r(copy, " \t\n,", &save); tok && !status; tok = strtok_r(NULL, " \t\n,", &save)) {
            if (glob(tok, (used ? GLOB_APPEND : 0) | GLOB_NOCHECK, NULL, g) != 0)
                status = util_fail(UTIL_EINVAL, "cannot expand '%s'", tok);
            used = 1;
        }
        free(copy);
    }
    if (!used) g->gl_pathc = 0;
    return status;
}
