-- 006_dns_gen: a counter that moves when something MagicDNS answers may have changed (an org's
-- slug, a machine's name, address, org or expiry, a machine or org added or removed). The DNS
-- module (server/magicdns.c) rebuilds its snapshot when it moves, not after every write to the
-- database: heartbeats, retags and policy saves leave the zone alone.
CREATE TABLE dns_gen (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    gen INTEGER NOT NULL
);
INSERT INTO dns_gen (id, gen) VALUES (1, 0);

CREATE TRIGGER dns_gen_machine_insert AFTER INSERT ON machines
BEGIN
    UPDATE dns_gen SET gen = gen + 1 WHERE id = 1;
END;

CREATE TRIGGER dns_gen_machine_delete AFTER DELETE ON machines
BEGIN
    UPDATE dns_gen SET gen = gen + 1 WHERE id = 1;
END;

CREATE TRIGGER dns_gen_machine_update AFTER UPDATE OF name, tailnet_ip, org_id, expired_at ON machines
WHEN old.name IS NOT new.name OR old.tailnet_ip IS NOT new.tailnet_ip
  OR old.org_id IS NOT new.org_id OR (old.expired_at IS NULL) IS NOT (new.expired_at IS NULL)
BEGIN
    UPDATE dns_gen SET gen = gen + 1 WHERE id = 1;
END;

CREATE TRIGGER dns_gen_org_insert AFTER INSERT ON orgs
BEGIN
    UPDATE dns_gen SET gen = gen + 1 WHERE id = 1;
END;

CREATE TRIGGER dns_gen_org_delete AFTER DELETE ON orgs
BEGIN
    UPDATE dns_gen SET gen = gen + 1 WHERE id = 1;
END;

CREATE TRIGGER dns_gen_org_update AFTER UPDATE OF slug ON orgs
WHEN old.slug IS NOT new.slug
BEGIN
    UPDATE dns_gen SET gen = gen + 1 WHERE id = 1;
END;
