/* model cpu: what this CPU runs and how the kernels block their loops: the
 * CPU features (CPUID), the kernel set chosen for the FP32 step, BF16
 * availability, the cache sizes, the blocking state the packed kernels read
 * (set by `pangu tune`'s cache or tests) and the attention grouping. The
 * bottom layer of model/: it calls nothing else in model/. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/util.h"
#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(PANGU_PORTABLE)
#include <cpuid.h>
#define MODEL_CPU_X86 1
#define TUNE_X86 1
#else
#define MODEL_CPU_X86 0
#define TUNE_X86 0
#endif

static int cpu_avx512(void) {
#if MODEL_CPU_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

static int cpu_avx2(void) {
#if MODEL_CPU_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int env_on(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

int model_kernel(void) {
    if (env_on("PANGU_NO_AVX2")) return MODEL_KERNEL_BLAS; /* tests: act as a CPU without AVX2 (nor AVX-512) */
    if (!env_on("PANGU_NO_AVX512") && cpu_avx512()) return MODEL_KERNEL_AVX512;
    return cpu_avx2() ? MODEL_KERNEL_AVX2 : MODEL_KERNEL_BLAS;
}

const char *model_kernel_name(int kernel) {
    return kernel == MODEL_KERNEL_AVX512 ? "avx512" : kernel == MODEL_KERNEL_AVX2 ? "avx2" : "blas";
}

int model_cpu_amx(void) {
#if MODEL_CPU_X86
    /* CPUID leaf 7, subleaf 0: EDX bit 22 is AMX-BF16 */
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    if (a < 7) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return (d >> 22) & 1;
#else
    return 0;
#endif
}

int model_x86_kernels(void) { return MODEL_CPU_X86; }

int model_f32_available(void) { return model_kernel() != MODEL_KERNEL_BLAS; }

int model_bf16_available(void) {
    const char *off = getenv("PANGU_NO_BF16"); /* tests: act as a CPU without AVX512_BF16 */
    if (off && *off && strcmp(off, "0") != 0) return 0;
#if MODEL_CPU_X86
    /* PANGU_NO_AVX512 / PANGU_NO_AVX2 act as a CPU without AVX-512: no BF16 either */
    return model_kernel() == MODEL_KERNEL_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

/* ---- blocking of the packed kernels ---- */
/* The blocking of the packed FP32 kernels, from this CPU.
 *
 * The kernels (model/fast/avx512.c, model/fast/avx2.c) stream a block of MC rows by KC
 * inputs of activations past a weight panel slice of KC inputs: the slice
 * should stay in L1 while the block's rows pass, and the block in L2 while
 * every panel of the layer passes, with room left for the block's outputs
 * (the fused GELU and LayerNorm read them back). The fixed MC = 112, KC = 256
 * were measured on a 48 KB L1 / 1 MB L2 AMD EPYC; a CPU with a 32 KB L1 or a
 * 256 KB L2 wants smaller blocks. So the defaults come from the cache sizes:
 *
 *   kc = 2/3 L1 / (bytes of weights per input of the micro-kernel's columns)
 *        (AVX-512: 32 columns, 128 B; AVX2: 16 columns, 64 B, half of L1
 *        since its 6 activation rows of kc floats share L1 too)
 *   mc = L2 / 8 / (4 kc)   (the block an eighth of L2: outputs and the
 *        next panels need the rest)
 *
 * rounded to multiples of 32 inputs and 2 rows. Sizes from sysconf
 * (_SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE), else CPUID leaf 4
 * (Intel) or 0x8000001D (AMD), else 32 KB and 1 MB. `pangu tune`
 * (cli/cmd_tune.c) measures a few candidates around them and caches the best
 * per CPU model (model_tune_save / model_tune_load). The blocking never
 * changes results: every output's sum runs in input order from [out] +
 * [bias] whatever the blocks (tests/test_avx2.c checks it). */

/* Explicitly set blockings (tune cache, tests); zero: the cache-derived default. */
static model_blocking chosen[3];

#if TUNE_X86
/* Size in bytes of the data or unified cache of `level` from the
 * deterministic cache parameters leaf (4 on Intel, 0x8000001D on AMD). */
static long cpuid_cache(unsigned leaf, int level) {
    unsigned a, b, c, d, max = __get_cpuid_max(leaf & 0x80000000u, NULL);
    if (max < leaf) return 0;
    for (unsigned i = 0; i < 16; i++) {
        __cpuid_count(leaf, i, a, b, c, d);
        unsigned type = a & 31, lvl = (a >> 5) & 7;
        if (type == 0) break;
        if ((type == 1 || type == 3) && (int)lvl == level)
            return (long)(((b >> 22) & 1023) + 1) * (((b >> 12) & 1023) + 1) * ((b & 4095) + 1) * ((long)c + 1);
    }
    return 0;
}
#endif

long model_cache_bytes(int level) {
    long s = -1;
#ifdef _SC_LEVEL1_DCACHE_SIZE
    if (level == 1) s = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    else if (level == 2) s = sysconf(_SC_LEVEL2_CACHE_SIZE);
    else if (level == 3) s = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
#if TUNE_X86
    if (s <= 0) s = cpuid_cache(4, level);
    if (s <= 0) s = cpuid_cache(0x8000001Du, level);
#endif
    if (s <= 0) s = level == 1 ? 32768 : level == 2 ? 1048576 : 8388608;
    return s;
}

void model_cpu_name(char *buf, size_t len) {
    char name[49] = "";
#if TUNE_X86
    if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++) __cpuid(0x80000002u + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        memcpy(name, r, 48);
        name[48] = 0;
    }
#endif
    if (!name[0]) { /* other architectures: the kernel's name for it */
        FILE *f = fopen("/proc/cpuinfo", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
                snprintf(name, sizeof name, "%s", strchr(line, ':') + 1);
                break;
            }
        if (f) fclose(f);
    }
    /* trimmed, inner runs of blanks as one */
    size_t o = 0;
    for (const char *p = name; *p && o + 1 < len; p++) {
        if ((*p == ' ' || *p == '\t' || *p == '\n') && (o == 0 || buf[o - 1] == ' ')) continue;
        buf[o++] = *p == '\t' || *p == '\n' ? ' ' : *p;
    }
    while (o > 0 && buf[o - 1] == ' ') o--;
    if (len) buf[o < len ? o : len - 1] = 0;
    if (len && !buf[0]) snprintf(buf, len, "unknown CPU");
}

static int clampi(long v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }

void model_blocking_default(int kernel, model_blocking *b) {
    long l1 = model_cache_bytes(1), l2 = model_cache_bytes(2);
    long per_input = kernel == MODEL_KERNEL_AVX2 ? 64 : 128;
    long kc = kernel == MODEL_KERNEL_AVX2 ? l1 / 2 / per_input : l1 * 2 / 3 / per_input;
    b->kc = clampi(kc / 32 * 32, 32, MODEL_KC_MAX);
    b->mc = clampi(l2 / 8 / (4L * b->kc) / 2 * 2, 16, 4096);
}

/* The defaults, derived once before any kernel reads them (the first call
 * may come from inside an OpenMP loop). */
static model_blocking derived[3];
static pthread_once_t derived_once = PTHREAD_ONCE_INIT;
static void derive(void) {
    for (int k = 0; k < 3; k++) model_blocking_default(k, &derived[k]);
}

void model_blocking_get(int kernel, model_blocking *b) {
    int k = kernel >= 0 && kernel < 3 ? kernel : 0;
    if (chosen[k].kc) *b = chosen[k];
    else {
        pthread_once(&derived_once, derive);
        *b = derived[k];
    }
}

int model_blocking_is_set(int kernel) { return kernel >= 0 && kernel < 3 && chosen[kernel].kc != 0; }

int model_blocking_set(int kernel, const model_blocking *b) {
    if (kernel < 0 || kernel > 2) return util_fail(UTIL_EINVAL, "blocking: kernel %d: expected 0..2", kernel);
    if (!b) {
        memset(&chosen[kernel], 0, sizeof chosen[kernel]);
        return UTIL_OK;
    }
    if (b->mc < 1 || b->mc > 4096) return util_fail(UTIL_EINVAL, "blocking: mc %d: expected 1..4096", b->mc);
    if (b->kc < 8 || b->kc > MODEL_KC_MAX)
        return util_fail(UTIL_EINVAL, "blocking: kc %d: expected 8..%d", b->kc, MODEL_KC_MAX);
    chosen[kernel] = *b;
    return UTIL_OK;
}


/* ---- attention grouping ---- */

/* Windows per attention group: groups whose rows fit L2 (the input and
 * q, k, v: 16 C bytes a row), because a whole type's rows overflowed L2
 * between the gather, the q, k, v GEMM, attention and the projection
 * (measurements: docs/speed.md, "Kernel design measurements"). */
static int attention_rows_forced;
void model_attention_rows_set(int rows) { attention_rows_forced = rows > 0 ? rows : 0; }
int model_attention_group(int N, int C, int nW) {
    long rows = attention_rows_forced;
    if (!rows) rows = model_cache_bytes(2) / (16L * (C > 0 ? C : 1));
    long g = N > 0 ? rows / N : 1;
    if (g < 1) g = 1;
    if (g > nW) g = nW;
    long ngroups = (nW + g - 1) / g; /* groups of a type of equal size */
    return nW > 0 ? (int)((nW + ngroups - 1) / ngroups) : 1;
}

