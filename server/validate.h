/* Validation of user-supplied text after JSON parsing (bytes are already valid UTF-8). */
#ifndef ZTNA_SERVER_VALIDATE_H
#define ZTNA_SERVER_VALIDATE_H

#include <stdbool.h>

#include "server/limits.h"

/* local@domain, no spaces or control characters, one '@', a '.' in the domain. */
bool validate_email(const char *s);
/* No control characters (names, labels). */
bool validate_text(const char *s);
/* 1..SRV_MAX_SLUG_BYTES of [a-z0-9-], not starting or ending with '-'. */
bool validate_slug(const char *s);
/* out = slug if given (validated), else derived from name (lower-cased, other runs -> '-'). */
bool validate_slug_or_derive(const char *slug, const char *name, char out[static SRV_MAX_SLUG_BYTES + 1]);

#endif
