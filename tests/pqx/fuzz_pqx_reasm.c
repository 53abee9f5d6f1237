/* Fuzz target: reassembly. The input is a sequence of [u16 length][u8 time step][datagram]
 * records fed to one reassembly instance; completed bodies must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pqx/pqx_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pqx_reasm r;
    static uint8_t out[PQX_MSG_MAX];
    uint64_t now = 0;
    size_t off = 0;

    pqx_reasm_init(&r);
    while (size - off >= 3) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        struct pqx_frag f;
        size_t out_len = 0;
        uint8_t kind = 0;

        now += (uint64_t)data[off + 2] * 50;
        off += 3;
        if (len > size - off)
            len = size - off;
        if (pqx_frag_parse(&f, data + off, len)) {
            int ret = pqx_reasm_add(&r, &f, now, out, &out_len, &kind);
            if (ret == 1 && (out_len != f.total_len || kind != f.kind))
                abort();
            if (pqx_reasm_pending(&r) > PQX_REASM_SLOTS)
                abort();
        }
        off += len;
    }
    return 0;
}
