/* pangu: the Pangu-Weather forecaster's single binary. */
#define _GNU_SOURCE /* mallopt, sched_getaffinity */
#include <hdf5.h>
#include <netcdf.h>
#include <malloc.h>
#include <omp.h>
#include <sched.h>
#include <signal.h>
#ifdef PANGU_MPI
#include <mpi.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../io/io.h"
#include "../model/model.h"
#include "../util/threads.h"
#include "../util/util.h"
#include "cli.h"

/* One row per subcommand: name, handler, synopsis, summary (one line: the
 * man page's NAME, help --summary) and what follows it in pangu --help. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis, *summary, *more;
} commands[] = {
    {"step", cli_step,
     "--model M.h5|M.onnx --input FILE [--input FILE ...] --output OUT.nc [--time YYYY-MM-DDTHH]\n"
     "         [--lead H] [--precision auto|fp32|bf16] [--profile] [--repeat N]",
     "one model step: the state at t + lead from the state at t", ""},
    {"info", cli_info,
     "M.h5|M.onnx [--lead H]",
     "a model's configuration, variant, lead time, parameter count and FLOPs per step", ""},
    {"import", cli_import,
     "--onnx pangu_weather_24.onnx [--lead 24] --output M.h5",
     "a released Pangu-Weather ONNX model into the HDF5 model format (version 2)", ""},
    {"init", cli_init,
     "--preset tiny|small|full [--grid H,W] [--dim C] [--depths a,b,c,d] [--heads a,b,c,d]\n"
     "         [--window z,h,w] [--levels p1,p2,...] [--lead H] [--seed S] [--std X]\n"
     "         [--stats STATS.nc] [--constants INVARIANT.nc] --output M.h5",
     "a randomly initialised model", ""},
    {"plan", cli_plan,
     "--leads SPEC [--models 1,3,6,24]",
     "the hierarchical lead-time plan: one line per model call, in execution order", ""},
    {"forecast", cli_forecast,
     "[--config FILE] [--model-24h M.h5 ...] [--input FILES] [--init TIMES] [--leads SPEC] [--output PATTERN]",
     "batch forecasts through the lead-time hierarchy", " (pangu forecast --help for every key)"},
    {"stats", cli_stats,
     "--input FILES [--start T] [--end T] [--every H] [--climatology-hours 6] [--smoothing 61] --output S.nc",
     "per variable and level mean and std (and a day-of-year climatology) over a period", ""},
    {"grad", cli_grad,
     "--model M.h5|M.onnx --input X.nc --target Y.nc --output G.h5 [--lead H]",
     "training loss and the gradient of every trainable tensor for one sample", ""},
    {"train", cli_train,
     "[--config FILE] [--init M.h5] [--input FILES] [--train-start T] [--train-end T] [--steps N] ...",
     "train one lead-time model", " (pangu train --help for every key); --resume yes continues"},
    {"synth", cli_synth,
     "[--grid H,W] [--start T] [--hours N] [--step-hours K] [--format legacy|cds2024] --output DIR",
     "a synthetic reanalysis in ERA5 layouts", " (monthly pressure-level and single-level files);\n"
     "         --forecast-from T|T0/T1/H: synthetic numerical forecasts from those initial times"},
    {"eval", cli_eval,
     "--forecast F [...] --truth T [...] [--climatology C] [--baseline persistence|climatology|NAME=FILES[@T]]\n"
     "         [--name NAME] [--init T] [--rmse-per-time] [--regions LIST] [--levels LIST] [--report DIR [--map-leads 24,120]]\n"
     "         --output scores.csv\n"
     "         or --tracks tracks.csv [...] --best-track IBTRACS.csv [--report DIR] [--heterogeneous] --output track_scores.csv",
     "verification scores per source, variable, level, lead and region", "; cyclone track errors by source and lead"},
    {"regrid", cli_regrid,
     "--factor K --input IN.nc --output OUT.nc",
     "conservative (area-weighted, as cdo remapcon) coarsening of every latitude-longitude field by K", ""},
    {"fetch", cli_fetch,
     "--source ecmwf-opendata|gfs|cds --time T[/T1/H] [--leads SPEC] [--url ROOT] --output DIR",
     "initial conditions (or IFS, GFS forecasts) from ECMWF open data, NCEP or the CDS", " (pangu fetch --help);\n"
     "         --source pangu-models [--leads 24,6] --output DIR: the released models from ai-models' mirror"},
    {"tune", cli_tune,
     "[--seconds 3] [--show] [--output FILE]",
     "measure the FP32 kernels' blocking on this CPU and cache it for every command", " (--no-tune: not used)"},
    {"track", cli_track,
     "--forecast FILES --best-track IBTRACS.csv|BDECK --output tracks.csv [--name SOURCE] [--storm SID|NAME ...]\n"
     "         [--basin LIST] [--land-sea-mask FILE] [--atcf DIR] [--start LAT,LON]",
     "tropical cyclone tracks through forecasts from best-track initial positions", " (docs/cyclones.md)"},
    /* new subcommands: add a row here and declare the handler in cli.h */
};

static void usage(FILE *f) {
    fprintf(f, "pangu %s: Pangu-Weather forecasts, training and verification\n", PANGU_VERSION);
    fprintf(f, "Usage: pangu COMMAND [options]\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-6s %s\n         %s%s\n", commands[i].name, commands[i].synopsis, commands[i].summary, commands[i].more);
    fprintf(f, "Every command: --help (every option, its range and default), --threads N, --no-plausibility-check,\n"
               "--no-tune (the blocking from the cache sizes, not pangu tune's cache: reproducible timing).\n"
               "Kernels: avx512, avx2 (PANGU_NO_AVX512=1), OpenBLAS (PANGU_NO_AVX2=1); BF16 on AMX tiles where available\n"
               "(PANGU_NO_AMX=1: AVX512_BF16; pangu tune --show says which).\n"
               "pangu help COMMAND is pangu COMMAND --help; pangu help --summary COMMAND its one line above;\n"
               "pangu --version prints the version.\n"
               "--out is --output in every command that writes; pangu info M.h5 is pangu info --model M.h5.\n");
}

int cli_error(const char *cmd, int status) {
    fprintf(stderr, "pangu %s: %s\n", cmd, status ? util_last_message() : "usage error");
    return 2;
}

int cli_parse_ints(const char *s, int *out, int n) {
    const char *p = s;
    for (int k = 0; k < n; k++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000) return -1;
        out[k] = (int)v;
        if (k + 1 < n && *end != ',') return -1;
        if (k + 1 == n && *end != 0) return -1;
        p = end + 1;
    }
    return 0;
}

void cli_history(int argc, char **argv, char *out, size_t cap) {
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    size_t o = (size_t)snprintf(out, cap, "%s: pangu", when);
    if (!io_plausibility_on()) o += (size_t)snprintf(out + o, cap - o, " --no-plausibility-check");
    for (int i = 0; i < argc && o < cap; i++) {
        const char *a = argv[i];
        int quote = !a[0] || strpbrk(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") != NULL;
        if (!quote) {
            o += (size_t)snprintf(out + o, cap - o, " %s", a);
            continue;
        }
        o += (size_t)snprintf(out + o, cap - o, " '");
        for (const char *p = a; *p && o < cap; p++)
            o += (size_t)(*p == '\'' ? snprintf(out + o, cap - o, "'\\''") : snprintf(out + o, cap - o, "%c", *p));
        if (o < cap) o += (size_t)snprintf(out + o, cap - o, "'");
    }
    if (o >= cap && cap > 4) strcpy(out + cap - 4, "...");
}

int main(int argc, char **argv) {
    /* Files are closed explicitly; HDF5's exit-time cleanup would crash
     * after a failed write (full disk) left a file half-closed. */
    H5dont_atexit();
    /* Past `ulimit -f` a write fails with EFBIG and takes the normal error
     * path (message, temporary file removed) instead of killing the process. */
    signal(SIGXFSZ, SIG_IGN);
    util_cleanup_on_signals(); /* SIGINT/SIGTERM: temporaries removed, then the default action */
    /* One line per error: HDF5's own error stack would print dozens first. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* HDF5 allocates a buffer per compressed chunk it inflates (4 MB per field
     * at 0.25 degrees). Above glibc's default threshold each would be a fresh
     * mmap, zero-filled page by page and unmapped again: a third of the time
     * of reading ERA5. Keep such buffers on the heap and reuse them. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_TOP_PAD, 256 << 20);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        /* nc_inq_libvers() reads "4.9.0 of <build date> $": the version is its first word */
        const char *nc = nc_inq_libvers();
        printf("pangu (pangu-c) %s\nPangu-Weather (Bi et al., Nature 2023) in C; built with netCDF-C %.*s, HDF5 %d.%d.%d\n",
               PANGU_VERSION, (int)strcspn(nc, " "), nc, H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE);
        return 0;
    }
    /* pangu help [COMMAND]: the command's --help */
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        int summary = argc == 4 && strcmp(argv[2], "--summary") == 0; /* the man pages' NAME line */
        const char *name = argv[summary ? 3 : 2];
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (strcmp(name, commands[i].name) == 0) {
                if (summary) return puts(commands[i].summary) < 0;
                char *hargv[3] = {argv[2], "--help", NULL};
                return commands[i].run(2, hargv);
            }
        fprintf(stderr, "pangu help: unknown command '%s'\n", name);
        usage(stderr);
        return 2;
    }
    /* --no-plausibility-check (any command): the expert override of the
     * checks of units and grids (io_state_check_plausible), taken out here */
    /* --threads N (any command): OpenMP threads, by default the cores this
     * process may use (its CPU affinity, as a batch system sets it) */
    int kept = 1, threads = 0, tune = 1, plausibility = 1;
    char **argv0 = malloc(sizeof *argv0 * (size_t)(argc + 1)); /* for a re-exec: argv is edited below */
    if (argv0) memcpy(argv0, argv, sizeof *argv0 * (size_t)(argc + 1));
    for (int i = 1; i < argc; i++) {
        /* each once, as every command's options */
        if (strcmp(argv[i], "--no-plausibility-check") == 0) {
            if (!plausibility) return fprintf(stderr, "pangu: --no-plausibility-check given twice: give it once\n"), 2;
            io_plausibility(plausibility = 0);
        } else if (strcmp(argv[i], "--no-tune") == 0) {
            if (!tune) return fprintf(stderr, "pangu: --no-tune given twice: give it once\n"), 2;
            tune = 0;
        } else if (strcmp(argv[i], "--threads") == 0 || strncmp(argv[i], "--threads=", 10) == 0) {
            const char *v = argv[i][9] == '=' ? argv[i] + 10 : i + 1 < argc ? argv[++i] : NULL;
            long long n;
            if (util_parse_long("--threads", v, 1, 4096, &n)) return fprintf(stderr, "pangu: %s\n", util_last_message()), 2;
            if (threads)
                return fprintf(stderr, "pangu: --threads given twice ('%d' and '%s'): it takes one value\n", threads, v), 2;
            threads = (int)n;
        } else argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    if (argc < 2) { /* only global options (pangu --threads 2): no command */
        free(argv0);
        usage(stderr);
        return 2;
    }
    if (!threads) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) threads = CPU_COUNT(&set);
        const char *env = getenv("OMP_NUM_THREADS");
        if (env && *env) threads = 0; /* the user's own setting wins */
    }
    if (threads > 0) omp_set_num_threads(threads);
    /* Commands whose OpenMP threads compute: their idle threads must sleep,
     * not spin (util_threads_passive; it re-executes pangu once). */
    static const char *const parallel[] = {"step", "forecast", "grad", "train", "stats", "eval", "regrid"};
    for (int i = 2; argv0 && i < argc; i++) /* nothing computes: no second start-up */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--dry-run") == 0)
            free(argv0), argv0 = NULL;
    for (size_t i = 0; argv0 && i < sizeof parallel / sizeof parallel[0]; i++)
        if (strcmp(argv[1], parallel[i]) == 0 && omp_get_max_threads() > 1) util_threads_passive(argv0);
    free(argv0);
    /* --no-tune (any command): the kernels' blocking from the cache sizes
     * only; otherwise pangu tune's cache for this CPU, if there is one */
    if (!tune) model_tune_disable();
    else if (strcmp(argv[1], "tune") != 0 && model_tune_load(NULL)) /* pangu tune replaces a damaged cache */
        return fprintf(stderr, "pangu: %s\n", util_last_message()), 2;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
#ifdef PANGU_MPI
            MPI_Init(&argc, &argv);
            int rc = commands[i].run(argc - 1, argv + 1), worst = rc;
            if (rc) util_remove_created_dirs();
            /* Every rank exits with the worst status of all. */
            MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
            MPI_Finalize();
            return worst;
#else
            int rc = commands[i].run(argc - 1, argv + 1);
            if (rc) util_remove_created_dirs(); /* a failed command leaves no empty output directory */
            return rc;
#endif
        }
    fprintf(stderr, "pangu: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
