/* See gate.h. */
#include "common/filter/gate.h"

#include <time.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void filter_gate_outbound(struct filter_matcher *fm, const uint8_t *pkt, size_t len)
{
    filter_matcher_outbound(fm, pkt, len, now_ms());
}

bool filter_gate_inbound(struct filter_matcher *fm, bool on, const uint8_t *pkt, size_t len)
{
    if (!on)
        return true;
    return filter_matcher_inbound(fm, pkt, len, now_ms()) != FILTER_DENY;
}

int filter_gate_install(struct filter_matcher *fm, struct filter **f, bool on,
                        const struct filter_entry *e, size_t n)
{
    struct filter *nf = NULL;
    int ret = on ? filter_build(&nf, e, n) : 0;
    if (ret)
        nf = NULL; /* fail closed: with the gate on, a NULL filter allows nothing */
    filter_matcher_set_filter(fm, nf);
    filter_free(*f);
    *f = nf;
    return ret;
}
