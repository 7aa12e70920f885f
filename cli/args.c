/* cli args: every command's options through one schema (configs/cfg.h):
 * --help documents them, numbers are checked strictly, repeated options
 * accumulate, older spellings are aliases. */
#define _DEFAULT_SOURCE
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "cli.h"

int cli_args(cfg *c, const cfg_key *schema, int nschema, int argc, char **argv, const char *command,
             const char *synopsis, const char *summary) {
    cfg_init(c, schema, nschema);
    if (cfg_wants_help(argc, argv)) {
        cfg_print_usage(c, command, synopsis, summary, 0);
        return -1;
    }
    int status = cfg_parse_args(c, argc, argv);
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
