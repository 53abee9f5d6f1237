-- 003_policy: versioned policy documents per org, and just-in-time access requests/grants.

-- One row per accepted version; the highest version of an org is in force. Rejected documents
-- are never stored (validation and the embedded tests run before the insert).
CREATE TABLE policies (
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL CHECK (version >= 1),
    author_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    author_email TEXT NOT NULL DEFAULT '',   -- kept when the user is deleted
    created_at   INTEGER NOT NULL,
    text         TEXT NOT NULL,              -- the HuJSON document as submitted
    PRIMARY KEY (org_id, version)
) WITHOUT ROWID;

-- JIT requests: pending -> approved -> expired | revoked, or pending -> denied | revoked.
-- An approved row whose expires_at has passed is a grant no longer in force; the policy
-- module's timer marks it expired (also after a restart) and audits that.
CREATE TABLE jit_requests (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    requester_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    machine_id   INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
    port         INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    proto        INTEGER NOT NULL CHECK (proto IN (0, 6, 17)), -- 0: any
    duration     INTEGER NOT NULL CHECK (duration > 0),        -- seconds, from approval
    reason       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'revoked',
                                                'expired')),
    created_at   INTEGER NOT NULL,
    decided_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    decided_at   INTEGER,
    expires_at   INTEGER,                    -- approved: end of the grant
    ended_at     INTEGER                     -- revoked or expired
);
CREATE INDEX jit_requests_org ON jit_requests(org_id, id);
CREATE INDEX jit_requests_active ON jit_requests(state, expires_at);
