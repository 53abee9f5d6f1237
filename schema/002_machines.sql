-- 002_machines: pre-auth keys, machines, accepted machine-request nonces, the audit log.

-- Pre-auth keys. The key itself ("ztna-auth-" + 64 hex) is shown once at creation; only its
-- SHA-256 is kept. A single-use key is used up when used_count reaches 1.
CREATE TABLE auth_keys (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    key_hash     BLOB NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,            -- first characters, so admins can tell keys apart
    description  TEXT NOT NULL DEFAULT '',
    reusable     INTEGER NOT NULL CHECK (reusable IN (0, 1)),
    ephemeral    INTEGER NOT NULL CHECK (ephemeral IN (0, 1)),
    tags         TEXT NOT NULL DEFAULT '[]', -- JSON array of "tag:x"
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,                  -- NULL: never
    revoked_at   INTEGER,
    used_count   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER
);
CREATE INDEX auth_keys_org ON auth_keys(org_id, id);

-- Machines. machine_key is the Ed25519 public key that signs every later request (ctl_auth.h);
-- no machine secret is stored. The tailnet address is kept until the row is deleted.
CREATE TABLE machines (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    auth_key_id   INTEGER REFERENCES auth_keys(id) ON DELETE SET NULL,
    machine_key   BLOB NOT NULL UNIQUE CHECK (length(machine_key) = 32),
    wg_public_key BLOB NOT NULL CHECK (length(wg_public_key) = 32),
    hostname      TEXT NOT NULL,           -- as reported by the machine
    name          TEXT NOT NULL,           -- unique DNS label in the org
    ip_num        INTEGER NOT NULL,        -- tailnet IPv4, host order
    tailnet_ip    TEXT NOT NULL,           -- same, dotted quad
    os            TEXT NOT NULL DEFAULT '',
    os_version    TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    ephemeral     INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1)),
    created_at    INTEGER NOT NULL,
    last_seen     INTEGER,
    online        INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
    expired_at    INTEGER,                 -- set by POST .../expire: the machine must re-register
    posture       TEXT NOT NULL DEFAULT '{}',
    posture_at    INTEGER,
    UNIQUE (org_id, ip_num),
    UNIQUE (org_id, tailnet_ip),
    UNIQUE (org_id, name)
);
-- Lists walk an org's machines in id order and stop at the page end.
CREATE INDEX machines_org ON machines(org_id, id);
CREATE INDEX machines_online ON machines(online, last_seen);

-- Nonces of accepted machine requests, kept until they fall out of the timestamp window, so that
-- a replayed request is refused even across a server restart.
CREATE TABLE machine_nonces (
    machine_id  INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
    nonce       BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (machine_id, nonce)
) WITHOUT ROWID;
CREATE INDEX machine_nonces_expiry ON machine_nonces(expires_at);

-- The audit log. No foreign keys: entries outlive the users, machines and orgs they mention.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    ts           INTEGER NOT NULL,         -- unix seconds
    org_id       INTEGER,                  -- NULL: not tied to an org (e.g. failed login)
    actor_type   TEXT NOT NULL,            -- user, machine, system, anonymous
    actor_id     INTEGER,
    actor_name   TEXT,
    action       TEXT NOT NULL,            -- dotted, e.g. machine.register
    target_type  TEXT,
    target_id    TEXT,
    source_addr  TEXT,
    detail       TEXT                      -- JSON object or NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, id);
CREATE INDEX audit_log_org_action ON audit_log(org_id, action, id);
