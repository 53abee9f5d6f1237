/* Posture collection: OS, kernel, os-release, and the assembly of the heartbeat object. */
#include "agent/posture/posture_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ssize_t posture_read(const char *root, const char *rel, char *buf, size_t size)
{
    char path[4096];
    ssize_t n, total = 0;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
        return -ENAMETOOLONG;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    while ((size_t)total + 1 < size && (n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
        total += n;
    close(fd);
    buf[total] = '\0';
    return total;
}

/* Printable ASCII only (others become '?'), at most POSTURE_STR_MAX bytes, never empty. */
static void sanitize(char *s)
{
    size_t n = 0;

    for (; s[n] && n < POSTURE_STR_MAX; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            s[n] = '?';
    s[n] = '\0';
}

static void trim_newline(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
}

/* One os-release value (shell-like: "double quoted" with \ escapes, 'single', or bare). */
static void osrel_value(const char *v, char *out, size_t size)
{
    size_t o = 0;
    char q = (*v == '"' || *v == '\'') ? *v++ : 0;

    for (; *v && *v != '\n' && o + 1 < size; v++) {
        if (q && *v == q)
            break;
        if (q == '"' && *v == '\\' && v[1] && strchr("\"\\$`", v[1]))
            v++;
        out[o++] = *v;
    }
    out[o] = '\0';
}

static void os_release(const struct roots *r, char name[static POSTURE_STR_MAX + 1],
                       char id[static POSTURE_STR_MAX + 1], char ver[static POSTURE_STR_MAX + 1])
{
    char buf[8192];
    static const char *const keys[] = {"NAME=", "ID=", "VERSION_ID="};
    char *outs[] = {name, id, ver};

    for (int i = 0; i < 3; i++)
        snprintf(outs[i], POSTURE_STR_MAX + 1, "unknown");
    /* os-release(5): /etc/os-release, else /usr/lib/os-release (etc/../usr from our root). */
    if (posture_read(r->etc, "os-release", buf, sizeof(buf)) < 0 &&
        posture_read(r->etc, "../usr/lib/os-release", buf, sizeof(buf)) < 0)
        return;
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        for (int i = 0; i < 3; i++) {
            if (strncmp(line, keys[i], strlen(keys[i])) == 0) {
                osrel_value(line + strlen(keys[i]), outs[i], POSTURE_STR_MAX + 1);
                if (!outs[i][0])
                    snprintf(outs[i], POSTURE_STR_MAX + 1, "unknown");
                sanitize(outs[i]);
            }
        }
    }
}

/* Copies src into dst[cap], truncating (what snprintf "%s" did, without -Wformat-truncation). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void kernel(const struct roots *r, char os[static 32], char release[static POSTURE_STR_MAX + 1],
                   char version[static 32])
{
    char buf[256];
    size_t n;

    snprintf(os, 32, "unknown");
    snprintf(release, POSTURE_STR_MAX + 1, "unknown");
    snprintf(version, 32, "unknown");
    if (posture_read(r->proc, "sys/kernel/ostype", buf, sizeof(buf)) > 0) {
        trim_newline(buf);
        for (char *c = buf; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        if (buf[0] && strlen(buf) < 32)
            copy_str(os, 32, buf);
    }
    if (posture_read(r->proc, "sys/kernel/osrelease", buf, sizeof(buf)) > 0) {
        trim_newline(buf);
        if (buf[0])
            copy_str(release, POSTURE_STR_MAX + 1, buf);
    }
    sanitize(release);
    /* The policy compares dotted numbers: keep the leading "6.1.0" of "6.1.0-18-amd64". */
    n = strspn(release, "0123456789.");
    while (n > 0 && release[n - 1] == '.')
        n--;
    if (n > 0 && n < 32 && release[0] != '.')
        snprintf(version, 32, "%.*s", (int)n, release);
}

static cJSON *tri_json(enum tri t)
{
    return t == TRI_UNKNOWN ? cJSON_CreateString("unknown") : cJSON_CreateBool(t == TRI_TRUE);
}

int posture_collect(const struct posture_paths *roots, cJSON **out)
{
    struct roots r = {"/etc", "/proc", "/sys", "/usr/sbin:/sbin:/usr/bin:/bin"};
    char os[32], version[32], release[POSTURE_STR_MAX + 1];
    char name[POSTURE_STR_MAX + 1], id[POSTURE_STR_MAX + 1], ver[POSTURE_STR_MAX + 1];
    enum tri av, lock;
    cJSON *o;

    *out = NULL;
    if (roots) {
        r.etc = roots->etc ? roots->etc : r.etc;
        r.proc = roots->proc ? roots->proc : r.proc;
        r.sys = roots->sys ? roots->sys : r.sys;
        r.path = roots->path ? roots->path : r.path;
    }
    kernel(&r, os, release, version);
    os_release(&r, name, id, ver);
    posture_procs(&r, &av, &lock);
    o = cJSON_CreateObject();
    if (!o)
        return -ENOMEM;
    if (!cJSON_AddStringToObject(o, "os", os) ||
        !cJSON_AddStringToObject(o, "os_version", version) ||
        !cJSON_AddStringToObject(o, "kernel", release) ||
        !cJSON_AddStringToObject(o, "distro", name) ||
        !cJSON_AddStringToObject(o, "distro_id", id) ||
        !cJSON_AddStringToObject(o, "distro_version", ver) ||
        !cJSON_AddItemToObject(o, "disk_encryption", tri_json(posture_disk_encryption(&r))) ||
        !cJSON_AddItemToObject(o, "firewall", tri_json(posture_firewall(&r))) ||
        !cJSON_AddItemToObject(o, "screen_lock", tri_json(lock)) ||
        !cJSON_AddItemToObject(o, "antivirus", tri_json(av)) ||
        !cJSON_AddStringToObject(o, "agent_version", ZTNA_VERSION)) {
        cJSON_Delete(o);
        return -ENOMEM;
    }
    *out = o;
    return 0;
}

cJSON *posture_collect_json(void)
{
    cJSON *o = NULL;

    return posture_collect(NULL, &o) == 0 ? o : NULL;
}
