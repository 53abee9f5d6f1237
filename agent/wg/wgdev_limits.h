/* Every limit of the userspace WireGuard device in one place (STYLE.md: constants in one header). */
#ifndef ZTNA_AGENT_WG_WGDEV_LIMITS_H
#define ZTNA_AGENT_WG_WGDEV_LIMITS_H

#define WGDEV_MAX_PEERS 65536          /* peers per device */
#define WGDEV_MAX_ALLOWEDIPS 65536     /* allowed IPs per peer */
#define WGDEV_UAPI_MAX_REQUEST (32u << 20) /* bytes in one UAPI set request */
#define WGDEV_UAPI_MAX_LINE 512        /* bytes in one UAPI key=value line */
#define WGDEV_UAPI_MAX_CLIENTS 16      /* concurrent UAPI connections */
#define WGDEV_UAPI_WRITE_TIMEOUT_MS 5000 /* per stalled write of a UAPI reply */
#define WGDEV_UAPI_DIR "/var/run/wireguard"
#define WGDEV_MTU_DEFAULT 1420
#define WGDEV_MAX_PACKET 65535         /* largest inner packet we read from the TUN */
#define WGDEV_BATCH 64                 /* packets per recvmmsg/sendmmsg/TUN batch */
#define WGDEV_STAGED_MAX 128           /* packets queued per peer while handshaking */
#define WGDEV_MAX_TIMERS 256           /* extension timers per device */
#define WGDEV_UNDER_LOAD_RATE 50       /* handshake messages per second before cookies are required */
#define WGDEV_UNDER_LOAD_HOLD_MS 1000  /* stay "under load" this long after the last busy second */
#define WGDEV_GSO_SEGMENTS 64         /* datagrams in one UDP_SEGMENT send */
#define WGDEV_GSO_BYTES 65000          /* bytes in one UDP_SEGMENT send */

#endif
