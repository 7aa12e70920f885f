/* cli: the `pangu` command's subcommands. Each returns the process exit
 * status: 0 on success, 2 on bad input or usage (with one line on stderr). */
#ifndef PANGU_CLI_H
#define PANGU_CLI_H

#include <glob.h>

#include "../configs/cfg.h"

#include <stddef.h>

int cli_step(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_init(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_forecast(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_grad(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_synth(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_regrid(int argc, char **argv);
int cli_fetch(int argc, char **argv);
int cli_tune(int argc, char **argv);
int cli_track(int argc, char **argv);
/* The --precision vocabulary of every command (cli/cmd_forecast.c): fp32,
 * bf16 (refused without AVX512_BF16), or auto (model_precision_auto: bf16
 * only where allow_bf16 and faster); a util status. */
int cli_precision(const char *text, int allow_bf16, int *precision);
/* "1,3,6,24" -> model lead hours; 0 on success. */
int cli_parse_models(const char *s, int *models, int *n);

/* Print "pangu CMD: message" for the last failure and return 2. */
int cli_error(const char *cmd, int status);
/* Parse "a,b,c" into n ints; returns 0 when exactly n positive values. */
int cli_parse_ints(const char *s, int *out, int n);

/* Provenance of output files. history: "2026-12-01T10:00:00Z: pangu CMD
 * ARGS..." (arguments with blanks or shell characters in single quotes;
 * argv as a subcommand receives it, argv[0] the subcommand); the source
 * attribute is util_source_attribute's. */
void cli_history(int argc, char **argv, char *out, size_t cap);

/* ---- options (cli/args.c) ----
 * Parse argv by schema: 0, or -1 after printing --help (exit 0), or 2 after
 * printing the error (exit 2). */
int cli_args(cfg *c, const cfg_key *schema, int nschema, int argc, char **argv, const char *command,
             const char *synopsis, const char *summary);
/* cfg_parse_args, then refuse an option that does nothing with the others
 * (the table in cli/args.c: --grib-bits without --format grib2, ...);
 * returns a status (message in util_last_message). cli_args calls it. */
int cli_parse(cfg *c, const char *command, int argc, char **argv);
/* For a command that parses argv itself (eval): UTIL_EINVAL naming the flag
 * and both values when a flag not in repeatable (NULL-terminated) is given twice. */
int cli_check_repeats(int argc, char **argv, const char *const *repeatable);
/* 2 (message printed) when one of the keys has no value. */
int cli_require(const cfg *c, const char *command, const char *const *keys, int n);
/* Every occurrence of a CFG_MULTI key, each split on blanks and commas and
 * expanded as shell globs (a pattern matching nothing is kept as given, so
 * that the reader names it); globfree(g) after a call. */
int cli_expand(const cfg *c, const char *key, glob_t *g);
#define CLI_ARGS(c, schema, argc, argv, command, synopsis, summary) \
    cli_args(c, schema, (int)(sizeof schema / sizeof schema[0]), argc, argv, command, synopsis, summary)

#endif
