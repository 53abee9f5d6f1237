/* Every limit of `ztna daemon` in one place (STYLE.md: constants in one header per binary). */
#ifndef ZTNA_AGENT_DAEMON_LIMITS_H
#define ZTNA_AGENT_DAEMON_LIMITS_H

#define AGENT_MAX_PEERS 16384          /* peers in one netmap */
#define AGENT_MAX_TAGS 16              /* tags per node */
#define AGENT_MAX_ENDPOINTS 8          /* endpoints per node */
#define AGENT_MAX_REMOVE 16384         /* removed ids in one delta */
#define AGENT_NAME_MAX 64              /* DNS label, tag, short strings */
#define AGENT_FQDN_MAX 254             /* a full DNS name */
#define AGENT_ENDPOINT_MAX 64          /* "ip:port" / "[v6]:port" */
#define AGENT_URL_MAX 512              /* server URL */
#define AGENT_MAP_MAX_BYTES (32u << 20) /* a map reply body, or a map stream frame */
#define AGENT_HTTP_MAX_BYTES (1u << 20) /* any other control reply body */
#define AGENT_HTTP_TIMEOUT_S 20         /* control calls other than the long poll */
#define AGENT_POLL_WAIT_S 25            /* long-poll `wait` */
#define AGENT_POLL_MIN_GAP_MS 1000      /* between the starts of two polls that brought nothing */
/* the map stream (mapstream.c) */
#define AGENT_STREAM_PING_S 20          /* a ping after this long without sending (server: 30 s) */
#define AGENT_STREAM_SILENCE_S 45       /* nothing received for this long: the stream is dead */
#define AGENT_STREAM_RETRY_S 60         /* polling after a failed stream: try it again after this */
#define AGENT_STREAM_HANDSHAKE_S 20     /* connect (TLS included) and the upgrade's answer */
/* the server went away (close 1001: a restart): the stream is opened again after a random delay
 * from AGENT_STREAM_REOPEN_MIN_MS up to a window of AGENT_STREAM_REOPEN_MS, the window doubling
 * at each failed try up to AGENT_STREAM_REOPEN_MAX_MS; past that the agent polls */
#define AGENT_STREAM_REOPEN_MIN_MS 500
#define AGENT_STREAM_REOPEN_MS 3000
#define AGENT_STREAM_REOPEN_MAX_MS 30000
#define AGENT_STREAM_HEAD_MAX 8192      /* the head of the upgrade's reply */
#define AGENT_STREAM_OUT_MAX 4096       /* bytes waiting to be sent (the upgrade, pings, pongs) */
#define AGENT_STREAM_READ_BUDGET (1u << 20) /* bytes read per wake-up before the loop goes on */
#define AGENT_BACKOFF_MIN_MS 500        /* reconnect backoff: doubling from here */
#define AGENT_BACKOFF_MAX_MS 15000
#define AGENT_HEARTBEAT_DEFAULT_S 60
#define AGENT_TICK_MS 50                /* the daemon's timer granularity */
#define AGENT_API_MAX_REQUEST 4096      /* bytes in one local API request line */
#define AGENT_API_MAX_CLIENTS 32        /* concurrent local API connections */
#define AGENT_API_MAX_REPLY (4u << 20)  /* bytes in one local API reply */
#define AGENT_DNS_PENDING 256           /* DNS queries forwarded upstream at once */
#define AGENT_DNS_UPSTREAM_TIMEOUT_MS 3000
#define AGENT_DENIAL_SLOTS 256          /* distinct (source, port) denial counters reported */
#define AGENT_DENIALS_PER_HEARTBEAT 32 /* the server keeps at most 32 per report */
#define AGENT_WG_KEEPALIVE_S 25         /* persistent keepalive towards peers */
#define AGENT_DEFAULT_STATE_DIR "/var/lib/ztna"
#define AGENT_DEFAULT_SOCKET "/run/ztna/ztna.sock"
#define AGENT_DEFAULT_TUN "ztna0"
#define AGENT_DEFAULT_PORT 41641
#define AGENT_DNS_IP "100.100.100.100"
/* --backend kernel (kengine.c) */
#define AGENT_KERNEL_NFT_TABLE NFTF_TABLE_DAEMON /* agent/kernel/nftfilter.h */
#define AGENT_KERNEL_NFLOG_GROUP 4171     /* NFLOG group of the filter's denials */
#define AGENT_KERNEL_DNS_TCP_MAX 16       /* DNS-over-TCP connections to the stub at once */
#define AGENT_KERNEL_DNS_TCP_IDLE_MS 10000
#define AGENT_KERNEL_DNS_TCP_INFLIGHT 8   /* queries of one TCP connection awaiting an answer */

#endif
