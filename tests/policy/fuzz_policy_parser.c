/* Fuzz target: the HuJSON parser, policy validation and the embedded tests. */
#include "server/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL;
    struct policy_error err;
    if (policy_parse((const char *)data, size, &p, &err) == 0) {
        (void)policy_tests_run(p, 1790000000, &err);
        policy_free(p);
    }
    return 0;
}
