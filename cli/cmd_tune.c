/* pangu tune: measure the packed kernels' blocking on this CPU and cache it.
 *
 * The step's blocking comes from the cache sizes (model/tune.c); this
 * command measures a few candidates around them on the linear layers'
 * shapes (a few seconds) and the BF16 rate, and writes the best per CPU
 * model to the user's cache directory, where every command finds it
 * (unless --no-tune). Results never depend on the blocking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/model.h"
#include "../util/util.h"
#include "cli.h"

static const cfg_key tune_keys[] = {
    {"tune", "seconds", "3", "measuring time in seconds, over all candidates", CFG_REAL, 0.5, 600},
    {"tune", "show", NULL, "print the CPU, its caches, the kernel, the blockings in use and the cache file; measure nothing",
     CFG_SWITCH},
    {"tune", "output", NULL, "the cache file to write (default: $XDG_CACHE_HOME/pangu-c/tune-CPU.txt, else "
                             "~/.cache/pangu-c/tune-CPU.txt)"},
};

static void show(const char *path) {
    /* main does not load the cache for pangu tune (which replaces a damaged one): here, as any other command would */
    int bad = model_tune_enabled() && model_tune_load(path);
    char cpu[128];
    model_cpu_name(cpu, sizeof cpu);
    int k = model_kernel();
    printf("cpu: %s\n", cpu);
    printf("caches: L1d %ld KB, L2 %ld KB, L3 %ld KB\n", model_cache_bytes(1) / 1024, model_cache_bytes(2) / 1024,
           model_cache_bytes(3) / 1024);
    printf("kernel: %s (FP32); bf16: %s; amx_bf16: %s\n", model_kernel_name(k),
           model_bf16_available() ? "AVX512_BF16" : "no", model_cpu_amx() ? "yes" : "no");
    printf("amx tile path: %s\n", model_bf16_amx_status());
    for (int kern = MODEL_KERNEL_AVX512; kern >= MODEL_KERNEL_AVX2; kern--) {
        model_blocking d, b;
        model_blocking_default(kern, &d);
        model_blocking_get(kern, &b);
        printf("blocking %s: mc %d kc %d (from the caches: mc %d kc %d)\n", model_kernel_name(kern), b.mc, b.kc, d.mc, d.kc);
    }
    if (bad) printf("tune cache: %s, not usable: %s\n", path, util_last_message());
    else printf("tune cache: %s%s\n", path, model_tune_enabled() ? "" : " (not used: --no-tune)");
}

int cli_tune(int argc, char **argv) {
    cfg opt;
    int rc = CLI_ARGS(&opt, tune_keys, argc, argv, "tune", "[--seconds 3] [--show] [--output FILE]",
                      "Measure the FP32 kernels' blocking on this CPU (a few candidates on the model's shapes) and "
                      "the BF16 rate; cache the best per CPU model for every command.");
    if (rc) return rc < 0 ? 0 : rc;
    char path[1024];
    int status;
    const char *out = cfg_get(&opt, "output");
    if (out) snprintf(path, sizeof path, "%s", out);
    else if ((status = model_tune_path(path, sizeof path))) return cfg_free(&opt), cli_error("tune", status);
    if (cfg_get_yesno(&opt, "show")) {
        show(path);
        cfg_free(&opt);
        return 0;
    }
    if (model_kernel() == MODEL_KERNEL_BLAS) {
        cfg_free(&opt);
        fprintf(stderr, "pangu tune: the FP32 step runs OpenBLAS on this CPU (no AVX2 + FMA, or PANGU_NO_AVX2): "
                        "nothing to tune\n");
        return 2;
    }
    model_tune t;
    double t0 = util_now();
    /* measured from the defaults, not from an older cache's choice */
    for (int k = 0; k < 3; k++) model_blocking_set(k, NULL);
    if ((status = model_tune_run(&t, cfg_get_real(&opt, "seconds"), stderr)) || (status = model_tune_save(&t, path)))
        return cfg_free(&opt), cli_error("tune", status);
    for (int k = MODEL_KERNEL_AVX512; k >= MODEL_KERNEL_AVX2; k--)
        if (t.blocking[k].kc) {
            model_blocking_set(k, &t.blocking[k]);
            printf("%s: mc %d kc %d, %.1f GFLOP/s\n", model_kernel_name(k), t.blocking[k].mc, t.blocking[k].kc, t.gflops[k]);
        }
    if (t.bf16_gflops > 0)
        printf("bf16: %.1f GFLOP/s (%.2fx FP32: --precision auto %s)\n", t.bf16_gflops, t.bf16_gflops / t.fp32_gflops,
               t.bf16_gflops > t.fp32_gflops ? "takes BF16 where allowed (allow_bf16)" : "stays FP32");
    printf("pangu tune: %s, %d threads, %.1f s; written to %s\n", t.cpu, t.threads, util_now() - t0, path);
    cfg_free(&opt);
    return 0;
}
