/* `ztna login --server URL` without an auth key: the CLI half of the browser login
 * (docs/control-protocol.md, "CLI browser login"). The daemon does the exchange (it holds the keys). */
#ifndef ZTNA_AGENT_CMD_LOGIN_BROWSER_H
#define ZTNA_AGENT_CMD_LOGIN_BROWSER_H

#include <stddef.h>

struct browser_login {
    char request_id[33];
    char code[129];
    char verifier[64];
};

/* Makes a PKCE pair, listens on 127.0.0.1 (random port), calls POST /api/cli-login/start, prints
 * the URL to open (and runs xdg-open under a desktop session), then waits up to timeout_s for the
 * browser's GET /callback?code=C&state=ID. 0 with out filled, or 1 after printing the problem. */
int browser_login_wait(const char *server, const char *hostname, int timeout_s,
                       struct browser_login *out);

/* Parses the head of one HTTP request to the loopback listener (untrusted: any local process or
 * web page can send it): 0 with the code (percent-decoded, printable ASCII, < cap bytes) for
 * "GET /callback?...state=RID...code=C...", -ENOENT for any other request, -EPERM when state is
 * missing or not rid, -EINVAL when the code is missing or unusable. */
int login_callback_parse(const char *head, size_t len, const char *rid, char *code, size_t cap);

#endif
