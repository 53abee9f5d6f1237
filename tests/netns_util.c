/* See netns_util.h. */
#include "tests/netns_util.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int netns_enter_private(bool need_tun)
{
    if (geteuid() != 0 || (need_tun && access("/dev/net/tun", R_OK | W_OK) != 0)) {
        printf(need_tun ? "SKIP: needs root and /dev/net/tun\n"
                        : "SKIP: needs root for a private network namespace\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        printf("SKIP: cannot create a network namespace: %s\n", strerror(errno));
        return 77;
    }
    if (system("ip link set lo up && ip addr add 198.18.0.1/32 dev lo") != 0) {
        printf("SKIP: ip(8) failed\n");
        return 77;
    }
    return 0;
}
