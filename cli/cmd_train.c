/* pangu train: the options of the training job (their schema and parsing);
 * the job itself is lib_train (lib/train.c). */
#include <string.h>

#include "../configs/cfg.h"
#include "../lib/lib.h"
#include "../util/util.h"
#include "cli.h"

static const cfg_key schema[] = {
    {"model", "init", NULL, "model file to start from (architecture, statistics, constants): pangu init --stats --constants"},
    {"data", "input", NULL, "training data files (comma or space separated, shell globs allowed; the flag repeatable)", CFG_MULTI},
    {"data", "train_start", NULL, "first initial time of the training period"},
    {"data", "train_end", NULL, "last initial time of the training period"},
    {"data", "valid_start", NULL, "first initial time of the validation period (optional)"},
    {"data", "valid_end", NULL, "last initial time of the validation period"},
    {"data", "sample_every", "1", "hours between initial times used as samples", CFG_REAL, 1e-3, 1e6},
    {"optim", "steps", "1000", "optimiser steps", CFG_INT, 1, 1e12},
    {"optim", "batch", "1", "samples per step (per MPI rank)", CFG_INT, 1, 64},
    {"optim", "lr", "5e-4", "peak learning rate (AdamW)", CFG_REAL, 1e-12, 1e30},
    {"optim", "min_lr", "0", "learning rate at the end of the cosine decay (at most lr)", CFG_REAL, 0, 1e30},
    {"optim", "warmup", "0", "warm-up steps (linear from 0); 0 means 5% of the steps", CFG_INT, 0, 1e12},
    {"optim", "weight_decay", "3e-6", "decoupled weight decay", CFG_REAL, 0, 1},
    {"optim", "drop_path", "0.2", "drop-path rate of the last block (rising linearly from 0 over the blocks)", CFG_REAL, 0, 0.99},
    {"optim", "clip", "0", "clip the global gradient norm to this value (0: off)", CFG_REAL, 0, 1e12},
    {"optim", "surface_weight", "0.25", "weight of the surface term of the loss", CFG_REAL, 0, 1e6},
    {"run", "output", NULL, "trained model file"},
    {"run", "checkpoint", NULL, "checkpoint file (model + optimiser + step), written atomically"},
    {"run", "checkpoint_every", "100", "steps between checkpoints (and one at exit)", CFG_INT, 1, 1e12},
    {"run", "validate_every", "100", "steps between validation losses", CFG_INT, 1, 1e12},
    {"run", "valid_samples", "8", "validation pairs used (evenly spread over the period)", CFG_INT, 1, 1000000},
    {"run", "log", NULL, "CSV log of step, loss, validation loss, learning rate, samples/s"},
    {"run", "seed", "0", "seed of the shuffling and drop path", CFG_INT, 0, 9007199254740992.0},
    {"run", "resume", "no", "yes: continue from the checkpoint exactly where it stopped", CFG_YESNO},
    {"run", "run_steps", "0", "stop (with a checkpoint) after this many steps in this invocation, for batch-job time limits; 0: no limit", CFG_INT, 0, 1e12},
};

int cli_train(int argc, char **argv) {
    cfg c;
    cfg_init(&c, schema, (int)(sizeof schema / sizeof schema[0]));
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return cfg_print_help(&c, "train"), 0;
    int status = cli_parse(&c, "train", argc, argv);
    if (!status) status = lib_train(&c);
    cfg_free(&c);
    return status ? cli_error("train", status) : 0;
}
