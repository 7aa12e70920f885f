/* io fetch_models: the released Pangu-Weather models from the mirror ECMWF's
 * ai-models downloads them from (see fetch.h).
 *
 * Where the files are, and which: ecmwf-lab/ai-models-panguweather,
 * ai_models_panguweather/model.py, class PanguWeather: download_url
 * "https://get.ecmwf.int/repository/test-data/ai-models/pangu-weather/{file}"
 * and download_files ["pangu_weather_24.onnx", "pangu_weather_6.onnx"] (its
 * run() steps with these two only). How ai-models fetches them:
 * ecmwf-lab/ai-models, ai_models/model.py, Model.download_assets: a file
 * already there is kept, else it is downloaded (multiurl.download) to
 * FILE.download and renamed into place. ecmwf/multiurl, multiurl/http.py:
 * a HEAD for Content-Length, a partial file resumed with "Range: bytes=N-",
 * 408, 429, 500, 502, 503, 504 and connection errors retried (robust()).
 * Here, as for the other sources: DIR/.FILE.part resumed across runs, the
 * file checked as pangu import reads it before the rename, an existing
 * file kept only when its size is the mirror's and it reads as the model.
 *
 * The 1 h and 3 h models are not on that mirror: only on the official
 * repository's drives (198808xc/Pangu-Weather, README.md, "Downloading
 * trained models": Google Drive and Baidu Netdisk links for each file). */
#define _DEFAULT_SOURCE /* fseeko, ftello, fsync */
#include "fetch.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/util.h"

int io_fetch_models_check_leads(const int *leads, int nleads) {
    for (int i = 0; i < nleads; i++) {
        int h = leads[i];
        if (h == 24 || h == 6) continue;
        if (h == 1 || h == 3)
            return util_fail(UTIL_EINVAL,
                             "--leads %d: pangu_weather_%d.onnx is not on ai-models' mirror (it holds the 24 h and 6 h "
                             "models, the two ai-models runs); the %d h model is only on the official repository's drives "
                             "(Google Drive and Baidu Netdisk links in https://github.com/198808xc/Pangu-Weather README.md, "
                             "'Downloading trained models'): download it there by hand, then pangu info FILE checks it",
                             h, h, h);
        return util_fail(UTIL_EINVAL, "--leads %d: the released Pangu-Weather models are 1, 3, 6 and 24 h, and this "
                                      "source serves 24 and 6 (--leads 24,6)", h);
    }
    return UTIL_OK;
}

int io_fetch_models_looks_html(const unsigned char *head, size_t n) {
    size_t i = 0;
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) i = 3; /* UTF-8 byte order mark */
    while (i < n && isspace(head[i])) i++;
    static const char *const starts[] = {"<!doctype html", "<html", "<head", "<body", "<?xml", "<!--"};
    for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
        size_t len = strlen(starts[k]);
        if (n - i >= len && !strncasecmp((const char *)head + i, starts[k], len)) return 1;
    }
    return 0;
}

#ifndef PANGU_CURL

int io_fetch_models_run(const io_fetch_spec *spec) {
    (void)spec;
    return util_fail(UTIL_EINVAL, "this pangu was built without network access (make CURL=0): rebuild with libcurl "
                                  "(Debian's libcurl4-gnutls-dev, make CURL=1), or fetch the files elsewhere");
}

#else

#include <sys/stat.h>
#include <unistd.h>

#include "../model/model.h"

/* The files the mirror serves: those ai-models runs, in its download_files order. */
static const int mirror_leads[2] = {24, 6};

typedef struct {
    io_http *http;
    char root[1024];
    const char *out;
    int written, skipped;
    long long bytes;
} models_ctx;

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int close_checked(FILE *fp, const char *path) {
    int bad = fflush(fp) != 0 || fsync(fileno(fp)) != 0, err = errno;
    if (fclose(fp) != 0 && !bad) bad = 1, err = errno;
    if (bad)
        return util_fail(UTIL_EIO, "%s: cannot write (%s)%s", path, strerror(err),
                         err == ENOSPC || err == EDQUOT || err == EFBIG ? ": the disk is full (or a quota or file-size limit is reached)" : "");
    return UTIL_OK;
}

/* The check pangu import makes (model_onnx_import), on path as the lead h
 * model (the file does not hold its lead time: the released 6 h and 24 h
 * models have the same layout, and import takes the lead from the name);
 * what names the file in messages; *H x *W: its grid, for notes. */
static int check_model(const char *path, int h, const char *what, int *H, int *W) {
    unsigned char head[64];
    FILE *fp = fopen(path, "rb");
    if (!fp) return util_fail(UTIL_EIO, "%s: cannot read (%s)", path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    if (io_fetch_models_looks_html(head, n))
        return util_fail(UTIL_EFORMAT, "%s: an HTML page (%lld bytes), not the Pangu-Weather ONNX model: a login, error or "
                                       "moved page of the server (is --url the directory of pangu_weather_%d.onnx?)",
                         what, file_size(path), h);
    model m;
    int status = model_onnx_import(&m, path, h);
    if (!status) *H = m.cfg.H, *W = m.cfg.W;
    model_free(&m);
    if (status) {
        char why[1024];
        snprintf(why, sizeof why, "%s", util_last_message());
        /* no memory, a read error: the file may be right, only not checked here */
        if (status == UTIL_ENOMEM || status == UTIL_EIO)
            return util_fail(status, "%s: cannot be checked as pangu import reads it (%s)", what, why);
        return util_fail(UTIL_EFORMAT, "%s: not a Pangu-Weather ONNX model as pangu import reads it (%s)", what, why);
    }
    return UTIL_OK;
}

/* The file's size on the server (HEAD, as multiurl asks before a download);
 * a 4xx answer gets where the files should be. */
static int mirror_size(models_ctx *c, const char *url, int h, long long *size) {
    int status = io_http_size(c->http, url, size);
    if (status && strstr(util_last_message(), ": HTTP 4")) {
        char why[1200];
        snprintf(why, sizeof why, "%s", util_last_message());
        return util_fail(status, "%s: no pangu_weather_%d.onnx there (ai-models' mirror is %s; --url names the directory "
                                 "that holds the files)", why, h, IO_FETCH_MODELS_URL);
    }
    return status;
}

/* An existing DIR/pangu_weather_N.onnx: kept when it is the mirror's size
 * and reads as the model; any other file of that name is refused, never
 * taken for the model nor overwritten. */
static int keep_existing(models_ctx *c, const char *final, const char *url, int h, long long size) {
    long long have = file_size(final);
    if (size >= 0 && have != size)
        return util_fail(UTIL_EINVAL, "%s: exists with %lld bytes, %s has %lld: not the released file (a copy cut short, "
                                      "or another file of that name); move it away and rerun", final, have, url, size);
    io_http_note(c->http, "%s exists: checking it as pangu import reads it", final);
    int H = 0, W = 0, status = check_model(final, h, final, &H, &W);
    if (status == UTIL_EFORMAT) {
        char why[1400];
        snprintf(why, sizeof why, "%s", util_last_message());
        return util_fail(status, "%s; it exists already: move it away and rerun", why);
    }
    if (status) return status;
    io_http_note(c->http, "%s exists (%lld bytes%s, a %d h model on a %d x %d grid), skipped", final, have,
                 size >= 0 ? ", as on the mirror" : "", h, H, W);
    c->skipped++;
    return UTIL_OK;
}

/* DIR/.FILE.part opened for appending after what an earlier run left
 * (from 0 when it is longer than the server's file). */
static int open_part(models_ctx *c, const char *part, const char *final, long long size, FILE **fp, long long *have) {
    *have = file_size(part);
    if (*have < 0 || (size >= 0 && *have > size)) *have = 0;
    *fp = fopen(part, *have > 0 ? "r+b" : "w+b");
    if (!*fp) return util_fail(UTIL_EIO, "%s: cannot write (%s)", part, strerror(errno));
    if (fseeko(*fp, *have, SEEK_SET) || ftruncate(fileno(*fp), *have)) {
        int err = errno;
        fclose(*fp), *fp = NULL;
        unlink(part);
        return util_fail(UTIL_EIO, "%s: cannot write (%s)", part, strerror(err));
    }
    if (*have > 0) io_http_note(c->http, "%s: resuming after %lld bytes of an earlier run", final, *have);
    return UTIL_OK;
}

/* Download (or resume) url into part; on failure the part is kept when it
 * holds bytes a rerun can resume from. */
static int download(models_ctx *c, const char *url, const char *part, const char *final, const char *name, long long size) {
    FILE *fp;
    long long have, got = 0;
    int status = open_part(c, part, final, size, &fp, &have);
    if (status) return status;
    io_http_progress_add(c->http, size > have ? size - have : 0);
    io_http_progress_label(c->http, name);
    got = have;
    /* all there already (an earlier run stopped before the check): nothing to ask for */
    if (size < 0 || have < size) status = io_http_get_file(c->http, url, fp, part, have, size, &got);
    if (status) {
        int disk = strstr(util_last_message(), "cannot write") != NULL;
        fclose(fp);
        if (!disk && file_size(part) > 0 && io_http_resumable(c->http)) io_http_note(c->http, "the partial download is kept as %s: rerun to resume", part);
        else unlink(part);
        return status;
    }
    c->bytes += got - have;
    if ((status = close_checked(fp, part))) unlink(part);
    return status;
}

static int fetch_model_locked(models_ctx *c, int h) {
    char name[64], final[2048], part[2048], url[2048];
    snprintf(name, sizeof name, "pangu_weather_%d.onnx", h);
    snprintf(final, sizeof final, "%s/%s", c->out, name);
    snprintf(part, sizeof part, "%s/.%s.part", c->out, name);
    snprintf(url, sizeof url, "%s/%s", c->root, name);
    long long size;
    int status = mirror_size(c, url, h, &size);
    if (status) return status;
    if (file_size(final) >= 0) return keep_existing(c, final, url, h, size);
    if ((status = download(c, url, part, final, name, size))) return status;
    int H = 0, W = 0;
    io_http_note(c->http, "%s: checking it as pangu import reads it", name); /* the real files: some 20 s each */
    if ((status = check_model(part, h, url, &H, &W))) {
        if (status == UTIL_EFORMAT) unlink(part); /* complete but wrong: nothing to resume */
        else io_http_note(c->http, "the download is kept as %s: rerun to check it", part);
        return status;
    }
    if (rename(part, final)) {
        status = util_fail(UTIL_EIO, "%s: cannot rename into place (%s)", final, strerror(errno));
        unlink(part);
        return status;
    }
    io_http_progress_line(c->http, 1);
    io_http_note(c->http, "wrote %s (%.1f MB, a %d h model on a %d x %d grid)", final, file_size(final) / 1e6, h, H, W);
    c->written++;
    return UTIL_OK;
}

/* One job at a time per file (its .part resumes: two jobs would mix their
 * bytes), with the lock every output of pangu takes. */
static int fetch_model(models_ctx *c, int h) {
    char final[2048];
    snprintf(final, sizeof final, "%s/pangu_weather_%d.onnx", c->out, h);
    int status = util_lock_output(final);
    if (status) return status;
    status = fetch_model_locked(c, h);
    util_unlock_output(final);
    return status;
}

static int wanted(const io_fetch_spec *sp, int h) {
    if (sp->nleads == 0) return 1;
    for (int i = 0; i < sp->nleads; i++)
        if (sp->leads[i] == h) return 1;
    return 0;
}

int io_fetch_models_run(const io_fetch_spec *sp) {
    struct stat st;
    int status = io_fetch_models_check_leads(sp->leads, sp->nleads);
    if (status) return status;
    if (sp->out && strlen(sp->out) > 900) return util_fail(UTIL_EINVAL, "--out is longer than 900 characters");
    if (!sp->out || stat(sp->out, &st) || !S_ISDIR(st.st_mode) || access(sp->out, W_OK))
        return util_fail(UTIL_EIO, "%s: the output directory is missing or not writable", sp->out ? sp->out : "(none)");
    const char *root = sp->url && sp->url[0] ? sp->url : IO_FETCH_MODELS_URL;
    if (strlen(root) > 900) return util_fail(UTIL_EINVAL, "--url is longer than 900 characters");
    models_ctx c = {0};
    c.out = sp->out;
    snprintf(c.root, sizeof c.root, "%s", root);
    for (size_t n = strlen(c.root); n > 1 && c.root[n - 1] == '/'; n--) c.root[n - 1] = 0;
    io_http_opts o = {.retries = sp->retries, .backoff = sp->backoff, .backoff_max = sp->backoff_max, .timeout = sp->timeout,
                      .deadline = sp->deadline, .rate_limit = sp->rate_limit};
    if ((status = io_http_open(&c.http, &o))) return status;
    /* the terms of the official repository's README.md, "License" */
    io_http_note(c.http, "the released Pangu-Weather models (Huawei Cloud; https://github.com/198808xc/Pangu-Weather) are "
                         "licensed CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/): commercial use is "
                         "forbidden; they were trained on ERA5, whose Copernicus licence applies too");
    double t0 = util_now();
    for (int i = 0; i < 2 && !status; i++)
        if (wanted(sp, mirror_leads[i])) status = fetch_model(&c, mirror_leads[i]);
    if (!status) io_http_summary(c.http, c.written, c.skipped, c.bytes, t0);
    io_http_close(c.http);
    return status;
}

#endif
