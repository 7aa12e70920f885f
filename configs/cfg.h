/* cfg: INI configuration files (parsed by Debian's libinih) validated
 * against a schema, with every key also settable as a command-line flag
 * (--key value, dashes for underscores). Unknown keys are errors that name
 * the line. */
#ifndef PANGU_CFG_H
#define PANGU_CFG_H

/* What a key's value must be; checked when it is set (file or flag), so a
 * bad value is refused with the key's name before anything runs. */
enum { CFG_TEXT = 0, CFG_INT, CFG_REAL, CFG_YESNO };

typedef struct {
    const char *section; /* where the key belongs in a file */
    const char *key;     /* a trailing '*' matches any suffix: "model_*" */
    const char *def;     /* default value, or NULL */
    const char *help;
    int type;            /* CFG_TEXT (the default), CFG_INT, CFG_REAL, CFG_YESNO */
    double min, max;     /* CFG_INT, CFG_REAL: the accepted range, inclusive */
} cfg_key;

#define CFG_MAX_VALUES 64

typedef struct {
    const cfg_key *schema;
    int nschema;
    int n;
    char *keys[CFG_MAX_VALUES], *values[CFG_MAX_VALUES];
    char path[1024];
} cfg;

void cfg_init(cfg *c, const cfg_key *schema, int nschema);
int cfg_load(cfg *c, const char *path);
/* Apply argv flags (--key value, --config FILE loaded first); returns status. */
int cfg_parse_args(cfg *c, int argc, char **argv);
int cfg_set(cfg *c, const char *key, const char *value);
const char *cfg_get(const cfg *c, const char *key); /* value or the default, NULL if neither */
/* Typed values of CFG_INT, CFG_REAL and CFG_YESNO keys (checked when set, so
 * these cannot fail for a key that has a value or a default). */
long long cfg_get_int(const cfg *c, const char *key);
double cfg_get_real(const cfg *c, const char *key);
int cfg_get_yesno(const cfg *c, const char *key);
void cfg_free(cfg *c);
void cfg_print_help(const cfg *c, const char *command);

#endif
