-- 004_control: what the control protocol adds (docs/control-protocol.md): the endpoints, policy
-- denials and counters each machine reports, and the change feed the in-memory netmap follows.

-- One row per machine that reported anything over the control protocol.
CREATE TABLE machine_control (
    machine_id   INTEGER PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
    listen_port  INTEGER NOT NULL DEFAULT 0,
    endpoints    TEXT NOT NULL DEFAULT '[]',  -- JSON array of "ip:port", observed address first
    endpoints_at INTEGER,
    denials      TEXT NOT NULL DEFAULT '[]',  -- latest heartbeat's denials (JSON array)
    stats        TEXT NOT NULL DEFAULT '{}',  -- latest heartbeat's stats (JSON object)
    reported_at  INTEGER                      -- when denials/stats were last reported
);

-- The change feed of the netmap (server/netmap.c): every change to what a map shows appends a
-- row, whoever wrote it (API handlers, the janitor, a cascade from an org deletion). The netmap
-- reads the rows after the last one it applied, and deletes the rows it has applied.
-- machine_id NULL: the whole org changed (slug renamed, org deleted).
CREATE TABLE netmap_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER NOT NULL,
    machine_id INTEGER
);

CREATE TRIGGER netmap_machine_insert AFTER INSERT ON machines
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id) VALUES (new.org_id, new.id);
END;

CREATE TRIGGER netmap_machine_delete AFTER DELETE ON machines
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id) VALUES (old.org_id, old.id);
END;

-- Only what a map shows: a heartbeat that leaves the machine online writes no row.
CREATE TRIGGER netmap_machine_update
AFTER UPDATE OF name, tags, wg_public_key, tailnet_ip, online, expired_at, machine_key ON machines
WHEN old.name IS NOT new.name OR old.tags IS NOT new.tags
  OR old.wg_public_key IS NOT new.wg_public_key OR old.tailnet_ip IS NOT new.tailnet_ip
  OR old.online IS NOT new.online OR old.expired_at IS NOT new.expired_at
  OR old.machine_key IS NOT new.machine_key
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id) VALUES (new.org_id, new.id);
END;

CREATE TRIGGER netmap_endpoints_insert AFTER INSERT ON machine_control
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id)
        SELECT org_id, id FROM machines WHERE id = new.machine_id;
END;

CREATE TRIGGER netmap_endpoints_update AFTER UPDATE OF endpoints ON machine_control
WHEN old.endpoints IS NOT new.endpoints
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id)
        SELECT org_id, id FROM machines WHERE id = new.machine_id;
END;

CREATE TRIGGER netmap_org_update AFTER UPDATE OF slug ON orgs
WHEN old.slug IS NOT new.slug
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id) VALUES (new.id, NULL);
END;

CREATE TRIGGER netmap_org_delete AFTER DELETE ON orgs
BEGIN
    INSERT INTO netmap_changes (org_id, machine_id) VALUES (old.id, NULL);
END;
