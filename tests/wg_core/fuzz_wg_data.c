/* Fuzz target: a WireGuard data message through its parser and consumer (fuzz_fixture.h). */
#include <stddef.h>
#include <stdint.h>

#include "tests/wg_core/fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fx_run_data(data, size);
    return 0;
}
