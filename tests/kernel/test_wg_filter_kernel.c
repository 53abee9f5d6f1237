/* `ztna wireguard --backend kernel --filter FILE` without the module: the filter part
 * (agent/wg_filter_opt.c, wg_filter_opt_kernel_*) on one end of a veth pair standing in for the kernel
 * WireGuard link, with real nftables in a private network namespace:
 *   - attach installs table `inet ztna_wg_<if>` whose rules name the interface and the file's
 *     ports, and opens the NFLOG group 8192 + ifindex;
 *   - attach on a missing interface fails with -ENODEV and installs nothing;
 *   - detach (also through free) deletes the table; nothing of ours is left in `nft list tables`.
 * Needs root and the nft tool (exit 77 otherwise). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/wg_filter_opt.h"
#include "tests/check.h"
#include "tests/netns_util.h"

#define IF "zwfk0"

/* The output of cmd (at most cap - 1 bytes), or "" when it fails. */
static const char *sh(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = 0;
    if (!p || pclose(p) != 0)
        out[0] = 0;
    return out;
}

int main(void)
{
    char path[] = "/tmp/zwfk.XXXXXX", out[8192];
    struct wg_filter_opt *wf = NULL;
    int skip = netns_enter_private(false), fd;

    if (skip)
        return skip;
    if (system("command -v nft >/dev/null 2>&1") != 0) {
        printf("SKIP: nft not installed\n");
        return 77;
    }
    if (system("ip link add " IF " type veth peer name zwfk1 && ip link set " IF " up") != 0) {
        printf("SKIP: cannot create a veth pair\n");
        return 77;
    }
    fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *json = "{\"entries\": [\"tcp 100.64.0.1/32 5201\", \"udp 100.64.0.0/24 5301-5302\"]}";
    CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    CHECK(wg_filter_opt_load(path, &wf) == 0);
    unlink(path);
    if (!wf)
        return check_finish("test_wg_filter_kernel");

    CHECK(wg_filter_opt_kernel_attach(wf, "zwfk9") == -ENODEV);
    CHECK(strstr(sh("nft list tables", out, sizeof(out)), "ztna_wg_") == NULL);

    CHECK(wg_filter_opt_kernel_attach(wf, IF) == 0);
    sh("nft list table inet ztna_wg_" IF, out, sizeof(out));
    CHECK(strstr(out, "table inet ztna_wg_" IF) != NULL);
    CHECK(strstr(out, "\"" IF "\"") != NULL);       /* the rules match the interface */
    CHECK(strstr(out, "5201") != NULL && strstr(out, "5301") != NULL);
    char group[32];
    snprintf(group, sizeof(group), "group %u ", WG_FILTER_NFLOG_BASE + if_nametoindex(IF));
    CHECK(strstr(out, group) != NULL); /* denials to this interface's NFLOG group */
    CHECK(wg_filter_opt_kernel_fd(wf) >= 0);
    wg_filter_opt_kernel_tick(wf); /* nothing denied: reads nothing, logs nothing */

    wg_filter_opt_kernel_detach(wf);
    CHECK(wg_filter_opt_kernel_fd(wf) == -1);
    CHECK(strstr(sh("nft list tables", out, sizeof(out)), "ztna_wg_") == NULL);

    /* free deletes a table still attached */
    CHECK(wg_filter_opt_kernel_attach(wf, IF) == 0);
    CHECK(strstr(sh("nft list tables", out, sizeof(out)), "ztna_wg_" IF) != NULL);
    wg_filter_opt_free(wf);
    CHECK(strstr(sh("nft list tables", out, sizeof(out)), "ztna_wg_") == NULL);
    return check_finish("test_wg_filter_kernel");
}
