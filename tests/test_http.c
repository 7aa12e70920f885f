#include "tests.h"
int tests_register_http(void) { return 0; }
