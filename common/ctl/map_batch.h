/* Batch signatures for map messages (docs/control-protocol.md, "Map streams").
 *
 * A change reaches thousands of streams at once; one Ed25519 signature each cost ~21 us apiece.
 * The server instead signs one Merkle root per batch and sends each message with the path from
 * its leaf to that root:
 *
 *   leaf   = SHA-256(0x00 || "ZTNA-NETMAP-V1\n" || payload)
 *   node   = SHA-256(0x01 || left || right)
 *   signed = Ed25519 over "ZTNA-NETMAP-BATCH-V1\n" || root   (32 raw bytes)
 *
 * The tree pairs nodes level by level (0-1, 2-3, ...); an odd last node moves up unchanged. A
 * path is the list of siblings from the leaf up, each with its side: 'l' (the sibling is the
 * left child: node = H(1 || sibling || h)) or 'r' (node = H(1 || h || sibling)). A batch of one
 * has an empty path (root = leaf). The 0x00/0x01 prefixes keep a leaf from passing for a node.
 *
 * The server builds the tree (map_batch_build()); the agent and the load tool of bench/control
 * check a message against it (map_batch_verify()). */
#ifndef ZTNA_COMMON_CTL_MAP_BATCH_H
#define ZTNA_COMMON_CTL_MAP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAP_BATCH_TAG       "ZTNA-NETMAP-BATCH-V1\n"
#define MAP_BATCH_MSG_TAG   "ZTNA-NETMAP-V1\n" /* before the payload in a leaf (and in a polled
                                               * message's own signature) */
#define MAP_BATCH_DEPTH_MAX 32        /* 2^32 leaves: far beyond any batch */
#define MAP_BATCH_STEP_TEXT (1 + 64)  /* 'l' or 'r' and 64 hex digits */
#define MAP_BATCH_SEEN_MAX  64        /* batch roots a struct map_batch_seen remembers */

struct cJSON;

struct map_batch_step {
    char side;        /* 'l' or 'r' */
    uint8_t hash[32];
};

/* leaf over the signed bytes of one message (MAP_BATCH_MSG_TAG || payload). */
void map_batch_leaf(uint8_t out[static 32], const uint8_t *msg, size_t len);
/* Folds a path into the root it leads to from leaf. false if a step's side is not 'l'/'r' or
 * the path is longer than MAP_BATCH_DEPTH_MAX. */
bool map_batch_root(uint8_t root[static 32], const uint8_t leaf[static 32],
                    const struct map_batch_step *path, size_t depth);
/* Builds the tree over n >= 1 leaves: its root, and each leaf's path in
 * paths[i * MAP_BATCH_DEPTH_MAX ...] with depths[i] steps. 0, -EINVAL (n == 0 or too many) or
 * -ENOMEM. paths holds n * MAP_BATCH_DEPTH_MAX steps, depths n. */
int map_batch_build(const uint8_t (*leaves)[32], size_t n, uint8_t root[static 32],
                    struct map_batch_step *paths, size_t *depths);
/* The bytes the batch signature covers: MAP_BATCH_TAG || root. Returns their length. */
size_t map_batch_signed(uint8_t *out, size_t cap, const uint8_t root[static 32]);
/* A step as text ('l'/'r' + lower-case hex, no NUL) and back (exactly MAP_BATCH_STEP_TEXT
 * characters; false otherwise). */
void map_batch_step_format(char out[static MAP_BATCH_STEP_TEXT], const struct map_batch_step *s);
bool map_batch_step_parse(struct map_batch_step *s, const char *text, size_t len);

/* Batch roots whose signature was checked already, for a caller that verifies many messages of
 * a batch (the load tool, for thousands of agents): one Ed25519 check per batch. Zeroed before
 * use; one per server key. */
struct map_batch_seen {
    uint8_t root[MAP_BATCH_SEEN_MAX][32], sig[MAP_BATCH_SEEN_MAX][64];
    size_t n, next;
    unsigned long checks; /* Ed25519 checks made */
};

/* Verifies a streamed map message: its payload (len bytes, decoded from the frame's base64)
 * folded along path (the frame's "path" member, borrowed: an array of at most
 * MAP_BATCH_DEPTH_MAX step texts) into a root, and sig, Ed25519 by pk over MAP_BATCH_TAG || root.
 * With seen (else NULL), a root and signature that passed before pass without a check. 0, or
 * -EBADMSG with why: a malformed path, or a root the key did not sign. */
int map_batch_verify(const uint8_t *payload, size_t len, const struct cJSON *path,
                     const uint8_t sig[static 64], const uint8_t pk[static 32],
                     struct map_batch_seen *seen, char *why, size_t why_len);

#endif
