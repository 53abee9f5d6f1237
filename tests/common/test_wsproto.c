/* The WebSocket protocol of the map stream (common/ctl/wsproto.h): the RFC 6455 handshake
 * example, the upgrade reply's checks, frames with 7-, 16- and 64-bit lengths, masked and not,
 * fed in random splits and compared with a naive whole-buffer decoder; fragmented messages with
 * control frames between the pieces; and every violation refused with a reason. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/ctl/wsproto.h"
#include "tests/check.h"

#define MAXMSG (1u << 20)

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct got {
    uint8_t op;
    uint8_t *data;
    size_t len;
};

/* Feeds buf to p in pieces of random sizes (1..max_piece); collects up to cap messages. Returns
 * the count, or the parser's error. */
static int feed_split(struct ws_parser *p, const uint8_t *buf, size_t len, size_t max_piece,
                      struct got *out, size_t cap, char *why)
{
    size_t at = 0, n = 0;
    while (at < len) {
        size_t piece = 1 + rnd() % max_piece;
        if (piece > len - at)
            piece = len - at;
        const uint8_t *q = buf + at;
        size_t left = piece;
        while (left) {
            struct ws_msg m;
            size_t used = 0;
            int ret = wsproto_parser_feed(p, q, left, &used, &m, why, 200);
            if (ret < 0)
                return ret;
            CHECK(used <= left);
            q += used;
            left -= used;
            if (ret == 1 && n < cap) {
                out[n].op = m.opcode;
                out[n].len = m.len;
                out[n].data = malloc(m.len + 1);
                memcpy(out[n].data, m.data, m.len);
                n++;
            }
            if (ret == 0)
                CHECK(left == 0);
        }
        at += piece;
    }
    return (int)n;
}

/* The naive reference: whole frames in one buffer, read straight through (no limits). */
static size_t naive_decode(const uint8_t *b, size_t len, struct got *out, size_t cap)
{
    size_t at = 0, n = 0;
    uint8_t *msg = NULL, op = 0;
    size_t mlen = 0;
    while (at + 2 <= len && n < cap) {
        bool fin = b[at] & 0x80, masked = b[at + 1] & 0x80;
        uint8_t o = b[at] & 0x0f;
        uint64_t l = b[at + 1] & 0x7f;
        at += 2;
        if (l == 126) {
            l = (uint64_t)b[at] << 8 | b[at + 1];
            at += 2;
        } else if (l == 127) {
            l = 0;
            for (int i = 0; i < 8; i++)
                l = l << 8 | b[at + i];
            at += 8;
        }
        const uint8_t *key = masked ? b + at : NULL;
        at += masked ? 4 : 0;
        uint8_t *payload = malloc(l + 1);
        for (uint64_t i = 0; i < l; i++)
            payload[i] = key ? b[at + i] ^ key[i % 4] : b[at + i];
        at += l;
        if (o & 8) {
            out[n++] = (struct got){o, payload, l};
            continue;
        }
        if (o != 0)
            op = o;
        msg = realloc(msg, mlen + l + 1);
        memcpy(msg + mlen, payload, l);
        mlen += l;
        free(payload);
        if (fin) {
            out[n++] = (struct got){op, msg, mlen};
            msg = NULL;
            mlen = 0;
        }
    }
    free(msg);
    return n;
}

static void got_free(struct got *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(g[i].data);
}

static void test_handshake(void)
{
    char key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1], acc[WS_ACCEPT_LEN + 1];
    uint8_t raw[20];
    size_t got = 0;

    /* RFC 6455 section 1.3 */
    wsproto_accept(acc, "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(!strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    wsproto_key_new(key);
    wsproto_key_new(key2);
    CHECK(strlen(key) == 24 && strcmp(key, key2) != 0);
    CHECK(sodium_base642bin(raw, sizeof(raw), key, 24, NULL, &got, NULL,
                            sodium_base64_VARIANT_ORIGINAL) == 0 && got == 16);

    static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    char why[200];
    long st = -1;
    CHECK(wsproto_head_end(ok, sizeof(ok) - 1) == sizeof(ok) - 1);
    CHECK(wsproto_head_end(ok, sizeof(ok) - 2) == 0);
    CHECK(wsproto_reply_check(ok, sizeof(ok) - 1, acc, &st, why, sizeof(why)) == 0 && st == 101);
    /* names and the Upgrade value in any case, Connection as a token list, spaces */
    static const char mixed[] = "HTTP/1.1 101 OK\r\nupgrade:WebSocket\r\nCONNECTION: keep-alive , upgrade\r\n"
                                "sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\nX: y\r\n\r\n";
    CHECK(wsproto_reply_check(mixed, sizeof(mixed) - 1, acc, &st, why, sizeof(why)) == 0);
    static const struct {
        const char *head, *why;
        long status;
    } bad[] = {
        {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP 404", 404},
        {"HTTP/1.1 426 Upgrade Required\r\n\r\n", "HTTP 426", 426},
        {"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP", 0},
        {"HTTP/1.1 1O1 x\r\n\r\n", "not HTTP", 0},
        {"HTTP/1.1 101 x\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "Upgrade: websocket", 101},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "Connection: Upgrade", 101},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
         "Accept", 101},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "Accept", 101},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", "extension", 101},
        {"HTTP/1.1 101 x\r\nUpgrade websocket\r\n\r\n", "colon", 101},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = 0;
        int ret = wsproto_reply_check(bad[i].head, strlen(bad[i].head), acc, &st, why, sizeof(why));
        CHECK(ret == -EPROTO && st == bad[i].status && strstr(why, bad[i].why));
        if (ret != -EPROTO || !strstr(why, bad[i].why))
            fprintf(stderr, "bad reply %zu: %d %ld '%s'\n", i, ret, st, why);
    }
}

/* The writer's header for each length class, and the mask. */
static void test_writer(void)
{
    static uint8_t payload[70000], out[70100];
    const uint8_t mask[4] = {1, 2, 3, 4};
    memset(payload, 'x', sizeof(payload));
    CHECK(wsproto_frame_write(out, sizeof(out), WS_OP_TEXT, payload, 125, NULL) == 127);
    CHECK(out[0] == 0x81 && out[1] == 125);
    CHECK(wsproto_frame_write(out, sizeof(out), WS_OP_TEXT, payload, 126, NULL) == 130);
    CHECK(out[1] == 126 && out[2] == 0 && out[3] == 126);
    CHECK(wsproto_frame_write(out, sizeof(out), WS_OP_BINARY, payload, 65535, NULL) == 65539);
    CHECK(out[0] == 0x82 && out[1] == 126 && out[2] == 0xff && out[3] == 0xff);
    CHECK(wsproto_frame_write(out, sizeof(out), WS_OP_TEXT, payload, 65536, mask) == 65536 + 14);
    CHECK(out[1] == (0x80 | 127) && out[7] == 1 && out[8] == 0 && out[9] == 0);
    CHECK(!memcmp(out + 10, mask, 4) && out[14] == ('x' ^ 1) && out[15] == ('x' ^ 2));
    CHECK(wsproto_frame_write(out, 20, WS_OP_TEXT, payload, 7, NULL) == 0); /* cap < 14 + 7 */
}

/* Random streams of frames: random lengths across the three length classes, random fragmenting
 * with control frames between the pieces, masked for a server's parser and not for a client's;
 * each fed in random splits must give what the naive decoder reads. */
static void test_random_streams(void)
{
    static uint8_t stream[600000];
    struct got want[64], got[64];
    static const size_t lens[] = {0, 1, 2, 125, 126, 127, 1000, 65535, 65536, 70000};
    for (int round = 0; round < 300; round++) {
        bool masked = round & 1;
        size_t at = 0, nmsg = 0;
        while (nmsg < 8) {
            size_t len = rnd() % 3 ? lens[rnd() % 10] : rnd() % 300;
            size_t nfrag = 1 + rnd() % 3;
            uint8_t *payload = malloc(len + 1), mask[4];
            for (size_t i = 0; i < len; i++)
                payload[i] = (uint8_t)rnd();
            for (size_t f = 0, off = 0; f < nfrag; f++) {
                size_t part = f + 1 == nfrag ? len - off : (len - off) / 2;
                randombytes_buf(mask, 4);
                size_t w = wsproto_frame_write(stream + at, sizeof(stream) - at,
                                               f == 0 ? WS_OP_TEXT : WS_OP_CONT, payload + off,
                                               part, masked ? mask : NULL);
                CHECK(w > 0);
                if (f + 1 < nfrag)
                    stream[at] &= 0x7f; /* not the last piece: FIN clear */
                at += w;
                off += part;
                if (rnd() % 2) { /* a control frame between pieces, or after the message */
                    uint8_t c[WS_CONTROL_MAX];
                    size_t cl = rnd() % (WS_CONTROL_MAX + 1);
                    memset(c, 'p', cl);
                    at += wsproto_frame_write(stream + at, sizeof(stream) - at,
                                              rnd() % 2 ? WS_OP_PING : WS_OP_PONG, c, cl,
                                              masked ? mask : NULL);
                }
            }
            free(payload);
            nmsg++;
        }
        size_t nwant = naive_decode(stream, at, want, 64);
        struct ws_parser p;
        char why[200];
        wsproto_parser_init(&p, MAXMSG, masked);
        size_t piece = round % 3 == 0 ? 1 : round % 3 == 1 ? 7 : 100000;
        int n = feed_split(&p, stream, at, piece, got, 64, why);
        CHECK(n == (int)nwant);
        for (int i = 0; i < n && (size_t)i < nwant; i++)
            CHECK(got[i].op == want[i].op && got[i].len == want[i].len &&
                  !memcmp(got[i].data, want[i].data, got[i].len));
        got_free(got, n > 0 ? (size_t)n : 0);
        got_free(want, nwant);
        wsproto_parser_fini(&p);
    }
}

/* One stream that must fail: the error, and a reason holding part. */
static void refused(const uint8_t *b, size_t len, bool masked, size_t max, int err,
                    const char *part)
{
    struct ws_parser p;
    struct got g[4];
    char why[200] = "";
    wsproto_parser_init(&p, max, masked);
    int ret = feed_split(&p, b, len, 3, g, 4, why);
    CHECK(ret == err && strstr(why, part));
    if (ret != err || !strstr(why, part))
        fprintf(stderr, "refused: got %d '%s', wanted %d '%s'\n", ret, why, err, part);
    if (ret > 0)
        got_free(g, (size_t)ret);
    /* a failed parser stays failed */
    struct ws_msg m;
    size_t used;
    static const uint8_t ok[] = {0x81, 0x00};
    CHECK(wsproto_parser_feed(&p, ok, 2, &used, &m, why, sizeof(why)) < 0);
    wsproto_parser_fini(&p);
}

static void test_violations(void)
{
    const uint8_t mask[4] = {9, 8, 7, 6};
    uint8_t b[64];
    size_t n;

    n = wsproto_frame_write(b, sizeof(b), WS_OP_TEXT, (const uint8_t *)"hi", 2, mask);
    refused(b, n, false, MAXMSG, -EBADMSG, "masked frame from the server");
    n = wsproto_frame_write(b, sizeof(b), WS_OP_TEXT, (const uint8_t *)"hi", 2, NULL);
    refused(b, n, true, MAXMSG, -EBADMSG, "unmasked frame from a client");
    b[0] = 0xc1; /* RSV1: compression nobody agreed to */
    refused(b, n, false, MAXMSG, -EBADMSG, "reserved bits");
    b[0] = 0x83;
    refused(b, n, false, MAXMSG, -EBADMSG, "unknown opcode");
    b[0] = 0x80; /* a continuation with no message begun */
    refused(b, n, false, MAXMSG, -EBADMSG, "continuation frame outside");
    static const uint8_t ping_nofin[] = {0x09, 0x00};
    refused(ping_nofin, 2, false, MAXMSG, -EBADMSG, "control frame");
    static const uint8_t ping_126[] = {0x89, 126, 0x00, 126};
    refused(ping_126, 4, false, MAXMSG, -EBADMSG, "control frame");
    static const uint8_t text_in_text[] = {0x01, 0x01, 'a', 0x81, 0x01, 'b'};
    refused(text_in_text, 6, false, MAXMSG, -EBADMSG, "new message inside");
    static const uint8_t top_bit[] = {0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
    refused(top_bit, 10, false, MAXMSG, -EBADMSG, "top bit");
    /* over the limit: refused on the declared length, before any payload */
    static const uint8_t huge[] = {0x81, 127, 0, 0, 0, 0, 0x02, 0x10, 0, 0};
    refused(huge, 10, false, 32u << 20, -EMSGSIZE, "size limit");
    static const uint8_t just_over[] = {0x81, 126, 0x01, 0x01};
    refused(just_over, 4, false, 256, -EMSGSIZE, "size limit");
    /* the pieces of one message together over the limit */
    static uint8_t frags[400];
    static uint8_t body[200];
    size_t at = wsproto_frame_write(frags, sizeof(frags), WS_OP_TEXT, body, 150, NULL);
    frags[0] &= 0x7f;
    at += wsproto_frame_write(frags + at, sizeof(frags) - at, WS_OP_CONT, body, 150, NULL);
    refused(frags, at, false, 256, -EMSGSIZE, "size limit");
}

/* Exactly max is fine; an empty text message and an empty ping are messages too. */
static void test_edges(void)
{
    static uint8_t b[300], body[256];
    struct ws_parser p;
    struct got g[4];
    char why[200];
    size_t n = wsproto_frame_write(b, sizeof(b), WS_OP_TEXT, body, 256, NULL);
    wsproto_parser_init(&p, 256, false);
    CHECK(feed_split(&p, b, n, 1000, g, 4, why) == 1 && g[0].len == 256);
    got_free(g, 1);
    static const uint8_t empties[] = {0x81, 0x00, 0x89, 0x00, 0x88, 0x02, 0x03, 0xe9};
    CHECK(feed_split(&p, empties, sizeof(empties), 1, g, 4, why) == 3);
    CHECK(g[0].op == WS_OP_TEXT && g[0].len == 0 && g[1].op == WS_OP_PING && g[1].len == 0);
    CHECK(g[2].op == WS_OP_CLOSE && g[2].len == 2 && g[2].data[0] == 0x03 && g[2].data[1] == 0xe9);
    got_free(g, 3);
    wsproto_parser_fini(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_handshake();
    test_writer();
    test_random_streams();
    test_violations();
    test_edges();
    return check_finish("test_wsproto");
}
