/* Writes the seed corpus of the wg_core fuzz targets (one valid message of each type against
 * fuzz_fixture.h's fixed state, plus data messages of several sizes). Usage: gen_wg_corpus DIR.
 * The committed seeds in tests/wg_core/corpus/ come from this tool; test_wg_corpus checks they
 * are still accepted. */
#include <stdio.h>
#include <sys/stat.h>

#include "common/crypto/blake2s.h"
#include "tests/wg_core/fuzz_fixture.h"

static int write_seed(const char *dir, const char *sub, const char *name, const uint8_t *buf,
                      size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) {
        perror(path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const struct fx *p = fx_pristine();
    struct fx f = *p;
    int rc = 0;

    rc |= write_seed(argv[1], "initiation", "valid", f.initiation, sizeof(f.initiation));

    /* R answers I's initiation. */
    struct wg_noise_handshake *hs;
    struct wg_cookie cookie_r;
    uint8_t resp[WG_MSG_RESPONSE_SIZE], reply[WG_MSG_COOKIE_REPLY_SIZE];
    rc |= wg_noise_handshake_consume_initiation(&f.resp, f.initiation, sizeof(f.initiation),
                                                fx_lookup_r, &f, WG_NSEC_PER_SEC, &hs) != 0;
    rc |= hs == NULL || wg_noise_handshake_create_response(hs, FX_RESP_INDEX, resp) != 0;
    wg_cookie_init(&cookie_r, f.init.public_key);
    wg_cookie_add_macs(&cookie_r, resp, sizeof(resp), 1);
    rc |= write_seed(argv[1], "response", "valid", resp, sizeof(resp));

    /* R under load answers the initiation with a cookie reply. */
    rc |= wg_cookie_checker_create_reply(&f.checker_r, f.initiation, sizeof(f.initiation),
                                         fx_source, sizeof(fx_source), 1, reply) != 0;
    rc |= write_seed(argv[1], "cookie_reply", "valid", reply, sizeof(reply));

    /* Data messages to the fixture keypair: its peer sends with its receive key. */
    struct wg_keypair tx = {.valid = true, .birth_ns = 1, .remote_index = FX_DATA_INDEX};
    static const size_t sizes[] = {0, 1, 40, 100, 1420};
    uint8_t plain[1420], msg[1500];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)i;
    memcpy(tx.send_key, p->kp.recv_key, 32);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len;
        char name[32];
        rc |= wg_keypair_seal(&tx, plain, sizes[i], 1420, msg, sizeof(msg), &len, 1) != 0;
        snprintf(name, sizeof(name), "valid_%zu", sizes[i]);
        rc |= write_seed(argv[1], "data", name, msg, len);
    }
    return rc;
}
