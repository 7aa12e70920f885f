/* The forecast job (pangu_forecast, lib/pangu.h): a batch of forecasts from
 * many initial times, each lead reached through the hierarchical plan,
 * written as soon as it exists; rerunning resumes (finished files of the same
 * request are skipped). `pangu forecast` (cli/cmd_forecast.c) only parses
 * its options into a pangu_forecast_options and calls this. */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../data/data.h"
#include "../io/grib.h"
#include "../io/io.h"
#include "../model/model.h"
#include "../util/util.h"
#include "lib.h"
#include "pangu.h"

/* Split "a, b c" into words; returns count (at most max). */
static int split(char *s, char **out, int max) {
    int n = 0;
    for (char *t = strtok(s, ", \t"); t && n < max; t = strtok(NULL, ", \t")) out[n++] = t;
    return n;
}

static int parse_inits(const char *spec, double **out, int *n) {
    int status = util_time_list(spec, "init", out, n);
    if (!status && *n == 0) status = util_fail(UTIL_EINVAL, "no initial times given (init = ...)");
    return status;
}

/* Text appended to a fixed buffer; `over` once it did not fit. */
typedef struct {
    char *buf;
    size_t cap, len;
    int over;
} text_buf;

static void append(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text_buf *t, const char *fmt, ...) {
    if (t->over) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) t->over = 1, t->buf[t->len] = 0;
    else t->len += (size_t)n;
}

/* Requests of this version name the initial time and the inputs; those of
 * version 1 (pangu-c before them) did not. */
#define REQUEST_HEADER "pangu-c forecast request 3"
#define REQUEST_MAX 65536

/* The request a forecast file records (io_forecast_spec.request): what
 * decides its content. This part is the job's: the models by SHA-256 (as
 * the source attribute names them), leads, variables, levels, members and
 * perturbation, precision and file format; request_for_init adds the
 * initial time and the input files. */
static void build_request(text_buf *t, const char *source, const io_forecast_spec *sp, const int *leads, int nleads,
                          int members, const char *perturb, double scale, unsigned long long seed, int precision,
                          const char *format, const char *layout, long deflate, const char *bits) {
    append(t, "models:");
    for (const char *p = strstr(source, "; model"); p && (p = strstr(p, " h "));) {
        const char *h = p; /* "<lead> h PATH (sha256 HEX)" */
        while (h > source && h[-1] >= '0' && h[-1] <= '9') h--;
        const char *sha = strstr(p, "(sha256 ");
        if (!sha) break;
        append(t, " %.*sh %.64s", (int)(p - h), h, sha + 8);
        p = sha + 8;
    }
    append(t, "; leads:");
    for (int i = 0; i < nleads; i++) append(t, " %d", leads[i]);
    append(t, "; variables:");
    for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++)
        if (sp->write_var[v]) append(t, " %s", v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER]);
    append(t, "; levels:");
    for (int k = 0; k < sp->nlev; k++) append(t, " %g", sp->levels[k]);
    append(t, "; members: %d; perturb: %s %g seed %llu; precision: %s; format: %s %s; deflate: %ld; grib_bits: %s", members,
           members > 1 ? perturb : "none", members > 1 ? scale : 0.0, members > 1 ? seed : 0ULL,
           model_precision_name(precision), format, layout, deflate, bits);
}

/* The whole request of one initial time: the header, the time, the job's
 * part and the files its state is read from, by canonical path, size and
 * modification time (another file there, or the same one rewritten, even
 * to the same size, is another request; a copy that keeps the time, cp -p
 * or rsync -a, is the same). */
static int request_for_init(char *out, size_t cap, const char *job, double init, const io_series *series, int *nsources) {
    text_buf t = {out, cap, 0, 0};
    char when[64];
    util_time_format(init, when, sizeof when);
    append(&t, REQUEST_HEADER "; init: %s; %s; inputs:", when, job);
    const char *files[IO_NUPPER + IO_NSURFACE];
    int n = *nsources = io_series_sources(series, init, files, IO_NUPPER + IO_NSURFACE);
    for (int i = 0; i < n; i++) {
        char canon[PATH_MAX];
        struct stat st;
        const char *name = realpath(files[i], canon) ? canon : files[i];
        char mtime[64] = "unknown";
        int known = stat(files[i], &st) == 0;
        if (known) {
            util_time_format((double)st.st_mtim.tv_sec, mtime, sizeof mtime);
            snprintf(mtime + strlen(mtime), sizeof mtime - strlen(mtime), ".%09ldZ", (long)st.st_mtim.tv_nsec);
        }
        append(&t, "%s %s (%lld bytes, modified %s)", i ? "," : "", name, known ? (long long)st.st_size : -1LL, mtime);
    }
    return t.over ? util_fail(UTIL_EINVAL, "the request of %s (its input paths) is longer than %d bytes", when, REQUEST_MAX)
                  : UTIL_OK;
}

/* In two values of a list field ("PATH (N bytes, modified T), PATH ..."),
 * the first item that differs, so that a long list cut to a readable length
 * cannot hide it; *more: items follow it. Values without items are kept. */
static void first_differing_item(const char **hv, int *hn, const char **wv, int *wn, int *more) {
    int same = 0, start = 0;
    while (same < *hn && same < *wn && (*hv)[same] == (*wv)[same]) same++;
    for (int j = 0; j + 3 <= same; j++)
        if (!strncmp(*hv + j, "), ", 3)) start = j + 3;
    if (start >= *hn || start >= *wn) return;
    *more = 0;
    const char **v[2] = {hv, wv};
    int *n[2] = {hn, wn};
    for (int i = 0; i < 2; i++) {
        *v[i] += start, *n[i] -= start;
        for (int j = 0; j + 3 <= *n[i]; j++)
            if (!strncmp(*v[i] + j, "), ", 3)) {
                *n[i] = j + 1, *more = 1;
                break;
            }
    }
}

/* What differs between a file's request and this run's, for the message:
 * the first field ("key: value") whose value differs, both values cut to
 * a readable length (in a list, from the first item that differs). */
static void request_difference(const char *had, const char *want, char *out, size_t cap) {
    if (strncmp(had, REQUEST_HEADER ";", strlen(REQUEST_HEADER) + 1) != 0) {
        if (!strncmp(had, "pangu-c forecast request 1;", 27))
            snprintf(out, cap, "written by an older pangu-c, whose recorded request names neither the initial time nor "
                               "the inputs");
        else if (!strncmp(had, "pangu-c forecast request 2;", 27))
            snprintf(out, cap, "written by an older pangu-c, whose recorded request has no modification times of the "
                               "inputs");
        else snprintf(out, cap, "its request is recorded in another form: '%.60s'", had);
        return;
    }
    for (const char *w = want; *w;) {
        const char *wend = strstr(w, "; "), *colon = strchr(w, ':');
        size_t wlen = wend ? (size_t)(wend - w) : strlen(w);
        if (colon && (size_t)(colon - w) < wlen) {
            size_t klen = (size_t)(colon - w) + 1; /* "key:" */
            const char *h = had, *found = NULL;
            for (; h && *h && !found; h = strstr(h, "; ") ? strstr(h, "; ") + 2 : NULL)
                if (!strncmp(h, w, klen)) found = h;
            size_t hlen = found ? (strstr(found, "; ") ? (size_t)(strstr(found, "; ") - found) : strlen(found)) : 0;
            if (!found || hlen != wlen || strncmp(found, w, wlen)) {
                int hn = found && hlen > klen + 1 ? (int)(hlen - klen - 1) : 0, wn = wlen > klen + 1 ? (int)(wlen - klen - 1) : 0;
                const char *hv = hn ? found + klen + 1 : "", *wv = wn ? w + klen + 1 : "";
                int more = 0;
                const char *from = hv;
                first_differing_item(&hv, &hn, &wv, &wn, &more);
                const char *skipped = hv != from ? "..., " : "", *then = more ? ", ..." : "";
                snprintf(out, cap, "%.*s the file's %s%s%.*s%s%s, this run's %s%s%.*s%s%s", (int)klen, w,
                         hn ? "" : "(none)", skipped, hn > 300 ? 300 : hn, hv, hn > 300 ? "..." : "", then,
                         wn ? "" : "(none: no input holds it)", skipped, wn > 300 ? 300 : wn, wv, wn > 300 ? "..." : "",
                         then);
                return;
            }
        }
        w = wend ? wend + 2 : w + wlen;
    }
    snprintf(out, cap, "the requests differ");
}

/* Expand {init:FORMAT} (strftime-like %Y %m %d %H %M) in a path pattern. */
static int format_path(const char *pattern, double init, char *out, size_t cap) {
    int y, mo, d, h, mi, s;
    util_time_fields(init, &y, &mo, &d, &h, &mi, &s);
    size_t o = 0;
    for (const char *p = pattern; *p && o + 16 < cap; p++) {
        if (strncmp(p, "{init:", 6) == 0) {
            const char *end = strchr(p, '}');
            if (!end) return util_fail(UTIL_EINVAL, "output '%s': unclosed {init:...}", pattern);
            for (const char *q = p + 6; q < end && o + 16 < cap; q++) {
                if (*q != '%' || q + 1 >= end) {
                    out[o++] = *q;
                    continue;
                }
                q++;
                int v = *q == 'Y' ? y : *q == 'm' ? mo : *q == 'd' ? d : *q == 'H' ? h : *q == 'M' ? mi : -1;
                if (v < 0) return util_fail(UTIL_EINVAL, "output '%s': %%%c is not one of %%Y %%m %%d %%H %%M", pattern, *q);
                o += (size_t)snprintf(out + o, cap - o, *q == 'Y' ? "%04d" : "%02d", v);
            }
            p = end;
        } else out[o++] = *p;
    }
    out[o] = 0;
    return UTIL_OK;
}

/* One file of the job's outputs: the file of an initial time, a member's
 * file, or a GRIB file's request record beside it. */
typedef struct {
    char *path;
    int init, member; /* member: -1 the file of the initial time, -2 its request record */
} output_file;

static int by_path(const void *a, const void *b) {
    const output_file *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->init > y->init) - (x->init < y->init);
}

static void describe_output(const output_file *o, const double *inits, char *out, size_t cap) {
    char when[64];
    util_time_format(inits[o->init], when, sizeof when);
    if (o->member >= 0) snprintf(out, cap, "%s member %d", when, o->member);
    else snprintf(out, cap, "%s%s", when, o->member == -2 ? " (its request record)" : "");
}

/* Every file of every initial time (of all ranks) and member, before any
 * work: the pattern must give each its own file, and none may be an input
 * (data or model) or an existing file other than a forecast. */
static int check_outputs(const char *pattern, const double *inits, int ninit, int member_files, int grib,
                         const char *const *inputs, int ninputs, const char *const *models, int nmodels) {
    int per_init = 1 + member_files + (grib != 0), n = 0, status = UTIL_OK;
    output_file *all = calloc((size_t)ninit * per_init, sizeof *all);
    if (!all) return util_fail(UTIL_ENOMEM, "out of memory");
    const util_paths read[2] = {{inputs, ninputs}, {models, nmodels}};
    for (int it = 0; it < ninit && !status; it++) {
        char path[4096], other[4200];
        if ((status = format_path(pattern, inits[it], path, sizeof path))) break;
        for (int k = 0; k < per_init && !status; k++) {
            int member = k == 0 ? -1 : grib ? -2 : k - 1;
            if (member >= 0) io_forecast_member_path(path, member, member_files, other, sizeof other);
            else snprintf(other, sizeof other, member == -2 ? "%s.request" : "%s", path);
            if (!(all[n].path = strdup(other))) status = util_fail(UTIL_ENOMEM, "out of memory");
            else all[n].init = it, all[n++].member = member;
            if (!status) status = util_output_check(other, read, member == -2 ? 1 : 2, "forecast file",
                                                    member == -2 ? NULL : io_forecast_is_forecast);
        }
    }
    if (!status) qsort(all, (size_t)n, sizeof *all, by_path);
    for (int i = 1; i < n && !status; i++)
        if (!strcmp(all[i].path, all[i - 1].path)) {
            char a[128], b[128];
            describe_output(&all[i - 1], inits, a, sizeof a), describe_output(&all[i], inits, b, sizeof b);
            status = util_fail(UTIL_EINVAL, "output '%s' gives %s and %s one file, %s: put {init:%%Y%%m%%d%%H} (or as "
                                            "much of the time as tells them apart) in it", pattern, a, b, all[i].path);
        }
    for (int i = 0; i < n; i++) free(all[i].path);
    free(all);
    return status;
}

static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, sizeof(float) * n) == 0; }

/* Models must share grid, levels and normalisation statistics. */
static int check_models(model *const *models, const int *leads, int n, const char *const *paths) {
    const model *a = NULL;
    int ai = -1;
    for (int i = 0; i < n; i++) {
        if (!models[i]) continue;
        if (!a) {
            a = models[i], ai = i;
            continue;
        }
        const model *b = models[i];
        const model_config *x = &a->cfg, *y = &b->cfg;
        const char *what = NULL;
        if (x->H != y->H || x->W != y->W) what = "grid";
        else if (x->nlev != y->nlev || !same_floats(x->levels, y->levels, x->nlev)) what = "levels";
        else if (!same_floats(a->upper_mean, b->upper_mean, MODEL_NUPPER * x->nlev) ||
                 !same_floats(a->upper_std, b->upper_std, MODEL_NUPPER * x->nlev) ||
                 !same_floats(a->surface_mean, b->surface_mean, MODEL_NSURFACE) ||
                 !same_floats(a->surface_std, b->surface_std, MODEL_NSURFACE))
            what = "normalisation statistics";
        if (what)
            return util_fail(UTIL_EINVAL, "the %d h model %s and the %d h model %s disagree on %s", leads[ai], paths[ai],
                             leads[i], paths[i], what);
        if (y->lead_hours != leads[i])
            return util_fail(UTIL_EINVAL, "%s is a %d h model, configured as the %d h model", paths[i], y->lead_hours, leads[i]);
    }
    if (a && a->cfg.lead_hours != leads[ai])
        return util_fail(UTIL_EINVAL, "%s is a %d h model, configured as the %d h model", paths[ai], a->cfg.lead_hours,
                         leads[ai]);
    return UTIL_OK;
}

/* format, layout and grib_bits. */
static int parse_output_format(const char *f, const char *l, const char *grib_bits, int *layout, int *format, int *bits) {
    if (!strcmp(f, "netcdf")) *format = IO_FORMAT_NETCDF;
    else if (!strcmp(f, "grib2")) *format = IO_FORMAT_GRIB2;
    else return util_fail(UTIL_EINVAL, "format '%s': expected netcdf or grib2", f);
    if (!strcmp(l, "cf")) *layout = IO_LAYOUT_CF;
    else if (!strcmp(l, "wb2")) *layout = IO_LAYOUT_WB2;
    else return util_fail(UTIL_EINVAL, "layout '%s': expected cf or wb2", l);
    if (*format == IO_FORMAT_GRIB2 && *layout == IO_LAYOUT_WB2)
        return util_fail(UTIL_EINVAL, "layout wb2 is a NetCDF layout: give format = netcdf, or layout = cf with grib2");
    char *copy = strdup(grib_bits), *words[32];
    if (!copy) return util_fail(UTIL_ENOMEM, "out of memory");
    int n = split(copy, words, 32), status = UTIL_OK;
    for (int w = 0; w < n && !status; w++) {
        char *eq = strchr(words[w], '='), *num = eq ? eq + 1 : words[w], *end;
        long b = strtol(num, &end, 10);
        if (end == num || *end || b < 1 || b > 32) {
            status = util_fail(UTIL_EINVAL, "grib_bits '%s': expected bits from 1 to 32, as N or VAR=N", words[w]);
            break;
        }
        int found = 0;
        for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
            const char *name = v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER];
            if (!eq || ((size_t)(eq - words[w]) == strlen(name) && !strncmp(words[w], name, strlen(name))))
                bits[v] = (int)b, found = 1;
        }
        if (!found)
            status = util_fail(UTIL_EINVAL, "grib_bits '%s': '%.*s' is not one of z q t u v msl u10 v10 t2m", words[w],
                               (int)(eq - words[w]), words[w]);
    }
    free(copy);
    return status;
}

/* The GRIB MARS labels (NULL: the defaults), given with format grib2 only. */
static int check_grib_labels(int format, const char *cls, const char *stream, const char *expver) {
    const char *key = cls ? "class" : stream ? "stream" : expver ? "expver" : NULL;
    if (key && format != IO_FORMAT_GRIB2)
        return util_fail(UTIL_EINVAL, "grib_%s (--grib-%s) '%s' labels GRIB messages and does nothing with format = "
                                      "netcdf (--format netcdf): give format = grib2, or leave grib_%s out",
                         key, key, cls ? cls : stream ? stream : expver, key);
    return io_grib_check_labels(cls, stream, expver);
}

/* Output variables ("all" or names) and levels ("all" or model levels in hPa). */
static int parse_selection(io_forecast_spec *spec, const char *variables, const char *levels, const model_config *mc) {
    char *copy = strdup(variables), *words[IO_MAX_LEVELS + 1];
    int n = copy ? split(copy, words, 32) : 0, status = UTIL_OK;
    if (!n) {
        free(copy);
        return util_fail(UTIL_EINVAL, "variables: none given (all, or some of z q t u v msl u10 v10 t2m)");
    }
    for (int w = 0; w < n && !status; w++) {
        int found = 0;
        for (int v = 0; v < IO_NUPPER + IO_NSURFACE; v++) {
            const char *name = v < IO_NUPPER ? io_upper_names[v] : io_surface_names[v - IO_NUPPER];
            if (!strcmp(words[w], "all") || !strcmp(words[w], name)) spec->write_var[v] = 1, found = 1;
        }
        if (!found) status = util_fail(UTIL_EINVAL, "variables: '%s' is not one of z q t u v msl u10 v10 t2m", words[w]);
    }
    free(copy);
    if (status) return status;
    copy = strdup(levels);
    n = copy ? split(copy, words, IO_MAX_LEVELS + 1) : 0;
    if (!n) {
        free(copy);
        return util_fail(UTIL_EINVAL, "levels: none given (all, or model levels in hPa)");
    }
    if (n == 1 && !strcmp(words[0], "all")) {
        spec->nlev = mc->nlev;
        memcpy(spec->levels, mc->levels, sizeof(float) * mc->nlev);
    } else
        for (int w = 0; w < n && !status; w++) {
            double pv;
            int found = 0, twice = 0;
            if ((status = util_parse_double("levels", words[w], 1e-3, 1e4, &pv))) break;
            float p = (float)pv;
            for (int k = 0; k < mc->nlev; k++) found |= mc->levels[k] == p;
            for (int k = 0; k < spec->nlev; k++) twice |= spec->levels[k] == p;
            if (!found || twice || spec->nlev == IO_MAX_LEVELS)
                status = util_fail(UTIL_EINVAL, twice ? "levels: %s hPa twice" : "levels: %s hPa is not a model level",
                                   words[w]);
            else spec->levels[spec->nlev++] = p;
        }
    free(copy);
    return status;
}

enum { OUTPUT_NEW, OUTPUT_DONE, OUTPUT_OTHER, OUTPUT_NO_INPUT };

/* The file of one initial time: to be written (none, or not complete),
 * complete for this very request (skipped), or complete for another (why
 * says what differs). had: REQUEST_MAX bytes of room. */
static int output_state(const char *path, const char *request, char *had, char *why, size_t why_cap) {
    if (!io_forecast_is_complete(path)) return OUTPUT_NEW;
    if (!io_forecast_request(path, had, REQUEST_MAX)) {
        snprintf(why, why_cap, "its request is not recorded (an older pangu-c)");
        return OUTPUT_OTHER;
    }
    if (!strcmp(had, request)) return OUTPUT_DONE;
    request_difference(had, request, why, why_cap);
    return OUTPUT_OTHER;
}

/* Before any model call, the file of each initial time (it = first,
 * first + stride, ...): to write, complete for this very request (skip[it]
 * set), or complete for another: an error unless overwrite. A dry run
 * (`dry` given) prints each state instead. request and had: REQUEST_MAX
 * bytes of room. */
static int judge_outputs(const char *output, const double *inits, int ninit, int first, int stride, const char *job_request,
                         const io_series *series, int overwrite, FILE *dry, long calls, char *request, char *had,
                         unsigned char *skip) {
    int status = UTIL_OK;
    for (int it = first; it < ninit && !status; it += stride) {
        char out_path[4096], when[64], why[1024];
        int nsources;
        util_time_format(inits[it], when, sizeof when);
        if ((status = format_path(output, inits[it], out_path, sizeof out_path)) ||
            (status = request_for_init(request, REQUEST_MAX, job_request, inits[it], series, &nsources)))
            break;
        /* no input holds the time: not judged here, reading it says what is missing */
        int state = nsources ? output_state(out_path, request, had, why, sizeof why) : OUTPUT_NO_INPUT;
        skip[it] = state == OUTPUT_DONE;
        if (dry)
            fprintf(dry, "%s  %s  %ld model calls  %s%s%s\n", when, out_path, calls,
                    state == OUTPUT_NEW        ? "to write"
                    : state == OUTPUT_NO_INPUT ? "no input holds this initial time: an error when run"
                    : state == OUTPUT_DONE     ? "complete, skipped"
                    : overwrite                ? "complete for another request: rewritten (--overwrite)"
                                               : "complete for another request: an error (--overwrite rewrites it)",
                    state == OUTPUT_OTHER ? ": " : "", state == OUTPUT_OTHER ? why : "");
        else if (state == OUTPUT_OTHER && !overwrite)
            status = util_fail(UTIL_EINVAL, "%s: complete, but for another request (%s): --overwrite rewrites it, or choose "
                                            "another output", out_path, why);
    }
    return status;
}

void pangu_forecast_options_init(pangu_forecast_options *o) {
    if (!o) {
        util_fail(UTIL_EINVAL, "pangu_forecast_options_init: the options are NULL");
        return;
    }
    memset(o, 0, sizeof *o);
    o->version = PANGU_FORECAST_OPTIONS_VERSION;
    o->leads = "6-168/6", o->output = "fc_{init:%Y%m%d%H}.nc";
    o->variables = "all", o->levels = "all";
    o->format = "netcdf", o->layout = "cf", o->grib_bits = "16";
    o->deflate = 1, o->perturb = "none", o->perturb_scale = 0.2;
    o->precision = PANGU_FP32, o->nranks = 1;
}

/* The default of a string option left NULL. */
static const char *or_default(const char *value, const char *fallback) { return value ? value : fallback; }

/* Below this many FLOPs per model call the forecast computes on one thread. */
#define SMALL_MODEL_FLOPS 2e9

/* Everything a forecast job holds; freed in one place (forecast_free). */
typedef struct {
    const pangu_forecast_options *o;
    int nmodels, members, ranks, precision, overwrite;
    int threads_given; /* restored at the end (a library call) */
    const char *output, *perturb, *format_name, *layout_name, *grib_bits_text;
    const char *grib_class, *grib_stream, *grib_expver;
    long deflate;
    double perturb_scale;
    uint64_t seed;
    FILE *log;
    const char *const *model_paths;
    const int *model_leads;
    model *models[MODEL_PLAN_MAX_MODELS];
    const model *ref; /* the first loaded model: grid, statistics */
    const model_config *mc;
    model_workspace ws; /* one work arena for every step of the job */
    model_plan plan;
    int *leads, nleads, ninit;
    double *inits, *lead_hours;
    int layout, format, grib_bits[IO_NUPPER + IO_NSURFACE];
    io_forecast_spec spec;
    char source[8192], history[8192];
    char *job_request, *request, *had; /* REQUEST_MAX each */
    unsigned char *skip;               /* by initial time: complete for this request */
    io_series *series;
    io_state *stack, initial;
    int stack_n;
    /* progress */
    long total_calls, done_calls;
    double t_start, t_model, writer_cpu;
    int tty;
    util_progress prog;
    unsigned char *written; /* (nleads) of the member being run: its progress in lead order */
} forecast_job;

/* The options a call can get wrong before anything is read. */
static int check_options(forecast_job *j) {
    const pangu_forecast_options *o = j->o;
    if (j->nmodels < 1 || !j->model_paths || !j->model_leads)
        return util_fail(UTIL_EINVAL, "no models: give model_24h = FILE (and 1h, 3h, 6h) or --model-24h FILE");
    if (j->nmodels > MODEL_PLAN_MAX_MODELS)
        return util_fail(UTIL_EINVAL, "too many models (%d, at most %d)", j->nmodels, MODEL_PLAN_MAX_MODELS);
    for (int i = 0; i < j->nmodels; i++)
        if (!j->model_paths[i] || j->model_leads[i] < 1)
            return util_fail(UTIL_EINVAL, "model %d: needs a file and a lead of at least 1 h", i + 1);
    if (o->ninputs < 1 || !o->input_files) return util_fail(UTIL_EINVAL, "no input files: give input = FILES or --input FILES");
    if (!o->init) return util_fail(UTIL_EINVAL, "no initial times: give init = TIMES or --init TIMES");
    if (j->members < 0 || j->members > 1000) return util_fail(UTIL_EINVAL, "members %d: expected 0 to 1000", j->members);
    if (j->deflate < 0 || j->deflate > 9) return util_fail(UTIL_EINVAL, "deflate %ld: expected 0 (uncompressed) to 9", j->deflate);
    if (!(j->perturb_scale >= 0 && j->perturb_scale <= 10))
        return util_fail(UTIL_EINVAL, "perturb_scale %g: expected 0 to 10", j->perturb_scale);
    if (o->rank < 0 || o->rank >= j->ranks) return util_fail(UTIL_EINVAL, "rank %d of %d ranks", o->rank, j->ranks);
    return UTIL_OK;
}

/* The plan, initial times, output format and perturbation; the output files
 * checked before any work: each initial time and member its own file, none
 * an input or a file of another kind. */
static int plan_job(forecast_job *j) {
    const pangu_forecast_options *o = j->o;
    int status;
    if ((status = model_plan_parse_leads(or_default(o->leads, "6-168/6"), &j->leads, &j->nleads)) ||
        (status = model_plan_build(&j->plan, j->model_leads, j->nmodels, j->leads, j->nleads)) ||
        (status = parse_inits(o->init, &j->inits, &j->ninit)))
        return status;
    j->layout = IO_LAYOUT_CF, j->format = IO_FORMAT_NETCDF;
    if ((status = parse_output_format(j->format_name, j->layout_name, j->grib_bits_text, &j->layout, &j->format, j->grib_bits)))
        return status;
    j->grib_class = o->version >= 2 ? o->grib_class : NULL, j->grib_stream = o->version >= 2 ? o->grib_stream : NULL;
    j->grib_expver = o->version >= 2 ? o->grib_expver : NULL;
    if ((status = check_grib_labels(j->format, j->grib_class, j->grib_stream, j->grib_expver))) return status;
    if (strcmp(j->perturb, "perlin") != 0 && strcmp(j->perturb, "none") != 0)
        return util_fail(UTIL_EINVAL, "perturb '%s': expected none or perlin", j->perturb);
    if (j->members > 1 && strcmp(j->perturb, "perlin") != 0)
        return util_fail(UTIL_EINVAL, "%d members need perturb = perlin (members would be identical)", j->members);
    int member_files = j->members > 1 && j->layout == IO_LAYOUT_CF && j->format == IO_FORMAT_NETCDF ? j->members : 0;
    if ((status = check_outputs(j->output, j->inits, j->ninit, member_files, j->format == IO_FORMAT_GRIB2, o->input_files,
                                o->ninputs, j->model_paths, j->nmodels)))
        return status;
    if (j->precision != MODEL_FP32 && j->precision != MODEL_BF16)
        return util_fail(UTIL_EINVAL, "precision %d: expected PANGU_FP32 or PANGU_BF16", j->precision);
    return model_precision_check(j->precision); /* before loading any model */
}

/* Model i into models[i]; NULL there when it failed. */
static int open_model(forecast_job *j, int i) {
    if (!(j->models[i] = malloc(sizeof(model)))) return util_fail(UTIL_ENOMEM, "out of memory");
    int status = model_open(j->models[i], j->model_paths[i], j->model_leads[i]);
    if (status) free(j->models[i]), j->models[i] = NULL;
    return status;
}

/* Only the models the plan calls, at the precision asked. */
static int load_models(forecast_job *j) {
    int status;
    for (int i = 0; i < j->nmodels; i++) {
        int used = 0;
        for (int k = 0; k < j->plan.ncalls; k++) used |= j->plan.calls[k].model == j->model_leads[i];
        if (!used) continue;
        if ((status = open_model(j, i)) || (status = model_set_precision(j->models[i], j->precision))) return status;
    }
    if ((status = check_models(j->models, j->model_leads, j->nmodels, j->model_paths))) return status;
    for (int i = 0; i < j->nmodels && !j->ref; i++) j->ref = j->models[i];
    if (!j->ref) { /* only lead 0 requested: no call; the first model gives the grid */
        if ((status = open_model(j, 0))) return status;
        j->ref = j->models[0];
    }
    j->mc = &j->ref->cfg;
    return UTIL_OK;
}

/* Provenance: the command line (or the call), the version and the model
 * files the plan calls with their SHA-256. */
static int provenance(forecast_job *j) {
    const char *paths[MODEL_PLAN_MAX_MODELS];
    int hours[MODEL_PLAN_MAX_MODELS], n = 0;
    for (int i = 0; i < j->nmodels; i++)
        if (j->models[i]) paths[n] = j->model_paths[i], hours[n++] = j->model_leads[i];
    char what[64];
    snprintf(what, sizeof what, "hierarchical forecast (%s GEMMs)", model_precision_name(j->precision));
    int status = util_source_attribute(j->source, sizeof j->source, what, hours, paths, n);
    if (status) return status;
    if (j->o->history) snprintf(j->history, sizeof j->history, "%s", j->o->history);
    else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(j->history, sizeof j->history, "%Y-%m-%dT%H:%M:%SZ: pangu_forecast (libpangu)", &tm);
    }
    return UTIL_OK;
}

/* What each output file holds: grid, leads, variables and levels, layout
 * and format, provenance, licence, ensemble settings. */
static int describe_outputs(forecast_job *j) {
    const model_config *mc = j->mc;
    io_forecast_spec *spec = &j->spec;
    spec->H = mc->H, spec->W = mc->W, spec->nsteps = j->nleads, spec->members = j->members > 1 ? j->members : 0;
    int status = parse_selection(spec, or_default(j->o->variables, "all"), or_default(j->o->levels, "all"), mc);
    if (status) return status;
    if (!(j->lead_hours = malloc(sizeof(double) * j->nleads))) return util_fail(UTIL_ENOMEM, "out of memory");
    for (int i = 0; i < j->nleads; i++) j->lead_hours[i] = j->leads[i];
    spec->lead_hours = j->lead_hours;
    if ((status = provenance(j))) return status;
    spec->source = j->source, spec->history = j->history;
    spec->layout = j->layout, spec->format = j->format;
    memcpy(spec->grib_bits, j->grib_bits, sizeof j->grib_bits);
    spec->grib_class = j->grib_class, spec->grib_stream = j->grib_stream, spec->grib_expver = j->grib_expver;
    spec->institution = j->o->institution;
    /* the terms of the released weights, for models of their variant */
    spec->licence = model_licence(mc);
    if (spec->members > 0) {
        spec->perturbation = j->perturb;
        spec->perturbation_scale = j->perturb_scale, spec->seed = (unsigned long long)j->seed;
    }
    return UTIL_OK;
}

/* The job's part of every file's request (build_request), which decides
 * whether an existing file is skipped. */
static int job_request(forecast_job *j) {
    j->job_request = malloc(REQUEST_MAX), j->request = malloc(REQUEST_MAX), j->had = malloc(REQUEST_MAX);
    j->skip = calloc((size_t)j->ninit, 1);
    j->written = calloc((size_t)j->nleads + 1, 1);
    if (!j->job_request || !j->request || !j->had || !j->skip || !j->written) return util_fail(UTIL_ENOMEM, "out of memory");
    text_buf t = {j->job_request, REQUEST_MAX, 0, 0};
    build_request(&t, j->source, &j->spec, j->leads, j->nleads, j->members, j->perturb, j->perturb_scale,
                  (unsigned long long)j->seed, j->precision, j->format_name, j->layout_name, j->deflate, j->grib_bits_text);
    if (j->format == IO_FORMAT_GRIB2) /* files of other labels are another request */
        append(&t, "; grib labels: %s %s %s", j->grib_class ? j->grib_class : IO_GRIB_CLASS,
               j->grib_stream ? j->grib_stream : j->spec.members > 0 ? "enfo" : "oper",
               j->grib_expver ? j->grib_expver : IO_GRIB_EXPVER);
    if (t.over) return util_fail(UTIL_EINVAL, "the forecast's request is longer than %d bytes", REQUEST_MAX);
    j->spec.request = j->request;
    j->spec.overwrite = j->overwrite;
    return UTIL_OK;
}

/* Model calls per initial time, over its members. */
static long calls_per_init(const forecast_job *j) { return (long)j->plan.ncalls * (j->members > 1 ? j->members : 1); }

/* The dry run's summary of the plan: calls, estimated time and memory. */
static void print_estimate(const forecast_job *j, FILE *out) {
    const model_config *mc = j->mc;
    long calls = calls_per_init(j);
    double gflop = model_flops_per_step(mc) / 1e9, params = 0;
    for (int i = 0; i < j->nmodels; i++)
        if (j->models[i]) params += (double)j->models[i]->nparams * sizeof(float) * 2; /* and their packed copies */
    double state = (double)(MODEL_NUPPER * mc->nlev + MODEL_NSURFACE) * mc->H * mc->W * sizeof(float);
    double memory = params + (double)model_workspace_bytes(mc, omp_get_max_threads()) + state * (j->plan.max_depth + 6);
    const double rate = 100.0 * omp_get_max_threads(); /* GFLOP/s: the FP32 step per core measured on an AMD EPYC */
    fprintf(out,
            "plan: %d initial times x %ld model calls (%d per member) of %.4g GFLOP each = %.4g TFLOP; about %.0f s at "
            "%.0f GFLOP/s (%d threads); memory about %.2f GB\n",
            j->ninit, calls, j->plan.ncalls, gflop, gflop * calls * j->ninit / 1e3, gflop * calls * j->ninit / rate, rate,
            omp_get_max_threads(), memory / 1e9);
    fflush(out);
}

/* The lead up to which every requested lead of the member is written: the
 * plan runs depth first (24 h, 48 h, ..., then 6 h, 12 h, 18 h), so the
 * lead of the last call would go back and forth and end short of the last. */
static int written_through(const forecast_job *j) {
    int first_missing = INT_MAX, through = 0;
    for (int i = 0; i < j->nleads; i++)
        if (!j->written[i] && j->leads[i] < first_missing) first_missing = j->leads[i];
    for (int i = 0; i < j->nleads; i++)
        if (j->written[i] && j->leads[i] < first_missing && j->leads[i] > through) through = j->leads[i];
    return through;
}

/* A terminal gets one line rewritten in place; a log file (batch jobs) a
 * line every 10 s and at the last call of each initial time, in lead order. */
static void report_progress(forecast_job *j, const char *when, int member, int last) {
    j->done_calls++;
    double now = util_now(), el = now - j->t_start, per = el / j->done_calls;
    if (!j->log || !util_progress_due(&j->prog, last)) return;
    fprintf(j->log, "%spangu forecast: %s member %d  leads to %dh written  calls %ld/%ld  %.2f s/call  ETA %.0f s  peak %.0f MB%s",
            j->tty ? "\r" : "", when, member, written_through(j), j->done_calls, j->total_calls, per,
            per * (j->total_calls - j->done_calls), util_peak_rss_kb() / 1024.0, j->tty ? " " : "\n");
}

/* The model that makes a call of the plan. */
static const model *model_of_call(const forecast_job *j, const model_plan_call *call) {
    const model *m = NULL;
    for (int i = 0; i < j->nmodels; i++)
        if (j->model_leads[i] == call->model) m = j->models[i];
    return m;
}

/* One member of initial time it: its initial state (member 0 the
 * unperturbed control), then the plan's calls, each lead written as it is
 * reached. */
static int run_member(forecast_job *j, io_forecast *fc, int it, int member, const char *when) {
    const model_config *mc = j->mc;
    io_state *stack = j->stack;
    size_t nu = (size_t)MODEL_NUPPER * mc->nlev * mc->H * mc->W, ns = (size_t)MODEL_NSURFACE * mc->H * mc->W;
    int status;
    if ((status = io_forecast_wait(fc, &stack[0]))) return status;
    memcpy(stack[0].upper, j->initial.upper, sizeof(float) * nu);
    memcpy(stack[0].surface, j->initial.surface, sizeof(float) * ns);
    stack[0].time = j->initial.time;
    if (member > 0 && (status = data_perturb_perlin(stack[0].upper, stack[0].surface, mc->nlev, mc->H, mc->W,
                                                    j->ref->upper_std, j->ref->surface_std, j->perturb_scale,
                                                    j->seed ^ ((uint64_t)it * 0x2545F4914F6CDD1DULL), member)))
        return status;
    memset(j->written, 0, (size_t)j->nleads);
    for (int i = 0; i < j->nleads && !status; i++)
        if (j->leads[i] == 0) status = io_forecast_write(fc, i, member, &stack[0]), j->written[i] = 1;
    for (int k = 0; k < j->plan.ncalls && !status; k++) {
        const model_plan_call *call = &j->plan.calls[k];
        io_state *in = &stack[call->depth - 1], *out = &stack[call->depth];
        if ((status = io_forecast_wait(fc, out))) break; /* its last lead may still be being written */
        double t0 = util_now();
        if ((status = model_step_in(model_of_call(j, call), &j->ws, out->upper, out->surface, in->upper, in->surface))) break;
        j->t_model += util_now() - t0;
        out->time = in->time + call->model * 3600.0;
        if (call->writes)
            for (int i = 0; i < j->nleads && !status; i++)
                if (j->leads[i] == call->to) status = io_forecast_write(fc, i, member, out), j->written[i] = 1;
        report_progress(j, when, member, k == j->plan.ncalls - 1);
    }
    return status;
}

/* The initial state's checks and the state stack, after the notice of a
 * rewritten file. */
static int check_initial(forecast_job *j) {
    const model_config *mc = j->mc;
    const model *ref = j->ref;
    int status;
    if ((status = io_state_check_finite(&j->initial, j->o->input_files[0])) ||
        (status = io_state_check_plausible(&j->initial, ref->upper_mean, ref->upper_std, ref->surface_mean, ref->surface_std)))
        return status;
    for (int d = 0; d < j->stack_n; d++)
        if (!j->stack[d].upper && (status = io_state_alloc(&j->stack[d], mc->H, mc->W, mc->levels, mc->nlev, &j->initial)))
            return status;
    return UTIL_OK;
}

/* The directory of an output file, made when missing. */
static int make_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return UTIL_OK;
    *slash = 0;
    return util_mkdirs(dir);
}

/* One initial time: skipped when its file is complete for this request,
 * else every member forecast into one new file. */
static int run_init(forecast_job *j, int it) {
    char out_path[4096], when[64];
    int status, nsources;
    util_time_format(j->inits[it], when, sizeof when);
    if ((status = format_path(j->output, j->inits[it], out_path, sizeof out_path))) return status;
    if (j->skip[it]) {
        if (j->log) fprintf(j->log, "pangu forecast: %s: %s complete already, skipped\n", when, out_path);
        j->total_calls -= calls_per_init(j);
        return UTIL_OK;
    }
    if ((status = request_for_init(j->request, REQUEST_MAX, j->job_request, j->inits[it], j->series, &nsources)) ||
        (status = make_parent(out_path)) ||
        (status = io_series_read(j->series, j->inits[it], j->mc->H, j->mc->W, j->mc->levels, j->mc->nlev, &j->initial)))
        return status;
    if (io_forecast_is_complete(out_path) && j->log)
        fprintf(j->log, "pangu forecast: %s: %s complete for another request, rewritten (--overwrite)\n", when, out_path);
    if ((status = check_initial(j))) return status;
    j->spec.lat = j->initial.lat, j->spec.lon = j->initial.lon, j->spec.init_time = j->inits[it];
    io_forecast *fc;
    if ((status = io_forecast_create(&fc, out_path, &j->spec))) return status;
    for (int member = 0; member < (j->members > 1 ? j->members : 1) && !status; member++)
        status = run_member(j, fc, it, member, when);
    io_state_free(&j->initial);
    if (status) {
        io_forecast_abort(fc);
        return status;
    }
    if ((status = io_forecast_finish(fc))) return status;
    if (j->log) fprintf(j->log, "%spangu forecast: wrote %s\n", j->tty ? "\n" : "", out_path);
    return UTIL_OK;
}

/* This rank's initial times (it % ranks == rank), then the time summary. */
static int run_inits(forecast_job *j) {
    const pangu_forecast_options *o = j->o;
    /* Each lead is written on a background thread while the next model
     * call runs; between create and finish this thread makes no netCDF call. */
    j->spec.background = 1, j->spec.writer_cpu_seconds = &j->writer_cpu;
    j->spec.deflate = j->deflate == 0 ? -1 : (int)j->deflate;
    j->stack_n = j->plan.max_depth + 1;
    if (!(j->stack = calloc((size_t)j->stack_n, sizeof(io_state)))) return util_fail(UTIL_ENOMEM, "out of memory");
    int mine = 0, status = UTIL_OK;
    for (int it = o->rank; it < j->ninit; it += j->ranks) mine++;
    j->total_calls = (long)mine * j->plan.ncalls * (j->members > 1 ? j->members : 1);
    j->t_start = util_now();
    j->tty = j->log && isatty(fileno(j->log));
    if (j->log) util_progress_init(&j->prog, fileno(j->log), 10);
    for (int it = o->rank; it < j->ninit && !status; it += j->ranks) status = run_init(j, it);
    if (!status && j->done_calls > 0 && j->log) {
        double total = util_now() - j->t_start;
        fprintf(j->log,
                "pangu forecast: %ld model calls in %.2f s: model %.2f s, planning, reading and writing %.2f s (%.1f%%); "
                "the writer thread used %.2f s of CPU beside the model\n",
                j->done_calls, total, j->t_model, total - j->t_model, 100.0 * (total - j->t_model) / total, j->writer_cpu);
    }
    return status;
}

/* The job's settings: each option or its default. */
static void job_settings(forecast_job *j, const pangu_forecast_options *o) {
    j->o = o;
    j->nmodels = o->nmodels, j->members = o->members, j->ranks = o->nranks > 0 ? o->nranks : 1;
    j->threads_given = omp_get_max_threads();
    j->output = or_default(o->output, "fc_{init:%Y%m%d%H}.nc"), j->perturb = or_default(o->perturb, "none");
    j->format_name = or_default(o->format, "netcdf"), j->layout_name = or_default(o->layout, "cf");
    j->grib_bits_text = or_default(o->grib_bits, "16");
    j->deflate = o->deflate, j->perturb_scale = o->perturb_scale, j->seed = (uint64_t)o->seed;
    j->precision = o->precision, j->overwrite = o->overwrite;
    j->log = o->log, j->model_paths = o->model_files, j->model_leads = o->model_leads;
}

static void forecast_free(forecast_job *j) {
    free(j->job_request), free(j->request), free(j->had), free(j->skip), free(j->written);
    free(j->lead_hours);
    io_state_free(&j->initial);
    if (j->stack)
        for (int d = 0; d < j->stack_n; d++) io_state_free(&j->stack[d]);
    free(j->stack);
    io_series_close(j->series);
    for (int i = 0; i < MODEL_PLAN_MAX_MODELS; i++)
        if (j->models[i]) model_free(j->models[i]), free(j->models[i]);
    model_plan_free(&j->plan);
    model_workspace_free(&j->ws);
    free(j->leads);
    free(j->inits);
    omp_set_num_threads(j->threads_given);
}

int pangu_forecast(const pangu_forecast_options *o) {
    lib_init();
    if (!o || o->version < 1 || o->version > PANGU_FORECAST_OPTIONS_VERSION)
        return util_fail(UTIL_EINVAL, "pangu_forecast: options not set up by pangu_forecast_options_init of this "
                                      "library (version %d, this library knows 1 to %d)",
                         o ? o->version : 0, PANGU_FORECAST_OPTIONS_VERSION);
    forecast_job *j = calloc(1, sizeof *j); /* (its two 8 KB texts are off the caller's stack) */
    if (!j) return util_fail(UTIL_ENOMEM, "out of memory");
    job_settings(j, o);
    int status;
    if ((status = check_options(j)) || (status = plan_job(j)) || (status = load_models(j)) ||
        (status = describe_outputs(j)) || (status = job_request(j)))
        goto done;
    /* A model this small gains nothing from a second compute thread, while
     * the writer thread needs that core (docs/speed.md, "Threads"; measured
     * by tests/bench_threads.sh). */
    if (model_flops_per_step(j->mc) < SMALL_MODEL_FLOPS && j->threads_given > 1) omp_set_num_threads(1);
    if ((status = io_series_open(&j->series, o->input_files, o->ninputs))) goto done;
    /* the dry run lists every initial time; a run judges only its rank's */
    FILE *plan_out = o->plan ? o->plan : stdout;
    if ((status = judge_outputs(j->output, j->inits, j->ninit, o->dry_run ? 0 : o->rank, o->dry_run ? 1 : j->ranks,
                                j->job_request, j->series, j->overwrite, o->dry_run ? plan_out : NULL, calls_per_init(j),
                                j->request, j->had, j->skip)))
        goto done;
    if (o->dry_run) print_estimate(j, plan_out);
    else status = run_inits(j);
done:
    forecast_free(j);
    free(j);
    return status;
}
