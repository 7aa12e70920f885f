/* An example of the public C API (pangu.h), built against an installed
 * libpangu by tests/install_test.sh:
 *     cc api_example.c $(pkg-config --cflags --libs pangu) -o api_example
 * Usage: api_example MODEL INPUT OUT.f32 [FORECAST.nc INIT LEADS]
 * One step of MODEL from the state in INPUT, written as raw float32 (the
 * upper-air array, then the surface array); with FORECAST.nc also a forecast
 * job of that model from INPUT at INIT to LEADS (as `pangu forecast`).
 * Errors: the status's name and the library's message, exit 2. */
#include <pangu.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, int status) {
    fprintf(stderr, "api_example: %s: %s (%s)\n", what, pangu_last_error(), pangu_strerror(status));
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: api_example MODEL INPUT OUT.f32 [FORECAST.nc INIT LEADS]\n");
        return 2;
    }
    pangu_model *m;
    int status = pangu_model_open(&m, argv[1], 0);
    if (status) return fail("open", status);
    int H, W, L;
    float levels[PANGU_MAX_LEVELS];
    if ((status = pangu_model_shape(m, &H, &W, &L)) || pangu_model_levels(m, levels, PANGU_MAX_LEVELS) != L) {
        pangu_model_close(m);
        return fail("shape", status ? status : PANGU_EINVAL);
    }
    printf("libpangu %s: %s: %d x %d grid, %d levels (%g to %g hPa), %d h, format %d, %d threads\n", pangu_version(),
           argv[1], H, W, L, levels[0], levels[L - 1], pangu_model_lead_hours(m), pangu_model_format(m), pangu_threads());
    size_t nu = pangu_model_upper_size(m), ns = pangu_model_surface_size(m);
    float *upper = malloc(sizeof(float) * nu), *surface = malloc(sizeof(float) * ns);
    float *upper_out = malloc(sizeof(float) * nu), *surface_out = malloc(sizeof(float) * ns);
    int rc = 0;
    if (!upper || !surface || !upper_out || !surface_out) {
        fprintf(stderr, "api_example: out of memory\n");
        rc = 2;
        goto done;
    }
    const char *inputs[1] = {argv[2]};
    double valid;
    /* the _sized forms check the arrays' lengths against the model's grid */
    if ((status = pangu_read_input_sized(m, inputs, 1, NULL, upper, nu, surface, ns, &valid))) {
        rc = fail("read", status);
        goto done;
    }
    if ((status = pangu_step_sized(m, upper_out, nu, surface_out, ns, upper, nu, surface, ns))) {
        rc = fail("step", status);
        goto done;
    }
    FILE *f = fopen(argv[3], "wb");
    if (!f || fwrite(upper_out, sizeof(float), nu, f) != nu || fwrite(surface_out, sizeof(float), ns, f) != ns ||
        fclose(f) != 0) {
        fprintf(stderr, "api_example: cannot write %s\n", argv[3]);
        rc = 2;
        goto done;
    }
    printf("step: %s %g .. written to %s\n", pangu_variable_name(0), upper_out[0], argv[3]);
    if (argc == 7) {
        pangu_forecast_options o;
        pangu_forecast_options_init(&o);
        const char *models[1] = {argv[1]};
        int model_leads[1] = {pangu_model_lead_hours(m)};
        o.nmodels = 1, o.model_files = models, o.model_leads = model_leads;
        o.ninputs = 1, o.input_files = inputs;
        o.init = argv[5], o.leads = argv[6], o.output = argv[4];
        o.log = stderr;
        if ((status = pangu_forecast(&o))) {
            rc = fail("forecast", status);
            goto done;
        }
        printf("forecast: %s\n", argv[4]);
    }
done:
    free(upper), free(surface), free(upper_out), free(surface_out);
    pangu_model_close(m);
    return rc;
}
