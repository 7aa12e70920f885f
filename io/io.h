/* io: NetCDF state files. Reads the model state (upper (5, L, H, W) and
 * surface (4, H, W), physical units, model level order, latitude north to
 * south) from one or more files; writes CF-compliant state files. */
#ifndef PANGU_IO_H
#define PANGU_IO_H

#include <stddef.h>

#define IO_MAX_LEVELS 64
#define IO_NUPPER 5
#define IO_NSURFACE 4

extern const char *const io_upper_names[IO_NUPPER];   /* z q t u v */
extern const char *const io_surface_names[IO_NSURFACE]; /* msl u10 v10 t2m */

typedef struct {
    int H, W, nlev;
    float levels[IO_MAX_LEVELS]; /* hPa */
    double *lat, *lon;           /* (H), (W): north to south, as in the file's longitudes */
    double time;                 /* valid time in time_units */
    char time_units[128];
    char calendar[64];
    float *upper;                /* (5, L, H, W) */
    float *surface;              /* (4, H, W) */
} io_state;

/* Read the state at time index `time_index` of the given files: each
 * variable is taken from the first file that has it. The grid must be
 * H x W and the files must hold every one of `levels` (hPa, any order,
 * extra levels ignored); the state comes back in the order of `levels`.
 * Packed variables (scale_factor, add_offset) are unpacked and fill or
 * missing values become NaN. */
int io_state_read(io_state *s, const char *const *paths, int npaths, long time_index,
                  int H, int W, const float *levels, int nlev);
/* Allocate an empty state with the coordinates of `like` (may be NULL). */
int io_state_alloc(io_state *s, int H, int W, const float *levels, int nlev, const io_state *like);
void io_state_free(io_state *s);
/* First variable and index holding NaN or infinity; 0 when all finite. */
int io_state_check_finite(const io_state *s, const char *path);
/* Write a CF-1.8 state file (temporary file, then rename). `source` goes in
 * the global attribute of that name. */
int io_state_write(const char *path, const io_state *s, const char *source);
/* Convert hours to the state's time units ("hours|seconds|minutes|days since"). */
int io_time_add_hours(io_state *s, double hours);

#endif
