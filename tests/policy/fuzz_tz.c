/* Fuzz target: the TZif reader with its footer (inputs starting with "TZif"), and the POSIX TZ
 * rule string parser and evaluator (anything else). */
#include "server/policy/tz.h"
#include "server/policy/tz_posix.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t when[] = {INT64_MIN, -1, 0, 1795442370, 2240611200, INT64_MAX};
    if (size >= 4 && !memcmp(data, "TZif", 4)) {
        struct tz_info *tz = NULL;
        if (tz_parse(data, size, &tz) == 0) {
            int wday, minute;
            for (size_t i = 1; i + 1 < sizeof(when) / sizeof(when[0]); i++)
                tz_local(tz, when[i], &wday, &minute);
            (void)tz_offset(tz, INT64_MIN);
            (void)tz_offset(tz, INT64_MAX);
        }
        tz_free(tz);
        return 0;
    }
    struct tz_rule r;
    if (tz_rule_parse((const char *)data, size, &r))
        for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++)
            (void)tz_rule_offset(&r, when[i]);
    return 0;
}
