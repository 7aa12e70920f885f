/* cfg: schema-checked INI files and flags. */
#define _DEFAULT_SOURCE
#include "cfg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <ini.h>
#include <sys/stat.h>
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

/* The schema key an alias (an older spelling) stands for, else key itself.
 * out is output's other spelling in every command that has an output. */
static const char *canonical_key(const cfg *c, const char *key) {
    for (int i = 0; i < c->nschema; i++)
        if (c->schema[i].alias && strcmp(c->schema[i].alias, key) == 0) return c->schema[i].key;
    if (strcmp(key, "out") == 0 && find_key(c, "output")) return "output";
    return key;
}

/* The value must be of the key's type and in its range (key: the name to show). */
static int check_value(const cfg_key *k, const char *key, const char *value) {
    long long i;
    double d;
    int b;
    switch (k->type) {
    case CFG_INT: return util_parse_long(key, value, (long long)k->min, (long long)k->max, &i);
    case CFG_REAL: return util_parse_double(key, value, k->min, k->max, &d);
    case CFG_YESNO:
    case CFG_SWITCH: return util_parse_yesno(key, value, &b);
    }
    return UTIL_OK;
}

/* key as a flag name, dashes for underscores (in a static buffer) */
static const char *flag_name(const char *key) {
    static _Thread_local char flag[128];
    snprintf(flag, sizeof flag, "%s", key);
    for (char *p = flag; *p; p++)
        if (*p == '_') *p = '-';
    return flag;
}

static int set_value(cfg *c, const char *key, const char *value, const char *shown, int flag) {
    key = canonical_key(c, key);
    const cfg_key *k = find_key(c, key);
    if (!k) return util_fail(UTIL_EINVAL, "unknown option '%s'", shown);
    int status = check_value(k, shown, value);
    if (status) return status;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) {
            char *v;
            /* as a key set twice in a file: the second value would silently win */
            if (flag && c->from_flag[i] && k->type != CFG_MULTI)
                return util_fail(UTIL_EINVAL, "--%s given twice ('%s' and '%s'): it takes one value (only options "
                                              "marked repeatable in --help accumulate)", flag_name(key), c->values[i], value);
            /* a repeated flag adds an occurrence; a flag replaces a file's value */
            if (k->type == CFG_MULTI && flag && c->from_flag[i]) {
                size_t a = strlen(c->values[i]), b = strlen(value);
                v = malloc(a + b + 2);
                if (v) memcpy(v, c->values[i], a), v[a] = '\n', memcpy(v + a + 1, value, b + 1);
            } else
                v = strdup(value);
            if (!v) return util_fail(UTIL_ENOMEM, "out of memory");
            free(c->values[i]);
            c->values[i] = v;
            c->from_flag[i] = (unsigned char)flag;
            return UTIL_OK;
        }
    if (c->n == CFG_MAX_VALUES) return util_fail(UTIL_EINVAL, "too many settings");
    c->keys[c->n] = strdup(key);
    c->values[c->n] = strdup(value);
    c->from_flag[c->n] = (unsigned char)flag;
    if (!c->keys[c->n] || !c->values[c->n]) return util_fail(UTIL_ENOMEM, "out of memory");
    c->n++;
    return UTIL_OK;
}

int cfg_set(cfg *c, const char *key, const char *value) { return set_value(c, key, value, key, 0); }

/* libinih (Debian's build) reads lines into a fixed 200-byte buffer: a longer
 * line would be split into bogus lines. Before inih parses a file, each long
 * `key = value` line gets its value replaced by a short token, restored in the
 * handler; long comments become empty comments. Line numbers are unchanged.
 * Leading blanks are removed so that an indented key is a key, not an inih
 * continuation of the previous value. */
enum { CFG_MAX_BYTES = 1 << 20, CFG_SHORT_LINE = 150, CFG_MAX_LONG = 256 };
#define LONG_TOKEN "@pangu-long-value-"

typedef struct {
    cfg *c;
    char message[512];
    char *long_values[CFG_MAX_LONG];
    int nlong;
    char *seen[CFG_MAX_VALUES];
    int nseen;
} parse_state;

static int handler(void *user, const char *section, const char *name, const char *value) {
    parse_state *ps = user;
    if (ps->message[0]) return 0;
    size_t tl = strlen(LONG_TOKEN);
    if (strncmp(value, LONG_TOKEN, tl) == 0) {
        int k = atoi(value + tl);
        if (k >= 0 && k < ps->nlong) value = ps->long_values[k];
    }
    name = canonical_key(ps->c, name);
    const cfg_key *k = find_key(ps->c, name);
    if (!k) {
        snprintf(ps->message, sizeof ps->message, "unknown key '%s' in section [%s]", name, section);
        return 0;
    }
    if (strcmp(k->section, section) != 0) {
        snprintf(ps->message, sizeof ps->message, "key '%s' belongs in section [%s], not [%s]", name, k->section, section);
        return 0;
    }
    for (int i = 0; i < ps->nseen; i++)
        if (strcmp(ps->seen[i], name) == 0) {
            snprintf(ps->message, sizeof ps->message, "key '%s' is set twice in this file (set each key once)", name);
            return 0;
        }
    if (ps->nseen < CFG_MAX_VALUES && !(ps->seen[ps->nseen++] = strdup(name))) {
        snprintf(ps->message, sizeof ps->message, "out of memory");
        return 0;
    }
    if (cfg_set(ps->c, name, value)) {
        snprintf(ps->message, sizeof ps->message, "%s", util_last_message());
        return 0;
    }
    return 1;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* Append line (n bytes, no newline) to out as inih should see it. */
static int prepare_line(parse_state *ps, char *out, size_t *used, const char *line, size_t n) {
    while (n && is_blank(*line)) line++, n--;
    char buf[CFG_SHORT_LINE + 64];
    const char *emit = line;
    size_t len = n;
    if (n >= CFG_SHORT_LINE) {
        const char *eq = memchr(line, '=', n), *colon = memchr(line, ':', n);
        if (colon && (!eq || colon < eq)) eq = colon;
        if (*line == ';' || *line == '#') { /* a long comment */
            emit = ";", len = 1;
        } else if (*line != '[' && eq && eq - line < CFG_SHORT_LINE / 2) {
            const char *v = eq + 1, *end = line + n;
            while (v < end && is_blank(*v)) v++;
            for (const char *q = v; q < end; q++) /* an inline comment: ';' after a blank */
                if (*q == ';' && q > v && is_blank(q[-1])) {
                    end = q;
                    break;
                }
            while (end > v && is_blank(end[-1])) end--;
            if (ps->nlong == CFG_MAX_LONG) return util_fail(UTIL_EINVAL, "more than %d long lines", CFG_MAX_LONG);
            if (!(ps->long_values[ps->nlong] = strndup(v, (size_t)(end - v)))) return util_fail(UTIL_ENOMEM, "out of memory");
            int w = snprintf(buf, sizeof buf, "%.*s= %s%d", (int)(eq - line), line, LONG_TOKEN, ps->nlong++);
            emit = buf, len = (size_t)w;
        } else
            len = CFG_SHORT_LINE; /* no key = value form: inih reports it at this line */
    }
    memcpy(out + *used, emit, len);
    *used += len;
    out[(*used)++] = '\n';
    return UTIL_OK;
}

int cfg_load(cfg *c, const char *path) {
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    ps.c = c;
    snprintf(c->path, sizeof c->path, "%s", path);
    struct stat st;
    if (stat(path, &st) != 0) return util_fail(UTIL_EIO, "%s: cannot read the configuration file: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return util_fail(UTIL_EINVAL, "%s: a directory, not a configuration file", path);
    if (!S_ISREG(st.st_mode)) return util_fail(UTIL_EINVAL, "%s: not a regular file (a configuration file is)", path);
    if (st.st_size > CFG_MAX_BYTES)
        return util_fail(UTIL_EINVAL, "%s: %lld bytes, more than a configuration file has (at most %d)", path,
                         (long long)st.st_size, CFG_MAX_BYTES);
    int status = UTIL_OK;
    FILE *f = fopen(path, "rb");
    char *text = malloc((size_t)st.st_size + 1), *prepared = malloc(2 * (size_t)st.st_size + 64);
    if (!f) status = util_fail(UTIL_EIO, "%s: cannot read the configuration file: %s", path, strerror(errno));
    else if (!text || !prepared) status = util_fail(UTIL_ENOMEM, "out of memory");
    size_t n = 0, used = 0;
    if (!status) {
        n = fread(text, 1, (size_t)st.st_size, f);
        if (ferror(f)) status = util_fail(UTIL_EIO, "%s: cannot read the configuration file", path);
    }
    for (size_t a = 0; !status && a < n;) {
        const char *nl = memchr(text + a, '\n', n - a);
        size_t b = nl ? (size_t)(nl - text) : n;
        if (memchr(text + a, 0, b - a)) status = util_fail(UTIL_EINVAL, "%s: not a text file (a zero byte)", path);
        else status = prepare_line(&ps, prepared, &used, text + a, b - a);
        a = b + 1;
    }
    if (!status) {
        prepared[used] = 0;
        int rc = ini_parse_string(prepared, handler, &ps);
        if (rc == -2) status = util_fail(UTIL_ENOMEM, "out of memory");
        else if (rc != 0)
            status = util_fail(UTIL_EINVAL, "%s:%d: %s", path, rc,
                               ps.message[0] ? ps.message : "syntax error (expected [section] or key = value)");
    }
    if (f) fclose(f);
    free(text);
    free(prepared);
    for (int i = 0; i < ps.nlong; i++) free(ps.long_values[i]);
    for (int i = 0; i < ps.nseen; i++) free(ps.seen[i]);
    return status;
}

int cfg_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int cfg_parse_args(cfg *c, int argc, char **argv) {
    int status, npos = 0;
    const char *config = NULL;
    for (int i = 1; i < argc; i++) { /* --config FILE or --config=FILE */
        const char *path = !strncmp(argv[i], "--config=", 9) ? argv[i] + 9 : !strcmp(argv[i], "--config") && i + 1 < argc ? argv[++i] : NULL;
        if (!path) continue;
        if (config) return util_fail(UTIL_EINVAL, "--config given twice ('%s' and '%s'): give one file", config, path);
        if ((status = cfg_load(c, config = path))) return status;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (c->positional && !npos++) {
                if ((status = set_value(c, c->positional, a, a, 1))) return status;
                continue;
            }
            return util_fail(UTIL_EINVAL, "unexpected argument '%s' (options are --name value)", a);
        }
        /* --key value or --key=value; dashes for underscores */
        char key[128];
        const char *eq = strchr(a, '='), *value = NULL;
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - a - 2) : (int)strlen(a + 2), a + 2);
        for (char *p = key; *p; p++)
            if (*p == '-') *p = '_';
        const char *canon = canonical_key(c, key);
        const cfg_key *k = find_key(c, canon);
        if (strcmp(key, "config") != 0 && !k) return util_fail(UTIL_EINVAL, "unknown option '%.*s'", eq ? (int)(eq - a) : (int)strlen(a), a);
        if (eq) value = eq + 1;
        else if (k && k->type == CFG_SWITCH) value = "yes";
        else if (i + 1 < argc) value = argv[++i];
        else return util_fail(UTIL_EINVAL, "option %s needs a value", a);
        if (strcmp(key, "config") == 0) continue; /* loaded first */
        char shown[160];
        snprintf(shown, sizeof shown, "--%s", k->key);
        for (char *p = shown; *p; p++)
            if (*p == '_') *p = '-';
        if ((status = set_value(c, canon, value, shown, 1))) return status;
    }
    return UTIL_OK;
}

const char *cfg_get(const cfg *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) return c->values[i];
    const cfg_key *k = find_key(c, key);
    return k ? k->def : NULL;
}

long long cfg_get_int(const cfg *c, const char *key) {
    long long v = 0;
    const char *s = cfg_get(c, key);
    return s && !util_parse_long(key, s, LLONG_MIN, LLONG_MAX, &v) ? v : 0;
}

double cfg_get_real(const cfg *c, const char *key) {
    double v = 0;
    const char *s = cfg_get(c, key);
    return s && !util_parse_double(key, s, -HUGE_VAL, HUGE_VAL, &v) ? v : 0;
}

int cfg_get_yesno(const cfg *c, const char *key) {
    int v = 0;
    const char *s = cfg_get(c, key);
    return s && !util_parse_yesno(key, s, &v) ? v : 0;
}

int cfg_get_multi(const cfg *c, const char *key, const char **out, int cap) {
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->keys[i], key) != 0) continue;
        int n = 0;
        for (char *p = c->values[i]; n < cap;) { /* occurrences are kept one per line */
            out[n++] = p;
            char *nl = strchr(p, '\n');
            if (!nl) break;
            *nl = 0, p = nl + 1;
        }
        return n;
    }
    const cfg_key *k = find_key(c, key);
    if (k && k->def && cap > 0) return out[0] = k->def, 1;
    return 0;
}

void cfg_print_usage(const cfg *c, const char *command, const char *synopsis, const char *summary, int files) {
    printf("Usage: pangu %s %s\n\n%s\n\nOptions:\n", command, synopsis, summary);
    for (int i = 0; i < c->nschema; i++) {
        const cfg_key *k = &c->schema[i];
        char flag[160], what[128] = "";
        snprintf(flag, sizeof flag, "--%s", k->key);
        for (char *p = flag; *p; p++)
            if (*p == '_') *p = '-';
        if (flag[strlen(flag) - 1] == '*') snprintf(flag + strlen(flag) - 1, sizeof flag - strlen(flag) + 1, "NAME");
        switch (k->type) {
        case CFG_INT: snprintf(what, sizeof what, " N   (a whole number, %.0f to %.0f)", k->min, k->max); break;
        case CFG_REAL: snprintf(what, sizeof what, " X   (a number, %g to %g)", k->min, k->max); break;
        case CFG_YESNO: snprintf(what, sizeof what, " yes|no"); break;
        case CFG_SWITCH: break;
        case CFG_MULTI: snprintf(what, sizeof what, " VALUE   (repeatable)"); break;
        default: snprintf(what, sizeof what, " VALUE");
        }
        printf("  %s%s\n      %s", flag, what, k->help);
        if (k->def) printf(" (default: %s)", k->def);
        if (k->alias && strcmp(k->alias, "out") != 0) printf(" (also --%s, an older spelling)", k->alias);
        if (strcmp(k->key, "output") == 0) printf(" (also --out)");
        if (files) printf(" [file section %s]", k->section);
        printf("\n");
    }
    printf("  --config FILE\n      read the options from an INI file first (sections as above); the command line "
           "overrides it\n  --no-plausibility-check\n      use inputs whose units or grid look wrong "
           "(an expert override)\n  --threads N\n      OpenMP threads (default: the cores this process may use); idle threads "
           "sleep instead of spinning (pangu sets OMP_WAIT_POLICY=passive unless it is set), so other processes "
           "and the forecast's writer thread keep their share of the cores\n"
           "  --no-tune\n      the kernels' blocking from the CPU's cache sizes only, not pangu tune's cache "
           "(reproducible timing)\n"
           "  -h, --help\n      this help\n");
}

void cfg_print_help(const cfg *c, const char *command) {
    cfg_print_usage(c, command, "[--config FILE] [--KEY VALUE ...]", "Every key of a configuration file is also a flag.", 1);
}
