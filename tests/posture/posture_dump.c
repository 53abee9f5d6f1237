/* Prints this machine's posture object as the heartbeat sends it (for test_posture_server.py). */
#include <stdio.h>
#include <stdlib.h>

#include "agent/posture/posture.h"

int main(void)
{
    cJSON *o = posture_collect_json();
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;

    if (!s)
        return 1;
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
    return 0;
}
