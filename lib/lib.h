/* lib: internals shared by the files of the public API (lib/pangu.h); not
 * installed. */
#ifndef PANGU_LIB_H
#define PANGU_LIB_H

/* Once per process, on entry to the API: HDF5's automatic error printing
 * off (errors come back as statuses with one message). */
void lib_init(void);

#endif
