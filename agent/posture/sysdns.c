/* The system resolver switch (see sysdns.h). */
#include "agent/posture/sysdns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "agent/posture/posture_int.h"

#define STATE_FILE "sysdns.state"
#define ORIG_FILE  "resolv.conf.orig"

struct sd {
    const char *resolv_conf, *state_dir, *run_dir, *path, *ifname;
    char state[4096], orig[4096];
};

/* What sysdns.state says. */
struct sd_state {
    enum { SD_NONE, SD_RESOLVED, SD_RESOLV_CONF } mode;
    char ifname[64];
    char link[4096];     /* non-empty: resolv.conf was a symlink to this */
    bool absent;         /* there was no resolv.conf */
    unsigned perm;
};

#define fail(err, errlen, ret, ...)                 \
    do {                                            \
        if ((err) && (errlen))                      \
            snprintf((err), (errlen), __VA_ARGS__); \
        return (ret);                               \
    } while (0)

static void sd_fill(const struct sysdns_paths *p, struct sd *s)
{
    s->resolv_conf = p && p->resolv_conf ? p->resolv_conf : "/etc/resolv.conf";
    s->state_dir = p && p->state_dir ? p->state_dir : "/var/lib/ztna";
    s->run_dir = p && p->run_dir ? p->run_dir : "/run";
    s->path = p && p->path ? p->path : "/usr/bin:/bin:/usr/sbin:/sbin";
    s->ifname = p && p->ifname ? p->ifname : "ztna0";
    snprintf(s->state, sizeof(s->state), "%s/%s", s->state_dir, STATE_FILE);
    snprintf(s->orig, sizeof(s->orig), "%s/%s", s->state_dir, ORIG_FILE);
}

/* Reads a whole file (at most SYSDNS_MAX_FILE) into a new buffer; *len bytes (+ NUL). */
static int slurp(const char *path, char **out, size_t *len)
{
    char *buf = malloc(SYSDNS_MAX_FILE + 2);
    ssize_t n = buf ? posture_read(path[0] == '/' ? "" : ".", path, buf, SYSDNS_MAX_FILE + 2)
                    : -ENOMEM;

    if (n < 0) {
        free(buf);
        return (int)n;
    }
    if ((size_t)n > SYSDNS_MAX_FILE) {
        free(buf);
        return -EFBIG;
    }
    *out = buf;
    *len = (size_t)n;
    return 0;
}

/* Writes path atomically: path.ztna-tmp with mode, fsync, rename. */
static int write_atomic(const char *path, const char *data, size_t len, unsigned mode)
{
    char tmp[4200];
    int fd, ret = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.ztna-tmp", path) >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) < 0)
        ret = -errno;
    for (size_t off = 0; ret == 0 && off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno != EINTR)
            ret = -errno;
        else if (n > 0)
            off += (size_t)n;
    }
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    if (ret == 0 && rename(tmp, path) < 0)
        ret = -errno;
    if (ret < 0)
        unlink(tmp);
    return ret;
}

static void state_read(const struct sd *s, struct sd_state *st)
{
    char buf[8192];

    memset(st, 0, sizeof(*st));
    st->perm = 0644;
    if (posture_read(s->state[0] == '/' ? "" : ".", s->state, buf, sizeof(buf)) <= 0)
        return;
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t n = strcspn(l, "\n");

        if (!strncmp(l, "mode resolved\n", 14))
            st->mode = SD_RESOLVED;
        else if (!strncmp(l, "mode resolv.conf\n", 17))
            st->mode = SD_RESOLV_CONF;
        else if (!strncmp(l, "ifname ", 7) && n - 7 < sizeof(st->ifname))
            snprintf(st->ifname, sizeof(st->ifname), "%.*s", (int)(n - 7), l + 7);
        else if (!strncmp(l, "link ", 5) && n - 5 < sizeof(st->link))
            snprintf(st->link, sizeof(st->link), "%.*s", (int)(n - 5), l + 5);
        else if (!strncmp(l, "absent\n", 7))
            st->absent = true;
        else if (!strncmp(l, "perm ", 5))
            st->perm = (unsigned)strtoul(l + 5, NULL, 8) & 07777;
    }
}

static int state_write(const struct sd *s, const struct sd_state *st)
{
    char buf[8400];
    int n;

    if (st->mode == SD_RESOLVED)
        n = snprintf(buf, sizeof(buf), "mode resolved\nifname %s\n", st->ifname);
    else
        n = snprintf(buf, sizeof(buf), "mode resolv.conf\nperm %o\n%s%s%s%s", st->perm,
                     st->absent ? "absent\n" : "", st->link[0] ? "link " : "", st->link,
                     st->link[0] ? "\n" : "");
    return write_atomic(s->state, buf, (size_t)n, 0600);
}

static bool suffix_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
        return false;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
            *s != '-' && *s != '.')
            return false;
    return true;
}

/* --- systemd-resolved ------------------------------------------------------------------------ */

static bool resolved_present(const struct sd *s, char *tool, size_t size)
{
    char dir[4200];
    struct stat stt;

    snprintf(dir, sizeof(dir), "%s/systemd/resolve", s->run_dir);
    return stat(dir, &stt) == 0 && S_ISDIR(stt.st_mode) &&
           posture_find_tool(s->path, "resolvectl", tool, size);
}

static int resolvectl(const char *tool, const char *a, const char *b, const char *c, char *err,
                      size_t errlen)
{
    char *argv[] = {(char *)tool, (char *)a, (char *)b, (char *)c, NULL}, *out = NULL;
    int r = posture_run(argv, SYSDNS_TIMEOUT_MS, &out);

    free(out);
    if (r != 0)
        fail(err, errlen, r < 0 ? r : -EIO, "resolvectl %s %s%s%s failed (%s %d)", a, b,
             c ? " " : "", c ? c : "", r < 0 ? "error" : "exit status", r < 0 ? -r : r);
    return 0;
}

static int resolved_apply(const struct sd *s, const char *tool, const char *suffix,
                          const char *resolver, char *err, size_t errlen)
{
    struct sd_state st = {.mode = SD_RESOLVED};
    int r;

    snprintf(st.ifname, sizeof(st.ifname), "%s", s->ifname);
    if ((r = state_write(s, &st)) < 0)
        fail(err, errlen, r, "cannot write %s: %s", s->state, strerror(-r));
    if ((r = resolvectl(tool, "dns", s->ifname, resolver, err, errlen)) < 0 ||
        (r = resolvectl(tool, "domain", s->ifname, suffix, err, errlen)) < 0 ||
        (r = resolvectl(tool, "default-route", s->ifname, "false", err, errlen)) < 0) {
        resolvectl(tool, "revert", s->ifname, NULL, NULL, 0);
        unlink(s->state);
        return r;
    }
    return 0;
}

/* --- /etc/resolv.conf ------------------------------------------------------------------------ */

static bool word_in(const char *list, const char *w)
{
    size_t n = strlen(w);

    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Appends to out (capacity cap, *o used); drops what does not fit, never overruns. */
static void __attribute__((format(printf, 4, 5))) put(char *out, size_t cap, size_t *o,
                                                      const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < cap - *o)
        *o += (size_t)n;
    else
        out[*o] = '\0';
}

/* The new resolv.conf from the original (see sysdns.h); a new string, or NULL. */
static char *compose(const char *orig, const char *suffix, const char *resolver)
{
    size_t cap = strlen(orig) + 2 * 1024;
    char *out = malloc(cap), search[1100], *copy = strdup(orig), *save = NULL;
    size_t o = 0;

    if (!out || !copy) {
        free(out);
        free(copy);
        return NULL;
    }
    snprintf(search, sizeof(search), "%s", suffix);
    put(out, cap, &o, "%s\nnameserver %s\n", SYSDNS_MARKER, resolver);
    /* Pass 1: nameservers (fallback) and search domains; pass 2 (below): other lines. */
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char w[256];

        if (sscanf(l, "nameserver %255s", w) == 1 && strcmp(w, resolver) != 0) {
            put(out, cap, &o, "nameserver %s\n", w);
        } else if (!strncmp(l, "search", 6) || !strncmp(l, "domain", 6)) {
            char *t, *s2 = NULL;

            for (t = strtok_r(l + 6, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2))
                if (!word_in(search, t) && strlen(search) + strlen(t) + 2 < sizeof(search))
                    strcat(strcat(search, " "), t);
        }
    }
    put(out, cap, &o, "search %s\n", search);
    free(copy);
    copy = strdup(orig);
    save = NULL;
    for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "nameserver", 10) && strncmp(l, "search", 6) && strncmp(l, "domain", 6))
            put(out, cap, &o, "%s\n", l);
    }
    free(copy);
    return out;
}

static int resolvconf_apply(const struct sd *s, const char *suffix, const char *resolver,
                            char *err, size_t errlen)
{
    struct sd_state st;
    char *orig = NULL, *text;
    size_t len = 0;
    int r;

    state_read(s, &st);
    if (st.mode == SD_RESOLV_CONF) {
        /* Applied before: the saved copy is the original; never save our own file over it. */
        if ((r = slurp(s->orig, &orig, &len)) < 0)
            fail(err, errlen, r, "cannot read the saved original %s: %s", s->orig, strerror(-r));
    } else {
        struct stat lst;

        st = (struct sd_state){.mode = SD_RESOLV_CONF, .perm = 0644};
        if (lstat(s->resolv_conf, &lst) < 0) {
            if (errno != ENOENT)
                fail(err, errlen, -errno, "cannot stat %s: %s", s->resolv_conf, strerror(errno));
            st.absent = true;
        } else {
            st.perm = lst.st_mode & 07777;
            if (S_ISLNK(lst.st_mode)) {
                ssize_t n = readlink(s->resolv_conf, st.link, sizeof(st.link) - 1);
                if (n <= 0 || (size_t)n >= sizeof(st.link) - 1)
                    fail(err, errlen, -EINVAL, "cannot read the symlink %s", s->resolv_conf);
                st.link[n] = '\0';
                st.perm = 0644;
            }
        }
        if (st.absent) {
            orig = strdup("");
            if (!orig)
                return -ENOMEM;
        } else if ((r = slurp(s->resolv_conf, &orig, &len)) < 0) {
            fail(err, errlen, r, "cannot read %s: %s", s->resolv_conf, strerror(-r));
        }
        if (!strncmp(orig, SYSDNS_MARKER, strlen(SYSDNS_MARKER))) {
            free(orig);
            fail(err, errlen, -ESTALE, "%s was written by ztna but %s is missing: restore it by "
                 "hand", s->resolv_conf, s->orig);
        }
        if ((r = write_atomic(s->orig, orig, len, 0600)) < 0 || (r = state_write(s, &st)) < 0) {
            free(orig);
            fail(err, errlen, r, "cannot save the original resolv.conf in %s: %s", s->state_dir,
                 strerror(-r));
        }
    }
    text = compose(orig, suffix, resolver);
    free(orig);
    if (!text)
        return -ENOMEM;
    r = write_atomic(s->resolv_conf, text, strlen(text), 0644);
    free(text);
    if (r < 0)
        fail(err, errlen, r, "cannot write %s: %s", s->resolv_conf, strerror(-r));
    return 0;
}

int sysdns_apply(const struct sysdns_paths *p, const char *suffix, const char *resolver,
                 char *err, size_t errlen)
{
    struct sd s;
    struct sd_state st;
    char tool[1024];
    uint8_t a[16];

    sd_fill(p, &s);
    if (!suffix_valid(suffix))
        fail(err, errlen, -EINVAL, "invalid DNS suffix '%s'", suffix);
    if (inet_pton(AF_INET, resolver, a) != 1 && inet_pton(AF_INET6, resolver, a) != 1)
        fail(err, errlen, -EINVAL, "invalid resolver address '%s'", resolver);
    if (mkdir(s.state_dir, 0700) < 0 && errno != EEXIST)
        fail(err, errlen, -errno, "cannot create %s: %s", s.state_dir, strerror(errno));
    state_read(&s, &st);
    if (st.mode == SD_RESOLV_CONF)
        return resolvconf_apply(&s, suffix, resolver, err, errlen);
    if (st.mode == SD_RESOLVED || resolved_present(&s, tool, sizeof(tool))) {
        if (!resolved_present(&s, tool, sizeof(tool)))
            fail(err, errlen, -ENOENT, "systemd-resolved was used before but resolvectl is gone");
        return resolved_apply(&s, tool, suffix, resolver, err, errlen);
    }
    return resolvconf_apply(&s, suffix, resolver, err, errlen);
}

int sysdns_restore(const struct sysdns_paths *p, char *err, size_t errlen)
{
    struct sd s;
    struct sd_state st;
    char tool[1024], *cur = NULL, *orig = NULL;
    size_t len = 0, olen = 0;
    int r = 0;

    sd_fill(p, &s);
    state_read(&s, &st);
    if (st.mode == SD_NONE)
        return 0;
    if (st.mode == SD_RESOLVED) {
        if (!posture_find_tool(s.path, "resolvectl", tool, sizeof(tool)))
            fail(err, errlen, -ENOENT, "resolvectl not found to revert %s", st.ifname);
        r = resolvectl(tool, "revert", st.ifname, NULL, err, errlen);
        unlink(s.state);
        return r;
    }
    if (slurp(s.resolv_conf, &cur, &len) == 0 &&
        !strncmp(cur, SYSDNS_MARKER, strlen(SYSDNS_MARKER))) {
        /* Still ours: put the original back. Else someone replaced it; leave theirs. */
        if (st.link[0]) {
            char tmp[4200];

            snprintf(tmp, sizeof(tmp), "%s.ztna-tmp", s.resolv_conf);
            unlink(tmp);
            if (symlink(st.link, tmp) < 0 || rename(tmp, s.resolv_conf) < 0)
                r = -errno;
        } else if (st.absent) {
            if (unlink(s.resolv_conf) < 0)
                r = -errno;
        } else if ((r = slurp(s.orig, &orig, &olen)) == 0) {
            r = write_atomic(s.resolv_conf, orig, olen, st.perm);
        }
    }
    free(cur);
    free(orig);
    if (r < 0)
        fail(err, errlen, r, "cannot restore %s from %s: %s", s.resolv_conf, s.orig, strerror(-r));
    unlink(s.orig);
    unlink(s.state);
    return 0;
}

int sysdns_upstream(const struct sysdns_paths *p, const char *resolver, char *out, size_t size)
{
    struct sd s;
    struct sd_state st;
    char *text = NULL, *save = NULL;
    size_t len;
    int r = -ENOENT;

    sd_fill(p, &s);
    state_read(&s, &st);
    if (slurp(st.mode == SD_RESOLV_CONF ? s.orig : s.resolv_conf, &text, &len) < 0)
        return -ENOENT;
    for (char *l = strtok_r(text, "\n", &save); l && r; l = strtok_r(NULL, "\n", &save)) {
        char w[256];
        uint8_t a[16];

        if (sscanf(l, "nameserver %255s", w) == 1 && strcmp(w, resolver) &&
            (inet_pton(AF_INET, w, a) == 1 || inet_pton(AF_INET6, w, a) == 1) &&
            strlen(w) < size) {
            snprintf(out, size, "%s", w);
            r = 0;
        }
    }
    free(text);
    return r;
}
