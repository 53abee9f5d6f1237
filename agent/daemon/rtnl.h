/* The TUN interface's address and link state, over rtnetlink (libmnl). */
#ifndef ZTNA_AGENT_DAEMON_RTNL_H
#define ZTNA_AGENT_DAEMON_RTNL_H

#include <netinet/in.h>
#include <stdbool.h>

/* Sets the link up (or down). 0 or -errno. */
int rtnl_link_set_up(const char *ifname, bool up);
/* Adds addr/plen to ifname (replacing an equal one); del removes it. 0 or -errno. */
int rtnl_addr4(const char *ifname, struct in_addr addr, unsigned plen, bool del);
/* The same for IPv6, usable at once (IFA_F_NODAD: no duplicate address detection). */
int rtnl_addr6(const char *ifname, const struct in6_addr *addr, unsigned plen, bool del);

#endif
