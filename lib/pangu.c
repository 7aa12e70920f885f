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

void pangu_model_shape(const pangu_model *m, int *H, int *W, int *nlev) {
    if (H) *H = m->m.cfg.H;
    if (W) *W = m->m.cfg.W;
    if (nlev) *nlev = m->m.cfg.nlev;
}

int pangu_model_levels(const pangu_model *m, float *levels, int cap) {
    for (int k = 0; k < m->m.cfg.nlev && k < cap; k++) levels[k] = m->m.cfg.levels[k];
    return m->m.cfg.nlev;
}

int pangu_model_lead_hours(const pangu_model *m) { return m->m.cfg.lead_hours; }
int pangu_model_format(const pangu_model *m) { return model_config_format_version(&m->m.cfg); }
size_t pangu_model_upper_size(const pangu_model *m) {
    return (size_t)MODEL_NUPPER * m->m.cfg.nlev * m->m.cfg.H * m->m.cfg.W;
}
size_t pangu_model_surface_size(const pangu_model *m) { return (size_t)MODEL_NSURFACE * m->m.cfg.H * m->m.cfg.W; }
const char *pangu_model_licence(const pangu_model *m) { return model_licence(&m->m.cfg); }

const char *pangu_variable_name(int i) {
    if (i < 0 || i >= MODEL_NUPPER + MODEL_NSURFACE) return NULL;
    return i < MODEL_NUPPER ? model_upper_names[i] : model_surface_names[i - MODEL_NUPPER];
}

int pangu_model_set_precision(pangu_model *m, int precision) {
    if (precision != MODEL_FP32 && precision != MODEL_BF16)
        return util_fail(UTIL_EINVAL, "precision %d: expected PANGU_FP32 or PANGU_BF16", precision);
    int status = model_precision_check(precision);
    return status ? status : model_set_precision(&m->m, precision);
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

int pangu_read_input(const pangu_model *m, const char *const *paths, int npaths, const char *time, float *upper,
                     float *surface, double *valid_time) {
    lib_init();
    if (!m || !paths || npaths < 1 || !upper || !surface)
        return util_fail(UTIL_EINVAL, "pangu_read_input: needs a model, input files and the two arrays");
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

/* The arrays overlap (the step reads its inputs after writing outputs). */
static int overlap(const float *a, size_t na, const float *b, size_t nb) { return a < b + nb && b < a + na; }

int pangu_step(const pangu_model *m, float *upper_out, float *surface_out, const float *upper_in,
               const float *surface_in) {
    if (!m || !upper_out || !surface_out || !upper_in || !surface_in)
        return util_fail(UTIL_EINVAL, "pangu_step: needs a model and four arrays");
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    if (overlap(upper_out, nu, upper_in, nu) || overlap(upper_out, nu, surface_in, ns) ||
        overlap(surface_out, ns, upper_in, nu) || overlap(surface_out, ns, surface_in, ns) ||
        overlap(upper_out, nu, surface_out, ns))
        return util_fail(UTIL_EINVAL, "pangu_step: the output arrays overlap the inputs or each other");
    /* the checks of `pangu step` on what it read: finite, plausible */
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
