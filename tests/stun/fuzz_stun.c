/* Fuzz target: the STUN parser; whatever parses with a mapped address is answered (as the
 * server would) and the answer must parse back to the same address. */
#include "common/stun/stun.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stun_msg m, r;
    uint8_t buf[STUN_MAX_MSG];
    size_t n;

    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = 9};

    /* The responder's path: an answer only to what parses as a Binding request. */
    n = stun_binding_answer(data, size, (struct sockaddr *)&from, buf, sizeof(buf));
    if (n && (!stun_msg_parse(data, size, &m) || m.type != STUN_BINDING_REQUEST ||
              !stun_msg_parse(buf, n, &r) || r.type != STUN_BINDING_SUCCESS ||
              memcmp(r.txid, m.txid, STUN_TXID_LEN) != 0 || r.has_fingerprint != m.has_fingerprint))
        abort();
    if (!stun_msg_parse(data, size, &m))
        return 0;
    if (m.type == STUN_BINDING_SUCCESS && !m.has_mapped)
        return 0;
    if (m.has_mapped) {
        n = stun_binding_response_build(buf, sizeof(buf), m.txid, (struct sockaddr *)&m.mapped,
                                        true, true);
        if (!n || !stun_msg_parse(buf, n, &r) || !r.has_mapped || !r.has_fingerprint ||
            memcmp(r.txid, m.txid, STUN_TXID_LEN) != 0 ||
            r.mapped.ss_family != m.mapped.ss_family)
            abort();
    }
    return 0;
}
