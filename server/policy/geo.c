/* CSV country database: entries sorted by prefix length, longest first. */
#include "common/filter/filter.h"
#include "server/policy/geo.h"
#include "server/policy/policy_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct geo_entry {
    uint8_t family, plen, addr[16];
    char cc[3];
};

struct policy_geo {
    struct geo_entry *e;
    size_t n;
};

static int by_plen_desc(const void *a, const void *b)
{
    return (int)((const struct geo_entry *)b)->plen - (int)((const struct geo_entry *)a)->plen;
}

int policy_geo_parse(const char *text, size_t len, struct policy_geo **out, struct policy_error *err)
{
    struct policy_geo *g = calloc(1, sizeof(*g));
    size_t cap = 0, line = 0, off = 0;
    int ret = -ENOMEM;
    *out = NULL;
    if (!g)
        return -ENOMEM;
    while (off < len) {
        const char *s = text + off, *nl = memchr(s, '\n', len - off);
        size_t l = nl ? (size_t)(nl - s) : len - off;
        char buf[128], *comma;
        off += l + 1;
        if (++line > POLICY_GEO_MAX_LINES) {
            ret = perr(err, 0, 0, "geo database: more than %d lines", POLICY_GEO_MAX_LINES);
            goto out;
        }
        while (l && isspace((unsigned char)s[l - 1]))
            l--;
        if (l == 0 || s[0] == '#')
            continue;
        if (l >= sizeof(buf) || !(comma = memchr(s, ',', l))) {
            ret = perr(err, 0, 0, "geo database line %zu: expected cidr,country", line);
            goto out;
        }
        memcpy(buf, s, l);
        buf[l] = '\0';
        buf[comma - s] = '\0';
        const char *cc = buf + (comma - s) + 1;
        if (g->n == cap) {
            cap = cap ? cap * 2 : 256;
            struct geo_entry *e = realloc(g->e, cap * sizeof(*e));
            if (!e)
                goto out;
            g->e = e;
        }
        struct geo_entry *e = &g->e[g->n];
        if (filter_prefix_parse(buf, &e->family, e->addr, &e->plen) || strlen(cc) != 2 ||
            !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1])) {
            ret = perr(err, 0, 0, "geo database line %zu: bad cidr or country", line);
            goto out;
        }
        e->cc[0] = (char)toupper((unsigned char)cc[0]);
        e->cc[1] = (char)toupper((unsigned char)cc[1]);
        e->cc[2] = '\0';
        g->n++;
    }
    if (g->n)
        qsort(g->e, g->n, sizeof(*g->e), by_plen_desc);
    *out = g;
    g = NULL;
    ret = 0;
out:
    policy_geo_free(g);
    return ret;
}

int policy_geo_load(const char *path, struct policy_geo **out, struct policy_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    int ret;
    *out = NULL;
    if (!f)
        return perr(err, 0, 0, "geo database %s: cannot open", path), -ENOENT;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fclose(f);
        return -ENOMEM;
    }
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    fclose(m);
    ret = policy_geo_parse(buf, len, out, err);
    free(buf);
    return ret;
}

void policy_geo_free(struct policy_geo *g)
{
    if (!g)
        return;
    free(g->e);
    free(g);
}

const char *policy_geo_lookup(const struct policy_geo *g, uint8_t family, const uint8_t addr[16])
{
    if (!g)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        if (eval_prefix_contains(g->e[i].family, g->e[i].addr, g->e[i].plen, family, addr))
            return g->e[i].cc;
    return NULL;
}
