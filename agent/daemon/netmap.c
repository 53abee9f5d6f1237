/* Map messages: verify (Ed25519 over NETMAP_SIG_TAG || payload with the pinned key, or for a
 * streamed message over the root of its batch, map_batch.h), parse by field tables, check
 * (recipient, version order, delta base) and apply (docs/control-protocol.md). */
#include "agent/daemon/netmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "agent/daemon/jfields.h"
#include "common/ctl/map_batch.h"
#include "common/hex.h"

struct sig_in {
    char sig[129];
    const cJSON *path; /* streamed messages only (map_batch.h) */
};

int netmap_msg_verify(const char *data, size_t data_len, const uint8_t server_pk[static 32],
                      uint8_t **payload, size_t *len, char *why, size_t why_len)
{
    struct sig_in in;
    static const struct jfield fields[] = {
        {"sig", JF_STR, true, offsetof(struct sig_in, sig), 129, 0, 0, 0, 0},
        {"path", JF_ARRAY, false, offsetof(struct sig_in, path), 0, MAP_BATCH_DEPTH_MAX, 0, 0, 0},
    };
    uint8_t sig[64], *buf = NULL, *msg = NULL;
    size_t b64len, got = 0, tag = strlen(NETMAP_SIG_TAG);
    int ret = -EBADMSG;
    cJSON *root = cJSON_ParseWithLength(data, data_len);
    const cJSON *p;

    memset(&in, 0, sizeof(in));
    if (!root) {
        snprintf(why, why_len, "map message is not JSON");
        goto out;
    }
    p = cJSON_GetObjectItemCaseSensitive(root, "payload");
    if (!cJSON_IsString(p) || !p->valuestring) {
        snprintf(why, why_len, "map message has no payload");
        goto out;
    }
    if (!cJSON_GetObjectItemCaseSensitive(root, "sig")) {
        snprintf(why, why_len, "map message is unsigned");
        goto out;
    }
    if (jfields_parse(root, fields, 2, &in, NULL, why, why_len))
        goto out;
    if (strlen(in.sig) != 128 || !hex_decode(sig, 64, in.sig)) {
        snprintf(why, why_len, "sig: expected 128 hex characters");
        goto out;
    }
    b64len = strlen(p->valuestring);
    if (b64len > AGENT_MAP_MAX_BYTES) {
        snprintf(why, why_len, "payload too large");
        goto out;
    }
    msg = malloc(tag + b64len / 4 * 3 + 4);
    if (!msg) {
        ret = -ENOMEM;
        goto out;
    }
    memcpy(msg, NETMAP_SIG_TAG, tag);
    if (sodium_base642bin(msg + tag, b64len / 4 * 3 + 3, p->valuestring, b64len, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(why, why_len, "payload: not base64");
        goto out;
    }
    if (in.path) {
        if (map_batch_verify(msg + tag, got, in.path, sig, server_pk, NULL, why, why_len))
            goto out;
    } else if (crypto_sign_verify_detached(sig, msg, tag + got, server_pk) != 0) {
        snprintf(why, why_len, "bad signature (not signed by the pinned server key)");
        goto out;
    }
    buf = malloc(got + 1);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    memcpy(buf, msg + tag, got);
    buf[got] = 0;
    *payload = buf;
    *len = got;
    ret = 0;
out:
    free(msg);
    cJSON_Delete(root);
    return ret;
}

struct node_in {
    struct nm_node n;
    char pq[24];
    const cJSON *quarantine;
    char ip6[INET6_ADDRSTRLEN], prefix6[INET6_ADDRSTRLEN + 4];
};

#define NF(name, type, req, member, cap, maxn, cnt, lo, hi)                                      \
    {name, type, req, offsetof(struct node_in, member), cap, maxn, cnt, lo, hi}
static const struct jfield node_fields[] = {
    NF("id", JF_I64, true, n.id, 0, 0, 0, 1, INT64_MAX),
    NF("name", JF_STR, true, n.name, AGENT_NAME_MAX, 0, 0, 1, 0),
    NF("fqdn", JF_STR, true, n.fqdn, AGENT_FQDN_MAX, 0, 0, 1, 0),
    NF("tailnet_ip", JF_IPV4, true, n.ip, 0, 0, 0, 0, 0),
    NF("tags", JF_STRARR, false, n.tags, AGENT_NAME_MAX, AGENT_MAX_TAGS,
       offsetof(struct node_in, n.n_tags), 1, 0),
    NF("endpoints", JF_STRARR, false, n.endpoints, AGENT_ENDPOINT_MAX, AGENT_MAX_ENDPOINTS,
       offsetof(struct node_in, n.n_endpoints), 1, 0),
    NF("wg_public_key", JF_KEY32, false, n.wg_key, 0, 0, 0, 0, 0),
    NF("org_id", JF_I64, false, n.org_id, 0, 0, 0, 0, INT64_MAX),
    NF("last_seen", JF_I64, false, n.last_seen, 0, 0, 0, 0, INT64_MAX),
    NF("online", JF_BOOL, false, n.online, 0, 0, 0, 0, 0),
    NF("expired", JF_BOOL, false, n.expired, 0, 0, 0, 0, 0),
    NF("pq", JF_STR, false, pq, sizeof(((struct node_in *)0)->pq), 0, 0, 1, 0),
    NF("quarantine", JF_OBJECT, false, quarantine, 0, 0, 0, 0, 0),
    NF("tailnet_ip6", JF_STR, false, ip6, INET6_ADDRSTRLEN, 0, 0, 1, 0),
    NF("tailnet_prefix6", JF_STR, false, prefix6, INET6_ADDRSTRLEN + 4, 0, 0, 1, 0),
};

/* self.quarantine: {"quarantined": bool, "reason": string or null}; other members ignored. A
 * reason longer than we keep is cut; control characters become '?'. */
static int quarantine_parse(const cJSON *q, struct nm_node *n, char *why, size_t why_len)
{
    static const struct jfield f[] = {
        {"quarantined", JF_BOOL, true, offsetof(struct nm_node, quarantined), 0, 0, 0, 0, 0},
    };
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(q, "reason");
    char sub[96];
    if (jfields_parse(q, f, 1, n, NULL, sub, sizeof(sub))) {
        snprintf(why, why_len, "self: quarantine.%s", sub);
        return -EINVAL;
    }
    n->quarantine_reason[0] = 0;
    if (r && !cJSON_IsNull(r) && !cJSON_IsString(r)) {
        snprintf(why, why_len, "self: quarantine.reason: expected a string or null");
        return -EINVAL;
    }
    if (!n->quarantined || !cJSON_IsString(r))
        return 0;
    size_t i = 0;
    for (const char *c = r->valuestring; *c && i + 1 < sizeof(n->quarantine_reason); c++)
        n->quarantine_reason[i++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
    n->quarantine_reason[i] = 0;
    return 0;
}
#define NODE_KEY_BIT (1ull << 6)
#define NODE_PQ_BIT (1ull << 11)
#define NODE_IP6_BIT (1ull << 13)
#define NODE_PREFIX6_BIT (1ull << 14)

/* A tailnet IPv6 address: a global or unique-local unicast address (not ::, ::1, multicast,
 * link-local, or IPv4-mapped/compatible), written as inet_pton(AF_INET6) reads it. */
static bool ip6_parse(const char *s, struct in6_addr *out)
{
    if (inet_pton(AF_INET6, s, out) != 1)
        return false;
    return !IN6_IS_ADDR_UNSPECIFIED(out) && !IN6_IS_ADDR_LOOPBACK(out) &&
           !IN6_IS_ADDR_MULTICAST(out) && !IN6_IS_ADDR_LINKLOCAL(out) &&
           !IN6_IS_ADDR_V4MAPPED(out) && !IN6_IS_ADDR_V4COMPAT(out);
}

/* "fd7a:115c:a1e0::/48": an address with no bits set past the length (1..128, no leading zero). */
static bool prefix6_parse(const char *s, struct in6_addr *out, uint8_t *len)
{
    char a[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    unsigned long l = 0;
    if (!slash || (size_t)(slash - s) >= sizeof(a) || !slash[1] || strlen(slash + 1) > 3 ||
        slash[1] == '0')
        return false;
    for (const char *d = slash + 1; *d; d++) {
        if (*d < '0' || *d > '9')
            return false;
        l = l * 10 + (unsigned long)(*d - '0');
    }
    memcpy(a, s, (size_t)(slash - s));
    a[slash - s] = 0;
    if (l < 1 || l > 128 || inet_pton(AF_INET6, a, out) != 1)
        return false;
    for (unsigned b = (unsigned)l; b < 128; b++)
        if (out->s6_addr[b / 8] & (0x80 >> (b % 8)))
            return false;
    *len = (uint8_t)l;
    return true;
}

static bool prefix6_holds(const struct in6_addr *prefix, uint8_t len, const struct in6_addr *ip)
{
    for (unsigned b = 0; b < len; b++)
        if ((prefix->s6_addr[b / 8] ^ ip->s6_addr[b / 8]) & (0x80 >> (b % 8)))
            return false;
    return true;
}

/* tailnet_ip6 of a node and, for self, tailnet_prefix6: both or neither on self, and the prefix
 * holds the address (it becomes the TUN address's prefix). */
static int ip6_fields_parse(const struct node_in *in, uint64_t seen, bool is_peer, struct nm_node *n,
                            char *why, size_t why_len)
{
    char who[40] = "self";
    if (is_peer)
        snprintf(who, sizeof(who), "peer %lld", (long long)in->n.id);
    if (seen & NODE_IP6_BIT) {
        if (!ip6_parse(in->ip6, &n->ip6)) {
            snprintf(why, why_len, "%s: tailnet_ip6: expected a unicast IPv6 address", who);
            return -EINVAL;
        }
        n->has_ip6 = true;
    }
    if (is_peer)
        return 0;
    if (!(seen & NODE_PREFIX6_BIT) != !n->has_ip6) {
        snprintf(why, why_len, "self: tailnet_ip6 and tailnet_prefix6 come together");
        return -EINVAL;
    }
    if (!n->has_ip6)
        return 0;
    if (!prefix6_parse(in->prefix6, &n->prefix6, &n->prefix6_len)) {
        snprintf(why, why_len, "self: tailnet_prefix6: expected an IPv6 prefix (address/1..128)");
        return -EINVAL;
    }
    if (!prefix6_holds(&n->prefix6, n->prefix6_len, &n->ip6)) {
        snprintf(why, why_len, "self: tailnet_ip6 is outside tailnet_prefix6");
        return -EINVAL;
    }
    return 0;
}

static int node_parse(const cJSON *o, bool is_peer, struct nm_node *out, char *why, size_t why_len)
{
    struct node_in in;
    uint64_t seen;
    char sub[160];
    memset(&in, 0, sizeof(in));
    int ret = jfields_parse(o, node_fields, sizeof(node_fields) / sizeof(node_fields[0]), &in,
                            &seen, sub, sizeof(sub));
    if (ret) {
        snprintf(why, why_len, "%s: %s", is_peer ? "peer" : "self", sub);
        return ret;
    }
    if (is_peer && !(seen & NODE_KEY_BIT)) {
        snprintf(why, why_len, "peer %lld: wg_public_key: missing", (long long)in.n.id);
        return -EINVAL;
    }
    if (seen & NODE_PQ_BIT) {
        if (strcmp(in.pq, "classical-allowed") == 0)
            in.n.classical = true;
        else if (strcmp(in.pq, "required") != 0) {
            snprintf(why, why_len, "peer %lld: pq: expected \"required\" or \"classical-allowed\"",
                     (long long)in.n.id);
            return -EINVAL;
        }
    }
    if (!is_peer && in.quarantine && (ret = quarantine_parse(in.quarantine, &in.n, why, why_len)))
        return ret;
    if ((ret = ip6_fields_parse(&in, seen, is_peer, &in.n, why, why_len)))
        return ret;
    *out = in.n;
    return 0;
}

cJSON *netmap_quarantine_json(const struct nm_node *self)
{
    cJSON *q = cJSON_CreateObject();
    if (!q)
        return NULL;
    cJSON_AddBoolToObject(q, "quarantined", self->quarantined);
    if (self->quarantined)
        cJSON_AddStringToObject(q, "reason", self->quarantine_reason);
    else
        cJSON_AddNullToObject(q, "reason");
    return q;
}

static int nodes_parse(const cJSON *arr, struct nm_node **out, size_t *n, char *why, size_t why_len)
{
    size_t cnt = (size_t)cJSON_GetArraySize(arr), i = 0;
    const cJSON *it;
    *out = NULL;
    *n = 0;
    if (!cnt)
        return 0;
    *out = calloc(cnt, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    cJSON_ArrayForEach(it, arr)
    {
        int ret = node_parse(it, true, &(*out)[i], why, why_len);
        if (ret)
            return ret;
        i++;
    }
    *n = i;
    return 0;
}

static int dns_parse(const cJSON *o, struct nm_dns *d, char *why, size_t why_len)
{
    static const struct jfield f[] = {
        {"suffix", JF_STR, true, offsetof(struct nm_dns, suffix), AGENT_FQDN_MAX, 0, 0, 1, 0},
        {"resolver", JF_STR, false, offsetof(struct nm_dns, resolver), 16, 0, 0, 1, 0},
        {"search", JF_STRARR, false, offsetof(struct nm_dns, search), AGENT_FQDN_MAX,
         NETMAP_MAX_SEARCH, offsetof(struct nm_dns, n_search), 1, 0},
    };
    char sub[160];
    memset(d, 0, sizeof(*d));
    if (!o || jfields_parse(o, f, 3, d, NULL, sub, sizeof(sub))) {
        snprintf(why, why_len, "dns: %s", o ? sub : "expected an object");
        return -EINVAL;
    }
    return 0;
}

struct msg_in {
    char type[16];
    int64_t machine_id, version, prev_version, generated_at;
    const cJSON *self, *peers, *upsert, *remove, *dns, *filter;
};

#define MF(name, type, req, member, cap, maxn, lo, hi)                                           \
    {name, type, req, offsetof(struct msg_in, member), cap, maxn, 0, lo, hi}
static const struct jfield msg_fields[] = {
    MF("type", JF_STR, true, type, 16, 0, 1, 0),
    MF("machine_id", JF_I64, true, machine_id, 0, 0, 1, INT64_MAX),
    MF("version", JF_I64, true, version, 0, 0, 0, INT64_MAX),
    MF("prev_version", JF_I64, false, prev_version, 0, 0, 0, INT64_MAX),
    MF("generated_at", JF_I64, false, generated_at, 0, 0, 0, INT64_MAX),
    MF("self", JF_OBJECT, false, self, 0, 0, 0, 0),
    MF("peers", JF_ARRAY, false, peers, 0, AGENT_MAX_PEERS, 0, 0),
    MF("upsert", JF_ARRAY, false, upsert, 0, AGENT_MAX_PEERS, 0, 0),
    MF("remove", JF_ARRAY, false, remove, 0, AGENT_MAX_REMOVE, 0, 0),
    MF("dns", JF_OBJECT, false, dns, 0, 0, 0, 0),
    MF("filter", JF_OBJECT, false, filter, 0, 0, 0, 0),
};
enum { MB_PREV = 3, MB_SELF = 5, MB_DNS = 9, MB_FILTER = 10 };

void netmap_msg_fini(struct nm_msg *m)
{
    if (!m)
        return;
    free(m->peers);
    free(m->remove);
    free(m->filter);
    memset(m, 0, sizeof(*m));
}

static int filter_parse(const cJSON *o, struct nm_msg *m, char *why, size_t why_len)
{
    char *txt = cJSON_PrintUnformatted(o);
    int ret;
    if (!txt)
        return -ENOMEM;
    ret = filter_json_parse(txt, &m->filter, &m->n_filter);
    free(txt);
    if (ret == -ENOMEM)
        return ret;
    if (ret) {
        snprintf(why, why_len, "filter: not a valid compiled filter");
        return -EINVAL;
    }
    return 0;
}

int netmap_msg_parse(const uint8_t *payload, size_t len, struct nm_msg *m, char *why, size_t why_len)
{
    struct msg_in in;
    uint64_t seen = 0;
    int ret = -EINVAL;
    cJSON *root = cJSON_ParseWithLength((const char *)payload, len);

    memset(m, 0, sizeof(*m));
    memset(&in, 0, sizeof(in));
    if (!root) {
        snprintf(why, why_len, "payload is not JSON");
        goto out;
    }
    if ((ret = jfields_parse(root, msg_fields, sizeof(msg_fields) / sizeof(msg_fields[0]), &in,
                             &seen, why, why_len)))
        goto out;
    ret = -EINVAL;
    if (!strcmp(in.type, "full"))
        m->type = NM_FULL;
    else if (!strcmp(in.type, "delta"))
        m->type = NM_DELTA;
    else if (!strcmp(in.type, "keepalive"))
        m->type = NM_KEEPALIVE;
    else {
        snprintf(why, why_len, "type: expected full, delta or keepalive");
        goto out;
    }
    m->machine_id = in.machine_id;
    m->version = in.version;
    m->prev_version = in.prev_version;
    m->generated_at = in.generated_at;
    if (m->type == NM_KEEPALIVE) {
        ret = 0;
        goto out;
    }
    if (m->type == NM_FULL && (!in.self || !in.dns)) {
        snprintf(why, why_len, "a full map needs self and dns");
        goto out;
    }
    if (m->type == NM_DELTA && !(seen & (1ull << MB_PREV))) {
        snprintf(why, why_len, "prev_version: missing in a delta");
        goto out;
    }
    if (in.self) {
        if ((ret = node_parse(in.self, false, &m->self, why, why_len)))
            goto out;
        m->has_self = true;
    }
    if (in.dns) {
        if ((ret = dns_parse(in.dns, &m->dns, why, why_len)))
            goto out;
        m->has_dns = true;
    }
    const cJSON *list = m->type == NM_FULL ? in.peers : in.upsert;
    if (list && (ret = nodes_parse(list, &m->peers, &m->n_peers, why, why_len)))
        goto out;
    if (m->type == NM_DELTA && in.remove) {
        size_t cnt = (size_t)cJSON_GetArraySize(in.remove);
        const cJSON *it;
        m->remove = calloc(cnt ? cnt : 1, sizeof(*m->remove));
        if (!m->remove) {
            ret = -ENOMEM;
            goto out;
        }
        cJSON_ArrayForEach(it, in.remove)
        {
            if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 9e15 ||
                it->valuedouble != (double)(int64_t)it->valuedouble) {
                snprintf(why, why_len, "remove: expected machine ids");
                ret = -EINVAL;
                goto out;
            }
            m->remove[m->n_remove++] = (int64_t)it->valuedouble;
        }
    }
    if (seen & (1ull << MB_FILTER)) {
        m->has_filter_field = true;
        m->filter_null = in.filter == NULL;
        if (in.filter && (ret = filter_parse(in.filter, m, why, why_len)))
            goto out;
    }
    ret = 0;
out:
    cJSON_Delete(root);
    return ret;
}

void netmap_free(struct netmap *nm)
{
    if (!nm)
        return;
    free(nm->peers);
    free(nm->filter);
    free(nm);
}

static int node_cmp(const void *a, const void *b)
{
    const struct nm_node *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

const struct nm_node *netmap_peer_by_id(const struct netmap *nm, int64_t id)
{
    struct nm_node key = {.id = id};
    if (!nm || !nm->n_peers)
        return NULL;
    return bsearch(&key, nm->peers, nm->n_peers, sizeof(key), node_cmp);
}

static int set_filter(struct netmap *nm, const struct nm_msg *m)
{
    nm->has_filter = !m->filter_null;
    nm->n_filter = 0;
    nm->filter = NULL;
    if (m->filter_null || !m->n_filter)
        return 0;
    nm->filter = malloc(m->n_filter * sizeof(*nm->filter));
    if (!nm->filter)
        return -ENOMEM;
    memcpy(nm->filter, m->filter, m->n_filter * sizeof(*nm->filter));
    nm->n_filter = m->n_filter;
    return 0;
}

/* Sorts peers by id; refuses duplicates and our own id among them. */
static int peers_seal(struct netmap *nm, char *why, size_t why_len)
{
    if (nm->n_peers)
        qsort(nm->peers, nm->n_peers, sizeof(*nm->peers), node_cmp);
    for (size_t i = 0; i < nm->n_peers; i++) {
        if (nm->peers[i].id == nm->machine_id || (i && nm->peers[i].id == nm->peers[i - 1].id)) {
            snprintf(why, why_len, "peer %lld listed twice or as ourselves",
                     (long long)nm->peers[i].id);
            return -EINVAL;
        }
    }
    return 0;
}

/* Builds the map that results from applying m (checked) to cur (NULL for a full map). */
static int apply(const struct netmap *cur, const struct nm_msg *m, struct netmap **next, char *why,
                 size_t why_len)
{
    struct netmap *nm = calloc(1, sizeof(*nm));
    size_t cap;
    int ret = -ENOMEM;
    if (!nm)
        return -ENOMEM;
    nm->version = m->version;
    nm->machine_id = m->machine_id;
    if (m->type == NM_FULL) {
        nm->self = m->self;
        nm->dns = m->dns;
        if (m->n_peers) {
            if (!(nm->peers = malloc(m->n_peers * sizeof(*nm->peers))))
                goto err;
            memcpy(nm->peers, m->peers, m->n_peers * sizeof(*nm->peers));
            nm->n_peers = m->n_peers;
        }
        if ((ret = set_filter(nm, m)))
            goto err;
    } else {
        nm->self = m->has_self ? m->self : cur->self;
        nm->dns = m->has_dns ? m->dns : cur->dns;
        cap = cur->n_peers + m->n_peers;
        if (cap && !(nm->peers = malloc(cap * sizeof(*nm->peers))))
            goto err;
        for (size_t i = 0; i < cur->n_peers; i++) {
            bool gone = false;
            for (size_t j = 0; j < m->n_remove && !gone; j++)
                gone = m->remove[j] == cur->peers[i].id;
            for (size_t j = 0; j < m->n_peers && !gone; j++)
                gone = m->peers[j].id == cur->peers[i].id; /* replaced below */
            if (!gone)
                nm->peers[nm->n_peers++] = cur->peers[i];
        }
        for (size_t j = 0; j < m->n_peers; j++)
            nm->peers[nm->n_peers++] = m->peers[j];
        if (m->has_filter_field)
            ret = set_filter(nm, m);
        else {
            struct nm_msg keep = {.filter_null = !cur->has_filter, .filter = cur->filter,
                                  .n_filter = cur->n_filter};
            ret = set_filter(nm, &keep);
        }
        if (ret)
            goto err;
    }
    if ((ret = peers_seal(nm, why, why_len)))
        goto err;
    *next = nm;
    return 0;
err:
    if (ret == -ENOMEM)
        snprintf(why, why_len, "out of memory");
    netmap_free(nm);
    return ret;
}

enum nm_verdict netmap_receive(const struct netmap *cur, const uint8_t server_pk[static 32],
                               int64_t my_id, const char *data, size_t data_len,
                               struct netmap **next, char *why, size_t why_len)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    struct nm_msg m;
    enum nm_verdict v = NM_REFUSED;

    memset(&m, 0, sizeof(m));
    *next = NULL;
    if (netmap_msg_verify(data, data_len, server_pk, &payload, &len, why, why_len))
        goto out;
    if (netmap_msg_parse(payload, len, &m, why, why_len))
        goto out;
    if (m.machine_id != my_id) {
        snprintf(why, why_len, "map for machine %lld, we are %lld", (long long)m.machine_id,
                 (long long)my_id);
        goto out;
    }
    if (cur && m.version < cur->version) {
        snprintf(why, why_len, "version %lld older than the %lld we hold", (long long)m.version,
                 (long long)cur->version);
        goto out;
    }
    if (m.type == NM_KEEPALIVE) {
        v = cur && m.version == cur->version ? NM_UNCHANGED : NM_RESYNC;
        if (v == NM_RESYNC)
            snprintf(why, why_len, "keepalive at version %lld, we hold %lld", (long long)m.version,
                     cur ? (long long)cur->version : -1ll);
        goto out;
    }
    if (m.type == NM_DELTA && (!cur || m.prev_version != cur->version)) {
        snprintf(why, why_len, "delta from %lld, we hold %lld", (long long)m.prev_version,
                 cur ? (long long)cur->version : -1ll);
        v = NM_RESYNC;
        goto out;
    }
    if (apply(cur, &m, next, why, why_len) == 0)
        v = NM_APPLIED;
out:
    netmap_msg_fini(&m);
    free(payload);
    return v;
}
