/* Fuzz target for the loopback callback parser of `ztna login` (agent/cmd_login_browser.h): any
 * local process or web page can send these bytes to the CLI's listener. */
#include <stdint.h>
#include <string.h>

#include "agent/cmd_login_browser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char code[129];
    memset(code, 'x', sizeof(code));
    int r = login_callback_parse((const char *)data, size, "0123456789abcdef0123456789abcdef", code,
                                 sizeof(code));
    /* a parsed code is a NUL-terminated, non-empty run of printable ASCII */
    if (r == 0) {
        size_t n = strnlen(code, sizeof(code));
        if (n == 0 || n == sizeof(code))
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (code[i] < 0x21 || code[i] > 0x7e)
                __builtin_trap();
    }
    return 0;
}
