/* Serving the embedded dashboard (see web.h for the URL scheme and the headers). */
#include "server/web.h"

#include <stdio.h>
#include <string.h>
#include <civetweb.h>

#include "server/realtime.h"
#include "server/server.h"

/* No inline script or style anywhere (the SPA builds its DOM through the DOM API, and Trusted
 * Types make any innerHTML-style sink throw); fetch and WebSocket to our own origin only. */
const char web_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
    "trusted-types 'none'";

static const char *const headers[][2] = {
    {"Content-Security-Policy", web_csp},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"},
};

const struct web_asset *web_asset_find(const char *path)
{
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].path, path) == 0)
            return &web_assets[i];
    return NULL;
}

static void headers_common(struct mg_connection *conn, int status, bool tls)
{
    mg_response_header_start(conn, status);
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        mg_response_header_add(conn, headers[i][0], headers[i][1], -1);
    if (tls)
        mg_response_header_add(conn, "Strict-Transport-Security", "max-age=31536000", -1);
}

/* Errors keep the API's envelope, so a client never has to guess the body's shape. */
static int reply_error(struct mg_connection *conn, int status, const char *code, const char *msg,
                       bool tls, bool head)
{
    char body[256], len[24];
    int n = snprintf(body, sizeof(body),
                     "{\"success\":false,\"data\":null,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                     code, msg);

    headers_common(conn, status, tls);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (status == 405)
        mg_response_header_add(conn, "Allow", "GET, HEAD", -1);
    snprintf(len, sizeof(len), "%d", n);
    mg_response_header_add(conn, "Content-Length", len, -1);
    mg_response_header_send(conn);
    if (!head)
        mg_write(conn, body, (size_t)n);
    return status;
}

static int web_handler(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *uri = ri->request_uri ? ri->request_uri : "/";
    bool head = strcmp(ri->request_method, "HEAD") == 0;
    bool tls = ri->is_ssl;
    char path[256], len[24];
    size_t n = strcspn(uri, "?#");
    const struct web_asset *a;

    (void)cbdata;
    if (!head && strcmp(ri->request_method, "GET") != 0)
        return reply_error(conn, 405, "METHOD_NOT_ALLOWED", "the dashboard answers GET and HEAD",
                           tls, false);
    if (n >= sizeof(path))
        n = sizeof(path) - 1;
    memcpy(path, uri, n);
    path[n] = '\0';
    a = web_asset_find(path);
    if (!a && strncmp(path, "/assets/", 8) == 0)
        return reply_error(conn, 404, "NOT_FOUND", "no such asset", tls, head);
    if (!a)
        a = web_asset_find("/index.html");
    if (!a)
        return reply_error(conn, 404, "NOT_FOUND", "no such path", tls, head);

    bool gz = a->gz && web_accepts_gzip(mg_get_header(conn, "Accept-Encoding"));
    const char *etag = gz ? a->etag_gz : a->etag;
    int status = web_etag_match(mg_get_header(conn, "If-None-Match"), etag) ? 304 : 200;

    headers_common(conn, status, tls);
    mg_response_header_add(conn, "ETag", etag, -1);
    mg_response_header_add(conn, "Cache-Control",
                           a->immutable ? "public, max-age=31536000, immutable" : "no-cache", -1);
    if (a->gz)
        mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    if (status == 200) {
        mg_response_header_add(conn, "Content-Type", a->content_type, -1);
        if (gz)
            mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
        snprintf(len, sizeof(len), "%zu", gz ? a->gz_len : a->len);
        mg_response_header_add(conn, "Content-Length", len, -1);
    }
    mg_response_header_send(conn);
    if (status == 200 && !head)
        mg_write(conn, gz ? a->gz : a->body, gz ? a->gz_len : a->len);
    return status;
}

void web_register(struct mg_context *ctx, struct server *srv)
{
    mg_set_request_handler(ctx, "/", web_handler, srv);
    realtime_register(ctx, srv);
}
