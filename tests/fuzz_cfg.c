/* libFuzzer harness of the configuration parser (make fuzz): arbitrary INI
 * text through libinih and the schema checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "configs/cfg.h"

static const cfg_key schema[] = {{"a", "x", "1", ""}, {"a", "model_*", NULL, ""}, {"b", "y", NULL, ""}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/pangu-fuzz-cfg-%d.ini", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    cfg c;
    cfg_init(&c, schema, 3);
    if (cfg_load(&c, path) == 0) (void)cfg_get(&c, "x");
    cfg_free(&c);
    unlink(path);
    return 0;
}
