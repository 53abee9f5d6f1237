-- 001_core: orgs, users, memberships, sessions (token families), the server signing key.
-- Applied once, inside a transaction, by db_migrate(); tracked with PRAGMA user_version.

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name           TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,              -- argon2id string from crypto_pwhash_str; NULL: no password
    created_at     INTEGER NOT NULL
);

CREATE TABLE org_members (
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

-- A login starts a family; every refresh rotates the refresh token inside it. Presenting a spent
-- refresh token revokes the family (and every access token issued in it).
CREATE TABLE token_families (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX token_families_user ON token_families(user_id);

CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY,
    family_id   INTEGER NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL UNIQUE,  -- SHA-256 of the token; the token itself is never stored
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER                -- set when rotated; a second use is reuse
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE access_tokens (
    token_hash  BLOB PRIMARY KEY,      -- SHA-256 of the bearer token
    family_id   INTEGER NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_family ON access_tokens(family_id);

-- The server's Ed25519 signing key (netmaps are signed with it). One row.
CREATE TABLE server_keys (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    public_key  BLOB NOT NULL,
    secret_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
