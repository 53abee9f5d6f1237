/* The ONE static /api route table, served at GET /api/endpoints and checked against
 * docs/openapi.yaml by tests/server/test_openapi.py.
 *
 * To add a route: declare its handler (and body spec, if any) in the block for your module below,
 * then add a row to api_routes[]. Keep each module's rows together. */
#include "server/api.h"

/* --- server-core: meta, auth, orgs, members (api_meta.c, api_auth.c, api_orgs.c, api_members.c) */
void api_endpoints_list(struct api_ctx *ctx);
void api_auth_setup(struct api_ctx *ctx);
void api_auth_login(struct api_ctx *ctx);
void api_auth_refresh(struct api_ctx *ctx);
void api_auth_logout(struct api_ctx *ctx);
void api_me_get(struct api_ctx *ctx);
void api_orgs_list(struct api_ctx *ctx);
void api_orgs_create(struct api_ctx *ctx);
void api_org_get(struct api_ctx *ctx);
void api_org_update(struct api_ctx *ctx);
void api_org_delete(struct api_ctx *ctx);
void api_members_list(struct api_ctx *ctx);
void api_members_add(struct api_ctx *ctx);
void api_member_update(struct api_ctx *ctx);
void api_member_delete(struct api_ctx *ctx);
extern const struct body_spec auth_setup_body, auth_login_body, org_create_body, org_update_body,
    member_add_body, member_update_body;

/* --- server-machines: auth keys, machines, audit, metrics (declare here) --------------------- */
/* @@MACHINES_DECLARATIONS@@ */
void api_auth_keys_list(struct api_ctx *ctx);
void api_auth_key_create(struct api_ctx *ctx);
void api_auth_key_revoke(struct api_ctx *ctx);
void api_machine_register(struct api_ctx *ctx);
void api_machine_heartbeat(struct api_ctx *ctx);
void api_machines_list(struct api_ctx *ctx);
void api_machine_get(struct api_ctx *ctx);
void api_machine_update(struct api_ctx *ctx);
void api_machine_delete(struct api_ctx *ctx);
void api_machine_expire(struct api_ctx *ctx);
void api_audit_list(struct api_ctx *ctx);
void api_audit_export(struct api_ctx *ctx);
extern const struct body_spec auth_key_create_body, machine_register_body, machine_heartbeat_body,
    machine_update_body;

/* --- policy: the org's policy document, explain, JIT access (api_policy.c, jit_api.c) ------- */
void api_policy_get(struct api_ctx *ctx);
void api_policy_set(struct api_ctx *ctx);
void api_policy_validate(struct api_ctx *ctx);
void api_policy_history(struct api_ctx *ctx);
void api_policy_version_get(struct api_ctx *ctx);
void api_policy_explain(struct api_ctx *ctx);
void api_jit_create(struct api_ctx *ctx);
void api_jit_list(struct api_ctx *ctx);
void api_jit_get(struct api_ctx *ctx);
void api_jit_approve(struct api_ctx *ctx);
void api_jit_deny(struct api_ctx *ctx);
void api_jit_revoke(struct api_ctx *ctx);
extern const struct body_spec policy_set_body, policy_explain_body, jit_request_body;

/* --- control protocol: machine-signed calls after registration (api_control.c) ------------- */
void api_machine_map(struct api_ctx *ctx);
void api_machine_endpoints(struct api_ctx *ctx);
void api_machine_logout(struct api_ctx *ctx);
extern const struct body_spec machine_endpoints_body;
/* machine-signed calls for the machine's owner: JIT access, own tags (api_control_jit.c) */
void api_machine_jit_create(struct api_ctx *ctx);
void api_machine_jit_list(struct api_ctx *ctx);
void api_machine_jit_revoke(struct api_ctx *ctx);
void api_machine_set_tags(struct api_ctx *ctx);
extern const struct body_spec machine_tags_body;

/* --- dashboard: realtime WebSocket (realtime.c); a plain GET explains the upgrade ----------- */
void api_ws_info(struct api_ctx *ctx);
void api_machine_map_stream_info(struct api_ctx *ctx);

/* --- oidc: SSO settings and login, CLI browser login (api_oidc*.c, api_cli_login.c) --------- */
void api_oidc_config_get(struct api_ctx *ctx);
void api_oidc_config_put(struct api_ctx *ctx);
void api_oidc_config_delete(struct api_ctx *ctx);
void api_oidc_start(struct api_ctx *ctx);
void api_oidc_callback(struct api_ctx *ctx);
void api_cli_login_start(struct api_ctx *ctx);
void api_cli_login_get(struct api_ctx *ctx);
void api_cli_login_approve(struct api_ctx *ctx);
void api_cli_login_exchange(struct api_ctx *ctx);
extern const struct body_spec oidc_put_body, cli_login_start_body, cli_login_approve_body,
    cli_login_exchange_body;

/* --- policy: the org's policy document, explain, JIT access (api_policy.c, jit_api.c) ------- */
void api_policy_get(struct api_ctx *ctx);
void api_policy_set(struct api_ctx *ctx);
void api_policy_validate(struct api_ctx *ctx);
void api_policy_history(struct api_ctx *ctx);
void api_policy_version_get(struct api_ctx *ctx);
void api_policy_explain(struct api_ctx *ctx);
void api_jit_create(struct api_ctx *ctx);
void api_jit_list(struct api_ctx *ctx);
void api_jit_get(struct api_ctx *ctx);
void api_jit_approve(struct api_ctx *ctx);
void api_jit_deny(struct api_ctx *ctx);
void api_jit_revoke(struct api_ctx *ctx);
extern const struct body_spec policy_set_body, policy_explain_body, jit_request_body;

const struct api_route api_routes[] = {
    /* server-core */
    {"GET", "/api/endpoints", api_endpoints_list, API_AUTH_NONE, ROLE_NONE, NULL,
     "List every API route (method, path, auth, summary)"},
    {"POST", "/api/auth/setup", api_auth_setup, API_AUTH_NONE, ROLE_NONE, &auth_setup_body,
     "First-run setup: create the first org and its owner (409 once a user exists)"},
    {"POST", "/api/auth/login", api_auth_login, API_AUTH_NONE, ROLE_NONE, &auth_login_body,
     "Log in with email and password; returns an access token and sets the refresh cookie"},
    {"POST", "/api/auth/refresh", api_auth_refresh, API_AUTH_NONE, ROLE_NONE, NULL,
     "Rotate the refresh cookie and get a new access token (needs X-ZTNA-CSRF)"},
    {"POST", "/api/auth/logout", api_auth_logout, API_AUTH_NONE, ROLE_NONE, NULL,
     "Revoke the session (refresh cookie with X-ZTNA-CSRF, or the bearer token)"},
    {"GET", "/api/me", api_me_get, API_AUTH_USER, ROLE_NONE, NULL,
     "The authenticated user and their orgs"},
    {"GET", "/api/orgs", api_orgs_list, API_AUTH_USER, ROLE_NONE, NULL,
     "Orgs the caller belongs to"},
    {"POST", "/api/orgs", api_orgs_create, API_AUTH_USER, ROLE_NONE, &org_create_body,
     "Create an org; the caller becomes its owner"},
    {"GET", "/api/orgs/{org}", api_org_get, API_AUTH_ORG, ROLE_MEMBER, NULL, "Get an org"},
    {"PATCH", "/api/orgs/{org}", api_org_update, API_AUTH_ORG, ROLE_ADMIN, &org_update_body,
     "Rename an org or change its slug"},
    {"DELETE", "/api/orgs/{org}", api_org_delete, API_AUTH_ORG, ROLE_OWNER, NULL,
     "Delete an org and everything in it"},
    {"GET", "/api/orgs/{org}/users", api_members_list, API_AUTH_ORG, ROLE_MEMBER, NULL,
     "List the org's members"},
    {"POST", "/api/orgs/{org}/users", api_members_add, API_AUTH_ORG, ROLE_ADMIN,
     &member_add_body, "Add a member (creating the user if the email is new)"},
    {"PATCH", "/api/orgs/{org}/users/{user}", api_member_update, API_AUTH_ORG, ROLE_ADMIN,
     &member_update_body, "Change a member's role"},
    {"DELETE", "/api/orgs/{org}/users/{user}", api_member_delete, API_AUTH_ORG, ROLE_ADMIN, NULL,
     "Remove a member from the org"},
    /* server-machines */
    /* @@MACHINES_ROUTES@@ */
    {"GET", "/api/orgs/{org}/auth-keys", api_auth_keys_list, API_AUTH_ORG, ROLE_ADMIN, NULL,
     "List the org's pre-auth keys (never the secret)"},
    {"POST", "/api/orgs/{org}/auth-keys", api_auth_key_create, API_AUTH_ORG, ROLE_ADMIN,
     &auth_key_create_body, "Create a pre-auth key; the key is in this reply only"},
    {"DELETE", "/api/orgs/{org}/auth-keys/{key}", api_auth_key_revoke, API_AUTH_ORG, ROLE_ADMIN,
     NULL, "Revoke a pre-auth key"},
    {"POST", "/api/register-machine", api_machine_register, API_AUTH_CUSTOM, ROLE_NONE,
     &machine_register_body, "Register a machine with a pre-auth key (Authorization: Bearer)"},
    {"POST", "/api/machine-heartbeat", api_machine_heartbeat, API_AUTH_CUSTOM, ROLE_NONE,
     &machine_heartbeat_body, "Machine heartbeat with posture (machine-key signature)"},
    {"GET", "/api/orgs/{org}/machines", api_machines_list, API_AUTH_ORG, ROLE_MEMBER, NULL,
     "List machines (q, tag, online filters; limit/offset paging)"},
    {"GET", "/api/orgs/{org}/machines/{machine}", api_machine_get, API_AUTH_ORG, ROLE_MEMBER,
     NULL, "Get a machine"},
    {"PATCH", "/api/orgs/{org}/machines/{machine}", api_machine_update, API_AUTH_ORG, ROLE_ADMIN,
     &machine_update_body, "Rename a machine (made unique) and/or set its tags"},
    {"DELETE", "/api/orgs/{org}/machines/{machine}", api_machine_delete, API_AUTH_ORG, ROLE_ADMIN,
     NULL, "Delete a machine (frees its tailnet IP)"},
    {"POST", "/api/orgs/{org}/machines/{machine}/expire", api_machine_expire, API_AUTH_ORG,
     ROLE_ADMIN, NULL, "Expire a machine's key: it must re-register"},
    {"GET", "/api/orgs/{org}/audit", api_audit_list, API_AUTH_ORG, ROLE_ADMIN, NULL,
     "Audit log (filters: action, actor, actor_type, target_type, target_id, since, until; "
     "cursor paging)"},
    {"GET", "/api/orgs/{org}/audit/export", api_audit_export, API_AUTH_ORG, ROLE_ADMIN, NULL,
     "Export the audit log as jsonl, cef or syslog (format=...)"},
    /* control protocol (docs/control-protocol.md) */
    {"GET", "/api/machine/map", api_machine_map, API_AUTH_CUSTOM_NODB, ROLE_NONE, NULL,
     "The machine's signed netmap, long-polled (since=V, wait=S; machine-key signature)"},
    {"GET", "/api/machine/map/stream", api_machine_map_stream_info, API_AUTH_NONE, ROLE_NONE, NULL,
     "The machine's map as a stream (WebSocket upgrade, machine-key signature); plain GET: 426"},
    {"POST", "/api/machine/endpoints", api_machine_endpoints, API_AUTH_CUSTOM, ROLE_NONE,
     &machine_endpoints_body, "Report the machine's WireGuard endpoints (machine-key signature)"},
    {"POST", "/api/machine/logout", api_machine_logout, API_AUTH_CUSTOM, ROLE_NONE, NULL,
     "The machine deletes itself, freeing its IP (machine-key signature)"},
    {"POST", "/api/machine/jit-requests", api_machine_jit_create, API_AUTH_CUSTOM, ROLE_NONE,
     &jit_request_body, "Request JIT access for the machine's owner (machine-key signature)"},
    {"GET", "/api/machine/jit-requests", api_machine_jit_list, API_AUTH_CUSTOM, ROLE_NONE, NULL,
     "The JIT requests of the machine's owner (machine-key signature)"},
    {"POST", "/api/machine/jit-requests/{request}/revoke", api_machine_jit_revoke, API_AUTH_CUSTOM,
     ROLE_NONE, NULL, "Revoke one of the owner's JIT requests (machine-key signature)"},
    {"POST", "/api/machine/tags", api_machine_set_tags, API_AUTH_CUSTOM, ROLE_NONE,
     &machine_tags_body, "Set the machine's own tags, within the owner's tagOwners (machine-key "
     "signature)"},
    /* policy */
    {"GET", "/api/orgs/{org}/policy", api_policy_get, API_AUTH_ORG, ROLE_MEMBER, NULL,
     "The policy version in force (text, version, author; ETag is the version)"},
    {"PUT", "/api/orgs/{org}/policy", api_policy_set, API_AUTH_ORG, ROLE_ADMIN, &policy_set_body,
     "Save a new policy version (If-Match: the version in force; validated, tests must pass)"},
    {"POST", "/api/orgs/{org}/policy/validate", api_policy_validate, API_AUTH_ORG, ROLE_MEMBER,
     &policy_set_body, "Validate a policy document and run its tests without saving it"},
    {"GET", "/api/orgs/{org}/policy/history", api_policy_history, API_AUTH_ORG, ROLE_MEMBER, NULL,
     "Every policy version, newest first (without text)"},
    {"GET", "/api/orgs/{org}/policy/history/{version}", api_policy_version_get, API_AUTH_ORG,
     ROLE_MEMBER, NULL, "One policy version with its text"},
    {"POST", "/api/orgs/{org}/policy/explain", api_policy_explain, API_AUTH_ORG, ROLE_MEMBER,
     &policy_explain_body, "May src reach dst on port/proto (now or at)? Which rule, which condition"},
    {"POST", "/api/orgs/{org}/jit-requests", api_jit_create, API_AUTH_ORG, ROLE_MEMBER,
     &jit_request_body, "Request just-in-time access to a machine's port for a duration"},
    {"GET", "/api/orgs/{org}/jit-requests", api_jit_list, API_AUTH_ORG, ROLE_MEMBER, NULL,
     "JIT requests (admins: all; members: their own), newest first"},
    {"GET", "/api/orgs/{org}/jit-requests/{request}", api_jit_get, API_AUTH_ORG, ROLE_MEMBER, NULL,
     "One JIT request"},
    {"POST", "/api/orgs/{org}/jit-requests/{request}/approve", api_jit_approve, API_AUTH_ORG,
     ROLE_MEMBER, NULL, "Approve a pending JIT request (admin or a named approver): the grant "
     "runs from now for its duration"},
    {"POST", "/api/orgs/{org}/jit-requests/{request}/deny", api_jit_deny, API_AUTH_ORG, ROLE_MEMBER,
     NULL, "Deny a pending JIT request (admin or a named approver)"},
    {"POST", "/api/orgs/{org}/jit-requests/{request}/revoke", api_jit_revoke, API_AUTH_ORG,
     ROLE_MEMBER, NULL, "Revoke a JIT request or grant (the requester or an admin)"},
    /* dashboard */
    {"GET", "/api/ws", api_ws_info, API_AUTH_NONE, ROLE_NONE, NULL,
     "Realtime WebSocket (upgrade; auth and subscribe by message); plain GET gets 426"},
    /* oidc */
    {"GET", "/api/orgs/{org}/oidc", api_oidc_config_get, API_AUTH_ORG, ROLE_ADMIN, NULL,
     "The org's OIDC single sign-on settings (the client secret is never returned)"},
    {"PUT", "/api/orgs/{org}/oidc", api_oidc_config_put, API_AUTH_ORG, ROLE_ADMIN, &oidc_put_body,
     "Set the org's OIDC settings (issuer, client, scopes, allowed domains, groups claim)"},
    {"DELETE", "/api/orgs/{org}/oidc", api_oidc_config_delete, API_AUTH_ORG, ROLE_ADMIN, NULL,
     "Remove the org's OIDC settings"},
    {"GET", "/api/auth/oidc/start", api_oidc_start, API_AUTH_NONE, ROLE_NONE, NULL,
     "Start SSO for org=SLUG: 302 to the identity provider (PKCE, state, nonce)"},
    {"GET", "/api/auth/oidc/callback", api_oidc_callback, API_AUTH_NONE, ROLE_NONE, NULL,
     "SSO return: checks the ID token, signs in, 302 to /#/login?sso=1 (or ?error=)"},
    {"POST", "/api/cli-login/start", api_cli_login_start, API_AUTH_NONE, ROLE_NONE,
     &cli_login_start_body, "CLI browser login: open a request (PKCE challenge, loopback port)"},
    {"GET", "/api/cli-login/{id}", api_cli_login_get, API_AUTH_USER, ROLE_NONE, NULL,
     "CLI browser login: the request's hostname and expiry, for the confirm page"},
    {"POST", "/api/cli-login/{id}/approve", api_cli_login_approve, API_AUTH_USER, ROLE_NONE,
     &cli_login_approve_body, "CLI browser login: approve for an org; returns the CLI redirect"},
    {"POST", "/api/cli-login/exchange", api_cli_login_exchange, API_AUTH_NONE, ROLE_NONE,
     &cli_login_exchange_body, "CLI browser login: code + verifier -> machine registration"},
};
const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);
