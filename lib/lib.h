/* lib: internals shared by the files of the public API (lib/pangu.h); not
 * installed. */
#ifndef PANGU_LIB_H
#define PANGU_LIB_H

#include "../configs/cfg.h"

/* Once per process, on entry to the API: HDF5's automatic error printing
 * off (errors come back as statuses with one message). */
void lib_init(void);

/* The training job behind `pangu train` (lib/train.c): c holds the keys of
 * the command's schema (cli/cmd_train.c), already parsed and range-checked.
 * Rank 0 writes the checkpoint, log and model; SIGINT and SIGTERM stop it
 * at the next step with a checkpoint. A util status. */
int lib_train(const cfg *c);

#endif
