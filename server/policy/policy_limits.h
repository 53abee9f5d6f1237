/* Limits of the policy language and compiler, in one place. */
#ifndef ZTNA_POLICY_LIMITS_H
#define ZTNA_POLICY_LIMITS_H

#define POLICY_MAX_BYTES        (4u << 20) /* one policy document */
#define POLICY_MAX_DEPTH        32         /* JSON nesting */
#define POLICY_MAX_ITEMS        200000     /* values in one document */
#define POLICY_MAX_NAME         256        /* names, emails, selectors */
#define POLICY_MAX_GROUP_DEPTH  16         /* nested groups */
#define POLICY_ERR_MAX          256
#define POLICY_DEFAULT_MAX_AGE  (24 * 3600) /* posture report age when a posture sets none */
#define POLICY_SCHEDULE_HORIZON (8 * 86400) /* how far ahead the next boundary is searched */
#define POLICY_GEO_MAX_LINES    2000000
#define POLICY_TZ_MAX_BYTES     (256u << 10)

#endif
