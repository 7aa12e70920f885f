/* io grib_write: GRIB 2 forecast messages through ecCodes (see grib.h). */
#define _DEFAULT_SOURCE
#include <eccodes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "grib.h"

#define NVARS IO_GRIB_NVARS

/* ECMWF's shortNames and their levels (the encodings ai-models writes). */
static const struct {
    const char *short_name, *level_type;
    long level;
} enc[NVARS] = {
    {"z", "isobaricInhPa", 0},          {"q", "isobaricInhPa", 0},       {"t", "isobaricInhPa", 0},
    {"u", "isobaricInhPa", 0},          {"v", "isobaricInhPa", 0},       {"msl", "meanSea", 0},
    {"10u", "heightAboveGround", 10},   {"10v", "heightAboveGround", 10}, {"2t", "heightAboveGround", 2},
};

/* The MARS labels of ai-models' Pangu-Weather output. ecmwf-lab/ai-models
 * src/ai_models/outputs/__init__.py, GribOutputBase.__init__ and
 * grib_keys: class "ml", stream "oper", expver the model's, edition 2,
 * generatingProcessIdentifier the model's version; src/ai_models/model.py,
 * Model: version = 1 (ai-models-panguweather's PanguWeather, in
 * src/ai_models_panguweather/model.py, sets expver = "pguw" and keeps
 * version 1). Its messages take an analysis as template with a step, and
 * earthkit-data's encoder (ecmwf/earthkit-data
 * src/earthkit/data/encoders/grib.py, _update_metadata) makes type an fc. */
#define GENERATING_PROCESS_AI_MODELS 1

/* MARS classes that ecCodes tables older than 2.30 (Debian 12 ships 2.28)
 * lack: ecmwf/eccodes definitions/mars/class.table, ml added by ECC-1557
 * (2023). Written by their number where the installed ecCodes has no name
 * for them; a newer ecCodes reads the name back. */
static const struct {
    const char *name;
    long code;
} newer_classes[] = {{"ml", 45}, {"d1", 46}, {"o6", 47}, {"eh", 48}, {"gh", 49}, {"ci", 50},
                     {"ai", 51}, {"ed", 52}, {"ng", 53}, {"lr", 54}, {"a5", 55}};

/* Set the MARS class by name, else by its number from newer_classes. */
static int set_class(codes_handle *h, const char *name) {
    size_t len = strlen(name);
    int rc = codes_set_string(h, "class", name, &len);
    for (size_t i = 0; rc && i < sizeof newer_classes / sizeof newer_classes[0]; i++)
        if (!strcmp(newer_classes[i].name, name)) rc = codes_set_long(h, "class", newer_classes[i].code);
    return rc;
}

/* n characters, each a lowercase letter or a digit. */
static int lower_alnum(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) return 0;
    return 1;
}

int io_grib_check_labels(const char *cls, const char *stream, const char *expver) {
    if (expver && !lower_alnum(expver, 4))
        return util_fail(UTIL_EINVAL, "grib_expver '%s': expected 4 lowercase letters or digits (a MARS experiment "
                                      "version, e.g. pguw as ai-models labels Pangu-Weather)", expver);
    if (cls && !lower_alnum(cls, 2))
        return util_fail(UTIL_EINVAL, "grib_class '%s': expected a MARS class, 2 lowercase letters or digits (e.g. ml, "
                                      "od, rd)", cls);
    if (stream && !lower_alnum(stream, 4))
        return util_fail(UTIL_EINVAL, "grib_stream '%s': expected a MARS stream, 4 lowercase letters or digits (e.g. "
                                      "oper, enfo)", stream);
    if (!cls && !stream) return UTIL_OK;
    /* the tables decide: ecCodes refuses a name its table does not hold */
    codes_handle *h = codes_grib_handle_new_from_samples(NULL, "GRIB2");
    if (!h) return util_fail(UTIL_EIO, "ecCodes has no GRIB2 sample (is libeccodes-data installed?)");
    size_t len = stream ? strlen(stream) : 0;
    int status = UTIL_OK;
    if (codes_set_long(h, "setLocalDefinition", 1) || codes_set_long(h, "localDefinitionNumber", 1))
        status = util_fail(UTIL_EIO, "ecCodes cannot add ECMWF's local section to a GRIB 2 message");
    else if (cls && set_class(h, cls))
        status = util_fail(UTIL_EINVAL, "grib_class '%s': not a class of ECMWF's MARS class table (ecCodes "
                                        "definitions/mars/class.table; e.g. ml, od, rd)", cls);
    else if (stream && codes_set_string(h, "stream", stream, &len))
        status = util_fail(UTIL_EINVAL, "grib_stream '%s': not a stream of ECMWF's MARS stream table (ecCodes "
                                        "definitions/mars/stream.table; e.g. oper, enfo)", stream);
    codes_handle_delete(h);
    return status;
}

/* Where each message went: the file is rewritten in (step, member) order
 * at the end, as CDO reads time steps in file order. */
typedef struct {
    int step, member, seq;
    size_t offset, len;
} msg_pos;

struct io_grib_writer {
    /* one handle per field (variable and level), its keys set once: per
     * message only the step, the member and the values change */
    codes_handle *tmpl[NVARS], *lvl[NVARS][IO_MAX_LEVELS];
    io_forecast_spec spec;
    double *values;
    msg_pos *pos;
    size_t npos, cap, offset;
};

void io_grib_writer_close(io_grib_writer *w) {
    if (!w) return;
    for (int v = 0; v < NVARS; v++)
        if (w->tmpl[v]) codes_handle_delete(w->tmpl[v]);
    for (int v = 0; v < NVARS; v++)
        for (int k = 0; k < IO_MAX_LEVELS; k++)
            if (w->lvl[v][k]) codes_handle_delete(w->lvl[v][k]);
    free(w->values);
    free(w->pos);
    free(w);
}

/* Equally spaced within 1e-3 of the spacing (float32 coordinates of a
 * regular grid; GRIB holds micro-degrees). */
static int regular(const double *x, int n, double *step) {
    *step = n > 1 ? (x[n - 1] - x[0]) / (n - 1) : 0;
    for (int i = 1; i < n; i++)
        if (fabs(x[i] - x[i - 1] - *step) > 1e-3 * fabs(*step)) return 0;
    return 1;
}

#define SETL(key, val)                                                                                       \
    do {                                                                                                     \
        if ((rc = codes_set_long(h, key, val))) { what = key; goto fail; }                                   \
    } while (0)
#define SETD(key, val)                                                                                       \
    do {                                                                                                     \
        if ((rc = codes_set_double(h, key, val))) { what = key; goto fail; }                                 \
    } while (0)
#define SETS(key, val)                                                                                       \
    do {                                                                                                     \
        size_t len_ = strlen(val);                                                                           \
        if ((rc = codes_set_string(h, key, val, &len_))) { what = key; goto fail; }                          \
    } while (0)

int io_grib_writer_open(io_grib_writer **out, const char *path, const io_forecast_spec *spec) {
    *out = NULL;
    double dlat, dlon;
    int H = spec->H, W = spec->W;
    if (H < 2 || W < 2 || !regular(spec->lat, H, &dlat) || !regular(spec->lon, W, &dlon) || dlat >= 0 || dlon <= 0)
        return util_fail(UTIL_EINVAL, "%s: GRIB output needs a regular latitude-longitude grid, north to south and "
                                      "longitudes ascending; this grid's coordinates are not equally spaced",
                         path);
    for (int v = 0; v < NVARS; v++)
        if (spec->write_var[v] && (spec->grib_bits[v] < 0 || spec->grib_bits[v] > 32))
            return util_fail(UTIL_EINVAL, "%s: %d bits per GRIB value for '%s': expected 1 to 32", path, spec->grib_bits[v],
                             enc[v].short_name);
    io_grib_writer *w = calloc(1, sizeof *w);
    if (!w) return util_fail(UTIL_ENOMEM, "out of memory");
    w->spec = *spec;
    w->values = malloc(sizeof(double) * (size_t)H * W);
    if (!w->values) {
        io_grib_writer_close(w);
        return util_fail(UTIL_ENOMEM, "out of memory");
    }
    int y, mo, d, hh, mi, s;
    util_time_fields(spec->init_time, &y, &mo, &d, &hh, &mi, &s);
    int rc = 0;
    const char *what = "";
    for (int v = 0; v < NVARS; v++) {
        if (!spec->write_var[v] || (v < IO_NUPPER && spec->nlev == 0)) continue;
        codes_handle *h = w->tmpl[v] = codes_grib_handle_new_from_samples(NULL, "GRIB2");
        if (!h) {
            io_grib_writer_close(w);
            return util_fail(UTIL_EIO, "%s: ecCodes has no GRIB2 sample (is libeccodes-data installed?)", path);
        }
        /* ECMWF's local definition carries MARS class, stream, type, expver;
         * members are stream enfo as earthkit-data's encoder labels them
         * (_update_metadata: "number" without a stream) */
        SETL("setLocalDefinition", 1);
        SETL("localDefinitionNumber", 1);
        if ((rc = set_class(h, spec->grib_class ? spec->grib_class : IO_GRIB_CLASS))) {
            what = "class";
            goto fail;
        }
        SETS("stream", spec->grib_stream ? spec->grib_stream : spec->members > 0 ? "enfo" : "oper");
        SETS("type", spec->members > 0 ? "cf" : "fc");
        SETS("expver", spec->grib_expver ? spec->grib_expver : IO_GRIB_EXPVER);
        SETL("generatingProcessIdentifier", GENERATING_PROCESS_AI_MODELS);
        if (spec->members > 0) {
            SETL("productDefinitionTemplateNumber", 1);
            SETL("numberOfForecastsInEnsemble", spec->members);
        }
        SETS("shortName", enc[v].short_name);
        SETS("typeOfLevel", enc[v].level_type);
        if (v >= IO_NUPPER) SETL("level", enc[v].level);
        SETL("Ni", W);
        SETL("Nj", H);
        SETL("iScansNegatively", 0);
        SETL("jScansPositively", 0);
        SETD("latitudeOfFirstGridPointInDegrees", spec->lat[0]);
        SETD("longitudeOfFirstGridPointInDegrees", spec->lon[0]);
        SETD("latitudeOfLastGridPointInDegrees", spec->lat[H - 1]);
        SETD("longitudeOfLastGridPointInDegrees", spec->lon[W - 1]);
        SETD("iDirectionIncrementInDegrees", dlon);
        SETD("jDirectionIncrementInDegrees", -dlat);
        SETL("dataDate", (long)y * 10000 + mo * 100 + d);
        SETL("dataTime", (long)hh * 100 + mi);
        SETS("stepUnits", "h");
        SETL("bitsPerValue", spec->grib_bits[v] > 0 ? spec->grib_bits[v] : 16);
        for (int k = 0; v < IO_NUPPER && k < spec->nlev; k++) {
            codes_handle *t = h;
            if (!(h = w->lvl[v][k] = codes_handle_clone(t))) {
                io_grib_writer_close(w);
                return util_fail(UTIL_ENOMEM, "%s: cannot copy a GRIB message (out of memory)", path);
            }
            double p = spec->levels[k];
            /* Whole hPa as ECMWF writes them; other levels in Pa. */
            if (p == floor(p)) {
                SETS("typeOfLevel", "isobaricInhPa");
                SETL("level", (long)p);
            } else {
                SETS("typeOfLevel", "isobaricInPa");
                SETL("level", lround(p * 100));
            }
            h = t;
        }
    }
    *out = w;
    return UTIL_OK;
fail:
    io_grib_writer_close(w);
    return util_fail(UTIL_EIO, "%s: cannot set the GRIB key '%s' (ecCodes: %s)", path, what, codes_get_error_message(rc));
}

int io_grib_writer_put(io_grib_writer *w, void *fp, int step, int member, const io_state *s, const int *lev_index,
                       char *err, size_t cap) {
    const io_forecast_spec *sp = &w->spec;
    size_t HW = (size_t)s->H * s->W;
    int rc = 0, cur = 0;
    const char *what = "";
    double lead = sp->lead_hours[step];
    if (lead != floor(lead) || lead < 0) {
        snprintf(err, cap, "lead %g h: GRIB steps are written in whole hours", lead);
        return 1;
    }
    for (int v = 0; v < NVARS; v++) {
        if (!w->tmpl[v]) continue;
        int upper = v < IO_NUPPER;
        cur = v;
        for (int k = 0; k < (upper ? sp->nlev : 1); k++) {
            codes_handle *h = upper ? w->lvl[v][k] : w->tmpl[v];
            SETL("step", (long)lead);
            if (member >= 0) {
                SETS("type", member == 0 ? "cf" : "pf");
                SETL("perturbationNumber", member);
            }
            const float *src = upper ? s->upper + ((size_t)v * s->nlev + lev_index[k]) * HW
                                     : s->surface + (size_t)(v - IO_NUPPER) * HW;
            for (size_t i = 0; i < HW; i++) w->values[i] = src[i];
            if ((rc = codes_set_double_array(h, "values", w->values, HW))) {
                what = "values";
                goto fail;
            }
            const void *msg;
            size_t len;
            if ((rc = codes_get_message(h, &msg, &len))) {
                what = "message";
                goto fail;
            }
            if (fwrite(msg, 1, len, fp) != len) {
                snprintf(err, cap, "cannot write the GRIB file (disk full?)");
                return 1;
            }
            if (w->npos == w->cap) {
                size_t n = w->cap ? 2 * w->cap : 1024;
                msg_pos *g = realloc(w->pos, n * sizeof *g);
                if (!g) {
                    snprintf(err, cap, "out of memory");
                    return 1;
                }
                w->pos = g, w->cap = n;
            }
            w->pos[w->npos] = (msg_pos){step, member, (int)w->npos, w->offset, len};
            w->npos++, w->offset += len;
        }
    }
    return 0;
fail:
    snprintf(err, cap, "cannot encode GRIB key '%s' of '%s' (ecCodes: %s)", what, enc[cur].short_name,
             codes_get_error_message(rc));
    return 1;
}

static int cmp_pos(const void *pa, const void *pb) {
    const msg_pos *a = pa, *b = pb;
    if (a->step != b->step) return a->step - b->step;
    if (a->member != b->member) return a->member - b->member;
    return a->seq - b->seq;
}

int io_grib_writer_sort(io_grib_writer *w, const char *in_path, const char *out_path, char *err, size_t cap) {
    FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
    unsigned char *buf = NULL;
    size_t bufcap = 0;
    int bad = !in || !out;
    qsort(w->pos, w->npos, sizeof *w->pos, cmp_pos);
    for (size_t i = 0; i < w->npos && !bad; i++) {
        const msg_pos *p = &w->pos[i];
        if (p->len > bufcap) {
            unsigned char *g = realloc(buf, p->len);
            if (!g) {
                bad = 1;
                break;
            }
            buf = g, bufcap = p->len;
        }
        bad = fseeko(in, (off_t)p->offset, SEEK_SET) != 0 || fread(buf, 1, p->len, in) != p->len ||
              fwrite(buf, 1, p->len, out) != p->len;
    }
    free(buf);
    if (in) fclose(in);
    if (out && (fflush(out) != 0 || ferror(out))) bad = 1;
    if (out && fclose(out) != 0) bad = 1;
    if (bad) snprintf(err, cap, "cannot write the GRIB file in step order (disk full?)");
    return bad;
}
