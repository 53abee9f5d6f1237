/* The TUN device and the UDP sockets of the userspace WireGuard device. */
#ifndef ZTNA_AGENT_WG_TUN_H
#define ZTNA_AGENT_WG_TUN_H

#include <stdint.h>

/* Opens (creating if needed) TUN interface ifname, IFF_TUN|IFF_NO_PI, non-blocking, and sets its
 * MTU. Returns the fd or -errno. */
int wgd_tun_open(const char *ifname, unsigned mtu);

/* Binds the IPv4 and IPv6 UDP sockets on *port (0 = pick one; *port is updated), with SO_MARK
 * fwmark when non-zero. *fd6 is -1 when IPv6 is unavailable. Returns 0 or -errno. */
int wgd_udp_open(uint16_t *port, uint32_t fwmark, int *fd4, int *fd6);

/* Sets SO_MARK on fd (fd < 0 is ignored). Returns 0 or -errno. */
int wgd_udp_set_fwmark(int fd, uint32_t fwmark);

#endif
