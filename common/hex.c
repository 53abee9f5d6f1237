#include "common/hex.h"

#include <stdlib.h>
#include <string.h>

void hex_encode(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool hex_decode(uint8_t *out, size_t out_len, const char *in)
{
    if (strlen(in) != 2 * out_len)
        return false;
    for (size_t i = 0; i < out_len; i++) {
        int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

uint8_t *hex_decode_alloc(const char *in, size_t *out_len)
{
    size_t n = strlen(in);
    if (n % 2)
        return NULL;
    uint8_t *buf = malloc(n / 2 ? n / 2 : 1);
    if (!buf)
        return NULL;
    if (!hex_decode(buf, n / 2, in)) {
        free(buf);
        return NULL;
    }
    *out_len = n / 2;
    return buf;
}
