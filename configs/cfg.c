/* cfg: schema-checked INI files and flags. */
#define _DEFAULT_SOURCE
#include "cfg.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

void cfg_init(cfg *c, const cfg_key *schema, int nschema) {
    memset(c, 0, sizeof *c);
    c->schema = schema;
    c->nschema = nschema;
}

void cfg_free(cfg *c) {
    for (int i = 0; i < c->n; i++) free(c->keys[i]), free(c->values[i]);
    c->n = 0;
}

static const cfg_key *find_key(const cfg *c, const char *key) {
    for (int i = 0; i < c->nschema; i++) {
        const char *k = c->schema[i].key;
        size_t len = strlen(k);
        if (len && k[len - 1] == '*' ? strncmp(k, key, len - 1) == 0 && key[len - 1] : strcmp(k, key) == 0)
            return &c->schema[i];
    }
    return NULL;
}

int cfg_set(cfg *c, const char *key, const char *value) {
    if (!find_key(c, key)) return util_fail(UTIL_EINVAL, "unknown option '%s'", key);
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return util_fail(UTIL_ENOMEM, "out of memory");
            free(c->values[i]);
            c->values[i] = v;
            return UTIL_OK;
        }
    if (c->n == CFG_MAX_VALUES) return util_fail(UTIL_EINVAL, "too many settings");
    c->keys[c->n] = strdup(key);
    c->values[c->n] = strdup(value);
    if (!c->keys[c->n] || !c->values[c->n]) return util_fail(UTIL_ENOMEM, "out of memory");
    c->n++;
    return UTIL_OK;
}

typedef struct {
    cfg *c;
    int line;
    char message[512];
} parse_state;

static int handler(void *user, const char *section, const char *name, const char *value) {
    parse_state *ps = user;
    if (ps->message[0]) return 0;
    const cfg_key *k = find_key(ps->c, name);
    if (!k) {
        snprintf(ps->message, sizeof ps->message, "unknown key '%s' in section [%s]", name, section);
        return 0;
    }
    if (strcmp(k->section, section) != 0) {
        snprintf(ps->message, sizeof ps->message, "key '%s' belongs in section [%s], not [%s]", name, k->section, section);
        return 0;
    }
    if (cfg_set(ps->c, name, value)) {
        snprintf(ps->message, sizeof ps->message, "%s", util_last_message());
        return 0;
    }
    return 1;
}

int cfg_load(cfg *c, const char *path) {
    parse_state ps = {c, 0, ""};
    snprintf(c->path, sizeof c->path, "%s", path);
    int rc = ini_parse(path, handler, &ps);
    if (rc == -1) return util_fail(UTIL_EIO, "%s: cannot read the configuration file", path);
    if (rc == -2) return util_fail(UTIL_ENOMEM, "out of memory");
    if (rc > 0)
        return util_fail(UTIL_EINVAL, "%s:%d: %s", path, rc, ps.message[0] ? ps.message : "syntax error (expected key = value)");
    return UTIL_OK;
}

int cfg_parse_args(cfg *c, int argc, char **argv) {
    int status;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && (status = cfg_load(c, argv[i + 1]))) return status;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) return util_fail(UTIL_EINVAL, "unexpected argument '%s'", a);
        if (i + 1 >= argc) return util_fail(UTIL_EINVAL, "option %s needs a value", a);
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        char key[128];
        snprintf(key, sizeof key, "%s", a + 2);
        for (char *p = key; *p; p++)
            if (*p == '-') *p = '_';
        if (!find_key(c, key)) return util_fail(UTIL_EINVAL, "unknown option '%s'", a);
        if ((status = cfg_set(c, key, argv[++i]))) return status;
    }
    return UTIL_OK;
}

const char *cfg_get(const cfg *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) return c->values[i];
    const cfg_key *k = find_key(c, key);
    return k ? k->def : NULL;
}

void cfg_print_help(const cfg *c, const char *command) {
    printf("usage: pangu %s [--config FILE] [--KEY VALUE ...]\nkeys (file section, flag, default):\n", command);
    for (int i = 0; i < c->nschema; i++) {
        const cfg_key *k = &c->schema[i];
        printf("  [%s] --%s%s%s\n      %s\n", k->section, k->key, k->def ? "  default: " : "", k->def ? k->def : "",
               k->help);
    }
}
