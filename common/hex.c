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

size_t base64_encode_public(char *out, const uint8_t *in, size_t len)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *p = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        p[0] = t[v >> 18];
        p[1] = t[v >> 12 & 63];
        p[2] = t[v >> 6 & 63];
        p[3] = t[v & 63];
        p += 4;
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        p[0] = t[v >> 18];
        p[1] = t[v >> 12 & 63];
        p[2] = i + 1 < len ? t[v >> 6 & 63] : '=';
        p[3] = '=';
        p += 4;
    }
    *p = '\0';
    return (size_t)(p - out);
}
