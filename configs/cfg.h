/* cfg: INI configuration files (parsed by Debian's libinih) validated
 * against a schema, with every key also settable as a command-line flag
 * (--key value, dashes for underscores). Unknown keys are errors that name
 * the line. */
#ifndef PANGU_CFG_H
#define PANGU_CFG_H

/* What a key's value must be; checked when it is set (file or flag), so a
 * bad value is refused with the key's name before anything runs. */
enum {
    CFG_TEXT = 0, /* any text */
    CFG_INT,      /* a whole number in [min, max] */
    CFG_REAL,     /* a finite number in [min, max] */
    CFG_YESNO,    /* yes or no */
    CFG_SWITCH,   /* on the command line a flag without a value (--profile); in a file yes or no */
    CFG_MULTI,    /* repeatable: every occurrence on the command line is kept (--input A --input B) */
};

typedef struct {
    const char *section; /* where the key belongs in a file */
    const char *key;     /* a trailing '*' matches any suffix: "model_*" */
    const char *def;     /* default value, or NULL */
    const char *help;
    int type;            /* CFG_TEXT (the default), CFG_INT, CFG_REAL, CFG_YESNO, CFG_SWITCH, CFG_MULTI */
    double min, max;     /* CFG_INT, CFG_REAL: the accepted range, inclusive */
    const char *alias;   /* an older spelling, accepted as well (e.g. "out" for "output") */
} cfg_key;

#define CFG_MAX_VALUES 64

typedef struct {
    const cfg_key *schema;
    int nschema;
    int n;
    char *keys[CFG_MAX_VALUES], *values[CFG_MAX_VALUES];
    unsigned char from_flag[CFG_MAX_VALUES]; /* set on the command line (a flag replaces a file's value) */
    char path[1024];
    const char *positional; /* cfg_parse_args: the key a lone argument sets (pangu info M.h5), or NULL */
} cfg;

/* 1 when argv asks for help (-h, --help): print cfg_print_help, exit 0. */
int cfg_wants_help(int argc, char **argv);

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
/* The occurrences of a CFG_MULTI key (each as given, in order): n of them,
 * pointers into c valid until cfg_free; 0 when unset. */
int cfg_get_multi(const cfg *c, const char *key, const char **out, int cap);
void cfg_free(cfg *c);
/* Usage of `pangu COMMAND`: `synopsis` and `summary` lines, then every key with
 * its flag, default, range and help (and the file section where the command
 * reads configuration files). */
void cfg_print_help(const cfg *c, const char *command);
void cfg_print_usage(const cfg *c, const char *command, const char *synopsis, const char *summary, int files);

#endif
