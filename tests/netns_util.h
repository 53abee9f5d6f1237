/* Shared set-up of the in-process tests that need a private network namespace (tests/kernel,
 * tests/pqx, tests/wg_device): the calling process leaves the host's namespace, so every socket
 * and interface it makes disappears with it, even on failure. */
#ifndef ZTNA_TESTS_NETNS_UTIL_H
#define ZTNA_TESTS_NETNS_UTIL_H

#include <stdbool.h>

/* Checks for root (and /dev/net/tun when need_tun), unshare(CLONE_NEWNET)s the process, brings
 * lo up and puts the underlay address 198.18.0.1/32 on it. Returns 0 when done; otherwise prints
 * "SKIP: <reason>" and returns 77, the value main() returns to have ctest count a skip. */
int netns_enter_private(bool need_tun);

#endif
