/* WebSocket (RFC 6455) without I/O: handshake, frame parser and writer (see wsproto.h).
 *
 * The parser is a state machine over the byte stream, so any split of it gives the same
 * messages: a frame's header is gathered byte by byte (2 to 14 bytes, section 5.2), then its
 * payload is copied (unmasked) into the message being joined or, for a control frame, into a
 * fixed 125-byte buffer. It never allocates on a length it was only told: a data message grows
 * with the bytes that actually arrived, and a declared length over max fails first. */
#include "common/ctl/wsproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <sodium.h>

#define WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MSG_KEEP_BYTES 65536 /* a message buffer larger than this is freed once delivered */

void wsproto_key_new(char key[static WS_KEY_LEN + 1])
{
    uint8_t nonce[16];

    randombytes_buf(nonce, sizeof(nonce));
    sodium_bin2base64(key, WS_KEY_LEN + 1, nonce, sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);
}

void wsproto_accept(char out[static WS_ACCEPT_LEN + 1], const char *key)
{
    char cat[128];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    int n = snprintf(cat, sizeof(cat), "%s" WS_GUID, key);

    /* section 4.2.2, item 5.4: only the peer's key proves that it read our request */
    if (n < 0 || (size_t)n >= sizeof(cat) ||
        !EVP_Digest(cat, (size_t)n, md, &md_len, EVP_sha1(), NULL) || md_len != 20) {
        out[0] = 0;
        return;
    }
    sodium_bin2base64(out, WS_ACCEPT_LEN + 1, md, 20, sodium_base64_VARIANT_ORIGINAL);
}

size_t wsproto_head_end(const char *buf, size_t len)
{
    const char *e = memmem(buf, len, "\r\n\r\n", 4);

    return e ? (size_t)(e - buf) + 4 : 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Connection is a comma-separated list of tokens; one of them must be "upgrade". */
static bool has_token(const char *v, size_t n, const char *tok)
{
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t l = comma ? (size_t)(comma - v) : n;
        const char *t = v;
        size_t tl = l;

        trim(&t, &tl);
        if (eq_nocase(t, tl, tok))
            return true;
        v += comma ? l + 1 : l;
        n -= comma ? l + 1 : l;
    }
    return false;
}

static bool status_parse(const char *line, size_t n, long *status)
{
    /* "HTTP/1.1 101 Switching Protocols" */
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
        return false;
    for (int i = 9; i < 12; i++)
        if (line[i] < '0' || line[i] > '9')
            return false;
    if (n > 12 && line[12] != ' ')
        return false;
    *status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return true;
}

int wsproto_reply_check(const char *head, size_t len, const char *accept, long *status, char *why,
                        size_t why_len)
{
    bool upgrade = false, connection = false, accepted = false;
    const char *p = head, *end = head + len, *eol;

    *status = 0;
    eol = memmem(p, len, "\r\n", 2);
    if (!eol || !status_parse(p, (size_t)(eol - p), status)) {
        snprintf(why, why_len, "the reply is not HTTP");
        return -EPROTO;
    }
    if (*status != 101) {
        snprintf(why, why_len, "HTTP %ld instead of 101 Switching Protocols", *status);
        return -EPROTO;
    }
    for (p = eol + 2; p < end && (eol = memmem(p, (size_t)(end - p), "\r\n", 2)) && eol > p;
         p = eol + 2) {
        const char *colon = memchr(p, ':', (size_t)(eol - p)), *v;
        size_t vn;

        if (!colon) {
            snprintf(why, why_len, "a reply header without a colon");
            return -EPROTO;
        }
        v = colon + 1;
        vn = (size_t)(eol - v);
        trim(&v, &vn);
        if (eq_nocase(p, (size_t)(colon - p), "upgrade"))
            upgrade = eq_nocase(v, vn, "websocket");
        else if (eq_nocase(p, (size_t)(colon - p), "connection"))
            connection = has_token(v, vn, "upgrade");
        else if (eq_nocase(p, (size_t)(colon - p), "sec-websocket-accept"))
            accepted = vn == strlen(accept) && memcmp(v, accept, vn) == 0;
        else if ((eq_nocase(p, (size_t)(colon - p), "sec-websocket-extensions") ||
                  eq_nocase(p, (size_t)(colon - p), "sec-websocket-protocol")) && vn) {
            /* section 4.1: neither was asked for, so the connection must fail */
            snprintf(why, why_len, "the server chose an extension or subprotocol we did not offer");
            return -EPROTO;
        }
    }
    if (!upgrade || !connection) {
        snprintf(why, why_len, "101 without Upgrade: websocket and Connection: Upgrade");
        return -EPROTO;
    }
    if (!accepted) {
        snprintf(why, why_len, "Sec-WebSocket-Accept missing or wrong");
        return -EPROTO;
    }
    return 0;
}

size_t wsproto_frame_write(uint8_t *out, size_t cap, uint8_t opcode, const uint8_t *payload,
                           size_t len, const uint8_t *mask)
{
    size_t h = 2;

    if (cap < WS_HEADER_MAX || len > cap - WS_HEADER_MAX)
        return 0;
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        h = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        h = 10;
    }
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + h, mask, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[h + i] = mask ? payload[i] ^ mask[i % 4] : payload[i];
    return h + len;
}

void wsproto_parser_init(struct ws_parser *p, size_t max, bool masked)
{
    memset(p, 0, sizeof(*p));
    p->max = max;
    p->masked = masked;
    p->msg_op = WS_OP_CONT;
}

void wsproto_parser_fini(struct ws_parser *p)
{
    free(p->msg);
    p->msg = NULL;
    p->msg_len = p->msg_cap = 0;
}

static int fail(struct ws_parser *p, int err, char *why, size_t why_len, const char *text)
{
    p->failed = true;
    snprintf(why, why_len, "%s", text);
    return err;
}

/* The header is whole: check it against section 5.2 and what we negotiated (no extension). */
static int header_done(struct ws_parser *p, char *why, size_t why_len)
{
    const uint8_t *h = p->hdr;
    bool control, masked = h[1] & 0x80;
    uint64_t len = h[1] & 0x7f;
    size_t at = 2;

    p->fin = h[0] & 0x80;
    p->op = h[0] & 0x0f;
    control = p->op & 0x08;
    if (h[0] & 0x70)
        return fail(p, -EBADMSG, why, why_len, "reserved bits set (no extension was agreed)");
    if (p->op != WS_OP_CONT && p->op != WS_OP_TEXT && p->op != WS_OP_BINARY &&
        p->op != WS_OP_CLOSE && p->op != WS_OP_PING && p->op != WS_OP_PONG)
        return fail(p, -EBADMSG, why, why_len, "unknown opcode");
    if (masked != p->masked)
        return fail(p, -EBADMSG, why, why_len,
                    p->masked ? "an unmasked frame from a client" : "a masked frame from the server");
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
        if (len >> 63)
            return fail(p, -EBADMSG, why, why_len, "a 64-bit length with its top bit set");
    }
    if (masked)
        memcpy(p->key, h + at, 4);
    if (control && (!p->fin || len > WS_CONTROL_MAX))
        return fail(p, -EBADMSG, why, why_len, "a fragmented or oversized control frame");
    if (!control && p->op == WS_OP_CONT && p->msg_op == WS_OP_CONT)
        return fail(p, -EBADMSG, why, why_len, "a continuation frame outside a message");
    if (!control && p->op != WS_OP_CONT && p->msg_op != WS_OP_CONT)
        return fail(p, -EBADMSG, why, why_len, "a new message inside a fragmented one");
    if (!control && len > p->max - p->msg_len)
        return fail(p, -EMSGSIZE, why, why_len, "a message over the size limit");
    if (!control && p->op != WS_OP_CONT)
        p->msg_op = p->op;
    p->left = len;
    p->pos = 0;
    p->ctl_len = 0;
    return 0;
}

/* Room for n more bytes of the data message, growing by doubling up to what the frame said. */
static int msg_reserve(struct ws_parser *p, size_t n)
{
    size_t need = p->msg_len + n, cap = p->msg_cap ? p->msg_cap : 4096;
    uint8_t *nb;

    if (need <= p->msg_cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > p->msg_len + p->left)
        cap = p->msg_len + p->left;
    if (!(nb = realloc(p->msg, cap)))
        return -ENOMEM;
    p->msg = nb;
    p->msg_cap = cap;
    return 0;
}

/* The previous call delivered a data message: it is forgotten now. */
static void release_delivered(struct ws_parser *p)
{
    if (!p->delivered)
        return;
    p->delivered = false;
    p->msg_op = WS_OP_CONT;
    p->msg_len = 0;
    if (p->msg_cap > MSG_KEEP_BYTES)
        wsproto_parser_fini(p);
}

int wsproto_parser_feed(struct ws_parser *p, const uint8_t *buf, size_t len, size_t *used,
                        struct ws_msg *m, char *why, size_t why_len)
{
    static const uint8_t empty[1];
    size_t i = 0;
    int ret = 0;

    if (p->failed) {
        snprintf(why, why_len, "the stream already failed");
        ret = -EBADMSG;
        goto out;
    }
    release_delivered(p);
    for (;;) {
        if (!p->in_payload) {
            if (i == len)
                break;
            p->hdr[p->hdr_len++] = buf[i++];
            if (p->hdr_len == 2) {
                uint8_t l7 = p->hdr[1] & 0x7f;

                p->hdr_need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (p->hdr[1] & 0x80 ? 4 : 0);
            }
            if (p->hdr_len < 2 || p->hdr_len < p->hdr_need)
                continue;
            if ((ret = header_done(p, why, why_len)))
                goto out;
            p->in_payload = true;
        }
        bool control = p->op & 0x08;
        size_t take = len - i < p->left ? len - i : (size_t)p->left;
        uint8_t *dst;

        if (control) {
            dst = p->ctl + p->ctl_len;
            p->ctl_len += take;
        } else {
            if (take && msg_reserve(p, take)) {
                ret = fail(p, -ENOMEM, why, why_len, "out of memory");
                goto out;
            }
            dst = p->msg + p->msg_len;
            p->msg_len += take;
        }
        for (size_t k = 0; k < take; k++, p->pos++)
            dst[k] = p->masked ? buf[i + k] ^ p->key[p->pos % 4] : buf[i + k];
        i += take;
        p->left -= take;
        if (p->left)
            break; /* all of buf taken; the frame goes on in the next piece */
        p->in_payload = false;
        p->hdr_len = p->hdr_need = 0;
        if (control) {
            *m = (struct ws_msg){p->op, p->ctl_len ? p->ctl : empty, p->ctl_len};
            ret = 1;
            break;
        }
        if (p->fin) {
            *m = (struct ws_msg){p->msg_op, p->msg_len ? p->msg : empty, p->msg_len};
            p->delivered = true;
            ret = 1;
            break;
        }
    }
out:
    *used = i;
    return ret;
}
