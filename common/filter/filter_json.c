/* Text and JSON encodings of compiled filter entries (the netmap carries them). */
#include "common/filter/filter.h"
#include "common/filter/filter_limits.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int filter_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    memset(addr, 0, 16);
    unsigned max;
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = 6;
        max = 128;
    } else {
        return -EINVAL;
    }
    *plen = (uint8_t)max;
    if (slash) {
        const char *p = slash + 1;
        unsigned v = 0;
        if (!*p || strlen(p) > 3)
            return -EINVAL;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > max)
            return -EINVAL;
        *plen = (uint8_t)v;
    }
    return 0;
}

static const char *proto_name(uint8_t p)
{
    switch (p) {
    case FILTER_PROTO_TCP: return "tcp";
    case FILTER_PROTO_UDP: return "udp";
    case FILTER_PROTO_ICMP: return "icmp";
    default: return "any";
    }
}

static char *put_u(char *p, unsigned v)
{
    char d[10];
    size_t n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = d[--n];
    return p;
}

/* "proto addr/plen lo-hi" into buf (at least FILTER_ENTRY_TEXT_MAX bytes): the length, or 0.
 * Written by hand: a server's filter has thousands of entries and is rendered at every change
 * that touches it, where snprintf was most of the cost. */
static size_t entry_put(const struct filter_entry *e, char *buf)
{
    const char *pn = proto_name(e->proto);
    size_t pl = strlen(pn);
    char *p = buf;

    memcpy(p, pn, pl);
    p += pl;
    *p++ = ' ';
    if (e->family == 4) {
        for (int i = 0; i < 4; i++) {
            p = put_u(p, e->addr[i]);
            *p++ = i < 3 ? '.' : '/';
        }
    } else if (e->family == 6 && inet_ntop(AF_INET6, e->addr, p, INET6_ADDRSTRLEN)) {
        p += strlen(p);
        *p++ = '/';
    } else {
        return 0;
    }
    p = put_u(p, e->plen);
    *p++ = ' ';
    p = put_u(p, e->port_lo);
    *p++ = '-';
    p = put_u(p, e->port_hi);
    *p = '\0';
    return (size_t)(p - buf);
}

#define FILTER_ENTRY_TEXT_MAX (4 + 1 + INET6_ADDRSTRLEN + 4 + 1 + 11 + 1)

int filter_entry_format(const struct filter_entry *e, char *buf, size_t len)
{
    char one[FILTER_ENTRY_TEXT_MAX];
    size_t n = entry_put(e, one);

    if (!n)
        return -EINVAL;
    if (n >= len)
        return -ENOSPC;
    memcpy(buf, one, n + 1);
    return 0;
}

static int port_parse(const char *s, size_t n, uint16_t *v)
{
    unsigned x = 0;
    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    if (x > 65535)
        return -EINVAL;
    *v = (uint16_t)x;
    return 0;
}

int filter_entry_parse(const char *s, struct filter_entry *e)
{
    char proto[8], pfx[64], ports[16];
    memset(e, 0, sizeof(*e));
    if (strlen(s) > 100 || sscanf(s, "%7s %63s %15s", proto, pfx, ports) != 3)
        return -EINVAL;
    if (!strcmp(proto, "tcp"))
        e->proto = FILTER_PROTO_TCP;
    else if (!strcmp(proto, "udp"))
        e->proto = FILTER_PROTO_UDP;
    else if (!strcmp(proto, "icmp"))
        e->proto = FILTER_PROTO_ICMP;
    else if (!strcmp(proto, "any"))
        e->proto = FILTER_PROTO_ANY;
    else
        return -EINVAL;
    if (filter_prefix_parse(pfx, &e->family, e->addr, &e->plen))
        return -EINVAL;
    const char *dash = strchr(ports, '-');
    if (dash) {
        if (port_parse(ports, (size_t)(dash - ports), &e->port_lo) ||
            port_parse(dash + 1, strlen(dash + 1), &e->port_hi))
            return -EINVAL;
    } else {
        if (port_parse(ports, strlen(ports), &e->port_lo))
            return -EINVAL;
        e->port_hi = e->port_lo;
    }
    return e->port_lo <= e->port_hi ? 0 : -EINVAL;
}

int filter_json_write(const struct filter_entry *e, size_t n, char **out)
{
    static const char head[] = "{\"entries\":[", tail[] = "]}";
    /* each entry: its text, two quotes and a comma */
    size_t cap = sizeof(head) + n * (FILTER_ENTRY_TEXT_MAX + 3) + sizeof(tail), len;
    char *s = malloc(cap), *p = s;

    *out = NULL;
    if (!s)
        return -ENOMEM;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        len = entry_put(&e[i], p);
        if (!len) {
            free(s);
            return -EINVAL;
        }
        p += len;
        *p++ = '"';
    }
    memcpy(p, tail, sizeof(tail));
    *out = s;
    return 0;
}

/* why (may be NULL) gets a sentence naming the problem when parsing fails. */
int filter_json_parse_why(const char *json, struct filter_entry **out, size_t *n, char *why,
                          size_t why_len)
{
    int ret = -EINVAL;
    struct filter_entry *e = NULL;
    char dummy[1];
    if (!why) {
        why = dummy;
        why_len = sizeof(dummy);
    }
    *why = '\0';
    *out = NULL;
    *n = 0;
    if (strlen(json) > FILTER_JSON_MAX) {
        snprintf(why, why_len, "larger than %u bytes", FILTER_JSON_MAX);
        return -E2BIG;
    }
    cJSON *root = cJSON_Parse(json);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "entries");
    if (!root) {
        snprintf(why, why_len, "not JSON");
        goto out;
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(why, why_len, "no \"entries\" array (want {\"entries\": [\"tcp 100.64.0.1/32 22\", ...]})");
        goto out;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(arr), i = 0;
    if (cnt > FILTER_MAX_ENTRIES) {
        snprintf(why, why_len, "%zu entries, more than %u", cnt, FILTER_MAX_ENTRIES);
        ret = -E2BIG;
        goto out;
    }
    e = calloc(cnt ? cnt : 1, sizeof(*e));
    if (!e) {
        snprintf(why, why_len, "out of memory");
        ret = -ENOMEM;
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it)) {
            snprintf(why, why_len, "entry %zu is not a string", i + 1);
            goto out;
        }
        if (filter_entry_parse(it->valuestring, &e[i])) {
            snprintf(why, why_len,
                     "entry %zu '%.100s' is not 'PROTO PREFIX PORT[-PORT]' (PROTO tcp, udp, icmp "
                     "or any; e.g. 'tcp 100.64.0.1/32 22')",
                     i + 1, it->valuestring);
            goto out;
        }
        i++;
    }
    *out = e;
    *n = cnt;
    e = NULL;
    ret = 0;
out:
    free(e);
    cJSON_Delete(root);
    return ret;
}

int filter_json_parse(const char *json, struct filter_entry **out, size_t *n)
{
    return filter_json_parse_why(json, out, n, NULL, 0);
}
