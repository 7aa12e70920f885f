/* Suite "fetch_models": what pangu fetch --source pangu-models decides
 * without the network (io/fetch_models.c): which leads the mirror serves
 * and where the others are, and an HTML page told from a model (the
 * transfers: tests/fetch_models_test.sh against a local server). */
#include <CUnit/CUnit.h>
#include <string.h>

#include "io/fetch.h"
#include "tests.h"
#include "util/util.h"

static void test_leads(void) {
    const int both[2] = {6, 24}, one[1] = {24};
    CU_ASSERT(io_fetch_models_check_leads(both, 2) == UTIL_OK);
    CU_ASSERT(io_fetch_models_check_leads(one, 1) == UTIL_OK);
    CU_ASSERT(io_fetch_models_check_leads(NULL, 0) == UTIL_OK); /* none given: both */
    /* 1 h and 3 h: only on the official repository's drives (its README.md, "Downloading trained models") */
    for (int h = 1; h <= 3; h += 2) {
        const int leads[2] = {h, 24};
        CU_ASSERT(io_fetch_models_check_leads(leads, 2) == UTIL_EINVAL);
        const char *m = util_last_message();
        char name[32];
        snprintf(name, sizeof name, "pangu_weather_%d.onnx", h);
        CU_ASSERT(strstr(m, name) != NULL);
        CU_ASSERT(strstr(m, "https://github.com/198808xc/Pangu-Weather") != NULL);
        CU_ASSERT(strstr(m, "Google Drive and Baidu Netdisk") != NULL);
    }
    const int bad[3] = {0, 12, 48};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(io_fetch_models_check_leads(&bad[i], 1) == UTIL_EINVAL);
        CU_ASSERT(strstr(util_last_message(), "1, 3, 6 and 24 h") != NULL);
    }
}

static void test_html(void) {
    static const char *const pages[] = {"<!DOCTYPE html>\n<html>", "\xEF\xBB\xBF  <html lang=\"en\">", "\r\n\t<HTML>",
                                        "<?xml version=\"1.0\"?><html", "<!-- portal --><html>", "<head><title>"};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        CU_ASSERT(io_fetch_models_looks_html((const unsigned char *)pages[i], strlen(pages[i])));
    /* an ONNX ModelProto opens with field 1 (ir_version, varint): byte 0x08 */
    const unsigned char onnx[8] = {0x08, 0x07, 0x12, 0x07, 'p', 'y', 't', 'o'};
    CU_ASSERT(!io_fetch_models_looks_html(onnx, sizeof onnx));
    CU_ASSERT(!io_fetch_models_looks_html((const unsigned char *)"<htm", 4)); /* too short to tell */
    CU_ASSERT(!io_fetch_models_looks_html((const unsigned char *)"", 0));
}

int tests_register_fetch_models(void) {
    CU_pSuite s = CU_add_suite("fetch_models", NULL, NULL);
    if (!s) return 1;
    if (!CU_add_test(s, "leads: 24 and 6 served, 1 and 3 h named on the official drives, others refused", test_leads) ||
        !CU_add_test(s, "an HTML page told from an ONNX model by its first bytes", test_html))
        return 1;
    return 0;
}
