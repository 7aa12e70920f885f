/* Suite "tune": what pangu tune leaves for later runs (model/tune.c and the
 * blocking state it fills in model/cpu.c): the tune cache (a round trip, its
 * blockings applied, strict parsing of a damaged file, another CPU's refused)
 * and precision auto chosen from the cached FP32 and BF16 rates, with the
 * warning for an explicit bf16 that is slower. */
#define _DEFAULT_SOURCE
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/internal.h"
#include "tests.h"
#include "util/util.h"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* The tune cache: a round trip, its blockings applied, and strict parsing
 * (each bad file refused naming the file, nothing applied). */
static void test_tune_cache(void) {
    char path[256], cpu[128], text[1024];
    snprintf(path, sizeof path, "/tmp/pangu_test_tune_%d.txt", (int)getpid());
    model_cpu_name(cpu, sizeof cpu);
    model_tune t = {{0}}, r;
    snprintf(t.cpu, sizeof t.cpu, "%s", cpu);
    t.kernel = MODEL_KERNEL_AVX2, t.threads = 3;
    t.blocking[MODEL_KERNEL_AVX2] = (model_blocking){66, 160};
    t.blocking[MODEL_KERNEL_AVX512] = (model_blocking){70, 96};
    t.gflops[MODEL_KERNEL_AVX2] = 50.5, t.fp32_gflops = 50.5, t.bf16_gflops = 99.25;
    CU_ASSERT_FATAL(model_tune_save(&t, path) == 0);
    CU_ASSERT_FATAL(model_tune_read(&r, path) == 0);
    CU_ASSERT(strcmp(r.cpu, cpu) == 0 && r.kernel == MODEL_KERNEL_AVX2 && r.threads == 3);
    CU_ASSERT(r.blocking[MODEL_KERNEL_AVX2].mc == 66 && r.blocking[MODEL_KERNEL_AVX2].kc == 160);
    CU_ASSERT(r.blocking[MODEL_KERNEL_AVX512].mc == 70 && r.blocking[MODEL_KERNEL_AVX512].kc == 96);
    CU_ASSERT(fabs(r.bf16_gflops - 99.2) < 0.11 && fabs(r.fp32_gflops - 50.5) < 1e-9);
    CU_ASSERT(model_tune_load(path) == 0);
    model_blocking b;
    model_blocking_get(MODEL_KERNEL_AVX2, &b);
    CU_ASSERT(b.mc == 66 && b.kc == 160);
    model_blocking_set(MODEL_KERNEL_AVX2, NULL), model_blocking_set(MODEL_KERNEL_AVX512, NULL);
    model_blocking_get(MODEL_KERNEL_AVX2, &b);
    model_blocking d;
    model_blocking_default(MODEL_KERNEL_AVX2, &d);
    CU_ASSERT(b.mc == d.mc && b.kc == d.kc && d.kc >= 32 && d.kc <= MODEL_KC_MAX && d.mc >= 16);
    static const char *const bad[] = {
        "avx2_mc=66\navx2_kc=160\n",                     /* no cpu line */
        "cpu=%s\navx2_mc=66\n",                          /* mc without kc */
        "cpu=%s\navx2_mc=66\navx2_kc=16000\n",          /* kc out of range */
        "cpu=%s\navx2_mc=6x\navx2_kc=160\n",            /* not a number */
        "cpu=%s\navx2_mc=66.5\navx2_kc=160\n",          /* not whole */
        "cpu=%s\nmc=66\n",                              /* unknown key */
        "cpu=%s\ncpu=%s\n",                             /* twice */
        "cpu=%s\nkernel=sse\n",                         /* unknown kernel */
        "cpu=%s\njust words\n",                         /* no = */
        "cpu=Some Other CPU 9000\navx2_mc=66\navx2_kc=160\n", /* another CPU's */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, bad[i], cpu, cpu);
        write_text(path, text);
        CU_ASSERT(model_tune_read(&r, path) == UTIL_EFORMAT);
        CU_ASSERT(strstr(util_last_message(), path) != NULL);
        CU_ASSERT(model_tune_load(path) == UTIL_EFORMAT);
        model_blocking_get(MODEL_KERNEL_AVX2, &b);
        CU_ASSERT(b.mc == d.mc && b.kc == d.kc); /* nothing applied */
    }
    remove(path);
    CU_ASSERT(model_tune_read(&r, path) == 0 && r.cpu[0] == 0); /* no file: nothing, no error */
}

/* --precision auto against cached rates (XDG_CACHE_HOME in a temporary
 * directory): FP32 unless allowed; BF16 only where it is 10% faster; the
 * warning for an explicit bf16 that is slower. */
static void test_precision_auto(void) {
    char dir[256], path[1024], cpu[128], text[512];
    snprintf(dir, sizeof dir, "/tmp/pangu_test_xdg_%d", (int)getpid());
    const char *old = getenv("XDG_CACHE_HOME");
    char saved[512] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("XDG_CACHE_HOME", dir, 1);
    CU_ASSERT_FATAL(model_tune_path(path, sizeof path) == 0);
    CU_ASSERT(strncmp(path, dir, strlen(dir)) == 0 && strstr(path, "/pangu-c/tune-") != NULL);
    model_cpu_name(cpu, sizeof cpu);
    int p = -1;
    CU_ASSERT(model_precision_auto(&p, 0) == 0 && p == MODEL_FP32); /* not allowed: nothing measured or written */
    FILE *f = fopen(path, "r");
    CU_ASSERT(f == NULL);
    if (f) fclose(f);
    model_tune t = {{0}};
    snprintf(t.cpu, sizeof t.cpu, "%s", cpu);
    t.kernel = model_kernel(), t.threads = 2, t.fp32_gflops = 100, t.bf16_gflops = 200;
    CU_ASSERT_FATAL(model_tune_save(&t, NULL) == 0);
    CU_ASSERT(model_precision_auto(&p, 1) == 0);
    CU_ASSERT(p == (model_bf16_available() ? MODEL_BF16 : MODEL_FP32));
    t.bf16_gflops = 105; /* faster, but within the margin */
    CU_ASSERT_FATAL(model_tune_save(&t, NULL) == 0);
    CU_ASSERT(model_precision_auto(&p, 1) == 0 && p == MODEL_FP32);
    t.bf16_gflops = 60;
    CU_ASSERT_FATAL(model_tune_save(&t, NULL) == 0);
    CU_ASSERT(model_precision_auto(&p, 1) == 0 && p == MODEL_FP32);
    if (model_bf16_available()) {
        char *buf = NULL;
        size_t len = 0;
        FILE *log = open_memstream(&buf, &len);
        CU_ASSERT(model_precision_warn(MODEL_BF16, log) == 0);
        CU_ASSERT(model_precision_warn(MODEL_BF16, log) == 0); /* once */
        fclose(log);
        CU_ASSERT(buf && strstr(buf, "60 against 100 GFLOP/s") != NULL && strchr(buf, '\n') == buf + len - 1);
        free(buf);
    }
    snprintf(text, sizeof text, "cpu=%s\nbf16_gflops=fast\n", cpu);
    write_text(path, text);
    CU_ASSERT(model_precision_auto(&p, 1) == (model_bf16_available() ? UTIL_EFORMAT : 0));
    remove(path);
    snprintf(text, sizeof text, "%s/pangu-c", dir);
    rmdir(text), rmdir(dir);
    if (old) setenv("XDG_CACHE_HOME", saved, 1);
    else unsetenv("XDG_CACHE_HOME");
}

int tests_register_tune(void) {
    CU_pSuite s = CU_add_suite("tune", NULL, NULL);
    if (!s) return -1;
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"tune cache: round trip, applied, strict parsing", test_tune_cache},
        {"precision auto from the cached rates, the slower-BF16 warning", test_precision_auto},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return -1;
    return 0;
}
