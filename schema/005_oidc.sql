-- 005_oidc: OIDC single sign-on per org, pending browser logins, linked identities, the groups
-- an identity provider asserted (read by the policy as group:oidc:<name>), and the CLI's
-- browser-login requests.

-- One OIDC configuration per org. The client secret is needed in clear to call the token
-- endpoint; it is never returned by the API.
CREATE TABLE oidc_configs (
    org_id          INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    issuer          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    client_secret   TEXT NOT NULL DEFAULT '',
    token_auth      TEXT NOT NULL DEFAULT 'client_secret_basic'
                    CHECK (token_auth IN ('client_secret_basic', 'client_secret_post')),
    scopes          TEXT NOT NULL DEFAULT 'openid email profile',
    allowed_domains TEXT NOT NULL DEFAULT '[]',   -- JSON array of lower-case domains; [] = any
    groups_claim    TEXT NOT NULL DEFAULT 'groups', -- '' = do not read groups
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    updated_at      INTEGER NOT NULL
);

-- A browser login in flight: GET /api/auth/oidc/start writes it, the callback deletes it
-- (single use). Only SHA-256(state) is kept; nonce and PKCE verifier are needed in clear.
CREATE TABLE oidc_login_states (
    state_hash    BLOB PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oidc_login_states_expiry ON oidc_login_states(expires_at);

-- (issuer, sub) -> user: the stable link, so a later e-mail change at the provider keeps the
-- same account.
CREATE TABLE oidc_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) WITHOUT ROWID;
CREATE INDEX oidc_identities_user ON oidc_identities(user_id);

-- Groups from the provider's groups claim at the user's last SSO login into that org, replaced
-- as a whole at every login. The policy names them group:oidc:<group_name>.
CREATE TABLE oidc_user_groups (
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id, group_name)
) WITHOUT ROWID;
CREATE INDEX oidc_user_groups_group ON oidc_user_groups(org_id, group_name);

-- `ztna login` through the browser: the CLI starts a request (PKCE challenge, loopback port),
-- a signed-in user approves it for an org, which mints a one-time code (only its SHA-256 is
-- kept) that the CLI exchanges once, with its verifier, for the machine's registration.
CREATE TABLE cli_login_requests (
    id              TEXT PRIMARY KEY,            -- 32 hex characters
    code_challenge  TEXT NOT NULL,               -- base64url(SHA-256(verifier)), 43 characters
    port            INTEGER NOT NULL CHECK (port BETWEEN 1024 AND 65535),
    hostname        TEXT NOT NULL,
    source_addr     TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    approved_by     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    org_id          INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    approved_at     INTEGER,
    code_hash       BLOB,
    code_expires_at INTEGER,
    used_at         INTEGER,                     -- set by the first exchange attempt
    machine_id      INTEGER
) WITHOUT ROWID;
CREATE INDEX cli_login_requests_expiry ON cli_login_requests(expires_at);
