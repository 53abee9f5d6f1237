/* Posture collection against fake /etc, /proc, /sys trees (one per case) and fake nft /
 * iptables scripts: every check's true, false and "unknown" verdicts, os-release quoting and
 * sanitising, and the real machine's object checked against the server's posture rules. */
#include "agent/posture/posture.h"

#include <signal.h>
#include <time.h>

#include "tests/check.h"
#include "tests/posture/posture_test_util.h"

struct fake {
    char *root;
    char etc[4200], proc[4200], sys[4200], bin[4200];
    struct posture_paths paths;
};

static void fake_init(struct fake *f)
{
    f->root = tree_new();
    snprintf(f->etc, sizeof(f->etc), "%s/etc", f->root);
    snprintf(f->proc, sizeof(f->proc), "%s/proc", f->root);
    snprintf(f->sys, sizeof(f->sys), "%s/sys", f->root);
    snprintf(f->bin, sizeof(f->bin), "%s/bin", f->root);
    f->paths = (struct posture_paths){f->etc, f->proc, f->sys, f->bin};
    mkdir(f->bin, 0755);
    tree_put(f->root, "proc/sys/kernel/ostype", "Linux\n", 0);
    tree_put(f->root, "proc/sys/kernel/osrelease", "6.1.0-18-amd64\n", 0);
    tree_put(f->root, "proc/1/comm", "systemd\n", 0);
}

static cJSON *collect(struct fake *f)
{
    cJSON *o = NULL;

    CHECK(posture_collect(&f->paths, &o) == 0 && o);
    return o;
}

/* "true", "false" or "unknown" for key (anything else: "BAD"). */
static const char *verdict(cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "unknown"))
        return "unknown";
    return "BAD";
}

static const char *str(cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "(missing)";
}

#define EXPECT(f, key, want)                                                       \
    do {                                                                           \
        cJSON *o_ = collect(f);                                                    \
        const char *got_ = verdict(o_, key);                                       \
        if (strcmp(got_, want))                                                    \
            fprintf(stderr, "line %d: %s = %s, want %s\n", __LINE__, key, got_, want); \
        CHECK(!strcmp(got_, want));                                                \
        cJSON_Delete(o_);                                                          \
    } while (0)

static void test_os(void)
{
    struct fake f;
    cJSON *o;
    char longname[400], path[4300];

    fake_init(&f);
    tree_put(f.root, "etc/os-release",
             "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
             "VERSION_ID=\"12\"\nID=debian\nHOME_URL='https://www.debian.org/'\n", 0);
    o = collect(&f);
    CHECK(!strcmp(str(o, "os"), "linux"));
    CHECK(!strcmp(str(o, "os_version"), "6.1.0"));
    CHECK(!strcmp(str(o, "kernel"), "6.1.0-18-amd64"));
    CHECK(!strcmp(str(o, "distro"), "Debian GNU/Linux"));
    CHECK(!strcmp(str(o, "distro_id"), "debian"));
    CHECK(!strcmp(str(o, "distro_version"), "12"));
    CHECK(!strcmp(str(o, "agent_version"), ZTNA_VERSION));
    CHECK(cJSON_GetArraySize(o) == 11);
    cJSON_Delete(o);
    /* Escapes inside double quotes, a control character and UTF-8 are made printable ASCII, and
     * a long value is cut to POSTURE_STR_MAX. */
    memset(longname, 'x', sizeof(longname));
    snprintf(longname, sizeof(longname), "NAME=\"A \\\"q\\\" \\\\ \x01 caf\xc3\xa9\"\nID=%0300d\n", 7);
    tree_put(f.root, "etc/os-release", longname, 0);
    tree_put(f.root, "proc/sys/kernel/osrelease", "5.10.0\n", 0);
    o = collect(&f);
    CHECK(!strcmp(str(o, "distro"), "A \"q\" \\ ? caf??"));
    CHECK(strlen(str(o, "distro_id")) == POSTURE_STR_MAX);
    CHECK(!strcmp(str(o, "distro_version"), "unknown"));
    CHECK(!strcmp(str(o, "os_version"), "5.10.0"));
    cJSON_Delete(o);
    /* No os-release at all; a kernel release without a leading number. */
    snprintf(path, sizeof(path), "%s/os-release", f.etc);
    CHECK(unlink(path) == 0);
    tree_put(f.root, "proc/sys/kernel/osrelease", "custom\n", 0);
    o = collect(&f);
    CHECK(!strcmp(str(o, "distro"), "unknown") && !strcmp(str(o, "distro_id"), "unknown"));
    CHECK(!strcmp(str(o, "os_version"), "unknown") && !strcmp(str(o, "kernel"), "custom"));
    cJSON_Delete(o);
    tree_free(f.root);
}

#define MI(majmin, fs, src) "22 1 " majmin " / / rw,relatime shared:1 - " fs " " src " rw\n"

static void test_disk(void)
{
    struct fake f;

    /* LVM on LUKS: root on an LV whose physical volume is a dm-crypt device. */
    fake_init(&f);
    tree_put(f.root, "proc/self/mountinfo", "21 1 0:20 / /proc rw - proc proc rw\n" MI("253:1", "ext4", "/dev/mapper/vg-root"), 0);
    tree_put(f.root, "sys/dev/block/253:1/dev", "253:1\n", 0);
    tree_put(f.root, "sys/dev/block/253:1/dm/uuid", "LVM-abcdef\n", 0);
    tree_put(f.root, "sys/dev/block/253:1/slaves/dm-0/dev", "253:0\n", 0);
    tree_put(f.root, "sys/dev/block/253:1/slaves/dm-0/dm/uuid", "CRYPT-LUKS2-0123-luks-root\n", 0);
    EXPECT(&f, "disk_encryption", "true");
    /* ...and the same LV with a second, unencrypted PV: not encrypted. */
    tree_put(f.root, "sys/dev/block/253:1/slaves/sda3/dev", "8:3\n", 0);
    tree_put(f.root, "sys/dev/block/253:1/slaves/sda3/uevent", "MAJOR=8\nMINOR=3\nDEVNAME=sda3\n", 0);
    EXPECT(&f, "disk_encryption", "false");
    tree_free(f.root);

    /* Root straight on dm-crypt; the last "/" mount wins. */
    fake_init(&f);
    tree_put(f.root, "proc/self/mountinfo", MI("8:1", "ext4", "/dev/sda1") MI("253:0", "ext4", "/dev/mapper/root"), 0);
    tree_put(f.root, "sys/dev/block/253:0/dm/uuid", "CRYPT-PLAIN-root\n", 0);
    EXPECT(&f, "disk_encryption", "true");
    tree_free(f.root);

    /* A plain partition; a plain LVM. */
    fake_init(&f);
    tree_put(f.root, "proc/self/mountinfo", MI("8:2", "ext4", "/dev/sda2"), 0);
    tree_put(f.root, "sys/dev/block/8:2/dev", "8:2\n", 0);
    tree_put(f.root, "sys/dev/block/8:2/partition", "2\n", 0);
    tree_put(f.root, "sys/dev/block/8:2/uevent", "DEVNAME=sda2\nDEVTYPE=partition\n", 0);
    EXPECT(&f, "disk_encryption", "false");
    tree_put(f.root, "proc/self/mountinfo", MI("253:2", "xfs", "/dev/mapper/vg-lv"), 0);
    tree_put(f.root, "sys/dev/block/253:2/dm/uuid", "LVM-xyz\n", 0);
    tree_put(f.root, "sys/dev/block/253:2/slaves/vda2/dev", "254:2\n", 0);
    tree_put(f.root, "sys/dev/block/253:2/slaves/vda2/uevent", "DEVNAME=vda2\n", 0);
    EXPECT(&f, "disk_encryption", "false");
    tree_free(f.root);

    /* md RAID1 over two dm-crypt devices; then one leg replaced by a loop device (unknown). */
    fake_init(&f);
    tree_put(f.root, "proc/self/mountinfo", MI("9:0", "ext4", "/dev/md0"), 0);
    tree_put(f.root, "sys/dev/block/9:0/dev", "9:0\n", 0);
    tree_put(f.root, "sys/dev/block/9:0/slaves/dm-0/dm/uuid", "CRYPT-LUKS2-a-one\n", 0);
    tree_put(f.root, "sys/dev/block/9:0/slaves/dm-1/dm/uuid", "CRYPT-LUKS2-b-two\n", 0);
    EXPECT(&f, "disk_encryption", "true");
    tree_put(f.root, "sys/dev/block/9:0/slaves/loop3/dev", "7:3\n", 0);
    tree_put(f.root, "sys/dev/block/9:0/slaves/loop3/uevent", "DEVNAME=loop3\n", 0);
    EXPECT(&f, "disk_encryption", "unknown");
    tree_free(f.root);

    /* btrfs (anonymous device number) on /dev/mapper/cryptroot, found by dm name. */
    fake_init(&f);
    tree_put(f.root, "proc/self/mountinfo", MI("0:31", "btrfs", "/dev/mapper/cryptroot"), 0);
    tree_put(f.root, "sys/block/dm-0/dm/name", "other\n", 0);
    tree_put(f.root, "sys/block/dm-1/dm/name", "cryptroot\n", 0);
    tree_put(f.root, "sys/block/dm-1/dm/uuid", "CRYPT-LUKS1-c-cryptroot\n", 0);
    EXPECT(&f, "disk_encryption", "true");
    /* btrfs on a plain partition. */
    tree_put(f.root, "proc/self/mountinfo", MI("0:31", "btrfs", "/dev/nvme0n1p2"), 0);
    tree_put(f.root, "sys/class/block/nvme0n1p2/dev", "259:2\n", 0);
    tree_put(f.root, "sys/class/block/nvme0n1p2/uevent", "DEVNAME=nvme0n1p2\n", 0);
    EXPECT(&f, "disk_encryption", "false");
    /* Overlay (containers), a root on a loop device, no sysfs entry, no mountinfo: unknown. */
    tree_put(f.root, "proc/self/mountinfo", MI("0:45", "overlay", "overlay"), 0);
    EXPECT(&f, "disk_encryption", "unknown");
    tree_put(f.root, "proc/self/mountinfo", MI("7:0", "ext4", "/dev/loop0"), 0);
    tree_put(f.root, "sys/dev/block/7:0/dev", "7:0\n", 0);
    tree_put(f.root, "sys/dev/block/7:0/uevent", "DEVNAME=loop0\n", 0);
    EXPECT(&f, "disk_encryption", "unknown");
    tree_put(f.root, "proc/self/mountinfo", MI("8:17", "ext4", "/dev/sdb1"), 0);
    EXPECT(&f, "disk_encryption", "unknown");
    tree_put(f.root, "proc/self/mountinfo", "", 0);
    EXPECT(&f, "disk_encryption", "unknown");
    tree_free(f.root);
}

static void test_firewall(void)
{
    struct fake f;
    char path[4300];
    time_t t0;

    fake_init(&f);
    EXPECT(&f, "firewall", "unknown"); /* no tool at all */
    tree_put(f.root, "bin/nft",
             "#!/bin/sh\n[ \"$1 $2\" = \"list ruleset\" ] || exit 9\ncat <<'X'\n"
             "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
             "\t\tct state established,related accept\n\t\ttcp dport 22 accept\n\t}\n}\nX\n", 1);
    EXPECT(&f, "firewall", "true");
    /* Debian's default nftables.conf: tables and base chains, no rule, policy accept. */
    tree_put(f.root, "bin/nft",
             "#!/bin/sh\ncat <<'X'\ntable inet filter {\n\tchain input {\n"
             "\t\ttype filter hook input priority filter; policy accept;\n\t}\n"
             "\tset blocked {\n\t\ttype ipv4_addr\n\t\telements = { 198.18.0.9 }\n\t}\n}\nX\n", 1);
    EXPECT(&f, "firewall", "false");
    /* The agent's own tables (the kernel backend's policy filter, `ztna wireguard --filter`'s)
     * filter only the tunnel: they are not the device's firewall. A table merely named like them
     * in another family still counts. */
    tree_put(f.root, "bin/nft",
             "#!/bin/sh\ncat <<'X'\ntable inet ztna {\n\tset tcp4 {\n\t\ttype ipv4_addr . inet_service\n\t}\n"
             "\tchain filter {\n\t\tct state established,related ct direction reply accept\n\t\tdrop\n\t}\n"
             "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
             "\t\tiifname \"ztna0\" jump filter\n\t}\n}\n"
             "table inet ztna_wg_wg0 {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
             "\t\tiifname \"wg0\" drop\n\t}\n}\nX\n", 1);
    EXPECT(&f, "firewall", "false");
    tree_put(f.root, "bin/nft",
             "#!/bin/sh\ncat <<'X'\ntable ip ztna {\n\tchain input {\n"
             "\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 22 drop\n\t}\n}\nX\n", 1);
    EXPECT(&f, "firewall", "true");
    tree_put(f.root, "bin/nft", "#!/bin/sh\nprintf 'table ip t {\\n chain c {\\n  type filter hook "
                                "input priority 0; policy drop;\\n }\\n}\\n'\n", 1);
    EXPECT(&f, "firewall", "true");
    /* nft refuses (not root): nothing else to ask -> unknown; iptables answers -> its verdict. */
    tree_put(f.root, "bin/nft", "#!/bin/sh\necho 'Operation not permitted' >&2\nexit 1\n", 1);
    EXPECT(&f, "firewall", "unknown");
    tree_put(f.root, "bin/iptables", "#!/bin/sh\n[ \"$1\" = -S ] || exit 9\n"
                                     "printf -- '-P INPUT ACCEPT\\n-P FORWARD ACCEPT\\n-P OUTPUT ACCEPT\\n'\n", 1);
    EXPECT(&f, "firewall", "false");
    tree_put(f.root, "bin/ip6tables", "#!/bin/sh\nprintf -- '-P INPUT ACCEPT\\n-N x\\n-A INPUT -p tcp --dport 22 -j ACCEPT\\n'\n", 1);
    EXPECT(&f, "firewall", "true");
    tree_put(f.root, "bin/ip6tables", "#!/bin/sh\nprintf -- '-P INPUT DROP\\n'\n", 1);
    EXPECT(&f, "firewall", "true");
    snprintf(path, sizeof(path), "%s/ip6tables", f.bin);
    CHECK(unlink(path) == 0);
    snprintf(path, sizeof(path), "%s/iptables", f.bin);
    CHECK(unlink(path) == 0);
    /* Regression (sigchld_ignored): a caller that ignores SIGCHLD gets no exit status from
     * waitpid(); a failing tool's output must not then pass for a successful run. */
    tree_put(f.root, "bin/nft", "#!/bin/sh\nprintf 'table ip t {\\n chain c {\\n  tcp dport 22 "
                                "accept\\n }\\n}\\n'\nexit 1\n", 1);
    EXPECT(&f, "firewall", "unknown");
    signal(SIGCHLD, SIG_IGN);
    EXPECT(&f, "firewall", "unknown");
    signal(SIGCHLD, SIG_DFL);
    tree_put(f.root, "bin/nft", "#!/bin/sh\nprintf 'table ip t {\\n chain c {\\n  tcp dport 22 "
                                "accept\\n }\\n}\\n'\n", 1);
    EXPECT(&f, "firewall", "true");
    /* A hanging tool is killed after POSTURE_CMD_TIMEOUT_MS and tells nothing. */
    tree_put(f.root, "bin/nft", "#!/bin/sh\nexec sleep 30\n", 1);
    t0 = time(NULL);
    EXPECT(&f, "firewall", "unknown");
    CHECK(time(NULL) - t0 <= POSTURE_CMD_TIMEOUT_MS / 1000 + 2);
    tree_free(f.root);
}

static void test_procs(void)
{
    struct fake f;

    fake_init(&f);
    tree_put(f.root, "proc/812/comm", "sshd\n", 0);
    EXPECT(&f, "antivirus", "false");
    EXPECT(&f, "screen_lock", "unknown"); /* a headless machine: we cannot tell */
    tree_put(f.root, "proc/900/comm", "clamd\n", 0);
    EXPECT(&f, "antivirus", "true");
    tree_put(f.root, "proc/950/comm", "xss-lock\n", 0);
    EXPECT(&f, "screen_lock", "true");
    tree_free(f.root);

    fake_init(&f);
    tree_put(f.root, "proc/1000/comm", "gnome-shell\n", 0);
    EXPECT(&f, "screen_lock", "unknown"); /* the user's own setting is not readable */
    tree_put(f.root, "etc/dconf/db/local.d/00-screensaver",
             "# site policy\n[org/gnome/desktop/session]\nidle-delay=uint32 300\n"
             "[org/gnome/desktop/screensaver]\nlock-enabled=true\n", 0);
    EXPECT(&f, "screen_lock", "true");
    tree_put(f.root, "etc/dconf/db/local.d/00-screensaver",
             "[org/gnome/desktop/screensaver]\nlock-enabled = false\n", 0);
    EXPECT(&f, "screen_lock", "false");
    tree_free(f.root);

    /* /proc not readable (or empty): antivirus unknown. */
    fake_init(&f);
    snprintf(f.proc, sizeof(f.proc), "%s/no-such-proc", f.root);
    EXPECT(&f, "antivirus", "unknown");
    tree_free(f.root);
}

/* The real machine: every key, the right types, and the server's posture_valid() rules
 * (<= 32 entries, keys <= 64 bytes, strings <= 128 bytes of printable text, bool or number). */
static void test_real(void)
{
    cJSON *o = posture_collect_json(), *v;
    static const char *const keys[] = {"os", "os_version", "kernel", "distro", "distro_id",
                                       "distro_version", "disk_encryption", "firewall",
                                       "screen_lock", "antivirus", "agent_version"};
    int n = 0;
    char *s;

    CHECK(o != NULL);
    if (!o)
        return;
    cJSON_ArrayForEach(v, o)
    {
        n++;
        CHECK(v->string && strlen(v->string) <= 64);
        if (cJSON_IsString(v)) {
            CHECK(strlen(v->valuestring) <= 128);
            for (const char *c = v->valuestring; *c; c++)
                CHECK(*c >= 0x20 && *c < 0x7f);
        } else {
            CHECK(cJSON_IsBool(v));
        }
    }
    CHECK(n == 11);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        CHECK(cJSON_GetObjectItemCaseSensitive(o, keys[i]) != NULL);
    CHECK(!strcmp(str(o, "os"), "linux"));
    CHECK(strcmp(str(o, "os_version"), "unknown") != 0); /* /proc/sys/kernel is always there */
    CHECK(strcmp(verdict(o, "antivirus"), "unknown") != 0); /* and /proc is readable */
    s = cJSON_PrintUnformatted(o);
    CHECK(s && strlen(s) < 4096); /* MACH_POSTURE_MAX_BYTES */
    printf("real posture: %s\n", s ? s : "?");
    free(s);
    cJSON_Delete(o);
}

int main(void)
{
    test_os();
    test_disk();
    test_firewall();
    test_procs();
    test_real();
    return check_finish("test_posture");
}
