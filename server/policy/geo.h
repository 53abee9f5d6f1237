/* Country database the admin provides: a CSV text file, one "cidr,country" per line (IPv4 or
 * IPv6 prefix, ISO 3166 alpha-2 code), '#' starts a comment line, blank lines ignored. The
 * longest matching prefix wins. We ship none. */
#ifndef ZTNA_POLICY_GEO_H
#define ZTNA_POLICY_GEO_H

#include <stddef.h>
#include <stdint.h>

struct policy_error;
struct policy_geo;

/* *out new: policy_geo_free(). 0, -ENOENT, -ENOMEM, -EINVAL (err: "line N: ..."). */
int policy_geo_load(const char *path, struct policy_geo **out, struct policy_error *err);
int policy_geo_parse(const char *text, size_t len, struct policy_geo **out, struct policy_error *err);
void policy_geo_free(struct policy_geo *g);
/* Two-letter code for the address, or NULL (borrowed, valid until policy_geo_free()). */
const char *policy_geo_lookup(const struct policy_geo *g, uint8_t family, const uint8_t addr[16]);

#endif
