/* Fuzz target: the HuJSON parser, policy validation, the embedded tests, and (inputs starting
 * with '#') the country database parser. */
#include "server/policy/geo.h"
#include "server/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL;
    struct policy_error err;
    if (size && data[0] == '#') { /* country database text */
        struct policy_geo *g = NULL;
        uint8_t a[16] = {198, 18, 0, 1};
        if (policy_geo_parse((const char *)data, size, &g, &err) == 0)
            (void)policy_geo_lookup(g, 4, a);
        policy_geo_free(g);
        return 0;
    }
    if (policy_parse((const char *)data, size, &p, &err) == 0) {
        (void)policy_tests_run(p, 1790000000, &err);
        policy_free(p);
    }
    return 0;
}
