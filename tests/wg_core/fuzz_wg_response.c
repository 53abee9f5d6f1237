/* Fuzz target: a WireGuard response message through its parser and consumer (fuzz_fixture.h),
 * as received and with its macs made valid. */
#include <stddef.h>
#include <stdint.h>

#include "tests/wg_core/fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t copy[WG_MSG_INITIATION_SIZE];
    (void)fx_run_response(data, size);
    if (fx_remac(copy, data, size, false))
        (void)fx_run_response(copy, size);
    return 0;
}
