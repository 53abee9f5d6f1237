/* Fuzz target: a WireGuard cookie reply message through its parser and consumer (fuzz_fixture.h). */
#include <stddef.h>
#include <stdint.h>

#include "tests/wg_core/fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fx_run_cookie_reply(data, size);
    return 0;
}
