-- One row per recipient of an opened capsule: the outbox of the open-date emails and the
-- recipient's link to the capsule's page.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    capsule_id      TEXT NOT NULL REFERENCES capsules(id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    -- SHA-256 of the link token; the raw token is kept only until the email has gone out.
    link_hash       TEXT NOT NULL UNIQUE,
    link_token      TEXT,
    link_expires_at BIGINT NOT NULL,
    link_revoked_at BIGINT,
    status          TEXT NOT NULL, -- queued | sent | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    UNIQUE (capsule_id, recipient)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
