/* Time zones from the system tz database (/usr/share/zoneinfo, TZif v2+), parsed by us so that
 * evaluation is thread-safe and never touches the process's TZ. Times after the file's last
 * transition follow the footer's POSIX TZ rule (tz_posix.h), so "slim" files (no transitions after
 * the last rule change) and "fat" ones (transitions through 2037) give the same answers. */
#ifndef ZTNA_POLICY_TZ_H
#define ZTNA_POLICY_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz_info;

/* name: IANA name ("Europe/Berlin", "UTC"). *out new: tz_free(). 0, -ENOENT, -EINVAL. */
int tz_load(const char *name, struct tz_info **out);
/* The same from the bytes of a TZif file (untrusted: bounds-checked). 0, -EINVAL, -ENOMEM. */
int tz_parse(const uint8_t *buf, size_t len, struct tz_info **out);
void tz_free(struct tz_info *tz);
/* Offset from UTC in seconds at unix time t. */
int32_t tz_offset(const struct tz_info *tz, int64_t t);
/* Local weekday (0 = Sunday) and minute of day at t. */
void tz_local(const struct tz_info *tz, int64_t t, int *wday, int *minute);

#endif
