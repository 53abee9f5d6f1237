/* A dashboard socket over the server's own TLS that keeps the server reading while it writes
 * (test_realtime_tls.py runs it).
 *
 *   rt_tls_flood PORT TOKEN ORG CHANNEL[,CHANNEL2] COUNT SECONDS
 *
 * Connects to https://127.0.0.1:PORT/api/ws (TLS 1.3, certificate not checked), authenticates
 * with TOKEN, subscribes to the channel(s) of ORG and prints "subscribed". From then on, in one
 * thread with a non-blocking socket, it keeps frames flowing towards the server: {"type":"ping"}
 * text frames and WebSocket PING control frames (at most FLOOD_INFLIGHT unanswered), and every
 * FLOOD_KEY_UPDATE_EVERY frames a TLS 1.3 KeyUpdate that asks the server to update its own
 * sending keys as well. Each event prints "event <channel> <data.event> <data.id or
 * data.target_id>". It stops after COUNT events on CHANNEL (exit 0), and exits 1 on a TLS error
 * (a record that does not decrypt is how a corrupted server write shows), a close, "resync", an
 * error frame, or when SECONDS pass first. The last line on stderr counts pongs and key updates.
 *
 * The server's connection worker thus sits in SSL_read (pings, key updates) while its sender
 * thread calls SSL_write (events) on the same connection: the overlap OpenSSL forbids. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define FLOOD_INFLIGHT         16   /* ping text frames sent and not yet answered */
#define FLOOD_KEY_UPDATE_EVERY 2    /* frames between KeyUpdates */
#define FLOOD_IN_MAX           (1 << 20)
#define FLOOD_OUT_MAX          (1 << 16)

struct flood {
    SSL *ssl;
    int fd;
    uint8_t in[FLOOD_IN_MAX];
    size_t in_len;
    uint8_t out[FLOOD_OUT_MAX];
    size_t out_len;
    const char *channel;
    long events, pongs, key_updates, frames_sent, pings_inflight;
    double deadline;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_ssl(const char *what)
{
    unsigned long e;

    fprintf(stderr, "rt_tls_flood: %s failed\n", what);
    while ((e = ERR_get_error()) != 0)
        fprintf(stderr, "  %s\n", ERR_error_string(e, NULL));
    exit(1);
}

/* A masked client frame appended to the output buffer; false when it does not fit. */
static bool frame_queue(struct flood *f, int opcode, const void *data, size_t len)
{
    uint8_t mask[4];
    size_t head = 2 + 4 + (len >= 126 ? 2 : 0);

    if (len > 0xffff || f->out_len + head + len > sizeof(f->out))
        return false;
    if (getrandom(mask, sizeof(mask), 0) != sizeof(mask))
        return false;
    f->out[f->out_len++] = (uint8_t)(0x80 | opcode);
    if (len >= 126) {
        f->out[f->out_len++] = 0x80 | 126;
        f->out[f->out_len++] = (uint8_t)(len >> 8);
        f->out[f->out_len++] = (uint8_t)len;
    } else {
        f->out[f->out_len++] = (uint8_t)(0x80 | len);
    }
    memcpy(f->out + f->out_len, mask, 4);
    f->out_len += 4;
    for (size_t i = 0; i < len; i++)
        f->out[f->out_len++] = ((const uint8_t *)data)[i] ^ mask[i % 4];
    return true;
}

/* Writes what it can of the output buffer; exits on a TLS error. */
static void flush_some(struct flood *f)
{
    while (f->out_len) {
        int n = SSL_write(f->ssl, f->out, (int)f->out_len);

        if (n <= 0) {
            int err = SSL_get_error(f->ssl, n);

            if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
                return;
            die_ssl("SSL_write");
        }
        memmove(f->out, f->out + n, f->out_len - (size_t)n);
        f->out_len -= (size_t)n;
    }
}

/* Reads what is there; false once nothing more is available now. Exits on EOF or TLS error. */
static bool read_some(struct flood *f)
{
    int n;

    if (f->in_len == sizeof(f->in)) {
        fprintf(stderr, "rt_tls_flood: a frame larger than the input buffer\n");
        exit(1);
    }
    n = SSL_read(f->ssl, f->in + f->in_len, (int)(sizeof(f->in) - f->in_len));
    if (n <= 0) {
        int err = SSL_get_error(f->ssl, n);

        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return false;
        if (err == SSL_ERROR_ZERO_RETURN) {
            fprintf(stderr, "rt_tls_flood: the server closed the TLS connection\n");
            exit(1);
        }
        die_ssl("SSL_read");
    }
    f->in_len += (size_t)n;
    return true;
}

/* One text frame from the server: 1 when it is a wanted event, 0 otherwise; exits on an error
 * frame or "resync". type_out gets the frame's type. */
static int text_frame(struct flood *f, const char *text, size_t len, char *type_out, size_t cap)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    int ret = 0;

    if (!cJSON_IsString(type)) {
        fprintf(stderr, "rt_tls_flood: not a typed JSON frame: %.*s\n", (int)len, text);
        exit(1);
    }
    snprintf(type_out, cap, "%s", type->valuestring);
    if (!strcmp(type->valuestring, "pong")) {
        f->pongs++;
        f->pings_inflight--;
    } else if (!strcmp(type->valuestring, "error") || !strcmp(type->valuestring, "resync")) {
        fprintf(stderr, "rt_tls_flood: %.*s\n", (int)len, text);
        exit(1);
    } else if (!strcmp(type->valuestring, "event")) {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "channel");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(d, "event");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(d, "target_id");

        if (!cJSON_IsString(ch) || !cJSON_IsString(ev)) {
            fprintf(stderr, "rt_tls_flood: an event without channel: %.*s\n", (int)len, text);
            exit(1);
        }
        if (cJSON_IsNumber(id))
            printf("event %s %s %.0f\n", ch->valuestring, ev->valuestring, id->valuedouble);
        else
            printf("event %s %s %s\n", ch->valuestring, ev->valuestring,
                   cJSON_IsString(target) ? target->valuestring : "-");
        fflush(stdout);
        if (!strcmp(ch->valuestring, f->channel)) {
            f->events++;
            ret = 1;
        }
    }
    cJSON_Delete(o);
    return ret;
}

/* Consumes whole frames from the input buffer; type of the last text frame in last_type. */
static void frames_parse(struct flood *f, char *last_type, size_t cap)
{
    for (;;) {
        size_t head = 2, len;
        int opcode;

        if (f->in_len < 2)
            return;
        opcode = f->in[0] & 0x0f;
        if (f->in[1] & 0x80) {
            fprintf(stderr, "rt_tls_flood: a masked server frame\n");
            exit(1);
        }
        len = f->in[1] & 0x7f;
        if (len == 126) {
            if (f->in_len < 4)
                return;
            len = (size_t)f->in[2] << 8 | f->in[3];
            head = 4;
        } else if (len == 127) {
            if (f->in_len < 10)
                return;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | f->in[i];
            head = 10;
        }
        if (len > sizeof(f->in) - head) {
            fprintf(stderr, "rt_tls_flood: a frame of %zu bytes\n", len);
            exit(1);
        }
        if (f->in_len < head + len)
            return;
        if (opcode == 1)
            text_frame(f, (const char *)f->in + head, len, last_type, cap);
        else if (opcode == 8) {
            fprintf(stderr, "rt_tls_flood: the server sent a close frame\n");
            exit(1);
        } else if (opcode != 9 && opcode != 10) {
            fprintf(stderr, "rt_tls_flood: unexpected opcode %d\n", opcode);
            exit(1);
        }
        memmove(f->in, f->in + head + len, f->in_len - head - len);
        f->in_len -= head + len;
    }
}

static void wait_io(struct flood *f, int ms)
{
    struct pollfd p = {.fd = f->fd, .events = POLLIN | (f->out_len ? POLLOUT : 0)};

    if (SSL_pending(f->ssl) > 0)
        return;
    poll(&p, 1, ms);
}

/* Sends one text frame and waits for a text frame of the wanted type (exits otherwise). */
static void exchange(struct flood *f, const char *frame, const char *want)
{
    char type[32] = "";

    if (!frame_queue(f, 1, frame, strlen(frame)))
        exit(1);
    while (strcmp(type, want)) {
        if (now_s() > f->deadline) {
            fprintf(stderr, "rt_tls_flood: no \"%s\" in time\n", want);
            exit(1);
        }
        flush_some(f);
        while (read_some(f))
            ;
        frames_parse(f, type, sizeof(type));
        if (strcmp(type, want))
            wait_io(f, 50);
    }
}

static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("rt_tls_flood: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* The upgrade request and its 101 (read byte by byte over the blocking socket, so that no
 * frame that follows is consumed with the head). */
static void upgrade(struct flood *f, int port)
{
    char req[256], head[4096];
    size_t n = 0;

    snprintf(req, sizeof(req),
             "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n", port);
    if (SSL_write(f->ssl, req, (int)strlen(req)) <= 0)
        die_ssl("SSL_write (upgrade)");
    while (n < sizeof(head) - 1) {
        if (SSL_read(f->ssl, head + n, 1) != 1)
            die_ssl("SSL_read (upgrade)");
        n++;
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
            break;
    }
    head[n] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12)) {
        fprintf(stderr, "rt_tls_flood: upgrade refused: %.80s\n", head);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static struct flood f;
    char frame[512], type[32], *also;
    SSL_CTX *ctx;
    long count;

    if (argc != 7) {
        fprintf(stderr, "usage: rt_tls_flood PORT TOKEN ORG CHANNEL COUNT SECONDS\n");
        return 2;
    }
    f.channel = argv[4];
    also = strchr(argv[4], ',');
    if (also)
        *also++ = '\0';
    count = atol(argv[5]);
    f.deadline = now_s() + atof(argv[6]);
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION))
        die_ssl("SSL_CTX_new");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    f.fd = tcp_connect(atoi(argv[1]));
    f.ssl = SSL_new(ctx);
    if (!f.ssl || !SSL_set_fd(f.ssl, f.fd) || SSL_connect(f.ssl) != 1)
        die_ssl("TLS handshake");
    upgrade(&f, atoi(argv[1]));
    if (fcntl(f.fd, F_SETFL, fcntl(f.fd, F_GETFL) | O_NONBLOCK) < 0)
        return 1;

    snprintf(frame, sizeof(frame), "{\"type\":\"auth\",\"token\":\"%s\"}", argv[2]);
    exchange(&f, frame, "ready");
    snprintf(frame, sizeof(frame), "{\"type\":\"subscribe\",\"org\":%s,\"channels\":[\"%s\"%s%s%s]}",
             argv[3], f.channel, also ? ",\"" : "", also ? also : "", also ? "\"" : "");
    exchange(&f, frame, "subscribed");
    printf("subscribed\n");
    fflush(stdout);

    while (f.events < count) {
        if (now_s() > f.deadline) {
            fprintf(stderr, "rt_tls_flood: %ld of %ld events in time\n", f.events, count);
            return 1;
        }
        /* Keep the server reading: pings while few are unanswered, control PINGs, and now and
         * then a KeyUpdate that makes the server re-key its sending side too. */
        while (f.pings_inflight < FLOOD_INFLIGHT &&
               frame_queue(&f, 1, "{\"type\":\"ping\"}", 15) && frame_queue(&f, 9, "p", 1)) {
            f.pings_inflight++;
            if (++f.frames_sent % FLOOD_KEY_UPDATE_EVERY == 0 &&
                SSL_get_key_update_type(f.ssl) == SSL_KEY_UPDATE_NONE) {
                if (!SSL_key_update(f.ssl, SSL_KEY_UPDATE_REQUESTED))
                    die_ssl("SSL_key_update");
                f.key_updates++;
            }
        }
        flush_some(&f);
        while (read_some(&f))
            ;
        frames_parse(&f, type, sizeof(type));
        wait_io(&f, 20);
    }
    fprintf(stderr, "rt_tls_flood: %ld events, %ld pongs, %ld key updates\n", f.events, f.pongs,
            f.key_updates);
    frame_queue(&f, 8, "\x03\xe8", 2);
    flush_some(&f);
    SSL_free(f.ssl);
    SSL_CTX_free(ctx);
    close(f.fd);
    return 0;
}
