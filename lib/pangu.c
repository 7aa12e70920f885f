/* The public C API (lib/pangu.h) over the internal modules: models, a step
 * on caller arrays, reading inputs, errors. The forecast job is
 * lib/forecast.c. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../io/io.h"
#include "../model/model.h"
#include "../util/util.h"
#include "lib.h"
#include "pangu.h"

/* The public codes are the internal ones (as ints: the enums are distinct types). */
_Static_assert((int)PANGU_OK == (int)UTIL_OK && (int)PANGU_EINVAL == (int)UTIL_EINVAL &&
                   (int)PANGU_EFORMAT == (int)UTIL_EFORMAT && (int)PANGU_EIO == (int)UTIL_EIO &&
                   (int)PANGU_ENOMEM == (int)UTIL_ENOMEM && (int)PANGU_ENAN == (int)UTIL_ENAN,
               "pangu.h status codes");
_Static_assert((int)PANGU_FP32 == (int)MODEL_FP32 && (int)PANGU_BF16 == (int)MODEL_BF16, "pangu.h precisions");
_Static_assert(PANGU_NUPPER == MODEL_NUPPER && PANGU_NSURFACE == MODEL_NSURFACE &&
                   PANGU_MAX_LEVELS == MODEL_MAX_LEVELS && MODEL_MAX_LEVELS == IO_MAX_LEVELS,
               "pangu.h shapes");

struct pangu_model {
    model m;
};

/* One work arena for pangu_step, shared by every open model and kept while
 * any is open: a fresh 1 GB arena per step costs the kernel's page faults
 * and zeroing, 2% to 8% of a step at 0.25 degrees by machine. A step taken while
 * another thread holds it gets an arena of its own for that call. */
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;
static model_workspace step_ws;
static int open_models;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_once(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
void lib_init(void) { pthread_once(&once, init_once); }

const char *pangu_version(void) { return PANGU_VERSION; }
const char *pangu_strerror(int status) { return util_strerror(status); }
const char *pangu_last_error(void) { return util_last_message(); }

int pangu_set_threads(int n) {
    if (n < 0 || n > 4096) return util_fail(UTIL_EINVAL, "pangu_set_threads: %d threads, expected 0 (automatic) to 4096", n);
    if (n == 0) {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : omp_get_num_procs();
    }
    omp_set_num_threads(n > 0 ? n : 1);
    return UTIL_OK;
}
int pangu_threads(void) { return omp_get_max_threads(); }
void pangu_set_plausibility_check(int on) { io_plausibility(on != 0); }

int pangu_model_open(pangu_model **out, const char *path, int lead_hours) {
    lib_init();
    if (!out) return util_fail(UTIL_EINVAL, "pangu_model_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return util_fail(UTIL_EINVAL, "pangu_model_open: no model path");
    if (lead_hours < 0) return util_fail(UTIL_EINVAL, "%s: lead %d h, expected 0 (the model's own) or more", path, lead_hours);
    pangu_model *p = calloc(1, sizeof *p);
    if (!p) return util_fail(UTIL_ENOMEM, "out of memory");
    int status = model_open(&p->m, path, lead_hours);
    if (status) {
        free(p);
        return status;
    }
    pthread_mutex_lock(&step_lock);
    open_models++;
    pthread_mutex_unlock(&step_lock);
    if (lead_hours > 0 && p->m.cfg.lead_hours != lead_hours)
        status = util_fail(UTIL_EINVAL, "%s is a %d h model, opened as a %d h model", path, p->m.cfg.lead_hours, lead_hours);
    /* FP32 as `pangu step` runs it: the weights packed for the AVX-512
     * kernels where the CPU has them (else OpenBLAS), so the results agree
     * to the bit */
    else status = model_set_precision(&p->m, MODEL_FP32);
    if (status) {
        pangu_model_close(p);
        return status;
    }
    *out = p;
    return UTIL_OK;
}

void pangu_model_close(pangu_model *m) {
    if (!m) return;
    model_free(&m->m);
    free(m);
    pthread_mutex_lock(&step_lock); /* waits for a step in progress */
    if (--open_models == 0) model_workspace_free(&step_ws);
    pthread_mutex_unlock(&step_lock);
}

/* A NULL model handle: EINVAL naming the function. */
static int no_model(const char *function) {
    return util_fail(UTIL_EINVAL, "%s: the model is NULL (not opened, or pangu_model_open failed)", function);
}

int pangu_model_shape(const pangu_model *m, int *H, int *W, int *nlev) {
    if (H) *H = m ? m->m.cfg.H : 0;
    if (W) *W = m ? m->m.cfg.W : 0;
    if (nlev) *nlev = m ? m->m.cfg.nlev : 0;
    return m ? UTIL_OK : no_model(__func__);
}

int pangu_model_levels(const pangu_model *m, float *levels, int cap) {
    if (!m) return -no_model(__func__);
    if (cap < 0 || (!levels && cap > 0))
        return -util_fail(UTIL_EINVAL, "pangu_model_levels: levels %s with cap %d: expected an array of cap floats, "
                                       "or NULL with cap 0 to ask for the number of levels",
                          levels ? "given" : "NULL", cap);
    for (int k = 0; k < m->m.cfg.nlev && k < cap; k++) levels[k] = m->m.cfg.levels[k];
    return m->m.cfg.nlev;
}

int pangu_model_lead_hours(const pangu_model *m) { return m ? m->m.cfg.lead_hours : -no_model(__func__); }
int pangu_model_format(const pangu_model *m) {
    return m ? model_config_format_version(&m->m.cfg) : -no_model(__func__);
}
size_t pangu_model_upper_size(const pangu_model *m) {
    if (!m) {
        no_model(__func__);
        return 0;
    }
    return (size_t)MODEL_NUPPER * m->m.cfg.nlev * m->m.cfg.H * m->m.cfg.W;
}
size_t pangu_model_surface_size(const pangu_model *m) {
    if (!m) {
        no_model(__func__);
        return 0;
    }
    return (size_t)MODEL_NSURFACE * m->m.cfg.H * m->m.cfg.W;
}
const char *pangu_model_licence(const pangu_model *m) {
    if (!m) {
        no_model(__func__);
        return NULL;
    }
    return model_licence(&m->m.cfg);
}

const char *pangu_variable_name(int i) {
    if (i < 0 || i >= MODEL_NUPPER + MODEL_NSURFACE) return NULL;
    return i < MODEL_NUPPER ? model_upper_names[i] : model_surface_names[i - MODEL_NUPPER];
}

int pangu_model_set_precision(pangu_model *m, int precision) {
    if (!m) return no_model(__func__);
    if (precision != MODEL_FP32 && precision != MODEL_BF16)
        return util_fail(UTIL_EINVAL, "precision %d: expected PANGU_FP32 or PANGU_BF16", precision);
    int status = model_precision_check(precision);
    return status ? status : model_set_precision(&m->m, precision);
}

/* One of the caller's arrays: its name in the header, where it is, the
 * floats it holds (as the caller says), and whether it is an upper-air
 * array (else a surface one). */
typedef struct {
    const char *name;
    const float *data;
    size_t len;
    int upper;
} array_arg;

/* Each array present and of the length the model's grid needs: a wrong
 * length means arrays of another grid, which the model would read or write
 * past their end. */
static int check_arrays(const char *function, const pangu_model *m, const array_arg *a, int n) {
    const model_config *c = &m->m.cfg;
    for (int i = 0; i < n; i++) {
        size_t need = a[i].upper ? pangu_model_upper_size(m) : pangu_model_surface_size(m);
        if (!a[i].data) return util_fail(UTIL_EINVAL, "%s: %s is NULL", function, a[i].name);
        if (a[i].len != need)
            return util_fail(UTIL_EINVAL, "%s: %s holds %zu floats, the model's %d x %d grid with %d levels needs %zu (%s)",
                             function, a[i].name, a[i].len, c->H, c->W, c->nlev, need,
                             a[i].upper ? "pangu_model_upper_size" : "pangu_model_surface_size");
    }
    return UTIL_OK;
}

/* A state over caller arrays, for the checks of io/: coordinates of the
 * regular global grid (latitudes 90 to -90, longitudes from 0), which the
 * messages name; lat and lon (H + W doubles) freed by the caller. */
static int view(io_state *s, const model_config *c, float *upper, float *surface) {
    memset(s, 0, sizeof *s);
    s->H = c->H, s->W = c->W, s->nlev = c->nlev, s->time = NAN;
    memcpy(s->levels, c->levels, sizeof(float) * c->nlev);
    s->upper = upper, s->surface = surface;
    s->lat = malloc(sizeof(double) * (size_t)(c->H + c->W));
    if (!s->lat) return util_fail(UTIL_ENOMEM, "out of memory");
    s->lon = s->lat + c->H;
    for (int i = 0; i < c->H; i++) s->lat[i] = c->H > 1 ? 90 - 180.0 * i / (c->H - 1) : 0;
    for (int j = 0; j < c->W; j++) s->lon[j] = 360.0 * j / c->W;
    return UTIL_OK;
}

/* Each input path present: a NULL or empty entry would reach open(). */
static int check_paths(const char *function, const char *const *paths, int npaths) {
    if (!paths || npaths < 1)
        return util_fail(UTIL_EINVAL, "%s: no input files (paths %s, npaths %d)", function, paths ? "given" : "NULL", npaths);
    for (int i = 0; i < npaths; i++)
        if (!paths[i] || !*paths[i])
            return util_fail(UTIL_EINVAL, "%s: paths[%d] of %d is %s: expected a file name", function, i, npaths,
                             paths[i] ? "empty" : "NULL");
    return UTIL_OK;
}

static int read_input(const pangu_model *m, const char *const *paths, int npaths, const char *time, float *upper,
                      float *surface, double *valid_time) {
    const model_config *c = &m->m.cfg;
    double t = NAN;
    io_series *series = NULL;
    io_state st = {0};
    int status;
    if (time && (status = util_time_parse(time, &t))) return status;
    if ((status = io_series_open(&series, paths, npaths))) goto done;
    if (isnan(t) && io_series_ntimes(series) > 1) {
        status = util_fail(UTIL_EINVAL, "%s holds %zu times: give the valid time", paths[0], io_series_ntimes(series));
        goto done;
    }
    if ((status = io_series_read(series, t, c->H, c->W, c->levels, c->nlev, &st)) ||
        (status = io_state_check_finite(&st, paths[0])) ||
        (status = io_state_check_plausible(&st, m->m.upper_mean, m->m.upper_std, m->m.surface_mean, m->m.surface_std)))
        goto done;
    memcpy(upper, st.upper, sizeof(float) * pangu_model_upper_size(m));
    memcpy(surface, st.surface, sizeof(float) * pangu_model_surface_size(m));
    if (valid_time) *valid_time = st.time;
done:
    io_state_free(&st);
    io_series_close(series);
    return status;
}

/* The paths and the two arrays checked, then the read. */
static int read_checked(const char *function, const pangu_model *m, const char *const *paths, int npaths,
                        const char *time, const array_arg arrays[2], double *valid_time) {
    lib_init();
    if (!m) return no_model(function);
    int status = check_paths(function, paths, npaths);
    if (!status) status = check_arrays(function, m, arrays, 2);
    return status ? status
                  : read_input(m, paths, npaths, time, (float *)arrays[0].data, (float *)arrays[1].data, valid_time);
}

int pangu_read_input(const pangu_model *m, const char *const *paths, int npaths, const char *time, float *upper,
                     float *surface, double *valid_time) {
    const array_arg arrays[] = {{"upper", upper, pangu_model_upper_size(m), 1},
                                {"surface", surface, pangu_model_surface_size(m), 0}};
    return read_checked(__func__, m, paths, npaths, time, arrays, valid_time);
}

int pangu_read_input_sized(const pangu_model *m, const char *const *paths, int npaths, const char *time,
                           float *upper, size_t upper_len, float *surface, size_t surface_len, double *valid_time) {
    const array_arg arrays[] = {{"upper", upper, upper_len, 1}, {"surface", surface, surface_len, 0}};
    return read_checked(__func__, m, paths, npaths, time, arrays, valid_time);
}

/* The arrays overlap (the step reads its inputs after writing outputs). */
static int overlap(const float *a, size_t na, const float *b, size_t nb) { return a < b + nb && b < a + na; }

/* The step on arrays of the model's sizes: no overlap, inputs finite and
 * plausible (the checks of `pangu step` on what it read), then the model in
 * the shared arena, or a fresh one while another thread holds it. */
static int step(const char *function, const pangu_model *m, float *upper_out, float *surface_out, const float *upper_in,
                const float *surface_in) {
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    if (overlap(upper_out, nu, upper_in, nu) || overlap(upper_out, nu, surface_in, ns) ||
        overlap(surface_out, ns, upper_in, nu) || overlap(surface_out, ns, surface_in, ns) ||
        overlap(upper_out, nu, surface_out, ns))
        return util_fail(UTIL_EINVAL, "%s: the output arrays overlap the inputs or each other", function);
    io_state in;
    int status = view(&in, &m->m.cfg, (float *)upper_in, (float *)surface_in);
    if (!status && !(status = io_state_check_finite(&in, "the input arrays")))
        status = io_state_check_plausible(&in, m->m.upper_mean, m->m.upper_std, m->m.surface_mean, m->m.surface_std);
    free(in.lat);
    if (status) return status;
    if (pthread_mutex_trylock(&step_lock)) return model_step(&m->m, upper_out, surface_out, upper_in, surface_in);
    status = model_step_in(&m->m, &step_ws, upper_out, surface_out, upper_in, surface_in);
    pthread_mutex_unlock(&step_lock);
    return status;
}

/* The model and the four arrays checked, then the step. */
static int step_checked(const char *function, const pangu_model *m, const array_arg arrays[4]) {
    if (!m) return no_model(function);
    int status = check_arrays(function, m, arrays, 4);
    return status ? status
                  : step(function, m, (float *)arrays[0].data, (float *)arrays[1].data, arrays[2].data, arrays[3].data);
}

/* Unchecked lengths: the arrays are taken to be of the model's sizes. */
int pangu_step(const pangu_model *m, float *upper_out, float *surface_out, const float *upper_in,
               const float *surface_in) {
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    const array_arg arrays[] = {{"upper_out", upper_out, nu, 1},
                                {"surface_out", surface_out, ns, 0},
                                {"upper_in", upper_in, nu, 1},
                                {"surface_in", surface_in, ns, 0}};
    return step_checked(__func__, m, arrays);
}

int pangu_step_sized(const pangu_model *m, float *upper_out, size_t upper_out_len, float *surface_out,
                     size_t surface_out_len, const float *upper_in, size_t upper_in_len, const float *surface_in,
                     size_t surface_in_len) {
    const array_arg arrays[] = {{"upper_out", upper_out, upper_out_len, 1},
                                {"surface_out", surface_out, surface_out_len, 0},
                                {"upper_in", upper_in, upper_in_len, 1},
                                {"surface_in", surface_in, surface_in_len, 0}};
    return step_checked(__func__, m, arrays);
}

int pangu_version_number(void) { return PANGU_VERSION_NUMBER; }
