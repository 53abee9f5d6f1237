/* Rendering of map entries and map messages (see netmap_msg.h). Entries are rendered once per
 * change; a message is the concatenation of pre-rendered objects, so a full map of N peers costs
 * one pass over N strings, not N cJSON trees. */
#include "server/netmap_msg.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "server/netmap.h"

void nm_node_put(struct nm_node *n)
{
    if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    free(n->peer);
    free(n->self);
    free(n->tags);
    free(n);
}

/* A JSON array from stored text, or an empty array when the text is not one. */
static cJSON *array_or_empty(const char *text)
{
    cJSON *a = text ? cJSON_Parse(text) : NULL;

    if (cJSON_IsArray(a))
        return a;
    cJSON_Delete(a);
    return cJSON_CreateArray();
}

struct nm_node *nm_node_render(const struct nm_row *row, const char *slug, const char *base_domain)
{
    char fqdn[512], wg[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char ip6[IP6_TEXT_MAX], prefix6[IP6_PREFIX_TEXT_MAX];
    bool has6 = ip6_tailnet_text(row->ip6, row->tailnet_ip, ip6);
    struct nm_node *n = calloc(1, sizeof(*n));
    cJSON *peer = cJSON_CreateObject(), *self = cJSON_CreateObject();

    if (!n || !peer || !self)
        goto err;
    atomic_init(&n->refs, 1);
    n->id = row->id;
    memcpy(n->machine_key, row->machine_key, 32);
    n->expired = row->expired_at != 0;
    snprintf(fqdn, sizeof(fqdn), "%s.%s.%s", row->name, slug, base_domain);
    sodium_bin2base64(wg, sizeof(wg), row->wg_public_key, 32, sodium_base64_VARIANT_ORIGINAL);

    cJSON_AddNumberToObject(peer, "id", (double)row->id);
    cJSON_AddStringToObject(peer, "name", row->name);
    cJSON_AddStringToObject(peer, "fqdn", fqdn);
    cJSON_AddStringToObject(peer, "tailnet_ip", row->tailnet_ip);
    if (has6)
        cJSON_AddStringToObject(peer, "tailnet_ip6", ip6);
    cJSON_AddStringToObject(peer, "wg_public_key", wg);
    cJSON_AddItemToObject(peer, "tags", array_or_empty(row->tags));
    cJSON_AddBoolToObject(peer, "online", row->online);
    if (row->last_seen)
        cJSON_AddNumberToObject(peer, "last_seen", (double)row->last_seen);
    else
        cJSON_AddNullToObject(peer, "last_seen");
    cJSON_AddItemToObject(peer, "endpoints", array_or_empty(row->endpoints));
    /* No per-peer classical allowance exists yet: the PQ PSK is always required. */
    cJSON_AddStringToObject(peer, "pq", "required");

    cJSON_AddNumberToObject(self, "id", (double)row->id);
    cJSON_AddStringToObject(self, "name", row->name);
    cJSON_AddStringToObject(self, "fqdn", fqdn);
    cJSON_AddStringToObject(self, "tailnet_ip", row->tailnet_ip);
    if (has6) {
        ip6_prefix_format(row->ip6, prefix6);
        cJSON_AddStringToObject(self, "tailnet_ip6", ip6);
        cJSON_AddStringToObject(self, "tailnet_prefix6", prefix6);
    }
    cJSON_AddItemToObject(self, "tags", array_or_empty(row->tags));
    cJSON_AddNumberToObject(self, "org_id", (double)row->org_id);
    cJSON_AddBoolToObject(self, "expired", n->expired);

    n->peer = cJSON_PrintUnformatted(peer);
    n->self = cJSON_PrintUnformatted(self);
    n->tags = strdup(row->tags ? row->tags : "[]");
    if (!n->peer || !n->self || !n->tags)
        goto err;
    cJSON_Delete(peer);
    cJSON_Delete(self);
    return n;
err:
    cJSON_Delete(peer);
    cJSON_Delete(self);
    if (n) {
        atomic_init(&n->refs, 1);
        nm_node_put(n);
    }
    return NULL;
}

struct nm_node *nm_node_tombstone(int64_t id)
{
    struct nm_node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    atomic_init(&n->refs, 1);
    n->id = id;
    n->removed = true;
    return n;
}

static bool str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool nm_node_same(const struct nm_node *a, const struct nm_node *b)
{
    return a->removed == b->removed && a->expired == b->expired && str_same(a->peer, b->peer) &&
           str_same(a->self, b->self);
}

char *nm_dns_render(const char *slug, const char *base_domain)
{
    char suffix[512];
    cJSON *d = cJSON_CreateObject(), *search;
    char *text = NULL;

    if (!d)
        return NULL;
    snprintf(suffix, sizeof(suffix), "%s.%s", slug, base_domain);
    cJSON_AddStringToObject(d, "suffix", suffix);
    cJSON_AddStringToObject(d, "resolver", "100.100.100.100");
    search = cJSON_AddArrayToObject(d, "search");
    if (search && cJSON_AddItemToArray(search, cJSON_CreateString(suffix)))
        text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return text;
}

/* ",<key>":<v> (key NULL: just the number, comma first when comma). */
static void addnum(struct strbuf *b, bool comma, const char *key, int64_t v)
{
    char tmp[96];
    int n = key ? snprintf(tmp, sizeof(tmp), "%s\"%s\":%" PRId64, comma ? "," : "", key, v)
                : snprintf(tmp, sizeof(tmp), "%s%" PRId64, comma ? "," : "", v);

    strbuf_add(b, tmp, (size_t)n);
}

static const char *type_name(enum nm_msg_type t)
{
    return t == NM_MSG_FULL ? "full" : t == NM_MSG_DELTA ? "delta" : "keepalive";
}

char *nm_msg_render(const struct nm_msg *m, size_t *len)
{
    struct strbuf b = {0};
    size_t total = 256;

    for (size_t i = 0; i < m->npeers; i++)
        total += strlen(m->peers[i]->peer) + 1;
    /* sized once: a server's filter alone is ~150 KB, a realloc copied it again */
    total += (m->self ? strlen(m->self->self) : 0) + (m->quarantine ? strlen(m->quarantine) : 0) +
             (m->dns ? strlen(m->dns) : 0) + (m->filter ? strlen(m->filter) : 0) + 24 * m->nremove;
    b.p = malloc(total);
    if (!b.p)
        return NULL;
    b.cap = total;
    strbuf_adds(&b, NETMAP_SIG_PREFIX "{\"type\":\"");
    strbuf_adds(&b, type_name(m->type));
    strbuf_add(&b, "\"", 1);
    addnum(&b, true, "machine_id", m->machine_id);
    addnum(&b, true, "version", m->version);
    if (m->type == NM_MSG_DELTA)
        addnum(&b, true, "prev_version", m->prev_version);
    addnum(&b, true, "generated_at", m->generated_at);
    if (m->type != NM_MSG_KEEPALIVE) {
        if (m->self) {
            size_t sl = strlen(m->self->self);

            strbuf_adds(&b, ",\"self\":");
            if (m->quarantine && sl > 2 && m->self->self[sl - 1] == '}') {
                /* the self object is rendered once per change; the quarantine is the policy's
                 * view at this message (time passes), so it is spliced in here */
                strbuf_add(&b, m->self->self, sl - 1);
                strbuf_adds(&b, ",\"quarantine\":");
                strbuf_adds(&b, m->quarantine);
                strbuf_add(&b, "}", 1);
            } else {
                strbuf_adds(&b, m->self->self);
            }
        }
        strbuf_adds(&b, m->type == NM_MSG_FULL ? ",\"peers\":[" : ",\"upsert\":[");
        for (size_t i = 0; i < m->npeers; i++) {
            if (i)
                strbuf_add(&b, ",", 1);
            strbuf_adds(&b, m->peers[i]->peer);
        }
        strbuf_add(&b, "]", 1);
        if (m->type == NM_MSG_DELTA) {
            strbuf_adds(&b, ",\"remove\":[");
            for (size_t i = 0; i < m->nremove; i++)
                addnum(&b, i > 0, NULL, m->remove[i]);
            strbuf_add(&b, "]", 1);
        }
        if (m->dns) {
            strbuf_adds(&b, ",\"dns\":");
            strbuf_adds(&b, m->dns);
        }
        strbuf_adds(&b, ",\"filter\":");
        strbuf_adds(&b, m->filter ? m->filter : "null");
    }
    strbuf_add(&b, "}", 1);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
