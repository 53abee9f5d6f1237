/* Authenticating map polls from memory (see netmap.h): the index of live machine keys and the
 * replay cache of the nonces accepted since the server started. */
#include "server/netmap_int.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl/ctl_auth.h"

static size_t key_hash(const uint8_t key[static 32])
{
    uint64_t x;

    memcpy(&x, key, sizeof(x)); /* Ed25519 public keys: uniformly spread already */
    return (size_t)(x & (NM_KEY_BUCKETS - 1));
}

/* Keeps nm->keys in step with a slot going from old (may be NULL) to node. */
void nm_keys_update(struct netmap *nm, int64_t org_id, const struct nm_node *old,
                        const struct nm_node *node)
{
    struct nm_key **pp, *k;

    pthread_mutex_lock(&nm->keys_lock);
    if (old && !old->removed) {
        for (pp = &nm->keys[key_hash(old->machine_key)]; *pp; pp = &(*pp)->next) {
            if ((*pp)->id == old->id) {
                k = *pp;
                *pp = k->next;
                free(k);
                break;
            }
        }
    }
    if (!node->removed && (k = calloc(1, sizeof(*k)))) {
        size_t h = key_hash(node->machine_key);

        memcpy(k->key, node->machine_key, 32);
        k->id = node->id;
        k->org_id = org_id;
        k->expired = node->expired;
        k->next = nm->keys[h];
        nm->keys[h] = k;
    }
    pthread_mutex_unlock(&nm->keys_lock);
}

/* --- map-poll authentication from memory ------------------------------------------------ */

static size_t nonce_hash(int64_t id, const uint8_t nonce[static 16])
{
    uint64_t x;

    memcpy(&x, nonce, sizeof(x));
    return (size_t)((x ^ (uint64_t)id * 0x9E3779B97F4A7C15ull) & (NM_NONCE_BUCKETS - 1));
}

/* Records (id, nonce); -EEXIST if it was seen within the window. Entries leave in arrival order,
 * 2 windows after they came (a nonce is only valid while its timestamp is within one window). */
static int nonce_insert(struct netmap *nm, int64_t id, const uint8_t nonce[static 16], int64_t now)
{
    size_t h = nonce_hash(id, nonce);
    struct nm_nonce *e;
    int ret = 0;

    pthread_mutex_lock(&nm->nonce_lock);
    while (nm->nonce_head && nm->nonce_head->expires < now) {
        struct nm_nonce *old = nm->nonce_head, **pp;

        for (pp = &nm->nonces[nonce_hash(old->id, old->nonce)]; *pp != old; pp = &(*pp)->hnext)
            ;
        *pp = old->hnext;
        nm->nonce_head = old->qnext;
        if (!nm->nonce_head)
            nm->nonce_tail = NULL;
        free(old);
    }
    for (e = nm->nonces[h]; e && ret == 0; e = e->hnext) {
        if (e->id == id && memcmp(e->nonce, nonce, 16) == 0)
            ret = -EEXIST;
    }
    if (ret == 0 && !(e = calloc(1, sizeof(*e))))
        ret = -ENOMEM;
    if (ret == 0) {
        e->id = id;
        memcpy(e->nonce, nonce, 16);
        e->expires = now + 2 * CTL_AUTH_WINDOW_SECONDS + 1;
        e->hnext = nm->nonces[h];
        nm->nonces[h] = e;
        if (nm->nonce_tail)
            nm->nonce_tail->qnext = e;
        else
            nm->nonce_head = e;
        nm->nonce_tail = e;
    }
    pthread_mutex_unlock(&nm->nonce_lock);
    return ret;
}

int netmap_auth(struct server *srv, const char *header, const char *method, const char *target,
                const uint8_t *body, size_t body_len, int64_t *org_id, int64_t *machine_id)
{
    struct netmap *nm = srv->netmap;
    int64_t now = server_now();
    struct ctl_auth a;
    struct nm_key *k;
    bool found = false, expired = false;

    if (!nm || !header || !ctl_auth_header_parse(header, strlen(header), &a))
        return -EAGAIN;
    /* Nonces accepted before this run are only in SQLite: older requests take that path. */
    if (a.timestamp < nm->started)
        return -EAGAIN;
    pthread_mutex_lock(&nm->keys_lock);
    for (k = nm->keys[key_hash(a.machine_key)]; k && !found; k = k->next) {
        if (sodium_memcmp(k->key, a.machine_key, 32) == 0) {
            found = true;
            expired = k->expired;
            *org_id = k->org_id;
            *machine_id = k->id;
        }
    }
    pthread_mutex_unlock(&nm->keys_lock);
    if (!found || expired ||
        ctl_auth_verify(&a, method, target, body, body_len, now, CTL_AUTH_WINDOW_SECONDS) != 0)
        return -EAGAIN;
    return nonce_insert(nm, *machine_id, a.nonce, now);
}

void nm_auth_free(struct netmap *nm)
{
    for (size_t i = 0; nm->keys && i < NM_KEY_BUCKETS; i++) {
        for (struct nm_key *k = nm->keys[i], *next; k; k = next) {
            next = k->next;
            free(k);
        }
    }
    for (struct nm_nonce *e = nm->nonce_head, *next; e; e = next) {
        next = e->qnext;
        free(e);
    }
    free(nm->keys);
    free(nm->nonces);
}
