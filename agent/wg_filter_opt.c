/* See wg_filter_opt.h. */
#include "agent/wg_filter_opt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/kernel/nftfilter.h"
#include "agent/wg/device.h"
#include "common/filter/filter_limits.h"
#include "common/filter/gate.h"
#include "common/log.h"

struct wg_filter_opt {
    struct filter_matcher *fm;
    struct filter *filter;
    size_t n_entries;
    /* kernel backend */
    char table[32];
    int nflog_fd;
    struct filter_deny_count got[FILTER_DENY_SLOTS];
    size_t n_got;
    uint64_t rest;
    struct timespec last_log;
};

static int fail(const char *path, int ret, const char *why)
{
    fprintf(stderr, "ztna wireguard: --filter %s: %s\n", path, why);
    return ret;
}

/* *text is new (free()), NUL-terminated. */
static int read_file(const char *path, char **text)
{
    char why[128];
    FILE *f;
    size_t cap = 4096, len = 0;
    char *buf = NULL;
    int ret = 0;

    *text = NULL;
    errno = 0;
    if (!(f = fopen(path, "rb"))) {
        ret = -errno;
        snprintf(why, sizeof(why), "cannot open: %s", strerror(-ret));
        return fail(path, ret, why);
    }
    for (;;) {
        if (len + 1 >= cap || !buf) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                ret = -ENOMEM;
                snprintf(why, sizeof(why), "out of memory");
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (len > FILTER_JSON_MAX) {
            ret = -E2BIG;
            snprintf(why, sizeof(why), "larger than %u bytes", FILTER_JSON_MAX);
            break;
        }
        if (got == 0) {
            if (ferror(f)) {
                ret = errno ? -errno : -EIO;
                snprintf(why, sizeof(why), "cannot read: %s", strerror(-ret));
            }
            break;
        }
    }
    fclose(f);
    if (ret) {
        free(buf);
        return fail(path, ret, why);
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        return fail(path, -EINVAL, "contains a NUL byte (not a JSON text)");
    }
    *text = buf;
    return 0;
}

int wg_filter_opt_load(const char *path, struct wg_filter_opt **out)
{
    struct wg_filter_opt *wf = calloc(1, sizeof(*wf));
    struct filter_entry *e = NULL;
    char *text = NULL, why[256];
    int ret;

    *out = NULL;
    if (!wf)
        return fail(path, -ENOMEM, "out of memory");
    wf->nflog_fd = -1;
    if ((ret = read_file(path, &text)))
        goto out;
    if ((ret = filter_json_parse_why(text, &e, &wf->n_entries, why, sizeof(why)))) {
        fail(path, ret, why);
        goto out;
    }
    if ((ret = filter_matcher_new(&wf->fm, 0))) {
        fail(path, ret, "out of memory");
        goto out;
    }
    if ((ret = filter_gate_install(wf->fm, &wf->filter, true, e, wf->n_entries))) {
        snprintf(why, sizeof(why), "cannot build the filter from its %zu entries: %s",
                 wf->n_entries, strerror(-ret));
        fail(path, ret, why);
        goto out;
    }
    *out = wf;
    wf = NULL;
out:
    free(text);
    free(e);
    wg_filter_opt_free(wf);
    return ret;
}

static bool on_tun_read(void *ctx, const uint8_t *pkt, size_t len)
{
    struct wg_filter_opt *wf = ctx;
    filter_gate_outbound(wf->fm, pkt, len);
    return false;
}

static bool on_tun_write(void *ctx, const uint8_t *peer, const uint8_t *pkt, size_t len)
{
    struct wg_filter_opt *wf = ctx;
    (void)peer;
    return filter_gate_inbound(wf->fm, true, pkt, len);
}

static const char *proto_name(uint8_t p)
{
    return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 || p == 58 ? "icmp" : "ip";
}

static void log_counts(const struct filter_deny_count *got, size_t n, uint64_t rest)
{
    for (size_t i = 0, lines = 0; i < n; i++) {
        char src[INET6_ADDRSTRLEN];
        if (!got[i].packets)
            continue;
        if (lines++ >= WG_FILTER_LOG_LINES) {
            rest += got[i].packets;
            continue;
        }
        inet_ntop(got[i].family == 4 ? AF_INET : AF_INET6, got[i].src, src, sizeof(src));
        log_info("filter", "denied %llu packet(s) from %s %s dport %u",
                 (unsigned long long)got[i].packets, src, proto_name(got[i].proto), got[i].dport);
    }
    if (rest)
        log_info("filter", "denied %llu more packet(s)", (unsigned long long)rest);
}

static void log_denials(void *ctx, struct wg_device *dev)
{
    struct wg_filter_opt *wf = ctx;
    struct filter_deny_count got[FILTER_DENY_SLOTS];
    uint64_t rest = 0;
    size_t n = filter_matcher_denied(wf->fm, got, FILTER_DENY_SLOTS, &rest, true);
    (void)dev;
    log_counts(got, n < FILTER_DENY_SLOTS ? n : FILTER_DENY_SLOTS, rest);
}

int wg_filter_opt_kernel_attach(struct wg_filter_opt *wf, const char *ifname)
{
    size_t n;
    const struct filter_entry *e = filter_entries(wf->filter, &n);
    unsigned idx = if_nametoindex(ifname);
    int ret;
    if (!idx)
        return -ENODEV;
    snprintf(wf->table, sizeof(wf->table), "%s%s", WG_FILTER_NFT_PREFIX, ifname);
    if ((ret = nft_filter_apply(wf->table, ifname, e, n, (uint16_t)(WG_FILTER_NFLOG_BASE + idx)))) {
        fprintf(stderr, "ztna wireguard: --filter on %s: nftables table %s: %s\n", ifname,
                wf->table, strerror(-ret));
        wf->table[0] = 0;
        return ret;
    }
    if ((wf->nflog_fd = nft_denials_open((uint16_t)(WG_FILTER_NFLOG_BASE + idx))) < 0) {
        log_warn("filter", "%s: NFLOG group %u: %s: denials are not logged", ifname,
                 WG_FILTER_NFLOG_BASE + idx, strerror(-wf->nflog_fd));
        wf->nflog_fd = -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &wf->last_log);
    return 0;
}

int wg_filter_opt_kernel_fd(const struct wg_filter_opt *wf)
{
    return wf->nflog_fd;
}

void wg_filter_opt_kernel_tick(struct wg_filter_opt *wf)
{
    struct timespec now;
    if (wf->nflog_fd >= 0)
        nft_denials_read(wf->nflog_fd, wf->got, FILTER_DENY_SLOTS, &wf->n_got, &wf->rest);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - wf->last_log.tv_sec) * 1000 + (now.tv_nsec - wf->last_log.tv_nsec) / 1000000 <
        WG_FILTER_LOG_MS)
        return;
    wf->last_log = now;
    log_counts(wf->got, wf->n_got, wf->rest);
    wf->n_got = 0;
    wf->rest = 0;
}

void wg_filter_opt_kernel_detach(struct wg_filter_opt *wf)
{
    int ret;
    if (wf->nflog_fd >= 0)
        nft_denials_close(wf->nflog_fd);
    wf->nflog_fd = -1;
    if (wf->table[0] && (ret = nft_filter_delete(wf->table)) && ret != -ENOENT)
        log_warn("filter", "cannot delete nftables table %s: %s", wf->table, strerror(-ret));
    wf->table[0] = 0;
}

int wg_filter_opt_attach(struct wg_filter_opt *wf, struct wg_device *dev)
{
    int ret = wg_device_add_timer(dev, WG_FILTER_LOG_MS, log_denials, wf);
    if (ret)
        return ret;
    wg_device_set_packet_hooks(dev, on_tun_read, on_tun_write, wf);
    return 0;
}

unsigned long wg_filter_opt_entries(const struct wg_filter_opt *wf)
{
    return (unsigned long)wf->n_entries;
}

void wg_filter_opt_free(struct wg_filter_opt *wf)
{
    if (!wf)
        return;
    wg_filter_opt_kernel_detach(wf);
    filter_matcher_free(wf->fm);
    filter_free(wf->filter);
    free(wf);
}
