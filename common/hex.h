/* Hex and base64 helpers for keys on command lines, in UAPI lines and in JSON. */
#ifndef ZTNA_COMMON_HEX_H
#define ZTNA_COMMON_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*len hex digits and a NUL to out (size 2*len+1). */
void hex_encode(char *out, const uint8_t *in, size_t len);
/* Decodes exactly out_len bytes from a string of exactly 2*out_len hex digits (either case).
 * Returns false on a wrong length or a non-hex character. */
bool hex_decode(uint8_t *out, size_t out_len, const char *in);
/* Decodes a hex string of any even length into a new buffer (free with free()); NULL on error. */
uint8_t *hex_decode_alloc(const char *in, size_t *out_len);
/* Standard base64 with padding of len bytes into out (4*((len+2)/3) chars and a NUL), the same
 * text as sodium_bin2base64(..., sodium_base64_VARIANT_ORIGINAL) but table-driven, for public
 * data only (its time depends on the bytes). Returns the count of chars written, NUL excluded. */
size_t base64_encode_public(char *out, const uint8_t *in, size_t len);

#endif
