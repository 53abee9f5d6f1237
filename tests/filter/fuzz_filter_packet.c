/* Fuzz target: the packet matcher (parse, conntrack insert/lookup, filter lookup). */
#include "common/filter/filter.h"
#include "common/filter/matcher.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct filter_matcher *m;
    static struct filter *f;
    static uint64_t now;
    if (!m) {
        struct filter_entry e[2];
        filter_entry_parse("any 0.0.0.0/1 0-1000", &e[0]);
        filter_entry_parse("tcp ::/1 22", &e[1]);
        if (filter_build(&f, e, 2) || filter_matcher_new(&m, 64))
            abort();
        filter_matcher_set_filter(m, f);
    }
    now += 1000;
    if (size && (data[0] & 1))
        filter_matcher_outbound(m, data, size, now);
    (void)filter_matcher_inbound(m, data, size, now);
    if (size > 1) {
        char *s = malloc(size);
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        struct filter_entry e, *arr;
        size_t n;
        if (data[0] & 2) {
            if (filter_json_parse(s, &arr, &n) == 0)
                free(arr);
        } else {
            (void)filter_entry_parse(s, &e);
        }
        free(s);
    }
    return 0;
}
