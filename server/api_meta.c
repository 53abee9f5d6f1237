/* GET /api/endpoints: the route table itself, so clients and the OpenAPI test see one truth. */
#include "server/api.h"

void api_endpoints_list(struct api_ctx *ctx)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr && i < api_routes_count; i++) {
        const struct api_route *r = &api_routes[i];
        cJSON *e = cJSON_CreateObject();

        if (!e)
            break;
        cJSON_AddStringToObject(e, "method", r->method);
        cJSON_AddStringToObject(e, "path", r->pattern);
        cJSON_AddStringToObject(e, "auth", api_auth_name(r->auth));
        if (r->auth == API_AUTH_ORG)
            cJSON_AddStringToObject(e, "min_role", org_role_name(r->min_role));
        cJSON_AddStringToObject(e, "summary", r->summary);
        cJSON_AddItemToArray(arr, e);
    }
    api_reply_ok(ctx, 200, arr);
}
