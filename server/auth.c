/* Passwords (argon2id) and token hashing (see auth.h). */
#include "server/auth.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

int auth_password_hash(const struct server *srv, const char *password,
                       char out[static crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str_alg(out, password, strlen(password),
                              (unsigned long long)srv->set.pwhash_ops,
                              (size_t)srv->set.pwhash_mem_kib * 1024,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        log_error("auth", "crypto_pwhash_str_alg failed (out of memory?)");
        return -ENOMEM;
    }
    return 0;
}

bool auth_password_verify(const char *hash, const char *password)
{
    if (!hash || strncmp(hash, "$argon2id$", 10) != 0)
        return false;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void auth_password_dummy(const struct server *srv)
{
    char h[crypto_pwhash_STRBYTES];

    /* Same cost as a real verify: hash a fixed string with the configured parameters. */
    if (auth_password_hash(srv, "ztna-dummy-password", h) == 0)
        sodium_memzero(h, sizeof(h));
}

void auth_token_hash(const char *token, uint8_t hash[static 32])
{
    crypto_hash_sha256(hash, (const unsigned char *)token, strlen(token));
}
