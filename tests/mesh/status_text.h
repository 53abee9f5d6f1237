/* `ztna status` as text for the tests that check its rendering (link agent/cmd_status.c). */
#ifndef ZTNA_TESTS_MESH_STATUS_TEXT_H
#define ZTNA_TESTS_MESH_STATUS_TEXT_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "agent/cmd_status.h"
#include "tests/check.h"

/* status_render() of the status JSON text; new string (free()), NULL when it cannot be made. */
static inline char *status_text(const char *status_json)
{
    char *buf = NULL;
    size_t len = 0;
    cJSON *s = cJSON_Parse(status_json);
    FILE *f = open_memstream(&buf, &len);
    CHECK(s && f);
    if (s && f)
        status_render(f, s);
    if (f)
        fclose(f);
    cJSON_Delete(s);
    return buf;
}

#endif
