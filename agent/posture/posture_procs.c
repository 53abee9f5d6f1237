/* antivirus and screen_lock: one pass over /proc/<pid>/comm (the kernel's 15-character process
 * names), plus the system-wide GNOME setting in dconf keyfiles (/etc/dconf/db/<db>.d/<file>,
 * plain text; per-user settings live in a binary database we do not read). */
#include "agent/posture/posture_int.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* Scanners whose resident process means on-access or scheduled scanning is in place. */
static const char *const antivirus_names[] = {
    "clamd", "clamonacc", "freshclam",  /* ClamAV daemon, on-access scanner, updater */
    "wdavdaemon",                       /* Microsoft Defender for Endpoint on Linux */
    "falcon-sensor",                    /* CrowdStrike Falcon */
    "savd",                             /* Sophos Anti-Virus */
    "esets_daemon",                     /* ESET */
    "isectpd",                          /* Trellix (McAfee) Endpoint Security */
    "ds_agent",                         /* Trend Micro Deep Security */
    "bdsecd",                           /* Bitdefender GravityZone */
    "s1-agent",                         /* SentinelOne */
    NULL,
};

/* Screen lockers, and idle daemons whose only job is to start one. Names as in comm (15 chars). */
static const char *const locker_names[] = {
    "xss-lock", "xautolock", "xscreensaver", "light-locker", "gnome-screensav",
    "cinnamon-screen", "mate-screensave", "xfce4-screensav", "kscreenlocker_g", "swaylock",
    "i3lock", "xsecurelock", "hyprlock", "physlock", "vlock",
    NULL,
};

static bool listed(const char *const *names, const char *comm)
{
    for (; *names; names++)
        if (!strcmp(*names, comm))
            return true;
    return false;
}

/* lock-enabled in section [org/gnome/desktop/screensaver] of the dconf keyfiles under
 * etc/dconf/db/ (an admin's system default or lock): TRI_TRUE/FALSE, or TRI_UNKNOWN if unset. */
static enum tri gnome_lock_setting(const char *etc)
{
    char dbdir[4096];
    DIR *db;
    struct dirent *e;
    enum tri t = TRI_UNKNOWN;
    int files = 0;

    snprintf(dbdir, sizeof(dbdir), "%s/dconf/db", etc);
    db = opendir(dbdir);
    if (!db)
        return TRI_UNKNOWN;
    while ((e = readdir(db)) && files < 256) {
        size_t n = strlen(e->d_name);
        char sub[4096];
        DIR *d;
        struct dirent *f;

        if (n < 3 || strcmp(e->d_name + n - 2, ".d"))
            continue;
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dbdir, e->d_name) >= sizeof(sub))
            continue;
        d = opendir(sub);
        while (d && (f = readdir(d)) && files++ < 256) {
            char rel[4096], buf[16384];
            bool in_section = false;
            char *save = NULL;

            if (f->d_name[0] == '.')
                continue;
            if ((size_t)snprintf(rel, sizeof(rel), "dconf/db/%s/%s", e->d_name, f->d_name) >=
                    sizeof(rel) ||
                posture_read(etc, rel, buf, sizeof(buf)) <= 0)
                continue;
            for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char val[16];

                while (isspace((unsigned char)*l))
                    l++;
                if (*l == '[')
                    in_section = !strncmp(l, "[org/gnome/desktop/screensaver]", 31);
                else if (in_section && sscanf(l, "lock-enabled = %15s", val) == 1)
                    t = !strcmp(val, "false") ? TRI_FALSE : !strcmp(val, "true") ? TRI_TRUE : t;
                else if (in_section && sscanf(l, "lock-enabled=%15s", val) == 1)
                    t = !strcmp(val, "false") ? TRI_FALSE : !strcmp(val, "true") ? TRI_TRUE : t;
            }
        }
        if (d)
            closedir(d);
    }
    closedir(db);
    return t;
}

void posture_procs(const struct roots *r, enum tri *antivirus, enum tri *screen_lock)
{
    DIR *d = opendir(r->proc);
    struct dirent *e;
    int procs = 0, seen = 0;
    bool av = false, locker = false, gnome = false;
    enum tri setting = gnome_lock_setting(r->etc);

    *antivirus = *screen_lock = TRI_UNKNOWN;
    while (d && (e = readdir(d)) && seen < POSTURE_MAX_PROCS) {
        char rel[300], comm[64];

        seen++;
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if ((size_t)snprintf(rel, sizeof(rel), "%s/comm", e->d_name) >= sizeof(rel) ||
            posture_read(r->proc, rel, comm, sizeof(comm)) <= 0)
            continue; /* exited meanwhile */
        comm[strcspn(comm, "\n")] = '\0';
        procs++;
        av |= listed(antivirus_names, comm);
        locker |= listed(locker_names, comm);
        gnome |= !strcmp(comm, "gnome-shell");
    }
    if (d)
        closedir(d);
    if (procs > 0) /* we could see processes: absence of a scanner means none runs */
        *antivirus = av ? TRI_TRUE : TRI_FALSE;
    if (locker || (gnome && setting == TRI_TRUE))
        *screen_lock = TRI_TRUE;
    else if (setting == TRI_FALSE)
        *screen_lock = TRI_FALSE;
}
