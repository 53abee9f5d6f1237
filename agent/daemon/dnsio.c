/* DNS stub I/O (see dnsio.h). Relayed queries get a fresh random id towards the upstream and
 * are matched back by (id, upstream address); unanswered ones expire after
 * AGENT_DNS_UPSTREAM_TIMEOUT_MS. */
#include "agent/daemon/dnsio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/dnstcp.h"
#include "agent/daemon/ipcsum.h"
#include "agent/dns/dns_stub.h"
#include "agent/wg/device.h"
#include "common/dns/dns_build.h"
#include "common/log.h"
#ifdef ZTNA_HAVE_POSTURE
#include "agent/posture/sysdns.h"
#endif

#define STUB_PORT 53
#define IP4_HDR 20
#define UDP_HDR 8
#define DNS_BUF 1500
#define UP_BUF DNSTCP_ANSWER_MAX /* an upstream answer: the EDNS size we advertise for TCP */
#define UP_EDNS_SIZE 4096        /* asked of the upstream for TCP clients */
#define TC_EDNS_SIZE 1232        /* our payload size in a truncated answer's OPT */

enum pending_kind { PEND_UDP, PEND_API, PEND_TCP };

struct pending {
    bool used;
    enum pending_kind kind; /* who gets the answer: a TUN client (UDP, TCP) or the local API */
    bool strip_opt;         /* TCP: we added the OPT the answer carries */
    uint16_t up_id, orig_id;
    uint8_t client[4];
    uint16_t client_port, client_size; /* UDP: the answer must fit client_size bytes */
    bool client_edns;                  /* the client's query had an OPT */
    uint64_t conn_id, deadline;        /* conn_id: API connection, or dnstcp tag */
    char name[AGENT_FQDN_MAX];
    struct dns_query q; /* TCP: for the SERVFAIL when the upstream does not answer */
};

struct dnsio {
    struct loop_src up; /* upstream socket */
    struct sockaddr_in upstream;
    bool have_upstream;
    char upstream_txt[16];
    struct in_addr stub_ip;
    struct dns_stub_table *table; /* swapped under the device lock */
    struct timespec resolv_mtime;  /* of /etc/resolv.conf when read */
    uint64_t resolv_checked_ms;
    char suffix[AGENT_FQDN_MAX];
    char sys_suffix[AGENT_FQDN_MAX]; /* what the system resolver points at us for, "" = nothing */
    dnsio_reply_fn reply;
    struct dnstcp *tcp; /* DNS over TCP to the stub */
    struct pending pend[AGENT_DNS_PENDING];
};

static void upstream_ready(struct agent *a, struct loop_src *src, uint32_t events);
static void tcp_emit(void *ctx, const uint8_t *pkt, size_t len);
static enum dnstcp_verdict tcp_query(void *ctx, uint64_t tag, const uint8_t *msg, size_t len,
                                     uint8_t *out, size_t *out_len);

static const struct dnstcp_ops tcp_ops = {.emit = tcp_emit, .query = tcp_query};

/* The first IPv4 nameserver of /etc/resolv.conf that is not the stub itself. */
static void read_resolv_conf(struct dnsio *d)
{
    FILE *f = fopen("/etc/resolv.conf", "re");
    char line[256], ip[64];
    struct stat sb;
    d->have_upstream = false;
    if (!f)
        return;
    if (fstat(fileno(f), &sb) == 0)
        d->resolv_mtime = sb.st_mtim;
    while (!d->have_upstream && fgets(line, sizeof(line), f)) {
        struct in_addr in;
        if (sscanf(line, " nameserver %63s", ip) != 1 || inet_pton(AF_INET, ip, &in) != 1 ||
            in.s_addr == d->stub_ip.s_addr)
            continue;
        d->upstream.sin_family = AF_INET;
        d->upstream.sin_port = htons(53);
        d->upstream.sin_addr = in;
        inet_ntop(AF_INET, &in, d->upstream_txt, sizeof(d->upstream_txt));
        d->have_upstream = true;
    }
    fclose(f);
}

int dnsio_init(struct agent *a, dnsio_reply_fn reply)
{
    struct dnsio *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->reply = reply;
    inet_pton(AF_INET, AGENT_DNS_IP, &d->stub_ip);
    read_resolv_conf(d);
    d->up.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    d->up.fn = upstream_ready;
    a->dns = d;
    if (d->up.fd < 0)
        return -errno;
    if (!(d->tcp = dnstcp_new((const uint8_t *)&d->stub_ip, &tcp_ops, a)))
        return -ENOMEM;
    if (!d->have_upstream)
        log_warn("dns", "no IPv4 nameserver in /etc/resolv.conf: non-tailnet names get SERVFAIL");
    return loop_add(a, &d->up, EPOLLIN);
}

void dnsio_fini(struct agent *a)
{
    struct dnsio *d = a->dns;
    if (!d)
        return;
    if (d->up.fd >= 0)
        close(d->up.fd);
    dns_stub_table_free(d->table);
    dnstcp_free(d->tcp);
    free(d);
    a->dns = NULL;
}

const char *dnsio_upstream(const struct agent *a)
{
    return a->dns && a->dns->have_upstream ? a->dns->upstream_txt : "";
}

int dnsio_table_add_node(struct dns_stub_table *t, const struct nm_node *n)
{
    int ret = dns_stub_table_add_a(t, n->fqdn, n->ip);
    if (!ret && n->has_ip6)
        ret = dns_stub_table_add_aaaa(t, n->fqdn, &n->ip6);
    return ret;
}

void dnsio_set_table(struct agent *a, const struct netmap *nm)
{
    struct dnsio *d = a->dns;
    struct dns_stub_table *t = NULL;
    if (!d)
        return;
    if (nm && nm->dns.suffix[0] && (t = dns_stub_table_new(nm->dns.suffix))) {
        if (nm->self.has_ip6)
            dns_stub_table_set_prefix6(t, &nm->self.prefix6, nm->self.prefix6_len);
        if (nm->self.fqdn[0])
            dnsio_table_add_node(t, &nm->self);
        for (size_t i = 0; i < nm->n_peers; i++)
            if (dnsio_table_add_node(t, &nm->peers[i]))
                log_debug("dns", "%s: not under %s, not served", nm->peers[i].fqdn, nm->dns.suffix);
        dns_stub_table_seal(t);
    }
    dns_stub_table_free(d->table);
    d->table = t;
    snprintf(d->suffix, sizeof(d->suffix), "%s", nm ? nm->dns.suffix : "");
}

/* Sends payload to the TUN as a UDP datagram from 100.100.100.100:53 to client:port. */
static void tun_reply(struct agent *a, const uint8_t client[4], uint16_t port, const uint8_t *msg,
                      size_t len)
{
    uint8_t pkt[IP4_HDR + UDP_HDR + UP_BUF];
    if (len > UP_BUF)
        return;
    size_t tot = IP4_HDR + UDP_HDR + len;
    memset(pkt, 0, IP4_HDR + UDP_HDR);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)(tot >> 8);
    pkt[3] = (uint8_t)tot;
    pkt[6] = 0x40; /* DF */
    pkt[8] = 64;
    pkt[9] = 17;
    memcpy(pkt + 12, &a->dns->stub_ip, 4);
    memcpy(pkt + 16, client, 4);
    uint16_t c = ipcsum(pkt, IP4_HDR);
    pkt[10] = (uint8_t)(c >> 8);
    pkt[11] = (uint8_t)c;
    uint8_t *u = pkt + IP4_HDR;
    u[0] = STUB_PORT >> 8;
    u[1] = STUB_PORT & 0xff;
    u[2] = (uint8_t)(port >> 8);
    u[3] = (uint8_t)port;
    u[4] = (uint8_t)((UDP_HDR + len) >> 8);
    u[5] = (uint8_t)(UDP_HDR + len);
    memcpy(u + UDP_HDR, msg, len);
    /* UDP checksum over the pseudo-header (RFC 768) */
    uint8_t ph[12 + UDP_HDR + UP_BUF];
    memcpy(ph, pkt + 12, 8);
    ph[8] = 0;
    ph[9] = 17;
    ph[10] = u[4];
    ph[11] = u[5];
    memcpy(ph + 12, u, UDP_HDR + len);
    c = ipcsum(ph, 12 + UDP_HDR + len);
    if (!c)
        c = 0xffff;
    u[6] = (uint8_t)(c >> 8);
    u[7] = (uint8_t)c;
    int ret = engine_tun_write(a, pkt, tot);
    if (ret)
        log_debug("dns", "tun write: %s", strerror(-ret));
}

static struct pending *pending_new(struct dnsio *d, uint64_t now)
{
    for (size_t i = 0; i < AGENT_DNS_PENDING; i++) {
        if (!d->pend[i].used || d->pend[i].deadline < now) {
            memset(&d->pend[i], 0, sizeof(d->pend[i]));
            d->pend[i].used = true;
            d->pend[i].deadline = now + AGENT_DNS_UPSTREAM_TIMEOUT_MS;
            return &d->pend[i];
        }
    }
    return NULL;
}

/* /etc/resolv.conf changes (DHCP, `ztna up --accept-dns`): looked at again at most once a
 * second, re-read when its modification time moved. */
static void resolv_conf_refresh(struct dnsio *d)
{
    struct stat sb;
    uint64_t now = agent_now_ms();
    if (now - d->resolv_checked_ms < 1000)
        return;
    d->resolv_checked_ms = now;
    if (stat("/etc/resolv.conf", &sb) == 0 && (sb.st_mtim.tv_sec != d->resolv_mtime.tv_sec ||
                                               sb.st_mtim.tv_nsec != d->resolv_mtime.tv_nsec))
        read_resolv_conf(d);
}

/* Relays msg upstream under a fresh id. false if there is no upstream or no slot. */
static bool relay(struct dnsio *d, struct pending *p, uint8_t *msg, size_t len)
{
    resolv_conf_refresh(d);
    if (!d->have_upstream || len < DNS_HDR_LEN)
        return false;
    p->orig_id = (uint16_t)(msg[0] << 8 | msg[1]);
    p->up_id = (uint16_t)randombytes_uniform(65536);
    msg[0] = (uint8_t)(p->up_id >> 8);
    msg[1] = (uint8_t)p->up_id;
    ssize_t r = sendto(d->up.fd, msg, len, 0, (const struct sockaddr *)&d->upstream,
                       sizeof(d->upstream));
    msg[0] = (uint8_t)(p->orig_id >> 8);
    msg[1] = (uint8_t)p->orig_id;
    return r == (ssize_t)len;
}

/* SERVFAIL for a query we cannot relay. */
static size_t servfail(const uint8_t *q, size_t len, uint8_t *out)
{
    if (len < DNS_HDR_LEN)
        return 0;
    memcpy(out, q, len);
    out[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD */
    out[3] = 0x80 | DNS_RCODE_SERVFAIL;       /* RA */
    return len;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Walks the question section; false if it does not parse. */
static bool skip_questions(const uint8_t *msg, size_t len, const struct dns_header *h, size_t *off)
{
    for (unsigned i = 0; i < h->qdcount; i++) {
        struct dns_name n;
        uint16_t t, c;
        if (!dns_question_parse(msg, len, off, &n, &t, &c))
            return false;
    }
    return true;
}

size_t dnsio_truncate(const uint8_t *resp, size_t len, bool edns, uint8_t *out, size_t cap)
{
    struct dns_header h, th = {0};
    struct dns_builder b;
    struct dns_name n;
    uint16_t qt = 0, qc = 0;
    size_t off = DNS_HDR_LEN;
    if (!dns_header_parse(resp, len, &h))
        return 0;
    bool has_q = h.qdcount >= 1 && dns_question_parse(resp, len, &off, &n, &qt, &qc);
    th.id = h.id;
    th.flags = (uint16_t)(h.flags | DNS_FLAG_QR | DNS_FLAG_TC);
    th.qdcount = has_q;
    th.arcount = edns;
    dns_builder_init(&b, out, cap);
    dns_builder_header(&b, &th);
    if (has_q)
        dns_builder_question(&b, &n, qt, qc);
    if (edns)
        dns_builder_opt(&b, TC_EDNS_SIZE, 0, 0, 0);
    return dns_builder_ok(&b) ? b.len : 0;
}

int dnsio_edns_for_tcp(const uint8_t *q, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                       bool *added)
{
    static const uint8_t opt[11] = {0, 0, DNS_TYPE_OPT, UP_EDNS_SIZE >> 8, UP_EDNS_SIZE & 0xff};
    struct dns_header h;
    size_t off = DNS_HDR_LEN;
    if (!dns_header_parse(q, len, &h) || !skip_questions(q, len, &h, &off))
        return -EBADMSG;
    unsigned rrs = (unsigned)h.ancount + h.nscount + h.arcount;
    for (unsigned i = 0; i < rrs; i++) {
        struct dns_rr rr;
        if (!dns_rr_parse(q, len, &off, &rr))
            return -EBADMSG;
        if (rr.type != DNS_TYPE_OPT || i < (unsigned)h.ancount + h.nscount)
            continue;
        if (len > cap)
            return -ENOSPC;
        memcpy(out, q, len);
        if (rr.rclass < UP_EDNS_SIZE) /* the class of OPT is the payload size */
            put16(out + rr.rdata_off - 8, UP_EDNS_SIZE);
        *out_len = len;
        *added = false;
        return 0;
    }
    if (h.arcount == 0xffff || off + sizeof(opt) > cap)
        return -ENOSPC;
    memcpy(out, q, off); /* trailing bytes past the last record are dropped */
    memcpy(out + off, opt, sizeof(opt));
    put16(out + 10, h.arcount + 1u);
    *out_len = off + sizeof(opt);
    *added = true;
    return 0;
}

size_t dnsio_strip_opt(uint8_t *msg, size_t len)
{
    struct dns_header h;
    size_t off = DNS_HDR_LEN, start = 0;
    if (!dns_header_parse(msg, len, &h) || !h.arcount || !skip_questions(msg, len, &h, &off))
        return len;
    unsigned rrs = (unsigned)h.ancount + h.nscount + h.arcount;
    for (unsigned i = 0; i < rrs; i++) {
        struct dns_rr rr;
        size_t at = off;
        if (!dns_rr_parse(msg, len, &off, &rr))
            return len;
        if (i == rrs - 1 && rr.type == DNS_TYPE_OPT && off == len)
            start = at;
    }
    if (!start)
        return len;
    put16(msg + 10, h.arcount - 1u);
    return start;
}

/* What the client can take over UDP: 512 bytes, or its EDNS payload size (RFC 6891 6.2.5), and
 * never more than we take from the upstream. */
static void client_limit(const uint8_t *q, size_t len, struct pending *p)
{
    struct dns_query pq;
    size_t n = DNS_UDP_MIN;
    p->client_edns = dns_query_parse(q, len, &pq) == 0 && pq.edns.present;
    if (p->client_edns && pq.edns.udp_size > n)
        n = pq.edns.udp_size;
    p->client_size = (uint16_t)(n < UP_BUF ? n : UP_BUF);
}

int dnsio_packet_parse(const uint8_t *pkt, size_t len, const uint8_t stub[4],
                       struct dnsio_query *q)
{
    if (len < IP4_HDR || pkt[0] >> 4 != 4 || memcmp(pkt + 16, stub, 4))
        return -ENOENT;
    size_t ihl = (size_t)(pkt[0] & 0xf) * 4, tot = (size_t)pkt[2] << 8 | pkt[3];
    if (pkt[9] != 17 || ihl < IP4_HDR || tot > len || tot < ihl + UDP_HDR || (pkt[6] & 0x3f) || pkt[7])
        return -EINVAL;
    const uint8_t *u = pkt + ihl;
    if ((u[2] << 8 | u[3]) != STUB_PORT)
        return -EINVAL;
    size_t ulen = (size_t)u[4] << 8 | u[5];
    if (ulen < UDP_HDR || ihl + ulen > tot || ulen - UDP_HDR > DNS_BUF)
        return -EINVAL;
    memcpy(q->client, pkt + 12, 4);
    q->sport = (uint16_t)(u[0] << 8 | u[1]);
    q->msg = u + UDP_HDR;
    q->len = ulen - UDP_HDR;
    return 0;
}

bool dnsio_tun_packet(struct agent *a, const uint8_t *pkt, size_t len)
{
    struct dnsio *d = a->dns;
    struct dnsio_query dq;
    uint8_t out[DNS_BUF];
    size_t out_len = 0;
    /* the common case first, cheaply: not for the stub (no clock read on the data path) */
    if (!d || len < IP4_HDR || pkt[0] >> 4 != 4 || memcmp(pkt + 16, &d->stub_ip, 4))
        return false;
    /* TCP to the stub (port 53 or not) is the TCP responder's */
    if (dnstcp_input(d->tcp, pkt, len, agent_now_ms()) != -ENOENT)
        return true;
    int ret = dnsio_packet_parse(pkt, len, (const uint8_t *)&d->stub_ip, &dq);
    if (ret == -ENOENT)
        return false;
    if (ret) /* addressed to the stub but not a DNS query over UDP: consumed, dropped */
        return true;
    const uint8_t *q = dq.msg;
    size_t qlen = dq.len;
    uint16_t sport = dq.sport;
    enum dns_stub_action act = d->table ? dns_stub_resolve(d->table, q, qlen, out, sizeof(out), &out_len)
                                        : DNS_STUB_FORWARD;
    if (act == DNS_STUB_DROP)
        return true;
    if (act == DNS_STUB_FORWARD) {
        uint8_t copy[DNS_BUF];
        struct pending *p = pending_new(d, agent_now_ms());
        memcpy(copy, q, qlen);
        if (p) {
            memcpy(p->client, dq.client, 4);
            p->client_port = sport;
            client_limit(q, qlen, p);
            if (relay(d, p, copy, qlen))
                return true;
            p->used = false;
        }
        out_len = servfail(q, qlen, out);
    }
    if (out_len)
        tun_reply(a, dq.client, sport, out, out_len);
    return true;
}

/* The A records of a response, as a JSON array of strings. */
static cJSON *answers(const uint8_t *msg, size_t len, int *rcode)
{
    struct dns_header h;
    size_t off = DNS_HDR_LEN;
    cJSON *arr = cJSON_CreateArray();
    if (!arr || !dns_header_parse(msg, len, &h))
        return arr;
    *rcode = DNS_RCODE(h.flags);
    for (unsigned i = 0; i < h.qdcount; i++) {
        struct dns_name n;
        uint16_t t, c;
        if (!dns_question_parse(msg, len, &off, &n, &t, &c))
            return arr;
    }
    for (unsigned i = 0; i < h.ancount; i++) {
        struct dns_rr rr;
        char ip[16];
        if (!dns_rr_parse(msg, len, &off, &rr))
            break;
        if (rr.type == DNS_TYPE_A && rr.rdlen == 4) {
            inet_ntop(AF_INET, msg + rr.rdata_off, ip, sizeof(ip));
            cJSON_AddItemToArray(arr, cJSON_CreateString(ip));
        }
    }
    return arr;
}

/* Replies to an API query from a response message. */
static void api_answer(struct agent *a, uint64_t conn_id, const char *name, const uint8_t *msg,
                       size_t len, const char *source)
{
    int rcode = DNS_RCODE_SERVFAIL;
    char err[AGENT_FQDN_MAX + 64];
    cJSON *arr = answers(msg, len, &rcode);
    if (rcode != DNS_RCODE_NOERROR || !cJSON_GetArraySize(arr)) {
        snprintf(err, sizeof(err), "%s: %s", name,
                 rcode == DNS_RCODE_NXDOMAIN ? "no such name (NXDOMAIN)"
                 : rcode == DNS_RCODE_NOERROR ? "no IPv4 address (NODATA)"
                 : rcode == DNS_RCODE_SERVFAIL ? "lookup failed (SERVFAIL)" : "lookup refused");
        cJSON_Delete(arr);
        a->dns->reply(a, conn_id, NULL, err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(arr);
        a->dns->reply(a, conn_id, NULL, "out of memory");
        return;
    }
    /* the full name: the tailnet node that owns the first address, else the name asked */
    char fqdn[AGENT_FQDN_MAX];
    snprintf(fqdn, sizeof(fqdn), "%s", name);
    struct in_addr first;
    if (a->nm && inet_pton(AF_INET, cJSON_GetArrayItem(arr, 0)->valuestring, &first) == 1) {
        if (a->nm->self.ip.s_addr == first.s_addr)
            snprintf(fqdn, sizeof(fqdn), "%s", a->nm->self.fqdn);
        for (size_t i = 0; i < a->nm->n_peers; i++)
            if (a->nm->peers[i].ip.s_addr == first.s_addr && !strcmp(source, "tailnet"))
                snprintf(fqdn, sizeof(fqdn), "%s", a->nm->peers[i].fqdn);
    }
    cJSON_AddStringToObject(o, "name", fqdn);
    cJSON_AddItemToObject(o, "addresses", arr);
    cJSON_AddStringToObject(o, "source", source);
    a->dns->reply(a, conn_id, o, NULL);
}

/* An upstream answer of r bytes (whole if r <= UP_BUF, else cut at UP_BUF) to its asker: an
 * answer larger than a UDP client takes becomes TC=1 (header and question), so that the client
 * retries over TCP. */
static void deliver(struct agent *a, const struct pending *p, uint8_t *msg, size_t r)
{
    uint8_t tc[DNS_UDP_MIN];
    size_t len = r < UP_BUF ? r : UP_BUF;
    switch (p->kind) {
    case PEND_API:
        api_answer(a, p->conn_id, p->name, msg, len, "upstream");
        return;
    case PEND_UDP:
        if (r > p->client_size) {
            len = dnsio_truncate(msg, len, p->client_edns, tc, sizeof(tc));
            msg = tc;
        }
        if (len)
            tun_reply(a, p->client, p->client_port, msg, len);
        return;
    case PEND_TCP:
        if (r > UP_BUF) {
            len = dnsio_truncate(msg, len, !p->strip_opt, tc, sizeof(tc));
            msg = tc;
        } else if (p->strip_opt) {
            len = dnsio_strip_opt(msg, len);
        }
        if (len)
            dnstcp_answer(a->dns->tcp, p->conn_id, msg, len, agent_now_ms());
        return;
    }
}

static void upstream_ready(struct agent *a, struct loop_src *src, uint32_t events)
{
    struct dnsio *d = a->dns;
    uint8_t buf[UP_BUF];
    (void)events;
    for (int round = 0; round < 64; round++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        /* MSG_TRUNC: r is the datagram's real size, so an answer cut here is known to be */
        ssize_t r = recvfrom(src->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (r < 0)
            return;
        if (r < DNS_HDR_LEN || from.sin_addr.s_addr != d->upstream.sin_addr.s_addr ||
            from.sin_port != d->upstream.sin_port)
            continue;
        uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
        for (size_t i = 0; i < AGENT_DNS_PENDING; i++) {
            struct pending *p = &d->pend[i];
            if (!p->used || p->up_id != id)
                continue;
            p->used = false;
            buf[0] = (uint8_t)(p->orig_id >> 8);
            buf[1] = (uint8_t)p->orig_id;
            deliver(a, p, buf, (size_t)r);
            break;
        }
    }
}

/* SERVFAIL to a TCP client whose forwarded query the upstream did not answer. */
static void tcp_expired(struct agent *a, const struct pending *p, uint64_t now)
{
    uint8_t out[DNS_UDP_MIN];
    struct dns_builder b;
    struct dns_header h = {
        .id = p->orig_id,
        .flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA | (p->q.hdr.flags & (0x7800 | DNS_FLAG_RD)) |
                            DNS_RCODE_SERVFAIL),
        .qdcount = 1,
    };
    if (!p->q.qname.len)
        return; /* the query did not parse: no question to answer */
    dns_builder_init(&b, out, sizeof(out));
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &p->q.qname, p->q.qtype, p->q.qclass);
    if (dns_builder_ok(&b))
        dnstcp_answer(a->dns->tcp, p->conn_id, out, b.len, now);
}

void dnsio_tick(struct agent *a, uint64_t now)
{
    struct dnsio *d = a->dns;
    if (!d)
        return;
    dnstcp_tick(d->tcp, now);
    for (size_t i = 0; i < AGENT_DNS_PENDING; i++) {
        struct pending *p = &d->pend[i];
        if (!p->used || p->deadline > now)
            continue;
        p->used = false;
        if (p->kind == PEND_TCP)
            tcp_expired(a, p, now);
        if (p->kind == PEND_API) {
            char err[AGENT_FQDN_MAX + 64];
            snprintf(err, sizeof(err), "%s: the upstream resolver %s did not answer", p->name,
                     d->upstream_txt);
            d->reply(a, p->conn_id, NULL, err);
        }
    }
}

static void tcp_emit(void *ctx, const uint8_t *pkt, size_t len)
{
    struct agent *a = ctx;
    int ret = engine_tun_write(a, pkt, len);
    if (ret)
        log_debug("dns", "tun write (tcp): %s", strerror(-ret));
}

/* A query from a TCP client: tailnet names answered here; others relayed over UDP with an OPT
 * for UP_EDNS_SIZE bytes, so answers too big for 512 come back whole. */
static enum dnstcp_verdict tcp_query(void *ctx, uint64_t tag, const uint8_t *msg, size_t len,
                                     uint8_t *out, size_t *out_len)
{
    struct agent *a = ctx;
    struct dnsio *d = a->dns;
    uint8_t up[DNSTCP_RX_MAX + 16];
    size_t up_len;
    bool added;
    enum dns_stub_action act = d->table ? dns_stub_resolve(d->table, msg, len, out, DNSTCP_ANSWER_MAX, out_len)
                                        : DNS_STUB_FORWARD;
    if (act == DNS_STUB_ANSWER)
        return DNSTCP_ANSWERED;
    if (act == DNS_STUB_DROP)
        return DNSTCP_DROPPED;
    struct pending *p = pending_new(d, agent_now_ms());
    if (p && dnsio_edns_for_tcp(msg, len, up, sizeof(up), &up_len, &added) == 0) {
        p->kind = PEND_TCP;
        p->conn_id = tag;
        p->strip_opt = added;
        if (dns_query_parse(msg, len, &p->q))
            p->q.qname.len = 0;
        if (relay(d, p, up, up_len))
            return DNSTCP_PENDING;
    }
    if (p)
        p->used = false;
    *out_len = servfail(msg, len, out);
    return *out_len ? DNSTCP_ANSWERED : DNSTCP_DROPPED;
}

int dnsio_query(struct agent *a, const char *name, uint64_t conn_id)
{
    struct dnsio *d = a->dns;
    uint8_t q[DNS_BUF], out[DNS_BUF];
    size_t out_len = 0;
    struct dns_builder b;
    struct dns_name n;
    struct dns_header h = {.id = (uint16_t)randombytes_uniform(65536), .flags = DNS_FLAG_RD,
                           .qdcount = 1};
    if (dns_name_from_text(&n, name) < 0 || n.len <= 1)
        return -EINVAL;
    dns_builder_init(&b, q, sizeof(q));
    dns_builder_header(&b, &h);
    dns_builder_question(&b, &n, DNS_TYPE_A, DNS_CLASS_IN);
    if (!dns_builder_ok(&b))
        return -EINVAL;
    enum dns_stub_action act = d->table ? dns_stub_resolve(d->table, q, b.len, out, sizeof(out), &out_len)
                                        : DNS_STUB_FORWARD;
    if (act == DNS_STUB_ANSWER) {
        api_answer(a, conn_id, name, out, out_len, "tailnet");
        return 0;
    }
    if (act == DNS_STUB_DROP)
        return -EINVAL;
    struct pending *p = pending_new(d, agent_now_ms());
    if (!p)
        return -EBUSY;
    p->kind = PEND_API;
    p->conn_id = conn_id;
    snprintf(p->name, sizeof(p->name), "%s", name);
    if (!relay(d, p, q, b.len)) {
        p->used = false;
        return d->have_upstream ? -EIO : -ENOENT;
    }
    return 0;
}

int dnsio_system_sync(struct agent *a, const struct netmap *nm, char *err, size_t err_len)
{
    struct dnsio *d = a->dns;
    const char *want = a->st.accept_dns && nm ? nm->dns.suffix : "";
    int ret = 0;
    if (!d || !strcmp(want, d->sys_suffix))
        return 0;
#ifdef ZTNA_HAVE_POSTURE
    struct sysdns_paths p = {.state_dir = a->state_dir, .ifname = a->tun};
    ret = want[0] ? sysdns_apply(&p, want, AGENT_DNS_IP, err, err_len)
                  : sysdns_restore(&p, err, err_len);
#else
    ret = want[0] ? -EOPNOTSUPP : 0;
    snprintf(err, err_len, "this build has no system resolver support (agent/posture)");
#endif
    if (ret) {
        log_warn("dns", "system resolver: %s", err);
        return ret;
    }
    if (want[0])
        log_info("dns", "system resolver points at %s for %s", AGENT_DNS_IP, want);
    else
        log_info("dns", "system resolver restored");
    snprintf(d->sys_suffix, sizeof(d->sys_suffix), "%s", want);
    return 0;
}
