/* The map stream client (agent/daemon/mapstream.h) against a scripted WebSocket server
 * (ws_server.py, stdlib Python), plain and over TLS, in the daemon's own loop (loop.c with no
 * WireGuard device): the signed upgrade; map frames split anywhere, with 7-bit, 16-bit and
 * 64-bit lengths, fragmented with a ping in the middle, and in the same segment as the 101;
 * masked pongs to the server's pings; our ping when due and the server's pong; frames of newer
 * types ignored; the server's close answered; and each way the stream ends: 404, error frames
 * (BUSY, UNAUTHORIZED, MACHINE_UNKNOWN), a wrong Sec-WebSocket-Accept, a masked frame, a frame
 * over the limit, silence, EOF, no answer to the upgrade, a refused connection. A callback that
 * stops the stream, and start/stop cycles that leave no file descriptor behind. The server going
 * away (a clean close 1001): the stream opens again by itself within the reopening window, at
 * the owner's version then, with no end reported (the agent would poll on one); also after a
 * reopening that found no server; and only until the window reaches its cap. */
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/mapstream.h"
#include "common/ctl/ctl_auth.h"
#include "tests/check.h"

#define MAX_MAPS 16

static struct {
    int opened, pongs, ended, n_maps, reopenings;
    int64_t reopen_since; /* what on_reopening() answers */
    enum mapstream_end how;
    char code[64], why[1200];
    char *maps[MAX_MAPS];
    bool stop_on_map;
} ev;
static struct mapstream *g_ms;
static char tmpdir[64], logfile[128];
static uint8_t machine_pk[32];

static void on_opened(struct agent *a)
{
    (void)a;
    ev.opened++;
}

static void on_map(struct agent *a, const char *msg, size_t len)
{
    if (ev.n_maps < MAX_MAPS)
        ev.maps[ev.n_maps] = strndup(msg, len);
    ev.n_maps++;
    if (ev.stop_on_map)
        mapstream_stop(a, g_ms); /* what control.c does on a map to resync or to refuse */
}

static void on_pong(struct agent *a)
{
    (void)a;
    ev.pongs++;
}

static void on_ended(struct agent *a, enum mapstream_end how, const char *code, const char *why)
{
    (void)a;
    ev.ended++;
    ev.how = how;
    snprintf(ev.code, sizeof(ev.code), "%s", code);
    snprintf(ev.why, sizeof(ev.why), "%s", why);
}

static int64_t on_reopening(struct agent *a)
{
    (void)a;
    ev.reopenings++;
    return ev.reopen_since;
}

static const struct mapstream_ops ops = {on_opened, on_map, on_pong, on_ended, on_reopening};

static void events_reset(void)
{
    for (int i = 0; i < MAX_MAPS; i++)
        free(ev.maps[i]);
    memset(&ev, 0, sizeof(ev));
}

/* One turn of the loop (and the tick, as the daemon does), waiting up to 20 ms. */
static void pump_once(struct agent *a)
{
    struct epoll_event e;
    epoll_wait(a->epfd, &e, 1, 20);
    loop_dispatch(a);
    mapstream_tick(a, g_ms, agent_now_ms());
}

/* Runs the loop until *counter reaches want or timeout. */
static bool pump_until(struct agent *a, const int *counter, int want, int timeout_ms)
{
    uint64_t end = agent_now_ms() + (uint64_t)timeout_ms;
    while (*counter < want && agent_now_ms() < end)
        pump_once(a);
    return *counter >= want;
}

static void start(struct agent *a, const char *scheme, int port, const char *sc, int64_t since)
{
    char url[128];
    events_reset();
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/%s", scheme, port, sc);
    CHECK(mapstream_start(a, g_ms, url, since) == 0);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_CONNECTING);
}

static char *expected_map(const char *tag, size_t size)
{
    char *s = malloc(size + 256), zeros[129];
    memset(zeros, '0', 128);
    zeros[128] = 0;
    int n = sprintf(s, "{\"type\":\"map\",\"payload\":\"%s", tag);
    memset(s + n, 'A', size);
    sprintf(s + n + size, "\",\"sig\":\"%s\",\"path\":[]}", zeros);
    return s;
}

static bool map_is(int i, const char *tag, size_t size)
{
    char *want = expected_map(tag, size);
    bool ok = i < ev.n_maps && i < MAX_MAPS && ev.maps[i] && !strcmp(ev.maps[i], want);
    free(want);
    return ok;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    if (f) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

/* Waits for the server to log a line holding needle. */
static bool log_has(const char *needle)
{
    for (int i = 0; i < 100; i++) {
        char *s = slurp(logfile);
        bool found = strstr(s, needle) != NULL;
        free(s);
        if (found)
            return true;
        usleep(20000);
    }
    fprintf(stderr, "server log lacks: %s\n", needle);
    return false;
}

/* The upgrade of scenario sc was signed with our key over the path without the URL's prefix,
 * and carried the WebSocket headers. */
static void check_request(const char *sc, int port, int64_t since)
{
    char *s = slurp(logfile), *line = strtok(s, "\n"), want_target[128], signed_path[96], host[64];
    bool seen = false;
    snprintf(signed_path, sizeof(signed_path), "/api/machine/map/stream?since=%lld", (long long)since);
    snprintf(want_target, sizeof(want_target), "GET /%s%s HTTP/1.1", sc, signed_path);
    snprintf(host, sizeof(host), "127.0.0.1:%d", port);
    for (; line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *h = cJSON_GetObjectItem(j, "headers");
        const char *l = cJSON_GetStringValue(cJSON_GetObjectItem(j, "line"));
        if (!l || strcmp(l, want_target)) {
            cJSON_Delete(j);
            continue;
        }
        seen = true;
        const char *auth = cJSON_GetStringValue(cJSON_GetObjectItem(h, "authorization"));
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(h, "sec-websocket-key"));
        struct ctl_auth ca;
        uint8_t raw[32];
        size_t got = 0;
        CHECK(auth && ctl_auth_header_parse(auth, strlen(auth), &ca));
        CHECK(auth && ctl_auth_verify(&ca, "GET", signed_path, NULL, 0, time(NULL), 60) == 0);
        CHECK(auth && !memcmp(ca.machine_key, machine_pk, 32));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h, "upgrade")), "websocket"));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h, "connection")), "Upgrade"));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h, "sec-websocket-version")), "13"));
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h, "host")), host));
        CHECK(key && strlen(key) == 24 &&
              sodium_base642bin(raw, sizeof(raw), key, 24, NULL, &got, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0 && got == 16);
        cJSON_Delete(j);
    }
    CHECK(seen);
    free(s);
}

/* The whole conversation of ws_server.py's scenario_ok, plain or over TLS. */
static void test_ok(struct agent *a, const char *scheme, int port, const char *sc)
{
    char needle[256];
    start(a, scheme, port, sc, 42);
    CHECK(pump_until(a, &ev.opened, 1, 10000));
    CHECK(mapstream_state(g_ms) == MAPSTREAM_OPEN);
    CHECK(pump_until(a, &ev.n_maps, 2, 10000));
    CHECK(map_is(0, "first", 0) && map_is(1, "after-pong", 0));
    /* the tick sends our ping once AGENT_STREAM_PING_S passed without sending */
    mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_PING_S * 1000u + 1);
    CHECK(pump_until(a, &ev.pongs, 1, 10000));
    CHECK(pump_until(a, &ev.ended, 1, 10000));
    CHECK(ev.n_maps == 6);
    CHECK(map_is(2, "len16-", 300) && map_is(3, "len64-", 70000) && map_is(4, "fragmented", 50));
    CHECK(map_is(5, "last", 0));
    CHECK(ev.pongs == 1); /* the JSON pong; a pong frame nobody asked for is no event */
    CHECK(ev.how == MAPSTREAM_BROKEN && strstr(ev.why, "1000") && !ev.code[0]);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_IDLE);
    snprintf(needle, sizeof(needle),
             "\"scenario\": \"%s\", \"event\": \"client-frame\", \"opcode\": 10, \"data\": \"hi\", "
             "\"masked\": true", sc);
    CHECK(log_has(needle));
    snprintf(needle, sizeof(needle),
             "\"scenario\": \"%s\", \"event\": \"client-frame\", \"opcode\": 1, \"data\": "
             "\"{\\\"type\\\":\\\"ping\\\"}\", \"masked\": true", sc);
    CHECK(log_has(needle));
    snprintf(needle, sizeof(needle),
             "\"scenario\": \"%s\", \"event\": \"client-frame\", \"opcode\": 10, \"data\": \"mid\"", sc);
    CHECK(log_has(needle));
    snprintf(needle, sizeof(needle),
             "\"scenario\": \"%s\", \"event\": \"client-frame\", \"opcode\": 8, \"data\": \"03e8\"", sc);
    CHECK(log_has(needle));
    check_request(sc, port, 42);
}

/* A scenario that ends the stream: how, the code and a piece of why. */
static void test_end(struct agent *a, int port, const char *sc, enum mapstream_end how,
                     const char *code, const char *why_part, int opened)
{
    start(a, "http", port, sc, 0);
    if (!pump_until(a, &ev.ended, 1, 10000))
        fprintf(stderr, "%s: no end\n", sc);
    CHECK(ev.ended == 1 && ev.how == how && !strcmp(ev.code, code) && strstr(ev.why, why_part));
    CHECK(ev.opened == opened && ev.n_maps == 0 && ev.reopenings == 0);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_IDLE);
    if (ev.ended != 1 || ev.how != how || strcmp(ev.code, code) || !strstr(ev.why, why_part))
        fprintf(stderr, "%s: ended %d how %d code '%s' why '%s'\n", sc, ev.ended, ev.how, ev.code,
                ev.why);
}

static void test_timers(struct agent *a, int port)
{
    start(a, "http", port, "silent", 0);
    CHECK(pump_until(a, &ev.opened, 1, 10000));
    mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_SILENCE_S * 1000u + 1);
    CHECK(ev.ended == 1 && ev.how == MAPSTREAM_SILENT && strstr(ev.why, "nothing from"));

    start(a, "http", port, "hang", 0);
    pump_until(a, &ev.ended, 1, 300);
    CHECK(ev.ended == 0 && mapstream_state(g_ms) == MAPSTREAM_CONNECTING);
    mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_HANDSHAKE_S * 1000u + 1);
    CHECK(ev.ended == 1 && ev.how == MAPSTREAM_UNREACHABLE && strstr(ev.why, "no answer"));
}

/* Runs the loop until the stream is in state st or timeout. */
static bool pump_until_state(struct agent *a, enum mapstream_state st, int timeout_ms)
{
    uint64_t end = agent_now_ms() + (uint64_t)timeout_ms;
    while (mapstream_state(g_ms) != st && agent_now_ms() < end)
        pump_once(a);
    return mapstream_state(g_ms) == st;
}

/* Regression: after a server restart every agent polled for a minute (10,000 held polls). A
 * clean close 1001 now reopens the stream by itself, AGENT_STREAM_REOPEN_MIN_MS to
 * AGENT_STREAM_REOPEN_MS later, signed and at the version the owner holds then, with no end
 * reported: the owner (control.c) polls only after an end, or while the stream is idle. */
static void test_going_away(struct agent *a, int port)
{
    start(a, "http", port, "goaway", 5);
    ev.reopen_since = 77;
    CHECK(pump_until(a, &ev.opened, 1, 10000));
    CHECK(pump_until_state(a, MAPSTREAM_REOPENING, 10000));
    uint64_t t0 = agent_now_ms();
    CHECK(ev.ended == 0 && ev.reopenings == 0);
    CHECK(pump_until(a, &ev.opened, 2, AGENT_STREAM_REOPEN_MS + 2000));
    uint64_t dt = agent_now_ms() - t0;
    CHECK(dt + 50 >= AGENT_STREAM_REOPEN_MIN_MS && dt <= AGENT_STREAM_REOPEN_MS + 500);
    if (dt + 50 < AGENT_STREAM_REOPEN_MIN_MS || dt > AGENT_STREAM_REOPEN_MS + 500)
        fprintf(stderr, "going away: opened again after %llu ms\n", (unsigned long long)dt);
    CHECK(ev.reopenings == 1 && ev.ended == 0 && mapstream_state(g_ms) == MAPSTREAM_OPEN);
    CHECK(pump_until(a, &ev.n_maps, 1, 10000) && map_is(0, "back", 0));
    /* the server's close answered; the second upgrade signed, at the owner's version */
    CHECK(log_has("\"scenario\": \"goaway\", \"event\": \"client-frame\", \"opcode\": 8, "
                  "\"data\": \"03e8\""));
    check_request("goaway", port, 5);
    check_request("goaway", port, 77);
    mapstream_stop(a, g_ms);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_IDLE && ev.ended == 0);

    /* reopened to a server not back yet (no answer): it tries again, not the owner's poll */
    start(a, "http", port, "goaway-hang", 0);
    CHECK(pump_until(a, &ev.opened, 1, 10000));
    CHECK(pump_until_state(a, MAPSTREAM_REOPENING, 10000));
    mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_REOPEN_MS + 1);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_CONNECTING && ev.reopenings == 1);
    pump_until(a, &ev.ended, 1, 300);
    mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_HANDSHAKE_S * 1000u + 1);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_REOPENING && ev.ended == 0);
    mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_REOPEN_MAX_MS + 1);
    CHECK(pump_until(a, &ev.n_maps, 1, 10000) && map_is(0, "back", 0));
    CHECK(ev.opened == 2 && ev.reopenings == 2 && ev.ended == 0);
    mapstream_stop(a, g_ms);

    /* a server that keeps going away: reopened while the window doubles up to its cap, then
     * the end is reported (and the owner polls) */
    int want = 1;
    for (unsigned w = AGENT_STREAM_REOPEN_MS; w < AGENT_STREAM_REOPEN_MAX_MS; w *= 2)
        want++;
    start(a, "http", port, "goaway-always", 0);
    for (int i = 0; i <= want + 1; i++) {
        if (!pump_until(a, &ev.opened, i + 1, 10000))
            break;
        uint64_t end = agent_now_ms() + 10000;
        while (mapstream_state(g_ms) != MAPSTREAM_REOPENING && !ev.ended && agent_now_ms() < end)
            pump_once(a);
        if (ev.ended)
            break;
        mapstream_tick(a, g_ms, agent_now_ms() + AGENT_STREAM_REOPEN_MAX_MS + 1);
    }
    CHECK(ev.reopenings == want && ev.opened == want + 1);
    CHECK(ev.ended == 1 && ev.how == MAPSTREAM_BROKEN && strstr(ev.why, "1001"));
    CHECK(mapstream_state(g_ms) == MAPSTREAM_IDLE);
    if (ev.reopenings != want || ev.ended != 1)
        fprintf(stderr, "going away always: %d reopenings (want %d), ended %d\n", ev.reopenings,
                want, ev.ended);
}

static int closed_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bind(s, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(s, (struct sockaddr *)&sin, &sl);
    close(s);
    return ntohs(sin.sin_port);
}

static int fd_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* A callback may stop the stream with frames still unread; start/stop cycles leak nothing. */
static void test_lifecycle(struct agent *a, int port)
{
    start(a, "http", port, "ok", 7);
    ev.stop_on_map = true;
    CHECK(pump_until(a, &ev.n_maps, 1, 10000));
    pump_until(a, &ev.ended, 1, 300);
    CHECK(ev.n_maps == 1 && ev.ended == 0 && mapstream_state(g_ms) == MAPSTREAM_IDLE);

    int before = fd_count();
    for (int i = 0; i < 10; i++) {
        start(a, "http", port, "cycle", i);
        CHECK(pump_until(a, &ev.opened, 1, 10000));
        mapstream_stop(a, g_ms);
        CHECK(mapstream_state(g_ms) == MAPSTREAM_IDLE);
        loop_dispatch(a);
    }
    /* curl closes its copy of a stopped stream's socket when its pool next looks at it */
    CHECK(fd_count() <= before + 2);
    CHECK(log_has("\"scenario\": \"cycle\", \"event\": \"request\""));

    CHECK(mapstream_start(a, g_ms, "not a url", 0) < 0);
    CHECK(mapstream_state(g_ms) == MAPSTREAM_IDLE);
}

static bool make_cert(char *cert, char *key, size_t cap)
{
    char cmd[600];
    snprintf(cert, cap, "%s/cert.pem", tmpdir);
    snprintf(key, cap, "%s/key.pem", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s "
             ">/dev/null 2>&1", key, cert);
    return system(cmd) == 0;
}

int main(void)
{
    char portfile[128], cert[128], key[128], script[512];
    int plain = 0, tls = 0;
    struct agent *a = calloc(1, sizeof(*a));
    pid_t pid;

    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !a)
        return 1;
    snprintf(script, sizeof(script), "%s/tests/mesh/ws_server.py", ZTNA_SOURCE_DIR);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ztna-mapstream-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    snprintf(portfile, sizeof(portfile), "%s/ports", tmpdir);
    snprintf(logfile, sizeof(logfile), "%s/log", tmpdir);
    bool have_tls = make_cert(cert, key, sizeof(cert));
    if (!have_tls)
        printf("test_mapstream: no openssl command: the TLS cases are skipped\n");
    pid = fork();
    if (pid == 0) {
        execlp("python3", "python3", script, portfile, logfile, have_tls ? cert : NULL,
               have_tls ? key : NULL, (char *)NULL);
        _exit(77);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%d %d", &plain, &tls) != 2)
                plain = 0;
            fclose(f);
            break;
        }
        usleep(10000);
    }
    if (!plain) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        printf("test_mapstream: skipped: python3 did not start ws_server.py\n");
        return 77;
    }

    crypto_sign_keypair(machine_pk, a->keys.machine_sk);
    memcpy(a->keys.machine_pk, machine_pk, 32);
    a->epfd = -1;
    CHECK(loop_init(a) == 0);
    CHECK(mapstream_new(a, &ops, &g_ms) == 0);

    test_ok(a, "http", plain, "ok");
    start(a, "http", plain, "early", 0);
    CHECK(pump_until(a, &ev.n_maps, 1, 10000) && map_is(0, "early", 0) && ev.opened == 1);
    start(a, "http", plain, "big", 0);
    CHECK(pump_until(a, &ev.n_maps, 1, 10000) && map_is(0, "big", 300000));
    if (have_tls) {
        setenv("ZTNA_CA_FILE", cert, 1);
        test_ok(a, "https", tls, "tls");
        start(a, "https", tls, "big", 0);
        CHECK(pump_until(a, &ev.n_maps, 1, 10000) && map_is(0, "big", 300000));
        unsetenv("ZTNA_CA_FILE");
        /* without the CA the certificate is not trusted: a transport error */
        start(a, "https", tls, "big", 0);
        CHECK(pump_until(a, &ev.ended, 1, 10000) && ev.how == MAPSTREAM_UNREACHABLE);
    }
    test_end(a, plain, "notfound", MAPSTREAM_REFUSED, "", "HTTP 404", 0);
    test_end(a, plain, "busy", MAPSTREAM_REFUSED, "BUSY", "told by busy", 1);
    test_end(a, plain, "unauthorized", MAPSTREAM_REFUSED, "UNAUTHORIZED", "told by", 1);
    test_end(a, plain, "gone", MAPSTREAM_MACHINE_GONE, "MACHINE_UNKNOWN", "told by gone", 1);
    test_end(a, plain, "badaccept", MAPSTREAM_REFUSED, "", "Sec-WebSocket-Accept", 0);
    test_end(a, plain, "masked", MAPSTREAM_BROKEN, "", "masked frame from the server", 1);
    test_end(a, plain, "oversize", MAPSTREAM_BROKEN, "", "size limit", 1);
    test_end(a, plain, "eof", MAPSTREAM_BROKEN, "", "closed the connection", 1);
    test_end(a, closed_port(), "x", MAPSTREAM_UNREACHABLE, "", "connection refused", 0);
    test_timers(a, plain);
    test_going_away(a, plain);
    test_lifecycle(a, plain);

    mapstream_free(a, g_ms);
    loop_fini(a);
    events_reset();
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (!check_failures) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        (void)!system(cmd);
    }
    free(a);
    curl_global_cleanup();
    return check_finish("test_mapstream");
}
