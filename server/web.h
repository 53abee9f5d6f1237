/* The dashboard: the single-page app of web/static, embedded at build time into one generated
 * table (web/embed.cmake -> web_assets.c), served for every path that is not /api or /healthz.
 *
 *   /                      index.html (Cache-Control: no-cache; revalidated by ETag)
 *   /assets/<build>/<file> every other file (Cache-Control: immutable for a year: <build> is a
 *                          hash over all assets, so the URL changes whenever any file does)
 *   /assets/<other>        404 (never index.html: a stale module must not load as HTML)
 *   anything else          index.html (the SPA's own routes; GET and HEAD only)
 *
 * Every reply carries a strict Content-Security-Policy (no inline script or style, connections
 * to our own origin only), nosniff, a Referrer-Policy and frame denial; a gzip copy is sent when
 * the client accepts it; If-None-Match gives 304. */
#ifndef ZTNA_SERVER_WEB_H
#define ZTNA_SERVER_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct mg_context;
struct server;

struct web_asset {
    const char *path;           /* "/index.html" or "/assets/<build>/js/main.js" */
    const char *content_type;
    const char *etag;           /* quoted, of the identity body */
    const char *etag_gz;        /* quoted, of the gzip body */
    const unsigned char *body;
    size_t len;
    const unsigned char *gz;    /* NULL when compression does not pay */
    size_t gz_len;
    bool immutable;
};

/* web_assets.c (generated; static storage). */
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;
extern const char web_assets_prefix[]; /* "/assets/<build>/" */

/* The Content-Security-Policy of every dashboard reply (static string). */
extern const char web_csp[];

/* Borrowed entry for an exact path, or NULL. */
const struct web_asset *web_asset_find(const char *path);

/* web_neg.c (pure; fuzzed by tests/web/fuzz_web_neg.c). */
/* True if an Accept-Encoding header value accepts gzip (or x-gzip, or "*") with q > 0. */
bool web_accepts_gzip(const char *accept_encoding);
/* True if an If-None-Match value ("*" or a list of entity tags, weak or strong) matches etag
 * under the weak comparison of RFC 9110 13.1.2. */
bool web_etag_match(const char *if_none_match, const char *etag);

/* Registers the dashboard on "/" (replacing the JSON 404 fallback) and the realtime WebSocket
 * on /api/ws (realtime.h). Call after mg_start(). */
void web_register(struct mg_context *ctx, struct server *srv);

#endif
