/* Fuzz target: the UAPI "set" parser; whatever it accepts must format and re-parse. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/wg/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wg_device_config *cfg = NULL, *again = NULL;
    char *text = NULL;
    size_t len;
    if (wg_uapi_parse_set((const char *)data, size, &cfg) == 0) {
        if (wg_uapi_format_get(cfg, &text, &len) == 0) {
            /* the get text has state keys the set parser rejects; it must still not crash */
            wg_uapi_parse_set(text, len, &again);
            free(text);
        }
    }
    wg_device_config_free(again);
    wg_device_config_free(cfg);
    return 0;
}
