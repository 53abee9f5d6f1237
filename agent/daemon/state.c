/* Keys and saved state in the state directory (see state.h). */
#include "agent/daemon/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "agent/daemon/jfields.h"
#include "common/hex.h"
#include "common/log.h"

#define STATE_FILE_MAX 65536

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Reads a small file; *out is new (free()), NUL-terminated. */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    ssize_t r;
    size_t n = 0;
    if (fd < 0)
        return -errno;
    buf = malloc(STATE_FILE_MAX + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (n < STATE_FILE_MAX && (r = read(fd, buf + n, STATE_FILE_MAX - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* Writes atomically (temporary file, fsync, rename), mode 0600. */
static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[512], tmp[520];
    int fd, ret = 0;
    if ((ret = path_join(path, sizeof(path), dir, name)))
        return ret;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
        ret = errno ? -errno : -EIO;
    close(fd);
    if (!ret && rename(tmp, path) < 0)
        ret = -errno;
    if (ret)
        unlink(tmp);
    return ret;
}

static int mkdir_p(const char *dir)
{
    char buf[256];
    size_t n = strlen(dir);
    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        buf[i] = c;
    }
    return chmod(dir, 0700) < 0 ? -errno : 0;
}

static void trim(char *s, size_t *len)
{
    while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r' || s[*len - 1] == ' '))
        s[--*len] = 0;
}

static int load_machine_key(const char *dir, struct agent_keys *k)
{
    char path[512], *txt = NULL, hex[65];
    uint8_t seed[32];
    size_t len;
    int ret = path_join(path, sizeof(path), dir, "machine.key");
    if (ret)
        return ret;
    ret = read_file(path, &txt, &len);
    if (ret == -ENOENT) {
        randombytes_buf(seed, sizeof(seed));
        hex_encode(hex, seed, 32);
        hex[64] = '\n';
        ret = write_file(dir, "machine.key", hex, 65);
        sodium_memzero(hex, sizeof(hex));
    } else if (!ret) {
        trim(txt, &len);
        ret = len == 64 && hex_decode(seed, 32, txt) ? 0 : -EINVAL;
        if (ret)
            log_error("daemon", "%s: not 64 hex characters", path);
        sodium_memzero(txt, len);
        free(txt);
    }
    if (!ret)
        crypto_sign_seed_keypair(k->machine_pk, k->machine_sk, seed);
    sodium_memzero(seed, sizeof(seed));
    return ret;
}

static int load_wg_key(const char *dir, struct agent_keys *k)
{
    char path[512], *txt = NULL, b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL) + 1];
    size_t len;
    int ret = path_join(path, sizeof(path), dir, "wg.key");
    if (ret)
        return ret;
    ret = read_file(path, &txt, &len);
    if (ret == -ENOENT) {
        crypto_box_keypair(k->wg_pub, k->wg_priv); /* X25519, clamped on use */
        k->wg_priv[0] &= 248;
        k->wg_priv[31] = (k->wg_priv[31] & 127) | 64;
        sodium_bin2base64(b64, sizeof(b64) - 1, k->wg_priv, 32, sodium_base64_VARIANT_ORIGINAL);
        len = strlen(b64);
        b64[len] = '\n';
        ret = write_file(dir, "wg.key", b64, len + 1);
        sodium_memzero(b64, sizeof(b64));
    } else if (!ret) {
        trim(txt, &len);
        ret = jfields_key32_decode(txt, k->wg_priv) ? 0 : -EINVAL;
        if (ret)
            log_error("daemon", "%s: not a base64 WireGuard key", path);
        sodium_memzero(txt, len);
        free(txt);
    }
    if (!ret && crypto_scalarmult_base(k->wg_pub, k->wg_priv) != 0)
        ret = -EINVAL;
    return ret;
}

int state_keys_load(const char *dir, struct agent_keys *k)
{
    int ret = mkdir_p(dir);
    if (!ret)
        ret = load_machine_key(dir, k);
    if (!ret)
        ret = load_wg_key(dir, k);
    return ret;
}

void state_keys_wipe(struct agent_keys *k)
{
    sodium_memzero(k, sizeof(*k));
}

bool state_registered(const struct agent_state *st)
{
    return st->machine_id > 0 && st->server_url[0];
}

struct state_in {
    struct agent_state st;
    char server_key[65];
};

#define SF(name, type, req, member, cap, maxn, cnt, lo, hi)                                      \
    {name, type, req, offsetof(struct state_in, member), cap, maxn, cnt, lo, hi}
static const struct jfield state_fields[] = {
    SF("server_url", JF_STR, true, st.server_url, AGENT_URL_MAX, 0, 0, 1, 0),
    SF("server_key", JF_STR, true, server_key, 65, 0, 0, 1, 0),
    SF("machine_id", JF_I64, true, st.machine_id, 0, 0, 0, 1, INT64_MAX),
    SF("org_id", JF_I64, false, st.org_id, 0, 0, 0, 0, INT64_MAX),
    SF("heartbeat_interval", JF_I64, false, st.heartbeat_interval, 0, 0, 0, 0, 86400),
    SF("tailnet_ip", JF_STR, false, st.tailnet_ip, 16, 0, 0, 0, 0),
    SF("fqdn", JF_STR, false, st.fqdn, AGENT_FQDN_MAX, 0, 0, 0, 0),
    SF("hostname", JF_STR, false, st.hostname, AGENT_NAME_MAX, 0, 0, 0, 0),
    SF("tags", JF_STRARR, false, st.tags, AGENT_NAME_MAX, AGENT_MAX_TAGS,
       offsetof(struct state_in, st.n_tags), 1, 0),
    SF("want_up", JF_BOOL, false, st.want_up, 0, 0, 0, 0, 0),
    SF("accept_dns", JF_BOOL, false, st.accept_dns, 0, 0, 0, 0, 0),
};

int state_load(const char *dir, struct agent_state *st)
{
    char path[512], *txt = NULL, why[160];
    size_t len;
    struct state_in in;
    cJSON *root;
    int ret = path_join(path, sizeof(path), dir, "state.json");
    if (ret || (ret = read_file(path, &txt, &len)))
        return ret;
    memset(&in, 0, sizeof(in));
    root = cJSON_ParseWithLength(txt, len);
    ret = root ? jfields_parse(root, state_fields, sizeof(state_fields) / sizeof(state_fields[0]),
                               &in, NULL, why, sizeof(why))
               : -EINVAL;
    if (!root)
        snprintf(why, sizeof(why), "not JSON");
    if (!ret && !hex_decode(in.st.server_key, 32, in.server_key)) {
        snprintf(why, sizeof(why), "server_key: not 64 hex characters");
        ret = -EINVAL;
    }
    if (ret)
        log_error("daemon", "%s: %s; ignoring it (log in again)", path, why);
    else
        *st = in.st;
    cJSON_Delete(root);
    free(txt);
    return ret;
}

int state_save(const char *dir, const struct agent_state *st)
{
    char hex[65], *txt;
    int ret = -ENOMEM;
    cJSON *o = cJSON_CreateObject(), *tags;
    if (!o)
        return -ENOMEM;
    hex_encode(hex, st->server_key, 32);
    cJSON_AddStringToObject(o, "server_url", st->server_url);
    cJSON_AddStringToObject(o, "server_key", hex);
    cJSON_AddNumberToObject(o, "machine_id", (double)st->machine_id);
    cJSON_AddNumberToObject(o, "org_id", (double)st->org_id);
    cJSON_AddNumberToObject(o, "heartbeat_interval", (double)st->heartbeat_interval);
    cJSON_AddStringToObject(o, "tailnet_ip", st->tailnet_ip);
    cJSON_AddStringToObject(o, "fqdn", st->fqdn);
    cJSON_AddStringToObject(o, "hostname", st->hostname);
    tags = cJSON_AddArrayToObject(o, "tags");
    for (size_t i = 0; tags && i < st->n_tags; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(st->tags[i]));
    cJSON_AddBoolToObject(o, "want_up", st->want_up);
    cJSON_AddBoolToObject(o, "accept_dns", st->accept_dns);
    txt = cJSON_Print(o);
    if (txt) {
        ret = write_file(dir, "state.json", txt, strlen(txt));
        free(txt);
    }
    cJSON_Delete(o);
    return ret;
}

int state_clear(const char *dir)
{
    char path[512];
    int ret = path_join(path, sizeof(path), dir, "state.json");
    if (ret)
        return ret;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
