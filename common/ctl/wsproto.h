/* The WebSocket protocol (RFC 6455) as a map stream's client needs it, with no I/O: the opening
 * handshake's key and reply check (section 4), a frame parser fed arbitrary pieces of the byte
 * stream (section 5) and a frame writer. The sockets are the callers': the agent's
 * (agent/daemon/mapstream.c) and the control-plane load tool's (bench/control/ctl_stream.c). */
#ifndef ZTNA_COMMON_CTL_WSPROTO_H
#define ZTNA_COMMON_CTL_WSPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT   0x0
#define WS_OP_TEXT   0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE  0x8
#define WS_OP_PING   0x9
#define WS_OP_PONG   0xa

#define WS_CONTROL_MAX 125  /* a control frame's payload (section 5.5) */
#define WS_KEY_LEN     24   /* Sec-WebSocket-Key: base64 of 16 bytes */
#define WS_ACCEPT_LEN  28   /* Sec-WebSocket-Accept: base64 of a SHA-1 */
#define WS_HEADER_MAX  14   /* the longest frame header: 2 + 8 (length) + 4 (mask) */

/* A fresh Sec-WebSocket-Key (16 random bytes, base64) and the accept value that answers it:
 * base64(SHA-1(key || "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). */
void wsproto_key_new(char key[static WS_KEY_LEN + 1]);
void wsproto_accept(char out[static WS_ACCEPT_LEN + 1], const char *key);

/* Where the reply's head ends: the offset just past "\r\n\r\n" in buf, or 0 if not there yet. */
size_t wsproto_head_end(const char *buf, size_t len);
/* Checks the head of the reply to an upgrade (len bytes, up to and with "\r\n\r\n"): 0 for a
 * "101" with Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Accept equal to accept and
 * no extension or subprotocol (we asked for none). Otherwise -EPROTO with why; *status gets the
 * reply's status code (0 if the status line is unreadable) either way. */
int wsproto_reply_check(const char *head, size_t len, const char *accept, long *status, char *why,
                        size_t why_len);

/* One frame as text for the other side: FIN set, payload masked with mask (4 bytes) when it is
 * not NULL (a client's frames must be, section 5.3). Returns the frame's length, 0 if cap is too
 * small. */
size_t wsproto_frame_write(uint8_t *out, size_t cap, uint8_t opcode, const uint8_t *payload,
                           size_t len, const uint8_t *mask);

/* A whole message: a data message (its fragments joined) or a control frame. */
struct ws_msg {
    uint8_t opcode;      /* WS_OP_TEXT, _BINARY, _CLOSE, _PING or _PONG */
    const uint8_t *data; /* borrowed: valid until the next call on the parser */
    size_t len;
};

/* Receives frames. max bounds a data message (fragments together), checked on each frame's
 * declared length before anything is stored; masked says whether frames must be masked (a
 * server's parser) or must not be (a client's: section 5.1). */
struct ws_parser {
    size_t max;
    bool masked;
    /* private */
    uint8_t hdr[WS_HEADER_MAX];
    size_t hdr_len, hdr_need;
    bool in_payload, fin, failed, delivered;
    uint8_t op, key[4];
    uint64_t left, pos;       /* of the current frame's payload */
    uint8_t msg_op;           /* the data message being joined, WS_OP_CONT when none */
    uint8_t *msg;             /* its bytes (owned) */
    size_t msg_len, msg_cap;
    uint8_t ctl[WS_CONTROL_MAX];
    size_t ctl_len;
};

void wsproto_parser_init(struct ws_parser *p, size_t max, bool masked);
void wsproto_parser_fini(struct ws_parser *p);
/* Consumes buf up to the end of the next whole message. Returns 1 with *m set, *used bytes taken
 * (feed the rest again); 0 when all len bytes were taken without completing one; -EBADMSG (the
 * peer broke the protocol), -EMSGSIZE (a message over max) or -ENOMEM, with why. Once it failed
 * the parser refuses everything. */
int wsproto_parser_feed(struct ws_parser *p, const uint8_t *buf, size_t len, size_t *used,
                        struct ws_msg *m, char *why, size_t why_len);

#endif
