-- An owner may send a failed or bounced email again, to the same address or a corrected
-- one: a new row with its own link, pointing at the row it replaces (`resend_of`). Only the
-- newest row of a chain is shown; the older ones keep their links until they expire.
-- SQLite cannot drop the old UNIQUE (capsule_id, recipient) in place, so the table is
-- rebuilt (the same statements run on PostgreSQL).
CREATE TABLE deliveries_v2 (
    id              TEXT PRIMARY KEY,
    capsule_id      TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    link_hash       TEXT NOT NULL UNIQUE,
    link_token      TEXT,
    link_expires_at BIGINT NOT NULL,
    link_revoked_at BIGINT,
    status          TEXT NOT NULL, -- queued | sent | failed | bounced
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    -- The row this one sends again; each row is sent again at most once, so two presses
    -- of "send again" (or two devices) make one email.
    resend_of       TEXT UNIQUE
);
INSERT INTO deliveries_v2 (id, capsule_id, recipient, link_hash, link_token, link_expires_at,
    link_revoked_at, status, attempts, next_attempt_at, lease_until, lease_owner, last_error,
    sent_at, created_at)
SELECT id, capsule_id, recipient, link_hash, link_token, link_expires_at, link_revoked_at,
    status, attempts, next_attempt_at, lease_until, lease_owner, last_error, sent_at,
    created_at
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
-- Opening a capsule queues one first email per address, whichever worker opens it.
CREATE UNIQUE INDEX deliveries_first ON deliveries (capsule_id, recipient)
    WHERE resend_of IS NULL;
