/* disk_encryption: is the root filesystem on dm-crypt?
 *
 * /proc/self/mountinfo gives the root mount's device number and source. The device's sysfs
 * directory (/sys/dev/block/MAJ:MIN) tells what it is: a device-mapper target has dm/uuid, and
 * dm-crypt's starts "CRYPT-" (LUKS: "CRYPT-LUKS2-<uuid>-<name>"); LVM, RAID and other stacked
 * devices list what they sit on in slaves/, which we follow (bounded depth). The verdict over a
 * stack: encrypted if every path down reaches dm-crypt; not encrypted if one reaches a plain
 * disk or partition; unknown if one reaches something we cannot see through (loop, nbd, zram). */
#include "agent/posture/posture_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISK_MAX_DEPTH  8
#define DISK_MAX_SLAVES 64

static enum tri device(const char *sys, const char *dir, int depth);

/* AND over slaves: any FALSE -> FALSE, else any UNKNOWN -> UNKNOWN, else TRUE. *n counts them. */
static enum tri slaves(const char *sys, const char *dir, int depth, int *n)
{
    char sub[4096];
    struct dirent *e;
    DIR *d;
    enum tri all = TRI_TRUE;

    *n = 0;
    snprintf(sub, sizeof(sub), "%s/%s/slaves", sys, dir);
    d = opendir(sub);
    if (!d)
        return TRI_UNKNOWN;
    while ((e = readdir(d)) && *n < DISK_MAX_SLAVES) {
        char rel[4096];
        enum tri t;

        if (e->d_name[0] == '.')
            continue;
        (*n)++;
        if ((size_t)snprintf(rel, sizeof(rel), "%s/slaves/%s", dir, e->d_name) >= sizeof(rel))
            t = TRI_UNKNOWN;
        else
            t = device(sys, rel, depth + 1);
        if (t == TRI_FALSE)
            all = TRI_FALSE;
        else if (t == TRI_UNKNOWN && all == TRI_TRUE)
            all = TRI_UNKNOWN;
    }
    closedir(d);
    return all;
}

/* The kernel's name of a block device (uevent DEVNAME, else the directory's real name). */
static void devname(const char *sys, const char *dir, char *out, size_t size)
{
    char buf[1024], path[4096], *p, *real;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/uevent", dir);
    if (posture_read(sys, path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "DEVNAME="))) {
        p += 8;
        snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", sys, dir);
    real = realpath(path, NULL);
    if (real) {
        snprintf(out, size, "%s", strrchr(real, '/') + 1);
        free(real);
    }
}

/* dir is relative to sys, e.g. "dev/block/254:0" or "dev/block/254:0/slaves/vda2". */
static enum tri device(const char *sys, const char *dir, int depth)
{
    char buf[512], rel[4096], name[256];
    enum tri t;
    int n;

    if (depth > DISK_MAX_DEPTH)
        return TRI_UNKNOWN;
    snprintf(rel, sizeof(rel), "%s/dm/uuid", dir);
    if (posture_read(sys, rel, buf, sizeof(buf)) >= 0) {
        if (strncmp(buf, "CRYPT-", 6) == 0)
            return TRI_TRUE;
        t = slaves(sys, dir, depth, &n); /* LVM, multipath, ...: look underneath */
        return n > 0 ? t : TRI_UNKNOWN;
    }
    snprintf(rel, sizeof(rel), "%s/dev", dir);
    if (posture_read(sys, rel, buf, sizeof(buf)) < 0)
        return TRI_UNKNOWN; /* not a block device directory (or sysfs unreadable) */
    t = slaves(sys, dir, depth, &n); /* md RAID, bcache, ... */
    if (n > 0)
        return t;
    devname(sys, dir, name, sizeof(name));
    if (!name[0] || !strncmp(name, "loop", 4) || !strncmp(name, "nbd", 3) ||
        !strncmp(name, "zram", 4) || !strncmp(name, "ram", 3))
        return TRI_UNKNOWN; /* backed by a file or memory we cannot see through */
    return TRI_FALSE;    /* a plain disk or partition */
}

/* The sysfs directory (relative to sys) of a mount source like /dev/mapper/root or /dev/sda2,
 * for filesystems with anonymous device numbers (btrfs); false if there is none. */
static bool source_dir(const char *sys, const char *source, char *out, size_t size)
{
    char buf[256];

    if (!strncmp(source, "/dev/mapper/", 12)) {
        for (int i = 0; i < 256; i++) {
            char rel[64];

            snprintf(rel, sizeof(rel), "block/dm-%d/dm/name", i);
            if (posture_read(sys, rel, buf, sizeof(buf)) < 0)
                continue;
            buf[strcspn(buf, "\n")] = '\0';
            if (!strcmp(buf, source + 12)) {
                snprintf(out, size, "block/dm-%d", i);
                return true;
            }
        }
        return false;
    }
    if (!strncmp(source, "/dev/", 5) && !strchr(source + 5, '/')) {
        snprintf(out, size, "class/block/%s", source + 5);
        return true;
    }
    return false;
}

enum tri posture_disk_encryption(const struct roots *r)
{
    char *buf = malloc(1 << 20), dir[512];
    unsigned maj = 0, min = 0;
    char source[256] = "";
    bool found = false;
    enum tri t = TRI_UNKNOWN;

    if (!buf)
        return TRI_UNKNOWN;
    if (posture_read(r->proc, "self/mountinfo", buf, 1 << 20) <= 0)
        goto out;
    /* "36 25 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw": the last mount on "/" wins. */
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n'), *dash;
        char mnt[8];
        unsigned a, b;

        if (nl)
            *nl = '\0';
        dash = strstr(line, " - ");
        if (sscanf(line, "%*s %*s %u:%u %*s %7s", &a, &b, mnt) == 3 && !strcmp(mnt, "/") && dash) {
            maj = a;
            min = b;
            source[0] = '\0';
            if (sscanf(dash + 3, "%*s %255s", source) != 1)
                source[0] = '\0';
            found = true;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    if (!found)
        goto out;
    if (maj != 0) {
        snprintf(dir, sizeof(dir), "dev/block/%u:%u", maj, min);
        t = device(r->sys, dir, 0);
    } else if (source_dir(r->sys, source, dir, sizeof(dir))) {
        t = device(r->sys, dir, 0); /* btrfs and friends: anonymous device number */
    } /* else overlay, tmpfs, nfs, 9p, virtiofs...: cannot tell */
out:
    free(buf);
    return t;
}
